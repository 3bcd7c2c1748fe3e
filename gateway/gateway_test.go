package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"image/png"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/race"
	_ "github.com/portico-billing/portico/plugins/standard"
	"github.com/portico-billing/portico/tenants"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

const base = "portal.test"

// harness is one gateway on the package's etcd, under a prefix of its own, served through an
// in-memory listener.
type harness struct {
	t       testing.TB
	store   *tenants.Store
	gw      *Gateway
	client  *fasthttp.Client
	now     atomic.Int64 // Unix seconds offset added to the real time
	metrics *prometheus.Registry
	limits  Limits
	ln      *fasthttputil.InmemoryListener
}

func newHarness(t testing.TB) *harness { return newHarnessOn(t, etcdtest.Prefix(t)) }

// noLimits turns the abuse limits off: tests send many requests from one address.
var noLimits = Limits{RedeemsPerMinute: -1, FailedTokensPerHour: -1, APIPerSecond: -1}

// newHarnessOn is a gateway on the given prefix: two of them on one prefix are two instances of
// one installation, each with its own etcd client.
func newHarnessOn(t testing.TB, prefix string, limits ...Limits) *harness {
	t.Helper()
	l := noLimits
	if len(limits) > 0 {
		l = limits[0]
	}
	return newHarnessWith(t, prefix, l, nil)
}

// newHarnessWith is newHarnessOn with limits and a change to the gateway's Config (edit may be nil).
func newHarnessWith(t testing.TB, prefix string, limits Limits, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, limits: limits}
	clock := func() time.Time { return time.Now().Add(time.Duration(h.now.Load()) * time.Second) }
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: prefix, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.store = s
	h.metrics = prometheus.NewRegistry()
	cfg := Config{Store: s, BaseDomain: base, Metrics: NewMetrics(h.metrics), Limits: h.limits, Now: clock}
	if edit != nil {
		edit(&cfg)
	}
	h.gw, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	h.ln = ln
	server := h.gw.Server()
	go server.Serve(ln)
	t.Cleanup(func() { server.Shutdown(); ln.Close() })
	h.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxConnsPerHost: 256}
	return h
}

// tenant creates a tenant with the example account and an API key.
func (h *harness) tenant(slug string) (*tenants.Tenant, string) {
	h.t.Helper()
	ctx := context.Background()
	tn, err := h.store.CreateTenant(ctx, &tenants.Tenant{Slug: slug, Name: "Tenant " + strings.ToUpper(slug), Portal: tenants.DefaultPortal()})
	if err != nil {
		h.t.Fatal(err)
	}
	_, key, err := h.store.CreateAPIKey(ctx, tn.ID, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	etcdtest.Wait(h.t, "tenant indexed", func() bool { _, ok := h.store.TenantBySlug(slug); return ok })
	h.putExample(key, "")
	return tn, key
}

func (h *harness) putExample(key, mutate string) {
	h.t.Helper()
	body, _ := os.ReadFile("../tenants/account/testdata/account.json")
	if mutate != "" {
		body = []byte(strings.Replace(string(body), `"name": "Globex Corporation"`, mutate, 1))
	}
	r := h.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", body, "Authorization", "Bearer "+key)
	if r.StatusCode() != 201 && r.StatusCode() != 200 {
		h.t.Fatalf("PUT account: %d %s", r.StatusCode(), r.Body())
	}
}

// do sends a request and returns the response (released when the test ends).
func (h *harness) do(method, host, path string, body []byte, headers ...string) *fasthttp.Response {
	h.t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + host + path)
	req.Header.SetHost(host)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	resp := fasthttp.AcquireResponse()
	h.t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	if err := h.client.DoTimeout(req, resp, testwait.Patience); err != nil {
		h.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	return resp
}

func (h *harness) createSession(key, body string, headers ...string) (status int, res map[string]any, raw string) {
	h.t.Helper()
	r := h.do("POST", "api."+base, "/portal/customer-session/customer-portal", []byte(body), append([]string{"Authorization", "Bearer " + key, "Content-Type", "application/json"}, headers...)...)
	res = map[string]any{}
	json.Unmarshal(r.Body(), &res)
	return r.StatusCode(), res, string(r.Body())
}

// sessionPath returns the host and path of a session URL.
func sessionPath(t testing.TB, url string) (host, path string) {
	t.Helper()
	rest, ok := strings.CutPrefix(url, "https://")
	if !ok {
		t.Fatalf("session URL %q is not https", url)
	}
	host, path, _ = strings.Cut(rest, "/")
	return host, "/" + path
}

// open redeems a session URL and returns the cookie header to send afterwards.
func (h *harness) open(url string) (status int, cookie string, resp *fasthttp.Response) {
	h.t.Helper()
	host, path := sessionPath(h.t, url)
	r := h.do("GET", host, path, nil)
	var c fasthttp.Cookie
	r.Header.VisitAllCookie(func(k, v []byte) { c.ParseBytes(v) })
	if len(c.Value()) > 0 {
		cookie = string(c.Key()) + "=" + string(c.Value())
	}
	return r.StatusCode(), cookie, r
}

func TestSessionEndToEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("acme")
	status, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	if status != 201 || res["sessionUrl"] == nil || res["sessionId"] == nil || res["expiresAt"] == nil {
		t.Fatalf("create session: %d %s", status, raw)
	}
	url := res["sessionUrl"].(string)
	if !strings.HasPrefix(url, "https://acme."+base+"/s/") {
		t.Fatalf("session URL %q", url)
	}
	st, cookie, r := h.open(url)
	if st != 303 || string(r.Header.Peek("Location")) != "/" || cookie == "" {
		t.Fatalf("open link: %d location=%q cookie=%q", st, r.Header.Peek("Location"), cookie)
	}
	setCookie := string(r.Header.Peek("Set-Cookie"))
	for _, want := range []string{"__Host-portico_session=", "path=/", "HttpOnly", "secure", "SameSite=Lax"} {
		if !strings.Contains(strings.ToLower(setCookie), strings.ToLower(want)) {
			t.Errorf("Set-Cookie %q lacks %q", setCookie, want)
		}
	}
	if string(r.Header.Peek("Referrer-Policy")) != "no-referrer" {
		t.Error("link response lacks Referrer-Policy: no-referrer")
	}
	page := h.do("GET", "acme."+base, "/", nil, "Cookie", cookie)
	body := string(page.Body())
	if page.StatusCode() != 200 {
		t.Fatalf("page: %d %s", page.StatusCode(), body)
	}
	for _, want := range []string{
		"Tenant ACME", "Globex Corporation", // branding and account
		"Pro (annual)", "Seats", // plan overview
		"GLX-2026-0007", "GLX-2026-0005", // invoices
		"Hauptstraße 12", "DE123456789", "4242", // billing information
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "GLX-2026-0008") {
		t.Error("page shows the draft invoice")
	}
	if strings.Contains(body, "<portico-csrf-token>") || !strings.Contains(body, `name="csrf" value="`) {
		t.Error("CSRF placeholder not replaced by the session token")
	}
	if cc := string(page.Header.Peek("Cache-Control")); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if rp := string(page.Header.Peek("Referrer-Policy")); rp != "same-origin" {
		t.Errorf("page Referrer-Policy = %q: under no-referrer browsers post forms with Origin: null", rp)
	}
	// The link works once.
	if st, c, r := h.open(url); st != 410 || string(r.Header.Peek("Referrer-Policy")) != "no-referrer" || !strings.Contains(string(r.Body()), `content="no-referrer"`) || c != "" || !strings.Contains(string(r.Body()), "already been used") || !strings.Contains(string(r.Body()), "Tenant ACME") {
		t.Fatalf("second open: %d cookie=%q", st, c)
	}
	// No session, or a forged one: a branded "session ended" page.
	if r := h.do("GET", "acme."+base, "/", nil); r.StatusCode() != 401 {
		t.Fatalf("page without cookie: %d", r.StatusCode())
	}
	if r := h.do("GET", "acme."+base, "/", nil, "Cookie", cookie+"x"); r.StatusCode() != 401 {
		t.Fatalf("page with forged cookie: %d", r.StatusCode())
	}
}

func TestExpiredAndMalformedLinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("exp")
	_, res, _ := h.createSession(key, `{"accountAlias":"crm-001234"}`)
	h.now.Store(int64(2 * time.Hour / time.Second))
	st, cookie, r := h.open(res["sessionUrl"].(string))
	if st != 410 || cookie != "" || !strings.Contains(string(r.Body()), "expired") {
		t.Fatalf("expired link: %d %q", st, cookie)
	}
	h.now.Store(0)
	for _, path := range []string{"/s/short", "/s/" + strings.Repeat("A", 43), "/s/", "/s/" + strings.Repeat("%", 43)} {
		if r := h.do("GET", "exp."+base, path, nil); r.StatusCode() != 404 || !strings.Contains(string(r.Body()), "not valid") {
			t.Errorf("GET %s: %d", path, r.StatusCode())
		}
	}
}

func TestSessionCookieExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("sexp")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	if r := h.do("GET", "sexp."+base, "/", nil, "Cookie", cookie); r.StatusCode() != 200 {
		t.Fatalf("page: %d", r.StatusCode())
	}
	h.now.Store(int64(time.Hour/time.Second) + 1)
	if r := h.do("GET", "sexp."+base, "/", nil, "Cookie", cookie); r.StatusCode() != 401 {
		t.Fatalf("page after session TTL: %d", r.StatusCode())
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, keyA := h.tenant("iso-a")
	tb, keyB := h.tenant("iso-b")
	// A's token on B's host: not found, and not consumed.
	_, res, _ := h.createSession(keyA, `{"accountId":"acc_7Hq2LmX9"}`)
	url := res["sessionUrl"].(string)
	_, path := sessionPath(t, url)
	if r := h.do("GET", "iso-b."+base, path, nil); r.StatusCode() != 404 || strings.Contains(string(r.Body()), "Tenant ISO-A") {
		t.Fatalf("A's token on B's host: %d", r.StatusCode())
	}
	st, cookieA, _ := h.open(url)
	if st != 303 {
		t.Fatalf("A's token on A's host after the foreign attempt: %d", st)
	}
	// A's cookie does not open on B's host.
	if r := h.do("GET", "iso-b."+base, "/", nil, "Cookie", cookieA); r.StatusCode() != 401 {
		t.Fatalf("A's cookie on B's host: %d", r.StatusCode())
	}
	// A's key cannot reach B's accounts: B's account exists only under B.
	ctx := context.Background()
	other := `{"id":"acc_b_only","name":"B Only","currency":"EUR"}`
	if r := h.do("PUT", "api."+base, "/v1/accounts/acc_b_only", []byte(other), "Authorization", "Bearer "+keyB); r.StatusCode() != 201 {
		t.Fatalf("B puts account: %d %s", r.StatusCode(), r.Body())
	}
	if st, _, raw := h.createSession(keyA, `{"accountId":"acc_b_only"}`); st != 404 || !strings.Contains(raw, "detail") {
		t.Fatalf("A creates session for B's account: %d %s", st, raw)
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/acc_b_only", nil, "Authorization", "Bearer "+keyA); r.StatusCode() != 404 {
		t.Fatalf("A reads B's account: %d", r.StatusCode())
	}
	if r := h.do("DELETE", "api."+base, "/v1/accounts/acc_b_only", nil, "Authorization", "Bearer "+keyA); r.StatusCode() != 404 {
		t.Fatalf("A deletes B's account: %d", r.StatusCode())
	}
	if _, err := h.store.Account(ctx, tb.ID, "acc_b_only"); err != nil {
		t.Fatalf("B's account after A's attempts: %v", err)
	}
}

func TestUnknownHost(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, host := range []string{"nobody." + base, "evil.example", "api." + base + ".evil.example", "[::1]", "a.b." + base} {
		if r := h.do("GET", host, "/", nil); r.StatusCode() != 404 {
			t.Errorf("GET / on %s: %d", host, r.StatusCode())
		}
	}
}

func TestSectionSettingsAndDefaults(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("sect")
	page := func(body string) string {
		t.Helper()
		st, res, raw := h.createSession(key, body)
		if st != 201 {
			t.Fatalf("create session %s: %d %s", body, st, raw)
		}
		_, cookie, _ := h.open(res["sessionUrl"].(string))
		return string(h.do("GET", "sect."+base, "/", nil, "Cookie", cookie).Body())
	}
	all := page(`{"accountId":"acc_7Hq2LmX9"}`)
	for _, want := range []string{"section-plan_overview", "section-invoices", "section-billing_details", "/cancel"} {
		if !strings.Contains(all, want) {
			t.Fatalf("default page lacks %q", want)
		}
	}
	p := page(`{"accountId":"acc_7Hq2LmX9","planOverviewSettings":{"allowSubscriptionCancel":false},"invoiceListSettings":{"showSection":false}}`)
	if strings.Contains(p, "section-invoices") || strings.Contains(p, "GLX-2026-0007") {
		t.Error("showSection:false left the invoices section in the HTML")
	}
	if strings.Contains(p, "/cancel") || !strings.Contains(p, "Pro (annual)") {
		t.Error("allowSubscriptionCancel:false still shows a cancel control")
	}
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error {
		t.Portal.ShowBillingDetails = false
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant defaults watched", func() bool {
		t, _ := h.store.TenantByID(tn.ID)
		return !t.Portal.ShowBillingDetails
	})
	p = page(`{"accountId":"acc_7Hq2LmX9"}`)
	if strings.Contains(p, "section-billing_details") || !strings.Contains(p, "section-plan_overview") {
		t.Error("tenant default showBillingDetails=false not applied")
	}
	p = page(`{"accountId":"acc_7Hq2LmX9","billingDetailsSettings":{"showSection":true}}`)
	if !strings.Contains(p, "section-billing_details") {
		t.Error("explicit showSection:true did not override the tenant default")
	}
}

func TestConcurrentRedemptionsOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("race")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	host, path := sessionPath(t, res["sessionUrl"].(string))
	var wins, gone atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			req.SetRequestURI("http://" + host + path)
			if err := h.client.DoTimeout(req, resp, testwait.Patience); err != nil {
				t.Error(err)
				return
			}
			switch resp.StatusCode() {
			case 303:
				if len(resp.Header.Peek("Set-Cookie")) == 0 {
					t.Error("303 without a cookie")
				}
				wins.Add(1)
			case 410:
				gone.Add(1)
			default:
				t.Errorf("status %d", resp.StatusCode())
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || gone.Load() != 99 {
		t.Fatalf("303s = %d, 410s = %d; want exactly 1 and 99", wins.Load(), gone.Load())
	}
}

func TestAPIRejectsBadInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("bad")
	auth := []string{"Authorization", "Bearer " + key}
	tests := []apiRefusal{
		{"missing auth", "POST", "/portal/customer-session/customer-portal", `{}`, nil, 401, "missing API key"},
		{"wrong key", "POST", "/portal/customer-session/customer-portal", `{}`, []string{"Authorization", "Bearer pk_abcdefghijkl_" + strings.Repeat("x", 40)}, 401, "invalid"},
		{"basic auth", "GET", "/v1/accounts/acc_7Hq2LmX9", ``, []string{"Authorization", "Basic Zm9vOmJhcg=="}, 401, "missing API key"},
		{"bad JSON", "POST", "/portal/customer-session/customer-portal", `{"accountId":`, auth, 400, "ends in the middle"},
		{"empty body", "POST", "/portal/customer-session/customer-portal", ``, auth, 400, "empty"},
		{"unknown field", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","acountAlias":"x"}`, auth, 400, `unknown field "acountAlias"`},
		{"wrong type", "POST", "/portal/customer-session/customer-portal", `{"accountId":42}`, auth, 400, `"accountId" must be a string`},
		{"wrong nested type", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","planOverviewSettings":{"showSection":"yes"}}`, auth, 400, "must be a boolean"},
		{"unknown nested field", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","billingDetailsSettings":{"showSectoin":true}}`, auth, 400, `unknown field "showSectoin"`},
		{"settings object not an object", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","invoiceListSettings":true}`, auth, 400, `field "invoiceListSettings" must be an object`},
		{"unknown settings object", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","reportsSettings":{"showSection":true}}`, auth, 400, `unknown field "reportsSettings"`},
		{"no account", "POST", "/portal/customer-session/customer-portal", `{}`, auth, 400, "accountId or accountAlias"},
		{"unknown account", "POST", "/portal/customer-session/customer-portal", `{"accountId":"nope"}`, auth, 404, "account not found"},
		{"id and alias disagree", "POST", "/portal/customer-session/customer-portal", `{"accountId":"other","accountAlias":"crm-001234"}`, auth, 400, "different accounts"},
		{"bad locale", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","locale":"not a locale!"}`, auth, 400, "locale"},
		{"trailing data", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9"} x`, auth, 400, "unexpected data"},
		{"oversized account", "PUT", "/v1/accounts/big", `{"id":"big","name":"` + strings.Repeat("x", 1<<20) + `","currency":"EUR"}`, auth, 413, "limit"},
		{"account over the document limit", "PUT", "/v1/accounts/big", `{"id":"big","name":"` + strings.Repeat("x", 200<<10) + `","currency":"EUR"}`, auth, 413, "the limit is 131072"},
		{"invalid account", "PUT", "/v1/accounts/acc_x", `{"name":"X","currency":"EURO"}`, auth, 400, "ISO 4217"},
		{"id mismatch", "PUT", "/v1/accounts/acc_x", `{"id":"acc_y","name":"X","currency":"EUR"}`, auth, 400, "does not match"},
		{"bad path id", "GET", "/v1/accounts/a%20b", ``, auth, 400, "account id"},
		{"path traversal", "GET", "/v1/accounts/..%2f..%2fsecrets", ``, auth, 404, "no API route"},
		{"bad If-Match", "PUT", "/v1/accounts/acc_7Hq2LmX9", `{"name":"X","currency":"EUR"}`, append([]string{"If-Match", "yesterday"}, auth...), 400, "If-Match"},
		{"stale If-Match", "PUT", "/v1/accounts/acc_7Hq2LmX9", `{"name":"X","currency":"EUR"}`, append([]string{"If-Match", `"1"`}, auth...), 412, "changed"},
		{"long idempotency key", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9"}`, append([]string{"Idempotency-Key", strings.Repeat("k", 256)}, auth...), 400, "Idempotency-Key"},
		{"unknown route", "GET", "/v2/nothing", ``, auth, 404, "no API route"},
		{"wrong method", "PATCH", "/v1/accounts/acc_7Hq2LmX9", `{}`, auth, 405, "not allowed"},
		{"bad limit", "GET", "/v1/accounts?limit=0", ``, auth, 400, "limit"},
		{"invalid UTF-8", "POST", "/portal/customer-session/customer-portal", "{\"accountId\":\"acc_7Hq2LmX9\",\"locale\":\"en\xff\"}", auth, 400, "not valid UTF-8"},
		{"invalid UTF-8 in an account", "PUT", "/v1/accounts/acc_u", "{\"name\":\"Glob\xc3x\",\"currency\":\"EUR\"}", auth, 400, "not valid UTF-8"},
		{"duplicate key", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","accountId":"other"}`, auth, 400, `duplicate key "accountId"`},
		{"duplicate nested key", "POST", "/portal/customer-session/customer-portal", `{"accountId":"acc_7Hq2LmX9","planOverviewSettings":{"showSection":true,"showSection":false}}`, auth, 400, `duplicate key "showSection"`},
		{"duplicate key in an account", "PUT", "/v1/accounts/acc_d", `{"name":"X","currency":"EUR","name":"Y"}`, auth, 400, `duplicate key "name"`},
		{"duplicate key in a domain", "POST", "/v1/domains", `{"name":"a.example","name":"b.example"}`, auth, 400, `duplicate key "name"`},
	}
	checkRefusals(t, h, tests)
	// Nothing of the refused writes landed.
	if _, err := h.store.Account(context.Background(), "", "big"); err == nil {
		t.Error("oversized account stored")
	}
	r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
	if !strings.Contains(string(r.Body()), "Globex Corporation") {
		t.Errorf("account changed by refused writes: %s", r.Body())
	}
}

// apiRefusal is an API request the API refuses with a problem of status and detail.
type apiRefusal struct {
	name, method, path, body string
	headers                  []string
	status                   int
	detail                   string
}

// checkRefusals sends each request and checks its problem answer: the status and a detail
// containing the expected words.
func checkRefusals(t *testing.T, h *harness, tests []apiRefusal) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			r := h.do(tt.method, "api."+base, tt.path, body, tt.headers...)
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal(r.Body(), &p); err != nil {
				t.Fatalf("%d, body not JSON: %q", r.StatusCode(), r.Body())
			}
			if r.StatusCode() != tt.status || p.Status != tt.status || !strings.Contains(p.Detail, tt.detail) {
				t.Fatalf("got %d %+v; want %d with detail containing %q", r.StatusCode(), p, tt.status, tt.detail)
			}
		})
	}
}

func TestBodyOverServerLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("huge")
	// fasthttp refuses by Content-Length before reading the body; a client still sending gets
	// the answer and a closed connection, so send the headers alone.
	conn, err := h.client.Dial("api." + base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT /v1/accounts/x HTTP/1.1\r\nHost: api.%s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", base, key, maxServerBody+1)
	var r fasthttp.Response
	if err := r.Read(bufio.NewReader(conn)); err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != 413 || !strings.Contains(string(r.Body()), `"detail"`) {
		t.Fatalf("huge body: %d %s", r.StatusCode(), r.Body())
	}
}

func TestAccountsAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("accapi")
	auth := []string{"Authorization", "Bearer " + key}
	r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
	etag := string(r.Header.Peek("ETag"))
	if r.StatusCode() != 200 || etag == "" {
		t.Fatalf("GET: %d etag=%q", r.StatusCode(), etag)
	}
	r = h.do("GET", "api."+base, "/v1/accounts?alias=crm-001234", nil, auth...)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"id":"acc_7Hq2LmX9"`) {
		t.Fatalf("alias lookup: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("GET", "api."+base, "/v1/accounts?alias=nope", nil, auth...); r.StatusCode() != 404 {
		t.Fatalf("unknown alias: %d", r.StatusCode())
	}
	// The document round-trips: PUT what GET returned with If-Match.
	doc := bytes.Replace(h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...).Body(), []byte("Globex Corporation\""), []byte("Globex Zoë\""), 1)
	r = h.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", doc, append([]string{"If-Match", etag}, auth...)...)
	if r.StatusCode() != 200 || string(r.Header.Peek("ETag")) == etag {
		t.Fatalf("PUT with If-Match: %d %s", r.StatusCode(), r.Body())
	}
	// The old revision no longer matches.
	if r := h.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", doc, append([]string{"If-Match", etag}, auth...)...); r.StatusCode() != 412 {
		t.Fatalf("PUT with stale If-Match: %d", r.StatusCode())
	}
	// Another account cannot take the alias.
	r = h.do("PUT", "api."+base, "/v1/accounts/acc_two", []byte(`{"name":"Two","currency":"EUR","alias":"crm-001234"}`), auth...)
	if r.StatusCode() != 409 {
		t.Fatalf("duplicate alias: %d %s", r.StatusCode(), r.Body())
	}
	r = h.do("GET", "api."+base, "/v1/accounts?limit=10", nil, auth...)
	if !strings.Contains(string(r.Body()), `"data":["acc_7Hq2LmX9"]`) {
		t.Fatalf("list: %s", r.Body())
	}
	if r := h.do("DELETE", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...); r.StatusCode() != 204 {
		t.Fatalf("DELETE: %d", r.StatusCode())
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...); r.StatusCode() != 404 {
		t.Fatalf("GET after DELETE: %d", r.StatusCode())
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("idem")
	st1, res1, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`, "Idempotency-Key", "order-42")
	r := h.do("POST", "api."+base, "/portal/customer-session/customer-portal", []byte(`{"accountId":"acc_7Hq2LmX9"}`), "Authorization", "Bearer "+key, "Idempotency-Key", "order-42")
	var res2 map[string]any
	json.Unmarshal(r.Body(), &res2)
	if st1 != 201 || r.StatusCode() != 201 || res1["sessionUrl"] != res2["sessionUrl"] || string(r.Header.Peek("Idempotent-Replayed")) != "true" {
		t.Fatalf("replay: %d %v / %d %v replayed=%q", st1, res1, r.StatusCode(), res2, r.Header.Peek("Idempotent-Replayed"))
	}
	if st, _, raw := h.createSession(key, `{"accountAlias":"crm-001234"}`, "Idempotency-Key", "order-42"); st != 422 || !strings.Contains(raw, "different request") {
		t.Fatalf("same key, other body: %d %s", st, raw)
	}
	// The replayed URL is the one link, still redeemable once.
	if st, _, _ := h.open(res2["sessionUrl"].(string)); st != 303 {
		t.Fatalf("replayed link: %d", st)
	}
}

func TestLogoutNeedsCSRFAndOrigin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("out")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	page := string(h.do("GET", "out."+base, "/", nil, "Cookie", cookie).Body())
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatal("no CSRF field on the page")
	}
	token := page[i+len(`name="csrf" value="`) : i+len(`name="csrf" value="`)+32]
	origin := "https://out." + base
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name, body string
		headers    []string
		status     int
	}{
		{"missing origin", "csrf=" + token, []string{"Cookie", cookie, "Content-Type", form}, 403},
		{"foreign origin", "csrf=" + token, []string{"Cookie", cookie, "Content-Type", form, "Origin", "https://evil.example"}, 403},
		{"forged token", "csrf=" + strings.Repeat("0", 32), []string{"Cookie", cookie, "Content-Type", form, "Origin", origin}, 403},
		{"missing token", "", []string{"Cookie", cookie, "Content-Type", form, "Origin", origin}, 403},
		{"no session", "csrf=" + token, []string{"Content-Type", form, "Origin", origin}, 401},
	}
	for _, tt := range tests {
		r := h.do("POST", "out."+base, "/logout", []byte(tt.body), tt.headers...)
		if r.StatusCode() != tt.status || len(r.Header.Peek("Set-Cookie")) != 0 {
			t.Errorf("%s: %d (cookie %q), want %d and no cookie change", tt.name, r.StatusCode(), r.Header.Peek("Set-Cookie"), tt.status)
		}
	}
	r := h.do("POST", "out."+base, "/logout", []byte("csrf="+token), "Cookie", cookie, "Content-Type", form, "Origin", origin)
	if r.StatusCode() != 200 || !strings.Contains(strings.ToLower(string(r.Header.Peek("Set-Cookie"))), "max-age=0") && !strings.Contains(string(r.Header.Peek("Set-Cookie")), "expires=") {
		t.Fatalf("logout: %d %q", r.StatusCode(), r.Header.Peek("Set-Cookie"))
	}
}

func TestBrandingAssetsFollowEtcd(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, _ := h.tenant("brand")
	css := func() string { return string(h.do("GET", "brand."+base, "/assets/theme.css", nil).Body()) }
	if !strings.Contains(css(), tenants.DefaultAccentColor) {
		t.Fatalf("theme.css = %q", css())
	}
	// A change written straight into etcd, as another instance or an operator would: no restart.
	raw, _ := h.store.Client().Get(context.Background(), h.store.Prefix()+"state/tenants/"+tn.ID)
	var rec map[string]any
	json.Unmarshal(raw.Kvs[0].Value, &rec)
	rec["branding"].(map[string]any)["accentColor"] = "#ff5500"
	b, _ := json.Marshal(rec)
	if _, err := h.store.Client().Put(context.Background(), h.store.Prefix()+"state/tenants/"+tn.ID, string(b)); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "new accent colour served", func() bool { return strings.Contains(css(), "#ff5500") })
	// Logo with ETag and 304.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(*tenants.Tenant) error { return nil }, &tenants.LogoUpdate{Data: png, ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	var etag string
	etcdtest.Wait(t, "logo served", func() bool {
		r := h.do("GET", "brand."+base, "/assets/logo", nil)
		etag = string(r.Header.Peek("ETag"))
		return r.StatusCode() == 200 && bytes.Equal(r.Body(), png) && string(r.Header.Peek("Content-Type")) == "image/png"
	})
	if r := h.do("GET", "brand."+base, "/assets/logo", nil, "If-None-Match", etag); r.StatusCode() != 304 {
		t.Fatalf("conditional logo: %d", r.StatusCode())
	}
}

// TestFavicon: every portal page links an icon under a cached URL, and /favicon.ico (which
// browsers ask for on their own) answers too: the neutral icon, then the tenant's logo once it
// has one. No page makes the browser fetch a 404.
func TestFavicon(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("icon")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	iconOf := func() string {
		page := string(h.do("GET", "icon."+base, "/", nil, "Cookie", cookie).Body())
		m := regexp.MustCompile(`<link rel="icon" href="([^"]+)">`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the page links no icon:\n%.600s", page)
		}
		return html.UnescapeString(m[1])
	}
	icon := iconOf()
	if !strings.HasPrefix(icon, "/assets/icon.png?v=") {
		t.Fatalf("icon without a logo: %q", icon)
	}
	for _, path := range []string{icon, "/favicon.ico"} {
		r := h.do("GET", "icon."+base, path, nil)
		if r.StatusCode() != 200 || string(r.Header.Peek("Content-Type")) != "image/png" || !bytes.Equal(r.Body(), web.Icon) {
			t.Fatalf("%s: %d %s", path, r.StatusCode(), r.Header.Peek("Content-Type"))
		}
		if _, err := png.Decode(bytes.NewReader(r.Body())); err != nil {
			t.Fatalf("%s: not a PNG: %v", path, err)
		}
		if !strings.Contains(string(r.Header.Peek("Cache-Control")), "max-age=") {
			t.Errorf("%s: not cacheable: %q", path, r.Header.Peek("Cache-Control"))
		}
	}
	logo := demoPNG(t)
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(*tenants.Tenant) error { return nil }, &tenants.LogoUpdate{Data: logo, ContentType: "image/png"}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the logo as the icon", func() bool { return strings.HasPrefix(iconOf(), "/assets/logo?v=") })
	for _, path := range []string{iconOf(), "/favicon.ico"} {
		if r := h.do("GET", "icon."+base, path, nil); r.StatusCode() != 200 || !bytes.Equal(r.Body(), logo) {
			t.Fatalf("%s with a logo: %d, %d bytes", path, r.StatusCode(), len(r.Body()))
		}
	}
}

// demoPNG is a real 16×16 PNG.
func demoPNG(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestPageFollowsAccountUpdate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("upd")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	if !strings.Contains(string(h.do("GET", "upd."+base, "/", nil, "Cookie", cookie).Body()), "Globex Corporation") {
		t.Fatal("first page")
	}
	h.putExample(key, `"name": "Globex <b>Renamed</b>"`)
	etcdtest.Wait(t, "page shows the new revision", func() bool {
		return strings.Contains(string(h.do("GET", "upd."+base, "/", nil, "Cookie", cookie).Body()), "Globex &lt;b&gt;Renamed&lt;/b&gt;")
	})
}

// warmPage prepares a request context for GET / with a valid session, and serves it once so that
// the account and the page are cached.
func warmPage(tb testing.TB, h *harness, slug, key string) (*fasthttp.RequestCtx, *fasthttp.Request) {
	st, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	if st != 201 {
		tb.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	var req fasthttp.Request
	req.SetRequestURI("/")
	req.Header.SetHost(slug + "." + base)
	req.Header.Set("Cookie", cookie)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h.settle() // no late invalidation from the writes above may land in the measured loop
	h.gw.Handler(&ctx)
	if ctx.Response.StatusCode() != 200 {
		tb.Fatalf("warm-up: %d", ctx.Response.StatusCode())
	}
	h.store.Wait()
	return &ctx, &req
}

// TestCustomerPageZeroAllocs holds the hot path to its budget: GET / with a valid session on a
// cache hit allocates nothing.
func TestCustomerPageZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	h := newHarness(t)
	_, key := h.tenant("alloc")
	ctx, _ := warmPage(t, h, "alloc", key)
	allocs := testing.AllocsPerRun(2000, func() {
		ctx.Response.Reset()
		h.gw.Handler(ctx)
	})
	if ctx.Response.StatusCode() != 200 {
		t.Fatalf("status %d", ctx.Response.StatusCode())
	}
	if allocs != 0 {
		t.Fatalf("GET / on a cache hit allocates %v times per request, want 0", allocs)
	}
}

func BenchmarkCustomerPage(b *testing.B) {
	h := newHarness(b)
	_, key := h.tenant("bench")
	b.Run("handler/cached", func(b *testing.B) {
		ctx, _ := warmPage(b, h, "bench", key)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			ctx.Response.Reset()
			h.gw.Handler(ctx)
		}
		b.SetBytes(int64(len(ctx.Response.Body())))
	})
	b.Run("handler/cached/parallel", func(b *testing.B) {
		_, req := warmPage(b, h, "bench", key)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var ctx fasthttp.RequestCtx
			ctx.Init(req, nil, nil)
			for pb.Next() {
				ctx.Response.Reset()
				h.gw.Handler(&ctx)
			}
		})
	})
	b.Run("inmemory-listener/cached", func(b *testing.B) {
		_, req := warmPage(b, h, "bench", key)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			r := fasthttp.AcquireRequest()
			resp := fasthttp.AcquireResponse()
			req.CopyTo(r)
			r.SetRequestURI("http://bench." + base + "/")
			for pb.Next() {
				if err := h.client.Do(r, resp); err != nil || resp.StatusCode() != 200 {
					b.Fatalf("%v %d", err, resp.StatusCode())
				}
			}
		})
	})
}

// settle waits until the store's watch has applied every write made so far, so that no
// invalidation from an earlier write lands in the middle of what a test measures.
func (h *harness) settle() {
	h.t.Helper()
	r, err := h.store.Client().Put(context.Background(), h.store.Prefix()+"state/settle", "x")
	if err != nil {
		h.t.Fatal(err)
	}
	etcdtest.Wait(h.t, "watch caught up", func() bool { return h.store.Revision() >= r.Header.Revision })
}

func TestMetricsCountRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("metrics")
	h.settle()
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	h.open(res["sessionUrl"].(string))
	for range 3 {
		h.do("GET", "metrics."+base, "/", nil, "Cookie", cookie)
	}
	h.do("GET", "nobody."+base, "/", nil)
	got := map[string]float64{}
	mfs, err := h.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetName() + "=" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				got[name] = c.GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"portico_http_requests_total,class=page,code=2xx":         3,
		"portico_http_requests_total,class=redeem,code=3xx":       1,
		"portico_http_requests_total,class=redeem,code=4xx":       1,
		"portico_http_requests_total,class=api,code=2xx":          2, // PUT account, POST session
		"portico_http_requests_total,class=unknown_host,code=4xx": 1,
		"portico_link_redemptions_total,result=ok":                1,
		"portico_link_redemptions_total,result=used":              1,
		"portico_page_cache_lookups_total,result=miss":            1,
		"portico_page_cache_lookups_total,result=hit":             2,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}

func TestRevocationReachesEveryInstance(t *testing.T) {
	t.Parallel()
	prefix := etcdtest.Prefix(t)
	a := newHarnessOn(t, prefix)
	b := newHarnessOn(t, prefix)
	_, key := a.tenant("revoke")
	etcdtest.Wait(t, "tenant on instance b", func() bool { _, ok := b.store.TenantBySlug("revoke"); return ok })
	session := func() (id, cookie string) {
		_, res, _ := a.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
		_, cookie, _ = a.open(res["sessionUrl"].(string))
		return res["sessionId"].(string), cookie
	}
	pageOn := func(h *harness, cookie string) int {
		return h.do("GET", "revoke."+base, "/", nil, "Cookie", cookie).StatusCode()
	}
	id1, c1 := session()
	_, c2 := session()
	if pageOn(a, c1) != 200 || pageOn(b, c1) != 200 {
		t.Fatal("session does not work on both instances")
	}
	if r := a.do("POST", "api."+base, "/v1/portal-sessions/"+id1+"/revoke", nil, "Authorization", "Bearer "+key); r.StatusCode() != 204 {
		t.Fatalf("revoke: %d %s", r.StatusCode(), r.Body())
	}
	start := time.Now()
	etcdtest.Wait(t, "revoked on both instances", func() bool { return pageOn(a, c1) == 401 && pageOn(b, c1) == 401 })
	t.Logf("revocation refused on both instances after %v", time.Since(start))
	if pageOn(b, c2) != 200 {
		t.Fatal("revoking one session ended another")
	}
	// Revoke all of the account's sessions: the second one ends too, a new one works.
	if r := a.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-sessions/revoke", nil, "Authorization", "Bearer "+key); r.StatusCode() != 204 {
		t.Fatalf("revoke all: %d", r.StatusCode())
	}
	etcdtest.Wait(t, "revoke-all on both instances", func() bool { return pageOn(a, c2) == 401 && pageOn(b, c2) == 401 })
	a.now.Store(1) // a second later: sessions issued after the revoke-all work
	b.now.Store(1)
	_, c3 := session()
	if pageOn(b, c3) != 200 {
		t.Fatal("a session started after revoke-all is refused")
	}
}

func TestAbuseLimits(t *testing.T) {
	t.Parallel()
	h := newHarnessOn(t, etcdtest.Prefix(t), Limits{RedeemsPerMinute: 6000, FailedTokensPerHour: 36, APIPerSecond: 1})
	_, key := h.tenant("limits") // one API request (PUT account) spent
	// Guessing tokens: after the burst of failures, tokens that are no valid link are answered 429.
	for i := range 10 {
		if r := h.do("GET", "limits."+base, "/s/"+strings.Repeat("A", 42)+string(rune('a'+i)), nil); r.StatusCode() != 404 {
			t.Fatalf("guess %d: %d", i, r.StatusCode())
		}
	}
	r := h.do("GET", "limits."+base, "/s/"+strings.Repeat("B", 43), nil)
	if r.StatusCode() != 429 || r.Header.Peek("Retry-After") == nil {
		t.Fatalf("11th bad token: %d", r.StatusCode())
	}
	// The API key's budget: the burst is spent quickly, then 429 with Retry-After and a detail.
	var limited *fasthttp.Response
	for range 300 {
		r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, "Authorization", "Bearer "+key)
		if r.StatusCode() == 429 {
			limited = r
			break
		}
	}
	if limited == nil || string(limited.Header.Peek("Retry-After")) == "" || !strings.Contains(string(limited.Body()), "rate limit") {
		t.Fatal("API key never limited")
	}
}

// TestValidLinkAfterFailedTokens: a valid link is redeemed however many tokens from the same
// address failed before it, with the redemption and failed-token budgets both spent (someone who
// reloaded a used link, or shares an address with someone who did).
func TestValidLinkAfterFailedTokens(t *testing.T) {
	t.Parallel()
	h := newHarnessOn(t, etcdtest.Prefix(t), Limits{RedeemsPerMinute: 1, FailedTokensPerHour: 1, APIPerSecond: -1})
	_, key := h.tenant("reload")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	used := res["sessionUrl"].(string)
	if st, _, _ := h.open(used); st != 303 {
		t.Fatalf("first open: %d", st)
	}
	statuses := map[int]int{}
	for range 25 { // past the bursts of both budgets (10 failures, 20 redemptions)
		st, _, _ := h.open(used)
		statuses[st]++
	}
	if statuses[410] != 10 || statuses[429] != 15 {
		t.Fatalf("reloading a used link 25 times: %v, want 10 × 410 then 429", statuses)
	}
	for i := range 3 {
		_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
		if st, cookie, _ := h.open(res["sessionUrl"].(string)); st != 303 || cookie == "" {
			t.Fatalf("valid link %d after the failures: %d", i, st)
		}
	}
}

// FuzzNormalizeHost: any Host header gives a lower-case name without a port, never longer than the
// scratch buffer, and never panics.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"Acme.Portal.Test:8080", "api.portal.test.", "[::1]:443", "", ":", "a:b:c", strings.Repeat("x", 300), "[" + strings.Repeat("0", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		var buf [256]byte
		got := normalizeHost(buf[:0], []byte(host))
		if len(got) > len(buf) {
			t.Fatalf("normalized host longer than its buffer: %d", len(got))
		}
		if host != "" && host[0] == '[' {
			return
		}
		if bytes.ContainsAny(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZ:") {
			t.Fatalf("normalizeHost(%q) = %q", host, got)
		}
	})
}

// BenchmarkHostLookup is the first step of every request: Host header → tenant.
func BenchmarkHostLookup(b *testing.B) {
	h := newHarness(b)
	h.tenant("lookup")
	host := []byte("Lookup." + base + ":8080")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var buf [256]byte
		for pb.Next() {
			n := normalizeHost(buf[:0], host)
			if _, ok := h.store.TenantBySlugBytes(n[:len(n)-len("."+base)]); !ok {
				b.Fatal("tenant not found")
			}
		}
	})
}

// FuzzAPIRequestDecode feeds arbitrary bodies to the API's strict JSON decoding of a session
// request: it never panics, and every refusal is a 4xx with a JSON detail.
func FuzzAPIRequestDecode(f *testing.F) {
	for _, s := range []string{`{"accountId":"a"}`, `{"accountAlias":"x","planOverviewSettings":{"showSection":false}}`, `{`, `[]`, `{"accountId":1}`, `{"x":1}`, `{"accountId":"a"} {}`, ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		req.SetBody(body)
		ctx.Init(&req, nil, nil)
		var r links.Request
		if decodeJSON(&ctx, &r) {
			return
		}
		var p struct {
			Status int    `json:"status"`
			Detail string `json:"detail"`
		}
		if err := json.Unmarshal(ctx.Response.Body(), &p); err != nil || p.Status < 400 || p.Status > 499 || p.Detail == "" || ctx.Response.StatusCode() != p.Status {
			t.Fatalf("refusal of %q: %d %s", body, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	})
}

// The Authorization scheme is case-insensitive (RFC 9110, section 11.1).
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("bearer-case")
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		if r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, "Authorization", scheme+" "+key); r.StatusCode() != 200 {
			t.Errorf("%s: %d %s", scheme, r.StatusCode(), r.Body())
		}
	}
	for _, auth := range []string{"Bearerx " + key, "Bearer", "Bearer  ", key} {
		if r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, "Authorization", auth); r.StatusCode() != 401 {
			t.Errorf("%q: %d", auth, r.StatusCode())
		}
	}
}

// A 404 inside a session is a personal page: Cache-Control: no-store.
func TestSessionNotFoundNotCached(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("nostore404")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	r := h.do("GET", tn.Slug+"."+base, "/no/such/page", nil, "Cookie", cookie)
	if r.StatusCode() != 404 || string(r.Header.Peek("Cache-Control")) != "no-store" {
		t.Fatalf("404 in a session: %d, Cache-Control %q", r.StatusCode(), r.Header.Peek("Cache-Control"))
	}
}
