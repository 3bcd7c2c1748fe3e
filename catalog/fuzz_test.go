package catalog

import (
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// FuzzPreview previews changes built from arbitrary periods, dates, intervals, prices (integer,
// decimal, tiered, volume), quantities and policies: Preview never panics, refuses only with an
// ErrPreview, and every preview it gives holds checkPreview's invariants and, at the same
// interval with Now, the price difference over the remaining days within one minor unit.
func FuzzPreview(f *testing.F) {
	f.Add(uint16(9556), uint16(30), uint16(35), uint8(2), uint8(1), int64(1000), int64(2500), int64(5), int64(8), "0.5", uint8(31), false)
	f.Add(uint16(8825), uint16(28), uint16(28), uint8(3), uint8(1), int64(12345), int64(20000), int64(1), int64(3), "12.345", uint8(31), true)
	f.Add(uint16(8800), uint16(365), uint16(65), uint8(3), uint8(1), int64(36600), int64(73200), int64(1500), int64(1500), "0.001", uint8(31), false)
	f.Add(uint16(0), uint16(0), uint16(0), uint8(0), uint8(0), int64(-1), int64(1<<62), int64(-5), int64(1<<40), "1e3", uint8(9), true)
	f.Fuzz(func(t *testing.T, startDay, length, offset uint16, interval, count uint8, curPrice, newPrice, qty, newQty int64,
		decimal string, timing uint8, seats bool) {
		epoch := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		start := epoch.AddDate(0, 0, int(startDay)%20000)
		end := start.AddDate(0, 0, int(length)%800)
		day := start.AddDate(0, 0, int(offset)%900-20) // sometimes outside the period
		date := func(t time.Time) string { return t.Format(time.DateOnly) }
		tiers := []account.Tier{{UpTo: amt(1000), UnitAmount: amt(curPrice % 1000)}, {UnitAmountDecimal: decimal}}
		sub := subOn(date(start), date(end),
			flatItem("Base", curPrice),
			unitItem("Seats", qty, curPrice/7),
			account.Item{Product: "Calls", PricingModel: account.PricingTiered, Quantity: qty, Tiers: tiers},
			feeItem("Onboarding", curPrice/3))
		intervals := []string{IntervalDay, IntervalWeek, IntervalMonth, IntervalYear, "quarter"}
		target := &Plan{ID: "target", Currency: "EUR", Interval: intervals[int(interval)%len(intervals)], IntervalCount: int(count) % 40,
			Items: []Item{
				{Item: flatItem("Base", newPrice)},
				{Item: account.Item{Product: "Calls", PricingModel: account.PricingVolume, Quantity: newQty, Tiers: tiers}},
				{Item: account.Item{Product: "Usage", PricingModel: account.PricingPerUnit, Quantity: newQty, UnitAmountDecimal: decimal}},
				{Item: feeItem("Setup", newPrice/5)},
			}}
		c := Change{Subscription: sub, Currency: "EUR", Date: account.Date(date(day))}
		if seats {
			c.Seats = &Seats{Item: 1, Quantity: newQty}
		} else {
			c.Target = target
		}
		timings := []string{"", Now, NowWithoutProration, PeriodEnd, "later"}
		po := &Policy{Upgrades: timings[int(timing)%len(timings)], Downgrades: timings[int(timing/5)%len(timings)],
			Seats: timings[int(timing/25)%len(timings)]}
		p, err := c.Preview(po)
		if err != nil {
			if !errors.Is(err, ErrPreview) {
				t.Fatalf("Preview: %v is not an ErrPreview", err)
			}
			return
		}
		checkPreview(t, &c, p)
		if err := p.Check(); err != nil {
			t.Fatalf("Check refuses Change.Preview's preview: %v", err)
		}
		if p.Timing == Now && !p.IntervalChanged {
			exact := new(big.Rat).SetFrac(new(big.Int).Mul(new(big.Int).Sub(big.NewInt(p.NewAmount), big.NewInt(p.CurrentAmount)),
				big.NewInt(p.RemainingDays)), big.NewInt(p.PeriodDays))
			var fees int64
			for _, l := range p.ChargeLines {
				if l.Kind == LineFee {
					fees += l.Amount
				}
			}
			got := new(big.Int).Sub(big.NewInt(p.AmountDue), big.NewInt(p.CreditCarried))
			got.Sub(got, big.NewInt(fees))
			diff := new(big.Rat).Sub(exact, new(big.Rat).SetInt(got))
			if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
				t.Fatalf("net %s (fees %d apart) is %s from the price difference over %d/%d days",
					got, fees, diff.FloatString(3), p.RemainingDays, p.PeriodDays)
			}
		}
	})
}
