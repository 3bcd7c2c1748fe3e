package webhooks

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// TestSlowEtcd: an instance whose etcd answers every request 3 s late (a loaded machine, a
// far-away cluster) still delivers, with the default lease (Timeout + 10 s). The claim and the
// reads before a request took the slack between the lease's validity and a request's timeout,
// so every task was claimed and let go again, forever, until the lease was renewed just before
// the request.
func TestSlowEtcd(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	_, sec := e.createEndpoint(e.service(e.store, nil), e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{delayProxy(t, srv.Endpoint, 3*time.Second)}, DialTimeout: testwait.Patience, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	run(t, e.service(e.openStore(c), nil))
	ev := e.appendEvent(e.tenant.ID, tenants.EventBillingDetailsUpdated, map[string]string{"slow": "etcd"})
	etcdtest.Wait(t, "the event at the endpoint", func() bool { return rc.count(ev.ID) == 1 })
	rc.check()
}

// delayProxy forwards TCP connections to target's host, holding every chunk the client sends
// for d: each request reaches the server d late, and answers come back at once.
func delayProxy(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", u.Host)
			if err != nil {
				in.Close()
				continue
			}
			go func() {
				io.Copy(in, out)
				in.Close()
			}()
			go delayCopy(out, in, d)
		}
	}()
	return "http://" + ln.Addr().String()
}

// delayCopy copies src to dst, writing each chunk d after it was read.
func delayCopy(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			b := make([]byte, 32<<10)
			n, err := src.Read(b)
			if n > 0 {
				ch <- chunk{time.Now(), b[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	defer dst.Close()
	for c := range ch {
		time.Sleep(time.Until(c.at.Add(d))) // the latency being simulated, not a wait for a condition
		if _, err := dst.Write(c.b); err != nil {
			return
		}
	}
}

// TestOrphanClaimTakenUp: a claim this instance's lease holds but no worker of it delivers (the
// claim's request timed out here after etcd applied it) is taken up by the same instance. Before,
// the instance skipped it as held and, since it kept its lease alive, no one ever sent the task.
func TestOrphanClaimTakenUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newReceiver(t)
	release := make(chan struct{})
	var first sync.Once
	rc.setRespond(func(_ int, r *http.Request, w http.ResponseWriter) bool {
		first.Do(func() { <-release }) // hold the only worker on the first event
		return false
	})
	s := e.service(e.store, func(c *Config) { c.WorkerID = "solo"; c.Concurrency = 1 })
	_, sec := e.createEndpoint(s, e.tenant.ID, rc.srv.URL)
	rc.setSecrets(sec)
	run(t, s)
	c := e.store.Client()
	ctx := etcdtest.Ctx(t)

	ev1 := e.appendEvent(e.tenant.ID, tenants.EventBillingDetailsUpdated, map[string]string{"n": "1"})
	var token string
	etcdtest.Wait(t, "the first event's claim", func() bool {
		resp, err := c.Get(ctx, s.k.claims(), clientv3.WithPrefix())
		if err != nil || len(resp.Kvs) != 1 {
			return false
		}
		token = string(resp.Kvs[0].Value)
		return true
	})
	ev2 := e.appendEvent(e.tenant.ID, tenants.EventBillingDetailsUpdated, map[string]string{"n": "2"})
	var did string
	etcdtest.Wait(t, "the second event's task", func() bool {
		resp, err := c.Get(ctx, s.k.tasks(), clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range resp.Kvs {
			var tk task
			if json.Unmarshal(kv.Value, &tk) == nil && tk.EventID == ev2.ID {
				did = tk.DeliveryID
				return true
			}
		}
		return false
	})
	// The claim as the worker's own timed-out request would have left it: its token, its lease.
	_, hexID, _ := strings.Cut(token, "/")
	leaseID, err := strconv.ParseInt(hexID, 16, 64)
	if err != nil {
		t.Fatalf("claim token %q: %v", token, err)
	}
	if _, err := c.Put(ctx, s.k.claim(did), token, clientv3.WithLease(clientv3.LeaseID(leaseID))); err != nil {
		t.Fatal(err)
	}
	close(release)
	etcdtest.Wait(t, "both events at the endpoint", func() bool { return rc.count(ev1.ID) == 1 && rc.count(ev2.ID) == 1 })
	etcdtest.Wait(t, "queue empty", func() bool { return e.keysUnder("webhooks/tasks/")+e.keysUnder("webhooks/claims/") == 0 })
	rc.check()
}
