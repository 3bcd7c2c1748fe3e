package faults

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// quorumLost kills two of the three etcd members. Pages of live sessions keep rendering from
// cache on both instances and say so in X-Portico-Degraded once the watch is cancelled for want of
// a leader; link redemptions, customer actions and API writes answer 503 with a clear message and
// change nothing. When the members come back the gateways recover by themselves: the watch
// resumes, the header goes, and the links tried during the outage redeem exactly once.
func quorumLost(t *testing.T) {
	// A short etcd request timeout keeps the test short: a write without a quorum fails after it.
	const timeout = 2 * time.Second
	in := newInstall(t, "quorum", options{requestTimeout: timeout})
	a, b := in.inst[0], in.inst[1]
	cookie := in.session(a)
	csrf := in.csrf(a, cookie)
	for _, inst := range in.inst {
		if r := in.page(inst, cookie); r.status != 200 || r.degraded != "" {
			t.Fatalf("page on %s before the outage: %d degraded=%q", inst.name, r.status, r.degraded)
		}
		if r := in.api(inst, "GET", "/v1/accounts/"+accountID, nil); r.status != 200 {
			t.Fatalf("GET account on %s: %d", inst.name, r.status)
		}
	}
	tokens := in.links(10)
	doc, rev := in.accountDoc()
	outbox := in.outboxKeys()

	// Lose the quorum: the leader and one follower die.
	c := in.cluster
	leader := c.WaitLeader(t)
	survivor := (leader + 1) % 3
	killedAt := time.Now()
	for i := range c.Members {
		if i != survivor {
			c.Kill(i)
		}
	}

	// Pages keep rendering: a reader on each instance until the quorum is back.
	var pages, pagesFailed, plain atomic.Int64 // plain: pages without the header once it was seen
	var restarting atomic.Bool
	var noticed [2]atomic.Int64 // nanoseconds from the kill to the first degraded page
	stop := make(chan struct{})
	var stopOnce sync.Once
	var readers sync.WaitGroup
	halt := func() { stopOnce.Do(func() { close(stop) }); readers.Wait() }
	t.Cleanup(halt) // if the test stops early
	for k, inst := range in.inst {
		readers.Add(1)
		go func() {
			defer readers.Done()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				r := in.page(inst, cookie)
				pages.Add(1)
				switch {
				case r.status != 200 || !strings.Contains(r.body, "Globex Corporation"):
					pagesFailed.Add(1)
					t.Errorf("page on %s during the outage: %d %v", inst.name, r.status, r.err)
				case r.degraded == "store-unreachable" && noticed[k].Load() == 0:
					noticed[k].Store(int64(time.Since(killedAt)))
				case r.degraded == "" && noticed[k].Load() != 0 && !restarting.Load():
					plain.Add(1)
				}
			}
		}()
	}
	etcdtest.Wait(t, "X-Portico-Degraded on both instances", func() bool {
		return noticed[0].Load() != 0 && noticed[1].Load() != 0
	})
	for _, inst := range in.inst {
		if g := inst.gauge("portico_store_watching"); g != 0 {
			t.Errorf("portico_store_watching on %s = %v during the outage, want 0", inst.name, g)
		}
	}

	// Every write is refused with 503 and a message, on both instances, all at once.
	type attempt struct {
		what string
		r    result
	}
	var attempts []attempt
	var mu sync.Mutex
	var wg sync.WaitGroup
	try := func(what string, f func() result) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f()
			mu.Lock()
			attempts = append(attempts, attempt{what, r})
			mu.Unlock()
		}()
	}
	for i, tok := range tokens {
		try("redeem", func() result { return in.redeem(in.inst[i%2], tok) })
	}
	changed := strings.Replace(doc, `"Globex Corporation"`, `"Globex Outage"`, 1)
	form := url.Values{"reason": {"pricing"}, "csrf": {csrf}}.Encode()
	for _, inst := range in.inst {
		try("cancel", func() result {
			return inst.do("POST", in.host, "/subscriptions/sub_Pro_01/cancel", []byte(form), "Cookie", cookie,
				"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+in.host)
		})
		try("api-put", func() result { return in.api(inst, "PUT", "/v1/accounts/"+accountID, []byte(changed)) })
		try("api-session", func() result {
			return in.api(inst, "POST", "/portal/customer-session/customer-portal", []byte(`{"accountId":"`+accountID+`","locale":"en"}`))
		})
	}
	wg.Wait()
	for _, at := range attempts {
		r := at.r
		ok := r.status == 503 && r.retryAfter != ""
		switch at.what {
		case "redeem", "cancel":
			ok = ok && strings.Contains(r.body, "Temporarily unavailable") && strings.Contains(r.body, "Tenant QUORUM")
		default:
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			ok = ok && json.Unmarshal([]byte(r.body), &p) == nil && p.Status == 503 && strings.Contains(p.Detail, "nothing was changed")
		}
		if !ok {
			t.Errorf("%s without quorum: %d Retry-After=%q %v %.200s", at.what, r.status, r.retryAfter, r.err, r.body)
		}
	}

	// The quorum returns; the gateways, never restarted, recover.
	restarting.Store(true)
	backAt := time.Now()
	if err := c.RestartAll(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Since(backAt)
	etcdtest.Wait(t, "watch up and pages without X-Portico-Degraded on both instances", func() bool {
		for _, inst := range in.inst {
			if r := in.page(inst, cookie); !inst.store.Watching() || r.status != 200 || r.degraded != "" {
				return false
			}
		}
		return true
	})
	recovered := time.Since(backAt)
	halt()

	// The store reports its watch as up from the moment it asks etcd for one until etcd refuses it
	// (about 0.1 ms every retry, every 2 s or so), so a page may rarely miss the header; more
	// than one is a failure.
	if plain.Load() != 0 {
		t.Errorf("%d pages without X-Portico-Degraded after it first showed, quorum still lost", plain.Load())
	}
	// Nothing was half-applied: the account and the outbox are as they were.
	if d, r := in.accountDoc(); d != doc || r != rev {
		t.Errorf("account changed during the outage: revision %d → %d", rev, r)
	}
	if now := in.outboxKeys(); !slices.Equal(now, outbox) {
		t.Errorf("outbox changed during the outage: %d events → %d", len(outbox), len(now))
	}
	// No token was consumed: each redeems exactly once now, tried on both instances at once.
	var once int
	for i, tok := range tokens {
		var st [2]int
		var pair sync.WaitGroup
		for k := range 2 {
			pair.Add(1)
			go func() { defer pair.Done(); st[k] = in.redeem(in.inst[k], tok).status }()
		}
		pair.Wait()
		if (st[0] == 303) != (st[1] == 303) && (st[0] == 410 || st[1] == 410) {
			once++
		} else {
			t.Errorf("token %d after the outage: %v, want one 303 and one 410", i, st)
		}
	}
	// Writes work again and both caches follow.
	if st, body := in.postForm(b, cookie, csrf, "/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}}); st != 303 {
		t.Fatalf("cancel after the outage: %d %.300s", st, body)
	}
	etcdtest.Wait(t, "cancellation shown on both instances", func() bool {
		return strings.Contains(in.page(a, cookie).body, "Scheduled for cancellation") && strings.Contains(in.page(b, cookie).body, "Scheduled for cancellation")
	})
	if n := len(in.events(tenants.EventSubscriptionCancelationScheduled)); n != 1 {
		t.Errorf("%d cancellation events, want 1", n)
	}
	t.Logf("FIGURES c: quorum lost (2 of 3 members killed): X-Portico-Degraded after %v (gw1) / %v (gw2); "+
		"%d pages served during the outage, %d failed, %d without the header after it first showed; "+
		"%d writes tried (%d redemptions, 2 customer actions, 2 account PUTs, 2 session creations): %d answered 503 with a message; "+
		"account and outbox unchanged; members back in %v, gateways recovered (watch up, header gone) %v after the restart, with no gateway restart; "+
		"%d of %d tokens tried during the outage redeemed exactly once afterwards, double-spent: 0",
		time.Duration(noticed[0].Load()).Round(time.Millisecond), time.Duration(noticed[1].Load()).Round(time.Millisecond),
		pages.Load(), pagesFailed.Load(), plain.Load(), len(attempts), len(tokens), countStatus(attempts, func(a attempt) int { return a.r.status }, 503),
		restarted.Round(time.Millisecond), recovered.Round(time.Millisecond), once, len(tokens))
}

func countStatus[T any](xs []T, status func(T) int, want int) int {
	n := 0
	for _, x := range xs {
		if status(x) == want {
			n++
		}
	}
	return n
}

// postForm submits a portal form as the page would.
func (in *install) postForm(inst *instance, cookie, csrf, path string, form url.Values) (int, string) {
	form.Set("csrf", csrf)
	r := inst.do("POST", in.host, path, []byte(form.Encode()), "Cookie", cookie,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+in.host)
	return r.status, r.body + errString(r.err)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " " + err.Error()
}

// accountDoc reads the example account's stored document and revision straight from etcd.
func (in *install) accountDoc() (string, int64) {
	in.t.Helper()
	s := in.inst[0].store
	resp, err := s.Client().Get(context.Background(), s.Prefix()+"state/accounts/"+in.tenant.ID+"/"+accountID)
	if err != nil || len(resp.Kvs) != 1 {
		in.t.Fatalf("reading the account: %v", err)
	}
	doc, err := tenants.DocumentJSON(resp.Kvs[0].Value) // stored compressed
	if err != nil {
		in.t.Fatalf("reading the account: %v", err)
	}
	return string(doc), resp.Kvs[0].ModRevision
}

// outboxKeys lists the tenant's outbox keys.
func (in *install) outboxKeys() []string {
	in.t.Helper()
	s := in.inst[0].store
	resp, err := s.Client().Get(context.Background(), s.OutboxPrefix()+in.tenant.ID+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		in.t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}
