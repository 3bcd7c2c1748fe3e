package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// portalSource is a tenant's billing system in source mode: GET /accounts/{id} and
// GET /accounts?alias=… answer the documents it holds (with ETags, 304 for a current
// If-None-Match), or 500 while failing; POSTs go to a tenant backend (tenantBackend).
type portalSource struct {
	srv     *httptest.Server
	be      *tenantBackend
	mu      sync.Mutex
	docs    map[string]string
	aliases map[string]string
	failing bool
	gets    []string // path?query of each GET
}

func newPortalSource(t *testing.T, answers map[string]backendAnswer) *portalSource {
	s := &portalSource{be: newTenantBackend(t, answers), docs: map[string]string{}, aliases: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			s.be.srv.Config.Handler.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.gets = append(s.gets, r.URL.RequestURI())
		if s.failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		id, _ := strings.CutPrefix(r.URL.Path, "/accounts/")
		if r.URL.Path == "/accounts" {
			id = s.aliases[r.URL.Query().Get("alias")]
		}
		doc, ok := s.docs[id]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256([]byte(doc))
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Write([]byte(doc))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *portalSource) put(id, alias, doc string) {
	s.mu.Lock()
	s.docs[id], s.aliases[alias] = doc, id
	s.mu.Unlock()
}

func (s *portalSource) fail(on bool) { s.mu.Lock(); s.failing = on; s.mu.Unlock() }

func (s *portalSource) getCount() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.gets) }

func (s *portalSource) lastGet() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[len(s.gets)-1]
}

// sourceTenant creates a tenant (no account stored) with an API key, registers src as its backend
// and turns source mode on through PATCH /v1/portal-settings.
func (h *harness) sourceTenant(slug string, src *portalSource) (*tenants.Tenant, string) {
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
	auth := []string{"Authorization", "Bearer " + key}
	if r := h.do("PATCH", "api."+base, "/v1/portal-settings", []byte(`{"source":{"enabled":true}}`), auth...); r.StatusCode() != 400 ||
		!strings.Contains(string(r.Body()), "needs a registered backend") {
		h.t.Fatalf("source mode without a backend: %d %s", r.StatusCode(), r.Body())
	}
	registerBackend(h.t, h, tn.ID, src.srv.URL)
	for _, bad := range []string{`{"source":{"enabled":"yes"}}`, `{"source":{"ttl":"1s"}}`, `{"source":{"Enabled":true}}`, `{"source":null}`} {
		if r := h.do("PATCH", "api."+base, "/v1/portal-settings", []byte(bad), auth...); r.StatusCode() != 400 {
			h.t.Fatalf("PATCH %s: %d %s, want 400", bad, r.StatusCode(), r.Body())
		}
	}
	r := h.do("PATCH", "api."+base, "/v1/portal-settings", []byte(`{"source":{"enabled":true,"ttl":"1m"}}`), auth...)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"source":{"enabled":true,"ttl":"1m0s"}`) {
		h.t.Fatalf("PATCH source: %d %s", r.StatusCode(), r.Body())
	}
	etcdtest.Wait(h.t, "source mode indexed", func() bool { return h.store.SourceMode(tn.ID) })
	return tn, key
}

// sourceSession opens a portal session of the tenant (key) for body and reads its CSRF token.
func (h *harness) sourceSession(tn *tenants.Tenant, key, body string) *portalSession {
	h.t.Helper()
	st, res, raw := h.createSession(key, body)
	if st != 201 {
		h.t.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	ps := &portalSession{h: h, t: tn, key: key, id: res["sessionId"].(string), host: tn.Slug + "." + base, cookie: cookie}
	page := ps.get("/")
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		h.t.Fatal("no CSRF token on the page")
	}
	ps.csrf = page[i+19 : i+19+32]
	return ps
}

// TestSourcePortal: a source-mode tenant's customer opens a session by alias (the source
// resolves it), sees the source's document, changes auto-pay (the document goes into the cache,
// the event into the outbox, nothing into etcd's accounts); with the source down a cached page
// is served stale with the notice, an uncached account gets the 503 page; the API refuses PUT.
func TestSourcePortal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.withBackend(2*time.Second, false)
	src := newPortalSource(t, nil)
	src.put("acc_7Hq2LmX9", "crm-001234", exampleDoc(t, nil))
	tn, key := h.sourceTenant("srcmode", src)
	auth := []string{"Authorization", "Bearer " + key}

	if r := h.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", []byte(exampleDoc(t, nil)), auth...); r.StatusCode() != 409 || !strings.Contains(string(r.Body()), "source mode") {
		t.Fatalf("PUT in source mode: %d %s", r.StatusCode(), r.Body())
	}
	ps := h.sourceSession(tn, key, `{"accountAlias":"crm-001234","locale":"en"}`)
	if got := src.lastGet(); got != "/accounts?alias=crm-001234" {
		t.Fatalf("session by alias asked the source %q", got)
	}
	n := src.getCount()
	page := ps.get("/")
	if !strings.Contains(page, "Globex Corporation") || strings.Contains(page, "stale-notice") {
		t.Fatal("the page does not show the source's document, or says it is stale")
	}
	if src.getCount() != n {
		t.Fatal("a view within the TTL asked the source")
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...); r.StatusCode() != 200 || !strings.Contains(string(r.Body()), "Globex Corporation") {
		t.Fatalf("API GET in source mode: %d", r.StatusCode())
	}

	// An action's change goes into the cache and the outbox, never into etcd's accounts.
	if st, _ := ps.post("/billing/autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}); st != 303 {
		t.Fatalf("auto-pay off: %d", st)
	}
	if ap := ps.account().AutoPay; ap.Enabled {
		t.Fatal("the cached document does not have auto-pay off")
	}
	if n := len(ps.events(tenants.EventAutopayUpdated)); n != 1 {
		t.Fatalf("%d auto-pay events, want 1", n)
	}
	resp, err := h.store.Client().Get(context.Background(), h.store.Prefix()+"state/accounts/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("etcd holds %d account documents (%v), want none", resp.Count, err)
	}

	// Another account, cached and then refreshed away, for the uncached case.
	src.put("acc_other", "crm-other", strings.Replace(exampleDoc(t, nil), `"acc_7Hq2LmX9"`, `"acc_other"`, 1))
	other := h.sourceSession(tn, key, `{"accountId":"acc_other","locale":"de"}`)
	if r := h.do("POST", "api."+base, "/v1/accounts/acc_other/refresh", nil, auth...); r.StatusCode() != 204 {
		t.Fatalf("refresh: %d %s", r.StatusCode(), r.Body())
	}

	src.fail(true)
	h.now.Add(120)
	n = src.getCount()
	r := h.do("GET", ps.host, "/", nil, "Cookie", ps.cookie)
	if src.getCount() != n+1 || !strings.Contains(src.lastGet(), "/accounts/acc_7Hq2LmX9") {
		t.Fatalf("the view after the TTL did not revalidate (%d → %d requests)", n, src.getCount())
	}
	body := string(r.Body())
	if r.StatusCode() != 200 || !strings.Contains(body, "Showing data from") || !strings.Contains(body, "the billing system is not answering") ||
		!strings.Contains(body, "Globex Corporation") || string(r.Header.Peek("X-Portico-Degraded")) != "source-unreachable" {
		t.Fatalf("stale page: %d %q\n%s", r.StatusCode(), r.Header.Peek("X-Portico-Degraded"), body)
	}
	r = h.do("GET", other.host, "/", nil, "Cookie", other.cookie)
	if r.StatusCode() != 503 || !strings.Contains(string(r.Body()), "Das Abrechnungssystem von Tenant SRCMODE antwortet nicht") {
		t.Fatalf("uncached account, source down: %d\n%s", r.StatusCode(), r.Body())
	}
	if r := h.do("GET", "api."+base, "/v1/accounts/acc_other", nil, auth...); r.StatusCode() != 503 {
		t.Fatalf("API GET, source down: %d %s", r.StatusCode(), r.Body())
	}
	// The source answers again: the next view after the retry interval is current.
	n = src.getCount()
	if page := ps.get("/"); !strings.Contains(page, "stale-notice") || src.getCount() != n {
		t.Fatal("a view within the retry interval asked the source again, or dropped the notice")
	}
	src.fail(false)
	h.now.Add(30)
	if page := ps.get("/"); strings.Contains(page, "stale-notice") || src.getCount() != n+1 {
		t.Fatal("the page still says it is stale after the source answered")
	}
}

// TestSourceRefreshTwoInstances: POST /v1/accounts/{id}/refresh on one instance makes the other's
// next view fetch the document.
func TestSourceRefreshTwoInstances(t *testing.T) {
	t.Parallel()
	prefix := etcdtest.Prefix(t)
	a, b := newHarnessOn(t, prefix), newHarnessOn(t, prefix)
	a.withBackend(0, false)
	b.withBackend(0, false)
	src := newPortalSource(t, nil)
	src.put("acc_7Hq2LmX9", "crm-001234", exampleDoc(t, nil))
	tn, key := a.sourceTenant("refresh", src)
	etcdtest.Wait(t, "instance b knows source mode", func() bool { return b.store.SourceMode(tn.ID) && b.store.HasBackend(tn.ID) })
	ps := a.sourceSession(tn, key, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	onB := *ps
	onB.h = b
	if !strings.Contains(onB.get("/"), "Globex Corporation") {
		t.Fatal("instance b does not show the document")
	}
	src.put("acc_7Hq2LmX9", "crm-001234", strings.Replace(exampleDoc(t, nil), "Globex Corporation", "Globex Holding", 1))
	if strings.Contains(onB.get("/"), "Globex Holding") {
		t.Fatal("instance b fetched before the TTL or a refresh")
	}
	if r := a.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/refresh", nil, "Authorization", "Bearer "+key); r.StatusCode() != 204 {
		t.Fatalf("refresh: %d %s", r.StatusCode(), r.Body())
	}
	etcdtest.Wait(t, "instance b shows the refreshed document", func() bool {
		return strings.Contains(onB.get("/"), "Globex Holding")
	})
	// A tenant not in source mode has nothing to refresh.
	_, plainKey := a.tenant("plain")
	if r := a.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/refresh", nil, "Authorization", "Bearer "+plainKey); r.StatusCode() != 409 {
		t.Fatalf("refresh without source mode: %d %s", r.StatusCode(), r.Body())
	}
}
