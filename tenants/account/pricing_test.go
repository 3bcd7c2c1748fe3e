package account

import (
	"errors"
	"testing"
)

func i64(v int64) *int64 { return &v }

func TestItemCharge(t *testing.T) {
	t.Parallel()
	tiers := []Tier{
		{UpTo: i64(1000000), UnitAmount: i64(0)},
		{UpTo: i64(5000000), UnitAmountDecimal: "0.3"},
		{UpTo: nil, UnitAmountDecimal: "0.1"},
	}
	tests := []struct {
		name string
		item Item
		want int64
	}{
		{"flat ignores quantity", Item{PricingModel: PricingFlat, Quantity: 3, UnitAmount: i64(500000)}, 500000},
		{"per unit", Item{PricingModel: PricingPerUnit, Quantity: 42, UnitAmount: i64(12000)}, 504000},
		{"fee", Item{PricingModel: PricingFee, Quantity: 2, UnitAmount: i64(15000)}, 30000},
		{"per unit decimal rounds half up", Item{PricingModel: PricingPerUnit, Quantity: 5, UnitAmountDecimal: "0.1"}, 1},
		{"tiered graduated", Item{PricingModel: PricingTiered, Quantity: 1800000, Tiers: tiers}, 240000},
		{"tiered into open tier", Item{PricingModel: PricingTiered, Quantity: 6000000, Tiers: tiers}, 1200000 + 100000},
		{"tiered zero quantity", Item{PricingModel: PricingTiered, Quantity: 0, Tiers: tiers}, 0},
		{"volume all units at band price", Item{PricingModel: PricingVolume, Quantity: 1800000, Tiers: tiers}, 540000},
		{"volume first band", Item{PricingModel: PricingVolume, Quantity: 10, Tiers: tiers}, 0},
		{"tier flat amount", Item{PricingModel: PricingTiered, Quantity: 3, Tiers: []Tier{{UpTo: i64(2), FlatAmount: i64(100), UnitAmount: i64(10)}, {UpTo: nil, UnitAmount: i64(5), FlatAmount: i64(7)}}}, 100 + 20 + 7 + 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.item.Charge()
			if err != nil {
				t.Fatalf("Charge: %v", err)
			}
			if c.Amount != tt.want {
				t.Fatalf("Charge = %d, want %d", c.Amount, tt.want)
			}
		})
	}
}

func TestItemChargeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		item Item
	}{
		{"no price", Item{PricingModel: PricingPerUnit, Quantity: 1}},
		{"both prices", Item{PricingModel: PricingPerUnit, Quantity: 1, UnitAmount: i64(1), UnitAmountDecimal: "1"}},
		{"exponent decimal", Item{PricingModel: PricingPerUnit, Quantity: 1, UnitAmountDecimal: "1e3"}},
		{"negative decimal", Item{PricingModel: PricingPerUnit, Quantity: 1, UnitAmountDecimal: "-1"}},
		{"unknown model", Item{PricingModel: "magic", Quantity: 1, UnitAmount: i64(1)}},
		{"beyond last tier", Item{PricingModel: PricingTiered, Quantity: 11, Tiers: []Tier{{UpTo: i64(10), UnitAmount: i64(1)}}}},
		{"tiers out of order", Item{PricingModel: PricingTiered, Quantity: 11, Tiers: []Tier{{UpTo: i64(10), UnitAmount: i64(1)}, {UpTo: i64(5), UnitAmount: i64(1)}, {UnitAmount: i64(1)}}}},
		{"open tier not last", Item{PricingModel: PricingTiered, Quantity: 1, Tiers: []Tier{{UnitAmount: i64(1)}, {UpTo: i64(5), UnitAmount: i64(1)}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.item.Charge(); !errors.Is(err, ErrPricing) {
				t.Fatalf("Charge error = %v, want ErrPricing", err)
			}
		})
	}
}

func TestNextChargeComputedAndGiven(t *testing.T) {
	t.Parallel()
	s := Subscription{Items: []Item{
		{PricingModel: PricingFlat, Quantity: 1, UnitAmount: i64(500000)},
		{PricingModel: PricingPerUnit, Quantity: 42, UnitAmount: i64(12000)},
	}}
	got, err := s.NextCharge()
	if err != nil || got != 1004000 {
		t.Fatalf("NextCharge = %d, %v; want 1004000", got, err)
	}
	s.EstimatedNextCharge = i64(7)
	if got, _ := s.NextCharge(); got != 7 {
		t.Fatalf("NextCharge with estimate = %d, want 7", got)
	}
}

func TestPriceDecimal(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"0.3": "0.3", "12": "12", "0.000000000001": "0.000000000001", "1.50": "1.5"} {
		p, err := parsePrice(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Decimal(); got != want {
			t.Errorf("Decimal(%q) = %q, want %q", in, got, want)
		}
	}
}
