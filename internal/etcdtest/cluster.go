package etcdtest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// Cluster is a multi-member etcd cluster of embedded members on loopback, for fault tests: members
// can be killed and restarted while clients keep talking to the others.
//
// Clients reach each member through a small TCP proxy of its own (Member.Endpoint), so that
// killing a member cuts its client connections at once, as the death of its process would. Without
// it, closing an embedded member waits for its open gRPC streams (watches) for up to etcd's request
// timeout (7 s) while they hang on a server that no longer answers.
type Cluster struct {
	Members []*Member
	t       testing.TB
	mu      sync.Mutex // serialises Kill and Restart
}

// Member is one member of a Cluster.
type Member struct {
	Name string
	// Endpoint is the client URL clients use (the member's proxy), e.g. http://127.0.0.1:41235.
	Endpoint string
	// PeerURL is the member's peer URL.
	PeerURL string

	mu     sync.Mutex
	etcd   *embed.Etcd   // nil while killed
	closed chan struct{} // closed once a killed member has released its ports and data
	cfg    *embed.Config
	proxy  *proxy
}

// Etcd returns the running embedded member, or nil while it is killed.
func (m *Member) Etcd() *embed.Etcd {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.etcd
}

// StartCluster starts an n-member cluster in temporary directories on free loopback ports and
// waits until it has a leader and every member serves. Fsync is off, as for Start. The cluster is
// closed and its data removed when the test ends.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("etcdtest: a cluster needs at least one member, not %d", n)
	}
	start := time.Now()
	var lastErr error
	for range 5 { // a free port can be taken between FreePort and Listen: retry with others
		c, err := startCluster(t.TempDir(), n)
		if err != nil {
			lastErr = err
			continue
		}
		c.t = t
		t.Cleanup(c.close)
		t.Logf("etcdtest: %d-member cluster ready in %v", n, time.Since(start).Round(time.Millisecond))
		return c
	}
	t.Fatalf("etcdtest: starting a %d-member cluster: %v", n, lastErr)
	return nil
}

func startCluster(dir string, n int) (*Cluster, error) {
	c := &Cluster{}
	var initial []string
	for i := range n {
		cp, err1 := FreePort()
		pp, err2 := FreePort()
		xp, err3 := FreePort()
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("etcdtest: finding free ports: %w", err)
		}
		name := fmt.Sprintf("m%d", i)
		cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cp))
		pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pp))
		xu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", xp))
		cfg := embed.NewConfig()
		cfg.Dir = fmt.Sprintf("%s/%s", dir, name)
		cfg.Name = name
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.UnsafeNoFsync = true
		cfg.EnableGRPCGateway = false
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*xu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		initial = append(initial, name+"="+pu.String())
		c.Members = append(c.Members, &Member{
			Name: name, Endpoint: xu.String(), PeerURL: pu.String(), cfg: cfg,
			proxy: &proxy{addr: xu.Host, target: cu.Host},
		})
	}
	token := fmt.Sprintf("etcdtest-%d", time.Now().UnixNano())
	for _, m := range c.Members {
		m.cfg.InitialCluster = strings.Join(initial, ",")
		m.cfg.InitialClusterToken = token
	}
	for _, m := range c.Members {
		if err := m.proxy.up(); err != nil {
			c.close()
			return nil, err
		}
		e, err := embed.StartEtcd(m.cfg)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("etcdtest: starting member %s: %w", m.Name, err)
		}
		m.etcd = e
	}
	for _, m := range c.Members {
		select {
		case <-m.etcd.Server.ReadyNotify():
		case err := <-m.etcd.Err():
			c.close()
			return nil, fmt.Errorf("etcdtest: member %s failed: %w", m.Name, err)
		case <-time.After(testwait.Patience):
			c.close()
			return nil, fmt.Errorf("etcdtest: member %s not ready after %v", m.Name, testwait.Patience)
		}
	}
	return c, nil
}

// Endpoints returns every member's client URL, killed members included (as a client configured
// with the cluster would have them).
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Endpoint
	}
	return out
}

// Client returns a client of the whole cluster (every endpoint, no auto-sync), closed when the
// test ends.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cl, err := clientv3.New(clientv3.Config{
		Endpoints: c.Endpoints(), DialTimeout: 2 * time.Second, AutoSyncInterval: 0, Logger: zap.NewNop(),
	})
	if err != nil {
		t.Fatalf("etcdtest: cluster client: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// Running reports whether member i is up.
func (c *Cluster) Running(i int) bool { return c.Members[i].Etcd() != nil }

// Leader returns the index of the member that is the leader as far as the running members know,
// or -1 when there is none (no quorum, or an election in progress).
func (c *Cluster) Leader() int {
	for i, m := range c.Members {
		e := m.Etcd()
		if e == nil {
			continue
		}
		if uint64(e.Server.Leader()) == uint64(e.Server.MemberID()) {
			return i
		}
	}
	return -1
}

// WaitLeader waits until the running members have a leader and returns its index.
func (c *Cluster) WaitLeader(t testing.TB) int {
	t.Helper()
	l := -1
	Wait(t, "an etcd leader", func() bool { l = c.Leader(); return l >= 0 })
	return l
}

// Kill stops member i abruptly: its client connections are cut and its raft node stops without
// handing over leadership, as if its process died. Its listeners close in the background (the
// peer listener waits up to a second for its streams); its data stays for Restart.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.Members[i]
	m.mu.Lock()
	e := m.etcd
	m.etcd = nil
	m.mu.Unlock()
	if e == nil {
		c.t.Errorf("etcdtest: Kill(%d): member %s is not running", i, m.Name)
		return
	}
	m.proxy.down()
	e.Server.HardStop()
	m.closed = make(chan struct{})
	go func() { defer close(m.closed); e.Close() }()
}

// Restart starts killed member i again with its data, ports and configuration, retrying while
// its old ports are still being released, and waits until it serves. Serving needs a quorum:
// restart members that need each other with RestartAll.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	m := c.Members[i]
	if m.Etcd() != nil {
		c.mu.Unlock()
		return fmt.Errorf("etcdtest: member %s is running", m.Name)
	}
	if m.closed != nil {
		<-m.closed
	}
	var (
		e   *embed.Etcd
		err error
	)
	deadline := time.Now().Add(testwait.Patience)
	for { // the old listeners may take a moment to free their ports
		if e, err = embed.StartEtcd(m.cfg); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("etcdtest: restarting member %s: %w", m.Name, err)
	}
	if err := m.proxy.up(); err != nil {
		e.Close()
		c.mu.Unlock()
		return err
	}
	m.mu.Lock()
	m.etcd = e
	m.mu.Unlock()
	c.mu.Unlock()
	select {
	case <-e.Server.ReadyNotify():
		return nil
	case err := <-e.Err():
		return fmt.Errorf("etcdtest: restarted member %s failed: %w", m.Name, err)
	case <-time.After(testwait.Patience):
		return fmt.Errorf("etcdtest: restarted member %s not ready after %v", m.Name, testwait.Patience)
	}
}

// RestartAll restarts every killed member at once (members that need each other for a quorum)
// and waits until they serve.
func (c *Cluster) RestartAll() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.Members))
	for i := range c.Members {
		if c.Running(i) {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Restart(i) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// close stops every running member.
func (c *Cluster) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.Members {
		m.proxy.down()
	}
	var wg sync.WaitGroup
	for _, m := range c.Members {
		m.mu.Lock()
		e := m.etcd
		m.etcd = nil
		m.mu.Unlock()
		if e == nil && m.closed != nil {
			<-m.closed
		}
		if e != nil {
			wg.Add(1)
			go func() { defer wg.Done(); e.Server.HardStop(); e.Close() }()
		}
	}
	wg.Wait()
}

// proxy forwards TCP connections from addr to target; down cuts every connection, as a dying
// process would, and stops listening until up.
type proxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func (p *proxy) up() error {
	var (
		ln  net.Listener
		err error
	)
	deadline := time.Now().Add(testwait.Patience)
	for {
		if ln, err = net.Listen("tcp", p.addr); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("etcdtest: proxy listening on %s: %w", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

func (p *proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			c.Close()
			up.Close()
			return
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// track registers a proxied pair; it is false once the proxy is down.
func (p *proxy) track(a, b net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[a], p.conns[b] = struct{}{}, struct{}{}
	return true
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns { // as the kernel closes a killed process's sockets
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}
