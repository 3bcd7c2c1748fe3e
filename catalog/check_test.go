package catalog

import (
	"errors"
	"strings"
	"testing"
)

// TestPreviewCheck: Change.Preview's previews pass Check (FuzzPreview checks every one); a
// preview whose numbers do not add up, or whose fields are not ones Portico knows, is refused
// by JSON path.
func TestPreviewCheck(t *testing.T) {
	t.Parallel()
	pro := planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500), unitItem("Seats", 3, 700), feeItem("Setup", 900))
	c := Change{Subscription: subOn("2026-03-01", "2026-03-31", flatItem("Basic", 1000), unitItem("Seats", 3, 500)), Currency: "EUR", Target: pro, Date: "2026-03-16"}
	good, err := c.Preview(&Policy{Upgrades: Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := good.Check(); err != nil {
		t.Fatalf("Change.Preview's preview: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(p *Preview)
		want string
	}{
		{"kind", func(p *Preview) { p.Kind = "sidegrade" }, `kind: "sidegrade" is not one of`},
		{"timing", func(p *Preview) { p.Timing = "" }, `timing: "" is not one of`},
		{"currency", func(p *Preview) { p.Currency = "euro" }, `currency: "euro"`},
		{"date", func(p *Preview) { p.EffectiveDate = "16/03/2026" }, `effectiveDate: "16/03/2026"`},
		{"negative", func(p *Preview) { p.NewAmount = -1 }, "newAmount: must not be negative"},
		{"credit sum", func(p *Preview) { p.Credit++ }, "credit: is 1291, its lines add up to 1290"},
		{"charge sum", func(p *Preview) { p.ChargeLines[0].Amount-- }, "charge: is"},
		{"due", func(p *Preview) { p.AmountDue++ }, "amountDue: − creditCarried is"},
		{"both", func(p *Preview) { p.CreditCarried = 1 }, "amountDue: and creditCarried are both set"},
		{"next subtotal", func(p *Preview) { p.Next.Subtotal++ }, "nextInvoice.subtotal: is"},
		{"next amount", func(p *Preview) { p.Next.Amount-- }, "nextInvoice.amount: is"},
		{"balance now", func(p *Preview) { p.ChargeLines[0].Kind = LineBalance }, "chargeLines[0].kind: balance lines are only on the next invoice"},
		{"line kind", func(p *Preview) { p.CreditLines[0].Kind = "refund" }, `creditLines[0].kind: "refund"`},
		{"product", func(p *Preview) { p.CreditLines[0].Product = "" }, "creditLines[0].product: is required"},
		{"negative line", func(p *Preview) { p.CreditLines[0].Amount = -5 }, "creditLines[0]: amounts, quantity and days must not be negative"},
		{"too many lines", func(p *Preview) { p.CreditLines = make([]Line, MaxPreviewLines+1) }, "creditLines: has"},
	} {
		p := *good
		p.CreditLines = append([]Line(nil), good.CreditLines...)
		p.ChargeLines = append([]Line(nil), good.ChargeLines...)
		p.Next.Lines = append([]Line(nil), good.Next.Lines...)
		tt.edit(&p)
		err := p.Check()
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Check = %v, want %q", tt.name, err, tt.want)
		}
	}
}
