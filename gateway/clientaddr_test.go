package gateway

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/testwait"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/valyala/fasthttp"
)

func requestFrom(peer string, headers ...string) *fasthttp.RequestCtx {
	var ctx fasthttp.RequestCtx
	ctx.SetRemoteAddr(&net.TCPAddr{IP: net.ParseIP(peer), Port: 40000})
	for i := 0; i+1 < len(headers); i += 2 {
		ctx.Request.Header.Add(headers[i], headers[i+1])
	}
	return &ctx
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	const xff, fwd = HeaderXForwardedFor, HeaderForwarded
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		header  string // Config.ProxyHeader
		peer    string
		headers []string
		want    string
	}{
		{"no proxy configured: headers ignored", nil, "", "203.0.113.9", []string{xff, "198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer: headers ignored", trusted, "", "203.0.113.9", []string{xff, "198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer: Forwarded ignored", trusted, fwd, "203.0.113.9", []string{fwd, "for=198.51.100.1"}, "203.0.113.9"},
		{"trusted peer without header", trusted, "", "10.1.2.3", nil, "10.1.2.3"},
		{"one hop", trusted, "", "10.1.2.3", []string{xff, "198.51.100.1"}, "198.51.100.1"},
		{"client-sent entries left of the proxy's are not believed", trusted, "", "10.1.2.3", []string{xff, "1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"trusted hops skipped from the right", trusted, "", "10.1.2.3", []string{xff, "1.2.3.4, 198.51.100.1, 10.9.9.9, fd00::5"}, "198.51.100.1"},
		{"every occurrence, the last read first", trusted, "", "10.1.2.3", []string{xff, "1.2.3.4", xff, "198.51.100.1"}, "198.51.100.1"},
		{"all hops trusted: the leftmost", trusted, "", "10.1.2.3", []string{xff, "10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"garbage stops at the trusted hop", trusted, "", "10.1.2.3", []string{xff, "198.51.100.1, unknown"}, "10.1.2.3"},
		{"garbage behind a trusted hop", trusted, "", "10.1.2.3", []string{xff, "nonsense, 10.0.0.7"}, "10.0.0.7"},
		{"ports and brackets", trusted, "", "10.1.2.3", []string{xff, "[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv4 with a port", trusted, "", "10.1.2.3", []string{xff, "198.51.100.1:4711"}, "198.51.100.1"},
		{"empty elements", trusted, "", "10.1.2.3", []string{xff, "198.51.100.1, ,"}, "198.51.100.1"},
		{"zones refused", trusted, "", "10.1.2.3", []string{xff, "fe80::1%eth0"}, "10.1.2.3"},
		{"v4-mapped peer", trusted, "", "::ffff:10.1.2.3", []string{xff, "198.51.100.1"}, "198.51.100.1"},
		{"v4-mapped hop is its v4 address", trusted, "", "10.1.2.3", []string{xff, "::ffff:198.51.100.1"}, "198.51.100.1"},
		{"X-Forwarded-For mode ignores Forwarded", trusted, "", "10.1.2.3", []string{fwd, "for=1.2.3.4", xff, "198.51.100.1"}, "198.51.100.1"},
		{"Forwarded mode ignores X-Forwarded-For", trusted, fwd, "10.1.2.3", []string{xff, "1.2.3.4"}, "10.1.2.3"},
		{"Forwarded", trusted, fwd, "10.1.2.3", []string{fwd, "for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60"},
		{"Forwarded, case and quotes", trusted, fwd, "10.1.2.3", []string{fwd, `For="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17"},
		{"Forwarded, hops", trusted, fwd, "10.1.2.3", []string{fwd, "for=1.2.3.4, for=192.0.2.60;proto=https, for=10.0.0.9"}, "192.0.2.60"},
		{"Forwarded, unknown", trusted, fwd, "10.1.2.3", []string{fwd, "for=192.0.2.60, for=unknown"}, "10.1.2.3"},
		{"Forwarded, obfuscated", trusted, fwd, "10.1.2.3", []string{fwd, "for=_hidden"}, "10.1.2.3"},
		{"Forwarded without for", trusted, fwd, "10.1.2.3", []string{fwd, "proto=https;by=10.0.0.1"}, "10.1.2.3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := newProxies(c.trusted, c.header)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.clientAddr(requestFrom(c.peer, c.headers...)); got != netip.MustParseAddr(c.want) {
				t.Fatalf("client %v, want %s", got, c.want)
			}
		})
	}
	if _, err := newProxies(nil, "X-Real-IP"); err != ErrProxyHeader {
		t.Fatalf("X-Real-IP: %v", err)
	}
}

// TestClientAddrZeroAllocs: deriving the client behind a chain of proxies allocates nothing.
func TestClientAddrZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	for _, header := range []string{HeaderXForwardedFor, HeaderForwarded} {
		p, _ := newProxies([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, header)
		value := "1.2.3.4, 2001:db8::8, 10.0.0.7"
		if header == HeaderForwarded {
			value = `for=1.2.3.4, for="[2001:db8::8]:4711";proto=https, for=10.0.0.7`
		}
		ctx := requestFrom("10.1.2.3", "X-Forwarded-For", "1.1.1.1", header, value)
		want := netip.MustParseAddr("2001:db8::8")
		allocs := testing.AllocsPerRun(1000, func() {
			if p.clientAddr(ctx) != want {
				t.Fatal("wrong client")
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per request, want 0", header, allocs)
		}
	}
}

// doFrom sends a request over a connection from peer (the TCP peer the gateway sees).
func (h *harness) doFrom(peer, method, host, path string, headers ...string) *fasthttp.Response {
	h.t.Helper()
	addr := &net.TCPAddr{IP: net.ParseIP(peer), Port: 40000}
	c := &fasthttp.Client{Dial: func(string) (net.Conn, error) { return h.ln.DialWithLocalAddr(addr) }}
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://" + host + path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp := fasthttp.AcquireResponse()
	h.t.Cleanup(func() { fasthttp.ReleaseResponse(resp) })
	if err := c.DoTimeout(req, resp, testwait.Patience); err != nil {
		h.t.Fatalf("%s %s%s from %s: %v", method, host, path, peer, err)
	}
	return resp
}

// TestLimitsPerForwardedClient: behind a trusted proxy, the failed-token limit applies to each
// forwarded client, the audit trail records the forwarded client, and a peer that is not a
// trusted proxy cannot pass itself off as another client.
func TestLimitsPerForwardedClient(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, etcdtest.Prefix(t), Limits{RedeemsPerMinute: 6000, FailedTokensPerHour: 36, APIPerSecond: -1},
		func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	var logs syncbuf.Buffer
	h.gw.log = slog.New(slog.NewTextHandler(&logs, nil))
	tn, key := h.tenant("proxied")
	host := "proxied." + base
	const proxy, clientA, clientB, stranger = "10.0.0.2", "198.51.100.7", "2001:db8:aa:bb::1", "203.0.113.50"
	bad := func(i int) string { return "/s/" + strings.Repeat("A", 42) + string(rune('a'+i)) }
	for i := range 10 {
		if r := h.doFrom(proxy, "GET", host, bad(i), "X-Forwarded-For", clientA); r.StatusCode() != 404 {
			t.Fatalf("client A, bad token %d: %d", i, r.StatusCode())
		}
	}
	if r := h.doFrom(proxy, "GET", host, bad(11), "X-Forwarded-For", clientA); r.StatusCode() != 429 {
		t.Fatalf("client A, 11th bad token: %d, want 429", r.StatusCode())
	}
	if !strings.Contains(logs.String(), "out of its failed-token budget") || !strings.Contains(logs.String(), "client="+clientA) || strings.Contains(logs.String(), proxy) {
		t.Fatalf("the log does not name client A (and only A):\n%s", logs.String())
	}
	// Client B, through the same proxy, is not client A.
	if r := h.doFrom(proxy, "GET", host, bad(12), "X-Forwarded-For", clientB); r.StatusCode() != 404 {
		t.Fatalf("client B's first bad token: %d, want 404", r.StatusCode())
	}
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, path := sessionPath(t, res["sessionUrl"].(string))
	if r := h.doFrom(proxy, "GET", host, path, "X-Forwarded-For", "192.0.2.99, "+clientB); r.StatusCode() != 303 {
		t.Fatalf("client B's link: %d", r.StatusCode())
	}
	trail, err := h.store.SessionAudits(context.Background(), tn.ID, "acc_7Hq2LmX9")
	if err != nil || len(trail) != 1 || len(trail[0].Entries) < 2 || trail[0].Entries[1].IP != clientB {
		t.Fatalf("audit trail %+v (%v): want the redemption from %s", trail, err, clientB)
	}
	// A stranger's X-Forwarded-For is ignored: its failures are its own, not client B's, and the
	// audit trail records the stranger.
	for i := range 11 {
		h.doFrom(stranger, "GET", host, bad(i), "X-Forwarded-For", clientB)
	}
	if r := h.doFrom(stranger, "GET", host, bad(12), "X-Forwarded-For", clientB); r.StatusCode() != 429 {
		t.Fatalf("stranger after 12 bad tokens: %d, want 429", r.StatusCode())
	}
	if r := h.doFrom(proxy, "GET", host, bad(13), "X-Forwarded-For", clientB); r.StatusCode() != 404 {
		t.Fatalf("client B after the stranger's failures: %d, want 404", r.StatusCode())
	}
	_, res, _ = h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	_, path = sessionPath(t, res["sessionUrl"].(string))
	if r := h.doFrom(stranger, "GET", host, path, "X-Forwarded-For", clientB); r.StatusCode() != 303 {
		t.Fatalf("stranger's link: %d", r.StatusCode())
	}
	trail, err = h.store.SessionAudits(context.Background(), tn.ID, "acc_7Hq2LmX9")
	if err != nil || len(trail) != 2 || len(trail[0].Entries) < 2 || trail[0].Entries[1].IP != stranger {
		t.Fatalf("audit trail %+v (%v): want the newest redemption from %s", trail, err, stranger)
	}
}

// TestIPv6ClientsLimitedByNetwork: the addresses of one IPv6 /64 share a budget (a host picks any
// of them at will); the next /64 has its own.
func TestIPv6ClientsLimitedByNetwork(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, etcdtest.Prefix(t), Limits{RedeemsPerMinute: 6000, FailedTokensPerHour: 36, APIPerSecond: -1}, nil)
	h.tenant("six")
	host := "six." + base
	bad := "/s/" + strings.Repeat("A", 43)
	for i := range 10 {
		peer := "2001:db8:1:2:" + strconv.Itoa(i+1) + "::1"
		if r := h.doFrom(peer, "GET", host, bad); r.StatusCode() != 404 {
			t.Fatalf("bad token %d from %s: %d", i, peer, r.StatusCode())
		}
	}
	if r := h.doFrom("2001:db8:1:2:ffff:ffff:ffff:ffff", "GET", host, bad); r.StatusCode() != 429 {
		t.Fatalf("11th bad token from the same /64: %d, want 429", r.StatusCode())
	}
	if r := h.doFrom("2001:db8:1:3::1", "GET", host, bad); r.StatusCode() != 404 {
		t.Fatalf("bad token from the next /64: %d, want 404", r.StatusCode())
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"198.51.100.1", "::ffff:198.51.100.1", true},
		{"198.51.100.1", "198.51.100.2", false},
		{"::ffff:198.51.100.1", "::ffff:198.51.100.2", false}, // not one /64
		{"fe80::1%eth0", "fe80::2", true},
	} {
		if got := clientKey(netip.MustParseAddr(c.a)) == clientKey(netip.MustParseAddr(c.b)); got != c.same {
			t.Errorf("%s and %s share a key: %v, want %v", c.a, c.b, got, c.same)
		}
	}
}
