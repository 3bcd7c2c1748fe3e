package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Default per-tenant storage quota, used while a tenant's MaxAccountBytes / MaxAccounts are zero.
// With etcd's default 2 GiB space quota, eight tenants at the byte default still leave room for
// the history etcd keeps between compactions.
const (
	DefaultMaxAccountBytes int64 = 256 << 20
	DefaultMaxAccounts     int64 = 100_000
)

// ErrQuotaExceeded is returned by a write that would take a tenant's accounts over the tenant's
// storage quota; nothing is stored.
var ErrQuotaExceeded = errors.New("tenants: tenant storage quota exceeded")

// Usage is what a tenant stores: the bytes etcd holds of its account documents (compressed, see
// encodeDoc; plain JSON for a document not written since compression came) and of its catalog
// (plans and change policy, JSON), which count together against Tenant.MaxAccountBytes, and
// the number of its accounts and plans.
type Usage struct {
	Bytes    int64 `json:"bytes"`
	Accounts int64 `json:"accounts"`
	Plans    int64 `json:"plans,omitempty"`
}

// AccountByteLimit is the tenant's MaxAccountBytes, or the default when it is zero.
func (t *Tenant) AccountByteLimit() int64 {
	if t.MaxAccountBytes > 0 {
		return t.MaxAccountBytes
	}
	return DefaultMaxAccountBytes
}

// AccountLimit is the tenant's MaxAccounts, or the default when it is zero.
func (t *Tenant) AccountLimit() int64 {
	if t.MaxAccounts > 0 {
		return t.MaxAccounts
	}
	return DefaultMaxAccounts
}

// usageRead is a tenant's usage counter as one Txn read it.
type usageRead struct {
	Usage
	modRev int64 // ModRevision of the counter; 0 when there was none (it was counted afresh)
}

// readUsage decodes the counter from the range response of usageGet. A tenant without one (its
// accounts predate the counter) is counted from its documents and catalog, at one revision; the
// write that stores the count compares CreateRevision == 0, and every account and catalog write
// stores the counter, so a write that came in between makes that Txn fail and the caller read
// again.
func (s *Store) readUsage(ctx context.Context, tid string, rr *etcdserverpb.RangeResponse) (usageRead, error) {
	if len(rr.Kvs) == 1 {
		var u usageRead
		if err := json.Unmarshal(rr.Kvs[0].Value, &u.Usage); err != nil {
			return usageRead{}, fmt.Errorf("tenants: decoding the usage of tenant %q: %w", tid, err)
		}
		u.modRev = rr.Kvs[0].ModRevision
		return u, nil
	}
	var u usageRead
	var rev int64
	catalog, plans := s.k.catalog(tid), s.k.plans(tid)
	for _, prefix := range []string{s.k.accounts(tid), catalog} {
		end := clientv3.GetPrefixRangeEnd(prefix)
		from := prefix
		for {
			opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(500)}
			if rev != 0 {
				opts = append(opts, clientv3.WithRev(rev))
			}
			rctx, cancel := s.opCtx(ctx)
			resp, err := s.c.Get(rctx, from, opts...)
			cancel()
			if err != nil {
				return usageRead{}, fmt.Errorf("tenants: counting the accounts of tenant %q: %w", tid, Unavailable(err))
			}
			if rev == 0 {
				rev = resp.Header.Revision
			}
			for _, kv := range resp.Kvs {
				u.Bytes += int64(len(kv.Value))
				switch key := string(kv.Key); {
				case !strings.HasPrefix(key, catalog):
					u.Accounts++
				case strings.HasPrefix(key, plans):
					u.Plans++
				}
			}
			if !resp.More || len(resp.Kvs) == 0 {
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
	}
	return u, nil
}

// usageGet is the read of the counter, for the first Txn of an account write.
func (s *Store) usageGet(tid string) clientv3.Op { return clientv3.OpGet(s.k.usage(tid)) }

// usageWrite returns the guard and the put that store next in place of what u read.
func (s *Store) usageWrite(tid string, u usageRead, next Usage) (clientv3.Cmp, clientv3.Op) {
	key := s.k.usage(tid)
	b, _ := json.Marshal(next)
	if u.modRev == 0 {
		return clientv3.Compare(clientv3.CreateRevision(key), "=", 0), clientv3.OpPut(key, string(b))
	}
	return clientv3.Compare(clientv3.ModRevision(key), "=", u.modRev), clientv3.OpPut(key, string(b))
}

// checkQuota refuses a write that takes the tenant from u to next over one of its limits. A write
// that does not grow what is over a limit (a smaller document after the operator lowered the
// quota, a delete) is always allowed.
func checkQuota(t *Tenant, u, next Usage) error {
	if lim := t.AccountLimit(); next.Accounts > lim && next.Accounts > u.Accounts {
		return fmt.Errorf("%w: the tenant has %d accounts, the limit (max-accounts) is %d", ErrQuotaExceeded, u.Accounts, lim)
	}
	if lim := t.AccountByteLimit(); next.Bytes > lim && next.Bytes > u.Bytes {
		return fmt.Errorf("%w: the tenant's accounts and plans would hold %d bytes, the limit (max-account-bytes) is %d", ErrQuotaExceeded, next.Bytes, lim)
	}
	return nil
}

// Usage returns what the tenant's accounts hold now.
func (s *Store) Usage(ctx context.Context, tenantID string) (Usage, error) {
	rctx, cancel := s.opCtx(ctx)
	resp, err := s.c.Get(rctx, s.k.usage(tenantID))
	cancel()
	if err != nil {
		return Usage{}, fmt.Errorf("tenants: reading the usage of tenant %q: %w", tenantID, Unavailable(err))
	}
	u, err := s.readUsage(ctx, tenantID, (*etcdserverpb.RangeResponse)(resp))
	return u.Usage, err
}

// maxUsageRetries bounds how often an account write reads again after a concurrent write of the
// same tenant moved the usage counter.
const maxUsageRetries = 64

// retryPause waits a little before attempt i+1 of a write that lost a race: nothing at first,
// then up to a few milliseconds with jitter, so that many writers of one tenant do not collide in
// lock-step.
func retryPause(ctx context.Context, i int) error {
	if i < 2 {
		return ctx.Err()
	}
	d := time.Duration(rand.Int64N(int64(min(i, 20)))+1) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryUsageWrite runs attempt, a write that moves the tenant's usage counter in a
// compare-and-swap Txn, under this instance's lock of the tenant's writes (lockTenantWrites), and
// again after retryPause while it reports that a concurrent write moved what it compared, at most
// maxUsageRetries times (then ErrConflict). what names the write in errors ("storing plan x").
func (s *Store) retryUsageWrite(ctx context.Context, tid, what string, attempt func() (retry bool, err error)) error {
	unlock, err := s.lockTenantWrites(ctx, tid)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer unlock()
	for i := range maxUsageRetries {
		retry, err := attempt()
		if !retry {
			return err
		}
		if err := retryPause(ctx, i); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return fmt.Errorf("%s: %w", what, ErrConflict)
}

// quotaOf decodes what the first Txn of a write that moves the usage counter read of the tenant
// (its record, for the limits) and of its counter (usageGet). what names the write in errors.
func (s *Store) quotaOf(ctx context.Context, tid, what string, tenant, usage *etcdserverpb.RangeResponse) (*Tenant, usageRead, error) {
	if len(tenant.Kvs) == 0 {
		return nil, usageRead{}, fmt.Errorf("%s: %w", what, ErrTenantNotFound)
	}
	t, err := decodeTenant(tenant.Kvs[0].Value, tenant.Kvs[0].ModRevision)
	if err != nil {
		return nil, usageRead{}, fmt.Errorf("tenants: decoding tenant %q: %w", tid, err)
	}
	u, err := s.readUsage(ctx, tid, usage)
	return t, u, err
}

// tenantWriteStripes is how many locks serialise this instance's writes of tenants' accounts.
const tenantWriteStripes = 64

// lockTenantWrites serialises this instance's writes of one tenant's accounts. Every such write
// moves the tenant's usage counter in a compare-and-swap Txn, so concurrent writers of one tenant
// would otherwise collide on the counter and retry, and enough of them (a backend pushing over
// 16 connections) could starve one past maxUsageRetries. Queued here, they reach etcd one after
// another, which is no slower than the one winner per round the collisions allow; only writers
// in other gateway processes still collide. Tenants share a lock only by hash collision. The wait
// ends with ctx.
func (s *Store) lockTenantWrites(ctx context.Context, tid string) (unlock func(), err error) {
	l := s.writeLocks[maphash.String(s.seed, tid)%tenantWriteStripes]
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
