package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/tenants/account"
)

// The customer page and the tenant's catalog: the page shows what the change policy allows (Pause)
// and follows it on every instance, and a cache hit costs the same with a large catalog.

// catalogTenant is a tenant whose catalog holds plans plans and a policy that allows pauses.
func catalogTenant(tb testing.TB, h *harness, slug string, plans int) string {
	tb.Helper()
	tn, key := h.tenant(slug)
	ctx := context.Background()
	for i := range plans {
		price := int64(100 * (i + 1))
		p := &catalog.Plan{ID: fmt.Sprintf("plan-%03d", i), Name: fmt.Sprintf("Plan %d", i), Currency: "EUR", Interval: catalog.IntervalMonth,
			Items: []catalog.Item{{Item: account.Item{Product: "Base", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &price}}}}
		if _, _, err := h.store.PutPlan(ctx, tn.ID, p, 0); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := h.store.PutPlanPolicy(ctx, tn.ID, &catalog.Policy{Pause: true, PauseMaxPeriods: 3}, 0); err != nil {
		tb.Fatal(err)
	}
	return key
}

// TestCustomerPageWithCatalogZeroAllocs: GET / on a cache hit allocates nothing for a tenant with
// a catalog either.
func TestCustomerPageWithCatalogZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	h := newHarness(t)
	key := catalogTenant(t, h, "alloccat", 20)
	ctx, _ := warmPage(t, h, "alloccat", key)
	allocs := testing.AllocsPerRun(2000, func() {
		ctx.Response.Reset()
		h.gw.Handler(ctx)
	})
	if ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Body()), subPath+`/pause"`) {
		t.Fatalf("status %d, page without Pause:\n%s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	if allocs != 0 {
		t.Fatalf("GET / on a cache hit allocates %v times per request, want 0", allocs)
	}
}

// TestPageFollowsCatalog: the Pause button comes and goes with the change policy at once on the
// instance that stored it and, through the watch, on another instance whose page was cached.
func TestPageFollowsCatalog(t *testing.T) {
	t.Parallel()
	prefix := etcdtest.Prefix(t)
	h, other := newHarnessOn(t, prefix), newHarnessOn(t, prefix)
	ps := h.customer("catfollow", `{"accountId":"acc_7Hq2LmX9"}`)
	etcdtest.Wait(t, "tenant on the other instance", func() bool { _, ok := other.store.TenantBySlug("catfollow"); return ok })
	pause := subPath + `/pause"`
	otherPage := func() string {
		return string(other.do("GET", ps.host, "/", nil, "Cookie", ps.cookie).Body())
	}
	if strings.Contains(ps.get("/"), pause) || strings.Contains(otherPage(), pause) {
		t.Fatal("Pause offered without a policy that allows it")
	}
	ps.putPolicy(pausePolicy)
	if page := ps.get("/"); !strings.Contains(page, pause) {
		t.Fatalf("the instance that stored the policy shows no Pause:\n%s", page)
	}
	etcdtest.Wait(t, "Pause on the other instance", func() bool { return strings.Contains(otherPage(), pause) })
	ps.putPolicy(`{}`)
	if page := ps.get("/"); strings.Contains(page, pause) {
		t.Fatalf("Pause still offered after the policy stopped allowing it:\n%s", page)
	}
	etcdtest.Wait(t, "no Pause on the other instance", func() bool { return !strings.Contains(otherPage(), pause) })
}

// BenchmarkCustomerPageCatalog is BenchmarkCustomerPage's handler/cached for a tenant whose
// catalog holds 200 plans and a policy that allows pauses.
func BenchmarkCustomerPageCatalog(b *testing.B) {
	h := newHarness(b)
	key := catalogTenant(b, h, "benchcat", 200)
	ctx, _ := warmPage(b, h, "benchcat", key)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ctx.Response.Reset()
		h.gw.Handler(ctx)
	}
	b.SetBytes(int64(len(ctx.Response.Body())))
}
