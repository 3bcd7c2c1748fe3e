package account

import (
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
)

// TestItemStepsHandComputed checks the arithmetic a customer opens on an item against sums done
// by hand, in English: one step per tier crossed, and the steps add up to the item's amount.
func TestItemStepsHandComputed(t *testing.T) {
	t.Parallel()
	calls := []Tier{{UpTo: i64(1000000), UnitAmount: i64(0)}, {UpTo: i64(5000000), UnitAmountDecimal: "0.3"}, {UpTo: nil, UnitAmountDecimal: "0.1"}}
	tests := []struct {
		name   string
		item   Item
		amount int64
		want   []string
	}{
		{"tiered crosses two tiers", Item{PricingModel: PricingTiered, Quantity: 1800000, Tiers: calls}, 240000,
			[]string{"1,000,000 in tier 1 × €0.00 = €0.00", "800,000 in tier 2 × €0.003 = €2,400.00"}},
		{"tiered into the open tier", Item{PricingModel: PricingTiered, Quantity: 6000000, Tiers: calls}, 1300000,
			[]string{"1,000,000 in tier 1 × €0.00 = €0.00", "4,000,000 in tier 2 × €0.003 = €12,000.00", "1,000,000 in tier 3 × €0.001 = €1,000.00"}},
		{"volume", Item{PricingModel: PricingVolume, Quantity: 1800000, Tiers: calls}, 540000,
			[]string{"All 1,800,000 at the price of tier 2: 1,800,000 × €0.003 = €5,400.00"}},
		{"per unit", Item{PricingModel: PricingPerUnit, Quantity: 42, UnitAmount: i64(12000)}, 504000, []string{"42 × €120.00 = €5,040.00"}},
		{"flat", Item{PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(500000)}, 500000, []string{"Flat amount: €5,000.00"}},
		{"fee", Item{PricingModel: PricingFee, Quantity: 1, UnitAmount: i64(15000)}, 15000, []string{"1 × €150.00 = €150.00"}},
		{"tier flat amounts", Item{PricingModel: PricingTiered, Quantity: 3, Tiers: []Tier{{UpTo: i64(2), FlatAmount: i64(100), UnitAmount: i64(10)}, {UnitAmount: i64(5), FlatAmount: i64(7)}}}, 132,
			[]string{"2 in tier 1 × €0.10 = €0.20", "Tier 1 flat amount: €1.00", "1 in tier 2 × €0.05 = €0.05", "Tier 2 flat amount: €0.07"}},
		{"rounding once", Item{PricingModel: PricingTiered, Quantity: 2, Tiers: []Tier{{UpTo: i64(1), UnitAmountDecimal: "0.5"}, {UnitAmountDecimal: "0.5"}}}, 1,
			[]string{"1 in tier 1 × €0.005 = €0.01", "1 in tier 2 × €0.005 = €0.01", "Rounding to a whole EUR amount: -€0.01"}},
	}
	tr := i18n.ForLocale("en")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.item.Charge()
			if err != nil || c.Amount != tt.amount {
				t.Fatalf("Charge = %d, %v; want %d", c.Amount, err, tt.amount)
			}
			steps := tt.item.Steps(c)
			if got := StepTexts(steps, tr, "EUR", "en", nil); !slices.Equal(got, tt.want) {
				t.Errorf("steps:\n got %q\nwant %q", got, tt.want)
			}
			if sum := StepsSum(steps); sum != tt.amount {
				t.Errorf("steps add up to %d, the item is %d", sum, tt.amount)
			}
		})
	}
}

// TestBreakdownHandComputed: the estimate is the items less the discounts that apply on the next
// charge date, and a document's own estimate is listed with its difference.
func TestBreakdownHandComputed(t *testing.T) {
	t.Parallel()
	items := []Item{
		{Product: "Platform fee", PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(500000)},
		{Product: "Seats", PricingModel: PricingPerUnit, Quantity: 42, UnitAmount: i64(12000)},
		{Product: "Onboarding", PricingModel: PricingFee, Quantity: 1, UnitAmount: i64(15000)},
	}
	const itemsTotal = 500000 + 504000 + 15000
	tests := []struct {
		name      string
		discounts []Discount
		given     *int64
		off       []string // the discounts' steps, in English
		computed  int64
		diff      int64
	}{
		{"no discounts", nil, nil, nil, itemsTotal, 0},
		{"percent of one product", []Discount{{ID: "d", Description: "Partner", PercentOff: "2", AppliesTo: "Platform fee", Start: "2026-01-01"}}, i64(1009000),
			[]string{"2% of €5,000.00 = -€100.00"}, itemsTotal - 10000, 0},
		{"fractional percent rounds half up", []Discount{{ID: "d", Description: "D", PercentOff: "12.5", AppliesTo: "Seats", Start: "2026-01-01"}}, nil,
			[]string{"12.5% of €5,040.00 = -€630.00"}, itemsTotal - 63000, 0},
		{"amount off, capped at the total", []Discount{{ID: "d", Description: "Credit", AmountOff: i64(2000000), Start: "2026-01-01"}}, nil,
			[]string{"Amount off: -€10,190.00"}, 0, 0},
		{"ended before the next charge", []Discount{{ID: "d", Description: "Launch", PercentOff: "50", Start: "2026-01-01", End: "2026-12-31"}}, nil, nil, itemsTotal, 0},
		{"starts after the next charge", []Discount{{ID: "d", Description: "Later", PercentOff: "50", Start: "2027-02-01"}}, nil, nil, itemsTotal, 0},
		{"given estimate differs", []Discount{{ID: "d", Description: "Credit", AmountOff: i64(5000), Start: "2026-06-01"}}, i64(1000000),
			[]string{"Amount off: -€50.00"}, itemsTotal - 5000, 1000000 - (itemsTotal - 5000)},
	}
	tr := i18n.ForLocale("en")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Subscription{NextChargeDate: "2027-01-01", Items: items, Discounts: tt.discounts, EstimatedNextCharge: tt.given}
			b, err := s.Breakdown()
			if err != nil {
				t.Fatal(err)
			}
			var off []string
			var discounted int64
			for _, d := range b.Discounts {
				off = append(off, StepTexts(d.Steps, tr, "EUR", "en", nil)...)
				discounted += d.Amount
				if StepsSum(d.Steps) != -d.Amount {
					t.Errorf("discount %s: steps add up to %d, it takes off %d", d.Discount.ID, StepsSum(d.Steps), d.Amount)
				}
			}
			if !slices.Equal(off, tt.off) {
				t.Errorf("discounts:\n got %q\nwant %q", off, tt.off)
			}
			if b.ItemsTotal != itemsTotal || b.Computed != tt.computed || b.Difference != tt.diff {
				t.Errorf("items %d, computed %d, difference %d; want %d, %d, %d", b.ItemsTotal, b.Computed, b.Difference, itemsTotal, tt.computed, tt.diff)
			}
			// What the page lists adds up to the estimate it shows.
			if b.ItemsTotal-discounted+b.Difference != b.Total {
				t.Errorf("rows add up to %d, the estimate is %d", b.ItemsTotal-discounted+b.Difference, b.Total)
			}
			if n, _ := s.NextCharge(); n != b.Total {
				t.Errorf("NextCharge %d, breakdown total %d", n, b.Total)
			}
		})
	}
}

// TestLineStepsHandComputed: quantity × price, proration by days, and the line's discount.
func TestLineStepsHandComputed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line Line
		net  int64
		want []string
	}{
		{"plain", Line{Quantity: 10, UnitAmount: 10000, Amount: 100000}, 100000, []string{"10 × €100.00 = €1,000.00"}},
		{"fractional price", Line{Quantity: 800000, UnitAmountDecimal: "0.3", Amount: 240000}, 240000, []string{"800,000 × €0.003 = €2,400.00"}},
		{"prorated", Line{Quantity: 1, UnitAmount: 12000, Amount: 7200, Proration: &Proration{Days: 18, PeriodDays: 30}}, 7200,
			[]string{"18 of 30 days × €120.00 = €72.00"}},
		{"prorated seats with a discount", Line{Quantity: 2, UnitAmount: 6000, Amount: 7200, Discount: 200, Proration: &Proration{Days: 18, PeriodDays: 30}}, 7000,
			[]string{"2 × €60.00 = €120.00", "18 of 30 days × €120.00 = €72.00", "Discount: -€2.00"}},
		{"prorated rounds half up", Line{Quantity: 1, UnitAmount: 1000, Amount: 516, Proration: &Proration{Days: 16, PeriodDays: 31}}, 516,
			[]string{"16 of 31 days × €10.00 = €5.16"}},
	}
	tr := i18n.ForLocale("en")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if c, err := tt.line.Charge(); err != nil || c != tt.line.Amount {
				t.Fatalf("Charge = %d, %v; the line says %d", c, err, tt.line.Amount)
			}
			steps := tt.line.Steps()
			if got := StepTexts(steps, tr, "EUR", "en", nil); !slices.Equal(got, tt.want) {
				t.Errorf("steps:\n got %q\nwant %q", got, tt.want)
			}
			if sum := StepsSum(steps); sum != tt.net || tt.line.Net() != tt.net {
				t.Errorf("steps add up to %d, net %d, want %d", sum, tt.line.Net(), tt.net)
			}
		})
	}
}

// TestStepTextsSixLanguages: the arithmetic reads in each language with its number formats.
func TestStepTextsSixLanguages(t *testing.T) {
	t.Parallel()
	step := Step{Kind: StepUnits, Tier: 2, Units: 800000, Price: Price{}, Amount: 240000}
	step.Price, _ = parsePrice(nil, "0.3")
	pro := Step{Kind: StepProration, Days: 18, PeriodDays: 30, Base: 12000, Amount: 7200}
	nbsp := "\u00a0"
	for _, c := range []struct{ loc, tier, pro string }{
		{"en", "800,000 in tier 2 × €0.003 = €2,400.00", "18 of 30 days × €120.00 = €72.00"},
		{"de", "800.000 in Stufe 2 × 0,003" + nbsp + "€ = 2.400,00" + nbsp + "€", "18 von 30 Tagen × 120,00" + nbsp + "€ = 72,00" + nbsp + "€"},
		{"fr", "800\u202f000 dans le palier 2 × 0,003" + nbsp + "€ = 2\u202f400,00" + nbsp + "€", "18 jours sur 30 × 120,00" + nbsp + "€ = 72,00" + nbsp + "€"},
		{"es", "800.000 en el tramo 2 × 0,003" + nbsp + "€ = 2400,00" + nbsp + "€", "18 de 30 días × 120,00" + nbsp + "€ = 72,00" + nbsp + "€"},
		{"pt-BR", "800.000 na faixa 2 × €" + nbsp + "0,003 = €" + nbsp + "2.400,00", "18 de 30 dias × €" + nbsp + "120,00 = €" + nbsp + "72,00"},
		{"ja", "ティア 2 の 800,000 × €0.003 = €2,400.00", "30 日中 18 日 × €120.00 = €72.00"},
	} {
		tr := i18n.ForLocale(c.loc)
		if got := step.Text(tr, "EUR", c.loc, nil); got != c.tier {
			t.Errorf("%s: %q, want %q", c.loc, got, c.tier)
		}
		if got := pro.Text(tr, "EUR", c.loc, nil); got != c.pro {
			t.Errorf("%s: %q, want %q", c.loc, got, c.pro)
		}
	}
}

// TestDiscountValidation: each rule of a discount, on a subscription and on an invoice, is
// refused with its JSON path.
func TestDiscountValidation(t *testing.T) {
	t.Parallel()
	sub := func(d string) string {
		return `{"id":"a","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","items":[{"product":"Seats","pricingModel":"per_unit","quantity":2,"unitAmount":100}],"discounts":[` + d + `]}]}`
	}
	inv := func(lines, discounts string, discount, subtotal int64) string {
		b, _ := json.Marshal(map[string]any{"id": "i", "status": "issued", "discount": discount, "subtotal": subtotal, "tax": 0, "total": subtotal, "amountPaid": 0,
			"lines": json.RawMessage(lines), "discounts": json.RawMessage(discounts)})
		return `{"id":"a","name":"N","currency":"EUR","invoices":[` + string(b) + `]}`
	}
	line := `[{"description":"Seats","product":"Seats","quantity":2,"unitAmount":100,"amount":200}]`
	tests := []struct {
		name, doc, want string
	}{
		{"valid percent", sub(`{"id":"d","description":"D","percentOff":12.5,"start":"2026-01-01"}`), ""},
		{"valid amount", sub(`{"id":"d","description":"D","amountOff":100,"appliesTo":"Seats","start":"2026-01-01","end":"2026-02-01"}`), ""},
		{"both", sub(`{"id":"d","description":"D","percentOff":10,"amountOff":1,"start":"2026-01-01"}`), "subscriptions[0].discounts[0]: has both percentOff and amountOff"},
		{"neither", sub(`{"id":"d","description":"D","start":"2026-01-01"}`), "subscriptions[0].discounts[0]: needs percentOff or amountOff"},
		{"zero percent", sub(`{"id":"d","description":"D","percentOff":0,"start":"2026-01-01"}`), "subscriptions[0].discounts[0].percentOff: \"0\" is not a percentage above 0"},
		{"over 100", sub(`{"id":"d","description":"D","percentOff":100.5,"start":"2026-01-01"}`), "subscriptions[0].discounts[0].percentOff"},
		{"exponent", sub(`{"id":"d","description":"D","percentOff":1e1,"start":"2026-01-01"}`), "subscriptions[0].discounts[0].percentOff"},
		{"zero amount", sub(`{"id":"d","description":"D","amountOff":0,"start":"2026-01-01"}`), "subscriptions[0].discounts[0].amountOff: must be a positive"},
		{"no start", sub(`{"id":"d","description":"D","amountOff":1}`), "subscriptions[0].discounts[0].start: is required"},
		{"end before start", sub(`{"id":"d","description":"D","amountOff":1,"start":"2026-02-01","end":"2026-01-01"}`), "subscriptions[0].discounts[0].end: 2026-01-01 is before start"},
		{"product without items takes nothing off", sub(`{"id":"d","description":"D","amountOff":1,"appliesTo":"Seat","start":"2026-01-01"}`), ""},
		{"no description", sub(`{"id":"d","amountOff":1,"start":"2026-01-01"}`), "subscriptions[0].discounts[0].description: is required"},
		{"twice", sub(`{"id":"d","description":"D","amountOff":1,"start":"2026-01-01"},{"id":"d","description":"D","amountOff":1,"start":"2026-01-01"}`), `subscriptions[0].discounts[1].id: "d" is used twice`},
		{"invoice discounts add up", inv(line, `[{"id":"d","description":"D","percentOff":10,"appliesTo":"Seats","start":"2026-01-01"}]`, 20, 180), ""},
		{"invoice discounts disagree", inv(line, `[{"id":"d","description":"D","percentOff":10,"start":"2026-01-01"}]`, 30, 170), "invoices[0] (i): discounts take off 20, discount 30 and the lines' discounts 0 are 30"},
		{"invoice discount on unknown product", inv(line, `[{"id":"d","description":"D","amountOff":5,"appliesTo":"API","start":"2026-01-01"}]`, 5, 195), `invoices[0].discounts[0].appliesTo: "API" is not the product`},
		{"line discount counted", inv(`[{"description":"Seats","product":"Seats","quantity":2,"unitAmount":100,"amount":200,"discount":20}]`, `[{"id":"d","description":"D","percentOff":10,"start":"2026-01-01"}]`, 0, 180), ""},
		{"line discount above amount", inv(`[{"description":"Seats","quantity":2,"unitAmount":100,"amount":200,"discount":201}]`, `[]`, 0, 0), "invoices[0].lines[0].discount: 201 is more than the line's amount 200"},
		{"prorated line", inv(`[{"description":"Seats","quantity":1,"unitAmount":12000,"amount":7200,"period":{"start":"2026-11-13","end":"2026-11-30"},"proration":{"days":18,"periodDays":30}}]`, `[]`, 0, 7200), ""},
		{"prorated line wrong amount", inv(`[{"description":"Seats","quantity":1,"unitAmount":12000,"amount":12000,"proration":{"days":18,"periodDays":30}}]`, `[]`, 0, 12000), "amount is 12000"},
		{"proration days beyond the period", inv(`[{"description":"Seats","quantity":1,"unitAmount":12000,"amount":7200,"proration":{"days":31,"periodDays":30}}]`, `[]`, 0, 7200), "invoices[0].lines[0].proration.days: must be from 1 to periodDays (30)"},
		{"proration period days", inv(`[{"description":"Seats","quantity":1,"unitAmount":12000,"amount":7200,"proration":{"days":1,"periodDays":367}}]`, `[]`, 0, 7200), "invoices[0].lines[0].proration.periodDays: must be from 1 to 366"},
		{"proration disagrees with the period", inv(`[{"description":"Seats","quantity":1,"unitAmount":12000,"amount":7200,"period":{"start":"2026-11-14","end":"2026-11-30"},"proration":{"days":18,"periodDays":30}}]`, `[]`, 0, 7200), "invoices[0].lines[0].proration.days: is 18, the period 2026-11-14 – 2026-11-30 has 17 days"},
		{"period end before start", inv(`[{"description":"Seats","quantity":1,"unitAmount":1,"amount":1,"period":{"start":"2026-11-14","end":"2026-11-01"}}]`, `[]`, 0, 1), "invoices[0].lines[0].period.end: 2026-11-01 is before start 2026-11-14"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestCreditNoteValidation: a credit note names an invoice of the account, adds up, and credits
// no more than the invoice, alone or with the others; each rule is refused with its JSON path.
func TestCreditNoteValidation(t *testing.T) {
	t.Parallel()
	doc := func(notes string) string {
		return `{"id":"a","name":"N","currency":"EUR","invoices":[{"id":"inv_1","number":"I-1","status":"issued","subtotal":1000,"tax":190,"taxRate":"19","total":1190,"amountPaid":0}],"creditNotes":[` + notes + `]}`
	}
	line := func(amount int64) string {
		return `"lines":[{"description":"Seats removed","quantity":1,"unitAmount":` + strconv.FormatInt(amount, 10) + `,"amount":` + strconv.FormatInt(amount, 10) + `}]`
	}
	tests := []struct{ name, doc, want string }{
		{"valid", doc(`{"id":"cn_1","number":"CN-1","invoiceId":"inv_1","issueDate":"2026-10-16","reason":"Seats removed","total":500,` + line(500) + `,"pdfUrl":"https://billing.example/cn_1.pdf"}`), ""},
		{"valid without lines", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1190}`), ""},
		{"unknown invoice", doc(`{"id":"cn_1","invoiceId":"inv_9","issueDate":"2026-10-16","total":1}`), `creditNotes[0].invoiceId: "inv_9" is not one of the account's invoices`},
		{"no issue date", doc(`{"id":"cn_1","invoiceId":"inv_1","total":1}`), "creditNotes[0].issueDate: is required"},
		{"lines do not add up", doc(`{"id":"cn_1","number":"CN-1","invoiceId":"inv_1","issueDate":"2026-10-16","total":400,` + line(500) + `}`), "creditNotes[0] (CN-1): lines add up to 500, total is 400"},
		{"line mispriced", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":5,"lines":[{"description":"d","quantity":2,"unitAmount":2,"amount":5}]}`), "creditNotes[0].lines[0] (cn_1): amount is 5, quantity × unit price is 2 × 2 = 4"},
		{"more than the invoice", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1191}`), "creditNotes[0] (cn_1): total 1191 is more than the total 1190 of invoice I-1"},
		{"together more than the invoice", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":700},{"id":"cn_2","invoiceId":"inv_1","issueDate":"2026-10-17","total":491}`),
			"creditNotes[1] (cn_2): the credit notes of invoice I-1 credit 700 + 491, more than its total 1190"},
		{"id twice", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1},{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1}`), `creditNotes[1].id: "cn_1" is used twice`},
		{"negative total", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":-1}`), "creditNotes[0].total: must be a non-negative"},
		{"http pdf", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1,"pdfUrl":"http://billing.example/cn.pdf"}`), "creditNotes[0].pdfUrl: must be an absolute https URL"},
		{"long reason", doc(`{"id":"cn_1","invoiceId":"inv_1","issueDate":"2026-10-16","total":1,"reason":"` + strings.Repeat("x", 501) + `"}`), "creditNotes[0].reason: is longer than 500 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("accepted, want %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestExampleAddsUp: the demo document's estimates are accounted for by their rows.
func TestExampleAddsUp(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Subscriptions {
		if b, err := a.Subscriptions[i].Breakdown(); err != nil || b.Difference != 0 {
			t.Errorf("subscription %s: difference %d, %v", a.Subscriptions[i].ID, b.Difference, err)
		}
	}
	if len(a.CreditNotes) == 0 || len(a.Subscriptions[0].Discounts) == 0 {
		t.Error("the example shows no credit note or no discount")
	}
}

// TestChangesHandComputed: what changed from one bill to the next, product by product, in
// English, against differences done by hand.
func TestChangesHandComputed(t *testing.T) {
	t.Parallel()
	prev := &Invoice{ID: "p", Status: InvPaid, IssueDate: "2026-11-01", SubscriptionID: "s", Lines: []Line{
		{Description: "Team", Product: "Team plan", Quantity: 1, UnitAmount: 4900, Amount: 4900},
		{Description: "Seats", Product: "Seats", Quantity: 40, UnitAmount: 1200, Amount: 48000},
		{Description: "Calls", Product: "API calls", Quantity: 500000, UnitAmountDecimal: "0.3", Amount: 150000},
		{Description: "Setup", Product: "Setup", Quantity: 1, UnitAmount: 9900, Amount: 9900},
		{Description: "Note", Quantity: 1, UnitAmount: 0, Amount: 0},
	}}
	s := Subscription{ID: "s", Items: []Item{
		{Product: "Team plan", PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(4900)},
		{Product: "Seats", PricingModel: PricingPerUnit, Quantity: 42, Unit: "seat", UnitAmount: i64(1200)},
		{Product: "API calls", PricingModel: PricingPerUnit, Quantity: 500000, UnitAmountDecimal: "0.4"},
		{Product: "Support", PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(2000)},
	}}
	b, err := s.Breakdown()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"+€24.00: Seats from 40 seats to 42 seats since Nov 1, 2026",
		"+€500.00: API calls, compared with Nov 1, 2026",
		"Support: new, €20.00",
		"Setup: no longer billed (€99.00 before)",
	}
	tr := i18n.ForLocale("en")
	if got := ChangeTexts(b.ChangesSince(prev), tr, "EUR", "en", "Nov 1, 2026"); !slices.Equal(got, want) {
		t.Errorf("next charge against the last invoice:\n got %q\nwant %q", got, want)
	}
	a := &Account{Invoices: []Invoice{*prev, {ID: "draft", Status: InvDraft, IssueDate: "2026-11-20", SubscriptionID: "s"},
		{ID: "n", Status: InvIssued, IssueDate: "2026-12-01", SubscriptionID: "s", Lines: []Line{
			{Description: "Seats", Product: "Seats", Quantity: 38, UnitAmount: 1200, Amount: 45600},
			{Description: "Team", Product: "Team plan", Quantity: 1, UnitAmount: 4900, Amount: 4900}}},
		{ID: "other", Status: InvPaid, IssueDate: "2026-11-15", SubscriptionID: "t"}}}
	if got := a.LastInvoice(&s); got == nil || got.ID != "n" {
		t.Fatalf("LastInvoice = %v, want n", got)
	}
	inv := a.Invoice("n")
	p := a.PreviousInvoice(inv)
	if p == nil || p.ID != "p" {
		t.Fatalf("PreviousInvoice = %v, want p (not the draft, not another subscription's)", p)
	}
	want = []string{
		"-€24.00: Seats from 40 to 38 since Nov 1, 2026",
		"API calls: no longer billed (€1,500.00 before)",
		"Setup: no longer billed (€99.00 before)",
	}
	if got := ChangeTexts(inv.ChangesSince(p), tr, "EUR", "en", "Nov 1, 2026"); !slices.Equal(got, want) {
		t.Errorf("invoice against the previous one:\n got %q\nwant %q", got, want)
	}
	if a.PreviousInvoice(p) != nil {
		t.Error("the first invoice has a previous one")
	}
}
