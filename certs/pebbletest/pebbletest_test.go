package pebbletest

import (
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"testing"

	"github.com/miekg/dns"
)

// freePort returns a loopback port that nothing listens on (the VA is never asked to validate here).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestDirectory(t *testing.T) {
	p := Start(t, Options{HTTPPort: freePort(t), TLSPort: freePort(t)})
	if block, _ := pem.Decode(p.DirectoryCA()); block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("DirectoryCA is not a PEM certificate: %q", p.DirectoryCA())
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs()}}}
	resp, err := client.Get(p.DirectoryURL())
	if err != nil {
		t.Fatalf("getting the directory with RootCAs: %v", err)
	}
	defer resp.Body.Close()
	var dir map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&dir); err != nil {
		t.Fatal(err)
	}
	if dir["newOrder"] == nil || dir["newAccount"] == nil {
		t.Errorf("directory lacks newOrder or newAccount: %v", dir)
	}
	if p.Orders() != 0 {
		t.Errorf("Orders() = %d before any order", p.Orders())
	}
	if root := p.IssuerRoot(); root == nil || !root.IsCA {
		t.Errorf("IssuerRoot() = %v, want a CA certificate", root)
	}
}

func TestDNS(t *testing.T) {
	p := Start(t, Options{HTTPPort: freePort(t), TLSPort: freePort(t)})
	p.AddHost("Shop.Example.Test.")
	for _, network := range []string{"tcp", "udp"} {
		c := &dns.Client{Net: network}
		for _, tc := range []struct {
			name  string
			qtype uint16
			rcode int
			a     string
		}{
			{"shop.example.test", dns.TypeA, dns.RcodeSuccess, "127.0.0.1"},
			{"SHOP.example.test", dns.TypeA, dns.RcodeSuccess, "127.0.0.1"},
			{"shop.example.test", dns.TypeAAAA, dns.RcodeSuccess, ""},
			{"other.example.test", dns.TypeA, dns.RcodeNameError, ""},
		} {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(tc.name), tc.qtype)
			in, _, err := c.Exchange(m, p.DNSAddr())
			if err != nil {
				t.Fatalf("%s %s %s: %v", network, tc.name, dns.TypeToString[tc.qtype], err)
			}
			if in.Rcode != tc.rcode {
				t.Errorf("%s %s %s: rcode %s, want %s", network, tc.name, dns.TypeToString[tc.qtype],
					dns.RcodeToString[in.Rcode], dns.RcodeToString[tc.rcode])
			}
			var got string
			for _, rr := range in.Answer {
				if a, ok := rr.(*dns.A); ok {
					got = a.A.String()
				}
			}
			if got != tc.a || (tc.a == "" && len(in.Answer) != 0) {
				t.Errorf("%s %s %s: answer %v, want %q", network, tc.name, dns.TypeToString[tc.qtype], in.Answer, tc.a)
			}
		}
	}
}
