package faults

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// everyTokenRedeemsOnce opens each of 1,000 links twice at the same moment,
// once through each gateway instance: every token gives exactly one session (303) and one "already
// used" page (410), and exactly one portal.session.redeemed event.
func everyTokenRedeemsOnce(t *testing.T) {
	const n = 1000
	in := newInstall(t, "once", options{})
	tokens := in.links(n)

	type outcome struct{ status [2]int }
	outcomes := make([]outcome, n)
	var sent, failed atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				// Both requests leave together: each goroutine waits for the same signal.
				var pair sync.WaitGroup
				go1 := make(chan struct{})
				for k := range 2 {
					pair.Add(1)
					go func() {
						defer pair.Done()
						<-go1
						sent.Add(1)
						r := in.redeem(in.inst[k], tokens[i])
						if r.err != nil || r.status != 303 && r.status != 410 {
							failed.Add(1)
						}
						if r.status == 303 && r.cookie == "" {
							t.Errorf("token %d: 303 without a session cookie", i)
						}
						outcomes[i].status[k] = r.status
					}()
				}
				close(go1)
				pair.Wait()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)

	var once, doubleSpent, never int
	wins := [2]int{}
	for i, o := range outcomes {
		w := 0
		for k, st := range o.status {
			if st == 303 {
				w++
				wins[k]++
			}
		}
		switch {
		case w == 1 && (o.status[0] == 410 || o.status[1] == 410):
			once++
		case w > 1:
			doubleSpent++
			t.Errorf("token %d redeemed twice: %v", i, o.status)
		default:
			never++
			t.Errorf("token %d: statuses %v, want one 303 and one 410", i, o.status)
		}
	}
	redeemed := in.events(tenants.EventPortalSessionRedeemed)
	sessions := map[string]bool{}
	for _, e := range redeemed {
		var d struct {
			SessionID string `json:"sessionId"`
		}
		json.Unmarshal(e.Data, &d)
		sessions[d.SessionID] = true
	}
	audit := in.auditCount(tenants.AuditRedeemed)
	t.Logf("FIGURES a: %d tokens, %d requests sent (two at once per token, one per instance) in %v; "+
		"%d failed; redeemed exactly once: %d (wins gw1 %d, gw2 %d); double-spent: %d; never redeemed: %d; "+
		"portal.session.redeemed events: %d for %d distinct sessions; audit 'redeemed' entries: %d",
		n, sent.Load(), elapsed.Round(time.Millisecond), failed.Load(), once, wins[0], wins[1], doubleSpent, never,
		len(redeemed), len(sessions), audit)
	if once != n || doubleSpent != 0 || failed.Load() != 0 {
		t.Fatalf("%d of %d tokens redeemed exactly once, %d double-spent, %d requests failed", once, n, doubleSpent, failed.Load())
	}
	if len(redeemed) != n || len(sessions) != n || audit != n {
		t.Fatalf("%d redeemed events for %d sessions and %d audit entries, want %d each", len(redeemed), len(sessions), audit, n)
	}
}

// auditCount counts the tenant's audit entries of a type.
func (in *install) auditCount(typ string) int {
	in.t.Helper()
	s := in.inst[0].store
	resp, err := s.Client().Get(context.Background(), s.Prefix()+"audit/"+in.tenant.ID+"/s/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		in.t.Fatal(err)
	}
	n := 0
	for _, kv := range resp.Kvs {
		if strings.HasSuffix(string(kv.Key), "-"+typ) {
			n++
		}
	}
	return n
}
