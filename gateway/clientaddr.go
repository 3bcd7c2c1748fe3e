package gateway

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"strings"

	"github.com/portico-billing/portico/internal/bytesconv"
	"github.com/valyala/fasthttp"
)

// The headers a trusted proxy may state the client's address in (Config.ProxyHeader).
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// ErrProxyHeader is returned by New for a Config.ProxyHeader that is neither header.
var ErrProxyHeader = errors.New("gateway: proxy header must be X-Forwarded-For or Forwarded")

// proxies is how the gateway tells a client's address from its TCP peer's.
type proxies struct {
	trusted   []netip.Prefix
	forwarded bool // read Forwarded (RFC 7239), not X-Forwarded-For
}

// ClientAddrFunc returns what Gateway.ClientAddr answers for a gateway whose Config has these
// TrustedProxies and ProxyHeader, for the dashboard, which is built before the gateway that serves
// it. A header other than HeaderXForwardedFor or HeaderForwarded is ErrProxyHeader.
func ClientAddrFunc(trusted []netip.Prefix, header string) (func(*fasthttp.RequestCtx) netip.Addr, error) {
	p, err := newProxies(trusted, header)
	if err != nil {
		return nil, err
	}
	return p.clientAddr, nil
}

func newProxies(trusted []netip.Prefix, header string) (proxies, error) {
	p := proxies{}
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
	case strings.EqualFold(header, HeaderForwarded):
		p.forwarded = true
	default:
		return p, ErrProxyHeader
	}
	for _, t := range trusted {
		if !t.IsValid() {
			continue
		}
		// A v4-mapped range is a v4 range: addresses are compared unmapped.
		if a := t.Addr(); a.Is4In6() && t.Bits() >= 96 {
			t = netip.PrefixFrom(a.Unmap(), t.Bits()-96)
		}
		p.trusted = append(p.trusted, t.Masked())
	}
	return p, nil
}

func (p *proxies) trusts(a netip.Addr) bool {
	for _, t := range p.trusted {
		if t.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client that sent the request: its TCP peer, unless that peer
// is a trusted proxy (Config.TrustedProxies). Then it is the rightmost address of the proxy
// header (Config.ProxyHeader, every occurrence of it, read from the last) that is not itself a
// trusted proxy, or the leftmost when all are: entries left of the first untrusted one were
// written by whoever that is and prove nothing. An entry that is no address ("unknown", an
// obfuscated identifier, garbage) stops the walk at the trusted hop right of it. Headers from a
// peer that is not trusted are ignored entirely. It does not allocate.
func (g *Gateway) ClientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	return g.proxies.clientAddr(ctx)
}

func (p *proxies) clientAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	addr := peerAddr(ctx)
	if len(p.trusted) == 0 || !p.trusts(addr) {
		return addr
	}
	name := HeaderXForwardedFor
	if p.forwarded {
		name = HeaderForwarded
	}
	values := ctx.Request.Header.PeekAll(name)
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for len(v) > 0 {
			elem := v
			v = nil
			if j := bytes.LastIndexByte(elem, ','); j >= 0 {
				elem, v = elem[j+1:], elem[:j]
			}
			elem = bytes.TrimSpace(elem)
			if len(elem) == 0 { // empty list elements are allowed (RFC 9110 §5.6.1)
				continue
			}
			var hop netip.Addr
			var ok bool
			if p.forwarded {
				hop, ok = forwardedFor(elem)
			} else {
				hop, ok = parseNode(elem)
			}
			if !ok {
				return addr
			}
			addr = hop
			if !p.trusts(hop) {
				return addr
			}
		}
	}
	return addr
}

// peerAddr is the request's TCP peer, unmapped (0.0.0.0 when it has none).
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if t, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(t.IP); ok {
			return a.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}

// forwardedFor is the address of the for= parameter of one Forwarded element
// (for=192.0.2.60;proto=https, for="[2001:db8::17]:4711").
func forwardedFor(elem []byte) (netip.Addr, bool) {
	for len(elem) > 0 {
		pair := elem
		elem = nil
		if j := bytes.IndexByte(pair, ';'); j >= 0 {
			pair, elem = pair[:j], pair[j+1:]
		}
		pair = bytes.TrimSpace(pair)
		if len(pair) < 4 || pair[3] != '=' || !bytes.EqualFold(pair[:3], []byte("for")) {
			continue
		}
		v := pair[4:]
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		return parseNode(v)
	}
	return netip.Addr{}, false
}

// parseNode parses a hop's address: an IPv4 or IPv6 address, optionally with a port
// (1.2.3.4:5678, [2001:db8::1]:443). Zones, names and obfuscated identifiers are refused.
func parseNode(b []byte) (netip.Addr, bool) {
	if len(b) > 0 && b[0] == '[' {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return netip.Addr{}, false
		}
		b = b[1:end]
	} else if i := bytes.IndexByte(b, ':'); i >= 0 && bytes.IndexByte(b[i+1:], ':') < 0 {
		b = b[:i] // IPv4 with a port
	}
	if len(b) == 0 || len(b) > 45 || bytes.IndexByte(b, '%') >= 0 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(bytesconv.String(b))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
