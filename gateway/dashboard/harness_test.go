package dashboard_test

import (
	"context"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/testwait"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	_ "github.com/portico-billing/portico/plugins/standard"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

const (
	base     = "portal.test"
	dashHost = "dashboard." + base
	origin   = "https://" + dashHost
	password = "correct horse battery"
)

type options struct {
	noMail   bool
	maxLinks int
	webhooks dashboard.WebhookPages
	// backend gives the dashboard a real backend service (loopback allowed) in harness.backend.
	backend bool
	// serverBody, when set, replaces the gateway server's request body limit.
	serverBody int
	// trustedProxies are the gateway's Config.TrustedProxies.
	trustedProxies []netip.Prefix
}

// harness is a gateway and a dashboard on the package's etcd under a prefix of their own, served
// like `portico serve` will: the gateway's fasthttp server, the dashboard host dispatched to the
// dashboard, over an in-memory listener.
type harness struct {
	t      *testing.T
	store  *tenants.Store
	gw     *gateway.Gateway
	dash   *dashboard.Dashboard
	smtp   *mailtest.Server
	client *fasthttp.Client
	logs   *syncbuf.Buffer
	log    *slog.Logger
	offset atomic.Int64 // seconds added to the real time
	frozen atomic.Int64 // when not 0, the Unix nanoseconds that stand for the real time
	prefix string       // the test's etcd key prefix
	ln     *fasthttputil.InmemoryListener
	// backend is the dashboard's backend service (options.backend), else nil.
	backend *backend.Service

	acme, initech *tenants.Tenant
}

func (h *harness) now() time.Time {
	at := time.Now()
	if f := h.frozen.Load(); f != 0 {
		at = time.Unix(0, f)
	}
	return at.Add(time.Duration(h.offset.Load()) * time.Second)
}

func newHarness(t *testing.T, o options) *harness {
	t.Helper()
	h := &harness{t: t, logs: &syncbuf.Buffer{}}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.log = log
	h.prefix = etcdtest.Prefix(t)
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: dashboard.EtcdForTest().Client(t), Prefix: h.prefix, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.store = s
	h.gw, err = gateway.New(gateway.Config{Store: s, BaseDomain: base, Now: h.now, Logger: log, TrustedProxies: o.trustedProxies})
	if err != nil {
		t.Fatal(err)
	}
	var sender *mail.Sender
	if !o.noMail {
		h.smtp = mailtest.Start(t, mailtest.Options{})
		sender, err = mail.New(mail.Config{Addr: h.smtp.Addr, TLS: mail.TLSNone, From: "Portico <portal@portico.test>", Now: h.now, Timeout: testwait.Patience})
		if err != nil {
			t.Fatal(err)
		}
	}
	var backendPages dashboard.BackendPages
	if o.backend {
		if h.backend, err = backend.New(backend.Config{Store: s, Keyring: h.gw.Keyring(), Logger: log,
			AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		backendPages = dashboard.Backend(h.backend)
	}
	h.dash, err = dashboard.New(dashboard.Config{
		Store: s, Issuer: h.gw.Issuer(), Mail: sender, Webhooks: o.webhooks, Backend: backendPages, Now: h.now, Logger: log,
		MaxLinksPerHour: o.maxLinks, ClientAddr: h.gw.ClientAddr,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.dash.Close)
	server := h.gw.Server()
	if o.serverBody > 0 {
		server.MaxRequestBodySize = o.serverBody
	}
	server.Handler = func(ctx *fasthttp.RequestCtx) {
		if strings.EqualFold(string(ctx.Host()), dashHost) {
			h.dash.Handler(ctx)
			return
		}
		h.gw.Handler(ctx)
	}
	ln := fasthttputil.NewInmemoryListener()
	h.ln = ln
	go server.Serve(ln)
	t.Cleanup(func() { server.Shutdown(); ln.Close() })
	h.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }, MaxResponseBodySize: 16 << 20}

	h.acme = h.tenant("acme", "Acme Cloud")
	h.initech = h.tenant("initech", "Initech")
	h.putAccount(h.acme, func(a *account.Account) {})
	h.putAccount(h.initech, func(a *account.Account) { a.ID, a.Alias, a.Name = "acc_initech1", "", "Initech Secret Customer" })
	if _, err := s.CreateAdmin(context.Background(), h.acme.ID, "ops@acme.example", password); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAdmin(context.Background(), h.initech.ID, "boss@initech.example", password+" 2"); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) tenant(slug, name string) *tenants.Tenant {
	h.t.Helper()
	tn, err := h.store.CreateTenant(context.Background(), &tenants.Tenant{Slug: slug, Name: name, Portal: tenants.DefaultPortal()})
	if err != nil {
		h.t.Fatal(err)
	}
	etcdtest.Wait(h.t, "tenant indexed", func() bool { _, ok := h.store.TenantBySlug(slug); return ok })
	return tn
}

func (h *harness) putAccount(t *tenants.Tenant, change func(a *account.Account)) *account.Account {
	h.t.Helper()
	b, err := os.ReadFile("../../tenants/account/testdata/account.json")
	if err != nil {
		h.t.Fatal(err)
	}
	a, err := account.Decode(b)
	if err != nil {
		h.t.Fatal(err)
	}
	change(a)
	if _, _, err := h.store.PutAccount(context.Background(), t.ID, a, 0); err != nil {
		h.t.Fatal(err)
	}
	return a
}

// tenantNow reads the tenant record from etcd.
func (h *harness) tenantNow(id string) *tenants.Tenant {
	h.t.Helper()
	t, err := h.store.Tenant(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return t
}

// secondInstance starts another dashboard with a store of its own on the same etcd keys, as a
// second gateway instance of a cluster, and returns a client that reaches it.
func (h *harness) secondInstance() *fasthttp.Client {
	h.t.Helper()
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: dashboard.EtcdForTest().Client(h.t), Prefix: h.prefix, Logger: h.log})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(s.Close)
	d, err := dashboard.New(dashboard.Config{Store: s, Issuer: h.gw.Issuer(), Now: h.now, Logger: h.log})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(d.Close)
	server := &fasthttp.Server{Handler: d.Handler}
	ln := fasthttputil.NewInmemoryListener()
	go server.Serve(ln)
	h.t.Cleanup(func() { server.Shutdown(); ln.Close() })
	return &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
}

// agent is a browser stand-in: a cookie jar per host, Origin on POSTs, no redirects followed.
type agent struct {
	h   *harness
	jar map[string]map[string]string
	// ip is the client address the server sees (default: the in-memory listener's).
	ip string
	// client, when set, reaches another instance than the harness's.
	client *fasthttp.Client
}

// from returns an agent with the same cookies that connects from the address ip.
func (a *agent) from(ip string) *agent {
	b := &agent{h: a.h, jar: map[string]map[string]string{}, ip: ip, client: a.client}
	for host, m := range a.jar {
		b.jar[host] = maps.Clone(m)
	}
	return b
}

func (h *harness) agent() *agent { return &agent{h: h, jar: map[string]map[string]string{}} }

func (a *agent) do(method, host, path string, body []byte, header ...string) *fasthttp.Response {
	a.h.t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + host + path)
	req.Header.SetHost(host)
	for name, value := range a.jar[host] {
		req.Header.SetCookie(name, value)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	resp := fasthttp.AcquireResponse()
	a.h.t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	c := a.h.client
	if a.client != nil {
		c = a.client
	}
	if a.ip != "" {
		ln := a.h.ln
		c = &fasthttp.Client{Dial: func(string) (net.Conn, error) {
			return ln.DialWithLocalAddr(&net.TCPAddr{IP: net.ParseIP(a.ip), Port: 40000})
		}, MaxResponseBodySize: 16 << 20}
	}
	if err := c.DoTimeout(req, resp, testwait.Patience); err != nil {
		a.h.t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	resp.Header.VisitAllCookie(func(_, v []byte) {
		var c fasthttp.Cookie
		if c.ParseBytes(v) != nil {
			return
		}
		if a.jar[host] == nil {
			a.jar[host] = map[string]string{}
		}
		if c.MaxAge() < 0 || len(c.Value()) == 0 {
			delete(a.jar[host], string(c.Key()))
			return
		}
		a.jar[host][string(c.Key())] = string(c.Value())
	})
	return resp
}

func (a *agent) get(path string) *fasthttp.Response { return a.do("GET", dashHost, path, nil) }

// post sends a URL-encoded form from the dashboard's origin.
func (a *agent) post(path string, form url.Values) *fasthttp.Response {
	return a.do("POST", dashHost, path, []byte(form.Encode()), "Origin", origin, "Content-Type", "application/x-www-form-urlencoded")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]{32})"`)

// csrf is the token of the forms of the page at path.
func (a *agent) csrf(path string) string {
	a.h.t.Helper()
	r := a.get(path)
	m := csrfRE.FindSubmatch(r.Body())
	if m == nil {
		a.h.t.Fatalf("GET %s (%d) has no CSRF token:\n%s", path, r.StatusCode(), r.Body())
	}
	return string(m[1])
}

// form posts values plus the CSRF token of the page at path.
func (a *agent) form(path string, values ...string) *fasthttp.Response {
	a.h.t.Helper()
	v := url.Values{"csrf": {a.csrf(path)}}
	for i := 0; i+1 < len(values); i += 2 {
		v.Add(values[i], values[i+1])
	}
	return a.post(path, v)
}

func (a *agent) login(slug, email, pw string) *fasthttp.Response {
	a.h.t.Helper()
	return a.post("/login", url.Values{"csrf": {a.csrf("/login")}, "tenant": {slug}, "email": {email}, "password": {pw}})
}

// signedIn returns an agent signed in as the acme admin.
func (h *harness) signedIn() *agent {
	h.t.Helper()
	a := h.agent()
	if r := a.login("acme", "ops@acme.example", password); r.StatusCode() != 303 {
		h.t.Fatalf("sign-in: %d %s", r.StatusCode(), r.Body())
	}
	return a
}

func expect(t *testing.T, r *fasthttp.Response, status int, contains ...string) string {
	t.Helper()
	body := string(r.Body())
	if r.StatusCode() != status {
		t.Fatalf("status %d, want %d:\n%s", r.StatusCode(), status, body)
	}
	for _, c := range contains {
		if !strings.Contains(body, c) {
			t.Fatalf("response lacks %q:\n%s", c, body)
		}
	}
	return body
}
