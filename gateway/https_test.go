package gateway

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/certs"
	"github.com/portico-billing/portico/certs/pebbletest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// TestHTTPSOnDemand runs the real gateway behind certmagic against Pebble: tenant slug hosts and
// active custom domains get certificates on their first handshake; unknown names and pending
// domains fail the handshake without any order reaching the CA.
func TestHTTPSOnDemand(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	httpPort, _ := etcdtest.FreePort()
	tlsPort, _ := etcdtest.FreePort()
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	st, err := certs.NewStorage(certs.StorageConfig{Client: h.store.Client(), Prefix: h.store.Prefix() + "certs/"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := certs.New(certs.Config{Storage: st, CA: p.DirectoryURL(), CARoot: p.DirectoryCA(), Email: "ops@portico.test",
		Decide: h.gw.Decide, HTTPPort: httpPort, TLSALPNPort: tlsPort, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	tlsLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", httpPort))
	if err != nil {
		t.Fatal(err)
	}
	https := h.gw.HTTPSServer()
	plain := &fasthttp.Server{Handler: h.gw.RedirectHandler(m.HandleHTTPChallenge, tlsPort)}
	go https.Serve(TLSListener(tlsLn, m.TLSConfig(), time.Minute))
	go plain.Serve(httpLn)
	t.Cleanup(func() { https.Shutdown(); plain.Shutdown() })

	tn, key := h.tenant("secure")
	for _, host := range []string{"secure." + base, "billing.secure.example", "pending.secure.example", "unknown." + base, "evil.example"} {
		p.AddHost(host)
	}
	ctx := context.Background()
	active, _ := h.store.AddDomain(ctx, tn.ID, "billing.secure.example", time.Now(), time.Time{})
	raw, rev, _ := h.store.Domain(ctx, tn.ID, active.Name)
	if _, err := h.store.SetDomainStatus(ctx, raw, rev, tenants.DomainActive, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := h.store.AddDomain(ctx, tn.ID, "pending.secure.example", time.Now(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "active domain indexed", func() bool { _, ok := h.store.TenantByDomain("billing.secure.example"); return ok })

	get := func(host, path, cookie string) (*fasthttp.Response, *tls.ConnectionState, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", tlsLn.Addr().String(),
			&tls.Config{ServerName: host, RootCAs: p.IssuerPool()})
		if err != nil {
			return nil, nil, err
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nConnection: close\r\n\r\n", path, host, cookie)
		var r fasthttp.Response
		if err := r.Read(bufio.NewReader(conn)); err != nil {
			return nil, nil, err
		}
		cs := conn.ConnectionState()
		return &r, &cs, nil
	}
	before := p.Orders()
	for _, host := range []string{"unknown." + base, "evil.example", "pending.secure.example"} {
		if _, _, err := get(host, "/", ""); err == nil {
			t.Errorf("handshake for %s succeeded", host)
		}
	}
	if p.Orders() != before {
		t.Fatalf("refused names reached the CA: %d orders", p.Orders()-before)
	}
	// A link on the custom domain, opened over HTTPS with the issued certificate.
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	url := res["sessionUrl"].(string)
	if !strings.HasPrefix(url, "https://billing.secure.example/s/") {
		t.Fatalf("link %q", url)
	}
	r, cs, err := get("billing.secure.example", strings.TrimPrefix(url, "https://billing.secure.example"), "")
	if err != nil {
		t.Fatalf("HTTPS on the custom domain: %v", err)
	}
	leaf := cs.PeerCertificates[0]
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || leaf.VerifyHostname("billing.secure.example") != nil {
		t.Fatalf("certificate: %T %v", leaf.PublicKey, leaf.DNSNames)
	}
	if r.StatusCode() != 303 || !strings.Contains(string(r.Header.Peek("Strict-Transport-Security")), "max-age=") {
		t.Fatalf("redeem over HTTPS: %d hsts=%q", r.StatusCode(), r.Header.Peek("Strict-Transport-Security"))
	}
	var c fasthttp.Cookie
	c.ParseBytes(r.Header.Peek("Set-Cookie"))
	page, _, err := get("billing.secure.example", "/", string(c.Key())+"="+string(c.Value()))
	if err != nil || page.StatusCode() != 200 || !strings.Contains(string(page.Body()), "Globex") {
		t.Fatalf("portal page over HTTPS: %v", err)
	}
	// The slug host gets its own certificate too.
	if r, cs, err := get("secure."+base, "/", ""); err != nil || r.StatusCode() != 401 || cs.PeerCertificates[0].VerifyHostname("secure."+base) != nil {
		t.Fatalf("slug host over HTTPS: %v", err)
	}
	if p.Orders()-before != 2 {
		t.Errorf("%d orders for two names", p.Orders()-before)
	}
	// Plain HTTP redirects to HTTPS.
	conn, err := net.Dial("tcp", httpLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /x?y=1 HTTP/1.1\r\nHost: secure.%s\r\nConnection: close\r\n\r\n", base)
	var rr fasthttp.Response
	if err := rr.Read(bufio.NewReader(conn)); err != nil || rr.StatusCode() != 308 || string(rr.Header.Peek("Location")) != fmt.Sprintf("https://secure.%s:%d/x?y=1", base, tlsPort) {
		t.Fatalf("HTTP redirect: %v %d %q", err, rr.StatusCode(), rr.Header.Peek("Location"))
	}
}
