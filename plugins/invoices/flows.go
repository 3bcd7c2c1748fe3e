package invoices

import (
	"context"
	"net/url"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
)

// FlowPayInvoice is the deep-link flow that lands on the pay page of the invoice of
// ParamInvoiceID (required): an open invoice of the account. It needs AllowPayment.
const FlowPayInvoice = "pay_invoice"

// ParamInvoiceID is the session request's field naming the invoice of FlowPayInvoice.
const ParamInvoiceID = "invoiceId"

var _ plugins.Flower = section{}

// Flows declares FlowPayInvoice.
func (section) Flows() []plugins.Flow {
	return []plugins.Flow{{Name: FlowPayInvoice, Params: []string{ParamInvoiceID}, Check: checkPay, Landing: payLanding}}
}

// checkPay refuses a session that may not pay, and an invoice that is not an open invoice of the
// account.
func checkPay(ctx context.Context, r *plugins.FlowRequest) (string, error) {
	if !r.On(AllowPayment) {
		return "", plugins.BadFlow("flow %s needs %s", FlowPayInvoice, AllowPayment.Key())
	}
	id := r.Param(ParamInvoiceID)
	if id == "" {
		return "", plugins.BadFlow("flow %s needs %s", FlowPayInvoice, ParamInvoiceID)
	}
	a, err := r.Account(ctx)
	if err != nil {
		return "", err
	}
	inv := a.Invoice(id)
	if inv == nil || !inv.Visible() {
		return "", plugins.BadFlow("%s %q is not an invoice of the account", ParamInvoiceID, id)
	}
	if !inv.Open() {
		return "", plugins.BadFlow("invoice %q has nothing to pay (status %s)", inv.ID, inv.Status)
	}
	return inv.ID, nil
}

// payLanding is the pay page of the stored invoice (the overview for a link stored without one).
func payLanding(_ *tenants.Tenant, invoiceID string) string {
	if invoiceID == "" {
		return ""
	}
	return "/pay/" + url.PathEscape(invoiceID)
}
