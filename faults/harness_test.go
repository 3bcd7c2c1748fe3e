package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"

	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/internal/etcdtest"
	_ "github.com/portico-billing/portico/plugins/standard"
	"github.com/portico-billing/portico/tenants"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	base      = "portal.test"
	prefix    = "/portico/"
	accountID = "acc_7Hq2LmX9"
)

// noLimits turns the abuse limits off: the tests send many requests from one address.
var noLimits = gateway.Limits{RedeemsPerMinute: -1, FailedTokensPerHour: -1, APIPerSecond: -1}

// instance is one gateway of the installation: its own etcd client, store and listener.
type instance struct {
	name    string
	store   *tenants.Store
	gw      *gateway.Gateway
	client  *fasthttp.Client
	metrics *prometheus.Registry
}

// install is an installation under test: a three-member cluster, two gateway instances, one
// tenant with an API key and the example account.
type install struct {
	t       *testing.T
	cluster *etcdtest.Cluster
	inst    [2]*instance
	tenant  *tenants.Tenant
	slug    string
	key     string
	host    string // the tenant's portal host
}

// options of newInstall.
type options struct {
	// requestTimeout bounds each etcd request of the stores (default: slowEtcd, since only tests
	// about timeouts want the store's 5 s).
	requestTimeout time.Duration
	// logs receives the stores' logs (default: discarded).
	logs io.Writer
}

// slowEtcd bounds the etcd requests of the gateways in tests that are not about timeouts: a member
// under the load of the whole suite can take seconds to commit, and only a stall takes this long.
const slowEtcd = 30 * time.Second

func newInstall(t *testing.T, slug string, opt options) *install {
	t.Helper()
	in := &install{t: t, cluster: etcdtest.StartCluster(t, 3), slug: slug, host: slug + "." + base}
	for i := range in.inst {
		in.inst[i] = in.newInstance(fmt.Sprintf("gw%d", i+1), opt)
	}
	ctx := context.Background()
	a, b := in.inst[0], in.inst[1]
	tn, err := a.store.CreateTenant(ctx, &tenants.Tenant{Slug: slug, Name: "Tenant " + strings.ToUpper(slug), Portal: tenants.DefaultPortal()})
	if err != nil {
		t.Fatal(err)
	}
	in.tenant = tn
	if _, in.key, err = a.store.CreateAPIKey(ctx, tn.ID, "faults"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant indexed on both instances", func() bool {
		_, ok1 := a.store.TenantBySlug(slug)
		_, ok2 := b.store.TenantBySlug(slug)
		return ok1 && ok2
	})
	doc, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := in.api(a, "PUT", "/v1/accounts/"+accountID, doc); r.status != 201 {
		t.Fatalf("PUT account: %d %s", r.status, r.body)
	}
	return in
}

func (in *install) newInstance(name string, opt options) *instance {
	return startInstance(in.t, name, in.cluster.Client(in.t), opt)
}

// startInstance starts a gateway instance on an etcd client.
func startInstance(t *testing.T, name string, c *clientv3.Client, opt options) *instance {
	if opt.requestTimeout == 0 {
		opt.requestTimeout = slowEtcd
	}
	logs := opt.logs
	if logs == nil {
		logs = io.Discard
	}
	s, err := tenants.Open(context.Background(), tenants.Config{
		Client: c, Prefix: prefix, RequestTimeout: opt.requestTimeout,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(gateway.StoreCollectors(s)...)
	gw, err := gateway.New(gateway.Config{
		Store: s, BaseDomain: base, Limits: noLimits, Metrics: gateway.NewMetrics(reg),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln := fasthttputil.NewInmemoryListener()
	srv := gw.Server()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(); ln.Close() })
	return &instance{
		name: name, store: s, gw: gw, metrics: reg,
		client: &fasthttp.Client{
			Dial:            func(string) (net.Conn, error) { return ln.Dial() },
			MaxConnsPerHost: 1024, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		},
	}
}

// result is what a request got: the status (0: no answer) and what the tests look at.
type result struct {
	status     int
	body       string
	location   string
	cookie     string // name=value of a Set-Cookie
	degraded   string // X-Portico-Degraded
	retryAfter string
	err        error
}

// do sends a request to an instance; it never fails the test (load goroutines call it).
func (inst *instance) do(method, host, path string, body []byte, headers ...string) result {
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + host + path)
	req.Header.SetHost(host)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	if err := inst.client.DoTimeout(req, resp, testwait.Patience); err != nil {
		return result{err: fmt.Errorf("%s %s%s on %s: %w", method, host, path, inst.name, err)}
	}
	r := result{
		status: resp.StatusCode(), body: string(resp.Body()), location: string(resp.Header.Peek("Location")),
		degraded: string(resp.Header.Peek("X-Portico-Degraded")), retryAfter: string(resp.Header.Peek("Retry-After")),
	}
	var c fasthttp.Cookie
	resp.Header.VisitAllCookie(func(_, v []byte) {
		if c.ParseBytes(v) == nil && len(c.Value()) > 0 {
			r.cookie = string(c.Key()) + "=" + string(c.Value())
		}
	})
	return r
}

// api sends an API request with the tenant's key.
func (in *install) api(inst *instance, method, path string, body []byte, headers ...string) result {
	return inst.do(method, "api."+base, path, body, append([]string{"Authorization", "Bearer " + in.key, "Content-Type", "application/json"}, headers...)...)
}

// page is GET / with a session cookie.
func (in *install) page(inst *instance, cookie string) result {
	return inst.do("GET", in.host, "/", nil, "Cookie", cookie)
}

// redeem opens a link token on an instance.
func (in *install) redeem(inst *instance, token string) result {
	return inst.do("GET", in.host, "/s/"+token, nil)
}

// links stores n single-use links to the example account directly through the stores (as the
// API would, alternating instances), n at a time over a few goroutines.
func (in *install) links(n int) []string {
	in.t.Helper()
	start := time.Now()
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := in.inst[w%2].store
			for i := range next {
				now := time.Now()
				l := &tenants.Link{
					SessionID: fmt.Sprintf("ps_fault%06d%s", i, tenants.NewToken()[:10]), AccountID: accountID,
					Settings: in.tenant.Portal, SessionTTL: in.tenant.SessionTTL,
					ExpiresAt: now.Add(time.Hour).UTC().Truncate(time.Second), CreatedAt: now.UTC(), CreatedBy: "faults",
				}
				tokens[i], _, errs[i] = s.CreateLink(context.Background(), in.tenant.ID, l, tenants.CreateLinkOptions{})
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			in.t.Fatalf("creating link %d: %v", i, err)
		}
	}
	in.t.Logf("created %d links in %v", n, time.Since(start).Round(time.Millisecond))
	return tokens
}

// session creates a portal session through the API and opens it; it returns the cookie.
func (in *install) session(inst *instance) string {
	in.t.Helper()
	r := in.api(inst, "POST", "/portal/customer-session/customer-portal", []byte(`{"accountId":"`+accountID+`","locale":"en"}`))
	var res struct {
		SessionURL string `json:"sessionUrl"`
	}
	if r.status != 201 || json.Unmarshal([]byte(r.body), &res) != nil {
		in.t.Fatalf("create session: %d %s %v", r.status, r.body, r.err)
	}
	_, tok, ok := strings.Cut(res.SessionURL, "/s/")
	if !ok {
		in.t.Fatalf("session URL %q", res.SessionURL)
	}
	o := in.redeem(inst, tok)
	if o.status != 303 || o.cookie == "" {
		in.t.Fatalf("open link: %d %v", o.status, o.err)
	}
	return o.cookie
}

// csrf reads the session's CSRF token off the customer page.
func (in *install) csrf(inst *instance, cookie string) string {
	in.t.Helper()
	r := in.page(inst, cookie)
	i := strings.Index(r.body, `name="csrf" value="`)
	if r.status != 200 || i < 0 {
		in.t.Fatalf("page: %d, CSRF field found: %v", r.status, i >= 0)
	}
	return r.body[i+19 : i+19+32]
}

// events returns the tenant's outbox events of a type (the tests run no webhook delivery, so the
// outbox keeps every event).
func (in *install) events(typ string) []*tenants.Event {
	in.t.Helper()
	s := in.inst[0].store
	resp, err := s.Client().Get(context.Background(), s.OutboxPrefix()+in.tenant.ID+"/", clientv3.WithPrefix())
	if err != nil {
		in.t.Fatal(err)
	}
	var out []*tenants.Event
	for _, kv := range resp.Kvs {
		var e tenants.Event
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			in.t.Fatalf("outbox event %s: %v", kv.Key, err)
		}
		if typ == "" || e.Type == typ {
			out = append(out, &e)
		}
	}
	return out
}

// gauge reads a gauge of an instance's metrics.
func (inst *instance) gauge(name string) float64 {
	mfs, _ := inst.metrics.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}
