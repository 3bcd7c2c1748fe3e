package tenants

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// meteredAccount is an account whose subscription s (1–31 Dec 2026) has a tiered API-call
// meter (item 1: 1–1,000,000 free, 1,000,001–5,000,000 at 0.3, then 0.1) at usage calls.
func meteredAccount(usage int64) *account.Account {
	n := func(v int64) *int64 { return &v }
	return &account.Account{ID: "acc_u", Name: "U", Email: "u@example.com", Currency: "EUR", Subscriptions: []account.Subscription{{
		ID: "s", Name: "S", Status: account.SubActive, CurrentPeriodStart: "2026-12-01", CurrentPeriodEnd: "2026-12-31",
		Items: []account.Item{
			{Product: "Base", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: n(900)},
			{Product: "API", PricingModel: account.PricingTiered, Quantity: usage, Unit: "call", Meter: &account.Meter{Name: "API calls", UsageToDate: usage},
				Tiers: []account.Tier{{UpTo: n(1000000), UnitAmount: n(0)}, {UpTo: n(5000000), UnitAmountDecimal: "0.3"}, {UnitAmountDecimal: "0.1"}}},
		}}}}
}

// TestUsageAlertsDue: which alerts a usage crosses, hand-computed: 80 % of tier 1 (1–1,000,000)
// is 800,000 calls; 80 % of tier 2 (1,000,001–5,000,000) is 1,000,000 + 3,200,000 = 4,200,000;
// 1,800,000 calls cost 800,000 × 0.3 ct = €2,400.00; a mark of the period and threshold keeps
// an alert from firing again, a new period or tier fires it again.
func TestUsageAlertsDue(t *testing.T) {
	t.Parallel()
	tier := UsageAlert{ID: "t", Kind: AlertTier, SubscriptionID: "s", Item: 1, Percent: 80}
	qty := UsageAlert{ID: "q", Kind: AlertQuantity, SubscriptionID: "s", Item: 1, Quantity: 2000000}
	cost := UsageAlert{ID: "c", Kind: AlertCost, SubscriptionID: "s", Item: 1, Amount: 239999, Currency: "EUR"}
	for _, c := range []struct {
		name  string
		usage int64
		sent  []AlertMark
		want  []string // alert id and threshold
	}{
		{"below everything", 799999, nil, nil},
		{"80 % of tier 1", 800000, nil, []string{"t@800000"}},
		{"80 % of tier 1 sent", 900000, []AlertMark{{AlertID: "t", Period: "2026-12-01", Threshold: "0"}}, nil},
		{"sent last period", 900000, []AlertMark{{AlertID: "t", Period: "2026-11-01", Threshold: "0"}}, []string{"t@800000"}},
		{"tier 2, below 80 %, cost above", 1800000, []AlertMark{{AlertID: "t", Period: "2026-12-01", Threshold: "0"}}, []string{"c@239999"}},
		{"cost at the amount is not above", 1799997, nil, nil},
		{"quantity", 2000000, []AlertMark{{AlertID: "c", Period: "2026-12-01"}}, []string{"q@2000000"}},
		{"80 % of tier 2", 4200000, []AlertMark{{AlertID: "t", Period: "2026-12-01", Threshold: "0"}, {AlertID: "c", Period: "2026-12-01"}, {AlertID: "q", Period: "2026-12-01"}}, []string{"t@4200000"}},
		{"open last tier", 6000000, []AlertMark{{AlertID: "c", Period: "2026-12-01"}, {AlertID: "q", Period: "2026-12-01"}}, nil},
	} {
		ua := &UsageAlerts{Alerts: []UsageAlert{tier, qty, cost}, Sent: c.sent}
		var got []string
		for _, f := range ua.Due(meteredAccount(c.usage)) {
			got = append(got, f.Alert.ID+"@"+itoa(f.Threshold))
		}
		if len(got) != len(c.want) || len(got) > 0 && got[0] != c.want[0] {
			t.Errorf("%s: due %v, want %v", c.name, got, c.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestUsageAlertsStore: alerts are checked against the account, bounded, deleted with their
// marks; DueUsageAlerts returns a crossing once however many callers ask at once, and the
// account's delete removes them.
func TestUsageAlertsStore(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "alerts")
	if _, _, err := s.PutAccount(ctx, tn.ID, meteredAccount(100), 0); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	for _, bad := range []UsageAlert{
		{Kind: AlertTier, SubscriptionID: "s", Item: 0, Percent: 80},                // not metered
		{Kind: AlertTier, SubscriptionID: "nope", Item: 1, Percent: 80},             // no subscription
		{Kind: AlertTier, SubscriptionID: "s", Item: 1, Percent: 101},               // percent
		{Kind: AlertQuantity, SubscriptionID: "s", Item: 1},                         // quantity
		{Kind: AlertCost, SubscriptionID: "s", Item: 1, Amount: 5, Currency: "USD"}, // currency
		{Kind: "weekly", SubscriptionID: "s", Item: 1},
	} {
		if _, err := s.AddUsageAlert(ctx, tn.ID, "acc_u", bad, now); !errors.Is(err, ErrInvalidAlert) {
			t.Errorf("AddUsageAlert(%+v) = %v, want ErrInvalidAlert", bad, err)
		}
	}
	if _, err := s.AddUsageAlert(ctx, tn.ID, "acc_none", UsageAlert{Kind: AlertQuantity, SubscriptionID: "s", Item: 1, Quantity: 5}, now); !errors.Is(err, ErrAccountNotFound) {
		t.Errorf("alert on a missing account: %v", err)
	}
	var ids []string
	for i := range MaxUsageAlerts {
		al, err := s.AddUsageAlert(ctx, tn.ID, "acc_u", UsageAlert{Kind: AlertQuantity, SubscriptionID: "s", Item: 1, Quantity: int64(1000 * (i + 1))}, now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, al.ID)
	}
	if _, err := s.AddUsageAlert(ctx, tn.ID, "acc_u", UsageAlert{Kind: AlertQuantity, SubscriptionID: "s", Item: 1, Quantity: 5}, now); !errors.Is(err, ErrTooManyAlerts) {
		t.Errorf("the eleventh alert: %v", err)
	}
	// The same alert again (a form sent twice) is the one the account has, not a new one.
	if al, err := s.AddUsageAlert(ctx, tn.ID, "acc_u", UsageAlert{Kind: AlertQuantity, SubscriptionID: "s", Item: 1, Quantity: 2000}, now); err != nil || al.ID != ids[1] {
		t.Errorf("an alert the account has, again = %s, %v; want %s, nil", al.ID, err, ids[1])
	}
	if ua, err := s.UsageAlerts(ctx, tn.ID, "acc_u"); err != nil || len(ua.Alerts) != MaxUsageAlerts {
		t.Errorf("after adding an alert the account has: %d alerts, %v", len(ua.Alerts), err)
	}
	// Usage 2,500: the alerts at 1,000 and 2,000 are due, once, to one of ten concurrent callers.
	if _, _, err := s.PutAccount(ctx, tn.ID, meteredAccount(2500), 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			due, _, err := s.DueUsageAlerts(ctx, tn.ID, "acc_u", now)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += len(due)
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 2 {
		t.Errorf("ten concurrent checks returned %d firings, want 2", total)
	}
	if err := s.DeleteUsageAlert(ctx, tn.ID, "acc_u", ids[0]); err != nil {
		t.Fatal(err)
	}
	ua, err := s.UsageAlerts(ctx, tn.ID, "acc_u")
	if err != nil || len(ua.Alerts) != MaxUsageAlerts-1 || len(ua.Sent) != 1 {
		t.Fatalf("after the delete: %+v, %v", ua, err)
	}
	if err := s.DeleteUsageAlert(ctx, tn.ID, "acc_u", ids[0]); !errors.Is(err, ErrAlertNotFound) {
		t.Errorf("deleting it again: %v", err)
	}
	if err := s.DeleteAccount(ctx, tn.ID, "acc_u", 0); err != nil {
		t.Fatal(err)
	}
	if r, err := s.c.Get(ctx, s.k.alerts(tn.ID, "acc_u")); err != nil || len(r.Kvs) != 0 {
		t.Errorf("the alerts outlived their account: %v %v", r, err)
	}
}
