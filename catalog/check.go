package catalog

import (
	"fmt"

	"github.com/portico-billing/portico/tenants/account"
)

// MaxPreviewLines bounds the lines of each list of a Preview another party computed (a tenant's
// backend answering subscription.preview).
const MaxPreviewLines = 2*MaxPlanItems + account.MaxItems

// Check validates a preview that Portico did not compute (a tenant's backend answered it) before
// it is shown as given: the kind, timing, currency and dates are ones Portico knows, every amount
// is a non-negative number of minor units, every total is the sum of its lines, the next invoice
// adds up (Amount = Subtotal − CreditApplied, the carried credit its LineBalance line), and
// AmountDue − CreditCarried = Charge − Credit with at most one of the two set. Problems are named
// by JSON path and wrap ErrInvalid; a preview of Change.Preview always passes.
func (pv *Preview) Check() error {
	var p problems
	switch pv.Kind {
	case ChangeUpgrade, ChangeDowngrade, ChangeSeats:
	default:
		p.add("kind", "%q is not one of upgrade, downgrade, seats", pv.Kind)
	}
	if pv.Timing == "" || !ValidTiming(pv.Timing) {
		p.add("timing", "%q is not one of %v", pv.Timing, Timings)
	}
	if !account.ValidCurrency(pv.Currency) {
		p.add("currency", "%q is not an ISO 4217 code", pv.Currency)
	}
	for _, d := range []struct {
		field string
		d     account.Date
	}{{"date", pv.Date}, {"effectiveDate", pv.EffectiveDate}, {"periodStart", pv.PeriodStart}, {"periodEnd", pv.PeriodEnd}, {"nextInvoice.date", pv.Next.Date}} {
		if _, ok := d.d.Time(); !ok {
			p.add(d.field, "%q is not a date in the form YYYY-MM-DD", d.d)
		}
	}
	for _, a := range []struct {
		field string
		v     int64
	}{{"periodDays", pv.PeriodDays}, {"remainingDays", pv.RemainingDays}, {"currentAmount", pv.CurrentAmount}, {"newAmount", pv.NewAmount},
		{"credit", pv.Credit}, {"charge", pv.Charge}, {"amountDue", pv.AmountDue}, {"creditCarried", pv.CreditCarried},
		{"nextInvoice.subtotal", pv.Next.Subtotal}, {"nextInvoice.creditApplied", pv.Next.CreditApplied},
		{"nextInvoice.creditLeft", pv.Next.CreditLeft}, {"nextInvoice.amount", pv.Next.Amount}} {
		if a.v < 0 {
			p.add(a.field, "must not be negative")
		}
	}
	credit, okc := checkLines(&p, "creditLines", pv.CreditLines, false)
	charge, okh := checkLines(&p, "chargeLines", pv.ChargeLines, false)
	next, okn := checkLines(&p, "nextInvoice.lines", pv.Next.Lines, true)
	if okc && credit != pv.Credit {
		p.add("credit", "is %d, its lines add up to %d", pv.Credit, credit)
	}
	if okh && charge != pv.Charge {
		p.add("charge", "is %d, its lines add up to %d", pv.Charge, charge)
	}
	if okn {
		var balance int64
		for _, l := range pv.Next.Lines {
			if l.Kind == LineBalance {
				balance += l.Amount
			}
		}
		if sub := next - balance; sub != pv.Next.Subtotal {
			p.add("nextInvoice.subtotal", "is %d, its lines add up to %d", pv.Next.Subtotal, sub)
		}
		if balance != pv.Next.CreditApplied {
			p.add("nextInvoice.creditApplied", "is %d, its balance line says %d", pv.Next.CreditApplied, balance)
		}
	}
	if pv.Next.Subtotal >= 0 && pv.Next.CreditApplied >= 0 && pv.Next.Amount != pv.Next.Subtotal-pv.Next.CreditApplied {
		p.add("nextInvoice.amount", "is %d, not subtotal − creditApplied", pv.Next.Amount)
	}
	if pv.AmountDue > 0 && pv.CreditCarried > 0 {
		p.add("amountDue", "and creditCarried are both set; one of them is 0")
	}
	if pv.Credit >= 0 && pv.Charge >= 0 && pv.AmountDue >= 0 && pv.CreditCarried >= 0 && pv.AmountDue-pv.CreditCarried != pv.Charge-pv.Credit {
		p.add("amountDue", "− creditCarried is %d, charge − credit is %d", pv.AmountDue-pv.CreditCarried, pv.Charge-pv.Credit)
	}
	return p.err("preview")
}

// checkLines checks a list of lines and returns their sum; ok is false when it cannot be summed.
func checkLines(p *problems, field string, lines []Line, next bool) (sum int64, ok bool) {
	if len(lines) > MaxPreviewLines {
		p.add(field, "has %d lines, the limit is %d", len(lines), MaxPreviewLines)
		return 0, false
	}
	ok = true
	for i := range lines {
		l := &lines[i]
		f := fmt.Sprintf("%s[%d]", field, i)
		switch l.Kind {
		case LineCredit, LineProrated, LinePeriod, LineFee:
		case LineBalance:
			if !next {
				p.add(f+".kind", "balance lines are only on the next invoice")
			}
		default:
			p.add(f+".kind", "%q is not one of credit, prorated, period, fee, balance", l.Kind)
		}
		p.text(f+".product", l.Product, l.Kind != LineBalance, 200)
		if l.Amount < 0 || l.Quantity < 0 || l.Days < 0 || l.PeriodDays < 0 || l.PeriodAmount < 0 {
			p.add(f, "amounts, quantity and days must not be negative")
			ok = false
			continue
		}
		if l.Amount > account.MaxAmount-sum {
			p.add(field, "add up to more than %d minor units", int64(account.MaxAmount))
			return 0, false
		}
		sum += l.Amount
	}
	return sum, ok
}
