package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/storetest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// env is one test's world: a store under its own prefix, a keyring and a tenant.
type env struct {
	t       *testing.T
	prefix  string
	store   *tenants.Store
	keyring *keyring.Keyring
	tenant  *tenants.Tenant
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, prefix: etcdtest.Prefix(t)}
	e.store = e.openStore(srv.Client(t))
	e.tenant = e.newTenant("acme")
	return e
}

// openStore opens a store of the env's prefix on client, with the shared sealing key.
func (e *env) openStore(c *clientv3.Client) *tenants.Store {
	e.t.Helper()
	s, r := storetest.Open(e.t, c, e.prefix)
	if e.keyring == nil {
		e.keyring = r
	}
	return s
}

func (e *env) newTenant(slug string) *tenants.Tenant { return storetest.Tenant(e.t, e.store, slug) }

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// fastSchedule keeps retries quick: 8 attempts within about a second.
var fastSchedule = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond,
	200 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}

// service makes a Service on store with test defaults (loopback allowed, fast schedule, no
// jitter), changed by mod.
func (e *env) service(store *tenants.Store, mod func(*Config)) *Service {
	e.t.Helper()
	cfg := Config{
		Store: store, Keyring: e.keyring, AllowCIDRs: loopback, Schedule: fastSchedule, Jitter: -1,
		// A patient attempt timeout: on a loaded machine a loopback POST or a DNS answer can take
		// seconds, and a run of timed-out attempts would fail deliveries the test expects to land.
		// Tests of timeouts and of killed instances set their own.
		Timeout: 30 * time.Second, Logger: storetest.Logger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return s
}

// run runs s until the returned stop is called (or the test ends).
func run(t *testing.T, s *Service) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(testwait.Patience):
				t.Errorf("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// receiver is a real HTTP webhook receiver. Every request is checked by the package's Handler
// (Verify) and by miniVerify, an implementation of the spec written here; it counts verified
// deliveries per webhook-id and the most requests ever in flight for one id.
type receiver struct {
	t   *testing.T
	srv *httptest.Server

	mu          sync.Mutex
	secrets     []string
	respond     func(n int, r *http.Request, w http.ResponseWriter) bool // true: answered, do not verify/accept
	requests    int
	byID        map[string]int
	events      []Received
	inflight    map[string]int
	maxInflight int
	bad         []string
}

func newReceiver(t *testing.T, secrets ...string) *receiver {
	rc := &receiver{t: t, secrets: secrets, byID: map[string]int{}, inflight: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	rc.secrets = s
	rc.mu.Unlock()
}

func (rc *receiver) setRespond(f func(n int, r *http.Request, w http.ResponseWriter) bool) {
	rc.mu.Lock()
	rc.respond = f
	rc.mu.Unlock()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get(HeaderID)
	flight := id + " " + r.URL.Path // one event goes to each endpoint once at a time
	rc.mu.Lock()
	rc.requests++
	n := rc.requests
	rc.inflight[flight]++
	rc.maxInflight = max(rc.maxInflight, rc.inflight[flight])
	respond, secrets := rc.respond, rc.secrets
	rc.mu.Unlock()
	defer func() {
		rc.mu.Lock()
		rc.inflight[flight]--
		rc.mu.Unlock()
	}()
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := miniVerify(secrets, r.Header, body, time.Now()); err != nil {
		rc.mu.Lock()
		rc.bad = append(rc.bad, err.Error())
		rc.mu.Unlock()
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "Portico-Webhooks/1" {
		rc.mu.Lock()
		rc.bad = append(rc.bad, "headers: "+r.Header.Get("Content-Type")+" "+r.Header.Get("User-Agent"))
		rc.mu.Unlock()
	}
	if respond != nil && respond(n, r, w) {
		return
	}
	Handler(secrets, func(ev Received) {
		rc.mu.Lock()
		rc.byID[ev.ID]++
		rc.events = append(rc.events, ev)
		rc.mu.Unlock()
	}).ServeHTTP(w, r)
}

// received returns a copy of the verified events.
func (rc *receiver) received() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.events...)
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.byID[id]
}

func (rc *receiver) total() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// check fails the test if any request failed the independent verification or was ever in flight
// twice for one id.
func (rc *receiver) check() {
	rc.t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.bad) > 0 {
		rc.t.Errorf("%d requests failed the independent verification: %v", len(rc.bad), rc.bad)
	}
	if rc.maxInflight > 1 {
		rc.t.Errorf("an event was delivered %d times in parallel", rc.maxInflight)
	}
}

// miniVerify checks Standard Webhooks headers from the spec alone: the signed content is
// "<webhook-id>.<webhook-timestamp>.<body>", the key is the base64 after "whsec_", and the
// header lists space-separated "v1,<base64 HMAC-SHA256>" signatures of which one must match.
func miniVerify(secrets []string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("Webhook-Id"), h.Get("Webhook-Timestamp"), h.Get("Webhook-Signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("mini: missing headers")
	}
	var sec int64
	if _, err := fmt.Sscanf(ts, "%d", &sec); err != nil {
		return fmt.Errorf("mini: timestamp %q", ts)
	}
	if d := now.Unix() - sec; d > 300 || d < -300 {
		return fmt.Errorf("mini: timestamp %d is %ds off", sec, d)
	}
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return fmt.Errorf("mini: secret: %v", err)
		}
		m := hmac.New(sha256.New, key)
		io.WriteString(m, id+"."+ts+".")
		m.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
		for _, sig := range strings.Split(sigs, " ") {
			if hmac.Equal([]byte(sig), []byte(want)) {
				return nil
			}
		}
	}
	return fmt.Errorf("mini: no signature matches")
}

// appendEvent writes an event of the tenant to the outbox and returns it.
func (e *env) appendEvent(tenantID, typ string, data any) *tenants.Event {
	e.t.Helper()
	ev, err := tenants.NewEvent(tenantID, typ, data, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.AppendEvents(context.Background(), ev); err != nil {
		e.t.Fatalf("AppendEvents: %v", err)
	}
	return ev
}

// createEndpoint creates an endpoint or fails the test.
func (e *env) createEndpoint(s *Service, tenantID, url string, events ...string) (*Endpoint, string) {
	e.t.Helper()
	ep, secret, err := s.CreateEndpoint(context.Background(), tenantID, EndpointRequest{URL: url, Events: events})
	if err != nil {
		e.t.Fatalf("CreateEndpoint(%s): %v", url, err)
	}
	return ep, secret
}

// keysUnder returns how many keys live under the env's prefix + sub.
func (e *env) keysUnder(sub string) int {
	e.t.Helper()
	resp, err := e.store.Client().Get(context.Background(), e.prefix+sub, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		e.t.Fatal(err)
	}
	return int(resp.Count)
}

// deliveries lists the tenant's deliveries or fails the test.
func (e *env) deliveries(s *Service, tenantID string, f DeliveryFilter) []Delivery {
	e.t.Helper()
	ds, err := s.ListDeliveries(context.Background(), tenantID, f)
	if err != nil {
		e.t.Fatalf("ListDeliveries: %v", err)
	}
	return ds
}

// clock is a movable Config.Now.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
