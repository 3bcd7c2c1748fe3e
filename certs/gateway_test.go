package certs

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/valyala/fasthttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Test harness of the Manager tests: a miniature gateway (fasthttp on TLS and plain HTTP, as the
// real one wires it), an HTTPS client, and gateway instances in child processes.

// testLogger returns a debug logger kept in memory and written to the test log if the test fails
// (certmagic logs from goroutines that can outlive the test, so it must not log through t).
func testLogger(t testing.TB, name string) *slog.Logger {
	buf := &syncbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// listen listens on a free loopback port.
func listen(t testing.TB) (net.Listener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// allow returns a decision function allowing exactly names, and the list of names it was asked
// about.
func allow(names ...string) (func(context.Context, string) error, func() []string) {
	var mu sync.Mutex
	var asked []string
	decide := func(_ context.Context, name string) error {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		if slices.Contains(names, name) {
			return nil
		}
		return fmt.Errorf("no tenant serves %q", name)
	}
	return decide, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked)
	}
}

// newEtcdStorage returns a Storage under prefix on its own etcd client, as a gateway instance has.
func newEtcdStorage(t testing.TB, prefix string) *Storage {
	t.Helper()
	s, err := NewStorage(StorageConfig{Client: srv.Client(t), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newManager returns a Manager closed when the test ends.
func newManager(t testing.TB, cfg Config) *Manager {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// gateway is the miniature gateway: the portal page over HTTPS, and on plain HTTP the HTTP-01
// answers and a redirect for everything else.
type gateway struct {
	m          *Manager
	answered   atomic.Int64 // HTTP-01 requests answered with 200
	challenges atomic.Int64 // requests HandleHTTPChallenge took
}

func (g *gateway) serveHTTPS(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("text/plain; charset=utf-8")
	fmt.Fprintf(ctx, "portal of %s", ctx.Host())
}

func (g *gateway) serveHTTP(ctx *fasthttp.RequestCtx) {
	if g.m.HandleHTTPChallenge(ctx) {
		g.challenges.Add(1)
		if ctx.Response.StatusCode() == fasthttp.StatusOK {
			g.answered.Add(1)
		}
		return
	}
	ctx.Redirect("https://"+string(ctx.Host())+string(ctx.RequestURI()), fasthttp.StatusPermanentRedirect)
}

// serve serves the gateway of m on httpsLn (TLS through m.TLSConfig) and on httpLn (plain HTTP);
// either may be nil.
func serve(t testing.TB, m *Manager, httpsLn, httpLn net.Listener) *gateway {
	g := &gateway{m: m}
	if httpsLn != nil {
		// The read timeout covers the TLS handshake, which waits for issuance on a first visit.
		s := &fasthttp.Server{Handler: g.serveHTTPS, ReadTimeout: time.Minute, Logger: quietLogger{}}
		go s.Serve(tls.NewListener(httpsLn, m.TLSConfig()))
		t.Cleanup(func() { s.Shutdown() })
	}
	if httpLn != nil {
		s := &fasthttp.Server{Handler: g.serveHTTP, ReadTimeout: 10 * time.Second, Logger: quietLogger{}}
		go s.Serve(httpLn)
		t.Cleanup(func() { s.Shutdown() })
	}
	return g
}

// quietLogger drops fasthttp's connection errors (e.g. the handshakes that tests make fail).
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// get fetches https://name/ from the gateway at addr with a new connection (so a new handshake),
// verifying the certificate against roots. It returns the leaf and the body.
func get(ctx context.Context, addr, name string, roots *x509.CertPool) (*x509.Certificate, string, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/", nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("status %s: %s", resp.Status, body)
	}
	return resp.TLS.PeerCertificates[0], string(body), nil
}

// Gateway instances in child processes. A second Manager in the test process would share
// certmagic's process-wide state (the in-flight obtain/renew and challenge maps), which dedupes
// and answers within a process without the shared Storage; an instance in another process has
// only the Storage in common with this one, like a second gateway machine.

// instanceEnv carries the instanceConfig (JSON) of a child process; TestMain runs the instance
// instead of the tests when it is set.
const instanceEnv = "PORTICO_CERTS_TEST_INSTANCE"

// instanceConfig configures a gateway instance in a child process.
type instanceConfig struct {
	Etcd           string   // etcd endpoint
	Prefix         string   // Storage prefix
	CA             string   // ACME directory
	CARoot         []byte   // PEM
	Names          []string // names the decision function allows
	HTTPPort       int      // Config.HTTPPort (where the CA validates; another process listens)
	TLSALPNPort    int      // Config.TLSALPNPort
	DisableTLSALPN bool
}

// instance is a running child process; it serves HTTPS on HTTPSAddr (a port of its own).
type instance struct {
	HTTPSAddr string `json:"httpsAddr"`
}

// startInstance starts a gateway instance in a child process and stops it when the test ends.
func startInstance(t testing.TB, cfg instanceConfig) *instance {
	t.Helper()
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), instanceEnv+"="+string(js))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting instance: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // the instance shuts down at EOF
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(testwait.Patience):
			cmd.Process.Kill()
			err = errors.Join(fmt.Errorf("killed after %v", testwait.Patience), <-done)
		}
		if err != nil {
			t.Errorf("instance %d: %v", cmd.Process.Pid, err)
		}
		if t.Failed() {
			t.Logf("log of instance %d:\n%s", cmd.Process.Pid, stderr.String())
		}
	})
	ready := make(chan error, 1)
	var inst instance
	go func() {
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &inst)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("instance did not start: %v\n%s", err, stderr.String())
		}
	case <-time.After(testwait.Patience):
		t.Fatalf("instance not ready after %v:\n%s", testwait.Patience, stderr.String())
	}
	return &inst
}

// runInstance is the child process: a Manager on the shared etcd prefix behind the HTTPS gateway
// on a port of its own, until stdin closes. It reports its address as one JSON line on stdout and
// logs to stderr. The exit code says whether it shut down cleanly.
func runInstance(js string) int {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fail := func(err error) int {
		logger.Error("instance failed", "err", err)
		return 1
	}
	var cfg instanceConfig
	if err := json.Unmarshal([]byte(js), &cfg); err != nil {
		return fail(err)
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: []string{cfg.Etcd}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return fail(err)
	}
	defer client.Close()
	storage, err := NewStorage(StorageConfig{Client: client, Prefix: cfg.Prefix})
	if err != nil {
		return fail(err)
	}
	decide, _ := allow(cfg.Names...)
	m, err := New(Config{
		Storage:                 storage,
		CA:                      cfg.CA,
		CARoot:                  cfg.CARoot,
		Email:                   "certs-test@example.com",
		Decide:                  decide,
		HTTPPort:                cfg.HTTPPort,
		TLSALPNPort:             cfg.TLSALPNPort,
		DisableTLSALPNChallenge: cfg.DisableTLSALPN,
		Logger:                  logger,
	})
	if err != nil {
		return fail(err)
	}
	defer m.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	g := &gateway{m: m}
	s := &fasthttp.Server{Handler: g.serveHTTPS, ReadTimeout: time.Minute, Logger: quietLogger{}}
	go s.Serve(tls.NewListener(ln, m.TLSConfig()))
	js2, _ := json.Marshal(instance{HTTPSAddr: ln.Addr().String()})
	if _, err := os.Stdout.Write(append(js2, '\n')); err != nil {
		return fail(err)
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes it
	if err := s.Shutdown(); err != nil {
		return fail(err)
	}
	logger.Info("instance stopped", "pid", strconv.Itoa(os.Getpid()))
	return 0
}
