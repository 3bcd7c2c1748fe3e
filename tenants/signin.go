package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrThrottled is wrapped by *ThrottledError: too many failed sign-ins came from the client's
// address, or for the account.
var ErrThrottled = errors.New("tenants: too many failed sign-ins")

// ThrottledError is returned while sign-in attempts are refused; errors.Is(err, ErrThrottled)
// holds. It is the same for an existing and an unknown account.
type ThrottledError struct{ Until time.Time }

func (e *ThrottledError) Error() string {
	return ErrThrottled.Error() + "; try again at " + e.Until.UTC().Format(time.RFC3339)
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Sign-in throttling. Failed sign-ins (a wrong password, an unknown account or a wrong second
// factor) are counted in fixed windows of SignInWindow, across every gateway instance (keys on
// etcd leases that end with the window), under three keys:
//
//   - the client address: after MaxFailuresPerAddress failures the address may not try any
//     account until the window ends;
//   - the account together with the client address: after MaxFailuresPerAccountAddress the
//     address may not try that account until the window ends; a successful sign-in from the
//     address clears this count;
//   - the account alone: after MaxFailuresPerAccount (from any number of addresses) the account
//     may only be tried from a browser that has signed in as that admin before (its device
//     cookie), until the window ends.
//
// No count is ever attached to the admin record, so a stranger cannot lock the owner out: the
// owner's own address and known browser stay open. The counts are kept by the (tenant, email)
// that was typed whether or not such an admin exists, so a throttled answer says nothing about
// which accounts exist. An attempt is checked before any password hashing, and a throttled one
// costs no hashing.
const (
	SignInWindow                 = 15 * time.Minute
	MaxFailuresPerAddress        = 20
	MaxFailuresPerAccountAddress = 5
	MaxFailuresPerAccount        = 50
)

// SignInSource says who is trying to sign in, for throttling.
type SignInSource struct {
	// TenantID is the workspace's id, "" when the slug names none.
	TenantID string
	// Email is the admin email as typed.
	Email string
	// Addr is the client's IP address.
	Addr string
	// KnownDevice is true when the browser shows that it signed in as this admin before (the
	// dashboard's device cookie): the per-account limit does not apply to it.
	KnownDevice bool
}

func throttleHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// signInKeys are the counters of src in the window: address, account+address, account.
func (s *Store) signInKeys(src SignInSource, window int64) [3]string {
	email := NormalizeEmail(src.Email)
	return [3]string{
		s.k.signIn("a", throttleHash(src.Addr), window),
		s.k.signIn("p", throttleHash(src.TenantID, email, src.Addr), window),
		s.k.signIn("u", throttleHash(src.TenantID, email), window),
	}
}

func signInWindow(now time.Time) (window int64, end time.Time) {
	n := int64(SignInWindow / time.Second)
	window = now.Unix() / n
	return window, time.Unix((window+1)*n, 0).UTC()
}

// CheckSignInThrottle returns a *ThrottledError when src may not try to sign in now, else nil.
// It is one etcd read.
func (s *Store) CheckSignInThrottle(ctx context.Context, src SignInSource, now time.Time) error {
	window, end := signInWindow(now)
	keys := s.signInKeys(src, window)
	tctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(tctx).Then(
		clientv3.OpGet(keys[0], clientv3.WithKeysOnly()),
		clientv3.OpGet(keys[1], clientv3.WithKeysOnly()),
		clientv3.OpGet(keys[2], clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return fmt.Errorf("tenants: checking sign-in attempts: %w", Unavailable(err))
	}
	var n [3]int64
	for i := range n {
		if kvs := resp.Responses[i].GetResponseRange().Kvs; len(kvs) > 0 {
			n[i] = kvs[0].Version
		}
	}
	if n[0] >= MaxFailuresPerAddress || n[1] >= MaxFailuresPerAccountAddress ||
		(n[2] >= MaxFailuresPerAccount && !src.KnownDevice) {
		return &ThrottledError{Until: end}
	}
	return nil
}

// CountSignInFailure counts one failed sign-in of src under its three keys.
func (s *Store) CountSignInFailure(ctx context.Context, src SignInSource, now time.Time) error {
	window, end := signInWindow(now)
	for _, key := range s.signInKeys(src, window) {
		if _, err := s.countOnLease(ctx, key, end); err != nil {
			return fmt.Errorf("tenants: counting a failed sign-in: %w", err)
		}
	}
	return nil
}

// clearSignInFailures forgets the failures of src's account from src's address (after a
// successful sign-in from there).
func (s *Store) clearSignInFailures(ctx context.Context, src SignInSource, now time.Time) error {
	window, _ := signInWindow(now)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Delete(ctx, s.signInKeys(src, window)[1]); err != nil {
		return fmt.Errorf("tenants: clearing failed sign-ins: %w", Unavailable(err))
	}
	return nil
}

// countOnLease adds one to the Version of key, creating it on a lease that ends at until, and
// returns the Version after the count: one etcd request.
func (s *Store) countOnLease(ctx context.Context, key string, until time.Time) (int64, error) {
	var version int64
	err := s.onLease(ctx, until, func(ctx context.Context, lease clientv3.LeaseID) error {
		get := clientv3.OpGet(key, clientv3.WithKeysOnly())
		resp, err := s.c.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(lease)), get).
			Else(clientv3.OpPut(key, "", clientv3.WithIgnoreLease()), get).
			Commit()
		if err != nil {
			return err
		}
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
			version = kvs[0].Version
		}
		return nil
	})
	return version, err
}

// onLease runs op (with its own request deadline) with a lease of s.linkLeases that lasts at
// least until until, and again with a new lease when etcd no longer knows the one op was given
// (it expired meanwhile): at most three times, then ErrConflict. Errors of etcd are Unavailable's.
func (s *Store) onLease(ctx context.Context, until time.Time, op func(ctx context.Context, lease clientv3.LeaseID) error) error {
	for range 3 {
		lease, err := s.linkLeases.get(ctx, s.c, until)
		if err != nil {
			return Unavailable(err)
		}
		tctx, cancel := s.opCtx(ctx)
		err = op(tctx, lease)
		cancel()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.linkLeases.forget(lease)
			continue
		}
		return Unavailable(err)
	}
	return ErrConflict
}
