package dashboard_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// putPlan stores a plan of one flat item in the tenant's catalog.
func (h *harness) putPlan(t *tenants.Tenant, id, name, family, currency, interval string, count int, price int64, archived bool) {
	h.t.Helper()
	p := &catalog.Plan{ID: id, Name: name, Family: family, Currency: currency, Interval: interval, IntervalCount: count, Archived: archived,
		Items: []catalog.Item{{Item: account.Item{Product: name, PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &price}}}}
	if _, _, err := h.store.PutPlan(context.Background(), t.ID, p, 0); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) catalogNow(t *tenants.Tenant) *tenants.CatalogSnapshot {
	h.t.Helper()
	c, err := h.store.Catalog(context.Background(), t.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// TestPlansPage: Settings → Plans lists the catalog (price per interval in the admin's
// language, family, archived) and nothing of another tenant's.
func TestPlansPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	expect(t, a.get("/settings/plans"), 200, "No plans yet", `href="/settings/plans" aria-current="page"`)
	h.putPlan(h.acme, "team-monthly", "Team", "team", "EUR", catalog.IntervalMonth, 0, 4900, false)
	h.putPlan(h.acme, "team-quarterly", "Team Quarterly", "team", "JPY", catalog.IntervalMonth, 3, 12000, false)
	h.putPlan(h.acme, "legacy", "Legacy <Gold>", "", "EUR", catalog.IntervalYear, 0, 100000, true)
	body := expect(t, a.get("/settings/plans"), 200, "€49.00 per month", "¥12,000 every 3 months", "€1,000.00 per year",
		"Legacy &lt;Gold&gt;", "Archived", "Offered", "<code>team</code>")
	if i, j := strings.Index(body, "Legacy"), strings.Index(body, "Team Quarterly"); i < 0 || j < 0 || i > j {
		t.Fatal("plans are not listed by family, then id")
	}
	expect(t, a.do("GET", dashHost, "/settings/plans", nil, "Accept-Language", "de"), 200, i18n.Money(4900, "EUR", "de")+" pro Monat", "alle 3 Monate", "Archiviert", "Wechselregeln")
	expect(t, a.do("GET", dashHost, "/settings/plans", nil, "Accept-Language", "ja"), 200, "月額 €49.00", "3 か月ごとに")

	b := h.agent()
	if r := b.login("initech", "boss@initech.example", password+" 2"); r.StatusCode() != 303 {
		t.Fatalf("initech sign-in: %d", r.StatusCode())
	}
	if body := expect(t, b.get("/settings/plans"), 200, "No plans yet"); strings.Contains(body, "Team") {
		t.Fatal("another tenant's admin sees acme's plans")
	}
}

// TestPolicyForm: the change policy is shown, saved, refused with the shared error summary
// (nothing stored), refused when it changed meanwhile, and needs the CSRF token.
func TestPolicyForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	expect(t, a.get("/settings/plans"), 200, `name="upgrades" value="period_end" checked`, `name="seats" value="period_end" checked`,
		`<legend>It is too expensive</legend>`, `<legend>Any reason without an offer of its own</legend>`, `name="revision" value="0"`)

	valid := []string{"upgrades", "now", "downgrades", "period_end", "seats", "now_without_proration", "pause", "on", "pause_max", "3",
		"offer_pricing_percent", "50", "offer_pricing_periods", "2", "offer_pricing_message", "Stay two months at half price",
		"offer_any_percent", "10", "offer_any_periods", "1"}
	body := expect(t, a.form("/settings/plans", valid...), 200, "Change policy saved", `name="upgrades" value="now" checked`,
		`name="pause" value="on" checked`, `value="Stay two months at half price"`)
	c := h.catalogNow(h.acme)
	want := catalog.Policy{Upgrades: catalog.Now, Downgrades: catalog.PeriodEnd, Seats: catalog.NowWithoutProration, Pause: true, PauseMaxPeriods: 3,
		Offers: []catalog.Offer{{Reason: "pricing", PercentOff: 50, Periods: 2, Message: "Stay two months at half price"}, {Reason: "", PercentOff: 10, Periods: 1}}}
	if got := c.Policy; got.Upgrades != want.Upgrades || got.Downgrades != want.Downgrades || got.Seats != want.Seats || got.Pause != want.Pause ||
		got.PauseMaxPeriods != want.PauseMaxPeriods || len(got.Offers) != 2 || got.Offers[0] != want.Offers[0] || got.Offers[1] != want.Offers[1] {
		t.Fatalf("stored %+v, want %+v", got, want)
	}
	if !strings.Contains(body, `name="revision" value="`) || strings.Contains(body, `name="revision" value="0"`) {
		t.Fatal("the saved form does not carry the new revision")
	}

	// Refusals name each field in the summary and at the field, and store nothing.
	with := func(kv ...string) []string {
		out := append([]string{}, valid...)
		for i := 0; i+1 < len(kv); i += 2 {
			found := false
			for j := 0; j+1 < len(out); j += 2 {
				if out[j] == kv[i] {
					out[j+1], found = kv[i+1], true
				}
			}
			if !found {
				out = append(out, kv[i], kv[i+1])
			}
		}
		return out
	}
	for _, tc := range []struct {
		name, field, want string
		form              []string
	}{
		{"no timing", "upgrades", "Choose when this change takes effect.", with("upgrades", "")},
		{"unknown timing", "seats", "Choose when this change takes effect.", with("seats", "tomorrow")},
		{"long pause", "pause_max", "from 1 to 12", with("pause_max", "13")},
		{"pause not a number", "pause_max", "from 1 to 12", with("pause_max", "two")},
		{"zero percent", "offer_pricing_percent", "from 1 to 100", with("offer_pricing_percent", "0")},
		{"periods without percent", "offer_support_percent", "from 1 to 100", with("offer_support_periods", "2")},
		{"long offer", "offer_any_periods", "from 1 to 24", with("offer_any_periods", "25")},
		{"long message", "offer_pricing_message", "at most 500 characters", with("offer_pricing_message", strings.Repeat("m", 501))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := expect(t, a.form("/settings/plans", tc.form...), 400, `class="error-summary"`, `<a href="#`+tc.field+`">`, tc.want,
				`id="`+tc.field+`-error"`, `aria-describedby="`+tc.field+`-error"`)
			if !strings.Contains(body, `id="`+tc.field+`"`) {
				t.Fatalf("the summary links #%s, which the page lacks", tc.field)
			}
			if now := h.catalogNow(h.acme); now.PolicyRevision != c.PolicyRevision {
				t.Fatal("a refused form changed the policy")
			}
		})
	}

	// A form rendered before another change is refused, not applied over it.
	stale := url.Values{"csrf": {a.csrf("/settings/plans")}, "revision": {"1"}}
	for i := 0; i+1 < len(valid); i += 2 {
		stale.Add(valid[i], valid[i+1])
	}
	expect(t, a.post("/settings/plans", stale), 409, "was changed meanwhile")
	// Without the CSRF token nothing is saved.
	expect(t, a.post("/settings/plans", url.Values{"csrf": {"0123456789abcdef0123456789abcdef"}, "upgrades": {"now"}}), 403)
	if now := h.catalogNow(h.acme); now.PolicyRevision != c.PolicyRevision {
		t.Fatal("a stale or forged form changed the policy")
	}
}
