package account

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

func TestCheckedArithmetic(t *testing.T) {
	t.Parallel()
	const maxI, minI = math.MaxInt64, math.MinInt64
	tests := []struct {
		name string
		f    func(a, b int64) (int64, bool)
		a, b int64
		want int64
		ok   bool
	}{
		{"mul max × 1", mulAmounts, maxI, 1, maxI, true},
		{"mul max × 2", mulAmounts, maxI, 2, 0, false},
		{"mul 2^62 × 2", mulAmounts, 1 << 62, 2, 0, false},
		{"mul 2^62 × 3", mulAmounts, 1 << 62, 3, 0, false},
		{"mul 2^62 × 2^62", mulAmounts, 1 << 62, 1 << 62, 0, false},
		{"mul max/3 × 3", mulAmounts, maxI / 3, 3, maxI - 1, true},
		{"mul max/3+1 × 3", mulAmounts, maxI/3 + 1, 3, 0, false},
		{"mul 2^32 × 2^31", mulAmounts, 1 << 32, 1 << 31, 0, false},
		{"mul 2^32 × (2^31-1)", mulAmounts, 1 << 32, 1<<31 - 1, 1<<63 - 1<<32, true},
		{"mul -2^62 × 2", mulAmounts, -1 << 62, 2, minI, true},
		{"mul min × -1", mulAmounts, minI, -1, 0, false},
		{"mul min × 1", mulAmounts, minI, 1, minI, true},
		{"mul 0 × max", mulAmounts, 0, maxI, 0, true},
		{"add max + 0", addAmounts, maxI, 0, maxI, true},
		{"add max + 1", addAmounts, maxI, 1, 0, false},
		{"add max/2+1 twice", addAmounts, maxI/2 + 1, maxI/2 + 1, 0, false},
		{"add max/2 + max/2+1", addAmounts, maxI / 2, maxI/2 + 1, maxI, true},
		{"add min + -1", addAmounts, minI, -1, 0, false},
		{"add max + min", addAmounts, maxI, minI, -1, true},
		{"sub min − 1", subAmounts, minI, 1, 0, false},
		{"sub 0 − min", subAmounts, 0, minI, 0, false},
		{"sub -1 − max", subAmounts, -1, maxI, minI, true},
		{"sub max − max", subAmounts, maxI, maxI, 0, true},
	}
	for _, tt := range tests {
		got, ok := tt.f(tt.a, tt.b)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("%s: got %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestItemChargeOverflowBoundaries prices items at and just past the largest amount: the last one
// that fits is priced exactly, the first one that does not is an ErrOverflow naming the product.
func TestItemChargeOverflowBoundaries(t *testing.T) {
	t.Parallel()
	const maxI = math.MaxInt64
	tests := []struct {
		name string
		item Item
		want int64  // when err is empty
		err  string // substring of the overflow error
	}{
		{"per unit max × 1", Item{PricingModel: PricingPerUnit, Quantity: maxI, UnitAmount: i64(1)}, maxI, ""},
		{"per unit max × 2", Item{PricingModel: PricingPerUnit, Quantity: maxI, UnitAmount: i64(2)}, 0, "quantity × unitAmount overflows"},
		{"per unit 2^62 × 3", Item{PricingModel: PricingPerUnit, Quantity: 1 << 62, UnitAmount: i64(3)}, 0, "quantity × unitAmount overflows"},
		{"per unit 2^62 × 2^62", Item{PricingModel: PricingPerUnit, Quantity: 1 << 62, UnitAmount: i64(1 << 62)}, 0, "quantity × unitAmount overflows"},
		{"per unit max/3 × 3", Item{PricingModel: PricingPerUnit, Quantity: maxI / 3, UnitAmount: i64(3)}, maxI - 1, ""},
		{"fee max/3+1 × 3", Item{PricingModel: PricingFee, Quantity: maxI/3 + 1, UnitAmount: i64(3)}, 0, "quantity × unitAmount overflows"},
		{"decimal max × 0.5 rounds half up", Item{PricingModel: PricingPerUnit, Quantity: maxI, UnitAmountDecimal: "0.5"}, maxI/2 + 1, ""},
		{"decimal max × 1", Item{PricingModel: PricingPerUnit, Quantity: maxI, UnitAmountDecimal: "1"}, maxI, ""},
		{"decimal max × 1.000000000001", Item{PricingModel: PricingPerUnit, Quantity: maxI, UnitAmountDecimal: "1.000000000001"}, 0, "quantity × unitAmountDecimal overflows"},
		// 1229782938247303441 × 7.5 = MaxInt64 + 0.5: the product fits, its rounding does not.
		{"decimal rounding half up past max", Item{PricingModel: PricingPerUnit, Quantity: 1229782938247303441, UnitAmountDecimal: "7.5"}, 0, "quantity × unitAmountDecimal overflows"},
		{"decimal rounding down to max", Item{PricingModel: PricingPerUnit, Quantity: 1229782938247303441, UnitAmountDecimal: "7.499999999999"}, maxI - 1229782, ""},
		{"tiered decimal band overflows", Item{PricingModel: PricingTiered, Quantity: maxI, Tiers: []Tier{
			{UpTo: i64(10), UnitAmount: i64(0)}, {UpTo: nil, UnitAmountDecimal: "1.5"}}}, 0, "tiers[1]: units × unitAmountDecimal overflows"},
		{"tiered bands fit, their sum does not", Item{PricingModel: PricingTiered, Quantity: maxI, Tiers: []Tier{
			{UpTo: i64(1 << 62), UnitAmount: i64(1)}, {UpTo: nil, UnitAmount: i64(1), FlatAmount: i64(1 << 62)}}}, 0, "sum of the tiers overflows"},
		{"tiered up to max", Item{PricingModel: PricingTiered, Quantity: maxI, Tiers: []Tier{
			{UpTo: i64(1 << 62), UnitAmountDecimal: "0.5"}, {UpTo: i64(maxI), UnitAmountDecimal: "0.5"}}}, maxI/2 + 1, ""},
		{"volume flat amount pushes past max", Item{PricingModel: PricingVolume, Quantity: maxI, Tiers: []Tier{
			{UpTo: nil, UnitAmount: i64(1), FlatAmount: i64(1)}}}, 0, "tiers[0]: quantity × unitAmount + flatAmount overflows"},
		{"volume huge decimal price", Item{PricingModel: PricingVolume, Quantity: 1 << 20, Tiers: []Tier{
			{UpTo: nil, UnitAmountDecimal: "999999999999999.999999999999"}}}, 0, "tiers[0]: quantity × unitAmountDecimal overflows"},
		{"volume huge decimal price fits", Item{PricingModel: PricingVolume, Quantity: 9000, Tiers: []Tier{
			{UpTo: nil, UnitAmountDecimal: "999999999999999.5"}}}, 8999999999999995500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.item.Charge()
			if tt.err == "" {
				if err != nil || c.Amount != tt.want {
					t.Fatalf("Charge = %d, %v; want %d", c.Amount, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrOverflow) || !errors.Is(err, ErrPricing) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Charge = %d, %v; want an ErrOverflow mentioning %q", c.Amount, err, tt.err)
			}
		})
	}
}

func TestTierEndingAtLargestQuantity(t *testing.T) {
	t.Parallel()
	it := Item{PricingModel: PricingTiered, Quantity: 5, Tiers: []Tier{
		{UpTo: i64(math.MaxInt64), UnitAmount: i64(1)}, {UpTo: nil, UnitAmount: i64(1)}}}
	if _, err := it.Charge(); !errors.Is(err, ErrPricing) || !strings.Contains(err.Error(), "no tier can follow") {
		t.Fatalf("Charge = %v, want a refusal of the tier after the largest quantity", err)
	}
}

func TestItemsTotalOverflow(t *testing.T) {
	t.Parallel()
	item := func(amount int64) Item { return Item{PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(amount)} }
	many := func(n int, amount int64) []Item {
		items := make([]Item, n)
		for i := range items {
			items[i] = item(amount)
		}
		return items
	}
	tests := []struct {
		name  string
		items []Item
		want  int64
		ok    bool
	}{
		{"max and zero", []Item{item(math.MaxInt64), item(0)}, math.MaxInt64, true},
		{"max and one", []Item{item(math.MaxInt64), item(1)}, 0, false},
		{"two halves just past max", []Item{item(1 << 62), item(1 << 62)}, 0, false},
		{"200 items that fit", many(MaxItems, math.MaxInt64/MaxItems), math.MaxInt64 / MaxItems * MaxItems, true},
		{"200 items one over", append(many(MaxItems-1, math.MaxInt64/MaxItems), item(math.MaxInt64/MaxItems+math.MaxInt64%MaxItems+1)), 0, false},
	}
	for _, tt := range tests {
		s := Subscription{Items: tt.items}
		got, err := s.ItemsTotal()
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("%s: ItemsTotal = %d, %v; want %d", tt.name, got, err, tt.want)
		}
		if !tt.ok && (!errors.Is(err, ErrOverflow) || !strings.Contains(err.Error(), "sum of the items overflows")) {
			t.Errorf("%s: ItemsTotal = %d, %v; want the sum to overflow", tt.name, got, err)
		}
		if n, err2 := s.NextCharge(); !tt.ok && (err2 == nil || n != 0) {
			t.Errorf("%s: NextCharge = %d, %v; want an error", tt.name, n, err2)
		}
	}
}

func TestRoundHalfUp(t *testing.T) {
	t.Parallel()
	huge := new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), 63))
	tests := []struct {
		r    *big.Rat
		want int64
		ok   bool
	}{
		{big.NewRat(0, 1), 0, true},
		{big.NewRat(1, 2), 1, true},    // a half goes up
		{big.NewRat(49, 100), 0, true}, // below a half goes down
		{big.NewRat(5, 2), 3, true},    // halves go up, not to even
		{big.NewRat(7, 3), 2, true},
		{big.NewRat(math.MaxInt64, 1), math.MaxInt64, true},
		{huge, 0, false},
		{big.NewRat(-1, 2), 0, false},
	}
	for _, tt := range tests {
		got, ok := RoundHalfUp(tt.r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("RoundHalfUp(%s) = %d, %v; want %d, %v", tt.r, got, ok, tt.want, tt.ok)
		}
	}
}
