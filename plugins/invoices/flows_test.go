package invoices_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/invoices"
	"github.com/portico-billing/portico/tenants"
)

// TestPayFlowCheck: pay_invoice needs allowPayment and invoiceId, an open invoice of the account
// (issued or overdue, not a draft, not paid); the link stores the invoice's id.
func TestPayFlowCheck(t *testing.T) {
	t.Parallel()
	f := sectiontest.Flow(t, invoices.FlowPayInvoice)
	if !slices.Equal(f.Params, []string{"invoiceId"}) {
		t.Fatalf("params %q, want [invoiceId]", f.Params)
	}
	a := sectiontest.Example(t)
	for _, tt := range []struct {
		invoice string
		allow   bool
		want    string
		refusal string
	}{
		{"inv_2026_0007", true, "inv_2026_0007", ""}, // overdue
		{"inv_2026_0006", true, "inv_2026_0006", ""}, // issued
		{"inv_2026_0007", false, "", "flow pay_invoice needs invoiceListSettings.allowPayment"},
		{"", true, "", "flow pay_invoice needs invoiceId"},
		{"inv_2026_0005", true, "", `invoice "inv_2026_0005" has nothing to pay (status paid)`},
		{"inv_2026_0008", true, "", `invoiceId "inv_2026_0008" is not an invoice of the account`}, // a draft
		{"inv_nope", true, "", `invoiceId "inv_nope" is not an invoice of the account`},
	} {
		var on []*plugins.Switch
		if tt.allow {
			on = append(on, invoices.AllowPayment)
		}
		params := map[string]string{}
		if tt.invoice != "" {
			params["invoiceId"] = tt.invoice
		}
		t.Run(fmt.Sprintf("%s allowed %v", tt.invoice, tt.allow), func(t *testing.T) {
			sectiontest.CheckFlow(t, f, sectiontest.FlowRequest(&tenants.Tenant{}, a, params, on...), tt.want, tt.refusal)
		})
	}
	// An account that cannot be read is not the request's fault.
	if _, err := f.Check(context.Background(), sectiontest.FlowRequest(&tenants.Tenant{}, nil, map[string]string{"invoiceId": "inv_2026_0007"}, invoices.AllowPayment)); !errors.Is(err, tenants.ErrAccountNotFound) || errors.Is(err, plugins.ErrBadFlow) {
		t.Errorf("account gone: %v, want ErrAccountNotFound", err)
	}
}

// TestPayFlowLanding: a link lands on its invoice's pay page (the id escaped), and on the
// overview without one.
func TestPayFlowLanding(t *testing.T) {
	t.Parallel()
	f := sectiontest.Flow(t, invoices.FlowPayInvoice)
	for arg, want := range map[string]string{"inv_2026_0007": "/pay/inv_2026_0007", "inv 1/2": "/pay/inv%201%2F2", "": ""} {
		if got := f.Landing(&tenants.Tenant{}, arg); got != want {
			t.Errorf("Landing(%q) = %q, want %q", arg, got, want)
		}
	}
}
