package backend

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
)

// TestExampleChange: the example backend answers subscription.preview with no preview of its
// own, carries out a plan change now (the plan's name and items with the seats the request carries, as the preview priced them) and a seat change, schedules a change that takes effect later as the
// subscription's pendingChange, and declines a plan it does not know.
func TestExampleChange(t *testing.T) {
	t.Parallel()
	const doc = `{"id":"acc_1","name":"Globex","currency":"EUR","subscriptions":[{"id":"sub_1","name":"Team","status":"active","planId":"team",
		"currentPeriodStart":"2026-12-01","currentPeriodEnd":"2026-12-31","items":[
		{"product":"Team","pricingModel":"flat","quantity":1,"unitAmount":4900},{"product":"Seats","pricingModel":"per_unit","quantity":8,"unitAmount":900}]}]}`
	two, lo, hi := int64(20000), int64(1), int64(50)
	business := &catalog.Plan{ID: "business", Name: "Business", Currency: "EUR", Interval: "month", Items: []catalog.Item{
		{Item: account.Item{Product: "Business", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &two}},
		{Item: account.Item{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: 5, UnitAmount: &two}, MinQuantity: &lo, MaxQuantity: &hi}}}
	secret := webhooks.NewSecret()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ex := &Example{Secrets: []string{secret}, Now: func() time.Time { return now },
		Account: func(context.Context, string) (*account.Account, error) { return account.Decode([]byte(doc)) },
		Plan: func(_ context.Context, id string) (*catalog.Plan, error) {
			if id == "business" {
				return business, nil
			}
			return nil, tenants.ErrPlanNotFound
		}}
	srv := httptest.NewServer(ex)
	t.Cleanup(srv.Close)
	key, _ := webhooks.ParseSecret(secret)
	call := func(typ, idem string, data any) map[string]json.RawMessage {
		t.Helper()
		d, _ := json.Marshal(data)
		body, _ := json.Marshal(map[string]any{"type": typ, "id": "breq_" + idem, "idempotencyKey": idem, "data": json.RawMessage(d)})
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(string(body)))
		req.Header.Set(webhooks.HeaderID, "breq_"+idem)
		req.Header.Set(webhooks.HeaderTimestamp, "1796464800") // now
		req.Header.Set(webhooks.HeaderSignature, webhooks.SignatureHeader([][]byte{key}, "breq_"+idem, now, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", typ, resp, err)
		}
		defer resp.Body.Close()
		var out map[string]json.RawMessage
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	subOf := func(out map[string]json.RawMessage) *account.Subscription {
		t.Helper()
		a, err := account.Decode(out["account"])
		if err != nil {
			t.Fatalf("returned document: %v (%s)", err, out["account"])
		}
		return &a.Subscriptions[0]
	}
	if out := call(TypeSubscriptionPreview, "p1", SubscriptionPreviewData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "business"}}); string(out["result"]) != `"succeeded"` || out["preview"] != nil {
		t.Errorf("preview answer %v", out)
	}
	today := &catalog.Preview{EffectiveDate: "2026-12-05"}
	s := subOf(call(TypeSubscriptionChange, "c1", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "business"}, Preview: today}))
	if s.PlanID != "business" || s.Name != "Business" || len(s.Items) != 2 || s.Items[1].Quantity != 5 || *s.Items[0].UnitAmount != 20000 || s.PendingChange != nil {
		t.Errorf("plan change: %+v", s)
	}
	// With the seats carried: the 8 seats the request names, not the plan's 5.
	carried := []account.ItemQuantity{{Product: "Seats", Quantity: 8}}
	if s := subOf(call(TypeSubscriptionChange, "c1b", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "business", Quantities: carried}, Preview: today})); s.PlanID != "business" || s.Items[1].Quantity != 8 {
		t.Errorf("plan change with seats carried: %+v", s.Items)
	}
	if s := subOf(call(TypeSubscriptionChange, "c3b", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "business", Quantities: carried}, Preview: &catalog.Preview{EffectiveDate: "2027-01-01"}})); s.PendingChange == nil || len(s.PendingChange.Quantities) != 1 || s.PendingChange.Quantities[0] != carried[0] {
		t.Errorf("scheduled change with seats carried: %+v", s.PendingChange)
	}
	one, twelve := 1, int64(12)
	if s := subOf(call(TypeSubscriptionChange, "c2", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{Item: &one, Quantity: &twelve}, Preview: today})); s.Items[1].Quantity != 12 {
		t.Errorf("seat change: %+v", s.Items)
	}
	later := &catalog.Preview{EffectiveDate: "2027-01-01"}
	if s := subOf(call(TypeSubscriptionChange, "c3", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "business"}, Preview: later})); s.PlanID != "team" ||
		s.PendingChange == nil || s.PendingChange.PlanName != "Business" || s.PendingChange.EffectiveDate != "2027-01-01" {
		t.Errorf("scheduled change: %+v", s)
	}
	if out := call(TypeSubscriptionChange, "c4", SubscriptionChangeData{AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{PlanID: "enterprise"}, Preview: today}); string(out["result"]) != `"declined"` {
		t.Errorf("unknown plan: %v", out)
	}
}
