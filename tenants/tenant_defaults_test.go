package tenants

import (
	"encoding/json"
	"testing"
)

// TestPortalDefaultsAllowPaymentDefault: a record stored before allowInvoicePayment existed
// allows paying; one that says false does not; DefaultPortal allows it.
func TestPortalDefaultsAllowPaymentDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json string
		want bool
	}{
		{`{"showInvoices":true,"cancelMode":"end_of_term"}`, true},
		{`{"showInvoices":true,"allowInvoicePayment":false}`, false},
		{`{"allowInvoicePayment":true}`, true},
	} {
		var p PortalDefaults
		if err := json.Unmarshal([]byte(c.json), &p); err != nil {
			t.Fatal(err)
		}
		if p.AllowInvoicePayment != c.want {
			t.Errorf("%s: AllowInvoicePayment = %v, want %v", c.json, p.AllowInvoicePayment, c.want)
		}
	}
	var tn Tenant
	if err := json.Unmarshal([]byte(`{"id":"t","portal":{"showInvoices":true}}`), &tn); err != nil || !tn.Portal.AllowInvoicePayment || !tn.Portal.ShowInvoices {
		t.Errorf("tenant record: %+v, %v", tn.Portal, err)
	}
	if !DefaultPortal().AllowInvoicePayment {
		t.Error("DefaultPortal does not allow paying")
	}
}

// TestPortalDefaultsPlanChangeDefault: a record stored before allowPlanChange and
// allowQuantityChange existed allows both; a record that says false keeps false.
func TestPortalDefaultsPlanChangeDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json           string
		plan, quantity bool
	}{
		{`{"showPlanOverview":true}`, true, true},
		{`{"allowPlanChange":false}`, false, true},
		{`{"allowQuantityChange":false}`, true, false},
		{`{"allowPlanChange":false,"allowQuantityChange":false}`, false, false},
	} {
		var p PortalDefaults
		if err := json.Unmarshal([]byte(c.json), &p); err != nil {
			t.Fatal(err)
		}
		if p.AllowPlanChange != c.plan || p.AllowQuantityChange != c.quantity {
			t.Errorf("%s: AllowPlanChange %v, AllowQuantityChange %v; want %v, %v", c.json, p.AllowPlanChange, p.AllowQuantityChange, c.plan, c.quantity)
		}
	}
	if d := DefaultPortal(); !d.AllowPlanChange || !d.AllowQuantityChange {
		t.Errorf("DefaultPortal: %+v", d)
	}
}

// TestPortalDefaultsAllowPauseDefault: a record stored before allowPause existed allows pausing
// (the change policy still decides whether a pause is possible); false stays false.
func TestPortalDefaultsAllowPauseDefault(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json string
		want bool
	}{
		{`{"showPlanOverview":true}`, true},
		{`{"allowPause":false}`, false},
		{`{"allowPause":true}`, true},
	} {
		var p PortalDefaults
		if err := json.Unmarshal([]byte(c.json), &p); err != nil {
			t.Fatal(err)
		}
		if p.AllowPause != c.want {
			t.Errorf("%s: AllowPause = %v, want %v", c.json, p.AllowPause, c.want)
		}
	}
	if !DefaultPortal().AllowPause {
		t.Error("DefaultPortal does not allow pausing")
	}
}

// TestUsageDefaults: the Usage section and its top-up came after tenants existed: a record stored
// before reads them off (an existing portal does not grow a section), a new tenant has them on.
func TestUsageDefaults(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		json        string
		show, topUp bool
	}{
		{`{"showPlanOverview":true,"allowPause":true}`, false, false},
		{`{"showUsage":true}`, true, false},
		{`{"showUsage":true,"allowWalletTopUp":true}`, true, true},
	} {
		var p PortalDefaults
		if err := json.Unmarshal([]byte(c.json), &p); err != nil {
			t.Fatal(err)
		}
		if p.ShowUsage != c.show || p.AllowWalletTopUp != c.topUp {
			t.Errorf("%s: ShowUsage %v, AllowWalletTopUp %v; want %v, %v", c.json, p.ShowUsage, p.AllowWalletTopUp, c.show, c.topUp)
		}
	}
	if d := DefaultPortal(); !d.ShowUsage || !d.AllowWalletTopUp {
		t.Error("DefaultPortal does not show Usage with its top-up")
	}
}
