package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
)

// process is a `portico serve` process against the cluster.
type process struct {
	name        string
	cmd         *exec.Cmd
	args        []string
	bin         string
	http, admin string
	logs        *syncbuf.Buffer
	exited      chan struct{}
	client      *http.Client
}

// buildPortico builds the portico binary into a temporary directory.
func buildPortico(t *testing.T) string {
	t.Helper()
	start := time.Now()
	bin := filepath.Join(t.TempDir(), "portico")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/portico")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built portico in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

func newProcess(t *testing.T, name, bin string, endpoints []string) *process {
	t.Helper()
	hp, err1 := etcdtest.FreePort()
	ap, err2 := etcdtest.FreePort()
	if err1 != nil || err2 != nil {
		t.Fatalf("free ports: %v %v", err1, err2)
	}
	p := &process{name: name, bin: bin, http: fmt.Sprintf("127.0.0.1:%d", hp), admin: fmt.Sprintf("127.0.0.1:%d", ap)}
	p.args = []string{"serve", "--etcd-endpoints", strings.Join(endpoints, ","), "--http-addr", p.http, "--admin-addr", p.admin,
		"--base-domain", base, "--webhook-allow-cidr", "127.0.0.0/8", "--log-level", "warn", "--etcd-request-timeout", slowEtcd.String(),
		"--limit-redeems-per-minute", "-1", "--limit-failed-tokens-per-hour", "-1", "--limit-api-per-second", "-1"}
	p.client = &http.Client{
		Timeout:       20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "tcp", p.http)
			},
		},
	}
	t.Cleanup(func() { p.stop(t) })
	p.start(t)
	return p
}

// start runs the process and waits until /readyz answers 200.
func (p *process) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, p.args...)
	p.logs = &syncbuf.Buffer{}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() { p.cmd.Wait(); close(p.exited) }()
	etcdtest.Wait(t, p.name+" ready", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("%s exited:\n%s", p.name, p.logs)
		default:
		}
		r, err := http.Get("http://" + p.admin + "/readyz")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
}

// kill ends the process with SIGKILL: no shutdown, no lease revoked.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
	p.client.CloseIdleConnections()
}

func (p *process) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(testwait.Patience):
		p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not stop on SIGTERM", p.name)
	}
}

// api sends an API request; status 0 means no answer.
func (p *process) api(key, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, "http://api."+base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// hookReceiver is a tenant's webhook endpoint that verifies every delivery with the endpoint's
// secret. The first slow deliveries take 500 ms; one whose sender goes away meanwhile (the
// connection closes) is not counted as delivered.
type hookReceiver struct {
	secret atomic.Pointer[string]
	// hold, while set, holds every delivery until the channel closes or its sender goes away.
	hold atomic.Pointer[chan struct{}]

	bad atomic.Int64

	mu       sync.Mutex
	held     map[string]bool   // remote address → a delivery from it is held now
	cut      map[string]bool   // remote addresses of held deliveries whose sender went away
	attempts map[string]int    // webhook-id → completed deliveries
	sessions map[string]string // webhook-id → sessionId of a portal.session.created event
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{held: map[string]bool{}, cut: map[string]bool{}, attempts: map[string]int{}, sessions: map[string]string{}}
}

// heldFrom returns the remote addresses of the deliveries held now whose local port is in ports.
func (h *hookReceiver) heldFrom(ports map[int]bool) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var addrs []string
	for a := range h.held {
		if ap, err := netip.ParseAddrPort(a); err == nil && ports[int(ap.Port())] {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// allCut reports whether the deliveries from every one of addrs were cut by their sender.
func (h *hookReceiver) allCut(addrs []string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range addrs {
		if !h.cut[a] {
			return false
		}
	}
	return true
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	secret := h.secret.Load()
	if secret == nil {
		http.Error(w, "no secret yet", http.StatusServiceUnavailable)
		return
	}
	if err := webhooks.Verify([]string{*secret}, r.Header, body, time.Now()); err != nil {
		h.bad.Add(1)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if hold := h.hold.Load(); hold != nil {
		h.mu.Lock()
		h.held[r.RemoteAddr] = true
		h.mu.Unlock()
		cut := false
		select {
		case <-*hold:
		case <-r.Context().Done(): // the sender died (or gave up) mid-delivery
			cut = true
		}
		h.mu.Lock()
		delete(h.held, r.RemoteAddr)
		if cut {
			h.cut[r.RemoteAddr] = true
		}
		h.mu.Unlock()
		if cut {
			return
		}
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			SessionID string `json:"sessionId"`
		} `json:"data"`
	}
	json.Unmarshal(body, &ev)
	id := r.Header.Get(webhooks.HeaderID)
	h.mu.Lock()
	h.attempts[id]++
	if ev.Type == tenants.EventPortalSessionCreated {
		h.sessions[id] = ev.Data.SessionID
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// delivered returns the session ids of the delivered portal.session.created events, and how many
// events were delivered more than once.
func (h *hookReceiver) delivered() (sessions map[string]bool, duplicates int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sessions = map[string]bool{}
	for id, sid := range h.sessions {
		sessions[sid] = true
		if h.attempts[id] > 1 {
			duplicates++
		}
	}
	return sessions, duplicates
}

// localPorts returns the local TCP ports of the sockets process pid has open (Linux /proc): which
// of the receiver's connections come from that process.
func localPorts(t *testing.T, pid int) map[int]bool {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil // the process is gone
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if inode, ok := strings.CutPrefix(target, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	ports := map[int]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line) // sl local_address rem_address st … uid timeout inode
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			_, hexPort, _ := strings.Cut(f[1], ":")
			if port, err := strconv.ParseInt(hexPort, 16, 32); err == nil {
				ports[int(port)] = true
			}
		}
	}
	return ports
}

// TestGatewayKilledMidWriteAndDelivery runs two `portico serve` processes against the cluster,
// creates portal sessions (each one a webhook event) and writes accounts through both, and kills
// one process with SIGKILL while its webhook deliveries and writes are in flight. Every event
// reaches the (slow, verifying) receiver at least once, each session's state and event exist
// together or not at all, and every account PUT is either fully stored or absent.
func TestGatewayKilledMidWriteAndDelivery(t *testing.T) {
	t.Parallel()
	bin := buildPortico(t)
	cluster := etcdtest.StartCluster(t, 3)
	ctx := context.Background()
	ec := cluster.Client(t)
	store, err := tenants.Open(ctx, tenants.Config{RequestTimeout: testwait.Patience, Client: ec, Prefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.EnsureSealKey(ctx); err != nil {
		t.Fatal(err)
	}
	tn, err := store.CreateTenant(ctx, &tenants.Tenant{Slug: "crash", Name: "Crash Test", Portal: tenants.DefaultPortal()})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := store.CreateAPIKey(ctx, tn.ID, "faults")
	if err != nil {
		t.Fatal(err)
	}
	procs := [2]*process{newProcess(t, "gw1", bin, cluster.Endpoints()), newProcess(t, "gw2", bin, cluster.Endpoints())}
	a := procs[0]

	hooks := newHookReceiver()
	hold := make(chan struct{})
	hooks.hold.Store(&hold)
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	st, body, err := a.api(key, "POST", "/v1/webhook-endpoints", []byte(`{"url":"`+recv.URL+`/hooks"}`))
	var ep struct {
		Secret string `json:"secret"`
	}
	if err != nil || st != 201 || json.Unmarshal(body, &ep) != nil {
		t.Fatalf("create webhook endpoint: %d %s %v", st, body, err)
	}
	hooks.secret.Store(&ep.Secret)
	if st, body, err := a.api(key, "PUT", "/v1/accounts/"+accountID, []byte(`{"name":"Crash Customer","currency":"EUR"}`)); st != 201 {
		t.Fatalf("PUT account: %d %s %v", st, body, err)
	}

	// Load on both processes: session creations (each one an event) and account PUTs.
	type write struct {
		inst   int
		status int
		id     string // session id, or account id of a PUT
		err    error
	}
	var (
		mu       sync.Mutex
		sessions []write
		puts     []write
		killed   atomic.Bool
		putSeq   atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		nSess    atomic.Int64
		nPuts    atomic.Int64
		viaB     atomic.Int64 // answered requests through gw2 after the kill
		doneLoad = func() bool {
			select {
			case <-stop:
				return true
			default:
				return false
			}
		}
	)
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	t.Cleanup(halt) // if the test stops early
	pick := func(n int) int {
		if killed.Load() {
			return 1
		}
		return n % 2
	}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond) // a steady 20 requests a second per worker
			defer tick.Stop()
			for n := w; !doneLoad(); n++ {
				<-tick.C
				i := pick(n)
				if w%2 == 0 { // session creation
					st, body, err := procs[i].api(key, "POST", "/portal/customer-session/customer-portal", []byte(`{"accountId":"`+accountID+`"}`))
					var res struct {
						SessionID string `json:"sessionId"`
					}
					json.Unmarshal(body, &res)
					mu.Lock()
					sessions = append(sessions, write{inst: i, status: st, id: res.SessionID, err: err})
					mu.Unlock()
					nSess.Add(1)
				} else { // a burst of distinct account documents
					id := fmt.Sprintf("acc_burst_%05d", putSeq.Add(1))
					doc := fmt.Sprintf(`{"id":%q,"alias":%q,"name":"Burst %s","currency":"EUR"}`, id, strings.ReplaceAll(id, "_", "-"), id)
					st, _, err := procs[i].api(key, "PUT", "/v1/accounts/"+id, []byte(doc))
					mu.Lock()
					puts = append(puts, write{inst: i, status: st, id: id, err: err})
					mu.Unlock()
					nPuts.Add(1)
				}
				if killed.Load() && i == 1 {
					viaB.Add(1)
				}
			}
		}()
	}
	// Kill gw1 with deliveries in flight: the receiver holds every delivery until gw1 has one of
	// them open (its sockets, read from /proc, tell whose connection each one is).
	var gw1Held []string
	etcdtest.Wait(t, "a delivery of gw1 held, writes under way", func() bool {
		if nSess.Load() < 20 || nPuts.Load() < 20 {
			return false
		}
		gw1Held = hooks.heldFrom(localPorts(t, a.cmd.Process.Pid))
		return len(gw1Held) > 0
	})
	killedAt := time.Now()
	killed.Store(true)
	a.kill(t)
	etcdtest.Wait(t, "gw1's deliveries cut, writes going on through gw2", func() bool {
		return hooks.allCut(gw1Held) && viaB.Load() >= 30
	})
	hooks.hold.Store(nil)
	close(hold) // gw2's held deliveries complete
	a.start(t)  // gw1 comes back; gw2 never stopped
	restartedAt := time.Now()
	killed.Store(false)
	n0 := nSess.Load()
	etcdtest.Wait(t, "writes through both again", func() bool { return nSess.Load() >= n0+20 })
	halt()
	writesDone := time.Now()

	// Every event whose change is stored is delivered: the sessions in the audit index (written
	// in the Txn of the link and of its event) are exactly the sessions of delivered events.
	stored := func() map[string]bool {
		resp, err := ec.Get(ctx, prefix+"audit/"+tn.ID+"/a/"+accountID+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, kv := range resp.Kvs {
			m[string(kv.Key[strings.LastIndexByte(string(kv.Key), '/')+1:])] = true
		}
		return m
	}()
	pending := func(p string) int64 {
		resp, err := ec.Get(ctx, prefix+p, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	etcdtest.Wait(t, "every stored event delivered, outbox and queue empty", func() bool {
		got, _ := hooks.delivered()
		for sid := range stored {
			if !got[sid] {
				return false
			}
		}
		return pending("outbox/") == 0 && pending("webhooks/tasks/") == 0
	})
	allDelivered := time.Since(killedAt)
	got, duplicates := hooks.delivered()
	for sid := range got {
		if !stored[sid] {
			t.Errorf("event of session %s delivered, but the session is not stored", sid)
		}
	}
	var sOK, sNoAnswer, sOther int
	for _, s := range sessions {
		switch {
		case s.status == 201:
			sOK++
			if !stored[s.id] {
				t.Errorf("session %s answered 201 on gw%d but is not stored", s.id, s.inst+1)
			}
		case s.status == 0:
			sNoAnswer++
		default:
			sOther++
			t.Errorf("session creation on gw%d: %d %v", s.inst+1, s.status, s.err)
		}
	}
	if hooks.bad.Load() != 0 {
		t.Errorf("%d deliveries failed signature verification", hooks.bad.Load())
	}

	// Every PUT is whole or absent: document and alias index together, or neither.
	var pOK, pNoAnswer, pStored, pAbsent, half int
	for _, p := range puts {
		alias := strings.ReplaceAll(p.id, "_", "-")
		resp, err := ec.Txn(ctx).Then(
			clientv3.OpGet(prefix+"state/accounts/"+tn.ID+"/"+p.id),
			clientv3.OpGet(prefix+"state/aliases/"+tn.ID+"/"+alias)).Commit()
		if err != nil {
			t.Fatal(err)
		}
		docs, aliases := resp.Responses[0].GetResponseRange().Kvs, resp.Responses[1].GetResponseRange().Kvs
		var doc []byte
		if len(docs) == 1 {
			if doc, err = tenants.DocumentJSON(docs[0].Value); err != nil {
				t.Errorf("PUT %s: the stored document: %v", p.id, err)
			}
		}
		whole := len(docs) == 1 && strings.Contains(string(doc), `"name":"Burst `+p.id+`"`) &&
			len(aliases) == 1 && string(aliases[0].Value) == p.id
		absent := len(docs) == 0 && len(aliases) == 0
		switch {
		case p.status == 201:
			pOK++
			if !whole {
				t.Errorf("PUT %s answered 201 on gw%d but is not stored whole", p.id, p.inst+1)
			}
		case p.status == 0:
			pNoAnswer++
			if whole {
				pStored++
			}
			if absent {
				pAbsent++
			}
			if !whole && !absent {
				half++
				t.Errorf("PUT %s without an answer is half-written: %d documents, %d alias keys", p.id, len(docs), len(aliases))
			}
		default:
			t.Errorf("PUT %s on gw%d: %d %v", p.id, p.inst+1, p.status, p.err)
		}
	}
	t.Logf("FIGURES d: two portico processes, gw1 killed with SIGKILL with %d deliveries in flight and restarted %v later; "+
		"%d sessions requested: %d answered 201, %d unanswered (killed in flight; %d of those stored anyway), %d other; "+
		"%d events stored, %d delivered (distinct webhook-ids), %d delivered twice; "+
		"all delivered %v after the kill (a killed worker's claims wait for its lease: 25 s); "+
		"%d account PUTs: %d answered 201, %d unanswered (%d stored whole, %d absent), half-written: %d; writes ran %v",
		len(gw1Held), restartedAt.Sub(killedAt).Round(time.Millisecond),
		len(sessions), sOK, sNoAnswer, len(stored)-sOK, sOther,
		len(stored), len(got), duplicates,
		allDelivered.Round(time.Millisecond),
		len(puts), pOK, pNoAnswer, pStored, pAbsent, half, writesDone.Sub(killedAt).Round(time.Millisecond))
	if len(got) != len(stored) {
		t.Errorf("%d events delivered, %d stored", len(got), len(stored))
	}
}
