package billingdetails_test

import (
	"fmt"
	"testing"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/billingdetails"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/tenants"
)

const setupURL = "https://pay.acme.example/cards/new"

// TestDetailsFlows: update_payment_method and billing_details need allowDetailsEdit; without a
// payment setup URL, update_payment_method lands on the section and needs it shown. Neither
// reads the account nor stores an argument.
func TestDetailsFlows(t *testing.T) {
	t.Parallel()
	edit, show := billingdetails.AllowDetailsEdit, billingdetails.ShowSection
	tests := []struct {
		flow    string
		setup   string
		on      []*plugins.Switch
		refusal string
	}{
		{billingdetails.FlowBillingDetails, "", []*plugins.Switch{edit}, ""},
		{billingdetails.FlowBillingDetails, "", []*plugins.Switch{show}, "flow billing_details needs billingDetailsSettings.allowDetailsEdit"},
		{billingdetails.FlowUpdatePaymentMethod, setupURL, []*plugins.Switch{edit}, ""},
		{billingdetails.FlowUpdatePaymentMethod, "", []*plugins.Switch{edit, show}, ""},
		{billingdetails.FlowUpdatePaymentMethod, setupURL, []*plugins.Switch{show}, "flow update_payment_method needs billingDetailsSettings.allowDetailsEdit"},
		{billingdetails.FlowUpdatePaymentMethod, "", []*plugins.Switch{edit}, "flow update_payment_method needs billingDetailsSettings.showSection when the tenant has no payment setup URL"},
	}
	for _, tt := range tests {
		f := sectiontest.Flow(t, tt.flow)
		if len(f.Params) != 0 {
			t.Errorf("%s takes params %q", tt.flow, f.Params)
		}
		// No account: the check must not need one.
		t.Run(fmt.Sprintf("%s setup %q %d switches", tt.flow, tt.setup, len(tt.on)), func(t *testing.T) {
			sectiontest.CheckFlow(t, f, sectiontest.FlowRequest(&tenants.Tenant{PaymentSetupURL: tt.setup}, nil, nil, tt.on...), "", tt.refusal)
		})
	}
}

// TestDetailsFlowLandings: billing_details lands on the form; update_payment_method on the
// tenant's setup page through /payment-methods/add, or on the section when the tenant has no
// setup URL (any more, when the link is redeemed).
func TestDetailsFlowLandings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ flow, setup, want string }{
		{billingdetails.FlowBillingDetails, "", "/billing/edit"},
		{billingdetails.FlowBillingDetails, setupURL, "/billing/edit"},
		{billingdetails.FlowUpdatePaymentMethod, setupURL, "/payment-methods/add"},
		{billingdetails.FlowUpdatePaymentMethod, "", "/#billing_details"},
	} {
		if got := sectiontest.Flow(t, tt.flow).Landing(&tenants.Tenant{PaymentSetupURL: tt.setup}, ""); got != tt.want {
			t.Errorf("%s (setup %q): Landing = %q, want %q", tt.flow, tt.setup, got, tt.want)
		}
	}
}
