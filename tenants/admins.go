package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the dashboard admin concern.
var (
	ErrAdminExists   = errors.New("tenants: an admin with this email already exists for the tenant")
	ErrAdminNotFound = errors.New("tenants: admin not found")
	ErrInvalidAdmin  = errors.New("tenants: invalid admin")
	// ErrBadCredentials is the one answer to a wrong password, an unknown email and an unknown
	// tenant alike, so that a sign-in form does not tell which accounts exist.
	ErrBadCredentials = errors.New("tenants: wrong email or password")
)

// Admin is a tenant admin who signs in to the dashboard. The record is stored under
// state/admins/<tenantID>/<email>; the password exists only as an argon2id hash.
type Admin struct {
	Email    string `json:"email"`
	TenantID string `json:"tenantId"`
	// PasswordHash is a PHC string: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>.
	PasswordHash string    `json:"passwordHash"`
	CreatedAt    time.Time `json:"createdAt"`
	LastSignInAt time.Time `json:"lastSignInAt,omitzero"`
	// PasswordChangedAt is when the password was last set; sessions from before it end.
	PasswordChangedAt time.Time `json:"passwordChangedAt,omitzero"`
	// TOTPSecret is the admin's TOTP secret sealed with the installation's sealing keys by the
	// dashboard (never in clear); empty when no second factor is enrolled.
	TOTPSecret []byte `json:"totpSecret,omitempty"`
	// TOTPLastStep is the last time step whose code signed in: no code of it or before it works.
	TOTPLastStep int64 `json:"totpLastStep,omitempty"`
	// RecoveryCodes are the sha256 hashes of the unused recovery codes.
	RecoveryCodes []string `json:"recoveryCodes,omitempty"`
}

// HasTOTP reports whether the admin enrolled a second factor.
func (a *Admin) HasTOTP() bool { return len(a.TOTPSecret) > 0 }

// NormalizeEmail trims and lower-cases an admin email, the form it is stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validAdminEmail(email string) bool {
	return email != "" && len(email) <= 254 && account.ValidEmail(email) && !strings.Contains(email, "/")
}

// CreateAdmin adds a dashboard admin to the tenant. Emails are unique per tenant (compared
// lower-case); the password must pass CheckPassword.
func (s *Store) CreateAdmin(ctx context.Context, tenantID, email, password string) (*Admin, error) {
	email = NormalizeEmail(email)
	if !validAdminEmail(email) {
		return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalidAdmin, email)
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	release, err := acquireHash(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants: creating admin %q: %w", email, err)
	}
	hash := HashPassword(password, PasswordParams)
	release()
	now := time.Now().UTC().Truncate(time.Second)
	a := &Admin{Email: email, TenantID: tenantID, PasswordHash: hash, CreatedAt: now, PasswordChangedAt: now}
	b, _ := json.Marshal(a)
	key := s.k.admin(tenantID, email)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.k.tenant(tenantID)), ">", 0)).
		Then(clientv3.OpPut(key, string(b))).
		Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: creating admin %q: %w", email, Unavailable(err))
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) > 0 {
			return nil, fmt.Errorf("creating admin %q: %w", email, ErrAdminExists)
		}
		return nil, fmt.Errorf("creating admin %q: %w", email, ErrTenantNotFound)
	}
	return a, nil
}

// Admin returns one admin of the tenant.
func (s *Store) Admin(ctx context.Context, tenantID, email string) (*Admin, error) {
	a, _, err := s.admin(ctx, tenantID, NormalizeEmail(email))
	return a, err
}

func (s *Store) admin(ctx context.Context, tenantID, email string) (*Admin, int64, error) {
	if tenantID == "" || !validAdminEmail(email) {
		return nil, 0, fmt.Errorf("loading admin %q: %w", email, ErrAdminNotFound)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.admin(tenantID, email))
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: loading admin %q: %w", email, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("loading admin %q: %w", email, ErrAdminNotFound)
	}
	var a Admin
	if err := json.Unmarshal(resp.Kvs[0].Value, &a); err != nil {
		return nil, 0, fmt.Errorf("tenants: decoding admin %q: %w", email, err)
	}
	return &a, resp.Kvs[0].ModRevision, nil
}

// Admins lists the tenant's admins by email.
func (s *Store) Admins(ctx context.Context, tenantID string) ([]*Admin, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.admins(tenantID), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("tenants: listing admins: %w", Unavailable(err))
	}
	out := make([]*Admin, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var a Admin
		if json.Unmarshal(kv.Value, &a) == nil {
			out = append(out, &a)
		}
	}
	slices.SortFunc(out, func(a, b *Admin) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// DeleteAdmin removes the tenant's admin; their dashboard sessions end with the record.
func (s *Store) DeleteAdmin(ctx context.Context, tenantID, email string) error {
	email = NormalizeEmail(email)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Delete(ctx, s.k.admin(tenantID, email))
	if err != nil {
		return fmt.Errorf("tenants: deleting admin %q: %w", email, Unavailable(err))
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("deleting admin %q: %w", email, ErrAdminNotFound)
	}
	return nil
}

// SetAdminPassword replaces an admin's password and ends the admin's existing sessions (through
// PasswordChangedAt).
func (s *Store) SetAdminPassword(ctx context.Context, tenantID, email, password string, now time.Time) error {
	email = NormalizeEmail(email)
	if err := CheckPassword(password); err != nil {
		return err
	}
	release, err := acquireHash(ctx)
	if err != nil {
		return fmt.Errorf("tenants: setting the password of %q: %w", email, err)
	}
	hash := HashPassword(password, PasswordParams)
	release()
	return s.updateAdmin(ctx, tenantID, email, func(a *Admin) {
		a.PasswordHash = hash
		a.PasswordChangedAt = now.UTC().Truncate(time.Second)
	})
}

// updateAdmin applies change to the current record in a Txn guarded by its revision, retrying
// on concurrent changes.
func (s *Store) updateAdmin(ctx context.Context, tenantID, email string, change func(a *Admin)) error {
	for range 8 {
		a, rev, err := s.admin(ctx, tenantID, email)
		if err != nil {
			return err
		}
		change(a)
		ok, _, err := s.putAdminIf(ctx, a, rev)
		if err != nil || ok {
			return err
		}
	}
	return fmt.Errorf("updating admin %q: %w", email, ErrConflict)
}

func (s *Store) putAdminIf(ctx context.Context, a *Admin, rev int64) (ok bool, newRev int64, err error) {
	b, _ := json.Marshal(a)
	key := s.k.admin(a.TenantID, a.Email)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return false, 0, fmt.Errorf("tenants: updating admin %q: %w", a.Email, Unavailable(err))
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

// AuthenticateAdmin checks an admin's email and password for src's tenant at now.
//
// An unknown tenant or email and a wrong password all return ErrBadCredentials, and an unknown
// email still costs one argon2id computation with the current parameters and the same etcd work,
// so neither the answer nor its time says whether the email exists. Attempts are throttled
// (CheckSignInThrottle, before any hashing: a *ThrottledError, errors.Is ErrThrottled) and every
// failure is counted (CountSignInFailure); nothing is counted on the admin record. A correct
// password clears the failures of the account from src's address.
func (s *Store) AuthenticateAdmin(ctx context.Context, src SignInSource, password string, now time.Time) (*Admin, error) {
	email := NormalizeEmail(src.Email)
	// The hashing slot is held from the check to the count, so parallel guesses cannot all pass
	// the check before the first is counted: at most cap(hashSlots) per instance are in between.
	release, err := acquireHash(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants: signing in: %w", err)
	}
	defer release()
	if err := s.CheckSignInThrottle(ctx, src, now); err != nil {
		return nil, err
	}
	if len(password) > 4*MaxPasswordLen {
		password = password[:4*MaxPasswordLen]
	}
	a, _, err := s.admin(ctx, src.TenantID, email)
	if err != nil && !errors.Is(err, ErrAdminNotFound) {
		return nil, err
	}
	match := false
	if a == nil {
		dummyHash(password)
	} else if match, err = VerifyPassword(a.PasswordHash, password); err != nil {
		return nil, fmt.Errorf("tenants: signing in %q: %w", email, err)
	}
	if !match {
		if err := s.CountSignInFailure(ctx, src, now); err != nil {
			return nil, err
		}
		return nil, ErrBadCredentials
	}
	if err := s.clearSignInFailures(ctx, src, now); err != nil {
		return nil, err
	}
	at := now.UTC().Truncate(time.Second)
	if err := s.updateAdmin(ctx, src.TenantID, email, func(a *Admin) { a.LastSignInAt = at }); err != nil {
		return nil, err
	}
	a.LastSignInAt = at
	return a, nil
}
