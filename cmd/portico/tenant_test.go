package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// tenantJSON is tenant get --json.
func tenantJSON(t *testing.T, prefix, slug string) tenants.Tenant {
	t.Helper()
	var tn tenants.Tenant
	if err := json.Unmarshal([]byte(mustCLI(t, prefix, "--json", "tenant", "get", slug)), &tn); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestTenantSellerCLI: tenant create and update set the seller on the tenant's invoices (legal
// name, address as key=value pairs, tax ID); an update of one field keeps the others and every
// other setting, an update of another setting keeps the seller; a bad value is refused and saves
// nothing.
func TestTenantSellerCLI(t *testing.T) {
	t.Parallel()
	p := etcdtest.Prefix(t)
	mustCLI(t, p, "tenant", "create", "--slug", "zephyr", "--name", "Zephyr", "--require-2fa",
		"--seller-name", "Zephyr Software GmbH", "--seller-tax-id", "DE811907980",
		"--seller-address", "line1=Friedrichstraße 68,line2=4. OG,postal-code=10117,city=Berlin,country=de")
	want := tenants.Seller{LegalName: "Zephyr Software GmbH", TaxID: "DE811907980",
		Address: account.Address{Line1: "Friedrichstraße 68", Line2: "4. OG", PostalCode: "10117", City: "Berlin", Country: "DE"}}
	if tn := tenantJSON(t, p, "zephyr"); tn.Seller != want || !tn.RequireTwoFactor {
		t.Fatalf("created: seller %+v, require 2FA %v", tn.Seller, tn.RequireTwoFactor)
	}
	if out := mustCLI(t, p, "--json=false", "tenant", "get", "zephyr"); !strings.Contains(out,
		"seller:      Zephyr Software GmbH, Friedrichstraße 68, 4. OG, 10117 Berlin, Germany, tax ID DE811907980\n") {
		t.Fatalf("tenant get = %q", out)
	}

	// One field at a time; the rest stays.
	mustCLI(t, p, "tenant", "update", "zephyr", "--seller-tax-id", "DE999999999")
	want.TaxID = "DE999999999"
	mustCLI(t, p, "tenant", "update", "zephyr", "--seller-address", `"line1=1 Market St, Suite 300",city=San Francisco,region=CA,postal-code=94105,country=US`)
	want.Address = account.Address{Line1: "1 Market St, Suite 300", City: "San Francisco", Region: "CA", PostalCode: "94105", Country: "US"}
	if tn := tenantJSON(t, p, "zephyr"); tn.Seller != want || !tn.RequireTwoFactor {
		t.Fatalf("after updating the seller: seller %+v, require 2FA %v", tn.Seller, tn.RequireTwoFactor)
	}
	// Other settings keep the seller.
	mustCLI(t, p, "tenant", "update", "zephyr", "--name", "Zephyr Cloud", "--accent-color", "#0f766e", "--max-accounts", "5")
	if tn := tenantJSON(t, p, "zephyr"); tn.Seller != want || !tn.RequireTwoFactor || tn.Name != "Zephyr Cloud" || tn.MaxAccounts != 5 {
		t.Fatalf("after updating other settings: %+v", tn)
	}

	before := tenantJSON(t, p, "zephyr")
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"--seller-name", ""}, "seller.legalName is required"},
		{[]string{"--seller-name", strings.Repeat("a", 201)}, "seller.legalName must be at most 200 characters"},
		{[]string{"--seller-tax-id", "DE\x01"}, "seller.taxId must be"},
		{[]string{"--seller-address", "line1=1 Main St,city=Springfield"}, `seller.address.country "" is not an ISO 3166-1 alpha-2 country code`},
		{[]string{"--seller-address", "line1=1 Main St,country=XX,city=Y"}, `seller.address.country "XX"`},
		{[]string{"--seller-address", "street=1 Main St"}, `"street=1 Main St" is not key=value with a key of line1`},
		{[]string{"--seller-address", "Friedrichstraße 68"}, "is not key=value"},
		{[]string{"--seller-address", "city=A,city=B"}, "city is given twice"},
		{[]string{"--seller-address", `line1="unclosed`}, "reading --seller-address"},
		{[]string{"--seller-address", "line1=a\nline1=b"}, "one line of key=value pairs expected"},
	} {
		code, _, errs := cli(t, p, append([]string{"tenant", "update", "zephyr"}, c.args...)...)
		if code == 0 || !strings.Contains(errs, c.err) {
			t.Errorf("tenant update %q: exit %d, %q; want a failure saying %q", c.args, code, errs, c.err)
		}
	}
	if tn := tenantJSON(t, p, "zephyr"); tn.UpdatedAt != before.UpdatedAt || tn.Seller != want {
		t.Fatalf("a refused update changed the tenant: %+v", tn)
	}

	// An empty address removes it; without a seller, get says so.
	mustCLI(t, p, "tenant", "update", "zephyr", "--seller-address", "")
	if tn := tenantJSON(t, p, "zephyr"); tn.Seller.Address != (account.Address{}) || tn.Seller.LegalName != want.LegalName {
		t.Fatalf("after removing the address: %+v", tn.Seller)
	}
	mustCLI(t, p, "tenant", "update", "zephyr", "--seller-name", "", "--seller-tax-id", "")
	if out := mustCLI(t, p, "--json=false", "tenant", "get", "zephyr"); !strings.Contains(out, "seller:      none (invoices name the tenant)\n") {
		t.Fatalf("tenant get without a seller = %q", out)
	}
	// A tenant created without seller flags has none.
	mustCLI(t, p, "tenant", "create", "--slug", "plain", "--name", "Plain")
	if tn := tenantJSON(t, p, "plain"); !tn.Seller.IsZero() {
		t.Fatalf("plain tenant has a seller: %+v", tn.Seller)
	}
}
