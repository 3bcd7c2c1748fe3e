package planoverview_test

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/tenants/account"
)

// cents parses an English euro amount off the page ("€12,490.00", "-€100.00") into cents.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	neg := strings.HasPrefix(s, "-")
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || !strings.Contains(s, "€") {
		t.Fatalf("%q is not an amount in euros", s)
	}
	if neg {
		return -n
	}
	return n
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+class+" ") {
			return true
		}
	}
	return false
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// pageSums reads a rendered subscription off the page: the amounts of its item rows and of the
// rows under them (discounts, adjustments), the total row, and the estimated next charge fact.
func pageSums(t *testing.T, out string) (rows []int64, total, fact int64, steps []string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "tr" && (hasClass(n, "item-row") || hasClass(n, "adjust-row") || hasClass(n, "total-row")):
				var last *html.Node
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.ElementNode && c.Data == "td" {
						last = c
					}
				}
				if hasClass(n, "total-row") {
					total = cents(t, nodeText(last))
				} else {
					rows = append(rows, cents(t, nodeText(last)))
				}
			case n.Data == "dd" && hasClass(n, "fact-amount"):
				fact = cents(t, nodeText(n))
			case n.Data == "li" && n.Parent != nil && hasClass(n.Parent, "arith-steps"):
				steps = append(steps, nodeText(n))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return rows, total, fact, steps
}

// TestBreakdownAddsUpOnPage sums the numbers the page shows: the item rows, the discounts and
// any adjustment add up to the total row, which is the estimated next charge at the top, and is
// the sum done by hand.
func TestBreakdownAddsUpOnPage(t *testing.T) {
	t.Parallel()
	seats := account.Item{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: 8, Unit: "seat", UnitAmount: i64(1200)}
	base := account.Item{Product: "Team plan", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: i64(4900)}
	calls := account.Item{Product: "API calls", PricingModel: account.PricingTiered, Quantity: 1800000, Unit: "call", Tiers: []account.Tier{
		{UpTo: i64(1000000), UnitAmount: i64(0)}, {UpTo: i64(5000000), UnitAmountDecimal: "0.3"}, {UnitAmountDecimal: "0.1"}}}
	storage := account.Item{Product: "Storage", PricingModel: account.PricingVolume, Quantity: 120, Unit: "GB", Tiers: []account.Tier{
		{UpTo: i64(100), UnitAmount: i64(10)}, {UnitAmount: i64(8), FlatAmount: i64(500)}}}
	fee := account.Item{Product: "Setup", PricingModel: account.PricingFee, Quantity: 1, UnitAmount: i64(9900)}
	tests := []struct {
		name      string
		items     []account.Item
		discounts []account.Discount
		given     *int64
		want      int64 // by hand
		step      string
	}{
		{"flat and seats", []account.Item{base, seats}, nil, nil, 4900 + 8*1200, "8 seats × €12.00 = €96.00"},
		{"tiered calls", []account.Item{base, calls}, nil, nil, 4900 + 240000, "800,000 calls in tier 2 × €0.003 = €2,400.00"},
		{"volume with a flat amount", []account.Item{storage, fee}, nil, nil, 120*8 + 500 + 9900, "All 120 GB at the price of tier 2: 120 GB × €0.08 = €9.60"},
		{"percent off seats", []account.Item{base, seats}, []account.Discount{{ID: "d", Description: "Nonprofit", PercentOff: "25", AppliesTo: "Seats", Start: "2026-01-01"}}, nil,
			4900 + 9600 - 2400, "25% of €96.00 = -€24.00"},
		{"amount off and a fee", []account.Item{base, seats, fee}, []account.Discount{{ID: "d", Description: "Welcome credit", AmountOff: i64(5000), Start: "2026-01-01"}}, nil,
			4900 + 9600 + 9900 - 5000, "Amount off: -€50.00"},
		{"the document's estimate leaves out the fee", []account.Item{base, seats, fee}, nil, i64(4900 + 9600), 4900 + 9600, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			s := &a.Subscriptions[0]
			s.Items, s.Discounts, s.EstimatedNextCharge = tt.items, tt.discounts, tt.given
			rows, total, fact, steps := pageSums(t, render(t, &plugins.View{Account: a, Locale: "en"}))
			var sum int64
			for _, r := range rows {
				sum += r
			}
			if sum != total || total != fact || fact != tt.want {
				t.Errorf("rows %v add up to %d; total row %d, estimate %d, by hand %d", rows, sum, total, fact, tt.want)
			}
			if tt.step != "" && !strings.Contains(strings.Join(steps, "\n"), tt.step) {
				t.Errorf("arithmetic lacks %q:\n%s", tt.step, strings.Join(steps, "\n"))
			}
		})
	}
}
