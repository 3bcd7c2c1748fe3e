package account

import "github.com/portico-billing/portico/i18n"

// Format writes the price in the currency and locale: whole minor units as money ("€120.00"),
// fractions exactly ("€0.003").
func (p Price) Format(cur, loc string) string {
	if n, ok := p.Integral(); ok {
		return i18n.Money(n, cur, loc)
	}
	return i18n.Decimal(p.Decimal(), cur, loc)
}

// Text is the step as a person reads it, in tr's language with amounts in cur formatted for loc:
// "800,000 calls in tier 2 × €0.003 = €2,400.00", "18 of 30 days × €120.00 = €72.00", "10% of
// €5,040.00 = -€504.00". units formats a number of the item's units ("800,000 calls"); nil
// writes the number alone.
func (s Step) Text(tr *i18n.Printer, cur, loc string, units func(int64) string) string {
	if units == nil {
		units = func(n int64) string { return i18n.Number(n, loc) }
	}
	money := func(v int64) string { return i18n.Money(v, cur, loc) }
	switch s.Kind {
	case StepUnits:
		if s.Tier > 0 {
			return tr.T("arith.unitsTier", "units", units(s.Units), "tier", s.Tier, "price", s.Price.Format(cur, loc), "amount", money(s.Amount))
		}
		return tr.T("arith.units", "units", units(s.Units), "price", s.Price.Format(cur, loc), "amount", money(s.Amount))
	case StepVolume:
		return tr.T("arith.volume", "units", units(s.Units), "tier", s.Tier, "price", s.Price.Format(cur, loc), "amount", money(s.Amount))
	case StepFlat:
		if s.Tier > 0 {
			return tr.T("arith.tierFlat", "tier", s.Tier, "amount", money(s.Amount))
		}
		return tr.T("arith.flat", "amount", money(s.Amount))
	case StepProration:
		return tr.T("arith.proration", "days", i18n.Number(s.Days, loc), "count", s.PeriodDays,
			"base", money(s.Base), "amount", money(s.Amount))
	case StepPercentOff:
		return tr.T("arith.percentOff", "percent", i18n.Percent(s.Percent, loc), "base", money(s.Base), "amount", money(-s.Amount))
	case StepAmountOff:
		return tr.T("arith.amountOff", "amount", money(-s.Amount))
	case StepDiscount:
		return tr.T("arith.discount", "amount", money(-s.Amount))
	case StepRounding:
		return tr.T("arith.rounding", "currency", cur, "amount", money(s.Amount))
	}
	return ""
}

// StepTexts is Text of each step.
func StepTexts(steps []Step, tr *i18n.Printer, cur, loc string, units func(int64) string) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Text(tr, cur, loc, units)
	}
	return out
}

// Text is the change as a person reads it, in tr's language with amounts in cur for loc, since
// the day since (a formatted date): "+€240.00: Seats from 40 seats to 42 seats since Nov 1,
// 2026", "API calls: new, €2,400.00", "Onboarding: no longer billed (€150.00 before)".
func (c ProductChange) Text(tr *i18n.Printer, cur, loc, since string) string {
	money := func(v int64) string { return i18n.Money(v, cur, loc) }
	delta := money(c.Delta())
	if c.Delta() > 0 {
		delta = "+" + delta
	}
	switch {
	case c.New:
		return tr.T("changes.new", "product", c.Product, "amount", money(c.After))
	case c.Gone:
		return tr.T("changes.gone", "product", c.Product, "amount", money(c.Before))
	case c.QtyBefore != c.QtyAfter:
		return tr.T("changes.quantity", "delta", delta, "product", c.Product, "before", i18n.Quantity(c.QtyBefore, c.Unit, loc),
			"after", i18n.Quantity(c.QtyAfter, c.Unit, loc), "date", since)
	}
	return tr.T("changes.amount", "delta", delta, "product", c.Product, "date", since)
}

// ChangeTexts is Text of each change.
func ChangeTexts(cs []ProductChange, tr *i18n.Printer, cur, loc, since string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Text(tr, cur, loc, since)
	}
	return out
}
