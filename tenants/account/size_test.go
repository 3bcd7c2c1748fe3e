package account

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// twoYearCustomer is the largest document Portico is sized for: a business customer with 24
// months of monthly invoices of six lines each (long, descriptive lines as usage-based billing
// writes them), three subscriptions with tiered items, three payment methods and a full address.
func twoYearCustomer() *Account {
	amt := func(v int64) *int64 { return &v }
	a := &Account{
		ID: "acc_7Hq2LmX9", Alias: "crm-001234", Name: "Globex Corporation", Email: "accounts-payable@globex.example",
		Currency: "EUR", Locale: "de-DE",
		Company: &Company{LegalName: "Globex Corporation GmbH & Co. KG", TaxID: "DE123456789", Address: &Address{
			Line1: "Hauptstraße 12", Line2: "3. OG, Einkauf / Kreditorenbuchhaltung", City: "Berlin", PostalCode: "10115", Region: "BE", Country: "DE"}},
		PaymentMethods: []PaymentMethod{
			{ID: "pm_card_1", Type: PaymentCard, Brand: "visa", Last4: "4242", ExpMonth: 8, ExpYear: 2028, Default: true},
			{ID: "pm_card_2", Type: PaymentCard, Brand: "mastercard", Last4: "5454", ExpMonth: 1, ExpYear: 2029},
			{ID: "pm_sepa_1", Type: PaymentSEPADebit, BankName: "Deutsche Bank", Last4: "3000"},
		},
		AutoPay: &AutoPay{Enabled: true, PaymentMethodID: "pm_card_1", Timing: AutoPayOnDueDate},
	}
	for s := range 3 {
		a.Subscriptions = append(a.Subscriptions, Subscription{
			ID: fmt.Sprintf("sub_%02d", s), Name: fmt.Sprintf("Enterprise plan %d (annual, billed monthly)", s), Status: SubActive,
			CurrentPeriodStart: "2026-11-01", CurrentPeriodEnd: "2026-11-30", NextChargeDate: "2026-12-01", EstimatedNextCharge: amt(1249000),
			Items: []Item{
				{Product: "Platform fee", PricingModel: PricingFlat, Quantity: 1, UnitAmount: amt(500000)},
				{Product: "Seats", PricingModel: PricingPerUnit, Quantity: 42, UnitAmount: amt(12000)},
				{Product: "API calls", PricingModel: PricingTiered, Quantity: 1800000, Unit: "call", Tiers: []Tier{
					{UpTo: amt(1000000), UnitAmount: amt(0)}, {UpTo: amt(5000000), UnitAmountDecimal: "0.3"}, {UnitAmountDecimal: "0.1"}}},
				{Product: "Premium support", PricingModel: PricingFlat, Quantity: 1, UnitAmount: amt(99000)},
			},
		})
	}
	for m := range 24 {
		month := fmt.Sprintf("%04d-%02d", 2025+m/12, m%12+1)
		inv := Invoice{
			ID: fmt.Sprintf("inv_%s", month), Number: fmt.Sprintf("GLX-%s-%04d", month, 1000+m), Status: InvPaid,
			IssueDate: Date(month + "-01"), DueDate: Date(month + "-28"), PaidDate: Date(month + "-20"), Currency: "EUR",
			Subtotal: 1249000, Tax: 237310, Total: 1486310, AmountPaid: 1486310, SubscriptionID: "sub_00",
		}
		for l := range 6 {
			inv.Lines = append(inv.Lines, Line{
				Description: fmt.Sprintf("Line %d of %s: Enterprise plan usage, seats and API calls (%s)", l, month, strings.Repeat("detail ", 6)),
				Quantity:    int64(42 + l), UnitAmount: 12000, Amount: int64(42+l) * 12000,
			})
		}
		inv.Subtotal = 0
		for _, l := range inv.Lines {
			inv.Subtotal += l.Amount
		}
		inv.Tax = inv.Subtotal * 19 / 100
		inv.Total = inv.Subtotal + inv.Tax
		inv.AmountPaid = inv.Total
		a.Invoices = append(a.Invoices, inv)
	}
	return a
}

// TestDocumentLimitFitsTwoYearCustomer backs the README's sizing of MaxDocumentSize: the
// two-year customer is valid and fits the limit at least three times over, and the limit is far
// below the API's 1 MiB body limit (etcd keeps every revision of a document until compaction).
func TestDocumentLimitFitsTwoYearCustomer(t *testing.T) {
	t.Parallel()
	a := twoYearCustomer()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(b); err != nil {
		t.Fatalf("the two-year customer does not decode: %v", err)
	}
	t.Logf("two-year customer: %d bytes of JSON; limit %d", len(b), MaxDocumentSize)
	if 3*len(b) > MaxDocumentSize {
		t.Fatalf("a two-year customer is %d bytes: the limit %d leaves less than 3× headroom", len(b), MaxDocumentSize)
	}
	if MaxDocumentSize > 256<<10 {
		t.Fatalf("MaxDocumentSize %d is not far below the 1 MiB body limit", MaxDocumentSize)
	}
}
