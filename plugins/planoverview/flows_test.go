package planoverview_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/planoverview"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// TestCancelFlowCheck: cancel_subscription needs allowSubscriptionCancel and a subscription that
// can be cancelled, the one named or else the account's first; the link stores its id.
func TestCancelFlowCheck(t *testing.T) {
	t.Parallel()
	f := sectiontest.Flow(t, planoverview.FlowCancelSubscription)
	if !slices.Equal(f.Params, []string{"subscriptionId"}) {
		t.Fatalf("params %q, want [subscriptionId]", f.Params)
	}
	scheduled := func(a *account.Account) { a.Subscriptions[0].CancelAtPeriodEnd = true }
	canceled := func(a *account.Account) { a.Subscriptions[0].Status = account.SubCanceled }
	second := func(a *account.Account) {
		b := a.Subscriptions[0]
		b.ID = "sub_Team_02"
		a.Subscriptions[0].Status = account.SubCanceled
		a.Subscriptions = append(a.Subscriptions, b)
	}
	tests := []struct {
		name    string
		edit    func(*account.Account)
		sub     string
		allow   bool
		want    string // the stored argument
		refusal string // the refusal's detail
	}{
		{"named", nil, "sub_Pro_01", true, "sub_Pro_01", ""},
		{"first cancellable", nil, "", true, "sub_Pro_01", ""},
		{"first cancellable after an ended one", second, "", true, "sub_Team_02", ""},
		{"not allowed", nil, "sub_Pro_01", false, "", "flow cancel_subscription needs planOverviewSettings.allowSubscriptionCancel"},
		{"unknown subscription", nil, "sub_nope", true, "", `subscriptionId "sub_nope" is not a subscription of the account`},
		{"scheduled", scheduled, "sub_Pro_01", true, "", `subscription "sub_Pro_01" cannot be cancelled (status active, cancellation already scheduled)`},
		{"canceled", canceled, "sub_Pro_01", true, "", `subscription "sub_Pro_01" cannot be cancelled (status canceled)`},
		{"none cancellable", scheduled, "", true, "", "flow cancel_subscription: the account has no subscription that can be cancelled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			if tt.edit != nil {
				tt.edit(a)
			}
			var on []*plugins.Switch
			if tt.allow {
				on = append(on, planoverview.AllowCancel)
			}
			params := map[string]string{}
			if tt.sub != "" {
				params["subscriptionId"] = tt.sub
			}
			sectiontest.CheckFlow(t, f, sectiontest.FlowRequest(&tenants.Tenant{}, a, params, on...), tt.want, tt.refusal)
		})
	}
	// The permission is checked before the account is read; an account that cannot be read is
	// not the request's fault.
	if _, err := f.Check(context.Background(), sectiontest.FlowRequest(&tenants.Tenant{}, nil, nil)); !errors.Is(err, plugins.ErrBadFlow) {
		t.Errorf("not allowed, account gone: %v, want the refusal", err)
	}
	if _, err := f.Check(context.Background(), sectiontest.FlowRequest(&tenants.Tenant{}, nil, nil, planoverview.AllowCancel)); !errors.Is(err, tenants.ErrAccountNotFound) || errors.Is(err, plugins.ErrBadFlow) {
		t.Errorf("account gone: %v, want ErrAccountNotFound", err)
	}
}

// TestCancelFlowLanding: a link lands on the cancel form of its subscription (the id escaped),
// and on the overview without one.
func TestCancelFlowLanding(t *testing.T) {
	t.Parallel()
	f := sectiontest.Flow(t, planoverview.FlowCancelSubscription)
	for arg, want := range map[string]string{
		"sub_Pro_01": "/subscriptions/sub_Pro_01/cancel",
		"sub/a b":    "/subscriptions/sub%2Fa%20b/cancel",
		"":           "",
	} {
		if got := f.Landing(&tenants.Tenant{}, arg); got != want {
			t.Errorf("Landing(%q) = %q, want %q", arg, got, want)
		}
	}
}

// updateCatalog is a catalog with Team (the subscription's), Business in its family, an archived
// Legacy and Solo of another family.
func updateCatalog() *tenants.CatalogSnapshot {
	p := func(id, family string, archived bool) tenants.StoredPlan {
		return tenants.StoredPlan{Plan: &catalog.Plan{ID: id, Name: id, Currency: "EUR", Interval: "month", Family: family, Archived: archived}}
	}
	return &tenants.CatalogSnapshot{Plans: []tenants.StoredPlan{p("business", "main", false), p("legacy", "main", true), p("team", "main", false), p("solo", "other", false)}}
}

// TestUpdateFlowsCheck: subscription_update and subscription_update_confirm need allowPlanChange
// and a subscription on a catalog plan that can change; the confirm flow a plan offered to it.
func TestUpdateFlowsCheck(t *testing.T) {
	t.Parallel()
	onTeam := func(a *account.Account) { a.Subscriptions[0].PlanID = "team" }
	tests := []struct {
		name, flow string
		edit       func(*account.Account)
		params     map[string]string
		allow      bool
		want       string
		refusal    string
	}{
		{"update named", planoverview.FlowUpdate, onTeam, map[string]string{"subscriptionId": "sub_Pro_01"}, true, "sub_Pro_01", ""},
		{"update first", planoverview.FlowUpdate, onTeam, nil, true, "sub_Pro_01", ""},
		{"confirm", planoverview.FlowUpdateConfirm, onTeam, map[string]string{"planId": "business"}, true, "sub_Pro_01/business", ""},
		{"not allowed", planoverview.FlowUpdate, onTeam, nil, false, "", "flow subscription_update needs planOverviewSettings.allowPlanChange"},
		{"no plan", planoverview.FlowUpdate, nil, nil, true, "", "flow subscription_update: the account has no subscription that can change plan"},
		{"not changeable", planoverview.FlowUpdate, func(a *account.Account) { onTeam(a); a.Subscriptions[0].CancelAtPeriodEnd = true },
			map[string]string{"subscriptionId": "sub_Pro_01"}, true, "", `subscription "sub_Pro_01" cannot change plan (it needs a planId, to bill, no cancellation scheduled and no change pending)`},
		{"confirm without plan", planoverview.FlowUpdateConfirm, onTeam, nil, true, "", "flow subscription_update_confirm needs planId"},
		{"confirm archived", planoverview.FlowUpdateConfirm, onTeam, map[string]string{"planId": "legacy"}, true, "", `planId "legacy" is not a plan subscription "sub_Pro_01" may move to`},
		{"confirm other family", planoverview.FlowUpdateConfirm, onTeam, map[string]string{"planId": "solo"}, true, "", `planId "solo" is not a plan subscription "sub_Pro_01" may move to`},
		{"confirm current", planoverview.FlowUpdateConfirm, onTeam, map[string]string{"planId": "team"}, true, "", `planId "team" is not a plan subscription "sub_Pro_01" may move to`},
		{"unknown subscription", planoverview.FlowUpdateConfirm, onTeam, map[string]string{"planId": "business", "subscriptionId": "sub_x"}, true, "", `subscriptionId "sub_x" is not a subscription of the account`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			if tt.edit != nil {
				tt.edit(a)
			}
			var on []*plugins.Switch
			if tt.allow {
				on = append(on, planoverview.AllowPlanChange)
			}
			r := sectiontest.FlowRequest(&tenants.Tenant{}, a, tt.params, on...)
			r.Catalog = func(context.Context) (*tenants.CatalogSnapshot, error) { return updateCatalog(), nil }
			sectiontest.CheckFlow(t, sectiontest.Flow(t, tt.flow), r, tt.want, tt.refusal)
		})
	}
}

// TestUpdateFlowsLanding: the plans page of the subscription, or the preview of the plan.
func TestUpdateFlowsLanding(t *testing.T) {
	t.Parallel()
	for arg, want := range map[string]string{
		"sub_Pro_01":          "/subscriptions/sub_Pro_01/change",
		"sub_Pro_01/business": "/subscriptions/sub_Pro_01/change/preview?plan=business",
		"":                    "",
	} {
		for _, f := range []string{planoverview.FlowUpdate, planoverview.FlowUpdateConfirm} {
			if got := sectiontest.Flow(t, f).Landing(&tenants.Tenant{}, arg); got != want {
				t.Errorf("%s Landing(%q) = %q, want %q", f, arg, got, want)
			}
		}
	}
}
