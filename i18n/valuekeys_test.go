package i18n_test

import (
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants/account"
)

// TestValueKeys checks the messages whose keys are made from the values of account documents
// and forms: every status, pricing model, payment method type and cancellation reason has one.
func TestValueKeys(t *testing.T) {
	for _, v := range []string{account.SubActive, account.SubTrialing, account.SubPastDue, account.SubPaused, account.SubCanceled, account.SubEnded, account.SubPending} {
		want(t, "plan.status."+v)
	}
	for _, v := range []string{account.PricingFlat, account.PricingPerUnit, account.PricingTiered, account.PricingVolume, account.PricingFee} {
		want(t, "plan.model."+v)
	}
	for _, v := range []string{account.InvPaid, account.InvIssued, account.InvOverdue, account.InvVoid} {
		want(t, "invoices.status."+v)
	}
	for _, v := range []string{account.PaymentCard, account.PaymentSEPADebit, account.PaymentACH, account.PaymentBACS, account.PaymentPayPal, "other"} {
		want(t, "method.type."+v)
	}
	for _, v := range []string{"no_longer_required", "moving_provider", "pricing", "support", "features", "upgraded", "other"} {
		want(t, "cancel.reason."+v)
	}
	for _, v := range []string{"legalName", "email", "line1", "line2", "postalCode", "city", "region", "country", "taxId"} {
		want(t, "billing.field."+v)
	}
}

func want(t *testing.T, key string) {
	t.Helper()
	if !i18n.Has(key) {
		t.Errorf("no message %q", key)
	}
}
