package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/certs/pebbletest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/valyala/fasthttp"
)

// Tests of the Manager against Pebble over real ACME: every certificate here is ordered,
// validated (HTTP-01 or TLS-ALPN-01 against the test's listeners) and issued by Pebble.

const testEmail = "certs-test@example.com"

// issuanceTimeout bounds a request whose handshake may wait for issuance.
const issuanceTimeout = testwait.Patience

// pebbleConfig returns the Config of a Manager on s that uses p as its CA.
func pebbleConfig(t testing.TB, p *pebbletest.Pebble, s *Storage, decide func(context.Context, string) error, httpPort, tlsPort int, name string) Config {
	return Config{
		Storage:     s,
		CA:          p.DirectoryURL(),
		CARoot:      p.DirectoryCA(),
		Email:       testEmail,
		Decide:      decide,
		HTTPPort:    httpPort,
		TLSALPNPort: tlsPort,
		Logger:      testLogger(t, name),
	}
}

func requestCtx(t testing.TB, ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, issuanceTimeout)
	t.Cleanup(cancel)
	return ctx
}

// checkLeaf checks that leaf is a Pebble-issued ECDSA P-256 certificate for name alone.
func checkLeaf(t testing.TB, p *pebbletest.Pebble, leaf *x509.Certificate, name string) {
	t.Helper()
	if !slices.Equal(leaf.DNSNames, []string{name}) {
		t.Errorf("leaf names %v, want [%s]", leaf.DNSNames, name)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("leaf key %T, want ECDSA P-256", leaf.PublicKey)
	}
	// The client verified the chain against p.IssuerPool(); the leaf's issuer is Pebble's
	// intermediate, not the root.
	if leaf.Issuer.String() == p.IssuerRoot().Subject.String() || !strings.Contains(leaf.Issuer.CommonName, "Pebble") {
		t.Errorf("leaf issued by %q, want a Pebble intermediate", leaf.Issuer)
	}
}

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	s := newEtcdStorage(t, etcdtest.Prefix(t))
	decide, _ := allow()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no storage", Config{Decide: decide}, "nil storage"},
		{"no decision", Config{Storage: s}, "nil decision function"},
		{"no challenge", Config{Storage: s, Decide: decide, DisableHTTPChallenge: true, DisableTLSALPNChallenge: true}, "both"},
		{"bad root", Config{Storage: s, Decide: decide, CARoot: []byte("not PEM")}, "CA root PEM"},
	} {
		m, err := New(tc.cfg)
		if err == nil {
			m.Close()
			t.Errorf("%s: New succeeded", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "certs: creating manager: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want one about %q", tc.name, err, tc.want)
		}
	}
}

// TestOnDemandIssuance: the first handshake for an allowed name waits for a certificate that
// Pebble issues after validating HTTP-01 on the gateway's HTTP listener; the page is served over
// it; later handshakes, and another Manager on the same storage (a restarted or second instance),
// serve the stored certificate without a new order. (HTTP-01 only, so the test knows which
// challenge ran; with both enabled, acmez picks one at random and then by success.)
func TestOnDemandIssuance(t *testing.T) {
	t.Parallel()
	const name = "shop.example.test"
	httpsLn, tlsPort := listen(t)
	httpLn, httpPort := listen(t)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost(name)
	prefix := etcdtest.Prefix(t)
	storage := newEtcdStorage(t, prefix)
	decide, asked := allow(name)
	cfg := pebbleConfig(t, p, storage, decide, httpPort, tlsPort, "manager")
	cfg.DisableTLSALPNChallenge = true
	m := newManager(t, cfg)
	g := serve(t, m, httpsLn, httpLn)
	ctx := requestCtx(t, t.Context())

	start := time.Now()
	leaf, body, err := get(ctx, httpsLn.Addr().String(), name, p.IssuerPool())
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	t.Logf("first handshake, with issuance, took %v (HTTP-01 requests answered: %d)", time.Since(start), g.answered.Load())
	checkLeaf(t, p, leaf, name)
	if want := "portal of " + name; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
	if g.answered.Load() == 0 {
		t.Errorf("the gateway answered no HTTP-01 request (%d challenge requests)", g.challenges.Load())
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1", n)
	}
	if !slices.Contains(asked(), name) {
		t.Errorf("decision function asked about %v, not %q", asked(), name)
	}
	keys, err := storage.List(ctx, "certificates", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasSuffix(k, "/"+name+"/"+name+".crt") }) {
		t.Errorf("no certificate of %s in the etcd storage: %v", name, keys)
	}

	start = time.Now()
	again, _, err := get(ctx, httpsLn.Addr().String(), name, p.IssuerPool())
	if err != nil {
		t.Fatalf("second request: %v", err)
	}
	t.Logf("second handshake took %v", time.Since(start))
	if again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("second handshake got serial %x, want %x", again.SerialNumber, leaf.SerialNumber)
	}

	// Another Manager on the same prefix loads the certificate from etcd.
	otherLn, _ := listen(t)
	other := newManager(t, pebbleConfig(t, p, newEtcdStorage(t, prefix), decide, httpPort, tlsPort, "other manager"))
	serve(t, other, otherLn, nil)
	loaded, _, err := get(ctx, otherLn.Addr().String(), name, p.IssuerPool())
	if err != nil {
		t.Fatalf("request to the other manager: %v", err)
	}
	if loaded.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Errorf("other manager served serial %x, want %x", loaded.SerialNumber, leaf.SerialNumber)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders in all, want 1", n)
	}
}

// TestDecisionRefused: a name the decision function refuses fails the handshake, and the CA
// never hears of it.
func TestDecisionRefused(t *testing.T) {
	t.Parallel()
	const name = "evil.example.test"
	httpsLn, tlsPort := listen(t)
	httpLn, httpPort := listen(t)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost(name) // resolvable and reachable: the refusal is the only obstacle
	storage := newEtcdStorage(t, etcdtest.Prefix(t))
	decide, asked := allow("shop.example.test")
	m := newManager(t, pebbleConfig(t, p, storage, decide, httpPort, tlsPort, "manager"))
	serve(t, m, httpsLn, httpLn)
	ctx := requestCtx(t, t.Context())

	_, _, err := get(ctx, httpsLn.Addr().String(), name, p.IssuerPool())
	if err == nil {
		t.Fatal("handshake for a refused name succeeded")
	}
	t.Logf("refused: %v", err)
	if !slices.Contains(asked(), name) {
		t.Errorf("decision function asked about %v, not %q", asked(), name)
	}
	if n := p.Orders(); n != 0 {
		t.Errorf("Pebble saw %d orders, want 0", n)
	}
	if keys, err := storage.List(ctx, "certificates", true); err == nil {
		t.Errorf("certificates stored for a refused name: %v", keys)
	}
}

// TestTLSALPNChallenge: with HTTP-01 off, the HTTPS listener answers TLS-ALPN-01 through
// TLSConfig (nothing listens on the HTTP port).
func TestTLSALPNChallenge(t *testing.T) {
	t.Parallel()
	const name = "alpn.example.test"
	httpsLn, tlsPort := listen(t)
	httpPort, err := etcdtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost(name)
	decide, _ := allow(name)
	cfg := pebbleConfig(t, p, newEtcdStorage(t, etcdtest.Prefix(t)), decide, httpPort, tlsPort, "manager")
	cfg.DisableHTTPChallenge = true
	m := newManager(t, cfg)
	serve(t, m, httpsLn, nil)

	leaf, _, err := get(requestCtx(t, t.Context()), httpsLn.Addr().String(), name, p.IssuerPool())
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	checkLeaf(t, p, leaf, name)
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1", n)
	}
}

// TestTwoInstancesOneOrder: two gateway instances (this process and a child process, each with
// its own etcd client, sharing the prefix) get their first handshake for the same new name at the
// same time: one ACME order, one certificate served by both.
func TestTwoInstancesOneOrder(t *testing.T) {
	t.Parallel()
	const name = "twice.example.test"
	httpsLn, tlsPort := listen(t)
	httpLn, httpPort := listen(t)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost(name)
	prefix := etcdtest.Prefix(t)
	decide, _ := allow(name)
	// Instance A, here, owns the ports where Pebble validates; B has only its HTTPS port, so if B
	// wins the order, A answers B's challenge from etcd.
	a := newManager(t, pebbleConfig(t, p, newEtcdStorage(t, prefix), decide, httpPort, tlsPort, "instance A"))
	serve(t, a, httpsLn, httpLn)
	b := startInstance(t, instanceConfig{
		Etcd: srv.Endpoint, Prefix: prefix, CA: p.DirectoryURL(), CARoot: p.DirectoryCA(),
		Names: []string{name}, HTTPPort: httpPort, TLSALPNPort: tlsPort,
	})
	ctx := requestCtx(t, t.Context())

	addrs := []string{httpsLn.Addr().String(), b.HTTPSAddr}
	leaves := make([]*x509.Certificate, len(addrs))
	errs := make([]error, len(addrs))
	took := make([]time.Duration, len(addrs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() {
			<-start
			t0 := time.Now()
			leaves[i], _, errs[i] = get(ctx, addr, name, p.IssuerPool())
			took[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request to instance %c: %v", 'A'+i, err)
		}
	}
	t.Logf("first handshakes took %v (A) and %v (B)", took[0], took[1])
	checkLeaf(t, p, leaves[0], name)
	if leaves[0].SerialNumber.Cmp(leaves[1].SerialNumber) != 0 {
		t.Errorf("instances serve serials %x and %x, want one certificate", leaves[0].SerialNumber, leaves[1].SerialNumber)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1", n)
	}
}

// TestHTTPChallengeAnsweredByOtherInstance: instance A (a child process) starts the order for a
// name with HTTP-01 only, while only instance B (here) listens on the port where Pebble validates
// HTTP-01. B shares nothing with A but etcd, so its answer comes from the challenge data A stored
// there.
func TestHTTPChallengeAnsweredByOtherInstance(t *testing.T) {
	t.Parallel()
	const name = "relay.example.test"
	httpLn, httpPort := listen(t)
	tlsPort, err := etcdtest.FreePort() // nothing listens there: TLS-ALPN-01 is off in A
	if err != nil {
		t.Fatal(err)
	}
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost(name)
	prefix := etcdtest.Prefix(t)
	decide, _ := allow(name)
	b := newManager(t, pebbleConfig(t, p, newEtcdStorage(t, prefix), decide, httpPort, tlsPort, "instance B"))
	gb := serve(t, b, nil, httpLn)
	a := startInstance(t, instanceConfig{
		Etcd: srv.Endpoint, Prefix: prefix, CA: p.DirectoryURL(), CARoot: p.DirectoryCA(),
		Names: []string{name}, HTTPPort: httpPort, TLSALPNPort: tlsPort, DisableTLSALPN: true,
	})

	leaf, body, err := get(requestCtx(t, t.Context()), a.HTTPSAddr, name, p.IssuerPool())
	if err != nil {
		t.Fatalf("request to instance A: %v", err)
	}
	checkLeaf(t, p, leaf, name)
	if want := "portal of " + name; body != want {
		t.Errorf("body %q, want %q", body, want)
	}
	if n := gb.answered.Load(); n == 0 {
		t.Errorf("instance B answered no HTTP-01 request (%d challenge requests)", gb.challenges.Load())
	} else {
		t.Logf("instance B answered %d HTTP-01 validation requests", n)
	}
	if n := p.Orders(); n != 1 {
		t.Errorf("Pebble saw %d orders, want 1", n)
	}
}

// renewSeq numbers the names of TestRenewalOnHandshake runs.
var renewSeq atomic.Int64

// TestRenewalOnHandshake: certificates from a Pebble issuing 10-minute certificates are due for
// renewal at once (certmagic renews on-demand certificates that expire within 5 renewal check
// intervals, 50 minutes, or whose ARI window is near). A handshake that finds its certificate due
// is served it and starts a background renewal; a later handshake on the same running server gets
// the new certificate.
//
// Every certificate here is due, so the handshake that sees the renewed one may start yet another
// renewal, which outlives the test (certmagic gives it 5 minutes, failing and retrying once Pebble
// is gone). certmagic tracks in-flight renewals per process by name, so each run uses a name of
// its own: a later run (-count) must not wait for an earlier run's leftover.
func TestRenewalOnHandshake(t *testing.T) {
	t.Parallel()
	name := fmt.Sprintf("renew-%d.example.test", renewSeq.Add(1))
	httpsLn, tlsPort := listen(t)
	httpLn, httpPort := listen(t)
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort, Validity: 10 * time.Minute})
	p.AddHost(name)
	decide, _ := allow(name)
	m := newManager(t, pebbleConfig(t, p, newEtcdStorage(t, etcdtest.Prefix(t)), decide, httpPort, tlsPort, "manager"))
	serve(t, m, httpsLn, httpLn)
	ctx := requestCtx(t, t.Context())
	addr := httpsLn.Addr().String()

	first, _, err := get(ctx, addr, name, p.IssuerPool())
	if err != nil {
		t.Fatalf("first request: %v", err)
	}
	if life := first.NotAfter.Sub(first.NotBefore); life > 10*time.Minute {
		t.Fatalf("Pebble issued a certificate valid for %v, want at most 10m", life)
	}
	// This handshake finds the certificate due: it is served the current one, and starts the
	// renewal.
	trigger, _, err := get(ctx, addr, name, p.IssuerPool())
	if err != nil {
		t.Fatalf("second request: %v", err)
	}
	if trigger.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("the handshake that starts the renewal got serial %x, want the current %x", trigger.SerialNumber, first.SerialNumber)
	}
	start := time.Now()
	var renewed *x509.Certificate
	etcdtest.Wait(t, "a renewed certificate", func() bool {
		leaf, _, err := get(ctx, addr, name, p.IssuerPool())
		if err != nil {
			t.Logf("request while renewing: %v", err)
			return false
		}
		renewed = leaf
		return leaf.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	t.Logf("renewed certificate served %v after the renewal started", time.Since(start))
	checkLeaf(t, p, renewed, name)
	if renewed.NotBefore.Before(first.NotBefore) {
		t.Errorf("renewed certificate (valid from %v) is older than the first (valid from %v)", renewed.NotBefore, first.NotBefore)
	}
	if n := p.Orders(); n < 2 {
		t.Errorf("Pebble saw %d orders, want at least 2", n)
	}
}

// TestHandleHTTPChallengePaths: HandleHTTPChallenge takes every request under the challenge path
// (404 without a challenge in progress, never a redirect) and nothing else.
func TestHandleHTTPChallengePaths(t *testing.T) {
	t.Parallel()
	decide, _ := allow()
	m := newManager(t, Config{
		Storage: newEtcdStorage(t, etcdtest.Prefix(t)),
		CA:      "https://127.0.0.1:1/directory", // never contacted
		Decide:  decide,
		Logger:  testLogger(t, "manager"),
	})
	for _, tc := range []struct {
		path   string
		taken  bool
		status int
	}{
		{"/", false, 0},
		{"/s/token", false, 0},
		{"/.well-known/acme-challenge", false, 0},
		{"/.well-known/acme-challengeX/abc", false, 0},
		{"/.well-known/acme-challenge/", true, fasthttp.StatusNotFound},
		{"/.well-known/acme-challenge/unknownToken_-1", true, fasthttp.StatusNotFound},
	} {
		var req fasthttp.Request
		req.SetRequestURI(tc.path)
		req.Header.SetHost("shop.example.test")
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, nil)
		taken := m.HandleHTTPChallenge(&ctx)
		if taken != tc.taken {
			t.Errorf("%s: taken %v, want %v", tc.path, taken, tc.taken)
			continue
		}
		if taken && ctx.Response.StatusCode() != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, ctx.Response.StatusCode(), tc.status)
		}
	}
}
