package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
)

// TestPortalSettingsAPI: GET /v1/portal-settings shows the tenant's portal settings; PATCH changes
// the fields it names and keeps the others (sign in by email appears on the portal's front page);
// bad input is a 400 or 413 with a detail that changes nothing; another tenant's settings are
// untouched.
func TestPortalSettingsAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("settingsa")
	other, keyB := h.tenant("settingsb")
	auth := []string{"Authorization", "Bearer " + key}
	api := "api." + base
	get := func(k string) portalSettings {
		t.Helper()
		r := h.do("GET", api, "/v1/portal-settings", nil, "Authorization", "Bearer "+k)
		var s portalSettings
		if r.StatusCode() != 200 || json.Unmarshal(r.Body(), &s) != nil {
			t.Fatalf("GET /v1/portal-settings: %d %s", r.StatusCode(), r.Body())
		}
		return s
	}
	before := get(key)
	if before.EmailSignIn || !before.Defaults.ShowInvoices || !before.Defaults.AllowInvoicePayment || before.Defaults.CancelMode != "end_of_term" {
		t.Fatalf("a new tenant's settings: %+v", before)
	}
	if r := h.do("GET", "settingsa."+base, "/", nil); strings.Contains(string(r.Body()), `action="/sign-in"`) {
		t.Fatal("the front page offers sign in by email before the setting is on")
	}

	r := h.do("PATCH", api, "/v1/portal-settings", []byte(`{"emailSignIn":true,"defaults":{"showInvoices":false,"cancelMode":"immediate"}}`), auth...)
	var after portalSettings
	if r.StatusCode() != 200 || json.Unmarshal(r.Body(), &after) != nil {
		t.Fatalf("PATCH: %d %s", r.StatusCode(), r.Body())
	}
	want := before
	want.EmailSignIn, want.Defaults.ShowInvoices, want.Defaults.CancelMode = true, false, "immediate"
	if after != want {
		t.Fatalf("PATCH answered %+v, want %+v (fields it did not name kept)", after, want)
	}
	etcdtest.Wait(t, "setting watched", func() bool { c, ok := h.store.TenantByID(tn.ID); return ok && c.EmailSignIn })
	if got := get(key); got != want {
		t.Fatalf("GET after PATCH = %+v, want %+v", got, want)
	}
	h.signInForm("settingsa." + base) // the front page now offers sign in by email

	// A switch that is off is left out of the tenant record (omitempty) and can still be named.
	if before.Defaults.AllowTeamManagement {
		t.Fatal("a new tenant manages teams by default")
	}
	r = h.do("PATCH", api, "/v1/portal-settings", []byte(`{"defaults":{"allowTeamManagement":true}}`), auth...)
	if r.StatusCode() != 200 || json.Unmarshal(r.Body(), &after) != nil || !after.Defaults.AllowTeamManagement {
		t.Fatalf("PATCH allowTeamManagement: %d %s", r.StatusCode(), r.Body())
	}
	want.Defaults.AllowTeamManagement = true

	for _, c := range []struct {
		name, body string
		status     int
		detail     string
	}{
		{"unknown top-level field", `{"emailSignin":true}`, 400, `unknown field "emailSignin"`},
		{"unknown default", `{"defaults":{"showInvoice":true}}`, 400, `unknown field "showInvoice" in defaults`},
		{"wrong type", `{"defaults":{"showInvoices":"yes"}}`, 400, "defaults:"},
		{"null default", `{"defaults":{"allowPause":null}}`, 400, "defaults.allowPause must not be null"},
		{"invalid cancel mode", `{"emailSignIn":false,"defaults":{"cancelMode":"never"}}`, 400, `cancel mode "never"`},
		{"not JSON", `{"emailSignIn":`, 400, ""},
		{"not an object", `[true]`, 400, ""},
		{"emailSignIn not a bool", `{"emailSignIn":"on"}`, 400, "emailSignIn must be true or false"},
		{"defaults not an object", `{"defaults":[]}`, 400, "defaults must be an object"},
		{"duplicate key", `{"emailSignIn":false,"emailSignIn":true}`, 400, "duplicate key"},
		{"too large", `{"defaults":{"x":"` + strings.Repeat("a", maxSettingsBody) + `"}}`, 413, "the limit is"},
	} {
		r := h.do("PATCH", api, "/v1/portal-settings", []byte(c.body), auth...)
		var problem struct{ Detail string }
		_ = json.Unmarshal(r.Body(), &problem)
		if r.StatusCode() != c.status || problem.Detail == "" || !strings.Contains(problem.Detail, c.detail) {
			t.Errorf("%s: %d %s, want %d with a detail saying %q", c.name, r.StatusCode(), r.Body(), c.status, c.detail)
		}
	}
	if got := get(key); got != want {
		t.Fatalf("after refused PATCHes: %+v, want %+v (unchanged)", got, want)
	}
	if got := get(keyB); got != before {
		t.Fatalf("tenant %s's settings changed with another tenant's PATCH: %+v", other.Slug, got)
	}
	if r := h.do("PATCH", api, "/v1/portal-settings", []byte(`{"emailSignIn":true}`)); r.StatusCode() != 401 {
		t.Fatalf("PATCH without a key: %d", r.StatusCode())
	}
}
