package account

import (
	"fmt"
	"math/big"
	"time"
)

// Usage: meters on usage-priced items, and the prepaid wallet.
//
// A Meter is the usage of one item of a subscription in its current period (the subscription's
// currentPeriodStart to currentPeriodEnd, both days included): the usage to date and a daily
// series for this period and the previous one, which the Usage section charts and projects.

// Limits of the usage fields.
const (
	// MaxDaily bounds each daily series of a meter: two months of days.
	MaxDaily = 62
	// MaxMeters bounds the meters of a document (one per usage-priced item).
	MaxMeters = 20
	// MaxMeterPeriodDays is the longest current period of a subscription with a meter, in days
	// (two years), which keeps a projection's arithmetic well inside int64.
	MaxMeterPeriodDays = 731
	// MaxWalletTransactions bounds a wallet's recent transactions.
	MaxWalletTransactions = 100
)

// Meter is the usage of an item in its subscription's current period.
type Meter struct {
	// Name is what is metered, as the customer knows it ("API calls").
	Name string `json:"name"`
	// Unit is the unit of the quantities ("call"); empty means the item's unit. Common units are
	// shown in the customer's language (i18n.Quantity).
	Unit string `json:"unit,omitempty"`
	// UsageToDate is the usage of the current period so far, at least the sum of Daily.
	UsageToDate int64 `json:"usageToDate"`
	// Daily is the usage per day of the current period (its most recent days, at most MaxDaily),
	// by date ascending, each date within the period.
	Daily []DailyUsage `json:"daily,omitempty"`
	// PreviousPeriodStart is the first day of the previous period; required with PreviousDaily.
	PreviousPeriodStart Date `json:"previousPeriodStart,omitempty"`
	// PreviousDaily is the usage per day of the previous period (at most MaxDaily), by date
	// ascending, each from PreviousPeriodStart to the day before the current period's start.
	PreviousDaily []DailyUsage `json:"previousDaily,omitempty"`
}

// DailyUsage is the usage of one day.
type DailyUsage struct {
	Date     Date  `json:"date"`
	Quantity int64 `json:"quantity"`
}

// Wallet transaction types.
const (
	WalletTopUp  = "top_up" // the customer bought credit
	WalletUsage  = "usage"  // credit used up by usage
	WalletGrant  = "grant"  // credit given by the tenant
	WalletExpiry = "expiry" // credit expired
	WalletRefund = "refund" // credit given back
)

var walletTypes = set(WalletTopUp, WalletUsage, WalletGrant, WalletExpiry, WalletRefund)

// Wallet is a prepaid credit balance in the account's currency.
type Wallet struct {
	// Currency must be the account's.
	Currency string `json:"currency"`
	// Balance is the credit left, in minor units.
	Balance int64 `json:"balance"`
	// ExpiresAt is the day the balance expires, when it does.
	ExpiresAt Date `json:"expiresAt,omitempty"`
	// Transactions are the recent movements (at most MaxWalletTransactions), shown newest first.
	Transactions []WalletTransaction `json:"transactions,omitempty"`
}

// WalletTransaction is one movement of a wallet: Amount in minor units is positive for a
// top_up, grant or refund and negative for usage or an expiry.
type WalletTransaction struct {
	ID          string `json:"id"`
	Date        Date   `json:"date"`
	Type        string `json:"type"`
	Amount      int64  `json:"amount"`
	Description string `json:"description,omitempty"`
}

// Credit reports whether the transaction type adds to the balance.
func (t *WalletTransaction) Credit() bool {
	return t.Type == WalletTopUp || t.Type == WalletGrant || t.Type == WalletRefund
}

// days is the number of days from a to b (b − a); both must be valid dates.
func days(a, b Date) int {
	ta, _ := a.Time()
	tb, _ := b.Time()
	return int(tb.Sub(ta) / (24 * time.Hour))
}

// validateMeter adds the problems of the meter at path f of item it of subscription s.
func (p *problems) meter(f string, m *Meter, it *Item, s *Subscription) {
	switch it.PricingModel {
	case PricingPerUnit, PricingTiered, PricingVolume:
	default:
		p.add(f, "is only for items priced per_unit, tiered or volume, not %s", it.PricingModel)
		return
	}
	p.text(f+".name", m.Name, true, 100)
	p.text(f+".unit", m.Unit, false, 40)
	if m.UsageToDate < 0 || m.UsageToDate > MaxQuantity {
		p.add(f+".usageToDate", "must be between 0 and %d", int64(MaxQuantity))
	}
	start, end := s.CurrentPeriodStart, s.CurrentPeriodEnd
	_, okS := start.Time()
	_, okE := end.Time()
	if !okS || !okE {
		p.add(f, "needs the subscription's currentPeriodStart and currentPeriodEnd")
		return
	}
	if n := days(start, end); n < 0 || n >= MaxMeterPeriodDays {
		p.add(f, "the subscription's current period must run forward and be at most %d days", MaxMeterPeriodDays)
		return
	}
	sum := p.daily(f+".daily", m.Daily, start, end)
	if sum > m.UsageToDate && m.UsageToDate >= 0 {
		p.add(f+".usageToDate", "is %d, less than the sum of daily, %d", m.UsageToDate, sum)
	}
	switch {
	case len(m.PreviousDaily) > 0 && m.PreviousPeriodStart == "":
		p.add(f+".previousPeriodStart", "is required with previousDaily")
	case m.PreviousPeriodStart != "":
		ps, ok := m.PreviousPeriodStart.Time()
		if !ok {
			p.date(f+".previousPeriodStart", m.PreviousPeriodStart)
			return
		}
		if n := days(m.PreviousPeriodStart, start); n < 1 || n > MaxMeterPeriodDays {
			p.add(f+".previousPeriodStart", "must be from 1 to %d days before currentPeriodStart", MaxMeterPeriodDays)
			return
		}
		prevEnd := Date(ps.AddDate(0, 0, days(m.PreviousPeriodStart, start)-1).Format(time.DateOnly))
		p.daily(f+".previousDaily", m.PreviousDaily, m.PreviousPeriodStart, prevEnd)
	}
}

// daily adds the problems of a daily series whose dates must be from first to last and returns
// the sum of its quantities (each at most MaxQuantity, at most MaxDaily of them: no overflow).
func (p *problems) daily(f string, series []DailyUsage, first, last Date) int64 {
	if len(series) > MaxDaily {
		p.add(f, "has %d entries, the limit is %d", len(series), MaxDaily)
		return 0
	}
	var sum int64
	for i, d := range series {
		fd := fmt.Sprintf("%s[%d]", f, i)
		if _, ok := d.Date.Time(); !ok {
			p.add(fd+".date", "%q is not a date in the form YYYY-MM-DD", string(d.Date))
		} else if d.Date < first || d.Date > last {
			p.add(fd+".date", "%s is not within the period %s to %s", d.Date, first, last)
		} else if i > 0 && d.Date <= series[i-1].Date {
			p.add(fd+".date", "%s is not after the previous entry's %s; give days in ascending order, each once", d.Date, series[i-1].Date)
		}
		if d.Quantity < 0 || d.Quantity > MaxQuantity {
			p.add(fd+".quantity", "must be between 0 and %d", int64(MaxQuantity))
			continue
		}
		sum += d.Quantity
	}
	return sum
}

// validateWallet adds the problems of the account's wallet.
func (a *Account) validateWallet(p *problems) {
	w := a.Wallet
	if w == nil {
		return
	}
	if w.Currency != a.Currency {
		p.add("wallet.currency", "%q must be the account's currency %q", w.Currency, a.Currency)
	}
	p.amount("wallet.balance", w.Balance)
	p.date("wallet.expiresAt", w.ExpiresAt)
	if len(w.Transactions) > MaxWalletTransactions {
		p.add("wallet.transactions", "has %d entries, the limit is %d", len(w.Transactions), MaxWalletTransactions)
		return
	}
	ids := map[string]bool{}
	for i := range w.Transactions {
		t := &w.Transactions[i]
		f := fmt.Sprintf("wallet.transactions[%d]", i)
		if !ValidID(t.ID) {
			p.add(f+".id", "is required and must be an identifier")
		} else if ids[t.ID] {
			p.add(f+".id", "%q is used twice", t.ID)
		}
		ids[t.ID] = true
		p.requiredDate(f+".date", t.Date)
		p.text(f+".description", t.Description, false, 200)
		switch {
		case !walletTypes[t.Type]:
			p.add(f+".type", "%q is not one of top_up, usage, grant, expiry, refund", t.Type)
		case t.Amount == 0:
			p.add(f+".amount", "must not be zero")
		case t.Credit() && t.Amount < 0:
			p.add(f+".amount", "must be positive for a %s", t.Type)
		case !t.Credit() && t.Amount > 0:
			p.add(f+".amount", "must be negative for %s", t.Type)
		case t.Amount == -MaxAmount-1:
			p.add(f+".amount", "is out of range")
		}
	}
}

// meters adds the problems of every meter of the subscriptions and their count.
func (a *Account) validateMeters(p *problems) {
	n := 0
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		if len(s.Items) > MaxItems {
			continue
		}
		for j := range s.Items {
			if m := s.Items[j].Meter; m != nil {
				n++
				p.meter(fmt.Sprintf("subscriptions[%d].items[%d].meter", i, j), m, &s.Items[j], s)
			}
		}
	}
	if n > MaxMeters {
		p.add("subscriptions", "have %d meters, the limit is %d", n, MaxMeters)
	}
}

// MeterUnit is the unit of the meter's quantities: its own, else the item's.
func (it *Item) MeterUnit() string {
	if it.Meter != nil && it.Meter.Unit != "" {
		return it.Meter.Unit
	}
	return it.Unit
}

// RunRateDays is the number of days the projection's daily run rate is taken over.
const RunRateDays = 7

// Projection is a meter's usage projected to the end of the period at the daily run rate of its
// last RunRateDays days: the days ending on the last day of the daily series (AsOf), counted
// from the period's start when it began fewer days before; a day without an entry counts as no
// usage. Projected = UsageToDate + round half up(WindowUsage / WindowDays × RemainingDays),
// RemainingDays being the days after AsOf to the period's end.
type Projection struct {
	AsOf          Date
	WindowDays    int
	WindowUsage   int64
	RemainingDays int
	Projected     int64
}

// Project projects the item's meter to the end of its subscription's current period; ok is false
// without a meter or a daily series (a validated document).
func (it *Item) Project(s *Subscription) (pr Projection, ok bool) {
	m := it.Meter
	if m == nil || len(m.Daily) == 0 {
		return Projection{}, false
	}
	asOf := m.Daily[len(m.Daily)-1].Date
	t, okT := asOf.Time()
	if !okT {
		return Projection{}, false
	}
	window := RunRateDays
	if n := days(s.CurrentPeriodStart, asOf) + 1; n < window {
		window = n
	}
	from := Date(t.AddDate(0, 0, 1-window).Format(time.DateOnly))
	var used int64
	for _, d := range m.Daily {
		if d.Date >= from {
			used += d.Quantity
		}
	}
	remaining := max(days(asOf, s.CurrentPeriodEnd), 0)
	// used ≤ 62 × MaxQuantity, remaining < MaxMeterPeriodDays: the product fits in int64, but
	// big.Int keeps the rounding exact and the argument simple.
	extra := new(big.Int).Mul(big.NewInt(used), big.NewInt(int64(remaining)))
	extra.Mul(extra, big.NewInt(2))
	extra.Add(extra, big.NewInt(int64(window)))
	extra.Quo(extra, big.NewInt(2*int64(window))) // round half up: (2·x + w) / 2w
	return Projection{AsOf: asOf, WindowDays: window, WindowUsage: used, RemainingDays: remaining,
		Projected: m.UsageToDate + extra.Int64()}, true
}

// TierPosition is where a quantity falls in an item's tiers.
type TierPosition struct {
	// Index is the tier's index, Count the number of tiers.
	Index, Count int
	// From and To are the tier's first and last unit (To is -1 for "and above").
	From, To int64
	// Next is the first unit of the next tier, 0 in the last tier.
	Next int64
}

// Tier is where quantity falls in the item's tiers; ok is false for an item without tiers.
func (it *Item) Tier(quantity int64) (pos TierPosition, ok bool) {
	if len(it.Tiers) == 0 {
		return TierPosition{}, false
	}
	from := int64(1)
	for i := range it.Tiers {
		t := &it.Tiers[i]
		if t.UpTo == nil || quantity <= *t.UpTo || i == len(it.Tiers)-1 {
			pos = TierPosition{Index: i, Count: len(it.Tiers), From: from, To: -1}
			if t.UpTo != nil {
				pos.To = *t.UpTo
				if i < len(it.Tiers)-1 {
					pos.Next = *t.UpTo + 1
				}
			}
			return pos, true
		}
		from = *t.UpTo + 1
	}
	return TierPosition{}, false
}

// ChargeFor prices the item as if its quantity were q (the cost of a meter's usage so far, or of
// its projection).
func (it *Item) ChargeFor(q int64) (ItemCharge, error) {
	c := *it
	c.Quantity = q
	return c.Charge()
}
