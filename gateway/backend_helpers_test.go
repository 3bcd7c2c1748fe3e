package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Helpers of the tests that reach a tenant backend over HTTP from the portal's pages (paying
// invoices, changing, pausing and keeping subscriptions).

// backendAnswer writes a tenant backend's answer to a request whose "data" object is data.
type backendAnswer func(w http.ResponseWriter, data map[string]any)

// anyRequest is the key of the answer to requests of a type that has none of its own.
const anyRequest = "*"

// tenantBackend is a tenant backend served over HTTP: it counts the requests of each type, keeps
// the last of each, and answers with the answer of the request's type (else the anyRequest
// answer, else {"result":"succeeded"}).
type tenantBackend struct {
	srv     *httptest.Server
	answers map[string]backendAnswer
	mu      sync.Mutex
	calls   map[string]int
	last    map[string]map[string]any
}

func newTenantBackend(t testing.TB, answers map[string]backendAnswer) *tenantBackend {
	b := &tenantBackend{answers: answers, calls: map[string]int{}, last: map[string]map[string]any{}}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req map[string]any
		if err == nil {
			err = json.Unmarshal(body, &req)
		}
		if err != nil {
			t.Errorf("the backend got an unreadable request (%v): %q", err, body)
			http.Error(w, "unreadable", 400)
			return
		}
		typ, _ := req["type"].(string)
		b.mu.Lock()
		b.calls[typ]++
		b.last[typ] = req
		b.mu.Unlock()
		answer, ok := b.answers[typ]
		if !ok {
			answer = b.answers[anyRequest]
		}
		if answer == nil {
			answer = answerJSON(`{"result":"succeeded"}`)
		}
		data, _ := req["data"].(map[string]any)
		answer(w, data)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// count is the number of requests of type typ the backend got.
func (b *tenantBackend) count(typ string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[typ]
}

// lastOf is the idempotency key and the data of the last request of type typ.
func (b *tenantBackend) lastOf(typ string) (key string, data map[string]any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	key, _ = b.last[typ]["idempotencyKey"].(string)
	data, _ = b.last[typ]["data"].(map[string]any)
	return key, data
}

// answerJSON answers a fixed body.
func answerJSON(body string) backendAnswer {
	return func(w http.ResponseWriter, _ map[string]any) { w.Write([]byte(body)) }
}

// answerStatus answers an HTTP error.
func answerStatus(code int) backendAnswer {
	return func(w http.ResponseWriter, _ map[string]any) { http.Error(w, "boom", code) }
}

// answerSucceeded answers succeeded with message (none if "") and the document of doc's data.
func answerSucceeded(message string, doc func(data map[string]any) string) backendAnswer {
	return func(w http.ResponseWriter, data map[string]any) {
		m := ""
		if message != "" {
			b, _ := json.Marshal(message)
			m = `"message":` + string(b) + `,`
		}
		w.Write([]byte(`{"result":"succeeded",` + m + `"account":` + doc(data) + `}`))
	}
}

// exampleDoc is the example account changed by change (nil for none), as JSON.
func exampleDoc(t testing.TB, change func(a *account.Account)) string {
	t.Helper()
	raw, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(a)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withBackend gives h a backend service (loopback allowed unless forbid) with the timeout.
func (h *harness) withBackend(timeout time.Duration, forbid bool) *backend.Service {
	h.t.Helper()
	cfg := backend.Config{Store: h.store, Keyring: h.gw.Keyring(), Timeout: timeout}
	if !forbid {
		cfg.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	svc, err := backend.New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.gw.cfg.Backend = svc // before the first request
	h.store.UseAccountSource(svc)
	return svc
}

// registerBackend registers url as the tenant's backend and waits until h's index knows it.
func registerBackend(t testing.TB, h *harness, tenantID, url string) {
	t.Helper()
	reg, err := backend.New(backend.Config{Store: h.store, Keyring: h.gw.Keyring(), AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Register(context.Background(), tenantID, url); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "backend indexed", func() bool { return h.store.HasBackend(tenantID) })
}

// backendPortal is a customer of a new tenant (slug) in a portal session in locale, whose
// backend answers with answers.
func backendPortal(t *testing.T, slug, locale string, answers map[string]backendAnswer) (*harness, *portalSession, *tenantBackend) {
	t.Helper()
	h := newHarness(t)
	h.withBackend(0, false)
	b := newTenantBackend(t, answers)
	ps := h.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"`+locale+`"}`)
	registerBackend(t, h, ps.t.ID, b.srv.URL)
	return h, ps, b
}

// twoInstances is a customer's session (English) served by two gateway instances of one
// installation (a double click, reloads and two tabs landing on either), whose tenant backend
// holds its answer to typ until confirm lets it go.
type twoInstances struct {
	a, b    *harness
	ps      *portalSession
	be      *tenantBackend
	typ     string
	release func()
}

func newTwoInstances(t *testing.T, slug, typ string, answer backendAnswer) *twoInstances {
	t.Helper()
	prefix := etcdtest.Prefix(t)
	r := &twoInstances{a: newHarnessOn(t, prefix), b: newHarnessOn(t, prefix), typ: typ}
	r.a.withBackend(0, false)
	r.b.withBackend(0, false)
	released := make(chan struct{})
	r.release = sync.OnceFunc(func() { close(released) })
	r.be = newTenantBackend(t, map[string]backendAnswer{typ: func(w http.ResponseWriter, data map[string]any) {
		<-released
		answer(w, data)
	}})
	t.Cleanup(r.release) // registered after the server's Close: runs before it, so no handler hangs
	r.ps = r.a.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	registerBackend(t, r.a, r.ps.t.ID, r.be.srv.URL)
	etcdtest.Wait(t, "instance b knows the backend", func() bool { return r.b.store.HasBackend(r.ps.t.ID) })
	return r
}

// confirm posts form to path n times at once, alternately through each instance; once the first
// request of the type reached the backend, the backend answers. It returns each response.
func (r *twoInstances) confirm(t *testing.T, path string, form url.Values, n int) (statuses []int, bodies []string) {
	t.Helper()
	form.Set("csrf", r.ps.csrf)
	statuses, bodies = make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		h := r.a
		if i%2 == 1 {
			h = r.b
		}
		wg.Go(func() {
			resp := h.do("POST", r.ps.host, path, []byte(form.Encode()), "Cookie", r.ps.cookie,
				"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+r.ps.host)
			statuses[i], bodies[i] = resp.StatusCode(), string(resp.Body())
		})
	}
	etcdtest.Wait(t, "the first "+r.typ+" reached the backend", func() bool { return r.be.count(r.typ) == 1 })
	r.release()
	wg.Wait()
	return statuses, bodies
}

// customerOf opens another session of the tenant of key and returns its cookie.
func (h *harness) customerOf(key, body string) string {
	h.t.Helper()
	st, res, raw := h.createSession(key, body)
	if st != 201 {
		h.t.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	return cookie
}

// putAccount replaces the example account's document through the API with the tenant's key.
func (h *harness) putAccount(key, doc string) {
	h.t.Helper()
	h.putAccountAs(key, "acc_7Hq2LmX9", doc, 200)
}

// putAccountAs PUTs the document of account id through the API with the tenant's key and fails
// the test unless the answer is want (201 for a new account, 200 for a replaced one).
func (h *harness) putAccountAs(key, id, doc string, want int) {
	h.t.Helper()
	if r := h.do("PUT", "api."+base, "/v1/accounts/"+id, []byte(doc), "Authorization", "Bearer "+key); r.StatusCode() != want {
		h.t.Fatalf("PUT account %s: %d %s", id, r.StatusCode(), r.Body())
	}
}

// putAccount replaces the account document through the API.
func (ps *portalSession) putAccount(doc string) { ps.h.t.Helper(); ps.h.putAccount(ps.key, doc) }

// submit posts a form as posted from origin and returns the whole response.
func (ps *portalSession) submit(path string, form url.Values, origin string) (int, string, string) {
	ps.h.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", ps.csrf)
	}
	r := ps.h.do("POST", ps.host, path, []byte(form.Encode()), "Cookie", ps.cookie,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", origin)
	return r.StatusCode(), string(r.Body()), string(r.Header.Peek("Location"))
}

// with is a copy of form with the fields of kv (key, value, key, value…) set.
func with(form url.Values, kv ...string) url.Values {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func equalJSON(t testing.TB, a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// wantAudit fails the test unless the account's session audit trail has an entry of type typ.
func wantAudit(t *testing.T, h *harness, tenantID, accountID, typ string) {
	t.Helper()
	if findAudit(t, h, tenantID, accountID, typ) == nil {
		t.Errorf("no audit entry %s", typ)
	}
}

// findAudit is the account's first session audit entry of type typ, nil when there is none.
func findAudit(t *testing.T, h *harness, tenantID, accountID, typ string) *tenants.AuditEntry {
	t.Helper()
	audits, err := h.store.SessionAudits(context.Background(), tenantID, accountID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range audits {
		for i := range s.Entries {
			if s.Entries[i].Type == typ {
				return &s.Entries[i]
			}
		}
	}
	return nil
}

// auditDetail is the detail of the account's first session audit entry of type typ, nil when
// there is none.
func auditDetail(t *testing.T, h *harness, tenantID, accountID, typ string) map[string]any {
	t.Helper()
	e := findAudit(t, h, tenantID, accountID, typ)
	if e == nil {
		return nil
	}
	d := map[string]any{}
	if err := json.Unmarshal(e.Detail, &d); err != nil {
		t.Fatalf("audit entry %s: %v (%s)", typ, err, e.Detail)
	}
	return d
}
