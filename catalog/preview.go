package catalog

import (
	"errors"
	"fmt"
	"math/big"
	"math/bits"
	"slices"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// ErrPreview is wrapped by every error of Change.Preview: a change that cannot be previewed as
// asked (a date outside the current period, an unknown timing, a plan in another currency, nothing
// that changes) or an amount beyond account.MaxAmount (then account.ErrOverflow is wrapped too).
var ErrPreview = errors.New("catalog: change cannot be previewed")

// Kinds of change, which pick the Policy field that applies.
const (
	// ChangeUpgrade is a move to a plan with a higher price per day (Policy.Upgrades).
	ChangeUpgrade = "upgrade"
	// ChangeDowngrade is a move to a plan with the same or a lower price per day
	// (Policy.Downgrades).
	ChangeDowngrade = "downgrade"
	// ChangeSeats is a new quantity of a per_unit item of the subscription (Policy.Seats), up or
	// down alike.
	ChangeSeats = "seats"
)

// Kinds of Line.
const (
	// LineCredit is the unused time of a current item, credited.
	LineCredit = "credit"
	// LineProrated is the remaining time of the current period on a new item, charged.
	LineProrated = "prorated"
	// LinePeriod is a new item for a whole period.
	LinePeriod = "period"
	// LineFee is a one-off fee, never prorated.
	LineFee = "fee"
	// LineBalance is credit carried from the change, taken off the next invoice.
	LineBalance = "balance"
)

// Change is a change of a subscription a customer asks to preview: either a move to the Target
// plan or a new quantity of one per_unit item (Seats), on Date.
type Change struct {
	// Subscription is the subscription the customer is on, as the account document gives it.
	Subscription *account.Subscription
	// Currency is the account's currency; a Target plan must be in it.
	Currency string
	// Current is the catalog plan the subscription is on, when known: its interval decides
	// whether the Target's differs, and its items' seat limits bound a Seats change.
	Current *Plan
	// Target is the plan to move to, with the subscription's seats carried over to it
	// (Plan.ItemsFor); nil for a seat change.
	Target *Plan
	// Seats is the seat change; nil for a plan change.
	Seats *Seats
	// Date is the customer's today, the day the change is asked for.
	Date account.Date
}

// Seats is a new Quantity for the per_unit item at index Item of the subscription's items.
type Seats struct {
	Item     int   `json:"item"`
	Quantity int64 `json:"quantity"`
}

// Line is one item's part of an amount of a Preview. Every amount is ≥ 0; the total a line
// belongs to says whether it is credited or charged.
type Line struct {
	// Kind is LineCredit, LineProrated, LinePeriod, LineFee or LineBalance.
	Kind         string `json:"kind"`
	Product      string `json:"product,omitempty"`
	PricingModel string `json:"pricingModel,omitempty"`
	Quantity     int64  `json:"quantity,omitempty"`
	// Days of PeriodDays is the share of the period a credit or prorated line covers; both are
	// zero on lines of a whole period, fees and balances.
	Days       int64 `json:"days,omitempty"`
	PeriodDays int64 `json:"periodDays,omitempty"`
	// PeriodAmount is the item priced for a whole period (account.Item.Charge).
	PeriodAmount int64 `json:"periodAmount,omitempty"`
	// Amount is this line's part, in minor units.
	Amount int64 `json:"amount"`
}

// NextInvoice is the estimate of the first invoice the change leaves to come.
type NextInvoice struct {
	// Date is the day it is issued: the day after the period that was paid for last.
	Date account.Date `json:"date"`
	// Lines are the new items for a whole period, the one-off fees it bills and, last, the
	// credit carried from the change (LineBalance).
	Lines []Line `json:"lines"`
	// Subtotal is the sum of the lines before the carried credit.
	Subtotal int64 `json:"subtotal"`
	// CreditApplied is the carried credit taken off, at most Subtotal; CreditLeft what remains
	// of it for the invoices after.
	CreditApplied int64 `json:"creditApplied"`
	CreditLeft    int64 `json:"creditLeft"`
	// Amount is Subtotal − CreditApplied, before tax.
	Amount int64 `json:"amount"`
}

// Preview is what a change costs, line by line: every total is the sum of its lines, and
// AmountDue − CreditCarried = Charge − Credit. Amounts are minor units of Currency, before tax.
type Preview struct {
	// Kind is ChangeUpgrade, ChangeDowngrade or ChangeSeats.
	Kind string `json:"kind"`
	// Timing is the policy's timing that applies: Now, NowWithoutProration or PeriodEnd.
	Timing   string `json:"timing"`
	Currency string `json:"currency"`
	// Date is the day the change is asked for; EffectiveDate the first day of the new items:
	// Date, or with PeriodEnd the day after the current period.
	Date          account.Date `json:"date"`
	EffectiveDate account.Date `json:"effectiveDate"`
	// PeriodStart and PeriodEnd are the current period, both days included. PeriodDays is its
	// number of days, RemainingDays those from Date to PeriodEnd, Date included: the change day
	// is on the new items.
	PeriodStart   account.Date `json:"periodStart"`
	PeriodEnd     account.Date `json:"periodEnd"`
	PeriodDays    int64        `json:"periodDays"`
	RemainingDays int64        `json:"remainingDays"`
	// IntervalChanged is true when the target plan bills at another interval: with Now its
	// first whole period starts on Date and is charged in full, and the billing date moves.
	IntervalChanged bool `json:"intervalChanged,omitempty"`
	// CurrentAmount and NewAmount are the recurring items (one-off fees left out) priced for a
	// whole period, before and after the change.
	CurrentAmount int64 `json:"currentAmount"`
	NewAmount     int64 `json:"newAmount"`
	// Credit is for the unused time of the current items, one line per recurring item.
	Credit      int64  `json:"credit"`
	CreditLines []Line `json:"creditLines"`
	// Charge is for the new items from Date: the rest of the current period, or a whole new
	// period when the interval changes, plus the target plan's one-off fees.
	Charge      int64  `json:"charge"`
	ChargeLines []Line `json:"chargeLines"`
	// AmountDue is charged now: Charge − Credit, never below 0. CreditCarried is the rest of the
	// credit when it exceeds the charge, taken off the next invoice.
	AmountDue     int64       `json:"amountDue"`
	CreditCarried int64       `json:"creditCarried"`
	Next          NextInvoice `json:"nextInvoice"`
}

// Timing returns the policy's timing for a kind of change: Now, NowWithoutProration or PeriodEnd
// (the default of an unset field).
func (po *Policy) Timing(kind string) (string, error) {
	var t string
	switch kind {
	case ChangeUpgrade:
		t = po.Upgrades
	case ChangeDowngrade:
		t = po.Downgrades
	case ChangeSeats:
		t = po.Seats
	default:
		return "", fmt.Errorf("%w: %q is not a kind of change", ErrPreview, kind)
	}
	if t == "" {
		return PeriodEnd, nil
	}
	if !ValidTiming(t) {
		return "", fmt.Errorf("%w: the policy's timing for %ss is %q, not one of %v", ErrPreview, kind, t, Timings)
	}
	return t, nil
}

// Preview computes what the change costs under the policy. Proration is by civil days: the
// current period runs from CurrentPeriodStart to CurrentPeriodEnd, both included, and the change
// day counts as unused (the new items have it), so a change on the first day credits the whole
// period and one on the last day one day. Credit = CurrentAmount × RemainingDays / PeriodDays;
// the charge for the same interval is NewAmount × RemainingDays / PeriodDays and the billing date
// stays; for another interval, the new plan's first whole period starts on the change day and is
// charged in full (as Stripe does). Each total is computed exactly (math/big) and rounded once,
// half up, to a whole minor unit (account.RoundHalfUp); its lines share it by largest remainder,
// so they add up to it and each is within one minor unit of its exact share. One-off fees are
// never prorated: the subscription's own are billed with the next invoice whatever the change,
// a target plan's are charged with the change (now with Now, else on the next invoice).
func (c *Change) Preview(po *Policy) (*Preview, error) {
	s := c.Subscription
	switch {
	case s == nil:
		return nil, fmt.Errorf("%w: no subscription", ErrPreview)
	case po == nil:
		return nil, fmt.Errorf("%w: no policy", ErrPreview)
	case (c.Target == nil) == (c.Seats == nil):
		return nil, fmt.Errorf("%w: a change is either a target plan or a seat change", ErrPreview)
	case s.Status != account.SubActive && s.Status != account.SubPastDue && s.Status != account.SubTrialing:
		return nil, fmt.Errorf("%w: subscription %q is %s", ErrPreview, s.ID, s.Status)
	case s.CancelAtPeriodEnd:
		return nil, fmt.Errorf("%w: subscription %q is scheduled for cancellation", ErrPreview, s.ID)
	case !account.ValidCurrency(c.Currency):
		return nil, fmt.Errorf("%w: currency %q is not an ISO 4217 code", ErrPreview, c.Currency)
	}
	start, err := parseDate("currentPeriodStart", s.CurrentPeriodStart)
	if err != nil {
		return nil, err
	}
	end, err := parseDate("currentPeriodEnd", s.CurrentPeriodEnd)
	if err != nil {
		return nil, err
	}
	today, err := parseDate("date", c.Date)
	if err != nil {
		return nil, err
	}
	if end.Before(start) {
		return nil, fmt.Errorf("%w: the period ends (%s) before it starts (%s)", ErrPreview, s.CurrentPeriodEnd, s.CurrentPeriodStart)
	}
	if today.Before(start) || today.After(end) {
		return nil, fmt.Errorf("%w: %s is outside the current period %s – %s", ErrPreview, c.Date, s.CurrentPeriodStart, s.CurrentPeriodEnd)
	}
	afterEnd, err := dateOf(end.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	p := &Preview{
		Currency:      c.Currency,
		Date:          account.Date(today.Format(time.DateOnly)),
		PeriodStart:   account.Date(start.Format(time.DateOnly)),
		PeriodEnd:     account.Date(end.Format(time.DateOnly)),
		PeriodDays:    days(start, end) + 1,
		RemainingDays: days(today, end) + 1,
	}
	cur, err := price(s.Items)
	if err != nil {
		return nil, err
	}
	p.CurrentAmount = cur.total

	var nw priced
	newPeriodDays := p.PeriodDays // of the new plan's first period when the interval changes
	var newNext time.Time         // the day after that period
	if c.Seats != nil {
		items, err := c.seatItems()
		if err != nil {
			return nil, err
		}
		if nw, err = price(items); err != nil {
			return nil, err
		}
		nw.fees = nil // the subscription's own, pending on the next invoice as they are
		p.Kind = ChangeSeats
	} else {
		t := c.Target
		switch {
		case t.Archived:
			return nil, fmt.Errorf("%w: plan %q is archived", ErrPreview, t.ID)
		case t.Currency != c.Currency:
			return nil, fmt.Errorf("%w: plan %q is in %s, the account in %s", ErrPreview, t.ID, t.Currency, c.Currency)
		case c.Current != nil && c.Current.ID == t.ID:
			return nil, fmt.Errorf("%w: the subscription is on plan %q already", ErrPreview, t.ID)
		}
		if nw, err = price(t.ItemsFor(s)); err != nil {
			return nil, err
		}
		same, err := sameInterval(c.Current, t, start, end)
		if err != nil {
			return nil, err
		}
		if !same {
			p.IntervalChanged = true
			if newNext, err = addInterval(today, t.Interval, t.IntervalCount); err != nil {
				return nil, err
			}
			newPeriodDays = days(today, newNext)
		}
	}
	p.NewAmount = nw.total
	if p.Kind == "" {
		// Price per day: NewAmount / newPeriodDays against CurrentAmount / PeriodDays.
		p.Kind = ChangeDowngrade
		if cmpProducts(p.NewAmount, p.PeriodDays, p.CurrentAmount, newPeriodDays) > 0 {
			p.Kind = ChangeUpgrade
		}
	}
	if p.Timing, err = po.Timing(p.Kind); err != nil {
		return nil, err
	}
	if s.Status == account.SubTrialing && p.Timing == Now {
		p.Timing = NowWithoutProration // nothing was paid for the trial: nothing to credit
	}

	next := afterEnd
	p.EffectiveDate = p.Date
	feesNow := false
	switch p.Timing {
	case PeriodEnd:
		p.EffectiveDate = afterEnd
	case Now:
		if p.CreditLines, p.Credit, err = prorate(LineCredit, &cur, p.RemainingDays, p.PeriodDays); err != nil {
			return nil, err
		}
		if p.IntervalChanged {
			if next, err = dateOf(newNext); err != nil {
				return nil, err
			}
			p.ChargeLines, p.Charge, err = prorate(LinePeriod, &nw, 1, 1)
		} else {
			p.ChargeLines, p.Charge, err = prorate(LineProrated, &nw, p.RemainingDays, p.PeriodDays)
		}
		if err != nil {
			return nil, err
		}
		if p.ChargeLines, p.Charge, err = appendFees(p.ChargeLines, p.Charge, nw.fees); err != nil {
			return nil, err
		}
		feesNow = true
		if p.Charge >= p.Credit {
			p.AmountDue = p.Charge - p.Credit
		} else {
			p.CreditCarried = p.Credit - p.Charge
		}
	}
	p.Next.Date = next
	if p.Next.Lines, p.Next.Subtotal, err = prorate(LinePeriod, &nw, 1, 1); err != nil {
		return nil, err
	}
	if p.Next.Lines, p.Next.Subtotal, err = appendFees(p.Next.Lines, p.Next.Subtotal, cur.fees); err != nil {
		return nil, err
	}
	if !feesNow {
		if p.Next.Lines, p.Next.Subtotal, err = appendFees(p.Next.Lines, p.Next.Subtotal, nw.fees); err != nil {
			return nil, err
		}
	}
	p.Next.CreditApplied = min(p.CreditCarried, p.Next.Subtotal)
	p.Next.CreditLeft = p.CreditCarried - p.Next.CreditApplied
	p.Next.Amount = p.Next.Subtotal - p.Next.CreditApplied
	if p.Next.CreditApplied > 0 {
		p.Next.Lines = append(p.Next.Lines, Line{Kind: LineBalance, Amount: p.Next.CreditApplied})
	}
	return p, nil
}

// seatItems returns the subscription's items with the seat change applied.
func (c *Change) seatItems() ([]account.Item, error) {
	s, n := c.Subscription, c.Seats
	if n.Item < 0 || n.Item >= len(s.Items) {
		return nil, fmt.Errorf("%w: the subscription has no item %d", ErrPreview, n.Item)
	}
	it := &s.Items[n.Item]
	switch {
	case it.PricingModel != account.PricingPerUnit:
		return nil, fmt.Errorf("%w: item %q is priced %s; only per_unit items have seats", ErrPreview, it.Product, it.PricingModel)
	case n.Quantity < 0:
		return nil, fmt.Errorf("%w: %d seats", ErrPreview, n.Quantity)
	case n.Quantity == it.Quantity:
		return nil, fmt.Errorf("%w: item %q has %d seats already", ErrPreview, it.Product, it.Quantity)
	}
	if c.Current != nil {
		if lo, hi, ok := c.Current.SeatLimits(it.Product); ok && (n.Quantity < lo || n.Quantity > hi) {
			return nil, fmt.Errorf("%w: %d seats of %q is outside %d – %d", ErrPreview, n.Quantity, it.Product, lo, hi)
		}
	}
	items := slices.Clone(s.Items)
	items[n.Item].Quantity = n.Quantity
	return items, nil
}

// priced is a set of items priced for one period, as Lines without a kind: the recurring items
// and the one-off fees apart, in order, and the recurring items' total.
type priced struct {
	recurring, fees []Line
	total           int64
}

// price prices each item once (account.Item.Charge) and sums the recurring ones like
// account.ItemsTotal, refusing a sum beyond account.MaxAmount.
func price(items []account.Item) (priced, error) {
	var out priced
	for i := range items {
		it := &items[i]
		ch, err := it.Charge()
		if err != nil {
			return priced{}, fmt.Errorf("%w: pricing item %q: %w", ErrPreview, it.Product, err)
		}
		l := Line{Product: it.Product, PricingModel: it.PricingModel, Quantity: it.Quantity, PeriodAmount: ch.Amount}
		if it.PricingModel == account.PricingFee {
			out.fees = append(out.fees, l)
			continue
		}
		if out.total, err = add(out.total, ch.Amount, "the sum of the items"); err != nil {
			return priced{}, err
		}
		out.recurring = append(out.recurring, l)
	}
	return out, nil
}

// prorate prices the recurring items for num/den of a period: the total is Σ PeriodAmount × num /
// den, exact, rounded once, half up; each line gets the floor of its exact share, and the minor
// units the floors leave go one each to the lines with the largest remainders (the earlier line
// on a tie), so that the lines add up to the total and each is within one minor unit of its share.
func prorate(kind string, pr *priced, num, den int64) ([]Line, int64, error) {
	lines := make([]Line, len(pr.recurring), len(pr.recurring)+len(pr.fees))
	exact := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(pr.total), big.NewInt(num)), big.NewInt(den))
	total, ok := account.RoundHalfUp(exact)
	if !ok {
		return nil, 0, overflow("the prorated sum")
	}
	var buf [32]uint64
	rems := buf[:]
	if len(lines) > len(buf) {
		rems = make([]uint64, len(lines))
	}
	left := total
	for i, l := range pr.recurring {
		l.Kind = kind
		if kind != LinePeriod {
			l.Days, l.PeriodDays = num, den
		}
		// PeriodAmount × num / den ≤ PeriodAmount as num ≤ den: the quotient fits.
		hi, lo := bits.Mul64(uint64(l.PeriodAmount), uint64(num))
		q, r := bits.Div64(hi, lo, uint64(den))
		l.Amount, rems[i] = int64(q), r
		left -= int64(q)
		lines[i] = l
	}
	for ; left > 0; left-- {
		best := -1
		for i := range lines {
			if rems[i] > 0 && (best < 0 || rems[i] > rems[best]) {
				best = i
			}
		}
		if best < 0 { // cannot be: Σ remainders / den rounds to at most their count
			return nil, 0, fmt.Errorf("%w: sharing %d minor units among %d lines", ErrPreview, total, len(lines))
		}
		lines[best].Amount++
		rems[best] = 0
	}
	return lines, total, nil
}

// appendFees adds one-off fee lines, never prorated, to lines and their total.
func appendFees(lines []Line, total int64, fees []Line) ([]Line, int64, error) {
	for _, l := range fees {
		var err error
		if total, err = add(total, l.PeriodAmount, "the sum with the fees"); err != nil {
			return nil, 0, err
		}
		l.Kind, l.Amount = LineFee, l.PeriodAmount
		lines = append(lines, l)
	}
	return lines, total, nil
}

// add sums two non-negative amounts, refusing a sum beyond account.MaxAmount.
func add(a, b int64, what string) (int64, error) {
	if b > account.MaxAmount-a {
		return 0, overflow(what)
	}
	return a + b, nil
}

func overflow(what string) error {
	return fmt.Errorf("%w: %s overflows (more than %d minor units): %w", ErrPreview, what, int64(account.MaxAmount), account.ErrOverflow)
}

// cmpProducts compares a×b with c×d, all non-negative, without overflow.
func cmpProducts(a, b, c, d int64) int {
	h1, l1 := bits.Mul64(uint64(a), uint64(b))
	h2, l2 := bits.Mul64(uint64(c), uint64(d))
	switch {
	case h1 != h2:
		if h1 > h2 {
			return 1
		}
		return -1
	case l1 > l2:
		return 1
	case l1 < l2:
		return -1
	}
	return 0
}

// parseDate parses a date of the change.
func parseDate(field string, d account.Date) (time.Time, error) {
	t, ok := d.Time()
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s %q is not a YYYY-MM-DD date", ErrPreview, field, d)
	}
	return t, nil
}

// dateOf is the date of t, which must have four digits of year.
func dateOf(t time.Time) (account.Date, error) {
	if t.Year() > 9999 {
		return "", fmt.Errorf("%w: %s is beyond the year 9999", ErrPreview, t.Format(time.DateOnly))
	}
	return account.Date(t.Format(time.DateOnly)), nil
}

// days is the number of days from a to b (midnights UTC).
func days(a, b time.Time) int64 { return (b.Unix() - a.Unix()) / 86400 }

// addInterval returns the first day of the period after the one starting on t: count intervals
// later, a month's day clamped to the month's last (31 Jan + 1 month = 28 or 29 Feb; 29 Feb + 1
// year = 28 Feb), as Stripe's billing anchors do.
func addInterval(t time.Time, interval string, count int) (time.Time, error) {
	if count == 0 {
		count = 1
	}
	if most, ok := maxIntervalCount[interval]; !ok || count < 0 || count > most {
		return time.Time{}, fmt.Errorf("%w: the interval %d %s is not one a plan may have", ErrPreview, count, interval)
	}
	months := count
	switch interval {
	case IntervalDay:
		return t.AddDate(0, 0, count), nil
	case IntervalWeek:
		return t.AddDate(0, 0, 7*count), nil
	case IntervalYear:
		months = 12 * count
	}
	y, m, d := t.Date()
	idx := int(m) - 1 + months
	ny, nm := y+idx/12, time.Month(idx%12+1)
	last := time.Date(ny, nm+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(ny, nm, min(d, last), 0, 0, 0, 0, time.UTC), nil
}

// normInterval is an interval in days or months: a week is 7 days, a year 12 months.
func normInterval(pl *Plan) (string, int, error) {
	n := pl.IntervalCount
	if n == 0 {
		n = 1
	}
	if most, ok := maxIntervalCount[pl.Interval]; !ok || n < 0 || n > most {
		return "", 0, fmt.Errorf("%w: plan %q has the interval %d %s", ErrPreview, pl.ID, n, pl.Interval)
	}
	switch pl.Interval {
	case IntervalWeek:
		return IntervalDay, 7 * n, nil
	case IntervalYear:
		return IntervalMonth, 12 * n, nil
	}
	return pl.Interval, n, nil
}

// sameInterval reports whether the target plan bills at the interval of the current period: the
// current plan's when known, else the target's period from the current period's start must end
// on its last day (within three days for months and years, which anchors on the 29th to 31st
// shorten).
func sameInterval(cur, target *Plan, start, end time.Time) (bool, error) {
	tu, tn, err := normInterval(target)
	if err != nil {
		return false, err
	}
	if cur != nil {
		cu, cn, err := normInterval(cur)
		if err != nil {
			return false, err
		}
		return cu == tu && cn == tn, nil
	}
	next, err := addInterval(start, target.Interval, target.IntervalCount)
	if err != nil {
		return false, err
	}
	diff := days(end, next) - 1
	if tu == IntervalDay {
		return diff == 0, nil
	}
	return diff >= -3 && diff <= 3, nil
}
