package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"
)

func TestDecodeExample(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(example): %v", err)
	}
	if a.ID != "acc_7Hq2LmX9" || a.Company.Address.Line1 != "Hauptstraße 12" || len(a.Invoices) != 4 {
		t.Fatalf("decoded wrong document: %+v", a)
	}
	if got := a.Subscriptions[0].Items[2].Tiers[2].UpTo; got != nil {
		t.Fatalf("open tier decoded as %v", *got)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	valid := `{"id":"a1","name":"N","currency":"EUR"`
	tests := []struct {
		name, doc, want string
	}{
		{"empty", ``, "body is empty"},
		{"malformed", `{"id":`, "ends in the middle"},
		{"syntax", `{"id" "x"}`, "malformed JSON"},
		{"unknown field", valid + `,"colour":"red"}`, `unknown field "colour"`},
		{"wrong type", `{"id":1}`, `field "id" must be a string`},
		{"trailing", valid + `} {}`, "unexpected data"},
		{"missing id", `{"name":"N","currency":"EUR"}`, "id: is required"},
		{"bad currency", `{"id":"a","name":"N","currency":"EURO"}`, `currency: "EURO" is not an ISO 4217`},
		{"lower currency", `{"id":"a","name":"N","currency":"eur"}`, `currency: "eur"`},
		{"bad country", valid + `,"company":{"address":{"country":"XX"}}}`, "company.address.country"},
		{"negative amount", valid + `,"invoices":[{"id":"i","status":"paid","subtotal":-1,"tax":0,"total":0,"amountPaid":0}]}`, "invoices[0].subtotal"},
		{"fractional amount", valid + `,"invoices":[{"id":"i","status":"paid","total":1.5}]}`, `field "invoices.total" must be an integer`},
		{"bad status", valid + `,"subscriptions":[{"id":"s","name":"S","status":"alive"}]}`, `subscriptions[0].status: "alive"`},
		{"duplicate invoice", valid + `,"invoices":[{"id":"i","status":"paid"},{"id":"i","status":"paid"}]}`, `"i" is used twice`},
		{"bad date", valid + `,"invoices":[{"id":"i","status":"paid","dueDate":"31/12/2026"}]}`, "invoices[0].dueDate"},
		{"two defaults", valid + `,"paymentMethods":[{"id":"a","type":"card","default":true},{"id":"b","type":"card","default":true}]}`, "at most one"},
		{"autopay unknown method", valid + `,"autoPay":{"enabled":true,"paymentMethodId":"zz"}}`, "autoPay.paymentMethodId"},
		{"bad tiers", valid + `,"subscriptions":[{"id":"s","name":"S","status":"active","items":[{"product":"p","pricingModel":"tiered","quantity":5,"tiers":[{"upTo":2,"unitAmount":1}]}]}]}`, "beyond the last tier"},
		{"id with slash", `{"id":"a/b","name":"N","currency":"EUR"}`, "id: is required"},
		{"control chars", `{"id":"a","name":"N\u0000","currency":"EUR"}`, "control characters"},
		{"http paymentUrl", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"http://pay.example/i"}]}`, "invoices[0].paymentUrl: must be an absolute https URL"},
		{"javascript paymentUrl", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"javascript:alert(1)"}]}`, "invoices[0].paymentUrl"},
		{"relative paymentUrl", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"/pay/i"}]}`, "invoices[0].paymentUrl"},
		{"paymentUrl with user", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"https://a@pay.example/i"}]}`, "invoices[0].paymentUrl"},
		{"paymentUrl with space", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"https://pay.example/a b"}]}`, "invoices[0].paymentUrl"},
		{"bad planId", valid + `,"subscriptions":[{"id":"s","name":"S","status":"active","planId":"a b"}]}`, "subscriptions[0].planId: must be an identifier"},
		{"pending change without target", valid + `,"subscriptions":[` + pendingSub(`{"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange: needs a planId, or an item and a quantity"},
		{"pending change both", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team","item":0,"quantity":3,"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "not both"},
		{"pending change bad plan", valid + `,"subscriptions":[` + pendingSub(`{"planId":"../x","effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.planId: must be an identifier"},
		{"pending change no such item", valid + `,"subscriptions":[` + pendingSub(`{"item":2,"quantity":3,"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.item: 2 is not the index"},
		{"pending change flat item", valid + `,"subscriptions":[` + pendingSub(`{"item":0,"quantity":3,"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "item 0 is priced flat"},
		{"pending change negative quantity", valid + `,"subscriptions":[` + pendingSub(`{"item":1,"quantity":-1,"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.quantity: must be between 0 and"},
		{"pending change without dates", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team"}`) + `]}`, "pendingChange.effectiveDate: is required; subscriptions[0].pendingChange.requestedAt: is required"},
		{"pending change long plan name", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team","planName":"`+strings.Repeat("x", 101)+`","effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "pendingChange.planName: is longer than 100"},
		{"pending change negative carried seats", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team","quantities":[{"product":"Seats","quantity":-2}],"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.quantities[0].quantity: must be between 0 and"},
		{"pending change carried seats without product", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team","quantities":[{"quantity":2}],"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.quantities[0].product: is required"},
		{"pending change seats with carried seats", valid + `,"subscriptions":[` + pendingSub(`{"item":1,"quantity":3,"quantities":[{"product":"Seats","quantity":2}],"effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`) + `]}`, "subscriptions[0].pendingChange.quantities: go with a planId only"},
		{"pending change bad date", valid + `,"subscriptions":[` + pendingSub(`{"planId":"team","effectiveDate":"1 Jan","requestedAt":"2026-12-01"}`) + `]}`, `pendingChange.effectiveDate: "1 Jan" is not a date`},
		{"long paymentUrl", valid + `,"invoices":[{"id":"i","status":"issued","paymentUrl":"https://pay.example/` + strings.Repeat("a", MaxPaymentURL) + `"}]}`, "invoices[0].paymentUrl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

// pendingSub is a subscription with a flat and a per_unit item and the pending change pc.
func pendingSub(pc string) string {
	return `{"id":"s","name":"S","status":"active","planId":"starter","items":[` +
		`{"product":"Base","pricingModel":"flat","quantity":1,"unitAmount":900},` +
		`{"product":"Seats","pricingModel":"per_unit","quantity":2,"unitAmount":500}],"pendingChange":` + pc + `}`
}

// TestPendingChangeAccepted: a subscription's planId and a pending plan or seat change decode
// and encode back as given.
func TestPendingChangeAccepted(t *testing.T) {
	t.Parallel()
	for _, pc := range []string{
		`{"planId":"team","effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`,
		`{"planId":"team","planName":"Team","effectiveDate":"2027-01-01","requestedAt":"2026-12-01"}`,
		`{"item":1,"quantity":7,"effectiveDate":"2026-12-01","requestedAt":"2026-12-01"}`,
	} {
		doc := `{"id":"a1","name":"N","currency":"EUR","subscriptions":[` + pendingSub(pc) + `]}`
		a, err := Decode([]byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", pc, err)
		}
		s := a.Subscriptions[0]
		if s.PlanID != "starter" || s.PendingChange == nil {
			t.Fatalf("%s: planId %q, pendingChange %v", pc, s.PlanID, s.PendingChange)
		}
		b, _ := json.Marshal(s.PendingChange)
		if string(b) != pc {
			t.Errorf("pendingChange encodes as %s, want %s", b, pc)
		}
	}
}

// TestPaymentURLAccepted: an https paymentUrl of the tenant's payment page is kept as given.
func TestPaymentURLAccepted(t *testing.T) {
	t.Parallel()
	a, err := Decode([]byte(`{"id":"a1","name":"N","currency":"EUR","invoices":[{"id":"i","status":"issued","total":100,"subtotal":100,"tax":0,"amountPaid":0,"paymentUrl":"https://pay.acme.example/i?x=1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Invoices[0].PaymentURL; got != "https://pay.acme.example/i?x=1" {
		t.Fatalf("paymentUrl = %q", got)
	}
}

// TestInvoiceOpen: only issued or overdue invoices with an amount due are open to pay.
func TestInvoiceOpen(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		inv  Invoice
		open bool
	}{
		{Invoice{Status: InvIssued, Total: 100}, true},
		{Invoice{Status: InvOverdue, Total: 100, AmountPaid: 40}, true},
		{Invoice{Status: InvIssued, Total: 100, AmountPaid: 100}, false},
		{Invoice{Status: InvPaid, Total: 100}, false},
		{Invoice{Status: InvVoid, Total: 100}, false},
		{Invoice{Status: InvDraft, Total: 100}, false},
	} {
		if got := c.inv.Open(); got != c.open {
			t.Errorf("%+v: Open = %v, want %v", c.inv, got, c.open)
		}
	}
}

func TestDecodeTooLarge(t *testing.T) {
	t.Parallel()
	_, err := Decode(make([]byte, MaxDocumentSize+1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("Decode(oversized) = %v", err)
	}
}

func TestValidHelpers(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		f    func(string) bool
		in   string
		want bool
	}{
		{ValidCurrency, "JPY", true}, {ValidCurrency, "KWD", true}, {ValidCurrency, "XYZ", false}, {ValidCurrency, "VES", true}, {ValidCurrency, "ZWG", true},
		{ValidCountry, "DE", true}, {ValidCountry, "EU", false}, {ValidCountry, "de", false},
		{ValidEmail, "a@b.example", true}, {ValidEmail, "Bob <a@b.example>", false},
		{ValidID, "acc_7Hq2LmX9", true}, {ValidID, "-x", false}, {ValidID, "a b", false},
	} {
		if got := c.f(c.in); got != c.want {
			t.Errorf("check(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the document decoder: it must never panic, and a document it
// accepts must validate and survive a JSON round trip unchanged.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/account.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR"}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"JPY","invoices":[{"id":"i","status":"paid","subtotal":1,"total":1}]}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","items":[{"product":"p","pricingModel":"tiered","quantity":5,"tiers":[{"upTo":2,"unitAmountDecimal":"0.5"},{"upTo":null,"unitAmount":1}]}]}]}`))
	// Huge values, at and around the overflow boundaries.
	sub := func(items string) []byte {
		return []byte(`{"id":"a","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","items":[` + items + `]}]}`)
	}
	f.Add(sub(`{"product":"p","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":3}`))
	f.Add(sub(`{"product":"p","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":4611686018427387904}`))
	f.Add(sub(`{"product":"p","pricingModel":"per_unit","quantity":9223372036854775807,"unitAmount":1}`))
	f.Add(sub(`{"product":"p","pricingModel":"fee","quantity":9223372036854775807,"unitAmountDecimal":"0.999999999999"}`))
	f.Add(sub(`{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":9223372036854775807},{"product":"q","pricingModel":"flat","quantity":1,"unitAmount":1}`))
	f.Add(sub(`{"product":"p","pricingModel":"tiered","quantity":9223372036854775807,"tiers":[{"upTo":4611686018427387904,"unitAmountDecimal":"1.5"},{"upTo":null,"unitAmount":1,"flatAmount":9223372036854775807}]}`))
	f.Add(sub(`{"product":"p","pricingModel":"volume","quantity":9223372036854775807,"tiers":[{"upTo":9223372036854775807,"unitAmountDecimal":"999999999999999.999999999999","flatAmount":1}]}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","invoices":[{"id":"i","status":"issued","subtotal":9223372036854775807,"tax":1,"total":-9223372036854775808,"amountPaid":0,` +
		`"lines":[{"description":"d","quantity":9223372036854775807,"unitAmount":1,"amount":9223372036854775807}]}]}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","invoices":[{"id":"i","status":"paid","discount":50,"subtotal":950,"tax":181,"taxRate":"19","total":1131,"amountPaid":1131,` +
		`"lines":[{"description":"d","quantity":4,"unitAmountDecimal":"250","amount":1000}]}]}`))
	// Meters and a wallet (usage.go), at their bounds.
	f.Add([]byte(meterDoc(`,"meter":{"name":"API calls","unit":"call","usageToDate":1099511627776,"daily":[{"date":"2026-12-01","quantity":1099511627776}],`+
		`"previousPeriodStart":"2024-12-01","previousDaily":[{"date":"2026-11-30","quantity":0}]}`,
		`{"currency":"EUR","balance":9223372036854775807,"expiresAt":"2027-01-01","transactions":[{"id":"t","date":"2026-12-01","type":"usage","amount":-9223372036854775807}]}`)))
	f.Add([]byte(meterDoc(`,"meter":{"name":"m","usageToDate":3,"daily":[{"date":"2026-12-31","quantity":3}]}`, `{"currency":"EUR","balance":0}`)))
	// Credit notes.
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","invoices":[{"id":"i","status":"issued","subtotal":10,"tax":0,"total":10,"amountPaid":0}],` +
		`"creditNotes":[{"id":"c","invoiceId":"i","issueDate":"2026-10-16","total":4,"lines":[{"description":"d","quantity":2,"unitAmount":2,"amount":4}]},` +
		`{"id":"c2","invoiceId":"i","issueDate":"2026-10-17","total":6}]}`))
	// Discounts, prorated and discounted lines.
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","nextChargeDate":"2027-01-01","estimatedNextCharge":5,` +
		`"items":[{"product":"p","pricingModel":"per_unit","quantity":3,"unitAmount":7}],"discounts":[{"id":"d","description":"D","percentOff":33.3333,"appliesTo":"p","start":"2026-01-01"},` +
		`{"id":"e","description":"E","amountOff":9223372036854775807,"start":"2026-01-01","end":"2027-01-01"}]}]}`))
	f.Add([]byte(`{"id":"a","name":"N","currency":"EUR","invoices":[{"id":"i","status":"paid","subtotal":7020,"tax":0,"total":7020,"amountPaid":0,` +
		`"discounts":[{"id":"d","description":"D","percentOff":2.5,"appliesTo":"s","start":"2026-11-01"}],` +
		`"lines":[{"description":"d","product":"s","quantity":2,"unitAmount":6000,"amount":7200,"discount":180,"period":{"start":"2026-11-13","end":"2026-11-30"},"proration":{"days":18,"periodDays":30}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error not wrapping ErrInvalid: %v", err)
			}
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("accepted document fails validation: %v", err)
		}
		checkArithmetic(t, a)
		checkCreditNotes(t, a)
		checkUsage(t, a)
		b, _ := json.Marshal(a)
		b2, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded document refused: %v", err)
		}
		c, _ := json.Marshal(b2)
		if !bytes.Equal(b, c) {
			t.Fatalf("round trip changed the document:\n%s\n%s", b, c)
		}
	})
}

// checkUsage asserts what the Usage section relies on of an accepted document's meters: a
// projection is never below the usage to date and looks no further than the period's end, and
// the usage is in one of the item's tiers.
func checkUsage(t *testing.T, a *Account) {
	t.Helper()
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		for j := range s.Items {
			it := &s.Items[j]
			if it.Meter == nil {
				continue
			}
			if pr, ok := it.Project(s); ok && (pr.Projected < it.Meter.UsageToDate || pr.RemainingDays > MaxMeterPeriodDays || pr.WindowDays < 1 || pr.WindowDays > RunRateDays) {
				t.Fatalf("meter %d/%d projected %+v from %d", i, j, pr, it.Meter.UsageToDate)
			}
			if pos, ok := it.Tier(it.Meter.UsageToDate); ok != (len(it.Tiers) > 0) || ok && (pos.Index >= pos.Count || pos.From > it.Meter.UsageToDate && it.Meter.UsageToDate > 0) {
				t.Fatalf("meter %d/%d: usage %d in tier %+v", i, j, it.Meter.UsageToDate, pos)
			}
		}
	}
}

// checkArithmetic asserts the money invariants of an accepted document with arbitrary-precision
// integers, independently of the checked int64 arithmetic that priced it: no item, tier, estimate
// or invoice amount is negative, sums are the exact sums of their parts, and invoices add up.
func checkArithmetic(t *testing.T, a *Account) {
	t.Helper()
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		next, err := s.NextCharge()
		if err != nil || next < 0 {
			t.Fatalf("accepted subscription %d priced at %d, %v", i, next, err)
		}
		sum := new(big.Int)
		for j := range s.Items {
			c, err := s.Items[j].Charge()
			if err != nil || c.Amount < 0 {
				t.Fatalf("accepted item %d.%d priced at %d, %v", i, j, c.Amount, err)
			}
			for _, tc := range c.Tiers {
				if tc.Amount < 0 {
					t.Fatalf("accepted item %d.%d has a tier priced at %d", i, j, tc.Amount)
				}
			}
			sum.Add(sum, big.NewInt(c.Amount))
		}
		checkBreakdown(t, i, s)
		total, err := s.ItemsTotal()
		if err != nil || !sum.IsInt64() || sum.Int64() != total {
			t.Fatalf("accepted subscription %d: items total %d, %v; exact sum %s", i, total, err, sum)
		}
	}
	for i := range a.Invoices {
		inv := &a.Invoices[i]
		for _, v := range []int64{inv.Subtotal, inv.Tax, inv.Total, inv.AmountPaid, inv.Discount, inv.AmountDue()} {
			if v < 0 {
				t.Fatalf("accepted invoice %d has a negative amount: %+v", i, inv)
			}
		}
		if new(big.Int).Add(big.NewInt(inv.Subtotal), big.NewInt(inv.Tax)).Cmp(big.NewInt(inv.Total)) != 0 {
			t.Fatalf("accepted invoice %d: subtotal + tax ≠ total: %+v", i, inv)
		}
		if inv.AmountPaid > inv.Total || inv.AmountDue() != inv.Total-inv.AmountPaid {
			t.Fatalf("accepted invoice %d: amount due %d of total %d, paid %d", i, inv.AmountDue(), inv.Total, inv.AmountPaid)
		}
		if len(inv.Lines) == 0 {
			continue
		}
		lines, lineDiscounts := new(big.Int), new(big.Int)
		for j, l := range inv.Lines {
			lines.Add(lines, big.NewInt(l.Amount-l.Discount))
			lineDiscounts.Add(lineDiscounts, big.NewInt(l.Discount))
			if l.Discount < 0 || l.Discount > l.Amount {
				t.Fatalf("accepted invoice %d line %d: discount %d of amount %d", i, j, l.Discount, l.Amount)
			}
			if sum := StepsSum(l.Steps()); sum != l.Net() {
				t.Fatalf("accepted invoice %d line %d: its arithmetic adds up to %d, the line to %d", i, j, sum, l.Net())
			}
		}
		if lines.Sub(lines, big.NewInt(inv.Discount)).Cmp(big.NewInt(inv.Subtotal)) != 0 {
			t.Fatalf("accepted invoice %d: lines less discounts ≠ subtotal: %+v", i, inv)
		}
		if len(inv.Discounts) > 0 && lineDiscounts.Add(lineDiscounts, big.NewInt(inv.Discount)).Cmp(big.NewInt(inv.DiscountsTotal())) != 0 {
			t.Fatalf("accepted invoice %d: its discounts take off %d, the invoice %s", i, inv.DiscountsTotal(), lineDiscounts)
		}
	}
}

// checkCreditNotes asserts that every credit note of an accepted document credits an invoice of
// it, adds up, and that an invoice's credit notes together credit at most its total.
func checkCreditNotes(t *testing.T, a *Account) {
	t.Helper()
	credited := map[string]*big.Int{}
	for i, cn := range a.CreditNotes {
		inv := a.Invoice(cn.InvoiceID)
		if inv == nil || cn.Total < 0 {
			t.Fatalf("accepted credit note %d credits %q for %d", i, cn.InvoiceID, cn.Total)
		}
		if len(cn.Lines) > 0 {
			sum := new(big.Int)
			for _, l := range cn.Lines {
				sum.Add(sum, big.NewInt(l.Net()))
			}
			if sum.Cmp(big.NewInt(cn.Total)) != 0 {
				t.Fatalf("accepted credit note %d: lines add up to %s, total %d", i, sum, cn.Total)
			}
		}
		if credited[inv.ID] == nil {
			credited[inv.ID] = new(big.Int)
		}
		if credited[inv.ID].Add(credited[inv.ID], big.NewInt(cn.Total)).Cmp(big.NewInt(inv.Total)) > 0 {
			t.Fatalf("accepted credit notes credit invoice %s %s, its total is %d", inv.ID, credited[inv.ID], inv.Total)
		}
	}
}

// checkBreakdown asserts that what the portal lists of a subscription adds up to the estimate it
// shows: every item's steps to the item, the items less the discounts plus the difference to the
// total, which is NextCharge.
func checkBreakdown(t *testing.T, i int, s *Subscription) {
	t.Helper()
	b, err := s.Breakdown()
	if err != nil {
		t.Fatalf("accepted subscription %d has no breakdown: %v", i, err)
	}
	sum := big.NewInt(0)
	for _, r := range b.Items {
		if got := StepsSum(r.Steps); got != r.Charge.Amount {
			t.Fatalf("accepted subscription %d item %d: steps add up to %d, the item is %d", i, r.Index, got, r.Charge.Amount)
		}
		sum.Add(sum, big.NewInt(r.Charge.Amount))
	}
	for _, d := range b.Discounts {
		if d.Amount <= 0 || StepsSum(d.Steps) != -d.Amount {
			t.Fatalf("accepted subscription %d: discount %s takes off %d, its steps %d", i, d.Discount.ID, d.Amount, StepsSum(d.Steps))
		}
		sum.Sub(sum, big.NewInt(d.Amount))
	}
	if sum.Sign() < 0 || sum.Int64() != b.Computed {
		t.Fatalf("accepted subscription %d: rows add up to %s, computed %d", i, sum, b.Computed)
	}
	if sum.Add(sum, big.NewInt(b.Difference)); !sum.IsInt64() || sum.Int64() != b.Total {
		t.Fatalf("accepted subscription %d: rows and difference add up to %s, total %d", i, sum, b.Total)
	}
	if n, err := s.NextCharge(); err != nil || n != b.Total {
		t.Fatalf("accepted subscription %d: NextCharge %d, %v; breakdown %d", i, n, err, b.Total)
	}
}

// TestDecodeMoney: a document whose prices overflow or whose invoices do not add up is refused
// with the field and both sides of the mismatch; one that adds up is accepted.
func TestDecodeMoney(t *testing.T) {
	t.Parallel()
	items := func(items string) string {
		return `{"id":"a","name":"N","currency":"USD","subscriptions":[{"id":"s","name":"S","status":"active","items":[` + items + `]}]}`
	}
	invoice := func(inv string) string {
		return `{"id":"a","name":"N","currency":"USD","invoices":[{"id":"x","status":"paid","subtotal":0,"tax":0,"total":0,"amountPaid":0},{"id":"inv_11","number":"INI-0011","status":"issued",` + inv + `}]}`
	}
	const seats = `{"description":"Team plan","quantity":1,"unitAmount":4900,"amount":4900},{"description":"Editors","quantity":18,"unitAmount":1200,"amount":21600}`
	tests := []struct {
		name, doc string
		want      string // "" when the document is valid
	}{
		{"per unit overflows", items(`{"product":"a","pricingModel":"flat","quantity":1,"unitAmount":1},{"product":"p","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":3}`),
			"subscriptions[0].items[1]: quantity × unitAmount overflows"},
		{"2^62 × 2^62", items(`{"product":"p","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":4611686018427387904}`),
			"subscriptions[0].items[0]: quantity × unitAmount overflows"},
		{"largest amount fits", items(`{"product":"p","pricingModel":"per_unit","quantity":9223372036854775807,"unitAmount":1}`), ""},
		{"sum of items overflows", items(`{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":9223372036854775807},{"product":"q","pricingModel":"fee","quantity":1,"unitAmount":1}`),
			"subscriptions[0].items: sum of the items overflows"},
		{"sum overflows with an estimate given", `{"id":"a","name":"N","currency":"USD","subscriptions":[{"id":"s","name":"S","status":"active","estimatedNextCharge":5,"items":[` +
			`{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":9223372036854775807},{"product":"q","pricingModel":"flat","quantity":1,"unitAmount":1}]}]}`,
			"subscriptions[0].items: sum of the items overflows"},
		{"decimal tier overflows", items(`{"product":"p","pricingModel":"volume","quantity":9223372036854775807,"tiers":[{"upTo":null,"unitAmountDecimal":"1.5"}]}`),
			"subscriptions[0].items[0]: tiers[0]: quantity × unitAmountDecimal overflows"},
		{"invoice adds up", invoice(`"subtotal":26500,"tax":2186,"total":28686,"amountPaid":10000,"lines":[` + seats + `]`), ""},
		{"lines do not add up to the subtotal", invoice(`"subtotal":26125,"tax":2155,"total":28280,"amountPaid":10000,"lines":[` + seats + `]`),
			"invoices[1] (INI-0011): lines add up to 26500, subtotal is 26125"},
		{"discount taken off", invoice(`"discount":375,"subtotal":26125,"tax":2155,"total":28280,"amountPaid":0,"lines":[` + seats + `]`), ""},
		{"discount does not match", invoice(`"discount":300,"subtotal":26125,"tax":2155,"total":28280,"amountPaid":0,"lines":[` + seats + `]`),
			"invoices[1] (INI-0011): lines add up to 26500, less the discount of 300 that is 26200, subtotal is 26125"},
		{"discount without lines", invoice(`"discount":300,"subtotal":100,"tax":0,"total":100,"amountPaid":0`), "invoices[1].discount: needs lines"},
		{"negative discount", invoice(`"discount":-300,"subtotal":100,"tax":0,"total":100,"amountPaid":0`), "invoices[1].discount: must be a non-negative"},
		{"line amount is not quantity × unit price", invoice(`"subtotal":26500,"tax":0,"total":26500,"amountPaid":0,"lines":[{"description":"Editors","quantity":18,"unitAmount":1200,"amount":26500}]`),
			"invoices[1].lines[0] (INI-0011): amount is 26500, quantity × unit price is 18 × 1200 = 21600"},
		{"decimal unit price line", invoice(`"subtotal":625,"tax":0,"total":625,"amountPaid":0,"lines":[{"description":"Storage","quantity":250,"unitAmountDecimal":"2.5","amount":625}]`), ""},
		{"decimal unit price rounds half up", invoice(`"subtotal":1,"tax":0,"total":1,"amountPaid":0,"lines":[{"description":"Calls","quantity":5,"unitAmountDecimal":"0.1","amount":1}]`), ""},
		{"decimal unit price line mismatch", invoice(`"subtotal":600,"tax":0,"total":600,"amountPaid":0,"lines":[{"description":"Storage","quantity":250,"unitAmountDecimal":"2.5","amount":600}]`),
			"quantity × unit price is 250 × 2.5 = 625"},
		{"both unit prices on a line", invoice(`"subtotal":625,"tax":0,"total":625,"amountPaid":0,"lines":[{"description":"S","quantity":250,"unitAmount":2,"unitAmountDecimal":"2.5","amount":625}]`),
			"invoices[1].lines[0] (INI-0011): both unitAmount and unitAmountDecimal are set"},
		{"line overflows", invoice(`"subtotal":1,"tax":0,"total":1,"amountPaid":0,"lines":[{"description":"S","quantity":4611686018427387904,"unitAmount":3,"amount":1}]`),
			"invoices[1].lines[0] (INI-0011): quantity × unitAmount overflows"},
		{"lines sum overflows", invoice(`"subtotal":1,"tax":0,"total":1,"amountPaid":0,"lines":[{"description":"S","quantity":9223372036854775807,"unitAmount":1,"amount":9223372036854775807},{"description":"T","quantity":1,"unitAmount":1,"amount":1}]`),
			"invoices[1] (INI-0011): the lines add up to more than 9223372036854775807"},
		{"total is not subtotal + tax", invoice(`"subtotal":100,"tax":19,"total":120,"amountPaid":0`), "invoices[1] (INI-0011): subtotal 100 + tax 19 is 119, total is 120"},
		{"subtotal + tax overflows", invoice(`"subtotal":9223372036854775807,"tax":1,"total":9223372036854775807,"amountPaid":0`), "invoices[1] (INI-0011): subtotal + tax overflows"},
		{"paid more than the total", invoice(`"subtotal":100,"tax":0,"total":100,"amountPaid":101`), "invoices[1] (INI-0011): amountPaid 101 is more than the total 100"},
		{"invoice named by id without a number", `{"id":"a","name":"N","currency":"USD","invoices":[{"id":"inv_9","status":"paid","subtotal":1,"tax":0,"total":2,"amountPaid":0}]}`,
			"invoices[0] (inv_9): subtotal 1 + tax 0 is 1, total is 2"},
		{"tax rate matches", invoice(`"subtotal":27125,"tax":2238,"taxRate":"8.25","total":29363,"amountPaid":0`), ""},
		{"tax rate rounds half up", invoice(`"subtotal":50,"tax":10,"taxRate":"19","total":60,"amountPaid":0`), ""},
		{"tax rate mismatch", invoice(`"subtotal":27125,"tax":2237,"taxRate":"8.25","total":29362,"amountPaid":0`),
			"invoices[1] (INI-0011): tax is 2237, subtotal 27125 × taxRate 8.25% is 2238"},
		{"tax rate over 100", invoice(`"subtotal":100,"tax":0,"taxRate":"101","total":100,"amountPaid":0`), `invoices[1].taxRate: "101" is not a percentage`},
		{"tax rate with a sign", invoice(`"subtotal":100,"tax":0,"taxRate":"-1","total":100,"amountPaid":0`), `invoices[1].taxRate: "-1" is not a percentage`},
		{"tax rate with a percent sign", invoice(`"subtotal":100,"tax":19,"taxRate":"19%","total":119,"amountPaid":0`), `invoices[1].taxRate: "19%" is not a percentage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode refused a document that adds up: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}
