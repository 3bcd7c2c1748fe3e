// Package etcdtest starts real embedded etcd members for tests: one per test package (from
// TestMain), on free loopback ports in a temporary directory, with every test isolated under its
// own key prefix. Nothing here is a fake: tests talk gRPC to a real etcd server.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/portico-billing/portico/internal/testwait"
)

// Server is one embedded etcd member.
type Server struct {
	Etcd     *embed.Etcd
	Endpoint string // client URL, e.g. http://127.0.0.1:41235
	dir      string
	cfg      *embed.Config
}

var prefixSeq atomic.Int64

// handedOut holds every port FreePort returned in this process.
var handedOut sync.Map

// FreePort returns a loopback TCP port that was free a moment ago and that it has not returned
// before in this process. It picks at random below the kernel's ephemeral range
// (/proc/sys/net/ipv4/ip_local_port_range), where no outgoing connection takes its local port
// between the check and the server's bind; the kernel's own choice of a free ephemeral port was
// taken by a connection of the test's other processes in about 1 of 10 runs of the e2e suite. A
// port is also reserved against the other test processes of the machine (see reserve).
func FreePort() (int, error) {
	lo, hi := freeRange()
	for range 200 {
		var port int
		if lo == 0 {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return 0, err
			}
			port = l.Addr().(*net.TCPAddr).Port
			l.Close()
		} else {
			port = lo + rand.IntN(hi-lo)
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue // in use
			}
			l.Close()
		}
		if _, dup := handedOut.LoadOrStore(port, true); dup {
			continue
		}
		if reserve(port) {
			return port, nil
		}
	}
	return 0, errors.New("etcdtest: no free port in 200 tries")
}

// reserve takes an exclusive lock on a file named after port in a directory shared by every test
// process of the machine, and keeps it until the process exits. The test packages run in parallel
// processes that pick from the same range; without it two of them could pick the same port a few
// seconds apart, the first before it binds it (a `portico serve` started later in a test), and the
// second server then fails with "address already in use" (seen once in CI, TestBackupAndRestore).
// Where the lock cannot be taken for any other reason, the port is used unreserved.
func reserve(port int) bool {
	dir := filepath.Join(os.TempDir(), "portico-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return true
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return !errors.Is(err, syscall.EWOULDBLOCK)
	}
	reservedMu.Lock()
	reserved = append(reserved, f) // held open: the lock lasts as long as the process
	reservedMu.Unlock()
	return true
}

var reserved []*os.File // guarded by reservedMu
var reservedMu sync.Mutex

// freeRange is the range FreePort picks from: the 10,000 ports below the ephemeral range, or 0, 0
// (the kernel's choice) when that range starts too low to leave room.
var freeRange = sync.OnceValues(func() (int, int) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0
	}
	start, err := strconv.Atoi(f[0])
	if err != nil || start < 12000 {
		return 0, 0
	}
	return start - 10000, start
})

// Start starts a single-member etcd in a temporary directory. Fsync is off: the data dies with the
// test anyway, and it keeps the suite fast.
func Start() (*Server, error) { return StartWith(nil) }

// StartWith is Start with adjust applied to the member's configuration (a small space quota for
// a fault test, say) before it starts.
func StartWith(adjust func(*embed.Config)) (*Server, error) {
	dir, err := os.MkdirTemp("", "portico-etcd-*")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // a free port can be taken between FreePort and Listen: retry
		cp, err1 := FreePort()
		pp, err2 := FreePort()
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("etcdtest: finding free ports: %v %v", err1, err2)
		}
		cfg := embed.NewConfig()
		cfg.Dir = dir
		cfg.Name = "test"
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.UnsafeNoFsync = true
		cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cp))
		pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pp))
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialCluster = "test=" + pu.String()
		if adjust != nil {
			adjust(cfg)
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			os.RemoveAll(dir)
			dir, _ = os.MkdirTemp("", "portico-etcd-*")
			continue
		}
		select {
		case <-e.Server.ReadyNotify():
		case <-time.After(testwait.Patience):
			e.Close()
			return nil, fmt.Errorf("etcdtest: etcd not ready after %v", testwait.Patience)
		}
		return &Server{Etcd: e, Endpoint: cu.String(), dir: dir, cfg: cfg}, nil
	}
	return nil, fmt.Errorf("etcdtest: starting etcd: %w", lastErr)
}

// Stop stops the member and keeps its data, for Restart.
func (s *Server) Stop() { s.Etcd.Close() }

// Restart starts a stopped member again on the same ports and data.
func (s *Server) Restart() error {
	var err error
	for range 50 { // the old listeners may take a moment to free their ports
		var e *embed.Etcd
		if e, err = embed.StartEtcd(s.cfg); err == nil {
			select {
			case <-e.Server.ReadyNotify():
				s.Etcd = e
				return nil
			case <-time.After(testwait.Patience):
				e.Close()
				return fmt.Errorf("etcdtest: restarted etcd not ready after %v", testwait.Patience)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("etcdtest: restarting etcd: %w", err)
}

// Close stops the member and removes its data.
func (s *Server) Close() {
	s.Etcd.Close()
	os.RemoveAll(s.dir)
}

// Client returns a client of the member, closed when the test ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a key prefix no other test of the process uses, named after the test.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return fmt.Sprintf("/test-%d-%s/", prefixSeq.Add(1), name)
}

// Main runs a test package against one embedded etcd member, stored in *srv for the tests.
// Use it from TestMain: os.Exit(etcdtest.Main(m, &srv)).
func Main(m *testing.M, srv **Server) int {
	s, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*srv = s
	defer s.Close()
	return m.Run()
}

// Wait polls cond until it is true; it is for conditions that arrive through an etcd watch or
// another process, which tests cannot otherwise await. Only a hang reaches its bound,
// testwait.Patience.
func Wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testwait.Patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %v for %s", testwait.Patience, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Ctx returns a context cancelled when the test ends.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
