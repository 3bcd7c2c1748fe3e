package backend

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// env is one test's world: a store under its own prefix, a keyring, a tenant.
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

// service makes a Service on store allowing loopback, changed by mod.
func (e *env) service(store *tenants.Store, mod func(*Config)) *Service {
	e.t.Helper()
	cfg := Config{Store: store, Keyring: e.keyring, AllowCIDRs: loopback, Timeout: 5 * time.Second, Logger: storetest.Logger()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return s
}

// received is one request a test backend verified.
type received struct {
	Header http.Header
	Body   wireRequest
}

// testBackend is a real HTTP backend: it verifies the signature with its secrets (401 when it
// does not verify) and answers what answer returns.
type testBackend struct {
	*httptest.Server
	mu      sync.Mutex
	secrets []string
	reqs    []received
	calls   atomic.Int32
	answer  func(w http.ResponseWriter, r *http.Request, req wireRequest)
}

func newBackend(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, req wireRequest)) *testBackend {
	b := &testBackend{answer: answer}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		secrets := append([]string(nil), b.secrets...)
		b.mu.Unlock()
		if err := webhooks.Verify(secrets, r.Header, body, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var req wireRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.reqs = append(b.reqs, received{r.Header.Clone(), req})
		b.mu.Unlock()
		b.answer(w, r, req)
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *testBackend) setSecrets(s ...string) {
	b.mu.Lock()
	b.secrets = s
	b.mu.Unlock()
}

func (b *testBackend) requests() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.reqs...)
}

func answerJSON(body string) func(http.ResponseWriter, *http.Request, wireRequest) {
	return func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}
}

// register registers b as the tenant's backend and lets b verify with the secret.
func (e *env) register(svc *Service, tenantID string, b *testBackend) string {
	e.t.Helper()
	_, secret, err := svc.Register(context.Background(), tenantID, b.URL+"/portico")
	if err != nil {
		e.t.Fatalf("Register: %v", err)
	}
	b.setSecrets(secret)
	return secret
}

const testAccount = `{"id":"acc_1","name":"Globex","currency":"EUR","paymentMethods":[{"id":"pm_1","type":"card","brand":"visa","last4":"4242","default":true}],
"invoices":[{"id":"in_1","number":"INV-1","status":"issued","issueDate":"2026-01-01","dueDate":"2026-01-31","subtotal":1000,"tax":0,"total":1000,"amountPaid":%d}]}`

func payRequest(key string) Request {
	return Request{Type: TypeInvoicePay, IdempotencyKey: key, Data: InvoicePayData{
		AccountID: "acc_1", InvoiceID: "in_1", Amount: 1000, Currency: "EUR", PaymentMethodID: "pm_1", SessionID: "ps_1"}}
}

// TestCallResults: each of the four results comes back as the backend said, signed, with the
// request's JSON as the protocol states it.
func TestCallResults(t *testing.T) {
	t.Parallel()
	paid := fmt.Sprintf(testAccount, 1000)
	cases := []struct {
		name, body string
		want       Response
		wantPaid   bool
	}{
		{"succeeded", `{"result":"succeeded","account":` + paid + `}`, Response{Result: Succeeded}, true},
		{"declined", `{"result":"declined","message":"  Your card was declined.  "}`, Response{Result: Declined, Message: "Your card was declined."}, false},
		{"requires_action", `{"result":"requires_action","redirectUrl":"https://bank.example/3ds?x=1"}`, Response{Result: RequiresAction, RedirectURL: "https://bank.example/3ds?x=1"}, false},
		{"pending", `{"result":"pending","message":"Your bank confirms within 3 days.","extra":"ignored"}`, Response{Result: Pending, Message: "Your bank confirms within 3 days."}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			svc := e.service(e.store, nil)
			b := newBackend(t, answerJSON(c.body))
			e.register(svc, e.tenant.ID, b)
			got, err := svc.Call(context.Background(), e.tenant.ID, payRequest("k-"+c.name))
			if err != nil {
				t.Fatalf("Call: %v", err)
			}
			if got.Result != c.want.Result || got.Message != c.want.Message || got.RedirectURL != c.want.RedirectURL || got.Replayed {
				t.Fatalf("Call = %+v, want %+v", got, c.want)
			}
			if c.wantPaid != (got.Account != nil) || c.wantPaid && got.Account.Invoices[0].AmountPaid != 1000 {
				t.Fatalf("Account = %+v, want the paid document: %v", got.Account, c.wantPaid)
			}
			reqs := b.requests()
			if len(reqs) != 1 {
				t.Fatalf("backend got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Body.Type != TypeInvoicePay || r.Body.ID != got.RequestID || r.Body.IdempotencyKey != "k-"+c.name || r.Header.Get(webhooks.HeaderID) != got.RequestID {
				t.Fatalf("request = %+v (header id %q), response id %q", r.Body, r.Header.Get(webhooks.HeaderID), got.RequestID)
			}
			var data InvoicePayData
			if err := json.Unmarshal(r.Body.Data, &data); err != nil || data.InvoiceID != "in_1" || data.Amount != 1000 || data.PaymentMethodID != "pm_1" || data.SessionID != "ps_1" {
				t.Fatalf("data = %s (%v)", r.Body.Data, err)
			}
			// The outcome answers the key again without a call.
			again, err := svc.Call(context.Background(), e.tenant.ID, payRequest("k-"+c.name))
			if err != nil || !again.Replayed || again.Result != got.Result || again.Message != got.Message || again.RequestID != got.RequestID || again.Account != nil {
				t.Fatalf("second Call = %+v, %v; want the replayed outcome", again, err)
			}
			if n := b.calls.Load(); n != 1 {
				t.Fatalf("backend called %d times, want 1", n)
			}
		})
	}
}

// TestCallFailures: every failure class comes back as its sentinel.
func TestCallFailures(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	cases := []struct {
		name    string
		answer  func(http.ResponseWriter, *http.Request, wireRequest)
		timeout time.Duration
		want    error
		detail  string
	}{
		{name: "timeout", timeout: 300 * time.Millisecond, want: ErrTimeout, answer: func(w http.ResponseWriter, r *http.Request, _ wireRequest) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}},
		{name: "500", want: ErrStatus, answer: func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}},
		{name: "redirect not followed", want: ErrStatus, answer: func(w http.ResponseWriter, r *http.Request, _ wireRequest) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}},
		{name: "invalid JSON", want: ErrInvalidResponse, detail: "ends in the middle", answer: answerJSON(`{"result": "succeeded"`)},
		{name: "not an object", want: ErrInvalidResponse, answer: answerJSON(`["succeeded"]`)},
		{name: "unknown result", want: ErrInvalidResponse, detail: `unknown result "paid"`, answer: answerJSON(`{"result":"paid"}`)},
		{name: "missing result", want: ErrInvalidResponse, detail: "result is missing", answer: answerJSON(`{"message":"hi"}`)},
		{name: "requires_action without redirect", want: ErrInvalidResponse, detail: "needs a redirectUrl", answer: answerJSON(`{"result":"requires_action"}`)},
		{name: "requires_action over http", want: ErrInvalidResponse, detail: "must use https", answer: answerJSON(`{"result":"requires_action","redirectUrl":"http://bank.example/3ds"}`)},
		{name: "requires_action javascript", want: ErrInvalidResponse, answer: answerJSON(`{"result":"requires_action","redirectUrl":"javascript:alert(1)"}`)},
		{name: "redirect with another result", want: ErrInvalidResponse, answer: answerJSON(`{"result":"succeeded","redirectUrl":"https://x.example/"}`)},
		{name: "wrong type", want: ErrInvalidResponse, answer: answerJSON(`{"result":"succeeded","message":5}`)},
		{name: "trailing data", want: ErrInvalidResponse, answer: answerJSON(`{"result":"succeeded"} {}`)},
		{name: "oversize body", want: ErrInvalidResponse, detail: "larger than", answer: func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
			io.WriteString(w, `{"result":"succeeded","message":"`+strings.Repeat("a", MaxResponseBody)+`"}`)
		}},
		{name: "long message", want: ErrInvalidResponse, answer: answerJSON(`{"result":"declined","message":"` + strings.Repeat("é", MaxMessageLength+1) + `"}`)},
		{name: "invalid account", want: ErrInvalidAccount, detail: "currency", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_1","name":"G","currency":"EURO"}}`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			svc := e.service(e.store, func(cfg *Config) {
				if c.timeout > 0 {
					cfg.Timeout = c.timeout
				}
			})
			b := newBackend(t, c.answer)
			e.register(svc, e.tenant.ID, b)
			got, err := svc.Call(context.Background(), e.tenant.ID, payRequest("k1"))
			if !errors.Is(err, c.want) {
				t.Fatalf("Call = %+v, %v; want %v", got, err, c.want)
			}
			if c.detail != "" && !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("error %q does not say %q", err, c.detail)
			}
			var se *StatusError
			if c.want == ErrStatus && (!errors.As(err, &se) || se.Code < 300) {
				t.Fatalf("error %v carries no status code", err)
			}
			if c.want == ErrInvalidAccount && (got.Result != Succeeded || got.Account != nil) {
				t.Fatalf("invalid account: Response = %+v, want the result without the document", got)
			}
			// A double submit right after gets the same failure without a second call.
			_, err2 := svc.Call(context.Background(), e.tenant.ID, payRequest("k1"))
			if !errors.Is(err2, c.want) || b.calls.Load() != 1 {
				t.Fatalf("second Call: %v after %d backend calls; want %v after 1", err2, b.calls.Load(), c.want)
			}
		})
	}
}

// TestCallForbiddenAddress: the dialer refuses a backend whose address the operator no longer
// allows (registered while loopback was allowed), and a name resolving to loopback.
func TestCallForbiddenAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := newBackend(t, answerJSON(`{"result":"succeeded"}`))
	e.register(e.service(e.store, nil), e.tenant.ID, b)
	strict := e.service(e.store, func(c *Config) { c.AllowCIDRs = nil })
	_, err := strict.Call(context.Background(), e.tenant.ID, payRequest("k1"))
	if !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Call = %v, want ErrForbiddenAddress", err)
	}
	if _, err := strict.Ping(context.Background(), e.tenant.ID); !errors.Is(err, ErrForbiddenAddress) {
		t.Fatalf("Ping = %v, want ErrForbiddenAddress", err)
	}
	if n := b.calls.Load(); n != 0 {
		t.Fatalf("the backend was reached %d times", n)
	}
}

// TestCallNoBackend: without a registration Call and Ping say so, and nothing is claimed.
func TestCallNoBackend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	if _, err := svc.Call(context.Background(), e.tenant.ID, payRequest("k1")); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Call = %v, want ErrNoBackend", err)
	}
	if _, err := svc.Ping(context.Background(), e.tenant.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Ping = %v, want ErrNoBackend", err)
	}
	if _, err := svc.Get(context.Background(), e.tenant.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Get = %v, want ErrNoBackend", err)
	}
	resp, _ := e.store.Client().Get(context.Background(), e.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Key), "lease/backend/") {
			t.Fatalf("an attempt was stored without a backend: %s", kv.Key)
		}
	}
}

// TestCallRequestValidation: malformed requests are refused before anything happens; a key
// reused for another request is refused.
func TestCallRequestValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	b := newBackend(t, answerJSON(`{"result":"succeeded"}`))
	e.register(svc, e.tenant.ID, b)
	for _, r := range []Request{
		{Type: "", IdempotencyKey: "k"},
		{Type: "Invoice.Pay", IdempotencyKey: "k"},
		{Type: "invoice.pay", IdempotencyKey: ""},
		{Type: "invoice.pay", IdempotencyKey: "with space"},
		{Type: "invoice.pay", IdempotencyKey: strings.Repeat("k", MaxIdempotencyKey+1)},
		{Type: "invoice.pay", IdempotencyKey: "k", Data: []int{1}},
	} {
		if _, err := svc.Call(context.Background(), e.tenant.ID, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Call(%+v) = %v, want ErrInvalid", r, err)
		}
	}
	if _, err := svc.Call(context.Background(), e.tenant.ID, payRequest("k1")); err != nil {
		t.Fatal(err)
	}
	other := payRequest("k1")
	other.Data = InvoicePayData{AccountID: "acc_1", InvoiceID: "in_2", Amount: 5, Currency: "EUR"}
	if _, err := svc.Call(context.Background(), e.tenant.ID, other); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("Call with a reused key = %v, want ErrKeyReused", err)
	}
	if n := b.calls.Load(); n != 1 {
		t.Fatalf("backend called %d times, want 1", n)
	}
}

// TestCallOnceAcrossInstances: 20 concurrent calls with one key through two services (two
// gateway instances, each its own etcd client) reach the backend once and all get its outcome.
func TestCallOnceAcrossInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	store2 := e.openStore(srv.Client(t))
	svcs := []*Service{e.service(e.store, nil), e.service(store2, nil)}
	gate := make(chan struct{})
	b := newBackend(t, func(w http.ResponseWriter, _ *http.Request, _ wireRequest) {
		<-gate // hold the first call until every caller is waiting
		io.WriteString(w, `{"result":"declined","message":"Insufficient funds."}`)
	})
	e.register(svcs[0], e.tenant.ID, b)
	const n = 20
	type res struct {
		r   Response
		err error
	}
	out := make(chan res, n)
	var started sync.WaitGroup
	for i := range n {
		started.Add(1)
		go func() {
			started.Done()
			r, err := svcs[i%2].Call(context.Background(), e.tenant.ID, payRequest("attempt-1"))
			out <- res{r, err}
		}()
	}
	started.Wait()
	// Release the backend once it has the one call (the others wait on the claim).
	etcdtest.Wait(t, "the first call to reach the backend", func() bool { return b.calls.Load() == 1 })
	close(gate)
	var ids = map[string]bool{}
	replays := 0
	for range n {
		r := <-out
		if r.err != nil || r.r.Result != Declined || r.r.Message != "Insufficient funds." {
			t.Fatalf("Call = %+v, %v", r.r, r.err)
		}
		ids[r.r.RequestID] = true
		if r.r.Replayed {
			replays++
		}
	}
	if got := b.calls.Load(); got != 1 {
		t.Fatalf("backend called %d times, want exactly 1", got)
	}
	if len(ids) != 1 || replays != n-1 {
		t.Fatalf("request ids %v, %d replays; want one id and %d replays", ids, replays, n-1)
	}
}

// TestRotationSignsWithBoth: after a rotation the request carries two signatures, one per
// secret, so a backend that knows either verifies it; after the overlap only the new one signs.
func TestRotationSignsWithBoth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	now := time.Now()
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	svc := e.service(e.store, func(c *Config) { c.Now = func() time.Time { return *clock.Load() } })
	b := newBackend(t, answerJSON(`{"result":"succeeded"}`))
	old := e.register(svc, e.tenant.ID, b)
	fresh, err := svc.RotateSecret(context.Background(), e.tenant.ID)
	if err != nil || fresh == old || !strings.HasPrefix(fresh, "whsec_") {
		t.Fatalf("RotateSecret = %q, %v", fresh, err)
	}
	ep, _ := svc.Get(context.Background(), e.tenant.ID)
	if !ep.PreviousSecretExpiresAt.Equal(now.UTC().Add(RotationOverlap)) {
		t.Fatalf("previous secret expires %v, want %v", ep.PreviousSecretExpiresAt, now.Add(RotationOverlap))
	}
	for _, secret := range []string{old, fresh} {
		b.setSecrets(secret)
		if _, err := svc.Ping(context.Background(), e.tenant.ID); err != nil {
			t.Fatalf("Ping verified with one secret: %v", err)
		}
	}
	if sigs := strings.Fields(b.requests()[0].Header.Get(webhooks.HeaderSignature)); len(sigs) != 2 {
		t.Fatalf("signatures %v, want two", sigs)
	}
	// The tests' backend verifies against the real clock: move the service's clock past the
	// overlap and check the signature header it makes by hand.
	later := now.Add(RotationOverlap + time.Minute)
	clock.Store(&later)
	b.setSecrets(old)
	if _, err := svc.Ping(context.Background(), e.tenant.ID); err == nil {
		t.Fatal("the old secret still signs after the overlap")
	}
}

// TestRegistration: URL rules (the webhook rules), the secret shown once and never stored in
// clear, cross-tenant isolation, delete.
func TestRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	strict := e.service(e.store, func(c *Config) { c.AllowCIDRs = nil })
	ctx := context.Background()
	for _, c := range []struct {
		svc    *Service
		url    string
		detail string
	}{
		{svc, "", "url is required"},
		{svc, "ftp://x.example/", "scheme"},
		{svc, "https://user:pw@x.example/", "credentials"},
		{svc, "not a url", "absolute"},
		{strict, "http://x.example/", "https"},
		{strict, "https://localhost/", "loopback"},
		{strict, "https://127.0.0.1/", "blocked range"},
		{strict, "https://10.1.2.3/", "blocked range"},
		{strict, "https://[::1]/", "blocked range"},
	} {
		_, _, err := c.svc.Register(ctx, e.tenant.ID, c.url)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.detail) {
			t.Errorf("Register(%q) = %v, want ErrInvalid saying %q", c.url, err, c.detail)
		}
	}
	ep, secret, err := strict.Register(ctx, e.tenant.ID, "https://billing.acme.example/portico#frag")
	if err != nil || ep.URL != "https://billing.acme.example/portico" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("Register = %+v, %q, %v", ep, secret, err)
	}
	raw, _ := e.store.Client().Get(ctx, e.store.BackendKey(e.tenant.ID))
	key, _ := webhooks.ParseSecret(secret)
	if len(raw.Kvs) != 1 || strings.Contains(string(raw.Kvs[0].Value), secret) || strings.Contains(string(raw.Kvs[0].Value), strings.TrimPrefix(secret, "whsec_")) || len(key) == 0 {
		t.Fatalf("stored registration %q holds the secret in clear", raw.Kvs)
	}
	// Tenant B sees nothing of A's, and its own registration does not touch A's.
	other := e.newTenant("globex")
	if _, err := svc.Get(ctx, other.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Get(B) = %v, want ErrNoBackend", err)
	}
	if err := svc.Delete(ctx, other.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Delete(B) = %v, want ErrNoBackend", err)
	}
	if _, err := svc.RotateSecret(ctx, other.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("RotateSecret(B) = %v, want ErrNoBackend", err)
	}
	if _, _, err := svc.Register(ctx, other.ID, "https://globex.example/"); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Get(ctx, e.tenant.ID); got.URL != "https://billing.acme.example/portico" {
		t.Fatalf("A's backend is now %q", got.URL)
	}
	if _, _, err := svc.Register(ctx, "no-such-tenant", "https://x.example/"); !errors.Is(err, tenants.ErrTenantNotFound) {
		t.Fatalf("Register(unknown tenant) = %v", err)
	}
	if err := svc.Delete(ctx, e.tenant.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, e.tenant.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("Get after Delete = %v", err)
	}
	// A's secret does not open under B's binding.
	if _, err := e.keyring.OpenBytes(secretAD(other.ID), mustRecord(t, svc, other.ID).Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := e.keyring.OpenBytes(secretAD(e.tenant.ID), mustRecord(t, svc, other.ID).Secret); err == nil {
		t.Fatal("B's sealed secret opens as A's")
	}
}

func mustRecord(t *testing.T, svc *Service, tid string) *record {
	t.Helper()
	r, _, err := svc.load(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCallCrossTenant: an idempotency key of tenant A is no attempt of tenant B; each calls its
// own backend.
func TestCallCrossTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	other := e.newTenant("globex")
	ba := newBackend(t, answerJSON(`{"result":"succeeded"}`))
	bb := newBackend(t, answerJSON(`{"result":"declined"}`))
	e.register(svc, e.tenant.ID, ba)
	e.register(svc, other.ID, bb)
	ra, err := svc.Call(context.Background(), e.tenant.ID, payRequest("same"))
	if err != nil || ra.Result != Succeeded {
		t.Fatal(ra, err)
	}
	rb, err := svc.Call(context.Background(), other.ID, payRequest("same"))
	if err != nil || rb.Result != Declined || rb.Replayed {
		t.Fatalf("B's call = %+v, %v; want B's own backend's answer", rb, err)
	}
	if ba.calls.Load() != 1 || bb.calls.Load() != 1 {
		t.Fatalf("calls A %d, B %d", ba.calls.Load(), bb.calls.Load())
	}
}

// TestStoreAccount: the returned document is stored as a PUT would, with its event in one Txn;
// an invalid or foreign document and a stale revision store nothing.
func TestStoreAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	ctx := context.Background()
	unpaid, err := account.Decode(fmt.Appendf(nil, testAccount, 0))
	if err != nil {
		t.Fatal(err)
	}
	rev, _, err := e.store.PutAccount(ctx, e.tenant.ID, unpaid, 0)
	if err != nil {
		t.Fatal(err)
	}
	paid, _ := account.Decode(fmt.Appendf(nil, testAccount, 1000))
	ev, _ := tenants.NewEvent(e.tenant.ID, "invoice.payment_succeeded", map[string]any{"accountId": "acc_1", "invoiceId": "in_1"}, time.Now())
	outbox := func() int {
		r, _ := e.store.Client().Get(ctx, e.store.OutboxPrefix()+e.tenant.ID+"/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return int(r.Count)
	}

	foreign := *paid
	foreign.ID = "acc_2"
	if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", &foreign, rev, ev); !errors.Is(err, ErrInvalidAccount) {
		t.Fatalf("StoreAccount(another account) = %v, want ErrInvalidAccount", err)
	}
	bad := *paid
	bad.Currency = "euro"
	if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", &bad, rev, ev); !errors.Is(err, ErrInvalidAccount) {
		t.Fatalf("StoreAccount(invalid) = %v, want ErrInvalidAccount", err)
	}
	if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", paid, rev-1, ev); !errors.Is(err, tenants.ErrRevisionMismatch) {
		t.Fatalf("StoreAccount(stale revision) = %v, want ErrRevisionMismatch", err)
	}
	if n := outbox(); n != 0 {
		t.Fatalf("%d events written by refused stores", n)
	}
	newRev, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", paid, rev, ev)
	if err != nil || newRev <= rev {
		t.Fatalf("StoreAccount = %d, %v", newRev, err)
	}
	snap, err := e.store.Account(ctx, e.tenant.ID, "acc_1")
	if err != nil || snap.Account.Invoices[0].AmountPaid != 1000 || snap.Revision != newRev {
		t.Fatalf("stored account = %+v, %v", snap, err)
	}
	if n := outbox(); n != 1 {
		t.Fatalf("%d events in the outbox, want the one written with the document", n)
	}
	// Without a document only the event is written.
	ev2, _ := tenants.NewEvent(e.tenant.ID, "invoice.payment_failed", map[string]any{"accountId": "acc_1"}, time.Now())
	if r, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", nil, 0, ev2); err != nil || r != 0 || outbox() != 2 {
		t.Fatalf("StoreAccount(nil) = %d, %v; outbox %d", r, err, outbox())
	}
}

// TestResealSecrets: re-sealing keeps the secrets opening (signing) under the newest key.
func TestResealSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	b := newBackend(t, answerJSON(`{"result":"succeeded"}`))
	e.register(svc, e.tenant.ID, b)
	n, err := svc.ResealSecrets(context.Background(), []string{e.tenant.ID, "no-such-tenant"})
	if err != nil || n != 1 {
		t.Fatalf("ResealSecrets = %d, %v", n, err)
	}
	if _, err := svc.Ping(context.Background(), e.tenant.ID); err != nil {
		t.Fatalf("Ping after re-sealing: %v", err)
	}
}

// previewJSON is a preview that adds up: credit 500, charge 1200, due 700; next invoice 2500.
const previewJSON = `{"kind":"upgrade","timing":"now","currency":"EUR","date":"2026-03-16","effectiveDate":"2026-03-16",
 "periodStart":"2026-03-01","periodEnd":"2026-03-31","periodDays":31,"remainingDays":16,"currentAmount":1000,"newAmount":2500,
 "credit":500,"creditLines":[{"kind":"credit","product":"Basic","amount":500}],
 "charge":1200,"chargeLines":[{"kind":"prorated","product":"Pro","amount":1200}],
 "amountDue":700,"creditCarried":0,
 "nextInvoice":{"date":"2026-04-01","lines":[{"kind":"period","product":"Pro","amount":2500}],"subtotal":2500,"creditApplied":0,"creditLeft":0,"amount":2500}}`

// TestCallPreview: a subscription.preview answer's preview is checked and returned, and replays
// carry it; one that does not add up is an invalid answer; an answer without one has none.
func TestCallPreview(t *testing.T) {
	t.Parallel()
	one := 1
	req := func(key string) Request {
		return Request{Type: TypeSubscriptionPreview, IdempotencyKey: key, Data: SubscriptionPreviewData{
			AccountID: "acc_1", SubscriptionID: "sub_1", ChangeTarget: account.ChangeTarget{Item: &one, Quantity: new(int64)}, Date: "2026-03-16", SessionID: "ps_1"}}
	}
	e := newEnv(t)
	svc := e.service(e.store, nil)
	for _, c := range []struct {
		name, body string
		want       error
		preview    bool
	}{
		{"given", `{"result":"succeeded","preview":` + previewJSON + `}`, nil, true},
		{"none", `{"result":"succeeded"}`, nil, false},
		{"null", `{"result":"succeeded","preview":null}`, nil, false},
		{"does not add up", `{"result":"succeeded","preview":` + strings.Replace(previewJSON, `"amountDue":700`, `"amountDue":699`, 1) + `}`, ErrInvalidResponse, false},
		{"wrong type", `{"result":"succeeded","preview":{"credit":"5"}}`, ErrInvalidResponse, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBackend(t, answerJSON(c.body))
			e.register(svc, e.tenant.ID, b)
			got, err := svc.Call(context.Background(), e.tenant.ID, req("pv-"+strings.ReplaceAll(c.name, " ", "-")))
			if !errors.Is(err, c.want) || (got.Preview != nil) != c.preview {
				t.Fatalf("Call = %+v, %v; want error %v, preview %v", got, err, c.want, c.preview)
			}
			if c.preview && (got.Preview.AmountDue != 700 || got.Preview.Next.Date != "2026-04-01") {
				t.Fatalf("preview %+v", got.Preview)
			}
			again, err := svc.Call(context.Background(), e.tenant.ID, req("pv-"+strings.ReplaceAll(c.name, " ", "-")))
			if !errors.Is(err, c.want) || (again.Preview != nil) != c.preview || b.calls.Load() != 1 {
				t.Fatalf("replay = %+v, %v after %d calls", again, err, b.calls.Load())
			}
			if c.preview && (!again.Replayed || again.Preview.Charge != 1200) {
				t.Fatalf("replayed preview %+v", again)
			}
			var data SubscriptionPreviewData
			if err := json.Unmarshal(b.requests()[0].Body.Data, &data); err != nil || data.SubscriptionID != "sub_1" || *data.Item != 1 || data.Date != "2026-03-16" {
				t.Fatalf("data %s (%v)", b.requests()[0].Body.Data, err)
			}
		})
	}
}
