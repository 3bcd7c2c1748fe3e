package planoverview_test

import (
	"io"
	"strings"
	"testing"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/planoverview"
	"github.com/portico-billing/portico/tenants/account"
)

func render(t testing.TB, v *plugins.View) string {
	t.Helper()
	s, err := plugins.Lookup(planoverview.Name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := s.Render(&b, v); err != nil {
		t.Fatalf("Render: %v", err)
	}
	sectiontest.CheckMarkup(t, planoverview.Name, b.String())
	return b.String()
}

func i64(n int64) *int64 { return &n }

func TestRegistered(t *testing.T) {
	t.Parallel()
	s, err := plugins.Lookup("plan_overview")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.(plugins.Positioner).Position(); p != 10 {
		t.Errorf("Position = %d, want 10", p)
	}
	for loc, want := range map[string]string{"en": "Plan overview", "en-GB": "Plan overview", "de-DE": "Tarifübersicht", "ja": "プランの概要", "xx": "Plan overview"} {
		if got := s.(plugins.Titler).Title(loc); got != want {
			t.Errorf("Title(%q) = %q, want %q", loc, got, want)
		}
	}
}

func TestRenderExample(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "en", Switches: plugins.Switches(0).With(planoverview.AllowCancel)})
	text := sectiontest.Text(t, out)
	for _, want := range []string{
		"Plan overview",
		"Pro (annual)",
		"Active",
		"Estimated next charge €12,490.00",
		"Next charge date Jan 1, 2027",
		"Current period Jan 1, 2026 – Dec 31, 2026",
		// Product, pricing, quantity, unit price, amount.
		"Platform fee Flat fee Not applicable €5,000.00 €5,000.00",
		"Seats Per unit 42 €120.00 €5,040.00",
		"API calls Tiered 1,800,000 calls By tier €2,400.00",
		"1 – 1,000,000 Tier of API calls 1,000,000 calls €0.00 €0.00",
		"1,000,001 – 5,000,000 Tier of API calls 800,000 calls €0.003 €2,400.00",
		"5,000,001 and above Tier of API calls Not applicable €0.001 Not applicable",
		"Onboarding One-off fee 1 €150.00 €150.00",
		"Cancel subscription",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(out, `<a class="button button-secondary" href="/subscriptions/sub_Pro_01/cancel">Cancel subscription</a>`) {
		t.Errorf("no cancel link:\n%s", out)
	}
	for _, bad := range []string{"Reactivate", "Scheduled", "<form"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q:\n%s", bad, out)
		}
	}
}

func TestRenderGerman(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "de-DE"})
	for _, want := range []string{"12.490,00\u00a0€", "1. Jan. 2027", "1.000.001 – 5.000.000", "0,003\u00a0€",
		"Tarifübersicht", "Aktiv", "Voraussichtliche nächste Abbuchung", "Pauschale", "Gestaffelt", "ab 5.000.001", "Preisaufschlüsselung"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Units take the German plural (i18n.Quantity); it said "1.800.000 call".
	if !strings.Contains(out, "1.800.000 Aufrufe<") {
		t.Errorf("unit not in German:\n%s", out)
	}
}

func TestCancelControls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		allow          bool
		status         string
		cancelAtEnd    bool
		wantCancel     bool
		wantReactivate bool
		wantText       []string
	}{
		{"active, allowed", true, account.SubActive, false, true, false, []string{"Active"}},
		{"active, not allowed", false, account.SubActive, false, false, false, []string{"Active"}},
		{"trialing", true, account.SubTrialing, false, true, false, []string{"Trialing"}},
		{"past due", true, account.SubPastDue, false, true, false, []string{"Past due"}},
		{"paused", true, account.SubPaused, false, false, false, []string{"Paused"}},
		{"pending", true, account.SubPending, false, false, false, []string{"Pending"}},
		{"canceled", true, account.SubCanceled, false, false, false, []string{"Canceled", "Canceled on Nov 15, 2026"}},
		{"ended", true, account.SubEnded, false, false, false, []string{"Ended", "Ended on Nov 15, 2026"}},
		{"scheduled", true, account.SubActive, true, false, true, []string{"Scheduled for cancellation on Dec 31, 2026"}},
		{"scheduled, not allowed", false, account.SubActive, true, false, false, []string{"Scheduled for cancellation on Dec 31, 2026"}},
		{"scheduled past due", true, account.SubPastDue, true, false, true, []string{"Past due", "Scheduled for cancellation on Dec 31, 2026"}},
		{"canceled with stale flag", true, account.SubCanceled, true, false, false, []string{"Canceled"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			s := &a.Subscriptions[0]
			s.Status = tt.status
			s.CancelAtPeriodEnd = tt.cancelAtEnd
			s.CanceledAt = "2026-11-15"
			out := render(t, &plugins.View{Account: a, Locale: "en", Switches: allowCancel(tt.allow)})
			text := sectiontest.Text(t, out)
			if got := strings.Contains(out, `href="/subscriptions/sub_Pro_01/cancel"`); got != tt.wantCancel {
				t.Errorf("cancel link present = %v, want %v:\n%s", got, tt.wantCancel, out)
			}
			form := `<form class="inline-form" method="post" action="/subscriptions/sub_Pro_01/reactivate">` + string(plugins.CSRFInput) +
				`<button class="button button-primary" type="submit">Reactivate</button></form>`
			if got := strings.Contains(out, form); got != tt.wantReactivate {
				t.Errorf("reactivate form present = %v, want %v:\n%s", got, tt.wantReactivate, out)
			}
			for _, want := range tt.wantText {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			ended := tt.status == account.SubCanceled || tt.status == account.SubEnded
			if got := strings.Contains(text, "Estimated next charge"); got == (ended || tt.cancelAtEnd) {
				t.Errorf("next charge shown = %v for status %s, cancelAtPeriodEnd %v", got, tt.status, tt.cancelAtEnd)
			}
		})
	}
}

func TestPathPrefixAndEscapedID(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Subscriptions[0].ID = "sub:a@b+c"
	a.Subscriptions = append(a.Subscriptions, a.Subscriptions[0])
	a.Subscriptions[1].ID = "sub 2/../x?y#z"
	a.Subscriptions[1].CancelAtPeriodEnd = true
	out := render(t, &plugins.View{Account: a, Locale: "en", PathPrefix: "/portal", Switches: plugins.Switches(0).With(planoverview.AllowCancel)})
	for _, want := range []string{
		`href="/portal/subscriptions/sub:a@b&#43;c/cancel"`,
		`action="/portal/subscriptions/sub%202%2F..%2Fx%3Fy%23z/reactivate"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestComputedNextCharge(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Subscriptions[0].EstimatedNextCharge = nil
	text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en"}))
	// 5,000.00 + 42 × 120.00 + 2,400.00 + 150.00 − the partner discount of 2% of 5,000.00
	if !strings.Contains(text, "Estimated next charge €12,490.00") {
		t.Errorf("text lacks the computed next charge:\n%s", text)
	}
}

func TestVolumeAndFlatTiers(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Currency = "JPY"
	a.Subscriptions[0].Items = []account.Item{
		{Product: "Storage", PricingModel: account.PricingVolume, Quantity: 1, Unit: "box", Tiers: []account.Tier{
			{UpTo: i64(1), UnitAmount: i64(500)},
			{UpTo: i64(10), UnitAmount: i64(400), FlatAmount: i64(1000)},
			{UpTo: nil, FlatAmount: i64(9000)},
		}},
		{Product: "Queries", PricingModel: account.PricingVolume, Quantity: 20, Unit: "query", Tiers: []account.Tier{
			{UpTo: i64(10), UnitAmount: i64(5)},
			{UpTo: nil, UnitAmount: i64(4), FlatAmount: i64(100)},
		}},
	}
	text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en"}))
	for _, want := range []string{
		"Storage Volume 1 box By tier ¥500",
		"1 Tier of Storage 1 box ¥500 ¥500",
		"2 – 10 Tier of Storage Not applicable ¥400 + ¥1,000 flat Not applicable",
		"11 and above Tier of Storage Not applicable ¥9,000 flat Not applicable",
		"Queries Volume 20 queries By tier ¥180",
		"11 and above Tier of Queries 20 queries ¥4 + ¥100 flat ¥180",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestUnpriceableItem(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Subscriptions[0].EstimatedNextCharge = nil
	a.Subscriptions[0].Items[1].UnitAmount = nil // per-unit item without a price
	text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en"}))
	for _, want := range []string{"Estimated next charge Not available", "Seats Per unit 42 Not applicable Not available"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

// TestOverflowingItemsNotShown: a document stored before its arithmetic was checked, whose items
// overflow, shows "Not available" rather than a negative or wrapped-around amount.
func TestOverflowingItemsNotShown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		items []account.Item
		want  []string
	}{
		{"2^62 × 3", []account.Item{{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: 1 << 62, UnitAmount: i64(3)}},
			[]string{"Estimated next charge Not available", "Seats Per unit 4,611,686,018,427,387,904 Not applicable Not available"}},
		{"2^62 × 2^62", []account.Item{{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: 1 << 62, UnitAmount: i64(1 << 62)}},
			[]string{"Estimated next charge Not available"}},
		{"sum of the items", []account.Item{
			{Product: "Platform", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: i64(1<<63 - 1)},
			{Product: "Support", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: i64(1)}},
			[]string{"Estimated next charge Not available", "Platform Flat fee Not applicable $92,233,720,368,547,758.07"}},
	}
	for _, tt := range tests {
		a := sectiontest.Example(t)
		a.Currency = "USD"
		a.Subscriptions[0].EstimatedNextCharge = nil
		a.Subscriptions[0].Items = tt.items
		text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en"}))
		for _, want := range tt.want {
			if !strings.Contains(text, want) {
				t.Errorf("%s: text lacks %q:\n%s", tt.name, want, text)
			}
		}
		if strings.Contains(text, "-$") || strings.Contains(text, "$0.00") {
			t.Errorf("%s: text shows a wrapped-around amount:\n%s", tt.name, text)
		}
	}
}

func TestEmptyState(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Subscriptions = nil
	text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en", TenantName: "ACME"}))
	if want := "You don’t have any subscriptions with ACME yet."; !strings.Contains(text, want) {
		t.Errorf("text lacks %q:\n%s", want, text)
	}
	if strings.Contains(text, "Pricing breakdown") {
		t.Errorf("empty state shows a table:\n%s", text)
	}
}

func TestNilAccount(t *testing.T) {
	t.Parallel()
	render(t, &plugins.View{Locale: "en"})
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	for _, payload := range sectiontest.Payloads {
		a := sectiontest.Hostile(t, payload)
		a.Subscriptions[0].CancelAtPeriodEnd = true
		a.Subscriptions = append(a.Subscriptions, a.Subscriptions[0])
		a.Subscriptions[1].CancelAtPeriodEnd = false
		out := render(t, &plugins.View{Account: a, Locale: "en", TenantName: payload, PathPrefix: "", Switches: plugins.Switches(0).With(planoverview.AllowCancel)})
		sectiontest.CheckEscaped(t, out)
		if !strings.Contains(sectiontest.Text(t, out), payload) {
			t.Errorf("payload %q is not shown as text", payload)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	s, err := plugins.Lookup(planoverview.Name)
	if err != nil {
		b.Fatal(err)
	}
	v := &plugins.View{Account: sectiontest.Example(b), Locale: "en", Switches: plugins.Switches(0).With(planoverview.AllowCancel)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Render(io.Discard, v); err != nil {
			b.Fatal(err)
		}
	}
}

// allowCancel is the session's switches with planOverviewSettings.allowSubscriptionCancel on or off.
func allowCancel(on bool) plugins.Switches {
	if on {
		return plugins.Switches(0).With(planoverview.AllowCancel)
	}
	return 0
}
