package planoverview

import (
	"context"
	"net/url"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// FlowCancelSubscription is the deep-link flow that lands on the cancel form of a subscription:
// the one of ParamSubscriptionID, else the account's first cancellable one. It needs AllowCancel.
const FlowCancelSubscription = "cancel_subscription"

// ParamSubscriptionID is the session request's field naming the subscription of
// FlowCancelSubscription.
const ParamSubscriptionID = "subscriptionId"

var _ plugins.Flower = section{}

// Flows declares FlowCancelSubscription.
func (section) Flows() []plugins.Flow {
	return []plugins.Flow{{
		Name:    FlowCancelSubscription,
		Params:  []string{ParamSubscriptionID},
		Check:   checkCancel,
		Landing: cancelLanding,
	}}
}

// checkCancel refuses a session that may not cancel and a subscription that cannot be cancelled,
// and picks the account's first cancellable subscription when the request names none.
func checkCancel(ctx context.Context, r *plugins.FlowRequest) (string, error) {
	if !r.On(AllowCancel) {
		return "", plugins.BadFlow("flow %s needs %s", FlowCancelSubscription, AllowCancel.Key())
	}
	a, err := r.Account(ctx)
	if err != nil {
		return "", err
	}
	if id := r.Param(ParamSubscriptionID); id != "" {
		sub := a.Subscription(id)
		if sub == nil {
			return "", plugins.BadFlow("%s %q is not a subscription of the account", ParamSubscriptionID, id)
		}
		if !sub.Cancellable() {
			return "", plugins.BadFlow("subscription %q cannot be cancelled (status %s%s)", sub.ID, sub.Status, scheduledNote(sub))
		}
		return sub.ID, nil
	}
	for k := range a.Subscriptions {
		if sub := &a.Subscriptions[k]; sub.Cancellable() {
			return sub.ID, nil
		}
	}
	return "", plugins.BadFlow("flow %s: the account has no subscription that can be cancelled", FlowCancelSubscription)
}

func scheduledNote(s *account.Subscription) string {
	if s.CancelAtPeriodEnd {
		return ", cancellation already scheduled"
	}
	return ""
}

// cancelLanding is the cancel form of the stored subscription (the overview for a link stored
// without one).
func cancelLanding(_ *tenants.Tenant, subscriptionID string) string {
	if subscriptionID == "" {
		return ""
	}
	return "/subscriptions/" + url.PathEscape(subscriptionID) + "/cancel"
}
