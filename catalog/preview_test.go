package catalog

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

func amt(v int64) *int64 { return &v }

func flatItem(product string, amount int64) account.Item {
	return account.Item{Product: product, PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: amt(amount)}
}

func unitItem(product string, qty, unit int64) account.Item {
	return account.Item{Product: product, PricingModel: account.PricingPerUnit, Quantity: qty, UnitAmount: amt(unit)}
}

func feeItem(product string, amount int64) account.Item {
	return account.Item{Product: product, PricingModel: account.PricingFee, Quantity: 1, UnitAmount: amt(amount)}
}

func subOn(start, end string, items ...account.Item) *account.Subscription {
	return &account.Subscription{ID: "sub_1", Name: "Plan", Status: account.SubActive,
		CurrentPeriodStart: account.Date(start), CurrentPeriodEnd: account.Date(end), Items: items}
}

func planOf(id, currency, interval string, items ...account.Item) *Plan {
	pl := &Plan{ID: id, Name: id, Currency: currency, Interval: interval}
	for _, it := range items {
		pl.Items = append(pl.Items, Item{Item: it})
	}
	return pl
}

// want is the hand-computed part of a preview a test checks.
type want struct {
	kind, timing         string
	effective            account.Date
	periodDays, remain   int64
	intervalChanged      bool
	credit, charge       int64
	due, carried         int64
	nextDate             account.Date
	nextSubtotal         int64
	creditApplied, left  int64
	nextAmount           int64
	creditLines, charges []int64 // line amounts, in order
}

func TestPreviewHandComputed(t *testing.T) {
	t.Parallel()
	now := &Policy{Upgrades: Now, Downgrades: Now, Seats: Now}
	march := func(items ...account.Item) *account.Subscription { return subOn("2026-03-01", "2026-03-31", items...) }
	basic := planOf("basic", "EUR", IntervalMonth, flatItem("Basic", 1000))
	pro := planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500))
	seats := func(n int64) *account.Subscription {
		return subOn("2026-04-01", "2026-04-30", flatItem("Platform", 3000), unitItem("Seats", n, 1200))
	}
	// 1500 API calls, graduated: 1000 × 2 + 500 × 1 = 2500.
	tiered := account.Item{Product: "API calls", PricingModel: account.PricingTiered, Quantity: 1500,
		Tiers: []account.Tier{{UpTo: amt(1000), UnitAmount: amt(2)}, {UnitAmount: amt(1)}}}
	// The same 1500 calls by volume: all at the second tier's 2 = 3000.
	volume := account.Item{Product: "API calls", PricingModel: account.PricingVolume, Quantity: 1500,
		Tiers: []account.Tier{{UpTo: amt(1000), UnitAmount: amt(4)}, {UnitAmount: amt(2)}}}

	// Team with n seats in December 2026; Business with 5 to 200 seats (10 by default), and
	// Business+ with guests too.
	team := func(n int64) *account.Subscription {
		return subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Seats", n, 900))
	}
	business := planOf("business", "EUR", IntervalMonth, flatItem("Business", 14900))
	business.Items = append(business.Items, Item{Item: unitItem("Seats", 10, 700), MinQuantity: amt(5), MaxQuantity: amt(200)})
	businessPlus := planOf("business-plus", "EUR", IntervalMonth, flatItem("Business", 14900))
	businessPlus.Items = append(businessPlus.Items, Item{Item: unitItem("Seats", 10, 700), MinQuantity: amt(5), MaxQuantity: amt(200)},
		Item{Item: unitItem("Guests", 2, 100)})
	tests := []struct {
		name   string
		change Change
		policy *Policy
		want   want
	}{{
		// 31 days in March; from the 16th to the 31st, the 16th included: 16 remain.
		// credit 1000 × 16/31 = 516.13 → 516; charge 2500 × 16/31 = 1290.32 → 1290; due 774.
		name:   "upgrade mid-period now",
		change: Change{Subscription: march(flatItem("Basic", 1000)), Currency: "EUR", Target: pro, Date: "2026-03-16"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-03-16", periodDays: 31, remain: 16,
			credit: 516, charge: 1290, due: 774, nextDate: "2026-04-01", nextSubtotal: 2500, nextAmount: 2500,
			creditLines: []int64{516}, charges: []int64{1290}},
	}, {
		// The policy's default for downgrades is the period end: nothing now, Basic from 1 April.
		name:   "downgrade at period end",
		change: Change{Subscription: march(flatItem("Pro", 2500)), Currency: "EUR", Target: basic, Date: "2026-03-16"},
		policy: &Policy{Upgrades: Now},
		want: want{kind: ChangeDowngrade, timing: PeriodEnd, effective: "2026-04-01", periodDays: 31, remain: 16,
			nextDate: "2026-04-01", nextSubtotal: 1000, nextAmount: 1000},
	}, {
		// credit 2500 × 16/31 = 1290.32 → 1290; charge 1000 × 16/31 = 516.13 → 516;
		// 774 carried to April's invoice: 1000 − 774 = 226.
		name:   "downgrade now carries the credit",
		change: Change{Subscription: march(flatItem("Pro", 2500)), Currency: "EUR", Target: basic, Date: "2026-03-16"},
		policy: now,
		want: want{kind: ChangeDowngrade, timing: Now, effective: "2026-03-16", periodDays: 31, remain: 16,
			credit: 1290, charge: 516, carried: 774, nextDate: "2026-04-01", nextSubtotal: 1000,
			creditApplied: 774, nextAmount: 226, creditLines: []int64{1290}, charges: []int64{516}},
	}, {
		// On the first day all 31 days are unused: credit 2500, charge 100 (a plan of 100), 2400
		// carried; April's 100 takes 100 of it, 2300 is left for later invoices.
		name: "downgrade on the first day of the period",
		change: Change{Subscription: march(flatItem("Pro", 2500)), Currency: "EUR",
			Target: planOf("mini", "EUR", IntervalMonth, flatItem("Mini", 100)), Date: "2026-03-01"},
		policy: now,
		want: want{kind: ChangeDowngrade, timing: Now, effective: "2026-03-01", periodDays: 31, remain: 31,
			credit: 2500, charge: 100, carried: 2400, nextDate: "2026-04-01", nextSubtotal: 100,
			creditApplied: 100, left: 2300, creditLines: []int64{2500}, charges: []int64{100}},
	}, {
		// April has 30 days; from the 21st, 10 remain. Platform 3000 is credited and charged
		// alike (1000 each); seats 5 × 1200 = 6000 → 8 × 1200 = 9600: credit 6000 × 10/30 = 2000,
		// charge 9600 × 10/30 = 3200. Credit 3000, charge 4200, due 1200 = 3 seats × 1200 × 10/30.
		name:   "seats up now",
		change: Change{Subscription: seats(5), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: 8}, Date: "2026-04-21"},
		policy: &Policy{Seats: Now},
		want: want{kind: ChangeSeats, timing: Now, effective: "2026-04-21", periodDays: 30, remain: 10,
			credit: 3000, charge: 4200, due: 1200, nextDate: "2026-05-01", nextSubtotal: 3000 + 9600,
			nextAmount: 12600, creditLines: []int64{1000, 2000}, charges: []int64{1000, 3200}},
	}, {
		// A seat increase follows Policy.Seats, not Upgrades: at renewal, nothing now.
		name:   "seats up at renewal",
		change: Change{Subscription: seats(5), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: 8}, Date: "2026-04-21"},
		policy: &Policy{Upgrades: Now},
		want: want{kind: ChangeSeats, timing: PeriodEnd, effective: "2026-05-01", periodDays: 30, remain: 10,
			nextDate: "2026-05-01", nextSubtotal: 12600, nextAmount: 12600},
	}, {
		// 8 → 5 seats on the 21st: credit 1000 + 9600 × 10/30 = 1000 + 3200, charge 1000 + 2000;
		// 1200 carried; May: 3000 + 6000 − 1200 = 7800.
		name:   "seats down now",
		change: Change{Subscription: seats(8), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: 5}, Date: "2026-04-21"},
		policy: &Policy{Seats: Now},
		want: want{kind: ChangeSeats, timing: Now, effective: "2026-04-21", periodDays: 30, remain: 10,
			credit: 4200, charge: 3000, carried: 1200, nextDate: "2026-05-01", nextSubtotal: 9000,
			creditApplied: 1200, nextAmount: 7800, creditLines: []int64{1000, 3200}, charges: []int64{1000, 2000}},
	}, {
		name:   "seats down at renewal",
		change: Change{Subscription: seats(8), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: 5}, Date: "2026-04-21"},
		policy: &Policy{},
		want: want{kind: ChangeSeats, timing: PeriodEnd, effective: "2026-05-01", periodDays: 30, remain: 10,
			nextDate: "2026-05-01", nextSubtotal: 9000, nextAmount: 9000},
	}, {
		// January: 31 days, from the 21st 11 remain. Tiered 2500 → volume 3000.
		// credit 2500 × 11/31 = 887.10 → 887; charge 3000 × 11/31 = 1064.52 → 1065; due 178.
		name: "tiered to volume",
		change: Change{Subscription: subOn("2026-01-01", "2026-01-31", tiered), Currency: "EUR",
			Target: planOf("volume", "EUR", IntervalMonth, volume), Date: "2026-01-21"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-01-21", periodDays: 31, remain: 11,
			credit: 887, charge: 1065, due: 178, nextDate: "2026-02-01", nextSubtotal: 3000, nextAmount: 3000,
			creditLines: []int64{887}, charges: []int64{1065}},
	}, {
		// Yen have no minor unit: amounts are whole yen. June: 30 days, from the 11th 20 remain.
		// credit ¥980 × 20/30 = 653.33 → ¥653; charge ¥1980 × 20/30 = ¥1320; due ¥667.
		name: "JPY, zero decimals",
		change: Change{Subscription: subOn("2026-06-01", "2026-06-30", flatItem("Lite", 980)), Currency: "JPY",
			Target: planOf("std", "JPY", IntervalMonth, flatItem("Standard", 1980)), Date: "2026-06-11"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-06-11", periodDays: 30, remain: 20,
			credit: 653, charge: 1320, due: 667, nextDate: "2026-07-01", nextSubtotal: 1980, nextAmount: 1980,
			creditLines: []int64{653}, charges: []int64{1320}},
	}, {
		// Dinars have 1000 fils. February 2026: 28 days, from the 15th 14 remain, exactly half.
		// credit 12.345 KWD = 12345 fils × 14/28 = 6172.5 → 6173 (half up); charge 20000 × 1/2
		// = 10000; due 3827 fils = 3.827 KWD.
		name: "KWD, three decimals, a half rounds up",
		change: Change{Subscription: subOn("2026-02-01", "2026-02-28", flatItem("Lite", 12345)), Currency: "KWD",
			Target: planOf("std", "KWD", IntervalMonth, flatItem("Standard", 20000)), Date: "2026-02-15"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-02-15", periodDays: 28, remain: 14,
			credit: 6173, charge: 10000, due: 3827, nextDate: "2026-03-01", nextSubtotal: 20000, nextAmount: 20000,
			creditLines: []int64{6173}, charges: []int64{10000}},
	}, {
		// February 2024 has 29 days; on the 29th, the last day, one remains.
		// credit 2900 × 1/29 = 100; charge 5800 × 1/29 = 200; due 100.
		name: "on 29 February, the last day of the period",
		change: Change{Subscription: subOn("2024-02-01", "2024-02-29", flatItem("Basic", 2900)), Currency: "EUR",
			Target: planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 5800)), Date: "2024-02-29"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2024-02-29", periodDays: 29, remain: 1,
			credit: 100, charge: 200, due: 100, nextDate: "2024-03-01", nextSubtotal: 5800, nextAmount: 5800,
			creditLines: []int64{100}, charges: []int64{200}},
	}, {
		// A yearly period 15 Jan 2024 – 14 Jan 2025 spans 29 February: 366 days. 29 February is
		// its 46th day (17 in January, 28 in February before it): 366 − 45 = 321 remain.
		// credit 36600 × 321/366 = 32100; charge 73200 × 321/366 = 64200; due 32100.
		name: "a yearly period spanning 29 February",
		change: Change{Subscription: subOn("2024-01-15", "2025-01-14", flatItem("Basic", 36600)), Currency: "EUR",
			Target: planOf("pro", "EUR", IntervalYear, flatItem("Pro", 73200)), Date: "2024-02-29"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2024-02-29", periodDays: 366, remain: 321,
			credit: 32100, charge: 64200, due: 32100, nextDate: "2025-01-15", nextSubtotal: 73200, nextAmount: 73200,
			creditLines: []int64{32100}, charges: []int64{64200}},
	}, {
		// Monthly 1000 → yearly 10000 on 16 March: the year runs 16 Mar 2026 – 15 Mar 2027
		// (365 days), 10000/365 = 27.40 a day against 1000/31 = 32.26: a downgrade, here now.
		// credit 1000 × 16/31 = 516; the whole year is charged, 10000; due 9484; next 16 Mar 2027.
		name: "month to year starts the year on the change day",
		change: Change{Subscription: march(flatItem("Basic", 1000)), Currency: "EUR",
			Target: planOf("annual", "EUR", IntervalYear, flatItem("Annual", 10000)), Date: "2026-03-16"},
		policy: now,
		want: want{kind: ChangeDowngrade, timing: Now, effective: "2026-03-16", periodDays: 31, remain: 16,
			intervalChanged: true, credit: 516, charge: 10000, due: 9484, nextDate: "2027-03-16",
			nextSubtotal: 10000, nextAmount: 10000, creditLines: []int64{516}, charges: []int64{10000}},
	}, {
		// To yearly on 29 February 2024: the year ends 27 Feb 2025, the next starts on 28 Feb
		// (no 29th in 2025). Yearly 40000 over 365 days = 109.6 a day against 2900/29 = 100: an
		// upgrade. credit 2900 × 1/29 = 100; charge 40000; due 39900.
		name: "month to year on 29 February",
		change: Change{Subscription: subOn("2024-02-01", "2024-02-29", flatItem("Basic", 2900)), Currency: "EUR",
			Target: planOf("annual", "EUR", IntervalYear, flatItem("Annual", 40000)), Date: "2024-02-29"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2024-02-29", periodDays: 29, remain: 1,
			intervalChanged: true, credit: 100, charge: 40000, due: 39900, nextDate: "2025-02-28",
			nextSubtotal: 40000, nextAmount: 40000, creditLines: []int64{100}, charges: []int64{40000}},
	}, {
		// Without proration the new plan applies now and nothing is credited or charged until
		// April's invoice.
		name:   "upgrade now without proration",
		change: Change{Subscription: march(flatItem("Basic", 1000)), Currency: "EUR", Target: pro, Date: "2026-03-16"},
		policy: &Policy{Upgrades: NowWithoutProration},
		want: want{kind: ChangeUpgrade, timing: NowWithoutProration, effective: "2026-03-16", periodDays: 31, remain: 16,
			nextDate: "2026-04-01", nextSubtotal: 2500, nextAmount: 2500},
	}, {
		// Fees are never prorated: the pending 700 stays on April's invoice, the target's 5000
		// setup fee is charged with the change. credit 516 (Basic only); charge 1290 + 5000.
		name: "one-off fees",
		change: Change{Subscription: march(flatItem("Basic", 1000), feeItem("Onboarding", 700)), Currency: "EUR",
			Target: planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500), feeItem("Setup", 5000)), Date: "2026-03-16"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-03-16", periodDays: 31, remain: 16,
			credit: 516, charge: 6290, due: 5774, nextDate: "2026-04-01", nextSubtotal: 3200, nextAmount: 3200,
			creditLines: []int64{516}, charges: []int64{1290, 5000}},
	}, {
		// At the period end the setup fee goes on April's invoice: 2500 + 700 + 5000.
		name: "one-off fees at period end",
		change: Change{Subscription: march(flatItem("Basic", 1000), feeItem("Onboarding", 700)), Currency: "EUR",
			Target: planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500), feeItem("Setup", 5000)), Date: "2026-03-16"},
		policy: &Policy{},
		want: want{kind: ChangeUpgrade, timing: PeriodEnd, effective: "2026-04-01", periodDays: 31, remain: 16,
			nextDate: "2026-04-01", nextSubtotal: 8200, nextAmount: 8200},
	}, {
		// Three items of 1 over half a period: exactly 1.5 in all → 2; each line's 0.5 floors to
		// 0, and the two minor units go to the first two lines (equal remainders: earlier first).
		name: "lines share the rounded total",
		change: Change{Subscription: subOn("2026-02-01", "2026-02-28", flatItem("A", 1), flatItem("B", 1), flatItem("C", 1)),
			Currency: "EUR", Target: planOf("x", "EUR", IntervalMonth, flatItem("X", 3)), Date: "2026-02-15"},
		policy: &Policy{Downgrades: Now},
		want: want{kind: ChangeDowngrade, timing: Now, effective: "2026-02-15", periodDays: 28, remain: 14,
			credit: 2, charge: 2, nextDate: "2026-03-01", nextSubtotal: 3, nextAmount: 3,
			creditLines: []int64{1, 1, 0}, charges: []int64{2}},
	}, {
		// A move carries the seats (Plan.ItemsFor): Team 4900 + 8 seats × 900 = 12100 to
		// Business 14900 + 8 (not its default 10) × 700 = 20500. December: 31 days, from the 16th
		// 16 remain. credit 12100 × 16/31 = 6245.16 → 6245 (4900 → 2529.03, 7200 → 3716.13);
		// charge 20500 × 16/31 = 10580.65 → 10581: 14900 → 7690.32, 5600 → 2890.32, both 10/31
		// over their floors, the unit left to the earlier line: 7691 + 2890; due 4336.
		name:   "plan move keeps the seats",
		change: Change{Subscription: team(8), Currency: "EUR", Target: business, Date: "2026-12-16"},
		policy: now,
		want: want{kind: ChangeUpgrade, timing: Now, effective: "2026-12-16", periodDays: 31, remain: 16,
			credit: 6245, charge: 10581, due: 4336, nextDate: "2027-01-01", nextSubtotal: 20500, nextAmount: 20500,
			creditLines: []int64{2529, 3716}, charges: []int64{7691, 2890}},
	}, {
		// 3 seats are below Business's least, 5: 14900 + 5 × 700 = 18400 from 1 January.
		name:   "plan move raises the seats to the target's least",
		change: Change{Subscription: team(3), Currency: "EUR", Target: business, Date: "2026-12-16"},
		policy: &Policy{},
		want: want{kind: ChangeUpgrade, timing: PeriodEnd, effective: "2027-01-01", periodDays: 31, remain: 16,
			nextDate: "2027-01-01", nextSubtotal: 18400, nextAmount: 18400},
	}, {
		// 300 seats are above Business's most, 200: 14900 + 200 × 700 = 154900 against
		// 4900 + 300 × 900 = 274900, a downgrade.
		name:   "plan move lowers the seats to the target's most",
		change: Change{Subscription: team(300), Currency: "EUR", Target: business, Date: "2026-12-16"},
		policy: &Policy{},
		want: want{kind: ChangeDowngrade, timing: PeriodEnd, effective: "2027-01-01", periodDays: 31, remain: 16,
			nextDate: "2027-01-01", nextSubtotal: 154900, nextAmount: 154900},
	}, {
		// One per_unit item on each side: the 8 "Users" become 8 "Seats" though the products
		// differ: 14900 + 8 × 700 = 20500.
		name: "plan move carries the only per_unit item across products",
		change: Change{Subscription: subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Users", 8, 900)),
			Currency: "EUR", Target: business, Date: "2026-12-16"},
		policy: &Policy{},
		want: want{kind: ChangeUpgrade, timing: PeriodEnd, effective: "2027-01-01", periodDays: 31, remain: 16,
			nextDate: "2027-01-01", nextSubtotal: 20500, nextAmount: 20500},
	}, {
		// Two per_unit items on each side: by product. Seats 8 carried (5600); Storage has no
		// counterpart on Business+ and Guests none on Team: Guests keeps the plan's 2 × 100.
		// 14900 + 5600 + 200 = 20700.
		name: "plan move carries per_unit items by product",
		change: Change{Subscription: subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Seats", 8, 900), unitItem("Storage", 3, 500)),
			Currency: "EUR", Target: businessPlus, Date: "2026-12-16"},
		policy: &Policy{},
		want: want{kind: ChangeUpgrade, timing: PeriodEnd, effective: "2027-01-01", periodDays: 31, remain: 16,
			nextDate: "2027-01-01", nextSubtotal: 20700, nextAmount: 20700},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := tt.change.Preview(tt.policy)
			if err != nil {
				t.Fatalf("Preview: %v", err)
			}
			got := want{kind: p.Kind, timing: p.Timing, effective: p.EffectiveDate, periodDays: p.PeriodDays,
				remain: p.RemainingDays, intervalChanged: p.IntervalChanged, credit: p.Credit, charge: p.Charge,
				due: p.AmountDue, carried: p.CreditCarried, nextDate: p.Next.Date, nextSubtotal: p.Next.Subtotal,
				creditApplied: p.Next.CreditApplied, left: p.Next.CreditLeft, nextAmount: p.Next.Amount,
				creditLines: lineAmounts(p.CreditLines), charges: lineAmounts(p.ChargeLines)}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("preview\n got %+v\nwant %+v", got, tt.want)
			}
			checkPreview(t, &tt.change, p)
		})
	}
}

func lineAmounts(lines []Line) []int64 {
	var out []int64
	for _, l := range lines {
		out = append(out, l.Amount)
	}
	return out
}

// checkPreview asserts what holds of every preview: totals are the sums of their lines, the
// due amount and the carried credit are the difference of charge and credit, nothing is
// negative, each prorated line is within one minor unit of its exact share, and the dates follow
// the timing.
func checkPreview(t *testing.T, c *Change, p *Preview) {
	t.Helper()
	sum := func(lines []Line, kinds ...string) int64 {
		var s int64
		for _, l := range lines {
			if l.Amount < 0 {
				t.Errorf("line %+v is negative", l)
			}
			for _, k := range kinds {
				if l.Kind == k {
					s += l.Amount
				}
			}
		}
		return s
	}
	if s := sum(p.CreditLines, LineCredit); s != p.Credit {
		t.Errorf("credit lines add up to %d, credit is %d", s, p.Credit)
	}
	if s := sum(p.ChargeLines, LineProrated, LinePeriod, LineFee); s != p.Charge {
		t.Errorf("charge lines add up to %d, charge is %d", s, p.Charge)
	}
	if p.AmountDue < 0 || p.CreditCarried < 0 || (p.AmountDue > 0 && p.CreditCarried > 0) {
		t.Errorf("due %d and carried %d", p.AmountDue, p.CreditCarried)
	}
	if p.AmountDue-p.CreditCarried != p.Charge-p.Credit {
		t.Errorf("due %d − carried %d ≠ charge %d − credit %d", p.AmountDue, p.CreditCarried, p.Charge, p.Credit)
	}
	if s := sum(p.Next.Lines, LinePeriod, LineFee); s != p.Next.Subtotal {
		t.Errorf("next invoice lines add up to %d, subtotal is %d", s, p.Next.Subtotal)
	}
	if s := sum(p.Next.Lines, LineBalance); s != p.Next.CreditApplied {
		t.Errorf("next invoice balance lines add up to %d, credit applied is %d", s, p.Next.CreditApplied)
	}
	if p.Next.CreditApplied+p.Next.CreditLeft != p.CreditCarried || p.Next.CreditApplied > p.Next.Subtotal ||
		p.Next.Amount != p.Next.Subtotal-p.Next.CreditApplied || p.Next.Amount < 0 {
		t.Errorf("next invoice %+v with %d carried", p.Next, p.CreditCarried)
	}
	if p.Credit > p.CurrentAmount {
		t.Errorf("credit %d beyond a whole period's %d", p.Credit, p.CurrentAmount)
	}
	for _, l := range append(p.CreditLines[:len(p.CreditLines):len(p.CreditLines)], p.ChargeLines...) {
		if l.Kind != LineCredit && l.Kind != LineProrated {
			continue
		}
		exact := new(big.Rat).SetFrac64(l.PeriodAmount, 1)
		exact.Mul(exact, big.NewRat(l.Days, l.PeriodDays))
		if d := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(l.Amount)); d.Abs(d).Cmp(big.NewRat(1, 1)) >= 0 {
			t.Errorf("line %+v is %s from its exact share", l, d.FloatString(3))
		}
	}
	if p.Date != c.Date || p.RemainingDays < 1 || p.RemainingDays > p.PeriodDays {
		t.Errorf("date %s, %d of %d days remaining", p.Date, p.RemainingDays, p.PeriodDays)
	}
	switch p.Timing {
	case PeriodEnd, NowWithoutProration:
		if p.Credit != 0 || p.Charge != 0 || p.AmountDue != 0 || p.CreditCarried != 0 {
			t.Errorf("%s credits %d and charges %d", p.Timing, p.Credit, p.Charge)
		}
		if p.Next.Date <= p.PeriodEnd || (p.Timing == PeriodEnd && p.EffectiveDate != p.Next.Date) {
			t.Errorf("%s: effective %s, next invoice %s, period end %s", p.Timing, p.EffectiveDate, p.Next.Date, p.PeriodEnd)
		}
	case Now:
		if p.EffectiveDate != p.Date || p.Next.Date <= p.Date {
			t.Errorf("now: effective %s, next invoice %s", p.EffectiveDate, p.Next.Date)
		}
	default:
		t.Errorf("timing %q", p.Timing)
	}
}

// TestPreviewPriceDifference: for any change at the same interval, what the customer pays now
// (or gets carried) is the difference of the two prices over the remaining days, within one
// minor unit: each of the two amounts is rounded once, half up, so each is within half a unit.
func TestPreviewPriceDifference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(16, 2026))
	now := &Policy{Upgrades: Now, Downgrades: Now, Seats: Now}
	for i := range 2000 {
		start := account.Date(fmt.Sprintf("%04d-%02d-01", 2000+rng.IntN(40), 1+rng.IntN(12)))
		st, _ := start.Time()
		next := st.AddDate(0, 1, 0)
		end := account.Date(next.AddDate(0, 0, -1).Format("2006-01-02"))
		day := account.Date(st.AddDate(0, 0, rng.IntN(int(next.Sub(st).Hours()/24))).Format("2006-01-02"))
		randItems := func() []account.Item {
			var items []account.Item
			for range 1 + rng.IntN(4) {
				switch rng.IntN(3) {
				case 0:
					items = append(items, flatItem("flat", rng.Int64N(1_000_000)))
				case 1:
					items = append(items, unitItem("seats", rng.Int64N(500), rng.Int64N(100_000)))
				default:
					items = append(items, account.Item{Product: "usage", PricingModel: account.PricingPerUnit,
						Quantity: rng.Int64N(1_000_000), UnitAmountDecimal: fmt.Sprintf("0.%03d", rng.IntN(1000))})
				}
			}
			return items
		}
		c := Change{Subscription: subOn(string(start), string(end), randItems()...), Currency: "EUR", Date: day}
		if rng.IntN(3) == 0 {
			c.Subscription.Items = append(c.Subscription.Items, unitItem("seats", 1+rng.Int64N(50), 1+rng.Int64N(5000)))
			c.Seats = &Seats{Item: len(c.Subscription.Items) - 1, Quantity: 51 + rng.Int64N(50)}
		} else {
			c.Target = planOf("target", "EUR", IntervalMonth, randItems()...)
		}
		p, err := c.Preview(now)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		checkPreview(t, &c, p)
		exact := big.NewRat((p.NewAmount-p.CurrentAmount)*p.RemainingDays, p.PeriodDays)
		diff := new(big.Rat).Sub(exact, new(big.Rat).SetInt64(p.AmountDue-p.CreditCarried))
		if diff.Abs(diff).Cmp(big.NewRat(1, 1)) >= 0 {
			t.Fatalf("case %d: due %d − carried %d is %s from (%d − %d) × %d/%d", i, p.AmountDue, p.CreditCarried,
				diff.FloatString(3), p.NewAmount, p.CurrentAmount, p.RemainingDays, p.PeriodDays)
		}
	}
}

func TestPreviewRefuses(t *testing.T) {
	t.Parallel()
	sub := func() *account.Subscription {
		return subOn("2026-03-01", "2026-03-31", flatItem("Basic", 1000), unitItem("Seats", 5, 1200))
	}
	pro := planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500))
	now := &Policy{Upgrades: Now, Downgrades: Now, Seats: Now}
	huge := planOf("huge", "EUR", IntervalMonth, flatItem("A", math.MaxInt64), flatItem("B", 1))
	tests := []struct {
		name     string
		change   func() Change
		policy   *Policy
		overflow bool
	}{
		{"no subscription", func() Change { return Change{Currency: "EUR", Target: pro, Date: "2026-03-16"} }, now, false},
		{"no policy", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: pro, Date: "2026-03-16"} }, nil, false},
		{"neither plan nor seats", func() Change { return Change{Subscription: sub(), Currency: "EUR", Date: "2026-03-16"} }, now, false},
		{"both plan and seats", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Target: pro, Seats: &Seats{Item: 1, Quantity: 6}, Date: "2026-03-16"}
		}, now, false},
		{"before the period", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: pro, Date: "2026-02-28"} }, now, false},
		{"after the period", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: pro, Date: "2026-04-01"} }, now, false},
		{"not a date", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: pro, Date: "16/03/2026"} }, now, false},
		{"no period", func() Change {
			s := sub()
			s.CurrentPeriodStart = ""
			return Change{Subscription: s, Currency: "EUR", Target: pro, Date: "2026-03-16"}
		}, now, false},
		{"period ends before it starts", func() Change {
			s := sub()
			s.CurrentPeriodEnd = "2026-02-01"
			return Change{Subscription: s, Currency: "EUR", Target: pro, Date: "2026-03-16"}
		}, now, false},
		{"canceled", func() Change {
			s := sub()
			s.Status = account.SubCanceled
			return Change{Subscription: s, Currency: "EUR", Target: pro, Date: "2026-03-16"}
		}, now, false},
		{"cancellation scheduled", func() Change {
			s := sub()
			s.CancelAtPeriodEnd = true
			return Change{Subscription: s, Currency: "EUR", Target: pro, Date: "2026-03-16"}
		}, now, false},
		{"other currency", func() Change { return Change{Subscription: sub(), Currency: "USD", Target: pro, Date: "2026-03-16"} }, now, false},
		{"not a currency", func() Change { return Change{Subscription: sub(), Currency: "eur", Target: pro, Date: "2026-03-16"} }, now, false},
		{"archived plan", func() Change {
			a := *pro
			a.Archived = true
			return Change{Subscription: sub(), Currency: "EUR", Target: &a, Date: "2026-03-16"}
		}, now, false},
		{"the same plan", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Current: pro, Target: pro, Date: "2026-03-16"}
		}, now, false},
		{"unknown interval", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Target: planOf("q", "EUR", "quarter", flatItem("Q", 1)), Date: "2026-03-16"}
		}, now, false},
		{"seats of a flat item", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Seats: &Seats{Item: 0, Quantity: 2}, Date: "2026-03-16"}
		}, now, false},
		{"seats of no item", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Seats: &Seats{Item: 2, Quantity: 2}, Date: "2026-03-16"}
		}, now, false},
		{"the same seats", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: 5}, Date: "2026-03-16"}
		}, now, false},
		{"negative seats", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Seats: &Seats{Item: 1, Quantity: -1}, Date: "2026-03-16"}
		}, now, false},
		{"seats beyond the plan's limit", func() Change {
			cur := planOf("basic", "EUR", IntervalMonth, flatItem("Basic", 1000))
			cur.Items = append(cur.Items, Item{Item: unitItem("Seats", 5, 1200), MinQuantity: amt(1), MaxQuantity: amt(10)})
			return Change{Subscription: sub(), Currency: "EUR", Current: cur, Seats: &Seats{Item: 1, Quantity: 11}, Date: "2026-03-16"}
		}, now, false},
		{"unknown timing", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: pro, Date: "2026-03-16"} },
			&Policy{Upgrades: Now, Downgrades: "tomorrow"}, false},
		{"target overflows", func() Change { return Change{Subscription: sub(), Currency: "EUR", Target: huge, Date: "2026-03-16"} }, now, true},
		{"current overflows", func() Change {
			s := sub()
			s.Items = append(s.Items, flatItem("Max", math.MaxInt64))
			return Change{Subscription: s, Currency: "EUR", Target: pro, Date: "2026-03-16"}
		}, now, true},
		{"fees overflow", func() Change {
			pl := planOf("fees", "EUR", IntervalMonth, flatItem("Pro", 2500), feeItem("Setup", math.MaxInt64))
			return Change{Subscription: sub(), Currency: "EUR", Target: pl, Date: "2026-03-16"}
		}, now, true},
		{"unpriceable item", func() Change {
			return Change{Subscription: sub(), Currency: "EUR", Date: "2026-03-16",
				Target: planOf("bad", "EUR", IntervalMonth, account.Item{Product: "X", PricingModel: "magic", Quantity: 1})}
		}, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.change()
			p, err := c.Preview(tt.policy)
			if !errors.Is(err, ErrPreview) {
				t.Fatalf("Preview = %+v, %v; want an ErrPreview", p, err)
			}
			if errors.Is(err, account.ErrOverflow) != tt.overflow {
				t.Errorf("Preview: %v; overflow %v", err, tt.overflow)
			}
		})
	}
}

func TestPreviewSeatsWithinLimits(t *testing.T) {
	t.Parallel()
	cur := planOf("team", "EUR", IntervalMonth)
	cur.Items = []Item{{Item: unitItem("Seats", 5, 1200), MinQuantity: amt(1), MaxQuantity: amt(10)}}
	c := Change{Subscription: subOn("2026-04-01", "2026-04-30", unitItem("Seats", 5, 1200)), Currency: "EUR",
		Current: cur, Seats: &Seats{Item: 0, Quantity: 10}, Date: "2026-04-21"}
	p, err := c.Preview(&Policy{Seats: Now})
	if err != nil {
		t.Fatal(err)
	}
	// 5 more seats × 1200 × 10/30 = 2000.
	if p.AmountDue != 2000 {
		t.Errorf("due %d, want 2000", p.AmountDue)
	}
}

// TestPreviewInterval: whether the target bills at another interval is the current plan's
// interval when known, else read from the current period, whose end may be up to three days
// off a month's for anchors on the 29th to 31st.
func TestPreviewInterval(t *testing.T) {
	t.Parallel()
	monthly := planOf("m", "EUR", IntervalMonth, flatItem("M", 3000))
	tests := []struct {
		name       string
		start, end string
		current    *Plan
		target     *Plan
		changed    bool
	}{
		{"calendar month", "2026-03-01", "2026-03-31", nil, monthly, false},
		{"anchor on the 31st, February's period", "2026-02-28", "2026-03-30", nil, monthly, false},
		{"a month against a year", "2026-03-01", "2026-03-31", nil, planOf("y", "EUR", IntervalYear, flatItem("Y", 1)), true},
		{"a month against 4 weeks", "2026-03-01", "2026-03-31", nil, planOf("w", "EUR", IntervalWeek, flatItem("W", 1)), true},
		{"12 months is a year", "2026-03-01", "2027-02-28", planOf("y", "EUR", IntervalYear, flatItem("Y", 1)),
			&Plan{ID: "m12", Currency: "EUR", Interval: IntervalMonth, IntervalCount: 12, Items: []Item{{Item: flatItem("M", 1)}}}, false},
		{"1 week is 7 days", "2026-03-02", "2026-03-08", planOf("w", "EUR", IntervalWeek, flatItem("W", 1)),
			&Plan{ID: "d7", Currency: "EUR", Interval: IntervalDay, IntervalCount: 7, Items: []Item{{Item: flatItem("D", 1)}}}, false},
		{"the current plan's interval wins", "2026-03-01", "2026-03-31", planOf("y", "EUR", IntervalYear, flatItem("Y", 1)), monthly, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Change{Subscription: subOn(tt.start, tt.end, flatItem("Cur", 1000)), Currency: "EUR",
				Current: tt.current, Target: tt.target, Date: account.Date(tt.start)}
			p, err := c.Preview(&Policy{Upgrades: Now, Downgrades: Now})
			if err != nil {
				t.Fatal(err)
			}
			if p.IntervalChanged != tt.changed {
				t.Errorf("IntervalChanged = %v, want %v", p.IntervalChanged, tt.changed)
			}
			checkPreview(t, &c, p)
		})
	}
}

func TestPreviewTrialIsNotProrated(t *testing.T) {
	t.Parallel()
	s := subOn("2026-03-01", "2026-03-31", flatItem("Basic", 1000))
	s.Status = account.SubTrialing
	c := Change{Subscription: s, Currency: "EUR", Target: planOf("pro", "EUR", IntervalMonth, flatItem("Pro", 2500)), Date: "2026-03-16"}
	p, err := c.Preview(&Policy{Upgrades: Now})
	if err != nil {
		t.Fatal(err)
	}
	if p.Timing != NowWithoutProration || p.Credit != 0 || p.AmountDue != 0 || p.Next.Amount != 2500 {
		t.Errorf("trial upgrade: %+v", p)
	}
}

func BenchmarkPreview(b *testing.B) {
	c := Change{Subscription: subOn("2026-04-01", "2026-04-30", flatItem("Platform", 3000), unitItem("Seats", 5, 1200),
		account.Item{Product: "API calls", PricingModel: account.PricingTiered, Quantity: 1500,
			Tiers: []account.Tier{{UpTo: amt(1000), UnitAmount: amt(2)}, {UnitAmountDecimal: "0.5"}}}),
		Currency: "EUR", Date: "2026-04-21",
		Target: planOf("business", "EUR", IntervalMonth, flatItem("Platform", 9000), unitItem("Seats", 5, 1500), feeItem("Setup", 5000))}
	po := &Policy{Upgrades: Now}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Preview(po); err != nil {
			b.Fatal(err)
		}
	}
}

// TestItemsWithCarriesItemsFor: what a move records of the seats it carries (Quantities of
// ItemsFor) gives a backend the same items back (ItemsWith), for seats kept, raised to the least
// and moved across products; without quantities the plan's own items.
func TestItemsWithCarriesItemsFor(t *testing.T) {
	t.Parallel()
	business := planOf("business", "EUR", IntervalMonth, flatItem("Business", 14900))
	business.Items = append(business.Items, Item{Item: unitItem("Seats", 10, 700), MinQuantity: amt(5), MaxQuantity: amt(200)})
	for _, c := range []struct {
		name  string
		sub   *account.Subscription
		seats int64
	}{
		{"kept", subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Seats", 8, 900)), 8},
		{"raised to the least", subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Seats", 3, 900)), 5},
		{"across products", subOn("2026-12-01", "2026-12-31", flatItem("Team", 4900), unitItem("Users", 12, 900)), 12},
	} {
		moved := business.ItemsFor(c.sub)
		if moved[1].Quantity != c.seats {
			t.Errorf("%s: ItemsFor gives %d seats, want %d", c.name, moved[1].Quantity, c.seats)
		}
		if got := business.ItemsWith(Quantities(moved)); !reflect.DeepEqual(got, moved) {
			t.Errorf("%s: ItemsWith(Quantities) = %+v, want %+v", c.name, got, moved)
		}
	}
	if got := business.ItemsWith(nil); got[1].Quantity != 10 {
		t.Errorf("ItemsWith(nil) gives %d seats, want the plan's 10", got[1].Quantity)
	}
}
