package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAccountPutRefusesMoneyThatDoesNotAddUp: a document whose prices overflow or whose invoice
// does not add up is a 400 naming the field and the mismatch, and nothing is stored: a new account
// is not created, an existing one keeps its revision.
func TestAccountPutRefusesMoneyThatDoesNotAddUp(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("money")
	auth := []string{"Authorization", "Bearer " + key}
	before := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
	etag, stored := string(before.Header.Peek("ETag")), string(before.Body())
	example := strings.Replace(stored, `"id":"acc_7Hq2LmX9"`, `"id":"acc_new"`, 1)
	tests := []struct {
		name, path, doc, detail string
	}{
		{"overflowing item, new account", "/v1/accounts/acc_new",
			`{"id":"acc_new","name":"N","currency":"USD","subscriptions":[{"id":"s","name":"S","status":"active","items":[` +
				`{"product":"Seats","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":3}]}]}`,
			"subscriptions[0].items[0]: quantity × unitAmount overflows"},
		{"2^62 × 2^62, new account", "/v1/accounts/acc_new",
			`{"id":"acc_new","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"active","items":[` +
				`{"product":"Seats","pricingModel":"per_unit","quantity":4611686018427387904,"unitAmount":4611686018427387904}]}]}`,
			"subscriptions[0].items[0]: quantity × unitAmount overflows"},
		{"lines that do not add up, new account", "/v1/accounts/acc_new",
			strings.Replace(example, `"subtotal":100000,`, `"subtotal":99000,`, 1),
			"invoices[0] (GLX-2026-0007): lines add up to 100000, subtotal is 99000"},
		{"total that is not subtotal + tax, existing account", "/v1/accounts/acc_7Hq2LmX9",
			strings.Replace(stored, `"total":119000,`, `"total":118000,`, 1),
			"invoices[0] (GLX-2026-0007): subtotal 100000 + tax 19000 is 119000, total is 118000"},
	}
	for _, tt := range tests {
		r := h.do("PUT", "api."+base, tt.path, []byte(tt.doc), auth...)
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(r.Body(), &p); err != nil || r.StatusCode() != 400 || p.Status != 400 || !strings.Contains(p.Detail, tt.detail) {
			t.Errorf("%s: PUT = %d %s, want 400 naming %q", tt.name, r.StatusCode(), r.Body(), tt.detail)
		}
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/acc_new", nil, auth...); r.StatusCode() != 404 {
		t.Errorf("refused new account stored anyway: GET = %d %s", r.StatusCode(), r.Body())
	}
	after := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
	if string(after.Header.Peek("ETag")) != etag || string(after.Body()) != stored {
		t.Errorf("refused update changed the stored account: ETag %q → %q", etag, after.Header.Peek("ETag"))
	}
}
