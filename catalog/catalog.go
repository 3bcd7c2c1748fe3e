// Package catalog is a tenant's catalog of plans and its change policy: the plans a customer may
// move to from the one they are on, on which terms (now with proration or at the end of the
// period, seat limits, pauses), the offers shown before a cancellation, and the exact preview of
// such a change. It is pure data and arithmetic on integer minor units, like the account document
// (package tenants/account) whose priced items it reuses; storing it is package tenants', serving
// it the API's and the portal's.
//
// A preview (Change.Preview) prorates by civil days: the current period's days both included,
// the change day on the new items; credit and charge are each computed exactly (math/big) from
// the items' period charges and rounded once, half up, to a whole minor unit of the currency
// (account.RoundHalfUp), their lines sharing the rounded amount by largest remainder so that
// every number adds up. The full rules are Change.Preview's and the README's "Proration".
package catalog

import "github.com/portico-billing/portico/tenants/account"

// Intervals of a plan.
const (
	IntervalDay   = "day"
	IntervalWeek  = "week"
	IntervalMonth = "month"
	IntervalYear  = "year"
)

// Plan is a plan of the tenant's catalog, as PUT /v1/plans/{id} takes it.
type Plan struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Features are what the plan includes, one short line each, shown side by side with the
	// other plans.
	Features []string `json:"features,omitempty"`
	// Currency is the ISO 4217 code of every amount of the plan.
	Currency string `json:"currency"`
	// Interval and IntervalCount are the billing period: IntervalCount Intervals (default 1).
	Interval      string `json:"interval"`
	IntervalCount int    `json:"intervalCount,omitempty"`
	// Items are the plan's priced items, as on a subscription of the account document.
	Items []Item `json:"items"`
	// Family groups plans a customer may move between: from a plan, the other active plans of its
	// family are offered, unless MovesTo names them.
	Family string `json:"family,omitempty"`
	// MovesTo, when set, lists the plans offered from this one, whatever their family.
	MovesTo []string `json:"movesTo,omitempty"`
	// Archived plans (DELETE /v1/plans/{id}) still show on the subscriptions that are on them and
	// are never offered.
	Archived bool `json:"archived,omitempty"`
}

// Item is a priced item of a plan: an item of the account document, with the limits a customer
// may change its quantity within (per_unit items only; both default to the item's quantity, so
// that an item without limits keeps its quantity).
type Item struct {
	account.Item
	MinQuantity *int64 `json:"minQuantity,omitempty"`
	MaxQuantity *int64 `json:"maxQuantity,omitempty"`
}

// Limits returns the quantities a customer may choose of the item: MinQuantity to MaxQuantity,
// each the item's quantity when unset.
func (it *Item) Limits() (lo, hi int64) {
	lo, hi = it.Quantity, it.Quantity
	if it.MinQuantity != nil {
		lo = *it.MinQuantity
	}
	if it.MaxQuantity != nil {
		hi = *it.MaxQuantity
	}
	return lo, hi
}

// SeatLimits returns the limits (Item.Limits) of the plan's per_unit item of product, the seats
// a subscription on the plan may have of it; ok is false when the plan has no such item.
func (p *Plan) SeatLimits(product string) (lo, hi int64, ok bool) {
	for i := range p.Items {
		if it := &p.Items[i]; it.Product == product && it.PricingModel == account.PricingPerUnit {
			lo, hi = it.Limits()
			return lo, hi, true
		}
	}
	return 0, 0, false
}

// When a change takes effect.
const (
	// Now: at once, with the unused time of the current plan credited and the new plan's
	// remaining time charged (day-based proration).
	Now = "now"
	// NowWithoutProration: at once, nothing credited or charged until the next period.
	NowWithoutProration = "now_without_proration"
	// PeriodEnd: at the end of the current period, nothing credited or charged.
	PeriodEnd = "period_end"
)

// Policy is the tenant's change policy. The zero value allows nothing but what the catalog
// offers at the end of the period: upgrades, downgrades and seat changes at PeriodEnd, no pause.
type Policy struct {
	// Upgrades (to a plan with a higher price per day) take effect Now, NowWithoutProration or
	// at PeriodEnd (default PeriodEnd).
	Upgrades string `json:"upgrades,omitempty"`
	// Downgrades take effect Now, NowWithoutProration or at PeriodEnd (default PeriodEnd).
	Downgrades string `json:"downgrades,omitempty"`
	// Seats changes of per_unit items take effect Now, NowWithoutProration or at PeriodEnd
	// (default PeriodEnd, the renewal).
	Seats string `json:"seats,omitempty"`
	// Pause allows pausing a subscription for 1 to PauseMaxPeriods periods (default 1).
	Pause           bool `json:"pause,omitempty"`
	PauseMaxPeriods int  `json:"pauseMaxPeriods,omitempty"`
	// Offers are shown before a cancellation with their reason, once per subscription.
	Offers []Offer `json:"offers,omitempty"`
}

// Offer is a retention offer for one cancellation reason: PercentOff off the next Periods
// periods (e.g. 50 % for 2 periods), accepted like a change.
type Offer struct {
	// Reason is a cancellation reason of the portal's cancel form (account.CancelReasons:
	// "pricing", "features", …), or "" for any reason without an offer of its own.
	Reason     string `json:"reason"`
	PercentOff int    `json:"percentOff"`
	Periods    int    `json:"periods"`
	// Message is an optional text for the customer, in the tenant's words.
	Message string `json:"message,omitempty"`
}

// ItemsFor returns the plan's items as a subscription moving to it has them: each per_unit item
// takes the quantity of the subscription's per_unit item of the same product (or, when the plan
// and the subscription each have exactly one per_unit item, of that one, whatever its product),
// clamped to the item's limits (Item.Limits); an item the subscription has no counterpart of
// keeps the plan's quantity. So a move carries the seats: 8 seats on Team stay 8 on Business,
// not Business's default 10, and become 5 on a plan of 5 to 200 seats when there were 3.
func (p *Plan) ItemsFor(s *account.Subscription) []account.Item {
	items := p.accountItems()
	if s == nil {
		return items
	}
	var from, to []int // per_unit items of the subscription and of the plan
	for i := range s.Items {
		if s.Items[i].PricingModel == account.PricingPerUnit {
			from = append(from, i)
		}
	}
	for i := range items {
		if items[i].PricingModel == account.PricingPerUnit {
			to = append(to, i)
		}
	}
	for _, i := range to {
		src := -1
		if len(from) == 1 && len(to) == 1 {
			src = from[0]
		} else {
			for _, j := range from {
				if s.Items[j].Product == items[i].Product {
					src = j
					break
				}
			}
		}
		if src < 0 {
			continue
		}
		lo, hi := p.Items[i].Limits()
		items[i].Quantity = min(max(s.Items[src].Quantity, lo), hi)
	}
	return items
}

// ItemsWith returns the plan's items with the quantities a move carried (ChangeTarget.Quantities,
// as ItemsFor computed them) on its per_unit items of the same product: what a backend that
// carries out the move sets on the subscription.
func (p *Plan) ItemsWith(q []account.ItemQuantity) []account.Item {
	items := p.accountItems()
	for i := range items {
		for _, c := range q {
			if items[i].PricingModel == account.PricingPerUnit && c.Product == items[i].Product {
				items[i].Quantity = c.Quantity
			}
		}
	}
	return items
}

// Quantities are the quantities of the per_unit items of items, in order: what a plan move
// records of the seats it carries (account.PendingChange.Quantities).
func Quantities(items []account.Item) []account.ItemQuantity {
	var out []account.ItemQuantity
	for i := range items {
		if items[i].PricingModel == account.PricingPerUnit {
			out = append(out, account.ItemQuantity{Product: items[i].Product, Quantity: items[i].Quantity})
		}
	}
	return out
}
