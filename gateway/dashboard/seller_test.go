package dashboard_test

import (
	"context"
	"html/template"
	"net/url"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// sellerIn posts the seller form (whose CSRF token is the portal page's) in a language.
func (a *agent) sellerIn(header string, values ...string) *fasthttp.Response {
	a.h.t.Helper()
	v := url.Values{"csrf": {a.csrf("/settings/portal")}}
	for i := 0; i+1 < len(values); i += 2 {
		v.Add(values[i], values[i+1])
	}
	return a.inLang(header, "POST", "/settings/seller", []byte(v.Encode()), "Origin", origin, "Content-Type", "application/x-www-form-urlencoded")
}

var berlin = []string{"legal_name", "Acme Cloud GmbH", "address_line1", "Torstraße 49", "address_line2", "",
	"postal_code", "10119", "city", "Berlin", "region", "", "country", "de", "tax_id", "DE312456789"}

var berlinSeller = tenants.Seller{LegalName: "Acme Cloud GmbH", TaxID: "DE312456789",
	Address: account.Address{Line1: "Torstraße 49", PostalCode: "10119", City: "Berlin", Country: "DE"}}

// TestSellerSettings: Settings → Portal has a "Seller on invoices" form. Saving it stores the
// seller and keeps every other setting of the tenant (the second-factor requirement, branding,
// portal defaults); saving those keeps the seller; the portal's invoice page names the seller.
func TestSellerSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	ctx := context.Background()
	// Settings the seller form must not touch; the admin's session outlives the 2FA requirement.
	if _, err := h.store.UpdateTenant(ctx, h.acme.ID, func(t *tenants.Tenant) error {
		t.RequireTwoFactor, t.Branding.PrimaryColor, t.Portal.CancelMode = true, "#112233", tenants.CancelImmediate
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	body := expect(t, a.get("/settings/portal"), 200, `action="/settings/seller"`, `id="seller"`, "Seller on invoices",
		"invoices show “Acme Cloud” alone", `name="legal_name" type="text" value=""`, `<option value="DE">Germany</option>`)
	if form := body[strings.Index(body, `action="/settings/seller"`):]; !strings.Contains(form[:strings.Index(form, "</form>")], `name="csrf" value="`) {
		t.Fatal("the seller form has no CSRF token of its own")
	}
	expect(t, a.get("/settings/seller"), 303)

	body = expect(t, a.sellerIn("", berlin...), 200, "Seller saved.", `value="Acme Cloud GmbH"`, `<option value="DE" selected>Germany</option>`)
	tn := h.tenantNow(h.acme.ID)
	if tn.Seller != berlinSeller || !tn.RequireTwoFactor || tn.Branding.PrimaryColor != "#112233" || tn.Portal.CancelMode != tenants.CancelImmediate {
		t.Fatalf("after saving the seller: %+v", tn)
	}
	if !strings.Contains(body, `value="immediate" checked`) {
		t.Fatal("the portal form on the same page lost the stored cancel mode")
	}
	// Saving the portal settings and the branding keeps the seller.
	expect(t, a.form("/settings/portal", "show_invoices", "on", "cancel_mode", "end_of_term", "link_ttl", "60", "session_ttl", "30"), 200, "Portal settings saved", `value="Acme Cloud GmbH"`)
	expect(t, a.upload(a.csrf("/settings/branding"), "#223344", "#0f766e", "", nil), 200, "Branding saved")
	if tn = h.tenantNow(h.acme.ID); tn.Seller != berlinSeller || !tn.RequireTwoFactor || tn.Branding.PrimaryColor != "#223344" {
		t.Fatalf("after saving other settings: %+v", tn)
	}
	if other := h.tenantNow(h.initech.ID); !other.Seller.IsZero() {
		t.Fatalf("another tenant got the seller: %+v", other.Seller)
	}

	// The customer's invoice page names the seller.
	link := linkRE.FindString(expect(t, a.form("/customers/acc_7Hq2LmX9/copy-link"), 200))
	customer := h.agent()
	customer.redeem(link)
	etcdtest.Wait(t, "the portal sees the seller", func() bool {
		t, _ := h.store.TenantByID(h.acme.ID)
		return t.Seller == berlinSeller
	})
	expect(t, customer.do("GET", "acme."+base, "/invoices/inv_2026_0007", nil), 200, "Acme Cloud GmbH", "Torstraße 49", "10119 Berlin", "DE312456789")

	// Emptying every field removes the seller; invoices name the tenant again.
	expect(t, a.sellerIn(""), 200, "Seller saved.")
	if tn = h.tenantNow(h.acme.ID); !tn.Seller.IsZero() || !tn.RequireTwoFactor {
		t.Fatalf("after emptying the seller: %+v", tn)
	}
}

// TestSellerRefused: a seller the rules refuse is not saved (400, nothing written); the page says
// what is wrong next to each field, keeps what was typed, escaped, and says it in the admin's
// language. A post without the form's CSRF token is refused.
func TestSellerRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	expect(t, a.sellerIn("", berlin...), 200, "Seller saved.")
	before := h.tenantNow(h.acme.ID)
	with := func(changes ...string) []string {
		out := append([]string{}, berlin...)
		for i := 0; i+1 < len(changes); i += 2 {
			for j := 0; j < len(out); j += 2 {
				if out[j] == changes[i] {
					out[j+1] = changes[i+1]
				}
			}
		}
		return out
	}
	tests := []struct {
		name   string
		values []string
		field  string // the field marked
		key    string // its message
		args   []any
	}{
		{"no legal name", with("legal_name", ""), "legal_name", "dash.seller.error.legalName", nil},
		{"blank legal name", with("legal_name", "   "), "legal_name", "dash.seller.error.legalName", nil},
		{"tax ID alone", []string{"tax_id", "DE312456789"}, "legal_name", "dash.seller.error.legalName", nil},
		{"long legal name", with("legal_name", strings.Repeat("ß", 201)), "legal_name", "dash.seller.error.text", []any{"max", 200}},
		{"long tax ID", with("tax_id", strings.Repeat("9", 65)), "tax_id", "dash.seller.error.text", []any{"max", 64}},
		{"tab in tax ID", with("tax_id", "DE\t312"), "tax_id", "dash.seller.error.text", []any{"max", 64}},
		{"line break in address", with("address_line1", "Torstraße 49\r\nHof"), "address_line1", "dash.seller.error.text", []any{"max", 200}},
		{"invalid UTF-8", with("city", "Berl\xffin"), "city", "dash.seller.error.text", []any{"max", 100}},
		{"long postal code", with("postal_code", strings.Repeat("1", 21)), "postal_code", "dash.seller.error.text", []any{"max", 20}},
		{"no city", with("city", ""), "city", "dash.seller.error.addressPart", nil},
		{"no street", with("address_line1", ""), "address_line1", "dash.seller.error.addressPart", nil},
		{"no country", with("country", ""), "country", "dash.seller.error.country", nil},
		{"unknown country", with("country", "XX"), "country", "dash.seller.error.country", nil},
	}
	for _, tt := range tests {
		for _, lang := range []string{"en", "de", "ja"} {
			p := i18n.ForLocale(lang)
			r := a.sellerIn(lang, tt.values...)
			body := page(t, tt.name+" in "+lang, r, 400, p, map[string][]any{
				tt.key: tt.args, "form.correct": nil, "dash.seller.title": nil, "dash.seller.save": nil,
			}, `<div class="field has-error"><label for="`+tt.field+`">`, `id="`+tt.field+`-error"`)
			if n := strings.Count(body, "has-error"); n != 1 {
				t.Errorf("%s in %s: %d fields marked, want 1", tt.name, lang, n)
			}
			// The summary stands at the top of the seller form, linking to the field, and no
			// banner at the top of the page says it far from the form.
			form := body[strings.Index(body, `id="seller"`):]
			form = form[:strings.Index(form, "</form>")]
			at := strings.Index(form, `<div class="error-summary" role="alert" tabindex="-1" autofocus`)
			if at < 0 || at > strings.Index(form, `<div class="field`) {
				t.Errorf("%s in %s: no error summary at the top of the seller form:\n%s", tt.name, lang, form)
			}
			if link := `<a href="#` + tt.field + `">` + template.HTMLEscapeString(p.T(tt.key, tt.args...)) + `</a>`; !strings.Contains(form, link) {
				t.Errorf("%s in %s: the summary lacks %s", tt.name, lang, link)
			}
			if strings.Contains(body, "alert-error") || strings.Count(body, `id="error-summary-title"`) != 1 {
				t.Errorf("%s in %s: another error banner besides the seller form's summary:\n%s", tt.name, lang, body)
			}
		}
		if now := h.tenantNow(h.acme.ID); now.Revision != before.Revision {
			t.Fatalf("%s: the refused seller was saved: %+v", tt.name, now.Seller)
		}
	}
	// What was typed comes back, escaped.
	xss := `<script>alert("x")</script> & Co`
	body := expect(t, a.sellerIn("", with("legal_name", xss, "city", "")...), 400)
	if !strings.Contains(body, `value="`+template.HTMLEscapeString(xss)+`"`) || strings.Contains(body, xss) {
		t.Fatal("the typed legal name is not shown back escaped")
	}
	// Without the CSRF token, or from another origin: refused, nothing saved.
	if r := a.post("/settings/seller", url.Values{"legal_name": {"Evil Ltd"}}); r.StatusCode() != 403 {
		t.Fatalf("seller form without CSRF token: %d", r.StatusCode())
	}
	v := url.Values{"csrf": {a.csrf("/settings/portal")}, "legal_name": {"Evil Ltd"}}
	if r := a.do("POST", dashHost, "/settings/seller", []byte(v.Encode()), "Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"); r.StatusCode() != 403 {
		t.Fatalf("seller form from another origin: %d", r.StatusCode())
	}
	if now := h.tenantNow(h.acme.ID); now.Revision != before.Revision {
		t.Fatalf("a forged post saved the seller: %+v", now.Seller)
	}
}
