// Command testca runs Pebble, Let's Encrypt's ACME test CA, for the benchmark's HTTPS rows: the
// same in-process Pebble with its own DNS server that Portico's certificate tests use
// (certs/pebbletest), kept running as a process until SIGINT/SIGTERM. Portico's on-demand TLS then
// obtains a real certificate for the benchmark's host over real ACME (HTTP-01 / TLS-ALPN-01
// against Portico's own listeners), exactly as in production, only from a local CA.
//
// It writes three files into -dir: directory.url (for `portico serve --acme-ca`), directory-ca.pem
// (--acme-ca-root: the CA of the ACME directory's own TLS certificate) and issuer-root.pem (what a
// client trusts to verify the issued certificate: `loadgen load -ca`), then prints "testca ready".
package main

import (
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/portico-billing/portico/certs/pebbletest"
)

// tb is the testing.TB that pebbletest.Start needs, for a process rather than a test: failures
// end the process, cleanups run at exit. Methods pebbletest does not call are left to the
// embedded nil interface (calling one would panic).
type tb struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func (t *tb) Helper() {}
func (t *tb) Logf(format string, args ...any) {
	log.Printf(format, args...)
}
func (t *tb) Errorf(format string, args ...any) {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	log.Printf(format, args...)
}
func (t *tb) Fatalf(format string, args ...any) { t.cleanup(); log.Fatalf(format, args...) }
func (t *tb) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}
func (t *tb) Cleanup(f func()) {
	t.mu.Lock()
	t.cleanups = append(t.cleanups, f)
	t.mu.Unlock()
}
func (t *tb) cleanup() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func main() {
	httpPort := flag.Int("http-port", 0, "port of 127.0.0.1 where Pebble validates HTTP-01 (Portico's --http-addr)")
	tlsPort := flag.Int("tls-port", 0, "port of 127.0.0.1 where Pebble validates TLS-ALPN-01 (Portico's --https-addr)")
	hosts := flag.String("hosts", "demo.portal.localhost", "comma-separated names the DNS server resolves to 127.0.0.1")
	dir := flag.String("dir", ".", "where to write directory.url, directory-ca.pem and issuer-root.pem")
	flag.Parse()
	t := &tb{}
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: *httpPort, TLSPort: *tlsPort, Log: os.Stderr})
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			p.AddHost(h)
		}
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.IssuerRoot().Raw})
	for name, data := range map[string][]byte{
		"directory.url": []byte(p.DirectoryURL() + "\n"), "directory-ca.pem": p.DirectoryCA(), "issuer-root.pem": root,
	} {
		if err := os.WriteFile(filepath.Join(*dir, name), data, 0o644); err != nil {
			t.Fatalf("%v", err)
		}
	}
	fmt.Fprintln(os.Stderr, "testca ready:", p.DirectoryURL())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	t.cleanup()
}
