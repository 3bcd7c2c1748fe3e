package certs

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// lockEntry is the in-process state of one lock name. It exists while some goroutine holds or
// waits for the name through this Storage.
type lockEntry struct {
	gate chan struct{} // capacity 1: whoever sends into it may contend for the etcd lock
	refs int           // goroutines holding or waiting for gate; guarded by Storage.mu
	held *heldLock     // set while this Storage holds the etcd lock; guarded by Storage.mu
}

// heldLock is one lease-backed acquisition.
type heldLock struct {
	lease clientv3.LeaseID
	stop  context.CancelFunc // stops the keep-alive
	done  chan struct{}      // closed when the keep-alive goroutine has ended
	lost  atomic.Bool        // the keep-alive ended on its own: lease expired or client closed
}

// Lock acquires the lock name, blocking until it is free in the whole cluster or ctx is done.
// The lock is kept (its lease renewed) until Unlock, however long that takes; if this process dies
// first, the lock is freed within LockTTL. An error means the lock is not held.
func (s *Storage) Lock(ctx context.Context, name string) error {
	if name == "" {
		return errors.New("certs: locking: empty lock name")
	}
	e, err := s.enter(ctx, name, true)
	if err != nil {
		return fmt.Errorf("certs: locking %q: %w", name, err)
	}
	h, err := s.acquire(ctx, name, true)
	if err != nil {
		s.leave(name, e, true)
		return fmt.Errorf("certs: locking %q: %w", name, err)
	}
	s.setHeld(e, h)
	return nil
}

// TryLock acquires the lock name if it is free, without waiting: it reports false, with a nil
// error, when another goroutine or instance holds it.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	if name == "" {
		return false, errors.New("certs: trying lock: empty lock name")
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("certs: trying lock %q: %w", name, err)
	}
	e, err := s.enter(ctx, name, false)
	if e == nil {
		return false, err
	}
	// Most failed attempts are answered by this read, without granting a lease.
	resp, err := s.client.Get(ctx, s.lockPrefix+name, clientv3.WithCountOnly())
	if err != nil {
		s.leave(name, e, true)
		return false, fmt.Errorf("certs: trying lock %q: %w", name, err)
	}
	if resp.Count > 0 {
		s.leave(name, e, true)
		return false, nil
	}
	h, err := s.acquire(ctx, name, false)
	if err != nil {
		s.leave(name, e, true)
		return false, fmt.Errorf("certs: trying lock %q: %w", name, err)
	}
	if h == nil {
		s.leave(name, e, true)
		return false, nil
	}
	s.setHeld(e, h)
	return true, nil
}

// Unlock releases the lock name held by this Storage (by any of its goroutines, as certmagic's
// name-only API requires) by revoking its lease, which deletes the lock key. A name this Storage
// does not hold gives ErrNotLocked and releases nothing: a lock key is bound to its holder's
// lease, so another holder's lock cannot be deleted from here. If the lease already expired, the
// lock is gone and Unlock returns nil. If etcd cannot be reached the error is returned, and the
// lock still ends within LockTTL, since its keep-alive has stopped.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	e := s.locks[name]
	var h *heldLock
	if e != nil {
		h, e.held = e.held, nil
	}
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certs: unlocking %q: %w", name, ErrNotLocked)
	}
	err := s.release(ctx, h)
	s.leave(name, e, true)
	if err != nil {
		return fmt.Errorf("certs: unlocking %q: %w", name, err)
	}
	return nil
}

// RenewLockLease checks that this Storage still holds the lock named lockKey. The lease of a held
// lock is renewed continuously, so leaseDuration is not needed and is ignored; what this adds for
// certmagic, which calls it between the attempts of a long ACME order, is the check: it returns
// ErrLockLost if the lease expired (say after a long partition from etcd) or the key was deleted,
// so the order stops instead of running beside another holder's. ErrNotLocked if not held at all.
func (s *Storage) RenewLockLease(ctx context.Context, lockKey string, leaseDuration time.Duration) error {
	s.mu.Lock()
	var h *heldLock
	if e := s.locks[lockKey]; e != nil {
		h = e.held
	}
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("certs: renewing lock %q: %w", lockKey, ErrNotLocked)
	}
	if h.lost.Load() {
		return fmt.Errorf("certs: renewing lock %q: %w", lockKey, ErrLockLost)
	}
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.LeaseValue(s.lockPrefix+lockKey), "=", h.lease)).
		Commit()
	if err != nil {
		return fmt.Errorf("certs: renewing lock %q: %w", lockKey, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("certs: renewing lock %q: %w", lockKey, ErrLockLost)
	}
	return nil
}

// enter passes the in-process gate of name: it waits for it (until ctx is done) if wait is set,
// else it returns a nil entry and nil error when the gate is taken.
func (s *Storage) enter(ctx context.Context, name string, wait bool) (*lockEntry, error) {
	s.mu.Lock()
	e := s.locks[name]
	if e == nil {
		e = &lockEntry{gate: make(chan struct{}, 1)}
		s.locks[name] = e
	}
	e.refs++
	s.mu.Unlock()
	if !wait {
		select {
		case e.gate <- struct{}{}:
			return e, nil
		default:
			s.leave(name, e, false)
			return nil, nil
		}
	}
	select {
	case e.gate <- struct{}{}:
		return e, nil
	case <-ctx.Done():
		s.leave(name, e, false)
		return nil, ctx.Err()
	}
}

// leave drops this goroutine's reference to e, passing the gate on first if it holds it.
func (s *Storage) leave(name string, e *lockEntry, passGate bool) {
	if passGate {
		<-e.gate
	}
	s.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(s.locks, name)
	}
	s.mu.Unlock()
}

func (s *Storage) setHeld(e *lockEntry, h *heldLock) {
	s.mu.Lock()
	e.held = h
	s.mu.Unlock()
}

// acquire takes the etcd lock name: it grants a lease, keeps it alive, and creates the lock key on
// it if the key does not exist. If wait is set it watches the key's deletion and retries until it
// wins or ctx is done; otherwise it returns a nil heldLock when the key exists. On every failure
// the lease is revoked, which also deletes the key if a Txn the client saw fail did commit.
func (s *Storage) acquire(ctx context.Context, name string, wait bool) (*heldLock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	grant, err := s.client.Grant(ctx, s.leaseTTL)
	if err != nil {
		return nil, fmt.Errorf("granting lease: %w", err)
	}
	h, err := s.keepAlive(grant.ID)
	if err != nil {
		s.revoke(context.WithoutCancel(ctx), grant.ID)
		return nil, err
	}
	won := false
	defer func() {
		if !won {
			s.release(context.WithoutCancel(ctx), h)
		}
	}()
	key := s.lockPrefix + name
	for {
		resp, err := s.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, s.holder, clientv3.WithLease(h.lease))).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("creating lock key: %w", err)
		}
		if resp.Succeeded {
			won = true
			return h, nil
		}
		if !wait {
			return nil, nil
		}
		if err := s.awaitDelete(ctx, key, resp.Header.Revision); err != nil {
			return nil, err
		}
	}
}

// awaitDelete returns when key is deleted after revision rev, or when the watch ends early in a
// way worth retrying (the caller then tries again to create the key), or with ctx's error.
func (s *Storage) awaitDelete(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range s.client.Watch(wctx, key, clientv3.WithRev(rev+1), clientv3.WithFilterPut()) {
		if err := wr.Err(); err != nil {
			if errors.Is(err, rpctypes.ErrCompacted) {
				return nil // the deletion may be in the compacted history: look again
			}
			return fmt.Errorf("watching lock key: %w", err)
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil // the watch closed (client closing, leader lost): the next Txn tells
}

// keepAlive renews lease until the returned heldLock is released.
func (s *Storage) keepAlive(lease clientv3.LeaseID) (*heldLock, error) {
	// Not derived from any caller's ctx: the lock outlives the call that took it.
	kctx, stop := context.WithCancel(context.Background())
	ch, err := s.client.KeepAlive(kctx, lease)
	if err != nil {
		stop()
		return nil, fmt.Errorf("keeping lease alive: %w", err)
	}
	h := &heldLock{lease: lease, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for range ch {
		}
		if kctx.Err() == nil {
			h.lost.Store(true)
		}
	}()
	return h, nil
}

// release stops h's keep-alive and revokes its lease, deleting the lock key if it is on it.
func (s *Storage) release(ctx context.Context, h *heldLock) error {
	h.stop()
	<-h.done
	return s.revoke(ctx, h.lease)
}

// revoke revokes lease, waiting at most one LockTTL: by then the lease has expired anyway.
func (s *Storage) revoke(ctx context.Context, lease clientv3.LeaseID) error {
	if err := s.client.Ctx().Err(); err != nil {
		// A closed client would wait out the timeout; the lease expires within LockTTL.
		return fmt.Errorf("revoking lease: etcd client closed: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.lockTTL)
	defer cancel()
	_, err := s.client.Revoke(rctx, lease)
	if err != nil && !errors.Is(err, rpctypes.ErrLeaseNotFound) {
		return fmt.Errorf("revoking lease: %w", err)
	}
	return nil
}
