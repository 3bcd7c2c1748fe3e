package backend

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

// TestExampleBackendSubscription: `portico backend-example` pauses an active subscription until
// the day asked, declines pausing it again, resumes it, and applies an accepted retention offer
// to the estimate, each time returning the whole account, which StoreAccount stores.
func TestExampleBackendSubscription(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	ctx := context.Background()
	log := e.runExample(svc, `{"id":"acc_1","name":"Globex","currency":"EUR","subscriptions":[{"id":"sub_1","name":"Pro","status":"active",
"currentPeriodStart":"2026-12-01","currentPeriodEnd":"2026-12-31","nextChargeDate":"2027-01-01","cancelAtPeriodEnd":false,
"items":[{"product":"Pro","pricingModel":"flat","quantity":1,"unitAmount":10000}]}]}`).log

	call := func(key, typ string, data any) *account.Subscription {
		t.Helper()
		r, err := svc.Call(ctx, e.tenant.ID, Request{Type: typ, IdempotencyKey: key, Data: data})
		if err != nil || r.Result != Succeeded || r.Account == nil {
			t.Fatalf("%s = %+v, %v", typ, r, err)
		}
		if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", r.Account, 0); err != nil {
			t.Fatalf("StoreAccount after %s: %v", typ, err)
		}
		return r.Account.Subscription("sub_1")
	}
	pause := SubscriptionPauseData{AccountID: "acc_1", SubscriptionID: "sub_1", Periods: 2, ResumesAt: "2027-03-01", SessionID: "ps_1"}
	if s := call("k-pause", TypeSubscriptionPause, pause); s.Status != account.SubPaused || s.ResumesAt != "2027-03-01" {
		t.Errorf("paused: %+v", s)
	}
	if r, err := svc.Call(ctx, e.tenant.ID, Request{Type: TypeSubscriptionPause, IdempotencyKey: "k-pause-2", Data: pause}); err != nil || r.Result != Declined || r.Message == "" {
		t.Errorf("pausing a paused subscription = %+v, %v", r, err)
	}
	if s := call("k-resume", TypeSubscriptionResume, SubscriptionResumeData{AccountID: "acc_1", SubscriptionID: "sub_1", SessionID: "ps_1"}); s.Status != account.SubActive || s.ResumesAt != "" {
		t.Errorf("resumed: %+v", s)
	}
	s := call("k-offer", TypeSubscriptionOfferAccept, SubscriptionOfferAcceptData{AccountID: "acc_1", SubscriptionID: "sub_1", Reason: "pricing", PercentOff: 50, Periods: 2, SessionID: "ps_1"})
	if o := s.RetentionOffer; o == nil || o.AcceptedAt == "" || o.Pending || o.PercentOff != 50 || s.EstimatedNextCharge == nil || *s.EstimatedNextCharge != 5000 {
		t.Errorf("offer accepted: %+v %+v", s, o)
	}
	for _, want := range []string{"subscription.pause key=k-pause", "subscription.resume", "subscription.offer_accept", `declined "This subscription cannot be paused`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, log.String())
		}
	}
}
