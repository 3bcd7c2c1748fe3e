package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestDeliveryEndToEnd: events appended to the outbox reach the endpoints that want them, once,
// signed, with the event id as webhook-id and the envelope as body; the outbox and the queue end
// empty.
func TestDeliveryEndToEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	all, canceled := newReceiver(t), newReceiver(t)
	epAll, secAll := e.createEndpoint(s, e.tenant.ID, all.srv.URL)
	_, secCanceled := e.createEndpoint(s, e.tenant.ID, canceled.srv.URL, tenants.EventSubscriptionCanceled)
	all.setSecrets(secAll)
	canceled.setSecrets(secCanceled)

	// Events written while no instance runs are delivered when one starts.
	early := e.appendEvent(e.tenant.ID, tenants.EventSubscriptionCanceled, map[string]any{"subscriptionId": "sub_1"})
	run(t, s)
	var evs []*tenants.Event
	for i := range 10 {
		typ := tenants.EventBillingDetailsUpdated
		if i%2 == 0 {
			typ = tenants.EventSubscriptionCanceled
		}
		evs = append(evs, e.appendEvent(e.tenant.ID, typ, map[string]any{"n": i, "name": "Zoë"}))
	}
	evs = append(evs, early)
	etcdtest.Wait(t, "every event at the all-events endpoint", func() bool { return len(all.received()) == len(evs) })
	etcdtest.Wait(t, "queue empty", func() bool { return e.keysUnder("webhooks/tasks/") == 0 && e.keysUnder("outbox/") == 0 })

	byID := map[string]Received{}
	for _, r := range all.received() {
		byID[r.ID] = r
	}
	for _, ev := range evs {
		r, ok := byID[ev.ID]
		if !ok || all.count(ev.ID) != 1 {
			t.Errorf("event %s received %d times at the all-events endpoint", ev.ID, all.count(ev.ID))
			continue
		}
		var env map[string]json.RawMessage
		json.Unmarshal(r.Body, &env)
		if len(env) != 3 || r.Type != ev.Type || !r.EventTime.Equal(ev.Timestamp) || string(r.Data) != string(ev.Data) {
			t.Errorf("body %s does not carry event %+v", r.Body, ev)
		}
		wantCanceled := 0
		if ev.Type == tenants.EventSubscriptionCanceled {
			wantCanceled = 1
		}
		if c := canceled.count(ev.ID); c != wantCanceled {
			t.Errorf("filtered endpoint got %s (%s) %d times, want %d", ev.ID, ev.Type, c, wantCanceled)
		}
	}
	if canceled.total() != 6 {
		t.Errorf("filtered endpoint got %d requests, want 6", canceled.total())
	}
	ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: epAll.ID, Limit: 100})
	if len(ds) != len(evs) {
		t.Fatalf("%d deliveries for the all-events endpoint, want %d", len(ds), len(evs))
	}
	for _, d := range ds {
		if d.State != StateDelivered || len(d.Attempts) != 1 || d.Attempts[0].StatusCode != http.StatusNoContent || !d.NextRetryAt.IsZero() {
			t.Errorf("delivery %+v", d)
		}
	}
	if e.keysUnder("webhooks/claims/") != 0 {
		t.Errorf("claims left behind")
	}
	all.check()
	canceled.check()
}

// TestReceiverDownThenBack: a receiver that answers 500, then one whose port is closed; when it
// is back, every event is delivered, none lost, with the same webhook-id on every attempt.
func TestReceiverDownThenBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) {
		c.Schedule = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
			200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond,
			200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	})

	t.Run("500", func(t *testing.T) {
		rc := newReceiver(t)
		var down atomic.Bool
		down.Store(true)
		rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
			if down.Load() {
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		})
		ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
		rc.setSecrets(sec)
		stop := run(t, s)
		defer stop()
		var ids []string
		for i := range 5 {
			ids = append(ids, e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, map[string]int{"i": i}).ID)
		}
		etcdtest.Wait(t, "two failed attempts each", func() bool {
			ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
			for _, d := range ds {
				if len(d.Attempts) < 2 {
					return false
				}
			}
			return len(ds) == 5
		})
		down.Store(false)
		etcdtest.Wait(t, "every event delivered", func() bool {
			for _, id := range ids {
				if rc.count(id) != 1 {
					return false
				}
			}
			return true
		})
		for _, d := range e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID}) {
			etcdtest.Wait(t, "delivered state", func() bool {
				ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
				for _, x := range ds {
					if x.ID == d.ID {
						d = x
					}
				}
				return d.State == StateDelivered
			})
			n := len(d.Attempts)
			if d.Attempts[0].StatusCode != 500 || d.Attempts[n-1].StatusCode != http.StatusNoContent {
				t.Errorf("attempts %+v", d.Attempts)
			}
			for i, a := range d.Attempts {
				if a.Attempt != i+1 || (i < n-1 && a.NextRetryAt.IsZero()) {
					t.Errorf("attempt %d: %+v", i, a)
				}
			}
		}
		rc.check()
		if err := s.DeleteEndpoint(context.Background(), e.tenant.ID, ep.ID); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("closed port", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		ep, sec := e.createEndpoint(s, e.tenant.ID, "http://"+addr+"/hook")
		stop := run(t, s)
		defer stop()
		var ids []string
		for i := range 5 {
			ids = append(ids, e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, map[string]int{"i": i}).ID)
		}
		etcdtest.Wait(t, "failed attempts", func() bool {
			ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
			for _, d := range ds {
				if len(d.Attempts) < 2 || d.Attempts[0].Error == "" || d.Attempts[0].StatusCode != 0 {
					return false
				}
			}
			return len(ds) == 5
		})
		rc := &receiver{t: t, secrets: []string{sec}, byID: map[string]int{}, inflight: map[string]int{}}
		var back net.Listener
		for range 100 { // the port was ours a moment ago
			if back, err = net.Listen("tcp", addr); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("listening again on %s: %v", addr, err)
		}
		rc.srv = &httptest.Server{Listener: back, Config: &http.Server{Handler: http.HandlerFunc(rc.serve)}}
		rc.srv.Start()
		defer rc.srv.Close()
		etcdtest.Wait(t, "every event delivered", func() bool {
			for _, id := range ids {
				if rc.count(id) != 1 {
					return false
				}
			}
			return true
		})
		rc.check()
	})
}

// TestRetryAfter: a 503 with Retry-After: 1 puts the next attempt at least a second later,
// although the schedule says 50 ms.
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	rc := newReceiver(t)
	var mu sync.Mutex
	var at []time.Time
	rc.setRespond(func(n int, r *http.Request, w http.ResponseWriter) bool {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	ev := e.appendEvent(e.tenant.ID, tenants.EventPortalSessionCreated, map[string]string{"sessionId": "ps_1"})
	etcdtest.Wait(t, "delivery after Retry-After", func() bool { return rc.count(ev.ID) == 1 })
	mu.Lock()
	gap := at[1].Sub(at[0])
	mu.Unlock()
	if gap < 900*time.Millisecond {
		t.Errorf("second attempt %v after the first, Retry-After asked for 1s", gap)
	}
	d := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})[0]
	if a := d.Attempts[0]; a.StatusCode != 503 || a.NextRetryAt.Sub(a.At) < 900*time.Millisecond {
		t.Errorf("first attempt %+v", a)
	}
	rc.check()
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"120", now.Add(2 * time.Minute), true},
		{" 0 ", now, true},
		{"Sun, 01 Mar 2026 12:05:00 GMT", now.Add(5 * time.Minute), true},
		{"99999999", now.Add(MaxRetryAfter), true},
		{"-5", time.Time{}, false},
		{"soon", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range tests {
		got, ok := parseRetryAfter(tc.in, now)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestGoneDisables: 410 disables the endpoint with a reason, and its other pending deliveries
// end as disabled without another request.
func TestGoneDisables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Concurrency = 1 })
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusGone)
		return true
	})
	ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	for i := range 5 {
		e.appendEvent(e.tenant.ID, tenants.EventPaymentMethodRemoved, map[string]int{"i": i})
	}
	run(t, s)
	// Events fanned out after the endpoint was disabled are simply pruned.
	var ended int
	etcdtest.Wait(t, "every delivery ended", func() bool {
		if e.keysUnder("outbox/") != 0 || e.keysUnder("webhooks/tasks/") != 0 {
			return false
		}
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{})
		for _, d := range ds {
			if d.State != StateDisabled {
				return false
			}
		}
		ended = len(ds)
		return len(ds) > 0
	})
	got, err := s.GetEndpoint(context.Background(), e.tenant.ID, ep.ID)
	if err != nil || !got.Disabled || !strings.Contains(got.DisabledReason, "410") {
		t.Fatalf("endpoint after 410: %+v, %v", got, err)
	}
	if n := rc.total(); n != 1 {
		t.Errorf("%d requests after the first 410, want 1", n)
	}
	// A disabled endpoint receives nothing new.
	e.appendEvent(e.tenant.ID, tenants.EventPaymentMethodRemoved, nil)
	etcdtest.Wait(t, "outbox pruned", func() bool { return e.keysUnder("outbox/") == 0 })
	if len(e.deliveries(s, e.tenant.ID, DeliveryFilter{})) != ended {
		t.Errorf("a disabled endpoint got a new delivery")
	}
	rc.check()
}

// TestRedirectNotFollowed: a 3xx is a failed attempt and its Location is never requested.
func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Schedule = []time.Duration{0, 10 * time.Millisecond} })
	var followed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { followed.Add(1) }))
	defer target.Close()
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
		return true
	})
	ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	var d Delivery
	etcdtest.Wait(t, "delivery failed", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.State == StateFailed
	})
	if len(d.Attempts) != 2 || d.Attempts[0].StatusCode != http.StatusTemporaryRedirect || !strings.Contains(d.Attempts[0].Error, "redirect") {
		t.Errorf("delivery %+v", d)
	}
	if followed.Load() != 0 {
		t.Errorf("the redirect was followed")
	}
	rc.check()
}

// TestTimeoutIsAFailure: an endpoint slower than Config.Timeout fails the attempt; the retry
// succeeds.
func TestTimeoutIsAFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Timeout = 300 * time.Millisecond })
	rc := newReceiver(t)
	rc.setRespond(func(n int, r *http.Request, w http.ResponseWriter) bool {
		if n == 1 {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}
		return false
	})
	ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	ev := e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	etcdtest.Wait(t, "delivered on retry", func() bool { return rc.count(ev.ID) == 1 })
	var d Delivery
	etcdtest.Wait(t, "record", func() bool {
		d = e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})[0]
		return d.State == StateDelivered
	})
	if a := d.Attempts[0]; a.StatusCode != 0 || !strings.Contains(a.Error, "timeout") || a.LatencyMs < 250 {
		t.Errorf("first attempt %+v", a)
	}
	rc.check()
}

// TestScheduleExhausted: after the last attempt of the schedule the delivery fails and leaves no
// task.
func TestScheduleExhausted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Schedule = []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond} })
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusBadGateway)
		return true
	})
	_, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	var d Delivery
	etcdtest.Wait(t, "failed", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{})
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.State == StateFailed
	})
	if len(d.Attempts) != 3 || rc.total() != 3 || d.Error == "" {
		t.Errorf("delivery %+v after %d requests", d, rc.total())
	}
	if e.keysUnder("webhooks/tasks/") != 0 || e.keysUnder("webhooks/claims/") != 0 {
		t.Errorf("task or claim left behind")
	}
	rc.check()
}

// TestListDeliveries shows attempts with status codes, latency and the next retry, newest
// delivery first.
func TestListDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Schedule = []time.Duration{0, time.Hour} })
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	})
	ep, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	first := e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	etcdtest.Wait(t, "first attempt", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{})
		return len(ds) == 1 && len(ds[0].Attempts) == 1
	})
	second := e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	etcdtest.Wait(t, "second attempt", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{})
		return len(ds) == 2 && len(ds[0].Attempts) == 1
	})
	ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
	if ds[0].EventID != second.ID || ds[1].EventID != first.ID {
		t.Errorf("not newest first: %s, %s", ds[0].EventID, ds[1].EventID)
	}
	d := ds[0]
	a := d.Attempts[0]
	if d.State != StatePending || a.Attempt != 1 || a.StatusCode != 429 || a.Error == "" || a.LatencyMs < 0 {
		t.Errorf("delivery %+v", d)
	}
	if until := d.NextRetryAt.Sub(a.At); until < 59*time.Minute || until > 61*time.Minute || !a.NextRetryAt.Equal(d.NextRetryAt) {
		t.Errorf("next retry %v after the attempt, want 1h", until)
	}
	b, _ := json.Marshal(d)
	for _, f := range []string{`"endpointId"`, `"eventId"`, `"state":"pending"`, `"statusCode":429`, `"latencyMs"`, `"nextRetryAt"`, `"attempt":1`} {
		if !strings.Contains(string(b), f) {
			t.Errorf("JSON %s lacks %s", b, f)
		}
	}
	if l := e.deliveries(s, e.tenant.ID, DeliveryFilter{Limit: 1}); len(l) != 1 || l[0].ID != d.ID {
		t.Errorf("Limit 1: %+v", l)
	}
	if l := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: "we_aaaaaaaaaaaaaaaa"}); len(l) != 0 {
		t.Errorf("another endpoint's filter: %d", len(l))
	}
	// Records carry a lease: they expire on their own.
	resp, err := e.store.Client().Get(context.Background(), e.prefix+"webhooks/deliveries/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		ttl, err := e.store.Client().TimeToLive(context.Background(), clientv3.LeaseID(kv.Lease))
		if kv.Lease == 0 || err != nil || time.Duration(ttl.TTL)*time.Second < RecordTTL {
			t.Errorf("record %s: lease %x, ttl %+v, %v", kv.Key, kv.Lease, ttl, err)
		}
	}
	rc.check()
}

// TestSSRFRefused: without an allowed range, a receiver on loopback is never contacted, whether
// the URL names it by address or by a name that resolves to it: such URLs are refused at
// creation, and an endpoint created while loopback was allowed is refused when dialled once the
// operator has closed the range.
func TestSSRFRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) {
		c.AllowCIDRs = nil
		c.AllowHTTP = true
		c.Schedule = []time.Duration{0, 10 * time.Millisecond}
	})
	rc := newReceiver(t)
	_, port, _ := net.SplitHostPort(rc.srv.Listener.Addr().String())
	for _, u := range []string{rc.srv.URL, "http://localhost:" + port + "/hook", "http://foo.localhost:" + port + "/hook"} {
		if _, _, err := s.CreateEndpoint(context.Background(), e.tenant.ID, EndpointRequest{URL: u}); !errors.Is(err, ErrInvalid) {
			t.Errorf("endpoint %s = %v, want ErrInvalid", u, err)
		}
	}
	ep, _ := e.createEndpoint(e.service(e.store, nil), e.tenant.ID, "http://localhost:"+port+"/hook")
	run(t, s)
	e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	var d Delivery
	etcdtest.Wait(t, "refused delivery", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.State == StateFailed
	})
	if !strings.Contains(d.Attempts[0].Error, "not allowed") {
		t.Errorf("attempt error %q", d.Attempts[0].Error)
	}
	if rc.total() != 0 {
		t.Errorf("the loopback receiver got %d requests", rc.total())
	}
}

// TestUnresolvableHostError: a delivery to a host name that does not resolve records that the
// host name does not resolve, and nothing of the gateway's infrastructure (its DNS resolver's
// address and port).
func TestUnresolvableHostError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, func(c *Config) { c.Schedule = []time.Duration{0} })
	ep, _ := e.createEndpoint(s, e.tenant.ID, "https://no-such-host.invalid/hook")
	run(t, s)
	e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, nil)
	var d Delivery
	etcdtest.Wait(t, "failed delivery", func() bool {
		ds := e.deliveries(s, e.tenant.ID, DeliveryFilter{EndpointID: ep.ID})
		if len(ds) == 1 {
			d = ds[0]
		}
		return d.State == StateFailed && len(d.Attempts) == 1
	})
	msg := d.Attempts[0].Error
	ip := regexp.MustCompile(`\d+\.\d+\.\d+\.\d+|\[?[0-9a-fA-F]*:[0-9a-fA-F:]+\]?`)
	if !strings.Contains(msg, "no-such-host.invalid does not resolve") || strings.Contains(msg, ":53") || ip.MatchString(msg) {
		t.Errorf("attempt error %q: want that the host name does not resolve, without the resolver's address", msg)
	}
}

// TestKilledMidQueue: an instance dies (its etcd client closed, so its lease cannot be renewed
// or revoked) while it holds tasks in flight and more are queued; another instance delivers all
// of them once the lease has expired.
func TestKilledMidQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	var healthy atomic.Bool
	release := make(chan struct{})
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		if healthy.Load() {
			return false
		}
		select { // hang, like a slow receiver, until the instance dies
		case <-r.Context().Done():
		case <-release:
		}
		return true
	})
	defer close(release)

	clientA := srv.Client(t)
	storeA := e.openStore(clientA)
	a := e.service(storeA, func(c *Config) {
		c.Concurrency = 2
		// The two hanging requests must still be in flight, their claims held, when the test looks:
		// a timeout that a loaded machine reaches first would release a claim early. B takes over
		// once the killed instance's lease (ClaimTTL) has expired.
		c.Timeout = 15 * time.Second
		c.ClaimTTL = 16 * time.Second
		c.WorkerID = "A"
	})
	_, sec := e.createEndpoint(a, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	var ids []string
	for i := range 6 {
		ids = append(ids, e.appendEvent(e.tenant.ID, tenants.EventAutopayUpdated, map[string]int{"i": i}).ID)
	}
	stopA := run(t, a)
	etcdtest.Wait(t, "A holds two requests in flight", func() bool { return rc.total() == 2 })
	if n := e.keysUnder("webhooks/claims/"); n != 2 {
		t.Fatalf("%d claims, want 2", n)
	}
	clientA.Close() // killed: no revoke, no keep-alive
	stopA()
	healthy.Store(true)

	b := e.service(e.store, func(c *Config) { c.WorkerID = "B" })
	run(t, b)
	etcdtest.Wait(t, "every event delivered by B", func() bool {
		for _, id := range ids {
			if rc.count(id) != 1 {
				return false
			}
		}
		return true
	})
	etcdtest.Wait(t, "queue empty", func() bool {
		return e.keysUnder("webhooks/tasks/") == 0 && e.keysUnder("webhooks/claims/") == 0
	})
	rc.check()
}

// TestTwoInstances: two services on one etcd deliver every event exactly once to a receiver that
// always answers 2xx, never the same event twice at a time.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		time.Sleep(2 * time.Millisecond) // widen the window for overlaps
		return false
	})
	svcs := []*Service{
		e.service(e.openStore(srv.Client(t)), func(c *Config) { c.WorkerID = "one"; c.Concurrency = 4 }),
		e.service(e.openStore(srv.Client(t)), func(c *Config) { c.WorkerID = "two"; c.Concurrency = 4 }),
	}
	_, sec1 := e.createEndpoint(svcs[0], e.tenant.ID, rc.srv.URL)
	_, sec2 := e.createEndpoint(svcs[1], e.tenant.ID, rc.srv.URL+"/second")
	rc.setSecrets(sec1, sec2)
	for _, s := range svcs {
		run(t, s)
	}
	var ids []string
	var wg sync.WaitGroup
	var mu sync.Mutex
	// It failed twice in full-suite runs on a loaded machine (a delivery still missing after 3
	// minutes) and never alone: on failure, say where every undelivered event stands.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		ds := e.deliveries(svcs[0], e.tenant.ID, DeliveryFilter{Limit: 500})
		for _, id := range ids {
			if rc.count(id) >= 2 {
				continue
			}
			t.Logf("event %s reached the receiver %d times", id, rc.count(id))
			for _, d := range ds {
				if d.EventID == id {
					t.Logf("  delivery %s to %s: %s %q, %d attempts, next %v", d.ID, d.EndpointID, d.State, d.Error, len(d.Attempts), d.NextRetryAt)
				}
			}
		}
		t.Logf("tasks queued %d, claims held %d", e.keysUnder("webhooks/tasks/"), e.keysUnder("webhooks/claims/"))
	})
	for w := range 4 {
		wg.Go(func() {
			for i := range 15 {
				ev := e.appendEvent(e.tenant.ID, tenants.EventBillingDetailsUpdated, map[string]string{"w": fmt.Sprint(w), "i": fmt.Sprint(i)})
				mu.Lock()
				ids = append(ids, ev.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	etcdtest.Wait(t, "every event at both endpoints", func() bool {
		for _, id := range ids {
			if rc.count(id) < 2 {
				return false
			}
		}
		return true
	})
	etcdtest.Wait(t, "queue empty", func() bool { return e.keysUnder("webhooks/tasks/") == 0 })
	for _, id := range ids {
		if n := rc.count(id); n != 2 {
			t.Errorf("event %s delivered %d times to two endpoints, want 2", id, n)
		}
	}
	if n := rc.total(); n != 2*len(ids) {
		t.Errorf("%d requests for %d events × 2 endpoints", n, len(ids))
	}
	rc.check()
}

// TestSendTestTargetsOneEndpoint: a test event reaches only the endpoint it was sent to, whatever
// the other endpoints subscribe to.
func TestSendTestTargetsOneEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	one, two := newReceiver(t), newReceiver(t)
	ep1, sec1 := e.createEndpoint(s, e.tenant.ID, one.srv.URL)
	_, sec2 := e.createEndpoint(s, e.tenant.ID, two.srv.URL, tenants.EventWebhookTest)
	one.setSecrets(sec1)
	two.setSecrets(sec2)
	run(t, s)
	id, err := s.SendTest(context.Background(), e.tenant.ID, ep1.ID)
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "test event", func() bool { return one.count(id) == 1 })
	etcdtest.Wait(t, "outbox drained", func() bool { return e.keysUnder("outbox/") == 0 })
	got := one.received()[0]
	if got.Type != tenants.EventWebhookTest || !strings.Contains(string(got.Data), ep1.ID) {
		t.Errorf("test event %s %s", got.Type, got.Data)
	}
	if two.total() != 0 || len(e.deliveries(s, e.tenant.ID, DeliveryFilter{})) != 1 {
		t.Errorf("the test event went to another endpoint")
	}
	one.check()
}

func TestRunTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.service(e.store, nil)
	run(t, s)
	etcdtest.Wait(t, "running", func() bool { return s.running.Load() })
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("a second Run on one Service started")
	}
}
