package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

func TestFrameAncestorsPerTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, _ := h.tenant("frames")
	r := h.do("GET", "frames."+base, "/", nil)
	if csp := string(r.Header.Peek("Content-Security-Policy")); !strings.HasSuffix(csp, "frame-ancestors 'none'") || string(r.Header.Peek("X-Frame-Options")) != "DENY" {
		t.Fatalf("default: CSP %q XFO %q", csp, r.Header.Peek("X-Frame-Options"))
	}
	for _, bad := range []string{"http://app.acme.example", "https://app.acme.example/path", "https://a.example; script-src *", "*"} {
		if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { t.FrameAncestors = []string{bad}; return nil }, nil); err == nil {
			t.Errorf("frame ancestor %q accepted", bad)
		}
	}
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error {
		t.FrameAncestors = []string{"https://app.acme.example", "https://admin.acme.example:8443"}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "frame ancestors applied", func() bool {
		r := h.do("GET", "frames."+base, "/", nil)
		return strings.HasSuffix(string(r.Header.Peek("Content-Security-Policy")), "frame-ancestors https://app.acme.example https://admin.acme.example:8443") &&
			len(r.Header.Peek("X-Frame-Options")) == 0
	})
}

// TestHostileStringsAreEscaped pushes markup through every tenant- and account-supplied string
// that reaches a page: none of it becomes markup.
func TestHostileStringsAreEscaped(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	tn, key := h.tenant("xss")
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { t.Name = "Acme" + evil; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.UpdateAccount(context.Background(), tn.ID, "acc_7Hq2LmX9", func(a *account.Account) ([]*tenants.Event, error) {
		a.Name = "Globex" + evil
		a.Company.LegalName = "Legal" + evil
		a.Company.TaxID = "DE" + evil[:20]
		a.Company.Address.Line1 = "Street" + evil
		a.Subscriptions[0].Name = "Plan" + evil
		a.Subscriptions[0].Items[0].Product = "Product" + evil
		a.Invoices[0].Number = "INV" + evil[:30]
		a.Invoices[0].Lines[0].Description = "Line" + evil
		a.PaymentMethods[0].Brand = "visa" + evil[:25]
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant renamed", func() bool { t, _ := h.store.TenantByID(tn.ID); return strings.HasPrefix(t.Name, "Acme\"") })
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	st, cookie, gone := h.open(res["sessionUrl"].(string))
	if st != 303 {
		t.Fatalf("open: %d", st)
	}
	pages := map[string]string{"redeem": string(gone.Body())}
	for _, path := range []string{"/", "/invoices/inv_2026_0007", "/billing/edit", "/subscriptions/sub_Pro_01/cancel", "/nope"} {
		pages[path] = string(h.do("GET", "xss."+base, path, nil, "Cookie", cookie).Body())
	}
	pages["used link"] = string(h.do("GET", "xss."+base, "/s/"+strings.Repeat("x", 43), nil).Body())
	for name, body := range pages {
		if strings.Contains(body, "<script>") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: hostile markup rendered", name)
		}
	}
	if !strings.Contains(pages["/"], "&lt;script&gt;") {
		t.Error("the page does not show the escaped names at all")
	}
}

// TestNoSecretsInLogs runs a session through its life, errors included, with the gateway's
// logger captured: no token, cookie or API key may appear in it.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := newHarness(t)
	h.gw.log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, key := h.tenant("logs")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	url := res["sessionUrl"].(string)
	token := url[strings.LastIndex(url, "/")+1:]
	_, cookie, _ := h.open(url)
	h.open(url)                                                                 // replay
	h.do("GET", "logs."+base, "/", nil, "Cookie", cookie+"tampered")            // forged cookie
	h.do("POST", "logs."+base, "/logout", []byte("csrf=bad"), "Cookie", cookie) // refused form
	h.do("GET", "api."+base, "/v1/accounts/x", nil, "Authorization", "Bearer "+key+"x")
	// A store failure logged at error level: the account vanishes under a live session.
	h.store.DeleteAccount(context.Background(), mustTenantID(t, h, "logs"), "acc_7Hq2LmX9", 0)
	h.do("GET", "logs."+base, "/", nil, "Cookie", cookie)
	value := cookie[strings.Index(cookie, "=")+1:]
	for name, secret := range map[string]string{"token": token, "cookie": value, "API key": key} {
		if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), secret[:20]) {
			t.Errorf("the %s appears in the logs", name)
		}
	}
}

func mustTenantID(t *testing.T, h *harness, slug string) string {
	tn, ok := h.store.TenantBySlug(slug)
	if !ok {
		t.Fatalf("no tenant %s", slug)
	}
	return tn.ID
}
