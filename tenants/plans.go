package tenants

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the catalog concern.
var (
	ErrPlanNotFound = errors.New("tenants: plan not found")
	// ErrTooManyPlans refuses a new plan beyond catalog.MaxPlans; archived plans count, as they
	// stay for the subscriptions on them.
	ErrTooManyPlans = errors.New("tenants: the catalog holds the most plans allowed")
)

// StoredPlan is a plan of a tenant's catalog with the etcd ModRevision it was read at (the
// API's ETag; If-Match compares it).
type StoredPlan struct {
	Plan     *catalog.Plan
	Revision int64
}

// CatalogSnapshot is a tenant's catalog as one read saw it, shared read-only by every reader:
// its plans, archived ones included, and its change policy.
type CatalogSnapshot struct {
	TenantID string
	// Plans are sorted by family, then id (plans without a family first).
	Plans []StoredPlan
	// Policy is the tenant's change policy; the zero Policy when none was stored.
	Policy catalog.Policy
	// PolicyRevision is the policy's ModRevision, 0 when none was stored.
	PolicyRevision int64
}

// Plan returns the plan with the id, archived or not.
func (c *CatalogSnapshot) Plan(id string) (StoredPlan, bool) {
	for _, p := range c.Plans {
		if p.Plan.ID == id {
			return p, true
		}
	}
	return StoredPlan{}, false
}

// sortPlans orders plans by family, then id.
func sortPlans(plans []StoredPlan) {
	slices.SortFunc(plans, func(a, b StoredPlan) int {
		return cmp.Or(strings.Compare(a.Plan.Family, b.Plan.Family), strings.Compare(a.Plan.ID, b.Plan.ID))
	})
}

// Catalog returns the tenant's catalog from the cache, or from etcd on a miss (one range read
// of its plans and policy). The watch drops it from every instance's cache when it changes.
func (s *Store) Catalog(ctx context.Context, tenantID string) (*CatalogSnapshot, error) {
	if c, ok := s.catalogs.Get(tenantID); ok {
		return c, nil
	}
	gen := s.fillGuard(tenantID)
	rctx, cancel := s.opCtx(ctx)
	resp, err := s.c.Get(rctx, s.k.catalog(tenantID), clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tenants: loading the catalog of tenant %q: %w", tenantID, Unavailable(err))
	}
	c := &CatalogSnapshot{TenantID: tenantID, Plans: make([]StoredPlan, 0, len(resp.Kvs))}
	var size int64
	plans, policy := s.k.plans(tenantID), s.k.planPolicy(tenantID)
	for _, kv := range resp.Kvs {
		size += int64(len(kv.Value))
		switch key := string(kv.Key); {
		case key == policy:
			if err := json.Unmarshal(kv.Value, &c.Policy); err != nil {
				s.log.Error("tenants: ignoring an unreadable change policy", "tenant", tenantID, "err", err)
				continue
			}
			c.PolicyRevision = kv.ModRevision
		case strings.HasPrefix(key, plans):
			var p catalog.Plan
			if err := json.Unmarshal(kv.Value, &p); err != nil {
				s.log.Error("tenants: skipping an unreadable plan", "key", key, "err", err)
				continue
			}
			c.Plans = append(c.Plans, StoredPlan{Plan: &p, Revision: kv.ModRevision})
		}
	}
	sortPlans(c.Plans)
	s.fill(tenantID, gen, func() { s.catalogs.Set(tenantID, c, size+1) })
	return c, nil
}

// catalogVersions are the versions CatalogVersion hands out. It is replaced, never modified.
type catalogVersions struct {
	last     uint64            // the last version handed out
	base     uint64            // the version of every tenant not in byTenant
	byTenant map[string]uint64 // tenants whose catalog was dropped since the last re-list
}

// CatalogVersion names the version of the tenant's catalog this instance holds, for caches of
// what is derived from it (the gateway's customer page): it changes every time the store drops
// the tenant's catalog from its cache (a write through this store, a change the watch applies,
// a re-list), and only then, and never comes back. A catalog that Catalog returns after
// CatalogVersion was read is at least that version. No I/O, no allocation; a tenant whose
// catalog did not change since the store listed everything costs no hashing.
func (s *Store) CatalogVersion(tenantID string) uint64 {
	v := s.catVers.Load()
	if ver, ok := v.byTenant[tenantID]; ok {
		return ver
	}
	return v.base
}

// dropCatalog evicts the tenant's catalog after it changed (right after this instance wrote it;
// the watch does it on every instance), then gives it a new version: the eviction first, so that
// whoever reads the new version reads the changed catalog.
func (s *Store) dropCatalog(tenantID string) {
	s.invalidate(tenantID, func() { s.catalogs.Del(tenantID) })
	s.catVerMu.Lock()
	defer s.catVerMu.Unlock()
	old := s.catVers.Load()
	next := &catalogVersions{last: old.last + 1, base: old.base, byTenant: make(map[string]uint64, len(old.byTenant)+1)}
	maps.Copy(next.byTenant, old.byTenant)
	next.byTenant[tenantID] = next.last
	s.catVers.Store(next)
}

// catalogsDropped gives every tenant's catalog a new version after the cache was cleared (a
// re-list).
func (s *Store) catalogsDropped() {
	s.catVerMu.Lock()
	defer s.catVerMu.Unlock()
	last := s.catVers.Load().last + 1
	s.catVers.Store(&catalogVersions{last: last, base: last})
}

// PutPlan stores a plan, creating or replacing it; the plan is validated. ifMatch, when not
// zero, is the revision the caller read: the write fails with ErrRevisionMismatch if the plan
// moved since. The plan's bytes count in the tenant's storage quota (Tenant.MaxAccountBytes,
// moved in the same Txn: ErrQuotaExceeded stores nothing), and a new plan beyond
// catalog.MaxPlans fails with ErrTooManyPlans. It returns the new revision and whether the
// plan was created.
func (s *Store) PutPlan(ctx context.Context, tenantID string, p *catalog.Plan, ifMatch int64) (rev int64, created bool, err error) {
	doc, err := encodeValid(p, "plan", catalog.MaxPlanSize, catalog.ErrInvalid)
	if err != nil {
		return 0, false, err
	}
	return s.writeCatalog(ctx, tenantID, s.k.plan(tenantID, p.ID), "plan "+p.ID, ifMatch, func([]byte) ([]byte, error) { return doc, nil })
}

// ArchivePlan marks the plan archived (DELETE /v1/plans/{id}): it stays for the subscriptions
// on it and is never offered. Archiving an archived plan changes nothing. ifMatch as for PutPlan.
// It returns the archived plan with its revision.
func (s *Store) ArchivePlan(ctx context.Context, tenantID, planID string, ifMatch int64) (StoredPlan, error) {
	if !account.ValidID(planID) {
		return StoredPlan{}, fmt.Errorf("archiving plan %q: %w", planID, ErrPlanNotFound)
	}
	var p *catalog.Plan
	rev, _, err := s.writeCatalog(ctx, tenantID, s.k.plan(tenantID, planID), "plan "+planID, ifMatch, func(old []byte) ([]byte, error) {
		if old == nil {
			return nil, fmt.Errorf("archiving plan %q: %w", planID, ErrPlanNotFound)
		}
		p = new(catalog.Plan)
		if err := json.Unmarshal(old, p); err != nil {
			return nil, fmt.Errorf("tenants: decoding plan %q: %w", planID, err)
		}
		if p.Archived {
			return nil, ErrNoChange
		}
		p.Archived = true
		return json.Marshal(p)
	})
	if err != nil {
		return StoredPlan{}, err
	}
	return StoredPlan{Plan: p, Revision: rev}, nil
}

// PutPlanPolicy stores the tenant's change policy, validated; ifMatch as for PutPlan (the
// revision of the policy; 0 when none is stored is not a precondition). Its bytes count in the
// storage quota like plans.
func (s *Store) PutPlanPolicy(ctx context.Context, tenantID string, p *catalog.Policy, ifMatch int64) (rev int64, err error) {
	doc, err := encodeValid(p, "policy", catalog.MaxPolicySize, catalog.ErrInvalid)
	if err != nil {
		return 0, err
	}
	rev, _, err = s.writeCatalog(ctx, tenantID, s.k.planPolicy(tenantID), "change policy", ifMatch, func([]byte) ([]byte, error) { return doc, nil })
	return rev, err
}

// writeCatalog writes the value change makes of key's current one (nil when there is none), with
// the tenant's usage counter in the same Txn, retrying when a concurrent write of the tenant
// moved the counter. change returning ErrNoChange writes nothing and returns the current
// revision.
func (s *Store) writeCatalog(ctx context.Context, tid, key, what string, ifMatch int64, change func(old []byte) ([]byte, error)) (rev int64, created bool, err error) {
	err = s.retryUsageWrite(ctx, tid, "storing "+what, func() (retry bool, err error) {
		rev, created, retry, err = s.writeCatalogOnce(ctx, tid, key, what, ifMatch, change)
		return retry, err
	})
	if err != nil {
		return 0, false, err
	}
	return rev, created, nil
}

func (s *Store) writeCatalogOnce(ctx context.Context, tid, key, what string, ifMatch int64, change func(old []byte) ([]byte, error)) (rev int64, created, retry bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	cur, err := s.c.Txn(ctx).Then(clientv3.OpGet(key), clientv3.OpGet(s.k.tenant(tid)), s.usageGet(tid)).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing %s: %w", what, Unavailable(err))
	}
	ten, usage, err := s.quotaOf(ctx, tid, "storing "+what, cur.Responses[1].GetResponseRange(), cur.Responses[2].GetResponseRange())
	if err != nil {
		return 0, false, false, err
	}
	var old []byte
	var oldRev int64
	if kvs := cur.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		old, oldRev = kvs[0].Value, kvs[0].ModRevision
	}
	doc, err := change(old)
	if err != nil && !errors.Is(err, ErrNoChange) {
		return 0, false, false, err
	}
	if ifMatch != 0 && ifMatch != oldRev {
		return 0, false, false, fmt.Errorf("storing %s (revision %d, If-Match %d): %w", what, oldRev, ifMatch, ErrRevisionMismatch)
	}
	if err != nil { // ErrNoChange
		return oldRev, false, false, nil
	}
	next := usage.Usage
	next.Bytes += int64(len(doc) - len(old))
	if old == nil && key != s.k.planPolicy(tid) {
		next.Plans++
		if next.Plans > catalog.MaxPlans {
			return 0, false, false, fmt.Errorf("storing %s: %w (%d, archived ones included)", what, ErrTooManyPlans, catalog.MaxPlans)
		}
	}
	if err := checkQuota(ten, usage.Usage, next); err != nil {
		return 0, false, false, fmt.Errorf("storing %s: %w", what, err)
	}
	ucmp, uop := s.usageWrite(tid, usage, next)
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", oldRev), ucmp).
		Then(clientv3.OpPut(key, string(doc)), uop).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing %s: %w", what, Unavailable(err))
	}
	if !resp.Succeeded {
		return 0, false, true, nil
	}
	s.dropCatalog(tid)
	return resp.Header.Revision, old == nil, false, nil
}
