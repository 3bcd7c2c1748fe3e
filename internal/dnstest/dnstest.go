// Package dnstest runs a small authoritative DNS server for tests: records are set and cleared by
// the test, CNAMEs are followed within the zone, names without records answer NXDOMAIN.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone is the test's DNS data and the server answering from it.
type Zone struct {
	// Addr is the server's UDP address (host:port).
	Addr    string
	mu      sync.Mutex
	records map[string][]dns.RR
}

// Start serves a new empty zone on a loopback UDP port until the test ends.
func Start(t testing.TB) *Zone {
	t.Helper()
	z := &Zone{records: map[string][]dns.RR{}}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	z.Addr = pc.LocalAddr().String()
	s := &dns.Server{PacketConn: pc, Handler: z}
	go s.ActivateAndServe()
	t.Cleanup(func() { s.Shutdown() })
	return z
}

// Set adds records in zone-file syntax, e.g. `a.example. 60 IN A 192.0.2.1`.
func (z *Zone) Set(rr ...string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, s := range rr {
		r, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		k := strings.ToLower(r.Header().Name) + "/" + dns.TypeToString[r.Header().Rrtype]
		z.records[k] = append(z.records[k], r)
	}
}

// Clear removes the records of a name and type ("A", "CNAME", "TXT").
func (z *Zone) Clear(name, typ string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.records, strings.ToLower(dns.Fqdn(name))+"/"+typ)
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	z.mu.Lock()
	defer z.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if rrs, ok := z.records[name+"/CNAME"]; ok && q.Qtype != dns.TypeCNAME {
		m.Answer = append(m.Answer, rrs...)
		name = strings.ToLower(rrs[0].(*dns.CNAME).Target)
	}
	m.Answer = append(m.Answer, z.records[name+"/"+dns.TypeToString[q.Qtype]]...)
	if len(m.Answer) == 0 {
		found := false
		for k := range z.records {
			if strings.HasPrefix(k, name+"/") {
				found = true
			}
		}
		if !found {
			m.Rcode = dns.RcodeNameError
		}
	}
	w.WriteMsg(m)
}
