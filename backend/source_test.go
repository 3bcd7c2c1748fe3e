package backend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/storetest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// sourceServer is a tenant's billing system serving account documents over HTTP as source mode
// asks for them: GET /portico/accounts/{id} and GET /portico/accounts?alias=…, signatures
// verified (401 otherwise), ETags of the document's hash, 304 for a current If-None-Match.
type sourceServer struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	docs     map[string]string // by id
	fail     string            // "", "status", "garbage", "oversized", "invalid", "other"
	hold     chan struct{}     // when not nil, every request waits for it to close
	requests []sourceRequest
	ok       int // 200 answers
	notMod   int // 304 answers
}

type sourceRequest struct{ path, alias, ifNoneMatch string }

func newSourceServer(t *testing.T, docs ...string) *sourceServer {
	t.Helper()
	s := &sourceServer{docs: map[string]string{}}
	for _, d := range docs {
		s.put(d)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *sourceServer) put(doc string) {
	var a struct{ ID string }
	json.Unmarshal([]byte(doc), &a)
	s.mu.Lock()
	s.docs[a.ID] = doc
	s.mu.Unlock()
}

func (s *sourceServer) set(f func(s *sourceServer)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

func etagOf(doc string) string {
	h := sha256.Sum256([]byte(doc))
	return `"` + hex.EncodeToString(h[:8]) + `"`
}

func (s *sourceServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	secret, hold := s.secret, s.hold
	s.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, "GET only", http.StatusMethodNotAllowed)
		return
	}
	if err := webhooks.Verify([]string{secret}, r.Header, SourceSigned(r.URL), time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, sourceRequest{r.URL.Path, r.URL.Query().Get("alias"), r.Header.Get("If-None-Match")})
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var doc string
	if id, ok := strings.CutPrefix(r.URL.Path, "/portico/accounts/"); ok {
		doc = s.docs[id]
	} else if r.URL.Path == "/portico/accounts" {
		for _, d := range s.docs {
			if strings.Contains(d, `"alias":"`+r.URL.Query().Get("alias")+`"`) {
				doc = d
			}
		}
	}
	switch s.fail {
	case "status":
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	case "garbage":
		w.Write([]byte("<html>not json"))
		return
	case "oversized":
		w.Write(bytes.Repeat([]byte(" "), MaxResponseBody+10))
		return
	case "invalid":
		w.Write([]byte(`{"id":"acc_1","name":"Globex","currency":"euro"}`))
		return
	case "other":
		w.Write([]byte(strings.Replace(doc, `"id":"`, `"id":"other_`, 1)))
		return
	}
	if doc == "" {
		http.Error(w, "no such account", http.StatusNotFound)
		return
	}
	et := etagOf(doc)
	if r.Header.Get("If-None-Match") == et {
		s.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.ok++
	w.Header().Set("ETag", et)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(doc))
}

func (s *sourceServer) count() (requests, ok, notModified int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests), s.ok, s.notMod
}

func (s *sourceServer) last() sourceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[len(s.requests)-1]
}

// syncBuffer collects a logger's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// sourceEnv is a store on a clock the test moves, a tenant in source mode (TTL 1 minute) whose
// backend is src, and the backend service as the store's source.
type sourceEnv struct {
	*env
	offset atomic.Int64 // added to the real time, ns
	svc    *Service
	src    *sourceServer
	logs   *syncBuffer
}

const sourceDoc = `{"id":"acc_1","alias":"globex","name":"Globex","currency":"EUR"}`

func newSourceEnv(t *testing.T, timeout time.Duration, docs ...string) *sourceEnv {
	t.Helper()
	se := &sourceEnv{env: &env{t: t, prefix: etcdtest.Prefix(t)}, logs: &syncBuffer{}}
	se.store = se.openStoreAt()
	se.tenant = se.newTenant("acme")
	se.svc = se.service(se.store, func(c *Config) { c.Timeout = timeout })
	se.store.UseAccountSource(se.svc)
	se.src = se.sourceFor(se.tenant, docs...)
	return se
}

// openStoreAt opens a store of the env's prefix on the env's clock, logging into se.logs.
func (se *sourceEnv) openStoreAt() *tenants.Store {
	s, r := storetest.OpenWith(se.t, srv.Client(se.t), se.prefix, func(c *tenants.Config) {
		c.Now = se.now
		c.Logger = slog.New(slog.NewTextHandler(se.logs, nil))
	})
	if se.keyring == nil {
		se.keyring = r
	}
	return s
}

func (se *sourceEnv) now() time.Time { return time.Now().Add(time.Duration(se.offset.Load())) }

// sourceFor registers a new source server as tn's backend and puts tn in source mode.
func (se *sourceEnv) sourceFor(tn *tenants.Tenant, docs ...string) *sourceServer {
	se.t.Helper()
	src := newSourceServer(se.t, docs...)
	_, secret, err := se.svc.Register(context.Background(), tn.ID, src.URL+"/portico")
	if err != nil {
		se.t.Fatal(err)
	}
	src.set(func(s *sourceServer) { s.secret = secret })
	if _, err := se.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error {
		t.Source = tenants.SourceSettings{Enabled: true, TTL: tenants.Duration(time.Minute)}
		return nil
	}, nil); err != nil {
		se.t.Fatal(err)
	}
	etcdtest.Wait(se.t, "source mode indexed", func() bool { return se.store.SourceMode(tn.ID) })
	return src
}

func (se *sourceEnv) account(id string) (*tenants.AccountSnapshot, error) {
	return se.store.Account(context.Background(), se.tenant.ID, id)
}

// TestSourceRevalidation: a document is fetched once, served from memory within its TTL, and
// after it revalidated with If-None-Match: 304 transfers no body, keeps the snapshot (and what is
// memoised on it) and restarts the TTL; a changed document comes back whole with a new revision.
func TestSourceRevalidation(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	first, err := se.account("acc_1")
	if err != nil || first.Account.Name != "Globex" || first.ETag != etagOf(sourceDoc) || first.Revision == 0 {
		t.Fatalf("first view = %+v, %v", first, err)
	}
	if r := se.src.last(); r.path != "/portico/accounts/acc_1" || r.ifNoneMatch != "" {
		t.Fatalf("first request %+v, want GET /portico/accounts/acc_1 without If-None-Match", r)
	}
	for range 3 {
		if snap, err := se.account("acc_1"); err != nil || snap != first {
			t.Fatalf("view within the TTL = %p, %v; want the cached %p", snap, err, first)
		}
	}
	if n, _, _ := se.src.count(); n != 1 {
		t.Fatalf("%d source requests within the TTL, want 1", n)
	}
	fetched := first.FetchedAt()
	se.offset.Add(int64(61 * time.Second))
	if !first.Expired(se.now()) || first.Current(se.tenantNow(), se.now()) {
		t.Fatal("the copy is not expired after its TTL")
	}
	snap, err := se.account("acc_1")
	if err != nil || snap != first {
		t.Fatalf("revalidated view = %p, %v; want the same snapshot %p", snap, err, first)
	}
	n, ok, notMod := se.src.count()
	if n != 2 || ok != 1 || notMod != 1 || se.src.last().ifNoneMatch != etagOf(sourceDoc) {
		t.Fatalf("after the TTL: %d requests, %d 200, %d 304, last %+v; want one 304 to If-None-Match %s", n, ok, notMod, se.src.last(), etagOf(sourceDoc))
	}
	if !snap.FetchedAt().After(fetched) || snap.Expired(se.now()) {
		t.Fatalf("fetchedAt %v → %v, expired %v: a 304 must restart the TTL", fetched, snap.FetchedAt(), snap.Expired(se.now()))
	}
	changed := strings.Replace(sourceDoc, "Globex", "Globex AG", 1)
	se.src.put(changed)
	if snap, _ := se.account("acc_1"); snap != first {
		t.Fatal("a change at the source showed before the TTL ended")
	}
	se.offset.Add(int64(61 * time.Second))
	snap, err = se.account("acc_1")
	if err != nil || snap.Account.Name != "Globex AG" || snap.Revision == first.Revision || snap.ETag != etagOf(changed) {
		t.Fatalf("after the change and the TTL: %+v, %v", snap, err)
	}
}

func (se *sourceEnv) tenantNow() *tenants.Tenant {
	tn, _ := se.store.TenantByID(se.tenant.ID)
	return tn
}

// TestSourceFailures: a source that times out, errs or answers something that is not the
// account's valid document leaves a cached copy in service, stale, logged, and asked again only
// after the retry interval; an uncached account is ErrSourceUnavailable (503); a 404 is
// ErrAccountNotFound.
func TestSourceFailures(t *testing.T) {
	t.Parallel()
	for _, fail := range []string{"slow", "status", "garbage", "oversized", "invalid", "other"} {
		t.Run(fail, func(t *testing.T) {
			t.Parallel()
			se := newSourceEnv(t, 300*time.Millisecond, sourceDoc)
			cached, err := se.account("acc_1")
			if err != nil {
				t.Fatal(err)
			}
			hold := make(chan struct{})
			t.Cleanup(func() { close(hold) })
			se.src.set(func(s *sourceServer) {
				if fail == "slow" {
					s.hold = hold
				} else {
					s.fail = fail
				}
			})
			se.offset.Add(int64(61 * time.Second))
			snap, err := se.account("acc_1")
			if err != nil || snap != cached || !snap.Expired(se.now()) {
				t.Fatalf("cached account, failing source: %p %v (expired %v); want the stale copy", snap, err, snap != nil && snap.Expired(se.now()))
			}
			if !strings.Contains(se.logs.String(), "the account source failed; serving the cached copy") {
				t.Fatalf("logs do not say the source failed:\n%s", se.logs)
			}
			n, _, _ := se.src.count()
			if _, err := se.account("acc_1"); err != nil {
				t.Fatal(err)
			}
			if m, _, _ := se.src.count(); m != n {
				t.Fatalf("the source was asked again within the retry interval (%d → %d requests)", n, m)
			}
			// An account that is not cached: a clear failure, not a stale page.
			se.src.put(strings.Replace(sourceDoc, "acc_1", "acc_9", 1))
			_, err = se.account("acc_9")
			if !errors.Is(err, tenants.ErrSourceUnavailable) || !errors.Is(err, tenants.ErrUnavailable) {
				t.Fatalf("uncached account, failing source: %v; want ErrSourceUnavailable", err)
			}
		})
	}
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		se := newSourceEnv(t, 5*time.Second, sourceDoc)
		if _, err := se.account("acc_404"); !errors.Is(err, tenants.ErrAccountNotFound) {
			t.Fatalf("unknown account: %v; want ErrAccountNotFound", err)
		}
		if _, err := se.store.AccountIDByAlias(context.Background(), se.tenant.ID, "nobody"); !errors.Is(err, tenants.ErrAccountNotFound) {
			t.Fatalf("unknown alias: %v; want ErrAccountNotFound", err)
		}
	})
}

// TestSourceSingleFlight: 1,000 concurrent first views of one uncached account make one request.
func TestSourceSingleFlight(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	hold := make(chan struct{})
	se.src.set(func(s *sourceServer) { s.hold = hold })
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Go(func() {
			<-start
			snap, err := se.account("acc_1")
			if err == nil && snap.Account.ID != "acc_1" {
				err = errors.New("wrong account")
			}
			if err != nil {
				errs <- err
			}
		})
	}
	close(start)
	etcdtest.Wait(t, "the first request reached the source", func() bool { n, _, _ := se.src.count(); return n >= 1 })
	se.src.set(func(s *sourceServer) { close(hold); s.hold = nil })
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, _, _ := se.src.count(); n != 1 {
		t.Fatalf("1,000 concurrent first views made %d source requests, want 1", n)
	}
}

// TestSourceAlias: an alias is resolved by the source every time (GET /accounts?alias=), and the
// document it answers is cached under its id.
func TestSourceAlias(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	for i := 1; i <= 2; i++ {
		id, err := se.store.AccountIDByAlias(context.Background(), se.tenant.ID, "globex")
		if err != nil || id != "acc_1" {
			t.Fatalf("alias: %q, %v", id, err)
		}
		if r := se.src.last(); r.path != "/portico/accounts" || r.alias != "globex" {
			t.Fatalf("alias request %+v", r)
		}
		if n, _, _ := se.src.count(); n != i {
			t.Fatalf("%d requests after %d alias lookups", n, i)
		}
	}
	if _, err := se.account("acc_1"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := se.src.count(); n != 2 {
		t.Fatalf("the view after the alias lookup asked the source again (%d requests)", n)
	}
}

// TestSourceRefreshAcrossInstances: RefreshAccount on one instance drops the copy on another
// (through the watched refresh key), whose next view fetches the document.
func TestSourceRefreshAcrossInstances(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	other := se.openStoreAt()
	other.UseAccountSource(se.service(other, nil))
	etcdtest.Wait(t, "instance b knows source mode", func() bool { return other.SourceMode(se.tenant.ID) })
	if _, err := se.account("acc_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Account(context.Background(), se.tenant.ID, "acc_1"); err != nil {
		t.Fatal(err)
	}
	ck := se.tenant.ID + "/acc_1"
	if _, ok := other.CachedAccount(ck); !ok {
		t.Fatal("instance b did not cache the document")
	}
	se.src.put(strings.Replace(sourceDoc, "Globex", "Globex AG", 1))
	if err := se.store.RefreshAccount(context.Background(), se.tenant.ID, "acc_1"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "instance b dropped its copy", func() bool { _, ok := other.CachedAccount(ck); return !ok })
	snap, err := other.Account(context.Background(), se.tenant.ID, "acc_1")
	if err != nil || snap.Account.Name != "Globex AG" {
		t.Fatalf("instance b after the refresh: %+v, %v", snap, err)
	}
	if n, _, _ := se.src.count(); n != 3 {
		t.Fatalf("%d source requests, want 3 (a, b, b after the refresh)", n)
	}
	// A tenant not in source mode has nothing to refresh.
	plain := se.newTenant("plain")
	etcdtest.Wait(t, "tenant indexed", func() bool { _, ok := se.store.TenantByID(plain.ID); return ok })
	if err := se.store.RefreshAccount(context.Background(), plain.ID, "acc_1"); !errors.Is(err, tenants.ErrNotSourceMode) {
		t.Fatalf("refresh of a tenant not in source mode: %v", err)
	}
}

// TestSourceCrossTenant: each tenant's accounts come from its own source; another tenant's source
// is never asked, and an id one source knows is not found through another.
func TestSourceCrossTenant(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	other := se.newTenant("initech")
	otherSrc := se.sourceFor(other, strings.Replace(sourceDoc, "Globex", "Initech", 1))
	a, err := se.account("acc_1")
	if err != nil || a.Account.Name != "Globex" {
		t.Fatalf("tenant a: %+v, %v", a, err)
	}
	b, err := se.store.Account(context.Background(), other.ID, "acc_1")
	if err != nil || b.Account.Name != "Initech" || b == a {
		t.Fatalf("tenant b: %+v, %v", b, err)
	}
	otherSrc.set(func(s *sourceServer) { delete(s.docs, "acc_1") })
	se.src.put(strings.Replace(sourceDoc, "acc_1", "acc_only_a", 1))
	if _, err := se.store.Account(context.Background(), other.ID, "acc_only_a"); !errors.Is(err, tenants.ErrAccountNotFound) {
		t.Fatalf("tenant b asking for tenant a's account: %v", err)
	}
	if n, _, _ := se.src.count(); n != 1 {
		t.Fatalf("tenant a's source got %d requests, want 1 (its own)", n)
	}
	if n, _, _ := otherSrc.count(); n != 2 {
		t.Fatalf("tenant b's source got %d requests, want 2", n)
	}
}

// TestSourceWrites: the API's writes are refused; a document a backend returns to an action goes
// into the cache and not into etcd, its events into the outbox; an answer without a document
// drops the cached copy.
func TestSourceWrites(t *testing.T) {
	t.Parallel()
	se := newSourceEnv(t, 5*time.Second, sourceDoc)
	ctx := context.Background()
	a, _ := account.Decode([]byte(sourceDoc))
	if _, _, err := se.store.PutAccount(ctx, se.tenant.ID, a, 0); !errors.Is(err, tenants.ErrSourceMode) {
		t.Fatalf("PutAccount: %v, want ErrSourceMode", err)
	}
	if err := se.store.DeleteAccount(ctx, se.tenant.ID, "acc_1", 0); !errors.Is(err, tenants.ErrSourceMode) {
		t.Fatalf("DeleteAccount: %v, want ErrSourceMode", err)
	}
	if _, err := se.account("acc_1"); err != nil {
		t.Fatal(err)
	}
	a.Name = "Globex (paid)"
	ev, _ := tenants.NewEvent(se.tenant.ID, "invoice.payment_succeeded", map[string]any{"accountId": "acc_1"}, time.Now())
	rev, err := se.svc.StoreAccount(ctx, se.tenant.ID, "acc_1", a, 12345, ev)
	if err != nil || rev == 0 {
		t.Fatalf("StoreAccount: %d, %v", rev, err)
	}
	snap, err := se.account("acc_1")
	if err != nil || snap.Account.Name != "Globex (paid)" || snap.Revision != rev || snap.ETag != "" {
		t.Fatalf("after the action: %+v, %v", snap, err)
	}
	resp, err := se.store.Client().Get(ctx, se.prefix+"state/accounts/", clientv3.WithPrefix())
	if err != nil || resp.Count != 0 {
		t.Fatalf("etcd holds %d account documents (%v), want none", resp.Count, err)
	}
	out, err := se.store.Client().Get(ctx, se.store.OutboxPrefix(), clientv3.WithPrefix())
	if err != nil || out.Count != 1 || !strings.Contains(string(out.Kvs[0].Value), "invoice.payment_succeeded") {
		t.Fatalf("outbox: %d events (%v), want the action's", out.Count, err)
	}
	if _, err := se.svc.StoreAccount(ctx, se.tenant.ID, "acc_1", nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, ok := se.store.CachedAccount(se.tenant.ID + "/acc_1"); ok {
		t.Fatal("an answer without a document left the cached copy")
	}
}

// TestSourceSignatureCoversTheRequest: the signature of an account fetch covers its path and
// query, so the headers of one fetch do not verify on a request for another account (the
// sourceServer of the other tests verifies every fetch against its own path).
func TestSourceSignatureCoversTheRequest(t *testing.T) {
	t.Parallel()
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	key, err := webhooks.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, _ := url.Parse("https://billing.acme.example/portico/accounts/acc_1")
	h := http.Header{}
	h.Set(webhooks.HeaderID, "msg_1")
	h.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(webhooks.HeaderSignature, webhooks.SignatureHeader([][]byte{key}, "msg_1", now, SourceSigned(a)))
	if err := webhooks.Verify([]string{secret}, h, SourceSigned(a), now); err != nil {
		t.Fatalf("the fetch's own request: %v", err)
	}
	for _, other := range []string{"https://billing.acme.example/portico/accounts/acc_2", "https://billing.acme.example/portico/accounts?alias=crm-1"} {
		b, _ := url.Parse(other)
		if err := webhooks.Verify([]string{secret}, h, SourceSigned(b), now); err == nil {
			t.Errorf("the headers of a fetch of acc_1 verify on %s", other)
		}
	}
}
