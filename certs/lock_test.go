package certs

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"go.uber.org/zap"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// shortTTL is the lock TTL of tests where a holder dies: etcd's minimum lease TTL.
const shortTTL = 2 * time.Second

// lockAsync runs s.Lock in a goroutine and reports its result on the returned channel.
func lockAsync(ctx context.Context, s *Storage, name string) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Lock(ctx, name) }()
	return ch
}

// await returns the result of a lockAsync; only a hang reaches testwait.Patience.
func await(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(testwait.Patience):
		t.Fatalf("%s: no result after %v", what, testwait.Patience)
		return nil
	}
}

// grants records the leases granted through a client, so that a test can check that its own
// leases are gone without counting the member's others (certmagic's maintenance in other tests
// takes locks of its own at any time).
type grants struct {
	clientv3.Lease
	mu  sync.Mutex
	ids []clientv3.LeaseID
}

// recordGrants makes c record the leases it grants.
func recordGrants(c *clientv3.Client) *grants {
	g := &grants{Lease: c.Lease}
	c.Lease = g
	return g
}

func (g *grants) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	r, err := g.Lease.Grant(ctx, ttl)
	if err == nil {
		g.mu.Lock()
		g.ids = append(g.ids, r.ID)
		g.mu.Unlock()
	}
	return r, err
}

// live returns the recorded leases that still exist.
func (g *grants) live(t *testing.T, ctx context.Context) []clientv3.LeaseID {
	t.Helper()
	g.mu.Lock()
	ids := append([]clientv3.LeaseID(nil), g.ids...)
	g.mu.Unlock()
	var live []clientv3.LeaseID
	for _, id := range ids {
		r, err := g.Lease.TimeToLive(ctx, id)
		if err != nil {
			t.Fatalf("TimeToLive(%x): %v", id, err)
		}
		if r.TTL > 0 {
			live = append(live, id)
		}
	}
	return live
}

// lockHolder returns the value of the lock key of name: the holder id, or "" if free.
func lockHolder(t *testing.T, ctx context.Context, c *clientv3.Client, s *Storage, name string) string {
	t.Helper()
	resp, err := c.Get(ctx, s.lockPrefix+name)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// TestLockAcrossInstances: two Storages with their own etcd clients, as two gateway processes.
func TestLockAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx, prefix := etcdtest.Ctx(t), etcdtest.Prefix(t)
	a := newStorage(t, srv.Client(t), prefix, 0)
	b := newStorage(t, srv.Client(t), prefix, 0)
	const name = "issue_cert_example.com"

	if err := a.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.TryLock(ctx, name); ok || err != nil {
		t.Fatalf("B.TryLock while A holds = %v, %v; want false, nil", ok, err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := b.Lock(short, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B.Lock while A holds: %v; want the deadline", err)
	}
	waiting := lockAsync(ctx, b, name)
	if err := a.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := await(t, waiting, "B.Lock after A.Unlock"); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.TryLock(ctx, name); ok || err != nil {
		t.Fatalf("A.TryLock while B holds = %v, %v; want false, nil", ok, err)
	}
	if err := b.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestLockMutualExclusionAcrossInstances: three instances, ten goroutines each, incrementing a
// counter kept in the storage under the lock.
func TestLockMutualExclusionAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx, prefix := etcdtest.Ctx(t), etcdtest.Prefix(t)
	const instances, perInstance, name, counter = 3, 10, "issue_cert_example.com", "counter"
	var all []*Storage
	for range instances {
		all = append(all, newStorage(t, srv.Client(t), prefix, 0))
	}
	if err := all[0].Store(ctx, counter, []byte("0")); err != nil {
		t.Fatal(err)
	}
	var inside atomic.Int32
	var wg sync.WaitGroup
	for _, s := range all {
		for range perInstance {
			wg.Go(func() {
				if err := s.Lock(ctx, name); err != nil {
					t.Errorf("Lock: %v", err)
					return
				}
				defer func() {
					if err := s.Unlock(ctx, name); err != nil {
						t.Errorf("Unlock: %v", err)
					}
				}()
				if n := inside.Add(1); n != 1 {
					t.Errorf("%d holders at once", n)
				}
				defer inside.Add(-1)
				v, err := s.Load(ctx, counter)
				if err != nil {
					t.Errorf("Load: %v", err)
					return
				}
				n, _ := strconv.Atoi(string(v))
				if err := s.Store(ctx, counter, []byte(strconv.Itoa(n+1))); err != nil {
					t.Errorf("Store: %v", err)
				}
			})
		}
	}
	wg.Wait()
	if v, err := all[0].Load(ctx, counter); err != nil || string(v) != strconv.Itoa(instances*perInstance) {
		t.Errorf("counter = %q, %v; want %d", v, err, instances*perInstance)
	}
}

// TestLockHolderDies: a live holder keeps its lock past the TTL; once its process is gone (its
// client closed, no Unlock) its lease is no longer renewed, and a waiter on another instance gets
// the lock within the TTL.
func TestLockHolderDies(t *testing.T) {
	t.Parallel()
	ctx, prefix := etcdtest.Ctx(t), etcdtest.Prefix(t)
	dying, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	a := newStorage(t, dying, prefix, shortTTL)
	b := newStorage(t, srv.Client(t), prefix, shortTTL)
	const name = "issue_cert_example.com"
	if err := a.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	// While A lives, its keep-alive holds the lock for longer than the TTL.
	outlive, cancel := context.WithTimeout(ctx, 2*shortTTL+500*time.Millisecond)
	defer cancel()
	if err := b.Lock(outlive, name); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("B.Lock while A holds, for twice the TTL: %v; want the deadline", err)
	}
	if err := a.RenewLockLease(ctx, name, time.Minute); err != nil {
		t.Fatalf("A.RenewLockLease after twice the TTL: %v", err)
	}
	waiting := lockAsync(ctx, b, name)
	dying.Close()
	if err := await(t, waiting, "B.Lock after A died"); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewLockLease(ctx, name, time.Minute); !errors.Is(err, ErrLockLost) {
		t.Errorf("A.RenewLockLease after its lease expired: %v; want ErrLockLost", err)
	}
	// With its client closed, Unlock answers at once (context.Canceled from the closed client)
	// rather than waiting out a revoke against a client that can no longer send one.
	if err := a.Unlock(ctx, name); !errors.Is(err, context.Canceled) {
		t.Errorf("A.Unlock with its client closed: %v; want the closed client's context.Canceled", err)
	}
	if err := b.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestLockLeaseRevoked: when a holder's lease is revoked behind its back (an operator, or expiry
// during a partition), the lock passes on at once; the former holder's RenewLockLease reports the
// loss and its Unlock does not release the new holder's lock.
func TestLockLeaseRevoked(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	a := newStorage(t, srv.Client(t), prefix, 0)
	b := newStorage(t, srv.Client(t), prefix, 0)
	const name = "issue_cert_example.com"
	if err := a.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewLockLease(ctx, name, time.Minute); err != nil {
		t.Fatalf("RenewLockLease of a held lock: %v", err)
	}
	waiting := lockAsync(ctx, b, name)
	resp, err := c.Get(ctx, a.lockPrefix+name)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("lock key: %v", err)
	}
	if _, err := c.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	if err := await(t, waiting, "B.Lock after A's lease was revoked"); err != nil {
		t.Fatal(err)
	}
	if err := a.RenewLockLease(ctx, name, time.Minute); !errors.Is(err, ErrLockLost) {
		t.Errorf("A.RenewLockLease after the revocation: %v; want ErrLockLost", err)
	}
	if err := a.Unlock(ctx, name); err != nil {
		t.Errorf("A.Unlock of its lost lock: %v; want nil, the lock is gone", err)
	}
	if h := lockHolder(t, ctx, c, b, name); h != b.HolderID() {
		t.Fatalf("after A's Unlock the lock key holds %q; want B's %q", h, b.HolderID())
	}
	if err := b.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestLockKeyDeleted: a lock key deleted by hand is a lost lock too.
func TestLockKeyDeleted(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	s := newStorage(t, c, prefix, 0)
	const name = "issue_cert_example.com"
	if err := s.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, s.lockPrefix+name); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewLockLease(ctx, name, time.Minute); !errors.Is(err, ErrLockLost) {
		t.Errorf("RenewLockLease after the key was deleted: %v; want ErrLockLost", err)
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
}

// TestUnlockByNonHolder: Unlock releases only a lock this Storage holds.
func TestUnlockByNonHolder(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	a := newStorage(t, srv.Client(t), prefix, 0)
	b := newStorage(t, srv.Client(t), prefix, 0)
	const name = "issue_cert_example.com"
	if err := a.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, name); !errors.Is(err, ErrNotLocked) {
		t.Errorf("B.Unlock of A's lock: %v; want ErrNotLocked", err)
	}
	if err := b.RenewLockLease(ctx, name, time.Minute); !errors.Is(err, ErrNotLocked) {
		t.Errorf("B.RenewLockLease of A's lock: %v; want ErrNotLocked", err)
	}
	if h := lockHolder(t, ctx, c, a, name); h != a.HolderID() {
		t.Fatalf("after B's Unlock the lock key holds %q; want A's %q", h, a.HolderID())
	}
	if ok, err := b.TryLock(ctx, name); ok || err != nil {
		t.Fatalf("B.TryLock = %v, %v; want false: A still holds", ok, err)
	}
	if err := a.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := a.Unlock(ctx, name); !errors.Is(err, ErrNotLocked) {
		t.Errorf("second A.Unlock: %v; want ErrNotLocked", err)
	}
	if h := lockHolder(t, ctx, c, a, name); h != "" {
		t.Fatalf("after A.Unlock the lock key holds %q; want it deleted", h)
	}
}

// TestLockDoneContextLeavesNothing: a Lock or TryLock that fails on its context leaves no lock key
// and no lease behind, whether the lock was free or held.
func TestLockDoneContextLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	granted := recordGrants(c)
	s := newStorage(t, c, prefix, 0)
	other := newStorage(t, srv.Client(t), prefix, 0)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	const name = "issue_cert_example.com"
	if err := s.Lock(cancelled, name); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock of a free lock with a cancelled context: %v; want context.Canceled", err)
	}
	if ok, err := s.TryLock(cancelled, name); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("TryLock with a cancelled context = %v, %v; want false, context.Canceled", ok, err)
	}
	if h := lockHolder(t, ctx, c, s, name); h != "" {
		t.Fatalf("lock key holds %q after failed Locks", h)
	}

	// Cancelled while waiting, in etcd (held by another instance) and at the in-process gate.
	if err := other.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancelWait := context.WithCancel(ctx)
	first, second := lockAsync(waitCtx, s, name), lockAsync(waitCtx, s, name)
	etcdtest.Wait(t, "both Locks to be waiting", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.locks[name] != nil && s.locks[name].refs == 2
	})
	etcdtest.Wait(t, "the Lock in etcd to hold a lease", func() bool {
		granted.mu.Lock()
		defer granted.mu.Unlock()
		return len(granted.ids) == 1
	})
	cancelWait()
	for _, ch := range []<-chan error{first, second} {
		if err := await(t, ch, "cancelled Lock"); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Lock: %v; want context.Canceled", err)
		}
	}
	// A failed Lock revokes its lease before it returns.
	if live := granted.live(t, ctx); len(live) != 0 {
		t.Errorf("leases of the failed Locks still live: %x", live)
	}
	if err := other.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	if h := lockHolder(t, ctx, c, s, name); h != "" {
		t.Fatalf("lock key holds %q after everyone gave up", h)
	}
}

// TestLockEmptyName: an empty name is an error, not a lock on the lock directory.
func TestLockEmptyName(t *testing.T) {
	t.Parallel()
	ctx := etcdtest.Ctx(t)
	s := newStorage(t, srv.Client(t), etcdtest.Prefix(t), 0)
	if err := s.Lock(ctx, ""); err == nil {
		t.Error("Lock(\"\") succeeded")
	}
	if ok, err := s.TryLock(ctx, ""); ok || err == nil {
		t.Errorf("TryLock(\"\") = %v, %v; want an error", ok, err)
	}
}

func BenchmarkLockUnlock(b *testing.B) {
	ctx := etcdtest.Ctx(b)
	s := newStorage(b, srv.Client(b), etcdtest.Prefix(b), 0)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Lock(ctx, "issue_cert_example.com"); err != nil {
			b.Fatal(err)
		}
		if err := s.Unlock(ctx, "issue_cert_example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
