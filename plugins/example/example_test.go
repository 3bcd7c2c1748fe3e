package example_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/example"
	_ "github.com/portico-billing/portico/plugins/standard" // the compiled-in sections, as cmd/portico links them
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/valyala/fasthttp"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// The section's catalogs pass the same completeness check as i18n's own.
func TestCatalogsComplete(t *testing.T) {
	for _, err := range i18n.CheckCatalogs() {
		t.Error(err)
	}
	if got := i18n.ForLocale("de").T("example_language.title"); got != "Sprache" {
		t.Fatalf("German title %q", got)
	}
	if got := i18n.ForLocale("fr").T("example_language.title"); got != "Language" {
		t.Fatalf("a language the section does not translate falls back to English, got %q", got)
	}
}

// receiver is the tenant's webhook endpoint: it checks the Standard Webhooks signature and hands
// each verified event to the test.
type receiver struct {
	mu     sync.Mutex
	secret []byte
	events chan map[string]any
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, rc.secret)
	mac.Write([]byte(r.Header.Get("webhook-id") + "." + r.Header.Get("webhook-timestamp") + "."))
	mac.Write(body)
	if !strings.Contains(r.Header.Get("webhook-signature"), "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil))) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env map[string]any
	json.Unmarshal(body, &env)
	rc.events <- env
}

// client talks HTTP to the gateway's TCP listener, naming the host in the Host header.
type client struct {
	t    *testing.T
	addr string
}

func (c *client) do(method, host, path string, body []byte, headers ...string) *fasthttp.Response {
	c.t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + c.addr + path)
	req.Header.SetHost(host)
	req.UseHostHeader = true
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	resp := fasthttp.AcquireResponse()
	c.t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	if err := fasthttp.DoTimeout(req, resp, testwait.Patience); err != nil {
		c.t.Fatal(err)
	}
	return resp
}

// TestSectionEndToEnd works the example section over HTTP with nothing of it in the gateway: the
// session API takes its settings object (and refuses a field it does not declare), the link opens
// a page that shows it only when its show switch is on, its form posts a change of the account's
// language with the session's CSRF token, the page then speaks German (the section's own German
// messages included), and the change's webhook event reaches the tenant's receiver.
func TestSectionEndToEnd(t *testing.T) {
	ctx := context.Background()
	store, err := tenants.Open(ctx, tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if err := store.EnsureSealKey(ctx); err != nil {
		t.Fatal(err)
	}
	const base = "portal.test"
	ring, err := keyring.Follow(store)
	if err != nil {
		t.Fatal(err)
	}
	// Built in the order portico serve builds them: webhooks first, then the gateway that uses them.
	hooks, err := webhooks.New(webhooks.Config{Store: store, Keyring: ring, EventTypes: plugins.EventTypes(), AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Schedule: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if err := hooks.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hooks.Stop() })
	gw, err := gateway.New(gateway.Config{Store: store, Keyring: ring, Webhooks: hooks, BaseDomain: base,
		Limits: gateway.Limits{RedeemsPerMinute: -1, FailedTokensPerHour: -1, APIPerSecond: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := gw.Server()
	go server.Serve(ln)
	t.Cleanup(func() { server.Shutdown() })
	c := &client{t: t, addr: ln.Addr().String()}

	tn, err := store.CreateTenant(ctx, &tenants.Tenant{Slug: "lang", Name: "Lang Co", Portal: tenants.DefaultPortal()})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := store.CreateAPIKey(ctx, tn.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant indexed", func() bool { _, ok := store.TenantBySlug("lang"); return ok })
	auth := []string{"Authorization", "Bearer " + key}
	doc, _ := os.ReadFile("../../tenants/account/testdata/account.json")
	doc = []byte(strings.Replace(string(doc), `"locale": "de-DE"`, `"locale": "en"`, 1)) // English until the customer changes it
	if r := c.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", doc, auth...); r.StatusCode() != 201 {
		t.Fatalf("PUT account: %d %s", r.StatusCode(), r.Body())
	}

	rc := &receiver{events: make(chan map[string]any, 64)}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	r := c.do("POST", "api."+base, "/v1/webhook-endpoints", []byte(`{"url":"`+hook.URL+`/hooks","events":["`+example.EventLocaleUpdated+`"]}`), auth...)
	var ep struct{ Secret string }
	if err := json.Unmarshal(r.Body(), &ep); err != nil || r.StatusCode() != 201 {
		t.Fatalf("create endpoint: %d %s", r.StatusCode(), r.Body())
	}
	rc.mu.Lock()
	rc.secret, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	rc.mu.Unlock()

	session := func(body string) (int, map[string]any) {
		r := c.do("POST", "api."+base, "/portal/customer-session/customer-portal", []byte(body), auth...)
		var m map[string]any
		json.Unmarshal(r.Body(), &m)
		return r.StatusCode(), m
	}
	// A field the section does not declare is refused like any unknown field.
	if st, m := session(`{"accountId":"acc_7Hq2LmX9","exampleLanguageSettings":{"allowEverything":true}}`); st != 400 || m["detail"] != `unknown field "allowEverything"` {
		t.Fatalf("undeclared field: %d %v", st, m)
	}
	host := "lang." + base
	open := func(body string) (cookie, page string) {
		t.Helper()
		st, m := session(body)
		if st != 201 {
			t.Fatalf("session: %d %v", st, m)
		}
		u, _ := url.Parse(m["sessionUrl"].(string))
		r := c.do("GET", host, u.Path, nil)
		if r.StatusCode() != 303 {
			t.Fatalf("open link: %d", r.StatusCode())
		}
		r.Header.VisitAllCookie(func(k, v []byte) {
			var ck fasthttp.Cookie
			if ck.ParseBytes(v) == nil && strings.HasSuffix(string(ck.Key()), "portico_session") {
				cookie = string(ck.Key()) + "=" + string(ck.Value())
			}
		})
		return cookie, string(c.do("GET", host, "/", nil, "Cookie", cookie).Body())
	}

	// Off by default: the tenant's defaults know nothing of the section.
	_, page := open(`{"accountId":"acc_7Hq2LmX9"}`)
	if strings.Contains(page, "section-example_language") || !strings.Contains(page, "section-plan_overview") {
		t.Fatalf("the section shows without its show switch, or the page is broken:\n%s", page)
	}
	// Shown but not allowed: no form, and a post is refused with the section's own message.
	cookie, page := open(`{"accountId":"acc_7Hq2LmX9","exampleLanguageSettings":{"showSection":true}}`)
	if !strings.Contains(page, "section-example_language") || !strings.Contains(page, "Your billing documents and emails are in English.") || strings.Contains(page, `action="/language"`) {
		t.Fatalf("shown without allowChange:\n%s", page)
	}
	csrf := csrfOf(t, page)
	post := func(cookie, csrf, locale string) *fasthttp.Response {
		return c.do("POST", host, "/language", []byte(url.Values{"csrf": {csrf}, "locale": {locale}}.Encode()),
			"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+host)
	}
	if r := post(cookie, csrf, "de"); r.StatusCode() != 403 || !strings.Contains(string(r.Body()), "Changing the language is not available in this session.") {
		t.Fatalf("post without allowChange: %d %s", r.StatusCode(), r.Body())
	}

	cookie, page = open(`{"accountId":"acc_7Hq2LmX9","exampleLanguageSettings":{"showSection":true,"allowChange":true}}`)
	if !strings.Contains(page, `action="/language"`) {
		t.Fatalf("no form with allowChange:\n%s", page)
	}
	csrf = csrfOf(t, page)
	if r := post(cookie, "0000000000000000000000000000000", "de"); r.StatusCode() != 403 {
		t.Fatalf("post with a wrong CSRF token: %d", r.StatusCode())
	}
	if r := post(cookie, csrf, "xx"); r.StatusCode() != 422 || !strings.Contains(string(r.Body()), "Unknown language") {
		t.Fatalf("unknown language: %d", r.StatusCode())
	}
	if r := post(cookie, csrf, "de"); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/" {
		t.Fatalf("change: %d %s", r.StatusCode(), r.Body())
	}
	etcdtest.Wait(t, "the German page", func() bool {
		page = string(c.do("GET", host, "/", nil, "Cookie", cookie).Body())
		return strings.Contains(page, `<html lang="de">`)
	})
	if !strings.Contains(page, "Ihre Rechnungsdokumente und E-Mails sind auf Deutsch.") || !strings.Contains(page, "Sprache ändern") {
		t.Fatalf("the section's German messages are missing:\n%s", page)
	}
	var ev map[string]any
	for ev == nil {
		select {
		case e := <-rc.events:
			if e["type"] == example.EventLocaleUpdated {
				ev = e
			}
		case <-time.After(testwait.Patience):
			t.Fatal("no webhook event arrived")
		}
	}
	data, _ := ev["data"].(map[string]any)
	if ev["type"] != example.EventLocaleUpdated || data["locale"] != "de" || data["accountId"] != "acc_7Hq2LmX9" || !strings.HasPrefix(data["sessionId"].(string), "ps_") {
		t.Fatalf("event %v", ev)
	}
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatal("no CSRF field on the page")
	}
	return page[i+19 : i+19+32]
}
