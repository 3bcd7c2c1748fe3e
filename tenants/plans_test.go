package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// testPlan is a valid monthly plan of family with a flat price.
func testPlan(id, family string, price int64) *catalog.Plan {
	return &catalog.Plan{ID: id, Name: "Plan " + id, Currency: "EUR", Interval: catalog.IntervalMonth, Family: family,
		Items: []catalog.Item{{Item: account.Item{Product: "Base", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &price}}}}
}

func planIDs(c *CatalogSnapshot) string {
	var ids []string
	for _, p := range c.Plans {
		id := p.Plan.ID
		if p.Plan.Archived {
			id += "(archived)"
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " ")
}

// freshCatalog reads the catalog once this store's cache dropped what it held before a write.
func freshCatalog(t *testing.T, s *Store, tid string) *CatalogSnapshot {
	t.Helper()
	c, err := s.Catalog(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCatalogLifecycle: plans are stored, listed by family then id, replaced (If-Match guards
// it), archived but kept; the policy is stored; what fails validation stores nothing; one
// tenant's catalog is not another's.
func TestCatalogLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a, b := mustTenant(t, s, "cata"), mustTenant(t, s, "catb")
	if c := freshCatalog(t, s, a.ID); len(c.Plans) != 0 || c.PolicyRevision != 0 || c.Policy.Pause {
		t.Fatalf("new tenant's catalog: %+v", c)
	}
	var revs = map[string]int64{}
	for _, p := range []*catalog.Plan{testPlan("team-year", "team", 49000), testPlan("starter", "", 900), testPlan("team-month", "team", 4900), testPlan("biz", "business", 9900)} {
		rev, created, err := s.PutPlan(ctx, a.ID, p, 0)
		if err != nil || !created || rev == 0 {
			t.Fatalf("PutPlan(%s) = %d, %v, %v", p.ID, rev, created, err)
		}
		revs[p.ID] = rev
	}
	c := freshCatalog(t, s, a.ID)
	if got, want := planIDs(c), "starter biz team-month team-year"; got != want {
		t.Fatalf("plans listed as %q, want %q (by family, then id)", got, want)
	}
	if p, ok := c.Plan("biz"); !ok || p.Revision != revs["biz"] || *p.Plan.Items[0].UnitAmount != 9900 {
		t.Fatalf("Plan(biz) = %+v, %v", p, ok)
	}

	// Replacing: If-Match with a stale revision fails and changes nothing; the current one passes.
	up := testPlan("biz", "business", 12900)
	if _, _, err := s.PutPlan(ctx, a.ID, up, revs["biz"]-1); !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("PutPlan with a stale If-Match: %v", err)
	}
	rev, created, err := s.PutPlan(ctx, a.ID, up, revs["biz"])
	if err != nil || created || rev <= revs["biz"] {
		t.Fatalf("PutPlan(biz) again = %d, %v, %v", rev, created, err)
	}
	if p, _ := freshCatalog(t, s, a.ID).Plan("biz"); *p.Plan.Items[0].UnitAmount != 12900 || p.Revision != rev {
		t.Fatalf("replaced plan reads %+v", p)
	}

	// Archiving keeps the plan, marked; twice is harmless; an unknown plan is not found.
	archived, err := s.ArchivePlan(ctx, a.ID, "team-year", 0)
	if err != nil {
		t.Fatal(err)
	}
	arev := archived.Revision
	if !archived.Plan.Archived || archived.Plan.ID != "team-year" {
		t.Fatalf("ArchivePlan returned %+v", archived.Plan)
	}
	if again, err := s.ArchivePlan(ctx, a.ID, "team-year", 0); err != nil || again.Revision != arev {
		t.Fatalf("archiving again = %d, %v; want %d and no write", again.Revision, err, arev)
	}
	for _, id := range []string{"nope", "a/b", ""} {
		if _, err := s.ArchivePlan(ctx, a.ID, id, 0); !errors.Is(err, ErrPlanNotFound) {
			t.Fatalf("ArchivePlan(%q): %v, want ErrPlanNotFound", id, err)
		}
	}
	if _, err := s.ArchivePlan(ctx, a.ID, "starter", 1); !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("ArchivePlan with a stale If-Match: %v", err)
	}
	if got, want := planIDs(freshCatalog(t, s, a.ID)), "starter biz team-month team-year(archived)"; got != want {
		t.Fatalf("after archiving: %q, want %q", got, want)
	}

	// The policy.
	pol := &catalog.Policy{Upgrades: catalog.Now, Pause: true, PauseMaxPeriods: 3, Offers: []catalog.Offer{{Reason: "pricing", PercentOff: 50, Periods: 2}}}
	prev, err := s.PutPlanPolicy(ctx, a.ID, pol, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := freshCatalog(t, s, a.ID); c.PolicyRevision != prev || c.Policy.Upgrades != catalog.Now || c.Policy.Offers[0].PercentOff != 50 {
		t.Fatalf("policy reads %+v at %d", c.Policy, c.PolicyRevision)
	}
	if _, err := s.PutPlanPolicy(ctx, a.ID, &catalog.Policy{}, prev-1); !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("PutPlanPolicy with a stale If-Match: %v", err)
	}

	// Invalid input is refused by the store whoever calls it, and stores nothing.
	bad := testPlan("bad", "", 100)
	bad.Currency = "eur"
	if _, _, err := s.PutPlan(ctx, a.ID, bad, 0); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("invalid plan: %v", err)
	}
	if _, err := s.PutPlanPolicy(ctx, a.ID, &catalog.Policy{Seats: "soon"}, 0); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("invalid policy: %v", err)
	}
	if c := freshCatalog(t, s, a.ID); len(c.Plans) != 4 || c.PolicyRevision != prev {
		t.Fatalf("a refused write changed the catalog: %s, policy at %d", planIDs(c), c.PolicyRevision)
	}

	// Tenant B sees none of it, and writes its own plan of the same id.
	if c := freshCatalog(t, s, b.ID); len(c.Plans) != 0 || c.PolicyRevision != 0 {
		t.Fatalf("tenant B sees %s, policy at %d", planIDs(c), c.PolicyRevision)
	}
	if _, err := s.ArchivePlan(ctx, b.ID, "biz", 0); !errors.Is(err, ErrPlanNotFound) {
		t.Fatalf("tenant B archived A's plan: %v", err)
	}
	if _, created, err := s.PutPlan(ctx, b.ID, testPlan("biz", "", 1), 0); err != nil || !created {
		t.Fatalf("tenant B's own biz: %v, created %v", err, created)
	}
	if p, _ := freshCatalog(t, s, a.ID).Plan("biz"); *p.Plan.Items[0].UnitAmount != 12900 {
		t.Fatalf("B's write changed A's plan: %+v", p.Plan)
	}
	if _, _, err := s.PutPlan(ctx, "ten_nosuch", testPlan("x", "", 1), 0); !errors.Is(err, ErrTenantNotFound) {
		t.Fatalf("PutPlan for an unknown tenant: %v", err)
	}

	// Deleting the tenant takes its catalog.
	if err := s.DeleteTenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	resp, err := s.c.Get(ctx, s.k.catalog(a.ID), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("after DeleteTenant %d catalog keys remain (%v)", resp.Count, err)
	}
}

// TestCatalogCacheFollowsWatch: another instance that cached a tenant's catalog sees a plan, an
// archive and a policy written through this one, by the watch.
func TestCatalogCacheFollowsWatch(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other, err := Open(etcdtest.Ctx(t), Config{Client: s.c, Prefix: s.k.p, RequestTimeout: testwait.Patience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	ctx := context.Background()
	tn := mustTenant(t, s, "catwatch")
	rev, _, err := s.PutPlan(ctx, tn.ID, testPlan("one", "", 100), 0)
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the other instance's watch applies plan one", func() bool { return other.Revision() >= rev })
	if c, err := other.Catalog(ctx, tn.ID); err != nil || len(c.Plans) != 1 {
		t.Fatalf("the other instance reads %+v, %v", c, err)
	}
	other.Wait() // the snapshot is cached now
	if c1, _ := other.Catalog(ctx, tn.ID); c1 == nil {
		t.Fatal("no catalog")
	} else if c2, _ := other.Catalog(ctx, tn.ID); c1 != c2 {
		t.Fatal("a second read on the other instance did not hit its cache")
	}
	if _, _, err := s.PutPlan(ctx, tn.ID, testPlan("two", "", 200), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ArchivePlan(ctx, tn.ID, "one", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutPlanPolicy(ctx, tn.ID, &catalog.Policy{Pause: true}, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the other instance sees the changes", func() bool {
		c, err := other.Catalog(ctx, tn.ID)
		return err == nil && planIDs(c) == "one(archived) two" && c.Policy.Pause
	})
}

// TestCatalogVersion: a write gives the tenant's catalog a new version at once on the instance
// that wrote it and, by the watch, on another; a catalog read after the version has the change;
// another tenant's version does not move; versions never come back.
func TestCatalogVersion(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other, err := Open(etcdtest.Ctx(t), Config{Client: s.c, Prefix: s.k.p, RequestTimeout: testwait.Patience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	ctx := context.Background()
	a, b := mustTenant(t, s, "catvera"), mustTenant(t, s, "catverb")
	seen := map[uint64]bool{}
	for i, p := range []*catalog.Policy{{Pause: true}, {Pause: true, PauseMaxPeriods: 2}, {}} {
		va, vb, vo := s.CatalogVersion(a.ID), s.CatalogVersion(b.ID), other.CatalogVersion(a.ID)
		seen[va] = true
		rev, err := s.PutPlanPolicy(ctx, a.ID, p, 0)
		if err != nil {
			t.Fatal(err)
		}
		v := s.CatalogVersion(a.ID)
		if seen[v] {
			t.Fatalf("write %d: version %d again", i, v)
		}
		if c := freshCatalog(t, s, a.ID); c.PolicyRevision != rev {
			t.Fatalf("write %d: catalog read after version %d has policy revision %d, want %d", i, v, c.PolicyRevision, rev)
		}
		if s.CatalogVersion(b.ID) != vb {
			t.Fatalf("write %d: another tenant's version moved", i)
		}
		etcdtest.Wait(t, "the other instance's version moves", func() bool { return other.CatalogVersion(a.ID) != vo })
		if c, err := other.Catalog(ctx, a.ID); err != nil || c.PolicyRevision != rev {
			t.Fatalf("write %d: the other instance reads %+v, %v after its version moved", i, c, err)
		}
	}
}

// TestCatalogVersionZeroAllocs: the page cache asks CatalogVersion on every cached page view; it
// allocates nothing, for a tenant with a catalog and one without. Not parallel (AllocsPerRun
// panics while a parallel test runs); `make allocs` runs it without -race.
func TestCatalogVersionZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are not meaningful under -race; make allocs runs this without it")
	}
	s := newStore(t)
	a, b := mustTenant(t, s, "catallocs"), mustTenant(t, s, "catallocsb")
	if _, err := s.PutPlanPolicy(context.Background(), a.ID, &catalog.Policy{Pause: true}, 0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { s.CatalogVersion(a.ID); s.CatalogVersion(b.ID) }); n != 0 {
		t.Errorf("CatalogVersion allocates %v times", n)
	}
}

// TestCatalogUsage: plans and the policy count in the tenant's usage (bytes, and the number of
// plans), against the byte quota shared with accounts, and are counted for a tenant whose
// counter is missing; no more than catalog.MaxPlans plans are stored.
func TestCatalogUsage(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "catusage")
	for i := range 3 {
		if _, _, err := s.PutPlan(ctx, tn.ID, testPlan(fmt.Sprintf("p%d", i), "", 100), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutPlanPolicy(ctx, tn.ID, &catalog.Policy{Pause: true}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ArchivePlan(ctx, tn.ID, "p0", 0); err != nil {
		t.Fatal(err)
	}
	a := loadExample(t)
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	want := storedUsage(t, s, tn.ID)
	resp, err := s.c.Get(ctx, s.k.catalog(tn.ID), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		want.Bytes += int64(len(kv.Value))
	}
	want.Plans = 3
	if got := mustUsage(t, s, tn.ID); got != want {
		t.Fatalf("usage %+v, etcd holds %+v", got, want)
	}
	// Counted afresh when the counter is missing.
	if _, err := s.c.Delete(ctx, s.k.usage(tn.ID)); err != nil {
		t.Fatal(err)
	}
	if got := mustUsage(t, s, tn.ID); got != want {
		t.Fatalf("usage counted afresh %+v, etcd holds %+v", got, want)
	}

	// The byte quota covers plans: one that does not fit is refused and stores nothing.
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.MaxAccountBytes = want.Bytes + 50; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	big := testPlan("big", "", 100)
	big.Description = strings.Repeat("d", 300)
	if _, _, err := s.PutPlan(ctx, tn.ID, big, 0); !errors.Is(err, ErrQuotaExceeded) || !strings.Contains(err.Error(), "max-account-bytes") {
		t.Fatalf("a plan over the byte quota: %v", err)
	}
	if _, ok := freshCatalog(t, s, tn.ID).Plan("big"); ok {
		t.Fatal("the refused plan was stored")
	}
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.MaxAccountBytes = 0; return nil }, nil); err != nil {
		t.Fatal(err)
	}

	// The plan limit: with catalog.MaxPlans counted, a new plan is refused, a replaced one is not.
	full := want
	full.Plans = catalog.MaxPlans
	b, _ := json.Marshal(full)
	if _, err := s.c.Put(ctx, s.k.usage(tn.ID), string(b)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutPlan(ctx, tn.ID, testPlan("one-too-many", "", 1), 0); !errors.Is(err, ErrTooManyPlans) {
		t.Fatalf("plan %d: %v, want ErrTooManyPlans", catalog.MaxPlans+1, err)
	}
	if _, _, err := s.PutPlan(ctx, tn.ID, testPlan("p1", "", 150), 0); err != nil {
		t.Fatalf("replacing a plan at the limit: %v", err)
	}
}
