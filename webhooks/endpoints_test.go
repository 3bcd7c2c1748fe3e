package webhooks

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestEndpointCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	ctx := context.Background()

	ep, secret, err := s.CreateEndpoint(ctx, e.tenant.ID, EndpointRequest{
		URL: "https://hooks.example.com/portico#frag", Description: " Billing sync ", Events: []string{tenants.EventSubscriptionCanceled, tenants.EventSubscriptionCanceled},
	})
	if err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	if !validEndpointID(ep.ID) || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoint %q, secret %q", ep.ID, secret)
	}
	if ep.URL != "https://hooks.example.com/portico" || ep.Description != "Billing sync" || len(ep.Events) != 1 || ep.Disabled {
		t.Errorf("created %+v", ep)
	}
	b, _ := json.Marshal(ep)
	for _, field := range []string{`"id"`, `"url"`, `"description"`, `"events"`, `"disabled"`, `"createdAt"`} {
		if !bytes.Contains(b, []byte(field)) {
			t.Errorf("JSON %s lacks %s", b, field)
		}
	}
	if bytes.Contains(b, []byte("ecret")) {
		t.Errorf("JSON of an endpoint mentions a secret: %s", b)
	}

	all, _, _ := s.CreateEndpoint(ctx, e.tenant.ID, EndpointRequest{URL: "https://all.example.com/"})
	if all == nil || all.Events == nil || len(all.Events) != 0 {
		t.Fatalf("endpoint for all events: %+v", all)
	}
	list, err := s.ListEndpoints(ctx, e.tenant.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListEndpoints = %d, %v", len(list), err)
	}
	got, err := s.GetEndpoint(ctx, e.tenant.ID, ep.ID)
	if err != nil || got.URL != ep.URL {
		t.Fatalf("GetEndpoint = %+v, %v", got, err)
	}

	off := true
	up, err := s.UpdateEndpoint(ctx, e.tenant.ID, ep.ID, EndpointUpdate{Disabled: &off, Events: &[]string{}})
	if err != nil || !up.Disabled || up.DisabledReason == "" || len(up.Events) != 0 {
		t.Fatalf("UpdateEndpoint = %+v, %v", up, err)
	}
	if _, err := s.SendTest(ctx, e.tenant.ID, ep.ID); !errors.Is(err, ErrInvalid) {
		t.Errorf("SendTest to a disabled endpoint = %v, want ErrInvalid", err)
	}
	off = false
	if up, err = s.UpdateEndpoint(ctx, e.tenant.ID, ep.ID, EndpointUpdate{Disabled: &off}); err != nil || up.Disabled || up.DisabledReason != "" {
		t.Fatalf("enabling = %+v, %v", up, err)
	}

	if err := s.DeleteEndpoint(ctx, e.tenant.ID, ep.ID); err != nil {
		t.Fatalf("DeleteEndpoint: %v", err)
	}
	if _, err := s.GetEndpoint(ctx, e.tenant.ID, ep.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetEndpoint after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteEndpoint(ctx, e.tenant.ID, ep.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteEndpoint = %v, want ErrNotFound", err)
	}
	for _, id := range []string{"", "../../tenants", "we_" + strings.Repeat("a", 15), "we_AAAAAAAAAAAAAAAA"} {
		if _, err := s.GetEndpoint(ctx, e.tenant.ID, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetEndpoint(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, _, err := s.CreateEndpoint(ctx, "ten_nobody", EndpointRequest{URL: "https://x.example.com/"}); !errors.Is(err, tenants.ErrTenantNotFound) {
		t.Errorf("CreateEndpoint for an unknown tenant = %v", err)
	}
}

func TestEndpointValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	strict := e.service(e.store, func(c *Config) { c.AllowCIDRs = nil })
	tests := []struct {
		name string
		req  EndpointRequest
		want string // in the error; "" = valid
	}{
		{"https", EndpointRequest{URL: "https://hooks.example.com/x"}, ""},
		{"empty url", EndpointRequest{}, "url is required"},
		{"not a url", EndpointRequest{URL: "::nope"}, "not an absolute"},
		{"relative", EndpointRequest{URL: "/hooks"}, "not an absolute"},
		{"ftp", EndpointRequest{URL: "ftp://files.example.com/"}, `scheme "ftp"`},
		{"plain http", EndpointRequest{URL: "http://hooks.example.com/"}, "must use https"},
		{"http to loopback, not allowed", EndpointRequest{URL: "http://127.0.0.1:8080/"}, "must use https"},
		{"https to a private address", EndpointRequest{URL: "https://10.1.2.3/"}, "blocked range"},
		{"https to link-local", EndpointRequest{URL: "https://169.254.169.254/latest"}, "blocked range"},
		{"https to IPv6 loopback", EndpointRequest{URL: "https://[::1]/"}, "blocked range"},
		{"credentials", EndpointRequest{URL: "https://user:pw@hooks.example.com/"}, "credentials"},
		{"too long", EndpointRequest{URL: "https://hooks.example.com/" + strings.Repeat("a", MaxURLLength)}, "longer than"},
		{"unknown event", EndpointRequest{URL: "https://hooks.example.com/", Events: []string{"invoice.exploded"}}, `unknown event type "invoice.exploded"`},
		{"test event", EndpointRequest{URL: "https://hooks.example.com/", Events: []string{tenants.EventWebhookTest}}, ""},
		{"long description", EndpointRequest{URL: "https://hooks.example.com/", Description: strings.Repeat("é", MaxDescriptionLength+1)}, "description"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := strict.CreateEndpoint(context.Background(), e.tenant.ID, tc.req)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CreateEndpoint = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CreateEndpoint = %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}

	t.Run("http allowed in allowed ranges", func(t *testing.T) {
		t.Parallel()
		s := e.service(e.store, nil) // 127.0.0.0/8 allowed
		for _, u := range []string{"http://127.0.0.1:9/hook", "http://localhost:9/hook"} {
			if _, _, err := s.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: u}); err != nil {
				t.Errorf("CreateEndpoint(%s) = %v", u, err)
			}
		}
		if _, _, err := s.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: "http://10.0.0.1/"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("http to a range not allowed = %v", err)
		}
		lax := e.service(e.store, func(c *Config) { c.AllowHTTP = true })
		if _, _, err := lax.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: "http://hooks.example.com/"}); err != nil {
			t.Errorf("AllowHTTP: %v", err)
		}
	})
}

func TestMaxEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	for range MaxEndpoints {
		e.createEndpoint(s, e.tenant.ID, "https://hooks.example.com/")
	}
	if _, _, err := s.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: "https://hooks.example.com/"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("endpoint %d = %v, want ErrInvalid", MaxEndpoints+1, err)
	}
}

func TestCrossTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newTenant("globex")
	s := e.service(e.store, nil)
	ctx := context.Background()
	rcA := newReceiver(t)
	epA, secA := e.createEndpoint(s, e.tenant.ID, rcA.srv.URL)
	rcA.setSecrets(secA)

	if _, err := s.GetEndpoint(ctx, other.ID, epA.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetEndpoint of another tenant's endpoint = %v", err)
	}
	if err := s.DeleteEndpoint(ctx, other.ID, epA.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteEndpoint of another tenant's endpoint = %v", err)
	}
	if _, err := s.RotateSecret(ctx, other.ID, epA.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("RotateSecret of another tenant's endpoint = %v", err)
	}
	if _, err := s.SendTest(ctx, other.ID, epA.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("SendTest to another tenant's endpoint = %v", err)
	}
	on := false
	if _, err := s.UpdateEndpoint(ctx, other.ID, epA.ID, EndpointUpdate{Disabled: &on}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateEndpoint of another tenant's endpoint = %v", err)
	}
	if l, _ := s.ListEndpoints(ctx, other.ID); len(l) != 0 {
		t.Errorf("the other tenant lists %d endpoints", len(l))
	}

	run(t, s)
	foreign := e.appendEvent(other.ID, tenants.EventSubscriptionCanceled, map[string]string{"who": "globex"})
	own := e.appendEvent(e.tenant.ID, tenants.EventSubscriptionCanceled, map[string]string{"who": "acme"})
	etcdtest.Wait(t, "acme's event", func() bool { return rcA.count(own.ID) == 1 })
	etcdtest.Wait(t, "outbox drained", func() bool { return e.keysUnder("outbox/") == 0 })
	if rcA.count(foreign.ID) != 0 {
		t.Errorf("acme's endpoint received globex's event")
	}
	if d := e.deliveries(s, other.ID, DeliveryFilter{}); len(d) != 0 {
		t.Errorf("globex sees %d deliveries", len(d))
	}
	if d := e.deliveries(s, e.tenant.ID, DeliveryFilter{}); len(d) != 1 {
		t.Errorf("acme sees %d deliveries, want 1", len(d))
	}
	rcA.check()
}

// TestDeleteTenantTakesItsWebhooks: tenants.Store.DeleteTenant removes the tenant's endpoints
// and delivery history (the store and this package must agree on where they live) and nothing of
// another tenant's.
func TestDeleteTenantTakesItsWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := e.newTenant("globex")
	s := e.service(e.store, nil)
	ctx := context.Background()
	rc := newReceiver(t)
	_, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	e.createEndpoint(s, other.ID, rc.srv.URL+"/other")
	run(t, s)
	ev := e.appendEvent(e.tenant.ID, tenants.EventSubscriptionCanceled, map[string]string{"who": "acme"})
	etcdtest.Wait(t, "acme's event", func() bool { return rc.count(ev.ID) == 1 })
	etcdtest.Wait(t, "delivery recorded", func() bool { return len(e.deliveries(s, e.tenant.ID, DeliveryFilter{})) == 1 })

	if err := e.store.DeleteTenant(ctx, e.tenant.ID); err != nil {
		t.Fatal(err)
	}
	if n := e.keysUnder("webhooks/endpoints/" + e.tenant.ID + "/"); n != 0 {
		t.Errorf("%d endpoint keys of the deleted tenant left", n)
	}
	if n := e.keysUnder("webhooks/deliveries/" + e.tenant.ID + "/"); n != 0 {
		t.Errorf("%d delivery keys of the deleted tenant left", n)
	}
	if l, err := s.ListEndpoints(ctx, other.ID); err != nil || len(l) != 1 {
		t.Errorf("the other tenant's endpoints = %d, %v; want 1", len(l), err)
	}
	rc.check()
}

// TestSecretsSealedAtRest scans every key under the prefix, after endpoints were created,
// rotated and delivered to, for the secrets in any encoding.
func TestSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	ctx := context.Background()
	rc := newReceiver(t)
	ep, s1 := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	s2, err := s.RotateSecret(ctx, e.tenant.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	rc.setSecrets(s2)
	run(t, s)
	id, err := s.SendTest(ctx, e.tenant.ID, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "test event", func() bool { return rc.count(id) == 1 })
	resp, err := e.store.Client().Get(ctx, e.prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{s1, s2} {
		key, _ := ParseSecret(sec)
		forms := [][]byte{key, []byte(sec), []byte(strings.TrimPrefix(sec, "whsec_")),
			[]byte(base64.RawStdEncoding.EncodeToString(key)), []byte(base64.URLEncoding.EncodeToString(key)),
			[]byte(base64.StdEncoding.EncodeToString([]byte(sec)))}
		for _, kv := range resp.Kvs {
			for _, f := range forms {
				if bytes.Contains(kv.Value, f) || bytes.Contains(kv.Key, f) {
					t.Errorf("key %s holds a secret in clear", kv.Key)
				}
			}
		}
	}
	if len(resp.Kvs) < 3 {
		t.Errorf("scanned only %d keys", len(resp.Kvs))
	}
}

// TestRotation: after a rotation both secrets sign, for 24 hours; then only the new one.
func TestRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var clk clock
	s := e.service(e.store, func(c *Config) { c.Now = clk.now })
	ctx := context.Background()
	type got struct {
		h    http.Header
		body []byte
	}
	var mu sync.Mutex
	var reqs []got
	recv := newReceiver(t)
	recv.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, got{r.Header.Clone(), b})
		mu.Unlock()
		return true // 200, checked below with the test's clock
	})
	ep, oldS := e.createEndpoint(s, e.tenant.ID, recv.srv.URL)
	run(t, s)
	last := func(n int) got {
		t.Helper()
		etcdtest.Wait(t, "delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(reqs) >= n })
		mu.Lock()
		defer mu.Unlock()
		return reqs[n-1]
	}
	verify := func(g got, secret string) error {
		return VerifySignature([]string{secret}, g.h.Get(HeaderID), g.h.Get(HeaderTimestamp), g.h.Get(HeaderSignature), g.body, clk.now(), 0)
	}

	if _, err := s.SendTest(ctx, e.tenant.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	g := last(1)
	if n := len(strings.Fields(g.h.Get(HeaderSignature))); n != 1 {
		t.Errorf("before rotation: %d signatures", n)
	}

	newS, err := s.RotateSecret(ctx, e.tenant.ID, ep.ID)
	if err != nil || newS == oldS {
		t.Fatalf("RotateSecret = %q, %v", newS, err)
	}
	if ep2, _ := s.GetEndpoint(ctx, e.tenant.ID, ep.ID); ep2.PreviousSecretExpiresAt.Sub(clk.now()) < 23*time.Hour {
		t.Errorf("previous secret expires at %v", ep2.PreviousSecretExpiresAt)
	}
	s.SendTest(ctx, e.tenant.ID, ep.ID)
	g = last(2)
	if n := len(strings.Fields(g.h.Get(HeaderSignature))); n != 2 {
		t.Errorf("during the overlap: %d signatures, want 2", n)
	}
	for _, sec := range []string{oldS, newS} {
		if err := verify(g, sec); err != nil {
			t.Errorf("during the overlap, a receiver with one secret fails: %v", err)
		}
	}

	clk.advance(23 * time.Hour)
	s.SendTest(ctx, e.tenant.ID, ep.ID)
	if g = last(3); len(strings.Fields(g.h.Get(HeaderSignature))) != 2 || verify(g, oldS) != nil {
		t.Errorf("after 23 h the old secret no longer signs")
	}

	clk.advance(time.Hour + time.Minute)
	s.SendTest(ctx, e.tenant.ID, ep.ID)
	g = last(4)
	if n := len(strings.Fields(g.h.Get(HeaderSignature))); n != 1 {
		t.Errorf("after 24 h: %d signatures, want 1", n)
	}
	if err := verify(g, newS); err != nil {
		t.Errorf("new secret: %v", err)
	}
	if err := verify(g, oldS); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("old secret after 24 h: %v, want ErrNoMatchingSignature", err)
	}
}

// TestSectionEventTypesSubscribable: endpoints subscribe by name to the event types the sections
// declare (Config.EventTypes) besides Portico's own; without them such a type is refused with the
// list of known ones.
func TestSectionEventTypesSubscribable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const typ = "account.locale.updated"
	plain := e.service(e.store, nil)
	_, _, err := plain.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: "http://127.0.0.1:9/hook", Events: []string{typ}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `unknown event type "`+typ+`"`) {
		t.Fatalf("a section's type without Config.EventTypes: %v", err)
	}
	withSections := e.service(e.store, func(c *Config) { c.EventTypes = []string{typ} })
	ep, _ := e.createEndpoint(withSections, e.tenant.ID, "http://127.0.0.1:9/hook", typ, tenants.EventAutopayUpdated)
	if !slices.Equal(ep.Events, []string{typ, tenants.EventAutopayUpdated}) {
		t.Fatalf("subscribed to %q", ep.Events)
	}
	if types := withSections.EventTypes(); !slices.Contains(types, typ) || !slices.Contains(types, tenants.EventAutopayUpdated) || !slices.IsSorted(types) {
		t.Fatalf("EventTypes %q", types)
	}
}
