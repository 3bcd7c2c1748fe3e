package account

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// series is a daily series of the given quantities from the date first on, one day apart.
func series(first string, qs ...int64) []DailyUsage {
	t, _ := Date(first).Time()
	out := make([]DailyUsage, len(qs))
	for i, q := range qs {
		out[i] = DailyUsage{Date: Date(t.AddDate(0, 0, i).Format("2006-01-02")), Quantity: q}
	}
	return out
}

func repeat(n int, q int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = q
	}
	return out
}

// TestProject: the projection to the period's end at the run rate of the last seven days,
// hand-computed.
func TestProject(t *testing.T) {
	t.Parallel()
	dec := &Subscription{CurrentPeriodStart: "2026-12-01", CurrentPeriodEnd: "2026-12-31"}
	tests := []struct {
		name  string
		toDay int64
		daily []DailyUsage
		want  Projection
	}{
		// Dec 4–10: 700 over 7 days = 100 a day, × 21 days (Dec 11–31) = 2,100.
		{"full window", 1000, series("2026-12-01", repeat(10, 100)...), Projection{"2026-12-10", 7, 700, 21, 3100}},
		// Three days into the period: 60 / 3 = 20 a day × 28 = 560.
		{"young period", 60, series("2026-12-01", 10, 20, 30), Projection{"2026-12-03", 3, 60, 28, 620}},
		// Only Dec 10 in Dec 4–10: 70 / 7 = 10 a day × 21 = 210; usage before the series counts.
		{"gap", 500, []DailyUsage{{"2026-12-01", 400}, {"2026-12-10", 70}}, Projection{"2026-12-10", 7, 70, 21, 710}},
		// 10 / 7 × 24 = 34.29 → 34.
		{"rounds down", 10, series("2026-12-01", 1, 1, 1, 1, 2, 2, 2), Projection{"2026-12-07", 7, 10, 24, 44}},
		// 1 / 2 × 29 = 14.5 → 15 (half up).
		{"rounds half up", 1, series("2026-12-01", 0, 1), Projection{"2026-12-02", 2, 1, 29, 16}},
		// The last day: nothing remains.
		{"period end", 5000, series("2026-12-25", repeat(7, 100)...), Projection{"2026-12-31", 7, 700, 0, 5000}},
	}
	for _, tt := range tests {
		it := &Item{PricingModel: PricingPerUnit, Meter: &Meter{Name: "m", UsageToDate: tt.toDay, Daily: tt.daily}}
		got, ok := it.Project(dec)
		if !ok || got != tt.want {
			t.Errorf("%s: Project = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := (&Item{Meter: &Meter{Name: "m", UsageToDate: 5}}).Project(dec); ok {
		t.Error("a meter without a daily series was projected")
	}
	if _, ok := (&Item{}).Project(dec); ok {
		t.Error("an item without a meter was projected")
	}
}

// TestTier: where a quantity falls in the example's API-call tiers (1–1,000,000 free,
// 1,000,001–5,000,000 at 0.3, then 0.1), and what a usage so far costs.
func TestTier(t *testing.T) {
	t.Parallel()
	n := func(v int64) *int64 { return &v }
	it := &Item{PricingModel: PricingTiered, Tiers: []Tier{
		{UpTo: n(1000000), UnitAmount: n(0)}, {UpTo: n(5000000), UnitAmountDecimal: "0.3"}, {UnitAmountDecimal: "0.1"}}}
	tests := []struct {
		q    int64
		want TierPosition
		cost int64
	}{
		{0, TierPosition{0, 3, 1, 1000000, 1000001}, 0},
		{1000000, TierPosition{0, 3, 1, 1000000, 1000001}, 0},
		{1000001, TierPosition{1, 3, 1000001, 5000000, 5000001}, 0}, // 0.3 → rounds to 0
		{1800000, TierPosition{1, 3, 1000001, 5000000, 5000001}, 240000},
		{6000000, TierPosition{2, 3, 5000001, -1, 0}, 1200000 + 100000},
	}
	for _, tt := range tests {
		got, ok := it.Tier(tt.q)
		if !ok || got != tt.want {
			t.Errorf("Tier(%d) = %+v, %v; want %+v", tt.q, got, ok, tt.want)
		}
		c, err := it.ChargeFor(tt.q)
		if err != nil || c.Amount != tt.cost {
			t.Errorf("ChargeFor(%d) = %d, %v; want %d", tt.q, c.Amount, err, tt.cost)
		}
	}
	if _, ok := (&Item{PricingModel: PricingPerUnit}).Tier(5); ok {
		t.Error("a per_unit item has a tier")
	}
}

// meterDoc is a document with a tiered item of the meter m (JSON) on a December subscription,
// and the wallet w (JSON, "" for none).
func meterDoc(m, w string) string {
	doc := `{"id":"a1","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active",` +
		`"currentPeriodStart":"2026-12-01","currentPeriodEnd":"2026-12-31","items":[` +
		`{"product":"API","pricingModel":"tiered","quantity":10,"tiers":[{"upTo":null,"unitAmount":1}]` + m + `},` +
		`{"product":"Base","pricingModel":"flat","quantity":1,"unitAmount":900}]}]`
	if w != "" {
		doc += `,"wallet":` + w
	}
	return doc + `}`
}

// TestUsageFieldsRejected: every rule of meters and wallets refuses with the field's JSON path.
func TestUsageFieldsRejected(t *testing.T) {
	t.Parallel()
	long := make([]string, MaxDaily+1)
	for i := range long {
		long[i] = fmt.Sprintf(`{"date":"2026-12-%02d","quantity":1}`, i%31+1)
	}
	txs := make([]string, MaxWalletTransactions+1)
	for i := range txs {
		txs[i] = fmt.Sprintf(`{"id":"t%d","date":"2026-12-01","type":"grant","amount":1}`, i)
	}
	m := func(s string) string { return `,"meter":{` + s + `}` }
	w := func(s string) string { return `{"currency":"EUR","balance":100` + s + `}` }
	tests := []struct{ name, doc, want string }{
		{"meter without name", meterDoc(m(`"usageToDate":1`), ""), "subscriptions[0].items[0].meter.name: is required"},
		{"meter long name", meterDoc(m(`"name":"`+strings.Repeat("x", 101)+`","usageToDate":1`), ""), "meter.name: is longer than 100"},
		{"meter long unit", meterDoc(m(`"name":"n","unit":"`+strings.Repeat("u", 41)+`","usageToDate":1`), ""), "meter.unit: is longer than 40"},
		{"meter negative usage", meterDoc(m(`"name":"n","usageToDate":-1`), ""), "meter.usageToDate: must be between 0 and"},
		{"meter on flat", strings.Replace(meterDoc("", ""), `"unitAmount":900}`, `"unitAmount":900,"meter":{"name":"n","usageToDate":1}}`, 1), "subscriptions[0].items[1].meter: is only for items priced per_unit, tiered or volume, not flat"},
		{"meter without period", strings.Replace(meterDoc(m(`"name":"n","usageToDate":1`), ""), `"currentPeriodEnd":"2026-12-31",`, "", 1), "meter: needs the subscription's currentPeriodStart and currentPeriodEnd"},
		{"meter period backwards", strings.Replace(meterDoc(m(`"name":"n","usageToDate":1`), ""), `"currentPeriodEnd":"2026-12-31"`, `"currentPeriodEnd":"2026-11-30"`, 1), "current period must run forward"},
		{"daily too long", meterDoc(m(`"name":"n","usageToDate":100,"daily":[`+strings.Join(long, ",")+`]`), ""), "meter.daily: has 63 entries, the limit is 62"},
		{"daily outside period", meterDoc(m(`"name":"n","usageToDate":9,"daily":[{"date":"2027-01-01","quantity":1}]`), ""), "meter.daily[0].date: 2027-01-01 is not within the period 2026-12-01 to 2026-12-31"},
		{"daily bad date", meterDoc(m(`"name":"n","usageToDate":9,"daily":[{"date":"Dec 1","quantity":1}]`), ""), `meter.daily[0].date: "Dec 1" is not a date`},
		{"daily unordered", meterDoc(m(`"name":"n","usageToDate":9,"daily":[{"date":"2026-12-02","quantity":1},{"date":"2026-12-01","quantity":1}]`), ""), "meter.daily[1].date: 2026-12-01 is not after the previous entry's 2026-12-02"},
		{"daily twice", meterDoc(m(`"name":"n","usageToDate":9,"daily":[{"date":"2026-12-02","quantity":1},{"date":"2026-12-02","quantity":1}]`), ""), "meter.daily[1].date"},
		{"daily negative", meterDoc(m(`"name":"n","usageToDate":9,"daily":[{"date":"2026-12-02","quantity":-1}]`), ""), "meter.daily[0].quantity: must be between 0 and"},
		{"daily over usage", meterDoc(m(`"name":"n","usageToDate":1,"daily":[{"date":"2026-12-02","quantity":2}]`), ""), "meter.usageToDate: is 1, less than the sum of daily, 2"},
		{"previous without start", meterDoc(m(`"name":"n","usageToDate":1,"previousDaily":[{"date":"2026-11-02","quantity":2}]`), ""), "meter.previousPeriodStart: is required with previousDaily"},
		{"previous start after", meterDoc(m(`"name":"n","usageToDate":1,"previousPeriodStart":"2026-12-01"`), ""), "meter.previousPeriodStart: must be from 1 to 731 days before currentPeriodStart"},
		{"previous start bad", meterDoc(m(`"name":"n","usageToDate":1,"previousPeriodStart":"November"`), ""), `meter.previousPeriodStart: "November" is not a date`},
		{"previous in current", meterDoc(m(`"name":"n","usageToDate":1,"previousPeriodStart":"2026-11-01","previousDaily":[{"date":"2026-12-01","quantity":2}]`), ""), "meter.previousDaily[0].date: 2026-12-01 is not within the period 2026-11-01 to 2026-11-30"},
		{"previous too long", meterDoc(m(`"name":"n","usageToDate":1,"previousPeriodStart":"2026-11-01","previousDaily":[`+strings.Join(long, ",")+`]`), ""), "meter.previousDaily: has 63 entries"},
		{"wallet currency", meterDoc("", `{"currency":"USD","balance":1}`), `wallet.currency: "USD" must be the account's currency "EUR"`},
		{"wallet negative", meterDoc("", `{"currency":"EUR","balance":-1}`), "wallet.balance: must be a non-negative integer"},
		{"wallet expiry", meterDoc("", w(`,"expiresAt":"soon"`)), `wallet.expiresAt: "soon" is not a date`},
		{"wallet transactions", meterDoc("", w(`,"transactions":[`+strings.Join(txs, ",")+`]`)), "wallet.transactions: has 101 entries, the limit is 100"},
		{"transaction id", meterDoc("", w(`,"transactions":[{"id":"a b","date":"2026-12-01","type":"grant","amount":1}]`)), "wallet.transactions[0].id: is required"},
		{"transaction id twice", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"grant","amount":1},{"id":"t","date":"2026-12-01","type":"grant","amount":1}]`)), `wallet.transactions[1].id: "t" is used twice`},
		{"transaction date", meterDoc("", w(`,"transactions":[{"id":"t","type":"grant","amount":1}]`)), "wallet.transactions[0].date: is required"},
		{"transaction type", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"gift","amount":1}]`)), `wallet.transactions[0].type: "gift" is not one of top_up, usage, grant, expiry, refund`},
		{"transaction zero", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"grant","amount":0}]`)), "wallet.transactions[0].amount: must not be zero"},
		{"top-up negative", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"top_up","amount":-5}]`)), "wallet.transactions[0].amount: must be positive for a top_up"},
		{"usage positive", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"usage","amount":5}]`)), "wallet.transactions[0].amount: must be negative for usage"},
		{"transaction description", meterDoc("", w(`,"transactions":[{"id":"t","date":"2026-12-01","type":"usage","amount":-5,"description":"a\u0007"}]`)), "wallet.transactions[0].description: contains control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestUsageFieldsAccepted: a meter with both series and a wallet decode and encode back as given.
func TestUsageFieldsAccepted(t *testing.T) {
	t.Parallel()
	m := `{"name":"API calls","unit":"call","usageToDate":30,"daily":[{"date":"2026-12-01","quantity":10},{"date":"2026-12-03","quantity":20}],` +
		`"previousPeriodStart":"2026-11-01","previousDaily":[{"date":"2026-11-01","quantity":7},{"date":"2026-11-30","quantity":0}]}`
	w := `{"currency":"EUR","balance":2500,"expiresAt":"2027-06-30","transactions":[{"id":"t1","date":"2026-12-01","type":"top_up","amount":5000},` +
		`{"id":"t2","date":"2026-12-02","type":"usage","amount":-2500,"description":"API calls"}]}`
	a, err := Decode([]byte(meterDoc(`,"meter":`+m, w)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(a.Subscriptions[0].Items[0].Meter)
	if string(got) != m {
		t.Errorf("meter encodes as %s, want %s", got, m)
	}
	got, _ = json.Marshal(a.Wallet)
	if string(got) != w {
		t.Errorf("wallet encodes as %s, want %s", got, w)
	}
	if u := a.Subscriptions[0].Items[0].MeterUnit(); u != "call" {
		t.Errorf("MeterUnit = %q", u)
	}
}

// TestMetersBounded: more than MaxMeters meters in one document are refused.
func TestMetersBounded(t *testing.T) {
	t.Parallel()
	var items []string
	for i := range MaxMeters + 1 {
		items = append(items, fmt.Sprintf(`{"product":"p%d","pricingModel":"per_unit","quantity":1,"unitAmount":1,"meter":{"name":"m","usageToDate":0}}`, i))
	}
	doc := `{"id":"a1","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active",` +
		`"currentPeriodStart":"2026-12-01","currentPeriodEnd":"2026-12-31","items":[` + strings.Join(items, ",") + `]}]}`
	if _, err := Decode([]byte(doc)); err == nil || !strings.Contains(err.Error(), "subscriptions: have 21 meters, the limit is 20") {
		t.Fatalf("Decode = %v", err)
	}
}

// TestCatalogItemWithoutMeter: a catalog plan's item (ItemProblems) may not carry a meter.
func TestCatalogItemWithoutMeter(t *testing.T) {
	t.Parallel()
	one := int64(1)
	p := ItemProblems("items[0]", &Item{Product: "p", PricingModel: PricingPerUnit, UnitAmount: &one, Meter: &Meter{Name: "m"}})
	if len(p) != 1 || !strings.Contains(p[0], "items[0].meter: is only for") {
		t.Fatalf("ItemProblems = %q", p)
	}
}
