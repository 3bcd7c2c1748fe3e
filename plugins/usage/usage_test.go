package usage_test

import (
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/usage"
	"github.com/portico-billing/portico/tenants/account"
)

func render(t testing.TB, v *plugins.View) string {
	t.Helper()
	s, err := plugins.Lookup(usage.Name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := s.Render(&b, v); err != nil {
		t.Fatalf("Render: %v", err)
	}
	if b.Len() > 0 {
		sectiontest.CheckMarkup(t, usage.Name, b.String())
	}
	return b.String()
}

// TestCatalogs: the section's messages are complete in its six languages.
func TestCatalogs(t *testing.T) {
	t.Parallel()
	for _, err := range i18n.CheckCatalogs() {
		if strings.Contains(err.Error(), "usage") {
			t.Error(err)
		}
	}
}

// TestRenderExample: the example's API-call meter (1,800,000 calls on 1 Jan – 31 Dec 2026, the
// last seven days Nov 29 – Dec 5 summing to 148,703) shows its usage and cost so far (800,000
// calls in tier 2 at 0.3 ct = €2,400.00), the projection with its method (148,703 / 7 = 21,243 a
// day; 148,703 × 26 days left / 7 = 552,325.43 → 2,352,325 calls, 1,352,325 × 0.3 ct =
// €4,056.975 → €4,056.98), its tier and the next one, and the wallet.
func TestRenderExample(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "en"})
	for _, want := range []string{
		">Usage<", ">API calls<", "Pro (annual) · Jan 1, 2026 – Dec 31, 2026",
		"Usage so far", "1,800,000 calls", "Costs €2,400.00 so far.",
		"Projected by Dec 31, 2026", "2,352,325 calls",
		"Projected at the daily run rate of the last 7 days (Nov 29, 2026 – Dec 5, 2026): 21,243 calls a day.",
		"Projected cost: €4,056.98.",
		"2 of 3", "This tier covers 1,000,001 calls – 5,000,000 calls; the next starts at 5,000,001 calls, 3,200,001 calls from now.",
		"Prepaid credit", "€325.00", "Nov 30, 2027", "Top-up", "&#43;€300.00", "-€75.00", "Usage: API calls over the included volume", "Credit granted: Welcome credit",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(out, "Top up") {
		t.Error("Top up offered without allowTopUp and a backend")
	}
}

// TestRenderEscapes: account texts shown by the section are escaped (the chart's title and
// description too).
func TestRenderEscapes(t *testing.T) {
	t.Parallel()
	for _, p := range sectiontest.Payloads {
		a := sectiontest.Hostile(t, p)
		a.Subscriptions[0].Items[2].Meter.Name = p
		a.Subscriptions[0].Items[2].Meter.Unit = p
		a.Wallet.Transactions[0].Description = p
		out := render(t, &plugins.View{Account: a, Locale: "en"})
		// The section draws its own <svg> elements: the chart and two legend keys per meter.
		if n := strings.Count(strings.ToLower(out), "<svg"); n != 3 {
			t.Errorf("payload %q: %d <svg> elements, want the chart's 3", p, n)
		}
		for _, bad := range []string{"<script", "<img"} {
			if strings.Contains(strings.ToLower(out), bad) {
				t.Errorf("payload %q: output contains %q", p, bad)
			}
		}
	}
}

// svgDoc is the part of the chart's SVG the test reads.
type svgDoc struct {
	Role       string `xml:"role,attr"`
	LabelledBy string `xml:"aria-labelledby,attr"`
	ViewBox    string `xml:"viewBox,attr"`
	Width      string `xml:"width,attr"`
	Title      struct {
		ID   string `xml:"id,attr"`
		Text string `xml:",chardata"`
	} `xml:"title"`
	Desc      string `xml:"desc"`
	Polylines []struct {
		Class  string `xml:"class,attr"`
		Points string `xml:"points,attr"`
		Dash   string `xml:"stroke-dasharray,attr"`
	} `xml:"polyline"`
	Markers []struct {
		Circles []struct{} `xml:"circle"`
	} `xml:"g"`
}

var chartRE = regexp.MustCompile(`(?s)<svg class="usage-chart-svg".*?</svg>`)

// TestChart reads the chart's SVG: its role, title and description, one point per day of each
// series (35 this period, 61 the previous), a marker per day of this period, the previous period
// dashed; and the data table's numbers.
func TestChart(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	m := a.Subscriptions[0].Items[2].Meter
	out := render(t, &plugins.View{Account: a, Locale: "en"})
	svg := chartRE.FindString(out)
	if svg == "" {
		t.Fatalf("no chart:\n%s", out)
	}
	var doc svgDoc
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("chart is not well-formed XML: %v\n%s", err, svg)
	}
	if doc.Role != "img" || doc.LabelledBy != doc.Title.ID || doc.Width != "100%" || doc.ViewBox != "0 0 600 200" {
		t.Errorf("svg role %q, aria-labelledby %q (title id %q), width %q, viewBox %q", doc.Role, doc.LabelledBy, doc.Title.ID, doc.Width, doc.ViewBox)
	}
	if doc.Title.Text != "Daily usage of API calls" {
		t.Errorf("title %q", doc.Title.Text)
	}
	if want := "Line chart of daily usage this period (Nov 1, 2026 – Dec 5, 2026) against the same days of the previous period (Nov 1, 2025 – Dec 31, 2025), from 0 to 27,214 calls a day."; !strings.HasPrefix(doc.Desc, want) {
		t.Errorf("desc %q, want it to start %q", doc.Desc, want)
	}
	if len(doc.Polylines) != 2 {
		t.Fatalf("%d polylines, want 2", len(doc.Polylines))
	}
	points := map[string]int{}
	for _, p := range doc.Polylines {
		points[p.Class] = len(strings.Fields(p.Points))
		if (p.Class == "usage-previous") != (p.Dash != "") {
			t.Errorf("polyline %s dash %q: only the previous period is dashed", p.Class, p.Dash)
		}
	}
	if points["usage-current"] != len(m.Daily) || points["usage-previous"] != len(m.PreviousDaily) || len(m.Daily) != 35 || len(m.PreviousDaily) != 61 {
		t.Errorf("points %v, want %d current and %d previous", points, len(m.Daily), len(m.PreviousDaily))
	}
	if len(doc.Markers) != 1 || len(doc.Markers[0].Circles) != len(m.Daily) {
		t.Errorf("markers %+v, want one per day of this period", doc.Markers)
	}
	// The table: a row per day of the period either series has (Nov 1 is day 305 of both),
	// with both periods' numbers.
	for _, want := range []string{
		`<th scope="row" data-label="Day of period">Day 305</th><td data-label="Date">Nov 1, 2026</td><td class="num" data-label="This period">` + i18n.Number(m.Daily[0].Quantity, "en") + `</td><td data-label="Date in the previous period">Nov 1, 2025</td><td class="num" data-label="Previous period">` + i18n.Number(m.PreviousDaily[0].Quantity, "en") + `</td>`,
		`>Day 339</th><td data-label="Date">Dec 5, 2026</td><td class="num" data-label="This period">12,270</td>`,
		`>Day 365</th><td data-label="Date"><span aria-hidden="true">—</span>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if n := strings.Count(out, `<th scope="row" data-label="Day of period">`); n != 61 {
		t.Errorf("%d table rows, want 61 (the previous period's days, which include this one's)", n)
	}
}

// TestLanguages: the section renders in each language with its units and no message key
// left untranslated.
func TestLanguages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ locale, want string }{
		{"en", "1,800,000 calls"}, {"de-DE", "1.800.000 Aufrufe"}, {"fr", "1\u202f800\u202f000 appels"},
		{"es", "1.800.000 llamadas"}, {"pt-BR", "1.800.000 chamadas"}, {"ja", "1,800,000回"},
	} {
		out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: c.locale})
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: lacks %q", c.locale, c.want)
		}
		if strings.Contains(out, "usage.") {
			t.Errorf("%s: a message key is shown:\n%s", c.locale, out)
		}
	}
}

// TestNothingToShow: an account without meters or a wallet renders nothing; a wallet alone
// renders the section.
func TestNothingToShow(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	w := a.Wallet
	a.Wallet = nil
	for i := range a.Subscriptions[0].Items {
		a.Subscriptions[0].Items[i].Meter = nil
	}
	if out := render(t, &plugins.View{Account: a, Locale: "en"}); out != "" {
		t.Errorf("rendered %q", out)
	}
	a.Wallet = &account.Wallet{Currency: w.Currency, Balance: 0}
	if out := render(t, &plugins.View{Account: a, Locale: "en"}); !strings.Contains(out, "No transactions yet.") || strings.Contains(out, "<svg") {
		t.Errorf("wallet alone:\n%s", out)
	}
}

// TestTopUpOffered: "Top up" needs both the allowTopUp switch and a backend to carry it out.
func TestTopUpOffered(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		allow, backend, want bool
	}{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, true}} {
		v := &plugins.View{Account: sectiontest.Example(t), Locale: "en", Backend: c.backend, PathPrefix: "/p"}
		if c.allow {
			v.Switches = v.Switches.With(usage.AllowTopUp)
		}
		out := render(t, v)
		if got := strings.Contains(out, `href="/p/wallet/top-up"`); got != c.want {
			t.Errorf("allow %v, backend %v: top up offered %v", c.allow, c.backend, got)
		}
	}
}

// TestParseAmount: a top-up typed in major units, with a point or a comma, within 1 to 100,000
// units and the currency's decimals.
func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"50", "EUR", 5000, true}, {"50.5", "EUR", 5050, true}, {"50,05", "EUR", 5005, true}, {" 1 ", "EUR", 100, true},
		{"100000", "EUR", 10000000, true}, {"100000.01", "EUR", 0, false}, {"0.99", "EUR", 0, false}, {"1.005", "EUR", 0, false},
		{"5000", "JPY", 5000, true}, {"50.5", "JPY", 0, false}, {"1.234", "KWD", 1234, true},
		{"", "EUR", 0, false}, {"-5", "EUR", 0, false}, {"5e3", "EUR", 0, false}, {"1,000.00", "EUR", 0, false}, {"9999999999", "EUR", 0, false},
	} {
		got, ok := usage.ParseAmount(c.in, c.cur)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d, %v", c.in, c.cur, got, ok, c.want, c.ok)
		}
	}
}

// TestTopUpNeedsBilling: topping up spends money, so a viewer's session never has allowTopUp
// (plugins.Switch.Role), a billing member's may.
func TestTopUpNeedsBilling(t *testing.T) {
	t.Parallel()
	all := plugins.Switches(0).With(usage.ShowSection, usage.AllowTopUp)
	viewer, billing := plugins.ForRole(all, plugins.RoleViewer), plugins.ForRole(all, plugins.RoleBilling)
	if viewer.On(usage.AllowTopUp) || !viewer.On(usage.ShowSection) || !billing.On(usage.AllowTopUp) {
		t.Errorf("viewer: top up %v, section %v; billing: top up %v", viewer.On(usage.AllowTopUp), viewer.On(usage.ShowSection), billing.On(usage.AllowTopUp))
	}
}
