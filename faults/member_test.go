package faults

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
)

// call is one request of a load run.
type call struct {
	redeem     bool
	token      int // index of the token, for redemptions
	inst       int
	start, end time.Time
	status     int
	err        error
}

func (c call) ok() bool {
	if c.redeem {
		return c.status == 303
	}
	return c.status == 200
}

// load is page and redemption traffic on both instances until stopped.
type load struct {
	in      *install
	cookies []string
	tokens  []string
	next    atomic.Int64 // next token to redeem

	mu    sync.Mutex
	calls []call

	pagesOK, redeemsOK atomic.Int64
	exhausted          atomic.Bool // every token was used
	stop               chan struct{}
	stopOnce           sync.Once
	wg                 sync.WaitGroup
}

// run starts pageWorkers workers that load the customer page with valid cookies and
// redeemWorkers workers that redeem fresh tokens, each alternating between the instances and
// paced (a steady load rather than one that starves etcd of CPU): pageRate and redeemRate are
// each worker's requests per second.
func (l *load) run(pageWorkers, redeemWorkers, pageRate, redeemRate int) {
	l.stop = make(chan struct{})
	for w := range pageWorkers + redeemWorkers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			rate := pageRate
			if w >= pageWorkers {
				rate = redeemRate
			}
			tick := time.NewTicker(time.Second / time.Duration(rate))
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				case <-tick.C:
				}
				c := call{inst: (w + n) % 2, redeem: w >= pageWorkers, start: time.Now()}
				var r result
				if c.redeem {
					c.token = int(l.next.Add(1)) - 1
					if c.token >= len(l.tokens) {
						l.exhausted.Store(true)
						return
					}
					r = l.in.redeem(l.in.inst[c.inst], l.tokens[c.token])
				} else {
					r = l.in.page(l.in.inst[c.inst], l.cookies[(w+n)%len(l.cookies)])
				}
				c.end, c.status, c.err = time.Now(), r.status, r.err
				switch {
				case c.ok() && c.redeem:
					l.redeemsOK.Add(1)
				case c.ok():
					l.pagesOK.Add(1)
				}
				l.mu.Lock()
				l.calls = append(l.calls, c)
				l.mu.Unlock()
			}
		}()
	}
}

// halt stops the load and returns every call made; it may be called again (from a cleanup).
func (l *load) halt() []call {
	l.stopOnce.Do(func() { close(l.stop) })
	l.wg.Wait()
	return l.calls
}

// memberKilledUnderLoad kills one etcd member (a follower, then, after it is back, the
// leader) while 16 workers load customer pages and redeem fresh links on both instances: no page
// fails, redemptions fail only while in flight at a kill, and afterwards both instances' caches
// follow an account update.
func memberKilledUnderLoad(t *testing.T) {
	in := newInstall(t, "member", options{})
	l := &load{in: in, tokens: in.links(500)}
	for i := range 8 {
		c := in.session(in.inst[i%2])
		for _, inst := range in.inst { // both instances have the page cached
			if r := in.page(inst, c); r.status != 200 {
				t.Fatalf("page on %s: %d", inst.name, r.status)
			}
		}
		l.cookies = append(l.cookies, c)
	}
	before := len(in.events(tenants.EventPortalSessionRedeemed)) // the sessions above
	c := in.cluster
	type kill struct {
		what     string
		member   int
		at, back time.Time
	}
	var kills []kill
	waitLoad := func(what string, pages, redeems int64) {
		p, r := l.pagesOK.Load(), l.redeemsOK.Load()
		etcdtest.Wait(t, what, func() bool {
			if l.exhausted.Load() {
				t.Fatalf("ran out of tokens waiting for %s", what)
			}
			return l.pagesOK.Load() >= p+pages && l.redeemsOK.Load() >= r+redeems
		})
	}
	start := time.Now()
	l.run(8, 8, 25, 10)            // 200 pages and 80 redemptions a second
	t.Cleanup(func() { l.halt() }) // if the test stops early
	waitLoad("load under way", 100, 40)
	for _, role := range []string{"follower", "leader"} {
		leader := c.WaitLeader(t)
		m := leader
		if role == "follower" {
			m = (leader + 1) % len(c.Members)
		}
		k := kill{what: role, member: m, at: time.Now()}
		c.Kill(m)
		waitLoad("load going on with "+role+" "+c.Members[m].Name+" down", 200, 80)
		if err := c.Restart(m); err != nil {
			t.Fatal(err)
		}
		k.back = time.Now()
		kills = append(kills, k)
		waitLoad("load going on after restart", 100, 40)
	}
	calls := l.halt()
	elapsed := time.Since(start)

	// Pages never fail; redemptions fail only if in flight at a kill or during the election that a
	// killed leader causes.
	var pages, pagesFailed, redeems, redeemsFailed int
	var failed []call
	for _, cl := range calls {
		if cl.redeem {
			redeems++
		} else {
			pages++
		}
		if cl.ok() {
			continue
		}
		if cl.redeem {
			redeemsFailed++
			failed = append(failed, cl)
		} else {
			pagesFailed++
			t.Errorf("page on gw%d failed at %v: %d %v", cl.inst+1, cl.start.Sub(start).Round(time.Millisecond), cl.status, cl.err)
		}
	}
	var report []string
	for _, k := range kills {
		var inFlight, later int
		for _, cl := range failed {
			switch {
			case !cl.end.After(k.at) || !cl.start.Before(k.back):
			case cl.start.Before(k.at):
				inFlight++
			default:
				later++
			}
		}
		report = append(report, fmt.Sprintf("%s %s down for %v: %d redemptions failed in flight at the kill, %d started after it",
			k.what, c.Members[k.member].Name, k.back.Sub(k.at).Round(time.Millisecond), inFlight, later))
	}
	phases := []string{"all up", kills[0].what + " down", "all up", kills[1].what + " down", "all up"}
	edges := []time.Time{start, kills[0].at, kills[0].back, kills[1].at, kills[1].back, time.Now()}
	for i, name := range phases {
		var n, np int
		var sum time.Duration
		for _, cl := range calls {
			if cl.start.After(edges[i]) && cl.start.Before(edges[i+1]) {
				if cl.redeem {
					n++
					sum += cl.end.Sub(cl.start)
				} else {
					np++
				}
			}
		}
		if n > 0 {
			t.Logf("phase %d, %s, %v: %d redemptions (mean %v), %d pages", i+1, name,
				edges[i+1].Sub(edges[i]).Round(time.Millisecond), n, (sum / time.Duration(n)).Round(time.Millisecond), np)
		}
	}
	// A failed redemption leaves its token unused (it redeems now) or, when its Txn committed
	// after the answer was lost, used: never redeemed twice.
	var retryOK, consumed int
	for _, cl := range failed {
		switch r := in.redeem(in.inst[0], l.tokens[cl.token]); r.status {
		case 303:
			retryOK++
		case 410:
			consumed++
		default:
			t.Errorf("failed token %d on retry: %d %v", cl.token, r.status, r.err)
		}
	}
	events := len(in.events(tenants.EventPortalSessionRedeemed)) - before
	wins := redeems - redeemsFailed
	t.Logf("FIGURES b: %v of load, 16 workers on two instances: %d page requests, %d failed; %d redemptions, %d failed; %s; "+
		"failed tokens afterwards: %d redeem now, %d were consumed while their answer was lost; double-spent: 0 (%d redeemed events = %d + %d + %d)",
		elapsed.Round(time.Millisecond), pages, pagesFailed, redeems, redeemsFailed, strings.Join(report, "; "),
		retryOK, consumed, events, wins, retryOK, consumed)
	for _, cl := range failed {
		during := false
		for _, k := range kills {
			during = during || cl.end.After(k.at) && cl.start.Before(k.back)
		}
		if !during {
			t.Errorf("redemption on gw%d failed while every member was up (%v to %v after the start): %d %v",
				cl.inst+1, cl.start.Sub(start), cl.end.Sub(start), cl.status, cl.err)
		}
	}
	if events != wins+retryOK+consumed {
		t.Errorf("%d portal.session.redeemed events, want %d (one per redeemed token)", events, wins+retryOK+consumed)
	}

	// The caches are right after the restarts: an account update shows on both instances.
	doc := strings.Replace(string(in.api(in.inst[0], "GET", "/v1/accounts/"+accountID, nil).body), "Globex Corporation\"", "Globex After Restart\"", 1)
	if r := in.api(in.inst[1], "PUT", "/v1/accounts/"+accountID, []byte(doc)); r.status != 200 {
		t.Fatalf("PUT after restart: %d %s", r.status, r.body)
	}
	etcdtest.Wait(t, "both instances show the update", func() bool {
		for _, inst := range in.inst {
			if r := in.page(inst, l.cookies[0]); r.status != 200 || !strings.Contains(r.body, "Globex After Restart") {
				return false
			}
		}
		return true
	})
}
