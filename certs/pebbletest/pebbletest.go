// Package pebbletest runs Pebble, Let's Encrypt's ACME test CA, inside the test process, with a
// small DNS server of its own, so tests obtain real certificates over real ACME: real orders, real
// HTTP-01 and TLS-ALPN-01 validations against the test's listeners, real issuance. It is a test
// helper for any package of the module (it is not a _test file), and it never talks to the
// internet.
//
// [Start] wires Pebble's packages (ca, db, va, wfe) the way its cmd/pebble does, with:
//
//   - the ACME directory on a loopback HTTPS listener of its own ([Pebble.DirectoryURL]), whose
//     certificate is signed by a CA generated at Start ([Pebble.DirectoryCA], [Pebble.RootCAs]);
//   - a DNS server on loopback (TCP and UDP) that answers A queries for the names the test
//     registered with [Pebble.AddHost] with 127.0.0.1, AAAA queries for them with no record, and
//     NXDOMAIN for every other name; the VA resolves every identifier through it;
//   - the VA validating HTTP-01 on [Options.HTTPPort] and TLS-ALPN-01 on [Options.TLSPort] of
//     127.0.0.1: the ports where the test's gateway listens;
//   - leaf certificates valid for [Options.Validity] (Pebble's one profile, "default"), issued by a
//     chain generated at Start: root ([Pebble.IssuerRoot]) → intermediate → leaf, ECDSA P-256.
//
// Start sets these environment variables of the process, which Pebble reads when it starts:
// PEBBLE_VA_NOSLEEP=1 (no random 0–5 s sleep before each validation), PEBBLE_VA_ALWAYS_VALID=0
// (validations are real), PEBBLE_WFE_NONCEREJECT=0 (no deliberately rejected nonces) and
// PEBBLE_AUTHZREUSE=0 (every order is validated again).
//
// Pebble's VA keeps one goroutine per started Pebble after the test (it has no stop); everything
// else (listeners, DNS server) is closed when the test ends.
package pebbletest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/portico-billing/portico/internal/syncbuf"
)

// Options configures a Pebble.
type Options struct {
	// HTTPPort is the port of 127.0.0.1 where the VA validates HTTP-01. Required.
	HTTPPort int
	// TLSPort is the port of 127.0.0.1 where the VA validates TLS-ALPN-01. Required.
	TLSPort int
	// Validity is the validity period of issued certificates, in whole seconds (rounded up).
	// Default: Pebble's, 90 days. A short one (minutes) puts certificates in their renewal window
	// at once, for renewal tests.
	Validity time.Duration
	// Log receives Pebble's log. Default: kept in memory and written to the test log if the test
	// fails.
	Log io.Writer
}

// Pebble is a running in-process Pebble with its DNS server.
type Pebble struct {
	dirURL  string
	dirCA   []byte
	dirPool *x509.CertPool
	root    *x509.Certificate
	dnsAddr string
	orders  atomic.Int64
	hostsMu sync.Mutex
	hosts   map[string]bool // FQDN, lower-case
}

// Pebble's new-order endpoint (wfe's newOrderPath, unexported).
const newOrderPath = "/order-plz"

// Start starts a Pebble for t and stops it when t ends.
func Start(t testing.TB, opts Options) *Pebble {
	t.Helper()
	if opts.HTTPPort <= 0 || opts.TLSPort <= 0 {
		t.Fatalf("pebbletest: starting: HTTPPort and TLSPort are required (got %d, %d)", opts.HTTPPort, opts.TLSPort)
	}
	if opts.Validity < 0 {
		t.Fatalf("pebbletest: starting: negative validity %v", opts.Validity)
	}
	logw := opts.Log
	if logw == nil {
		buf := &syncbuf.Buffer{}
		logw = buf
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("pebbletest: Pebble's log:\n%s", buf.String())
			}
		})
	}
	logger := log.New(logw, "pebble ", log.LstdFlags|log.Lmicroseconds)

	for k, v := range map[string]string{
		"PEBBLE_VA_NOSLEEP":      "1",
		"PEBBLE_VA_ALWAYS_VALID": "0",
		"PEBBLE_WFE_NONCEREJECT": "0",
		"PEBBLE_AUTHZREUSE":      "0",
	} {
		if err := os.Setenv(k, v); err != nil {
			t.Fatalf("pebbletest: setting %s: %v", k, err)
		}
	}

	p := &Pebble{hosts: make(map[string]bool)}
	p.startDNS(t)

	var period uint64 // 0: Pebble's default
	if opts.Validity > 0 {
		period = uint64((opts.Validity + time.Second - 1) / time.Second)
	}
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "pebbletest", ValidityPeriod: period},
	})
	p.root = authority.GetRootCert(0).Cert
	validator := va.New(logger, opts.HTTPPort, opts.TLSPort, false, p.dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	dirCert, err := p.makeDirectoryCert()
	if err != nil {
		t.Fatalf("pebbletest: making the directory certificate: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pebbletest: listening for the directory: %v", err)
	}
	srv := &http.Server{
		Handler:           p.countOrders(front.Handler()),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{dirCert}, MinVersion: tls.VersionTLS12},
		ErrorLog:          logger,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	p.dirURL = "https://" + ln.Addr().String() + wfe.DirectoryPath
	return p
}

// DirectoryURL returns the URL of the ACME directory, e.g. https://127.0.0.1:41234/dir.
func (p *Pebble) DirectoryURL() string { return p.dirURL }

// DirectoryCA returns, PEM-encoded, the CA certificate that signed the directory's TLS certificate:
// what an ACME client must trust to talk to this Pebble (certs.Config.CARoot).
func (p *Pebble) DirectoryCA() []byte { return bytes.Clone(p.dirCA) }

// RootCAs returns a new pool holding DirectoryCA.
func (p *Pebble) RootCAs() *x509.CertPool { return p.dirPool.Clone() }

// IssuerRoot returns the root of the chain that issues certificates: what a TLS client must trust
// to verify a certificate this Pebble issued.
func (p *Pebble) IssuerRoot() *x509.Certificate { return p.root }

// IssuerPool returns a new pool holding IssuerRoot, for tls.Config.RootCAs.
func (p *Pebble) IssuerPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// Orders returns how many new-order requests Pebble has received so far, successful or not.
func (p *Pebble) Orders() int { return int(p.orders.Load()) }

// DNSAddr returns the host:port of the DNS server (TCP and UDP).
func (p *Pebble) DNSAddr() string { return p.dnsAddr }

// AddHost makes the DNS server answer name (case-insensitive, trailing dot optional) with
// 127.0.0.1, so the VA validates name on the test's listeners. Until then, name is NXDOMAIN and
// every validation of it fails.
func (p *Pebble) AddHost(name string) {
	p.hostsMu.Lock()
	p.hosts[dns.Fqdn(strings.ToLower(name))] = true
	p.hostsMu.Unlock()
}

func (p *Pebble) hasHost(fqdn string) bool {
	p.hostsMu.Lock()
	defer p.hostsMu.Unlock()
	return p.hosts[strings.ToLower(fqdn)]
}

// countOrders counts new-order requests before passing them on.
func (p *Pebble) countOrders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == newOrderPath {
			p.orders.Add(1)
		}
		next.ServeHTTP(w, r)
	})
}

// startDNS starts the DNS server on one loopback port for TCP (which Pebble's VA uses) and UDP.
func (p *Pebble) startDNS(t testing.TB) {
	t.Helper()
	handler := dns.HandlerFunc(p.serveDNS)
	var (
		tcp net.Listener
		udp net.PacketConn
		err error
	)
	for range 20 { // the UDP port of a fresh TCP port can be taken: try another
		tcp, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("pebbletest: listening for DNS over TCP: %v", err)
		}
		udp, err = net.ListenPacket("udp", tcp.Addr().String())
		if err == nil {
			break
		}
		tcp.Close()
	}
	if err != nil {
		t.Fatalf("pebbletest: listening for DNS over UDP: %v", err)
	}
	p.dnsAddr = tcp.Addr().String()
	for _, srv := range []*dns.Server{
		{Listener: tcp, Handler: handler},
		{PacketConn: udp, Handler: handler},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("pebbletest: serving DNS: %v", err)
		}
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
}

// serveDNS answers A queries of registered names with 127.0.0.1, other types of them with no
// record, and anything else with NXDOMAIN.
func (p *Pebble) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	if len(req.Question) != 1 {
		resp.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	switch {
	case !p.hasHost(q.Name):
		resp.SetRcode(req, dns.RcodeNameError)
	case q.Qtype == dns.TypeA && q.Qclass == dns.ClassINET:
		resp.Answer = append(resp.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
			A:   net.IPv4(127, 0, 0, 1).To4(),
		})
	}
	_ = w.WriteMsg(resp)
}

// makeDirectoryCert generates a CA and, signed by it, the directory's certificate for 127.0.0.1 and
// localhost; it keeps the CA in p.dirCA and p.dirPool.
func (p *Pebble) makeDirectoryCert() (tls.Certificate, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "pebbletest directory CA " + strconv.FormatInt(now.UnixNano(), 36)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parsing CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generating directory key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost", "pebble"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("creating directory certificate: %w", err)
	}
	p.dirCA = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	p.dirPool = x509.NewCertPool()
	p.dirPool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}
