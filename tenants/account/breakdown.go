package account

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
)

// This file is the arithmetic a customer can open on every price Portico shows: the steps that
// make an item's amount (tier by tier), an invoice line's (quantity × price, proration, discount)
// and a subscription's estimated next charge (the items, the discounts, and whatever the document's
// own estimate differs by). The portal's pages and their totals are computed by these functions
// alone, so a page cannot show a total its rows do not add up to.

// Discount is a discount or credit on a subscription or an invoice: PercentOff percent or
// AmountOff minor units (exactly one) off the items (or lines) of product AppliesTo, or off all of
// them, from Start to End (both days included; no End: until further notice).
type Discount struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// PercentOff is a percentage from more than 0 to 100 with at most four decimals ("10",
	// "12.5"), as a JSON number.
	PercentOff json.Number `json:"percentOff,omitempty"`
	// AmountOff is an amount in minor units of the account's (or invoice's) currency.
	AmountOff *int64 `json:"amountOff,omitempty"`
	// AppliesTo is the product of the items or lines it is taken off; "" is all of them.
	AppliesTo string `json:"appliesTo,omitempty"`
	Start     Date   `json:"start"`
	End       Date   `json:"end,omitempty"`
}

// MaxDiscounts bounds the discounts of a subscription or an invoice.
const MaxDiscounts = 20

// percentRE is the form of Discount.PercentOff.
var percentRE = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,4})?$`)

// percent returns the discount's PercentOff as an exact number, ok false when it has none or an
// invalid one.
func (d *Discount) percent() (*big.Rat, bool) {
	if d.PercentOff == "" || !percentRE.MatchString(string(d.PercentOff)) {
		return nil, false
	}
	r, ok := new(big.Rat).SetString(string(d.PercentOff))
	if !ok || r.Sign() <= 0 || r.Cmp(big.NewRat(100, 1)) > 0 {
		return nil, false
	}
	return r, true
}

// ActiveOn reports whether the discount applies on day on: Start ≤ on ≤ End. The empty day
// (a subscription without a next charge date) finds every discount that has not been given an end.
func (d *Discount) ActiveOn(on Date) bool {
	if on == "" {
		return d.End == ""
	}
	return d.Start <= on && (d.End == "" || on <= d.End)
}

// Amount is what the discount takes off a base of minor units: PercentOff of it rounded half up,
// or AmountOff, never more than the base.
func (d *Discount) Amount(base int64) int64 {
	if base <= 0 {
		return 0
	}
	if d.AmountOff != nil {
		return min(max(*d.AmountOff, 0), base)
	}
	p, ok := d.percent()
	if !ok {
		return 0
	}
	r := new(big.Rat).Mul(p, new(big.Rat).SetInt64(base))
	r.Quo(r, big.NewRat(100, 1))
	v, _ := roundHalfUp(r) // ≤ base: fits
	return min(v, base)
}

// problems adds the discount's problems at path f.
func (p *problems) discount(f string, d *Discount) {
	if !ValidID(d.ID) {
		p.add(f+".id", "is required and must be an identifier")
	}
	p.text(f+".description", d.Description, true, 200)
	p.text(f+".appliesTo", d.AppliesTo, false, 200)
	switch {
	case d.PercentOff != "" && d.AmountOff != nil:
		p.add(f, "has both percentOff and amountOff; give one")
	case d.PercentOff != "":
		if _, ok := d.percent(); !ok {
			p.add(f+".percentOff", "%q is not a percentage above 0 and at most 100 with at most four decimals", string(d.PercentOff))
		}
	case d.AmountOff != nil:
		if *d.AmountOff <= 0 {
			p.add(f+".amountOff", "must be a positive integer number of minor units")
		}
	default:
		p.add(f, "needs percentOff or amountOff")
	}
	p.requiredDate(f+".start", d.Start)
	p.date(f+".end", d.End)
	if d.End != "" && d.End < d.Start {
		p.add(f+".end", "%s is before start %s", d.End, d.Start)
	}
}

func (p *problems) discounts(f string, ds []Discount) {
	if len(ds) > MaxDiscounts {
		p.add(f, "has %d entries, the limit is %d", len(ds), MaxDiscounts)
		return
	}
	ids := map[string]bool{}
	for i := range ds {
		fd := fmt.Sprintf("%s[%d]", f, i)
		p.discount(fd, &ds[i])
		if ids[ds[i].ID] {
			p.add(fd+".id", "%q is used twice", ds[i].ID)
		}
		ids[ds[i].ID] = true
	}
}

// StepKind is what one step of an arithmetic computes.
type StepKind int

// The kinds of Step.
const (
	// StepUnits: Units × Price = Amount; in tier Tier (1-based) when Tier > 0.
	StepUnits StepKind = iota + 1
	// StepVolume: all Units at the price of tier Tier: Units × Price = Amount.
	StepVolume
	// StepFlat: a flat Amount (a flat item, or tier Tier's flat amount when Tier > 0).
	StepFlat
	// StepProration: Days of PeriodDays days × Base = Amount.
	StepProration
	// StepPercentOff: Percent % of Base = Amount, taken off.
	StepPercentOff
	// StepAmountOff: Amount taken off (at most Base).
	StepAmountOff
	// StepDiscount: a discount Amount taken off an invoice line, as the document gives it.
	StepDiscount
	// StepRounding: the steps' rounded amounts differ by Amount (±1 or a few minor units) from
	// the exact total rounded once.
	StepRounding
)

// Step is one step of an arithmetic; which fields are set depends on Kind. Amounts taken off
// (discounts) are positive; Negative tells.
type Step struct {
	Kind       StepKind
	Tier       int
	Units      int64
	Price      Price
	Base       int64
	Days       int64
	PeriodDays int64
	Percent    string
	Amount     int64
	// Intermediate marks a step whose amount a later step uses (the quantity × price of a
	// prorated line): it does not count in StepsSum.
	Intermediate bool
}

// Negative reports whether the step takes its amount off.
func (s Step) Negative() bool {
	return s.Kind == StepPercentOff || s.Kind == StepAmountOff || s.Kind == StepDiscount
}

// Steps is the arithmetic of the item's Charge: one step per tier crossed (with a step for a
// tier's flat amount), units × price for per-unit items and fees, the flat amount for flat ones,
// and a rounding step when the rounded steps do not add up to the amount (fractional prices).
// The steps' amounts add up to c.Amount.
func (it *Item) Steps(c ItemCharge) []Step {
	var steps []Step
	switch it.PricingModel {
	case PricingFlat:
		steps = []Step{{Kind: StepFlat, Amount: c.Amount}}
	case PricingPerUnit, PricingFee:
		steps = []Step{{Kind: StepUnits, Units: it.Quantity, Price: c.UnitPrice, Amount: c.Amount}}
	case PricingTiered, PricingVolume:
		kind := StepUnits
		if it.PricingModel == PricingVolume {
			kind = StepVolume
		}
		for i, tc := range c.Tiers {
			if tc.Units == 0 {
				continue
			}
			v, _ := roundHalfUp(mulQty(tc.UnitPrice, tc.Units)) // ≤ the tier's amount: fits
			steps = append(steps, Step{Kind: kind, Tier: i + 1, Units: tc.Units, Price: tc.UnitPrice, Amount: v})
			if tc.Flat > 0 {
				steps = append(steps, Step{Kind: StepFlat, Tier: i + 1, Amount: tc.Flat})
			}
		}
	}
	return withRounding(steps, c.Amount)
}

// withRounding appends a rounding step when the steps' signed amounts do not add up to total.
func withRounding(steps []Step, total int64) []Step {
	if d := total - StepsSum(steps); d != 0 {
		steps = append(steps, Step{Kind: StepRounding, Amount: d})
	}
	return steps
}

// StepsSum is the signed sum of the steps' amounts (what is taken off counts negative). The
// amounts are each at most a document's amount, and their number is bounded by MaxTiers: big
// integers keep the sum exact; a sum beyond int64 (only in a document Validate refuses) saturates.
func StepsSum(steps []Step) int64 {
	sum := new(big.Int)
	for _, s := range steps {
		if s.Intermediate {
			continue
		}
		if s.Negative() {
			sum.Sub(sum, big.NewInt(s.Amount))
		} else {
			sum.Add(sum, big.NewInt(s.Amount))
		}
	}
	if !sum.IsInt64() {
		if sum.Sign() < 0 {
			return -MaxAmount
		}
		return MaxAmount
	}
	return sum.Int64()
}

// ItemRow is one item of a Breakdown.
type ItemRow struct {
	// Index is the item's index in the subscription's items.
	Index  int
	Item   *Item
	Charge ItemCharge
	Steps  []Step
	// OneOff is true for a fee: charged with the next charge, not again after it.
	OneOff bool
}

// DiscountRow is one discount of a Breakdown that applies on its day.
type DiscountRow struct {
	Discount *Discount
	// Base is what it is taken off: the amounts of the items of its product, or of all items.
	Base int64
	// Amount is what it takes off (positive), after the discounts before it.
	Amount int64
	Steps  []Step
}

// Breakdown is a subscription's next charge, item by item, with the discounts that apply on the
// next charge date. The estimate the portal shows is Total, and the rows it lists add up to it:
// ItemsTotal − Σ discounts = Computed, and Difference (Given − Computed) is listed as a row of its
// own when the document gives an estimate its items and discounts do not account for.
type Breakdown struct {
	Items     []ItemRow
	Discounts []DiscountRow
	// ItemsTotal is the sum of the items' amounts.
	ItemsTotal int64
	// Computed is ItemsTotal less the discounts.
	Computed int64
	// Given is the document's estimatedNextCharge, nil when it gives none.
	Given *int64
	// Difference is Given − Computed, 0 without Given.
	Difference int64
	// Total is the estimated next charge: Given when the document gives it, else Computed.
	Total int64
}

// Breakdown prices the subscription's next charge (see Breakdown). An item that cannot be priced
// or a sum beyond MaxAmount is an error (Validate refuses such documents).
func (s *Subscription) Breakdown() (*Breakdown, error) {
	b := &Breakdown{Items: make([]ItemRow, 0, len(s.Items))}
	for i := range s.Items {
		it := &s.Items[i]
		c, err := it.Charge()
		if err != nil {
			return nil, fmt.Errorf("pricing item %q: %w", it.Product, err)
		}
		var ok bool
		if b.ItemsTotal, ok = addAmounts(b.ItemsTotal, c.Amount); !ok {
			return nil, overflow("sum of the items")
		}
		b.Items = append(b.Items, ItemRow{Index: i, Item: it, Charge: c, Steps: it.Steps(c), OneOff: it.PricingModel == PricingFee})
	}
	b.Computed = b.ItemsTotal
	on := s.NextChargeDate
	for i := range s.Discounts {
		d := &s.Discounts[i]
		if !d.ActiveOn(on) {
			continue
		}
		var base int64
		for _, r := range b.Items {
			if d.AppliesTo == "" || r.Item.Product == d.AppliesTo {
				base += r.Charge.Amount // ≤ ItemsTotal: fits
			}
		}
		amount := min(d.Amount(base), b.Computed)
		if amount <= 0 {
			continue
		}
		b.Computed -= amount
		b.Discounts = append(b.Discounts, DiscountRow{Discount: d, Base: base, Amount: amount, Steps: discountSteps(d, base, amount)})
	}
	b.Total = b.Computed
	if s.EstimatedNextCharge != nil {
		b.Given = s.EstimatedNextCharge
		b.Total = *s.EstimatedNextCharge
		b.Difference = *s.EstimatedNextCharge - b.Computed // both ≥ 0: fits
	}
	return b, nil
}

// discountSteps is the arithmetic of a discount of amount off base.
func discountSteps(d *Discount, base, amount int64) []Step {
	if d.AmountOff != nil {
		return []Step{{Kind: StepAmountOff, Base: base, Amount: amount}}
	}
	return []Step{{Kind: StepPercentOff, Percent: string(d.PercentOff), Base: base, Amount: amount}}
}

// Period is the service period an invoice line bills, both days included.
type Period struct {
	Start Date `json:"start"`
	End   Date `json:"end"`
}

// Days is the number of days of the period, both included; 0 when a date is missing or the end
// is before the start.
func (p *Period) Days() int64 {
	s, ok1 := p.Start.Time()
	e, ok2 := p.End.Time()
	if !ok1 || !ok2 || e.Before(s) {
		return 0
	}
	return int64(e.Sub(s).Hours()/24) + 1
}

// MaxPeriodDays bounds Proration.PeriodDays: a year of a leap year.
const MaxPeriodDays = 366

// Proration says that a line bills Days of a period of PeriodDays days: its amount is its
// quantity × unit price (rounded half up) × Days ÷ PeriodDays, rounded half up once more.
type Proration struct {
	Days       int64 `json:"days"`
	PeriodDays int64 `json:"periodDays"`
}

// LineSteps is the arithmetic of an invoice line: quantity × unit price, the proration when the
// line is prorated, and its discount taken off. The steps add up to the line's net amount
// (Charge − Discount) for a line that Validate accepts.
func (l *Line) Steps() []Step {
	p, err := l.UnitPrice()
	if err != nil {
		return nil
	}
	base, ok := roundHalfUp(mulQty(p, max(l.Quantity, 0)))
	if !ok {
		return nil
	}
	steps := []Step{{Kind: StepUnits, Units: l.Quantity, Price: p, Amount: base}}
	if pr := l.Proration; pr != nil && pr.PeriodDays > 0 {
		v, _ := prorate(base, pr)
		if l.Quantity == 1 {
			steps = nil
		} else {
			steps[0].Intermediate = true
		}
		steps = append(steps, Step{Kind: StepProration, Days: pr.Days, PeriodDays: pr.PeriodDays, Base: base, Amount: v})
	}
	if l.Discount > 0 {
		steps = append(steps, Step{Kind: StepDiscount, Amount: l.Discount})
	}
	return steps
}

// prorate is base × Days ÷ PeriodDays rounded half up.
func prorate(base int64, pr *Proration) (int64, bool) {
	if pr.PeriodDays <= 0 || pr.Days < 0 {
		return 0, false
	}
	r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(base), big.NewInt(pr.Days)), big.NewInt(pr.PeriodDays))
	return roundHalfUp(r)
}

// Net is the line's amount less its discount.
func (l *Line) Net() int64 { return l.Amount - l.Discount }

// DiscountRows are the invoice's discounts with what each takes off: PercentOff or AmountOff of
// the amounts of the lines of its product (or of all lines), each never more than what the ones
// before it left of the lines.
func (inv *Invoice) DiscountRows() []DiscountRow {
	var left int64
	for _, l := range inv.Lines {
		left += max(l.Amount, 0) // the lines' sum fits in a valid document
	}
	rows := make([]DiscountRow, 0, len(inv.Discounts))
	for i := range inv.Discounts {
		d := &inv.Discounts[i]
		var base int64
		for _, l := range inv.Lines {
			if d.AppliesTo == "" || l.Product == d.AppliesTo {
				base += max(l.Amount, 0)
			}
		}
		amount := min(d.Amount(base), left)
		left -= amount
		rows = append(rows, DiscountRow{Discount: d, Base: base, Amount: amount, Steps: discountSteps(d, base, amount)})
	}
	return rows
}

// DiscountsTotal is what the invoice's discounts take off together (DiscountRows).
func (inv *Invoice) DiscountsTotal() int64 {
	var sum int64
	for _, r := range inv.DiscountRows() {
		sum += r.Amount
	}
	return sum
}
