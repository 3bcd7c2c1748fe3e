package planoverview

import (
	"context"
	"net/url"
	"strings"

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

// FlowUpdate lands on the plans a subscription may move to (Change plan): the one of
// ParamSubscriptionID, else the account's first one that can change. FlowUpdateConfirm lands on
// the preview of the move to ParamPlanID, which must be offered to it. Both need AllowPlanChange.
const (
	FlowUpdate        = "subscription_update"
	FlowUpdateConfirm = "subscription_update_confirm"
	// ParamPlanID is the session request's field naming the target plan of FlowUpdateConfirm.
	ParamPlanID = "planId"
)

// Flows declares FlowCancelSubscription, FlowUpdate and FlowUpdateConfirm.
func (section) Flows() []plugins.Flow {
	return []plugins.Flow{{
		Name:    FlowCancelSubscription,
		Params:  []string{ParamSubscriptionID},
		Check:   checkCancel,
		Landing: cancelLanding,
	}, {
		Name:   FlowUpdate,
		Params: []string{ParamSubscriptionID},
		Check: func(ctx context.Context, r *plugins.FlowRequest) (string, error) {
			return checkUpdate(ctx, r, FlowUpdate)
		},
		Landing: updateLanding,
	}, {
		Name:   FlowUpdateConfirm,
		Params: []string{ParamSubscriptionID, ParamPlanID},
		Check: func(ctx context.Context, r *plugins.FlowRequest) (string, error) {
			return checkUpdate(ctx, r, FlowUpdateConfirm)
		},
		Landing: updateLanding,
	}}
}

// checkUpdate refuses a session that may not change plans, a subscription that cannot change
// and (for FlowUpdateConfirm) a plan not offered to it; the link stores "<subscription>" or
// "<subscription>/<plan>" ("/" is in no id).
func checkUpdate(ctx context.Context, r *plugins.FlowRequest, flow string) (string, error) {
	if !r.On(AllowPlanChange) {
		return "", plugins.BadFlow("flow %s needs %s", flow, AllowPlanChange.Key())
	}
	planID := r.Param(ParamPlanID)
	if flow == FlowUpdateConfirm && planID == "" {
		return "", plugins.BadFlow("flow %s needs %s", flow, ParamPlanID)
	}
	a, err := r.Account(ctx)
	if err != nil {
		return "", err
	}
	var sub *account.Subscription
	if id := r.Param(ParamSubscriptionID); id != "" {
		if sub = a.Subscription(id); sub == nil {
			return "", plugins.BadFlow("%s %q is not a subscription of the account", ParamSubscriptionID, id)
		}
		if !Changeable(sub) {
			return "", plugins.BadFlow("subscription %q cannot change plan (it needs a planId, to bill, no cancellation scheduled and no change pending)", sub.ID)
		}
	} else {
		for k := range a.Subscriptions {
			if s := &a.Subscriptions[k]; Changeable(s) {
				sub = s
				break
			}
		}
		if sub == nil {
			return "", plugins.BadFlow("flow %s: the account has no subscription that can change plan", flow)
		}
	}
	if flow == FlowUpdate {
		return sub.ID, nil
	}
	snap, err := r.Catalog(ctx)
	if err != nil {
		return "", err
	}
	cur, _ := snap.Plan(sub.PlanID)
	for _, p := range Offered(snap, cur.Plan, a.Currency) {
		if p.ID == planID {
			return sub.ID + "/" + planID, nil
		}
	}
	return "", plugins.BadFlow("%s %q is not a plan subscription %q may move to", ParamPlanID, planID, sub.ID)
}

// updateLanding is the plans page of the stored subscription, or the preview of the stored
// plan.
func updateLanding(_ *tenants.Tenant, arg string) string {
	subID, planID, confirm := strings.Cut(arg, "/")
	if subID == "" {
		return ""
	}
	p := "/subscriptions/" + url.PathEscape(subID) + "/change"
	if confirm {
		p += "/preview?" + url.Values{"plan": {planID}}.Encode()
	}
	return p
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
