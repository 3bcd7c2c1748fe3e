package faults

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// standalone is a cluster of etcd server processes from the system's etcd package (Debian's
// etcd-server), as an operator runs them: the server versions Portico supports are tested here,
// apart from the embedded members of the client's own version.
type standalone struct {
	Members []*etcdProcess
}

// etcdProcess is one `etcd` server process of a standalone cluster.
type etcdProcess struct {
	name     string
	Endpoint string // client URL
	args     []string
	bin      string
	cmd      *exec.Cmd
	logs     *syncbuf.Buffer
	exited   chan struct{}
}

// etcdBinary finds the etcd server binary; the test fails (it does not skip) without one: a
// missing server must not pass for a tested one.
func etcdBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("etcd"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd"
	}
	t.Fatal("no etcd server binary on PATH or at /usr/bin/etcd: run `make deps` (it installs Debian's etcd-server)")
	return ""
}

// startStandalone starts an n-member cluster of etcd processes on free loopback ports, each with
// its own data directory, and waits until every member reports itself healthy (it has a leader
// and answers a quorum read). The processes are stopped when the test ends.
func startStandalone(t *testing.T, n int) *standalone {
	t.Helper()
	bin := etcdBinary(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	t.Logf("standalone etcd: %s", strings.SplitN(string(out), "\n", 2)[0])
	dir := t.TempDir()
	c := &standalone{}
	var initial []string
	peers := make([]string, n)
	for i := range n {
		cp, err1 := etcdtest.FreePort()
		pp, err2 := etcdtest.FreePort()
		if err1 != nil || err2 != nil {
			t.Fatalf("free ports: %v %v", err1, err2)
		}
		name := fmt.Sprintf("s%d", i)
		peers[i] = fmt.Sprintf("http://127.0.0.1:%d", pp)
		initial = append(initial, name+"="+peers[i])
		c.Members = append(c.Members, &etcdProcess{name: name, bin: bin, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", cp)})
	}
	token := fmt.Sprintf("portico-faults-%d", time.Now().UnixNano())
	for i, m := range c.Members {
		m.args = []string{
			"--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", m.Endpoint, "--advertise-client-urls", m.Endpoint,
			"--listen-peer-urls", peers[i], "--initial-advertise-peer-urls", peers[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", token,
			"--initial-cluster-state", "new", "--logger", "zap", "--log-level", "error",
		}
		m.start(t)
		t.Cleanup(func() { m.stop(t) })
	}
	for _, m := range c.Members {
		m.waitHealthy(t)
	}
	return c
}

// Endpoints returns every member's client URL, stopped members included.
func (c *standalone) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = m.Endpoint
	}
	return out
}

func (m *etcdProcess) start(t *testing.T) {
	t.Helper()
	m.cmd = exec.Command(m.bin, m.args...)
	m.logs = &syncbuf.Buffer{}
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("starting etcd %s: %v", m.name, err)
	}
	m.exited = make(chan struct{})
	go func() { m.cmd.Wait(); close(m.exited) }()
}

// waitHealthy waits until the member's /health says true: it has a leader and answers a quorum
// read.
func (m *etcdProcess) waitHealthy(t *testing.T) {
	t.Helper()
	etcdtest.Wait(t, "etcd "+m.name+" healthy", func() bool {
		select {
		case <-m.exited:
			t.Fatalf("etcd %s exited:\n%s", m.name, m.logs)
		default:
		}
		r, err := http.Get(m.Endpoint + "/health")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var b [64]byte
		n, _ := r.Body.Read(b[:])
		return r.StatusCode == 200 && strings.Contains(string(b[:n]), `"true"`)
	})
}

// waitLeaderless waits until the member reports that it has no leader (after it lost its quorum,
// a leader steps down within an election timeout).
func (m *etcdProcess) waitLeaderless(t *testing.T) {
	t.Helper()
	etcdtest.Wait(t, "etcd "+m.name+" without a leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint}, Logger: zap.NewNop()})
		if err != nil {
			return false
		}
		defer c.Close()
		st, err := c.Status(ctx, m.Endpoint)
		return err == nil && st.Leader == 0
	})
}

// stop ends the member as `systemctl stop` would (SIGTERM) and waits for its exit.
func (m *etcdProcess) stop(t *testing.T) {
	select {
	case <-m.exited:
		return
	default:
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(testwait.Patience):
		m.cmd.Process.Kill()
		<-m.exited
		t.Errorf("etcd %s did not stop on SIGTERM", m.name)
	}
}
