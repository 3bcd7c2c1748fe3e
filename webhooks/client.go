package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrAddressNotAllowed is the dial error for an address in a blocked range that the operator has
// not allowed (Config.AllowCIDRs).
var ErrAddressNotAllowed = errors.New("webhooks: address not allowed")

// blocked are the ranges a delivery never dials unless allowed: this host, private networks and
// everything that is not a public unicast address.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network", including the unspecified address
	netip.MustParsePrefix("10.0.0.0/8"),      // RFC 1918
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("127.0.0.0/8"),     // loopback
	netip.MustParsePrefix("169.254.0.0/16"),  // link-local (cloud metadata services live here)
	netip.MustParsePrefix("172.16.0.0/12"),   // RFC 1918
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.168.0.0/16"),  // RFC 1918
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("224.0.0.0/4"),     // multicast
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("::/128"),          // unspecified
	netip.MustParsePrefix("::1/128"),         // loopback
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("2001::/32"),       // Teredo (hides an IPv4 address)
	netip.MustParsePrefix("fc00::/7"),        // unique local
	netip.MustParsePrefix("fe80::/10"),       // link-local
	netip.MustParsePrefix("ff00::/8"),        // multicast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("::ffff:0:0/96"),   // IPv4-mapped (only reached if unmapping failed)
	netip.MustParsePrefix("::/96"),           // deprecated IPv4-compatible
	netip.MustParsePrefix("2002::/16"),       // 6to4: checked through the embedded IPv4 below
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: checked through the embedded IPv4 below
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("3fff::/20"),       // documentation
	netip.MustParsePrefix("5f00::/16"),       // SRv6 SIDs
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("2001:10::/28"),    // deprecated ORCHID
	netip.MustParsePrefix("2001:2::/48"),     // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
}

var (
	sixToFour = netip.MustParsePrefix("2002::/16")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
)

// AddressAllowed reports whether a delivery may connect to a: it is inside one of allow, or it is
// a public unicast address (not loopback, private, link-local, unspecified, multicast, CGNAT,
// 0.0.0.0/8 or otherwise reserved, also when hidden in an IPv4-mapped, 6to4 or NAT64 address).
func AddressAllowed(a netip.Addr, allow []netip.Prefix) bool {
	a = a.WithZone("").Unmap()
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	if !a.IsValid() {
		return false
	}
	if a.Is6() {
		b := a.As16()
		switch {
		case sixToFour.Contains(a):
			return AddressAllowed(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), allow)
		case nat64.Contains(a):
			return AddressAllowed(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), allow)
		}
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// NewClient returns the HTTP client deliveries use by default. Its dialer checks every address it
// is about to connect to, after DNS resolution (so a name that resolves, or re-resolves, into a
// blocked range is refused too), against AddressAllowed. It uses no proxy, whatever the
// environment says, and never follows redirects. Requests are bounded by their context.
func NewClient(allow []netip.Prefix) *http.Client {
	allow = append([]netip.Prefix(nil), allow...)
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot parse %q", ErrAddressNotAllowed, address)
			}
			if !AddressAllowed(ap.Addr(), allow) {
				return fmt.Errorf("%w: %s is in a blocked range", ErrAddressNotAllowed, ap.Addr())
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirects}
}

// OutboundClient returns the client a service calls tenants' URLs with, from its Config.Client
// and Config.AllowCIDRs: NewClient(allow) when given is nil, else a copy of given that never
// follows redirects either (a given client does its own address checks). The webhooks and the
// backend services both use it.
func OutboundClient(given *http.Client, allow []netip.Prefix) *http.Client {
	if given == nil {
		return NewClient(allow)
	}
	c := *given
	c.CheckRedirect = noRedirects
	return &c
}

// noRedirects makes a client return a redirect response as it is.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
