package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants"
)

// TestAPIQuota: a tenant at its quota gets a 403 whose detail names the limit, nothing is
// stored, and another tenant's writes go on.
func TestAPIQuota(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("capped")
	_, otherKey := h.tenant("roomy")
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { t.MaxAccounts = 1; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	doc := `{"name":"Second","currency":"EUR"}`
	r := h.do("PUT", "api."+base, "/v1/accounts/second", []byte(doc), "Authorization", "Bearer "+key)
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(r.Body(), &p); err != nil || r.StatusCode() != 403 || p.Status != 403 ||
		!strings.Contains(p.Detail, "max-accounts") || !strings.Contains(p.Detail, "quota") {
		t.Fatalf("PUT over max-accounts: %d %s; want 403 naming max-accounts", r.StatusCode(), r.Body())
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/second", nil, "Authorization", "Bearer "+key); r.StatusCode() != 404 {
		t.Fatalf("the refused account is readable: %d", r.StatusCode())
	}
	if r := h.do("PUT", "api."+base, "/v1/accounts/second", []byte(doc), "Authorization", "Bearer "+otherKey); r.StatusCode() != 201 {
		t.Fatalf("another tenant's PUT: %d %s", r.StatusCode(), r.Body())
	}
}
