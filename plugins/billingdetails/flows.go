package billingdetails

import (
	"context"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
)

// The section's deep-link flows; both need AllowDetailsEdit.
const (
	// FlowUpdatePaymentMethod lands on the tenant's payment-method setup page (through
	// /payment-methods/add), or on the section itself when the tenant has no setup URL.
	FlowUpdatePaymentMethod = "update_payment_method"
	// FlowBillingDetails lands on the billing details form.
	FlowBillingDetails = "billing_details"
)

var _ plugins.Flower = section{}

// Flows declares FlowUpdatePaymentMethod and FlowBillingDetails.
func (section) Flows() []plugins.Flow {
	return []plugins.Flow{
		{Name: FlowUpdatePaymentMethod, Check: checkPaymentMethod, Landing: paymentMethodLanding},
		{Name: FlowBillingDetails, Check: checkDetails, Landing: func(*tenants.Tenant, string) string { return "/billing/edit" }},
	}
}

func checkDetails(_ context.Context, r *plugins.FlowRequest) (string, error) {
	if !r.On(AllowDetailsEdit) {
		return "", plugins.BadFlow("flow %s needs %s", FlowBillingDetails, AllowDetailsEdit.Key())
	}
	return "", nil
}

func checkPaymentMethod(_ context.Context, r *plugins.FlowRequest) (string, error) {
	if !r.On(AllowDetailsEdit) {
		return "", plugins.BadFlow("flow %s needs %s", FlowUpdatePaymentMethod, AllowDetailsEdit.Key())
	}
	if r.Tenant.PaymentSetupURL == "" && !r.On(ShowSection) {
		// Without a setup page the flow lands on the section.
		return "", plugins.BadFlow("flow %s needs %s when the tenant has no payment setup URL", FlowUpdatePaymentMethod, ShowSection.Key())
	}
	return "", nil
}

// paymentMethodLanding is the tenant's setup page through /payment-methods/add, or the section
// when the tenant has no setup URL (any more).
func paymentMethodLanding(t *tenants.Tenant, _ string) string {
	if t.PaymentSetupURL != "" {
		return "/payment-methods/add"
	}
	return "/#" + Name
}
