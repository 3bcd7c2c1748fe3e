package gateway

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// redeemed is an opened link: where it redirects and every cookie it set, as a Cookie header.
type redeemed struct {
	status   int
	location string
	cookies  string
	set      map[string]string // Set-Cookie header by cookie name
}

func (h *harness) redeemLink(sessionURL string) redeemed {
	h.t.Helper()
	host, path := sessionPath(h.t, sessionURL)
	r := h.do("GET", host, path, nil)
	out := redeemed{status: r.StatusCode(), location: string(r.Header.Peek("Location")), set: map[string]string{}}
	var pairs []string
	r.Header.VisitAllCookie(func(k, v []byte) {
		var c fasthttp.Cookie
		c.ParseBytes(v)
		out.set[string(k)] = string(v)
		if len(c.Value()) > 0 {
			pairs = append(pairs, string(c.Key())+"="+string(c.Value()))
		}
	})
	out.cookies = strings.Join(pairs, "; ")
	return out
}

// deepTenant is a tenant that allows return URLs on app.deep.example (a frame ancestor) and
// pay.deep.example (its payment setup page).
func deepTenant(t *testing.T, h *harness, slug string, setupURL bool) (*tenants.Tenant, string) {
	t.Helper()
	tn, key := h.tenant(slug)
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error {
		t.FrameAncestors = []string{"https://app.deep.example", "https://*.wild.example"}
		if setupURL {
			t.PaymentSetupURL = "https://pay.deep.example/cards/new"
		}
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	waitTenant(t, h, tn.ID, func(t *tenants.Tenant) bool { return len(t.FrameAncestors) == 2 })
	tn, _ = h.store.TenantByID(tn.ID)
	return tn, key
}

func TestDeepLinkFlowsLandOnTheirStep(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := deepTenant(t, h, "deep", false)
	_, keyPM := deepTenant(t, h, "deep-pm", true)
	tests := []struct {
		name, key, host, body, location, page string
	}{
		{"cancel named", key, "deep", `{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","subscriptionId":"sub_Pro_01","locale":"en"}`,
			"/subscriptions/sub_Pro_01/cancel", "Why are you cancelling?"},
		{"cancel first cancellable", key, "deep", `{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","locale":"en"}`,
			"/subscriptions/sub_Pro_01/cancel", "Why are you cancelling?"},
		{"billing details", key, "deep", `{"accountId":"acc_7Hq2LmX9","flow":"billing_details","locale":"en"}`,
			"/billing/edit", "Save billing details"},
		{"payment method without setup page", key, "deep", `{"accountId":"acc_7Hq2LmX9","flow":"update_payment_method","locale":"en"}`,
			"/#billing_details", `id="billing_details"`},
		{"payment method with setup page", keyPM, "deep-pm", `{"accountId":"acc_7Hq2LmX9","flow":"update_payment_method"}`,
			"/payment-methods/add", ""},
		{"no flow", key, "deep", `{"accountId":"acc_7Hq2LmX9"}`, "/", "Tarifübersicht"},
	}
	for _, tt := range tests {
		st, res, raw := h.createSession(tt.key, tt.body)
		if st != 201 {
			t.Fatalf("%s: create session: %d %s", tt.name, st, raw)
		}
		r := h.redeemLink(res["sessionUrl"].(string))
		if r.status != 303 || r.location != tt.location || r.cookies == "" {
			t.Fatalf("%s: redeem: %d location %q, want 303 %q", tt.name, r.status, r.location, tt.location)
		}
		path, _, _ := strings.Cut(tt.location, "#")
		step := h.do("GET", tt.host+"."+base, path, nil, "Cookie", r.cookies)
		switch {
		case tt.page == "":
			// The step is the tenant's setup page, through Portico's signed redirect.
			if loc := string(step.Header.Peek("Location")); step.StatusCode() != 303 || !strings.HasPrefix(loc, "https://pay.deep.example/cards/new?") {
				t.Errorf("%s: step: %d %q", tt.name, step.StatusCode(), loc)
			}
		case step.StatusCode() != 200 || !strings.Contains(string(step.Body()), tt.page):
			t.Errorf("%s: step %s: %d, want 200 with %q", tt.name, path, step.StatusCode(), tt.page)
		}
	}
}

func TestDeepLinkFlowRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := deepTenant(t, h, "deep-bad", false)
	for _, tt := range []struct{ body, detail string }{
		{`{"accountId":"acc_7Hq2LmX9","flow":"delete_account"}`, `flow "delete_account" is not one of billing_details, cancel_subscription, pay_invoice, subscription_update, subscription_update_confirm, update_payment_method`},
		{`{"accountId":"acc_7Hq2LmX9","flow":"Cancel_Subscription"}`, "is not one of"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","planOverviewSettings":{"allowSubscriptionCancel":false}}`, "needs planOverviewSettings.allowSubscriptionCancel"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"billing_details","billingDetailsSettings":{"allowDetailsEdit":false}}`, "needs billingDetailsSettings.allowDetailsEdit"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"update_payment_method","billingDetailsSettings":{"allowDetailsEdit":false}}`, "needs billingDetailsSettings.allowDetailsEdit"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"update_payment_method","billingDetailsSettings":{"showSection":false}}`, "needs billingDetailsSettings.showSection"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","subscriptionId":"sub_nope"}`, `subscriptionId "sub_nope" is not a subscription of the account`},
		{`{"accountId":"acc_7Hq2LmX9","subscriptionId":"sub_Pro_01"}`, "subscriptionId is only used with flow cancel_subscription"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"billing_details","subscriptionId":"sub_Pro_01"}`, "subscriptionId is only used with flow cancel_subscription"},
		{`{"accountId":"acc_7Hq2LmX9","flow":7}`, "flow"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","invoiceId":"inv_2026_0007"}`, "invoiceId is only used with flow pay_invoice"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","subscriptionId":7}`, "subscriptionId"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","planId":"p"}`, "planId is only used with flow subscription_update_confirm"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","priceId":"p"}`, `unknown field "priceId"`},
	} {
		st, res, raw := h.createSession(key, tt.body)
		if detail, _ := res["detail"].(string); st != 400 || !strings.Contains(detail, tt.detail) || strings.Contains(raw, "links:") {
			t.Errorf("%s: %d %s, want 400 with %q", tt.body, st, raw, tt.detail)
		}
	}
	// A subscription that cannot be cancelled any more, and an account without one.
	if _, err := h.store.UpdateAccount(context.Background(), mustTenantID(t, h, "deep-bad"), "acc_7Hq2LmX9", func(a *account.Account) ([]*tenants.Event, error) {
		a.Subscriptions[0].CancelAtPeriodEnd = true
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if st, _, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription","subscriptionId":"sub_Pro_01"}`); st != 400 || !strings.Contains(raw, "cannot be cancelled") {
		t.Errorf("scheduled subscription: %d %s", st, raw)
	}
	if st, _, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","flow":"cancel_subscription"}`); st != 400 || !strings.Contains(raw, "no subscription that can be cancelled") {
		t.Errorf("no cancellable subscription: %d %s", st, raw)
	}
}

func TestReturnURLValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := deepTenant(t, h, "deep-ret", true)
	for _, bad := range []string{
		"http://app.deep.example/account",                     // not https
		"https://evil.example/",                               // another host
		"javascript:alert(1)",                                 // not a URL to leave for
		"//evil.example/",                                     // scheme-relative: an open redirect
		"/relative/path",                                      // relative
		"https://evil.example@app.deep.example/",              // user info
		"https://app.deep.example@evil.example/",              // user info, and another host
		"https://app.deep.example.evil.example/",              // a suffix is not the host
		"https://evil.example/?next=https://app.deep.example", // the allowed host elsewhere
		`https://app.deep.example\@evil.example/`,             // backslash
		"https://app.deep.example:8443/",                      // another port
		"https:app.deep.example/",                             // not absolute
		"https:///app.deep.example/",                          // no host
		"https://x.wild.example/",                             // wildcard frame ancestors allow nothing
		"https://app.deep.example/a b",                        // space
		"https://app.deep.example/\"><script>",                // markup
		"https://app.deep.example/" + strings.Repeat("a", links.MaxReturnURL),
		"HTTPS://app.deep.example/%", // invalid escape
	} {
		body := `{"accountId":"acc_7Hq2LmX9","returnUrl":` + jsonString(bad) + `}`
		if st, _, raw := h.createSession(key, body); st != 400 || !strings.Contains(raw, "returnUrl") {
			t.Errorf("returnUrl %q: %d %s, want 400", bad, st, raw)
		}
	}
	for _, good := range []string{
		"https://app.deep.example",
		"https://app.deep.example/settings/billing?tab=1&x=2#top",
		"https://APP.deep.example:443/account",
		"https://pay.deep.example/done",
	} {
		body := `{"accountId":"acc_7Hq2LmX9","returnUrl":` + jsonString(good) + `}`
		if st, _, raw := h.createSession(key, body); st != 201 {
			t.Errorf("returnUrl %q: %d %s, want 201", good, st, raw)
		}
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

func TestCheckReturnURLNormalises(t *testing.T) {
	t.Parallel()
	tn := &tenants.Tenant{FrameAncestors: []string{"https://app.deep.example", "https://admin.deep.example:8443"}, PaymentSetupURL: "https://PAY.deep.example:443/x"}
	if got := links.ReturnHosts(tn); strings.Join(got, " ") != "app.deep.example admin.deep.example:8443 pay.deep.example" {
		t.Errorf("ReturnHosts = %v", got)
	}
	for in, want := range map[string]string{
		"https://APP.deep.example:443/a?b=1,2;3":  "https://app.deep.example/a?b=1%2C2%3B3",
		"https://admin.deep.example:8443/x#frag":  "https://admin.deep.example:8443/x#frag",
		"https://pay.deep.example":                "https://pay.deep.example",
		"https://app.deep.example/it's?a=(1)&b=*": "https://app.deep.example/it's?a=(1)&b=*",
	} {
		got, err := links.CheckReturnURL(tn, in)
		if err != nil || got != want {
			t.Errorf("CheckReturnURL(%q) = %q, %v; want %q", in, got, err, want)
		}
		if !links.ReturnURLAllowed(links.ReturnHosts(tn), []byte(got)) {
			t.Errorf("normalised %q is not allowed", got)
		}
	}
	_, err := links.CheckReturnURL(tn, "https://evil.example/")
	if !errors.Is(err, links.ErrBadReturnURL) || !links.IsClientError(err) {
		t.Errorf("error %v is not ErrBadReturnURL", err)
	}
	for _, bad := range []string{"https://app.deep.example@evil.example/", "https://evil.example/app.deep.example", "http://app.deep.example/", "https://app.deep.example/\"", ""} {
		if links.ReturnURLAllowed(links.ReturnHosts(tn), []byte(bad)) {
			t.Errorf("ReturnURLAllowed(%q)", bad)
		}
	}
}

func TestBackLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := deepTenant(t, h, "deep-back", true)
	const ret = "https://app.deep.example/settings?tab=billing&from=portal"
	st, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","locale":"de-DE","returnUrl":"`+ret+`"}`)
	if st != 201 {
		t.Fatalf("create session: %d %s", st, raw)
	}
	r := h.redeemLink(res["sessionUrl"].(string))
	setRet := r.set["__Host-portico_return"]
	for _, want := range []string{"__Host-portico_return=" + ret, "path=/", "HttpOnly", "secure", "SameSite=Lax", "max-age=3600"} {
		if !strings.Contains(strings.ToLower(setRet), strings.ToLower(want)) {
			t.Errorf("return cookie %q lacks %q", setRet, want)
		}
	}
	if !strings.Contains(r.cookies, "__Host-portico_session=") {
		t.Fatalf("no session cookie: %q", r.cookies)
	}
	host := "deep-back." + base
	link := `<p class="back-link"><a class="link" href="https://app.deep.example/settings?tab=billing&amp;from=portal">Zurück zu Tenant DEEP-BACK</a></p>`
	for _, path := range []string{"/", "/", "/billing/edit", "/subscriptions/sub_Pro_01/cancel", "/invoices/inv_2026_0007", "/nowhere"} {
		page := string(h.do("GET", host, path, nil, "Cookie", r.cookies).Body())
		if strings.Count(page, link) != 1 {
			t.Errorf("GET %s lacks the back link once:\n%s", path, page)
		}
	}
	// Without the cookie, or with one the tenant does not allow, there is no back link; the
	// cached page is the same for every session.
	session := r.cookies[strings.Index(r.cookies, "__Host-portico_session="):]
	for _, forged := range []string{"", "; __Host-portico_return=https://evil.example/", `; __Host-portico_return=https://app.deep.example/"><script>x</script>`,
		"; __Host-portico_return=javascript:alert(1)", "; __Host-portico_return=https://app.deep.example@evil.example/"} {
		for _, path := range []string{"/", "/billing/edit"} {
			page := string(h.do("GET", host, path, nil, "Cookie", session+forged).Body())
			if strings.Contains(page, "back-link") || strings.Contains(page, "evil.example") || strings.Contains(page, "<script>x") {
				t.Errorf("GET %s with %q shows a back link", path, forged)
			}
		}
	}
	// Signing out clears the return cookie and still shows the way back.
	ps := &portalSession{h: h, host: host, cookie: r.cookies}
	page := ps.get("/")
	i := strings.Index(page, `name="csrf" value="`)
	ps.csrf = page[i+19 : i+19+32]
	resp := h.do("POST", host, "/logout", []byte(url.Values{"csrf": {ps.csrf}}.Encode()), "Cookie", r.cookies,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+host)
	if resp.StatusCode() != 200 || !strings.Contains(string(resp.Body()), link) {
		t.Errorf("sign-out: %d", resp.StatusCode())
	}
	cleared := false
	resp.Header.VisitAllCookie(func(k, v []byte) {
		if string(k) == "__Host-portico_return" && strings.Contains(strings.ToLower(string(v)), "max-age=0") || strings.Contains(string(v), "expires=") && string(k) == "__Host-portico_return" {
			cleared = true
		}
	})
	if !cleared {
		t.Error("sign-out does not clear the return cookie")
	}
	// A new link without returnUrl clears a previous session's return cookie.
	_, res, _ = h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	hostR, pathR := sessionPath(t, res["sessionUrl"].(string))
	resp = h.do("GET", hostR, pathR, nil, "Cookie", "__Host-portico_return="+ret)
	var clearedOld bool
	resp.Header.VisitAllCookie(func(k, v []byte) {
		clearedOld = clearedOld || string(k) == "__Host-portico_return"
	})
	if !clearedOld {
		t.Error("redeeming a link without returnUrl keeps an old return cookie")
	}
}

func TestReturnCookieNameInDevMode(t *testing.T) {
	t.Parallel()
	if n := (&Gateway{cfg: Config{Dev: true}}).returnCookieName(); n != "portico_return" {
		t.Errorf("dev: %q", n)
	}
	if n := (&Gateway{}).returnCookieName(); n != "__Host-portico_return" {
		t.Errorf("production: %q", n)
	}
}

// TestCustomerPageZeroAllocsWithBackLink holds the hot path to zero allocations with a return
// cookie too: the back link is written between the cached page's parts.
func TestCustomerPageZeroAllocsWithBackLink(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	h := newHarness(t)
	_, key := deepTenant(t, h, "deep-alloc", false)
	h.settle()
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","returnUrl":"https://app.deep.example/back?a=1&b=2"}`)
	r := h.redeemLink(res["sessionUrl"].(string))
	var req fasthttp.Request
	req.SetRequestURI("/")
	req.Header.SetHost("deep-alloc." + base)
	req.Header.Set("Cookie", r.cookies)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h.gw.Handler(&ctx)
	h.store.Wait()
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h.gw.Handler(&ctx)
	})
	if body := string(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || !strings.Contains(body, `href="https://app.deep.example/back?a=1&amp;b=2"`) {
		t.Fatalf("status %d, back link missing", ctx.Response.StatusCode())
	}
	if allocs != 0 {
		t.Fatalf("GET / with a back link allocates %v times per request, want 0", allocs)
	}
}
