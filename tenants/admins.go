package tenants

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/tenants/account"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/crypto/argon2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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

// Password length limits of dashboard admins (in characters).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Argon2Params are the argon2id cost parameters of a password hash. They are stored with every
// hash (PHC string format), so changing PasswordParams only affects new hashes.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
}

// PasswordParams are the parameters new password hashes are made with: 64 MiB, 3 passes, 2 lanes
// (RFC 9106's second recommended option with fewer lanes), about half a second on one core of the
// reference machine. Tests lower them; production code must not change them.
var PasswordParams = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	saltLen = 16
	hashLen = 32
)

// hashSlots bounds concurrent argon2 computations, so that a flood of sign-in attempts cannot
// take more than a few times Memory of RAM; the others wait their turn.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

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

func (k keyspace) admins(tid string) string { return k.p + "state/admins/" + tid + "/" }
func (k keyspace) admin(tid, email string) string {
	return k.p + "state/admins/" + tid + "/" + email
}
func (k keyspace) linkMail(tid, aid string, hour int64) string {
	return k.p + "lease/linkmail/" + tid + "/" + aid + "/" + strconv.FormatInt(hour, 10)
}

// NormalizeEmail trims and lower-cases an admin email, the form it is stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CheckPassword says what is wrong with a new admin password, or returns nil.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: the password is not valid UTF-8", ErrInvalidAdmin)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: the password must have at least %d characters", ErrInvalidAdmin, MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("%w: the password must have at most %d characters", ErrInvalidAdmin, MaxPasswordLen)
	}
	return nil
}

// GeneratePassword returns a random password of 20 characters (100 bits) from an alphabet
// without look-alike characters.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [20]byte
	out := make([]byte, 0, len(b))
	for len(out) < len(b) {
		rand.Read(b[:])
		for _, c := range b {
			// 56 symbols: reject bytes ≥ 224 to keep the choice uniform.
			if c < 224 && len(out) < len(b) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// acquireHash waits for a hashing slot.
func acquireHash(ctx context.Context) (release func(), err error) {
	select {
	case hashSlots <- struct{}{}:
		return func() { <-hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// HashPassword returns the PHC string of password under p with a fresh salt.
func HashPassword(password string, p Argon2Params) string {
	var salt [saltLen]byte
	rand.Read(salt[:])
	key := argon2.IDKey([]byte(password), salt[:], p.Time, p.Memory, p.Threads, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt[:]), b64.EncodeToString(key))
}

// parsePHC reads an argon2id PHC string, refusing parameters no Portico hash has (so that a
// corrupted record cannot make a sign-in allocate gigabytes).
func parsePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errors.New("tenants: password hash is not an argon2id PHC string")
	}
	var m, t, l uint64
	for _, kv := range strings.Split(parts[3], ",") {
		name, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, fmt.Errorf("tenants: reading password hash parameter %q: %w", kv, perr)
		}
		switch name {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			l = n
		}
	}
	if m < 8 || m > 1<<20 || t < 1 || t > 16 || l < 1 || l > 16 {
		return p, nil, nil, fmt.Errorf("tenants: password hash parameters m=%d,t=%d,p=%d are out of range", m, t, l)
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("tenants: password hash has an unreadable salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("tenants: password hash has an unreadable key")
	}
	return Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(l)}, salt, key, nil
}

// VerifyPassword reports whether password matches the PHC string, comparing in constant time.
func VerifyPassword(phc, password string) (bool, error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// dummyHash burns the time of one verification with the current parameters, for sign-ins whose
// email or tenant does not exist.
func dummyHash(password string) {
	var salt [saltLen]byte
	p := PasswordParams
	argon2.IDKey([]byte(password), salt[:], p.Time, p.Memory, p.Threads, hashLen)
}

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
		return nil, fmt.Errorf("tenants: creating admin %q: %w", email, wrapEtcd(err))
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
		return nil, 0, fmt.Errorf("tenants: loading admin %q: %w", email, wrapEtcd(err))
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
		return nil, fmt.Errorf("tenants: listing admins: %w", wrapEtcd(err))
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
		return fmt.Errorf("tenants: deleting admin %q: %w", email, wrapEtcd(err))
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
		return false, 0, fmt.Errorf("tenants: updating admin %q: %w", a.Email, wrapEtcd(err))
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

// CountLinkEmail counts one portal-link email to the account in the clock hour of now and returns
// how many were counted in that hour, this one included. The count is the Version of a key per
// (tenant, account, hour) that lives on an etcd lease of about an hour, so it holds across every
// gateway instance and vanishes on its own.
func (s *Store) CountLinkEmail(ctx context.Context, tenantID, accountID string, now time.Time) (int, error) {
	if !account.ValidID(accountID) {
		return 0, fmt.Errorf("counting link emails: %w", ErrAccountNotFound)
	}
	hour := now.Unix() / 3600
	key := s.k.linkMail(tenantID, accountID, hour)
	lease, err := s.linkLeases.get(ctx, s.c, time.Unix((hour+1)*3600, 0))
	if err != nil {
		return 0, fmt.Errorf("tenants: counting link emails: %w", wrapEtcd(err))
	}
	tctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(tctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, "", clientv3.WithLease(lease)), clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Else(clientv3.OpPut(key, "", clientv3.WithIgnoreLease()), clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.linkLeases.forget(lease)
		return s.CountLinkEmail(ctx, tenantID, accountID, now)
	}
	if err != nil {
		return 0, fmt.Errorf("tenants: counting link emails: %w", wrapEtcd(err))
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return 0, fmt.Errorf("tenants: counting link emails: %w", ErrConflict)
	}
	return int(kvs[0].Version), nil
}

// LinkEmailCount returns how many portal-link emails CountLinkEmail counted to the account in the
// clock hour of now, without counting one. A sender checks it before sending and counts after a
// successful send, so failed sends do not use up the limit (concurrent sends may pass it by the
// few that were in flight together).
func (s *Store) LinkEmailCount(ctx context.Context, tenantID, accountID string, now time.Time) (int, error) {
	if !account.ValidID(accountID) {
		return 0, fmt.Errorf("reading link email count: %w", ErrAccountNotFound)
	}
	tctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(tctx, s.k.linkMail(tenantID, accountID, now.Unix()/3600), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("tenants: reading link email count: %w", wrapEtcd(err))
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	return int(resp.Kvs[0].Version), nil
}

// ErrCompacted says a listing or watch asked for a revision etcd has compacted away; the caller
// lists again from the current revision.
var ErrCompacted = errors.New("tenants: revision compacted")

// AccountSummary is the part of an account document the dashboard's customer search needs.
type AccountSummary struct {
	ID, Alias, Name, Email string
}

// decodeSummary reads id, alias, name and email from an account document without decoding the
// rest. Documents are written by json.Marshal of account.Account, whose first fields are exactly
// these, so the scan stops at the first other key once id and name were seen; a document in
// another field order is still read correctly, only further. It is a small scanner rather than
// encoding/json because building the dashboard's search index reads every document of a tenant.
func decodeSummary(b []byte) (AccountSummary, error) {
	var s AccountSummary
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return s, errors.New("tenants: account document is not a JSON object")
	}
	i++
	var seenID, seenName bool
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return s, nil
		}
		start := i
		end, err := scanString(b, i)
		if err != nil {
			return s, err
		}
		key := b[start+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return s, errJSONSyntax
		}
		i = skipSpace(b, i+1)
		var dst *string
		switch string(key) {
		case "id":
			dst, seenID = &s.ID, true
		case "alias":
			dst = &s.Alias
		case "name":
			dst, seenName = &s.Name, true
		case "email":
			dst = &s.Email
		}
		if dst == nil {
			if seenID && seenName {
				return s, nil
			}
			if i, err = skipValue(b, i); err != nil {
				return s, err
			}
		} else {
			end, err := scanString(b, i)
			if err != nil {
				return s, fmt.Errorf("tenants: reading account field %q: %w", key, err)
			}
			if *dst, err = unquote(b[i:end]); err != nil {
				return s, fmt.Errorf("tenants: reading account field %q: %w", key, err)
			}
			i = end
		}
		i = skipSpace(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i++
		case i < len(b) && b[i] == '}':
			return s, nil
		default:
			return s, errJSONSyntax
		}
	}
}

var errJSONSyntax = errors.New("tenants: account document is not valid JSON")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString returns the index after the JSON string starting at b[i].
func scanString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errJSONSyntax
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errJSONSyntax
}

// unquote decodes a JSON string literal; only literals with escapes go through encoding/json.
func unquote(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errJSONSyntax
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errJSONSyntax
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i {
		return 0, errJSONSyntax
	}
	return j, nil
}

// ListAccountSummaries reads up to limit of the tenant's accounts in id order after the id
// "after", as of revision rev (0: the current revision). It is one ranged Get. next is the id to
// pass as after for the following page ("" at the end) and atRev the revision read: pass it to
// the following calls so that a listing in pages is one consistent snapshot. Unreadable
// documents are skipped.
func (s *Store) ListAccountSummaries(ctx context.Context, tenantID, after string, limit, rev int64) (out []AccountSummary, next string, atRev int64, err error) {
	prefix := s.k.accounts(tenantID)
	from := prefix
	if after != "" {
		from = prefix + after + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(limit)}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, from, opts...)
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil, "", 0, fmt.Errorf("listing accounts at revision %d: %w", rev, ErrCompacted)
	}
	if err != nil {
		return nil, "", 0, fmt.Errorf("tenants: listing accounts: %w", wrapEtcd(err))
	}
	out = make([]AccountSummary, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		sum, err := decodeSummary(kv.Value)
		if err != nil {
			s.log.Warn("tenants: skipping unreadable account", "key", string(kv.Key), "err", err)
			continue
		}
		sum.ID = string(kv.Key[len(prefix):]) // the key is authoritative
		out = append(out, sum)
	}
	if n := len(resp.Kvs); n > 0 && resp.More {
		next = string(resp.Kvs[n-1].Key[len(prefix):])
	}
	if rev == 0 {
		rev = resp.Header.Revision // with WithRev the header holds the current revision
	}
	return out, next, rev, nil
}

// ScanAccountSummaries calls fn for every account of the tenant, in id order, as of one revision,
// which it returns. It streams the range with etcd's RangeStream (etcd 3.7+), where the server
// pages at a pinned revision in chunks of about a megabyte without counting the rest of the range
// for each page, so 100,000 accounts cost one request; against an older etcd it falls back to
// ListAccountSummaries pages pinned to one revision. Unreadable documents are skipped.
func (s *Store) ScanAccountSummaries(ctx context.Context, tenantID string, fn func(AccountSummary)) (int64, error) {
	prefix := s.k.accounts(tenantID)
	sctx, cancel := context.WithTimeout(ctx, max(12*s.timeout, time.Minute))
	defer cancel()
	ch, err := s.c.GetStream(sctx, prefix, clientv3.WithPrefix())
	var rev int64
	received := false
	if err == nil {
		for r := range ch {
			if err = r.Err(); err != nil {
				break
			}
			received = true
			for _, kv := range r.Kvs {
				sum, derr := decodeSummary(kv.Value)
				if derr != nil {
					s.log.Warn("tenants: skipping unreadable account", "key", string(kv.Key), "err", derr)
					continue
				}
				sum.ID = string(kv.Key[len(prefix):])
				fn(sum)
			}
			if r.Header != nil {
				rev = r.Header.Revision
			}
		}
		for range ch { // drain after an error so the stream's goroutine ends
		}
	}
	if status.Code(err) == codes.Unimplemented && !received {
		return s.scanPaged(ctx, tenantID, fn)
	}
	if err != nil {
		return 0, fmt.Errorf("tenants: listing accounts: %w", wrapEtcd(err))
	}
	return rev, nil
}

// scanPaged is ScanAccountSummaries for etcd before 3.7.
func (s *Store) scanPaged(ctx context.Context, tenantID string, fn func(AccountSummary)) (int64, error) {
	var after string
	var rev int64
	for {
		page, next, at, err := s.ListAccountSummaries(ctx, tenantID, after, 1000, rev)
		if err != nil {
			return 0, err
		}
		rev = at
		for _, sum := range page {
			fn(sum)
		}
		if next == "" {
			return rev, nil
		}
		after = next
	}
}

// WatchAccountSummaries calls fn for every change of the tenant's accounts after revision rev,
// in order, with the account id, its new summary (nil when deleted) and the change's revision. It
// returns when ctx ends (nil), when etcd compacted rev away (ErrCompacted) or when the watch
// fails otherwise (the caller watches again from the last revision it saw).
func (s *Store) WatchAccountSummaries(ctx context.Context, tenantID string, rev int64, fn func(id string, sum *AccountSummary, rev int64)) error {
	prefix := s.k.accounts(tenantID)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.c.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("watching accounts from revision %d: %w", rev, ErrCompacted)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("tenants: watching accounts: %w", wrapEtcd(err))
		}
		for _, ev := range resp.Events {
			id := string(ev.Kv.Key[len(prefix):])
			if ev.Type == clientv3.EventTypeDelete {
				fn(id, nil, ev.Kv.ModRevision)
				continue
			}
			sum, err := decodeSummary(ev.Kv.Value)
			if err != nil {
				s.log.Warn("tenants: skipping unreadable account", "key", string(ev.Kv.Key), "err", err)
				continue
			}
			sum.ID = id
			fn(id, &sum, ev.Kv.ModRevision)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("tenants: watching accounts: %w", ErrUnavailable)
}
