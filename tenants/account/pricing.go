package account

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
)

// decimalRE is the accepted form of a fractional minor-unit price: digits, optionally a point and at
// most twelve decimals. Exponents, signs and fractions are refused so that a price reads the same to
// a person and to Portico.
var decimalRE = regexp.MustCompile(`^[0-9]{1,15}(\.[0-9]{1,12})?$`)

// ErrPricing is returned for an item whose price cannot be computed.
var ErrPricing = errors.New("account: item cannot be priced")

// Price is a unit price in minor units: an integer amount or an exact decimal fraction.
type Price struct{ r *big.Rat }

// parsePrice returns the unit price of either form; exactly one must be set.
func parsePrice(amount *int64, decimal string) (Price, error) {
	switch {
	case amount != nil && decimal != "":
		return Price{}, fmt.Errorf("%w: both unitAmount and unitAmountDecimal are set", ErrPricing)
	case amount != nil:
		if *amount < 0 {
			return Price{}, fmt.Errorf("%w: negative unit amount", ErrPricing)
		}
		return Price{new(big.Rat).SetInt64(*amount)}, nil
	case decimal != "":
		if !decimalRE.MatchString(decimal) {
			return Price{}, fmt.Errorf("%w: unitAmountDecimal %q is not a non-negative decimal", ErrPricing, decimal)
		}
		r, ok := new(big.Rat).SetString(decimal)
		if !ok {
			return Price{}, fmt.Errorf("%w: unitAmountDecimal %q is not a decimal", ErrPricing, decimal)
		}
		return Price{r}, nil
	}
	return Price{}, fmt.Errorf("%w: neither unitAmount nor unitAmountDecimal is set", ErrPricing)
}

// IsZero reports whether the price is zero (or unset).
func (p Price) IsZero() bool { return p.r == nil || p.r.Sign() == 0 }

// Rat returns the price as an exact rational number of minor units.
func (p Price) Rat() *big.Rat {
	if p.r == nil {
		return new(big.Rat)
	}
	return new(big.Rat).Set(p.r)
}

// Integral reports whether the price is a whole number of minor units, and returns it.
func (p Price) Integral() (int64, bool) {
	if p.r == nil {
		return 0, true
	}
	if !p.r.IsInt() || !p.r.Num().IsInt64() {
		return 0, false
	}
	return p.r.Num().Int64(), true
}

// Decimal returns the price in minor units as a decimal string without trailing zeros ("0.3", "12").
func (p Price) Decimal() string {
	if p.r == nil {
		return "0"
	}
	s := p.r.FloatString(12)
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

// TierCharge is the part of an item's amount that one tier contributes.
type TierCharge struct {
	// From and To are the first and last unit of the band (To is -1 for "and above").
	From, To int64
	// Units is how many of the item's units fall into the band (for volume pricing, all or none).
	Units int64
	// UnitPrice is the tier's price per unit.
	UnitPrice Price
	// Flat is the tier's flat amount, charged when Units > 0.
	Flat int64
	// Amount is this band's charge in minor units, rounded half up.
	Amount int64
}

// ItemCharge is an item priced for one period.
type ItemCharge struct {
	// Amount is the item's total in minor units.
	Amount int64
	// UnitPrice is the price per unit for flat, per-unit and fee items.
	UnitPrice Price
	// Tiers holds the band-by-band breakdown of tiered and volume items.
	Tiers []TierCharge
}

func mulQty(p Price, qty int64) *big.Rat {
	return new(big.Rat).Mul(p.Rat(), new(big.Rat).SetInt64(qty))
}

// Charge prices the item for one period. Each item is rounded to whole minor units on its own,
// as an invoice line would be.
func (it *Item) Charge() (ItemCharge, error) {
	if it.Quantity < 0 {
		return ItemCharge{}, fmt.Errorf("%w: negative quantity", ErrPricing)
	}
	switch it.PricingModel {
	case PricingFlat:
		p, err := parsePrice(it.UnitAmount, it.UnitAmountDecimal)
		if err != nil {
			return ItemCharge{}, err
		}
		amount, ok := roundHalfUp(p.Rat())
		if !ok {
			return ItemCharge{}, overflow("%s", priceField(it.UnitAmount))
		}
		return ItemCharge{Amount: amount, UnitPrice: p}, nil
	case PricingPerUnit, PricingFee:
		p, err := parsePrice(it.UnitAmount, it.UnitAmountDecimal)
		if err != nil {
			return ItemCharge{}, err
		}
		amount, ok := roundHalfUp(mulQty(p, it.Quantity))
		if !ok {
			return ItemCharge{}, overflow("quantity × %s", priceField(it.UnitAmount))
		}
		return ItemCharge{Amount: amount, UnitPrice: p}, nil
	case PricingTiered, PricingVolume:
		return it.tieredCharge()
	}
	return ItemCharge{}, fmt.Errorf("%w: unknown pricing model %q", ErrPricing, it.PricingModel)
}

// priceField names the field a price was given in, for error messages.
func priceField(amount *int64) string {
	if amount != nil {
		return "unitAmount"
	}
	return "unitAmountDecimal"
}

// bandWhat describes a tier's charge for an overflow error.
func bandWhat(i int, t *Tier, units string) string {
	what := fmt.Sprintf("tiers[%d]: %s × %s", i, units, priceField(t.UnitAmount))
	if t.FlatAmount != nil {
		what += " + flatAmount"
	}
	return what
}

func (it *Item) tieredCharge() (ItemCharge, error) {
	if len(it.Tiers) == 0 {
		return ItemCharge{}, fmt.Errorf("%w: %s pricing without tiers", ErrPricing, it.PricingModel)
	}
	var (
		out   ItemCharge
		total       = new(big.Rat)
		from  int64 = 1
		rem         = it.Quantity
	)
	for i := range it.Tiers {
		t := &it.Tiers[i]
		p, err := parsePrice(t.UnitAmount, t.UnitAmountDecimal)
		if err != nil {
			if t.UnitAmount == nil && t.UnitAmountDecimal == "" && t.FlatAmount != nil {
				p = Price{new(big.Rat)} // a tier with only a flat amount
			} else {
				return ItemCharge{}, fmt.Errorf("tier %d: %w", i, err)
			}
		}
		to := int64(-1)
		if t.UpTo != nil {
			to = *t.UpTo
			if to < from {
				return ItemCharge{}, fmt.Errorf("%w: tier %d ends at %d, before it starts at %d", ErrPricing, i, to, from)
			}
		} else if i != len(it.Tiers)-1 {
			return ItemCharge{}, fmt.Errorf("%w: only the last tier may be open-ended", ErrPricing)
		}
		var flat int64
		if t.FlatAmount != nil {
			if *t.FlatAmount < 0 {
				return ItemCharge{}, fmt.Errorf("%w: tier %d has a negative flat amount", ErrPricing, i)
			}
			flat = *t.FlatAmount
		}
		tc := TierCharge{From: from, To: to, UnitPrice: p, Flat: flat}
		if it.PricingModel == PricingTiered {
			units := rem
			if to >= 0 && to-from+1 < units { // from ≥ 1 and to ≥ from: no overflow
				units = to - from + 1
			}
			if units < 0 {
				units = 0
			}
			rem -= units
			tc.Units = units
			if units > 0 {
				r := mulQty(p, units)
				r.Add(r, new(big.Rat).SetInt64(flat))
				amount, ok := roundHalfUp(r)
				if !ok {
					return ItemCharge{}, overflow("%s", bandWhat(i, t, "units"))
				}
				tc.Amount = amount
				total.Add(total, r)
			}
		} else if it.Quantity >= from && (to < 0 || it.Quantity <= to) && it.Quantity > 0 {
			r := mulQty(p, it.Quantity)
			r.Add(r, new(big.Rat).SetInt64(flat))
			amount, ok := roundHalfUp(r)
			if !ok {
				return ItemCharge{}, overflow("%s", bandWhat(i, t, "quantity"))
			}
			tc.Units = it.Quantity
			tc.Amount = amount
			total.Add(total, r)
		}
		out.Tiers = append(out.Tiers, tc)
		if to >= 0 {
			if to == math.MaxInt64 && i != len(it.Tiers)-1 {
				return ItemCharge{}, fmt.Errorf("%w: tier %d ends at the largest quantity; no tier can follow it", ErrPricing, i)
			}
			from = to + 1
		}
	}
	if it.PricingModel == PricingTiered && rem > 0 {
		return ItemCharge{}, fmt.Errorf("%w: %d units fall beyond the last tier", ErrPricing, rem)
	}
	if it.PricingModel == PricingVolume && it.Quantity > 0 && total.Sign() == 0 {
		last := it.Tiers[len(it.Tiers)-1]
		if last.UpTo != nil && it.Quantity > *last.UpTo {
			return ItemCharge{}, fmt.Errorf("%w: quantity %d falls beyond the last tier", ErrPricing, it.Quantity)
		}
	}
	amount, ok := roundHalfUp(total)
	if !ok {
		return ItemCharge{}, overflow("sum of the tiers")
	}
	out.Amount = amount
	return out, nil
}

// NextCharge is the estimated amount of the subscription's next charge in minor units, its
// Breakdown's Total: the value the document gives, or the sum of its items priced for one period
// (one-off fees included, as they are billed with the next charge) less the discounts that apply
// on the next charge date.
func (s *Subscription) NextCharge() (int64, error) {
	b, err := s.Breakdown()
	if err != nil {
		if s.EstimatedNextCharge != nil {
			return *s.EstimatedNextCharge, nil
		}
		return 0, err
	}
	return b.Total, nil
}

// ItemsTotal is the sum of the subscription's items, each priced for one period. A sum beyond
// MaxAmount is an ErrOverflow error.
func (s *Subscription) ItemsTotal() (int64, error) { return ItemsTotal(s.Items) }

// ItemsTotal is the sum of items each priced for one period, as Subscription.ItemsTotal (the
// catalog's plans are priced the same way). A sum beyond MaxAmount is an ErrOverflow error.
func ItemsTotal(items []Item) (int64, error) {
	var sum int64
	for i := range items {
		c, err := items[i].Charge()
		if err != nil {
			return 0, fmt.Errorf("pricing item %q: %w", items[i].Product, err)
		}
		var ok bool
		if sum, ok = addAmounts(sum, c.Amount); !ok {
			return 0, overflow("sum of the items")
		}
	}
	return sum, nil
}
