package planoverview_test

import (
	"slices"
	"testing"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/plugins/planoverview"
	"github.com/portico-billing/portico/tenants"
)

// TestOffered: a plan offers the other active plans of its family in its currency, or those its
// movesTo names, in that order; an id in movesTo of a plan not stored yet is ignored until it is.
func TestOffered(t *testing.T) {
	t.Parallel()
	plan := func(id, family, currency string, archived bool, movesTo ...string) *catalog.Plan {
		return &catalog.Plan{ID: id, Name: id, Currency: currency, Interval: catalog.IntervalMonth, Family: family, Archived: archived, MovesTo: movesTo}
	}
	snap := func(plans ...*catalog.Plan) *tenants.CatalogSnapshot {
		c := &tenants.CatalogSnapshot{}
		for _, p := range plans {
			c.Plans = append(c.Plans, tenants.StoredPlan{Plan: p})
		}
		return c
	}
	team := plan("team", "main", "EUR", false)
	moving := plan("team", "main", "EUR", false, "later", "solo", "legacy")
	stored := []*catalog.Plan{plan("business", "main", "EUR", false), plan("legacy", "main", "EUR", true), team, plan("usd", "main", "USD", false), plan("solo", "other", "EUR", false)}
	for _, c := range []struct {
		name string
		snap *tenants.CatalogSnapshot
		cur  *catalog.Plan
		want []string
	}{
		{"family: not itself, archived or another currency", snap(stored...), team, []string{"business"}},
		{"movesTo: in its order, a plan not stored yet ignored", snap(stored...), moving, []string{"solo"}},
		{"movesTo: the plan once stored", snap(append(stored, plan("later", "", "EUR", false))...), moving, []string{"later", "solo"}},
		{"no family", snap(stored...), plan("x", "", "EUR", false), nil},
		{"not on a plan", snap(stored...), nil, nil},
	} {
		var got []string
		for _, p := range planoverview.Offered(c.snap, c.cur, "EUR") {
			got = append(got, p.ID)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: offered %v, want %v", c.name, got, c.want)
		}
	}
}
