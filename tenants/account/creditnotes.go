package account

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// validateCreditNotes checks the credit notes: ids unique, each linked to an invoice of the
// document, its lines priced like an invoice's and adding up to its total, and the credit notes
// of an invoice together at most its total.
func (a *Account) validateCreditNotes(p *problems) {
	if len(a.CreditNotes) > MaxCreditNotes {
		p.add("creditNotes", "has %d entries, the limit is %d", len(a.CreditNotes), MaxCreditNotes)
		return
	}
	ids := map[string]bool{}
	credited := map[string]int64{}
	for i := range a.CreditNotes {
		cn := &a.CreditNotes[i]
		f := fmt.Sprintf("creditNotes[%d]", i)
		if !ValidID(cn.ID) {
			p.add(f+".id", "is required and must be an identifier")
		} else if ids[cn.ID] {
			p.add(f+".id", "%q is used twice", cn.ID)
		}
		ids[cn.ID] = true
		p.text(f+".number", cn.Number, false, 64)
		p.text(f+".reason", cn.Reason, false, 500)
		p.requiredDate(f+".issueDate", cn.IssueDate)
		p.amount(f+".total", cn.Total)
		if cn.PDFURL != "" && !validPaymentURL(cn.PDFURL) {
			p.add(f+".pdfUrl", "must be an absolute https URL without user info, of at most %d bytes of printable ASCII", MaxPaymentURL)
		}
		inv := a.Invoice(cn.InvoiceID)
		if inv == nil {
			p.add(f+".invoiceId", "%q is not one of the account's invoices", cn.InvoiceID)
		}
		if len(cn.Lines) > MaxLines {
			p.add(f+".lines", "has %d entries, the limit is %d", len(cn.Lines), MaxLines)
			continue
		}
		name := f + " (" + cmp.Or(cn.Number, cn.ID) + ")"
		before := len(p.list)
		for j := range cn.Lines {
			p.line(fmt.Sprintf("%s.lines[%d]", f, j), &cn.Lines[j])
		}
		if len(p.list) == before && len(cn.Lines) > 0 {
			var sum int64
			ok := true
			for j := range cn.Lines {
				if !p.lineCharge(fmt.Sprintf("%s.lines[%d] (%s)", f, j, cmp.Or(cn.Number, cn.ID)), &cn.Lines[j]) {
					ok = false
				} else if sum, ok = addAmounts(sum, cn.Lines[j].Net()); !ok {
					p.add(name, "the lines add up to more than %d minor units", int64(MaxAmount))
				}
				if !ok {
					break
				}
			}
			if ok && sum != cn.Total {
				p.add(name, "lines add up to %d, total is %d", sum, cn.Total)
			}
		}
		if inv == nil || cn.Total < 0 {
			continue
		}
		if cn.Total > inv.Total {
			p.add(name, "total %d is more than the total %d of invoice %s", cn.Total, inv.Total, cmp.Or(inv.Number, inv.ID))
			continue
		}
		sum, ok := addAmounts(credited[inv.ID], cn.Total)
		if !ok || sum > inv.Total {
			p.add(name, "the credit notes of invoice %s credit %s, more than its total %d", cmp.Or(inv.Number, inv.ID), strconv.FormatInt(credited[inv.ID], 10)+" + "+strconv.FormatInt(cn.Total, 10), inv.Total)
			continue
		}
		credited[inv.ID] = sum
	}
}

// line adds the problems of an invoice or credit note line's fields at path fl (not its
// arithmetic: lineCharge).
func (p *problems) line(fl string, l *Line) {
	p.text(fl+".description", l.Description, true, 500)
	if l.Quantity < 0 {
		p.add(fl+".quantity", "must not be negative")
	}
	p.amount(fl+".unitAmount", l.UnitAmount)
	p.amount(fl+".amount", l.Amount)
	p.text(fl+".product", l.Product, false, 200)
	p.amount(fl+".discount", l.Discount)
	if l.Discount > l.Amount && l.Amount >= 0 {
		p.add(fl+".discount", "%d is more than the line's amount %d", l.Discount, l.Amount)
	}
	if pd := l.Period; pd != nil {
		p.requiredDate(fl+".period.start", pd.Start)
		p.requiredDate(fl+".period.end", pd.End)
		if pd.End < pd.Start {
			p.add(fl+".period.end", "%s is before start %s", pd.End, pd.Start)
		}
	}
	if pr := l.Proration; pr != nil {
		switch {
		case pr.PeriodDays < 1 || pr.PeriodDays > MaxPeriodDays:
			p.add(fl+".proration.periodDays", "must be from 1 to %d", MaxPeriodDays)
		case pr.Days < 1 || pr.Days > pr.PeriodDays:
			p.add(fl+".proration.days", "must be from 1 to periodDays (%d)", pr.PeriodDays)
		case l.Period != nil && l.Period.Days() != 0 && l.Period.Days() != pr.Days:
			p.add(fl+".proration.days", "is %d, the period %s – %s has %d days", pr.Days, l.Period.Start, l.Period.End, l.Period.Days())
		}
	}
}

// lineCharge checks that the line's amount is its quantity × unit price (prorated when it says
// so); name is the line's path with its document's number. It reports whether it is.
func (p *problems) lineCharge(name string, l *Line) bool {
	want, err := l.Charge()
	if err != nil {
		p.add(name, "%s", strings.TrimPrefix(err.Error(), ErrPricing.Error()+": "))
		return false
	}
	if want == l.Amount {
		return true
	}
	price := strconv.FormatInt(l.UnitAmount, 10)
	if l.UnitAmountDecimal != "" {
		price = l.UnitAmountDecimal
	}
	if pr := l.Proration; pr != nil {
		p.add(name, "amount is %d, quantity × unit price × days ÷ periodDays is %d × %s × %d ÷ %d = %d (rounded half up)", l.Amount, l.Quantity, price, pr.Days, pr.PeriodDays, want)
	} else {
		p.add(name, "amount is %d, quantity × unit price is %d × %s = %d", l.Amount, l.Quantity, price, want)
	}
	return false
}
