package webhooks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
)

func TestAddressAllowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr  string
		allow string
		want  bool
	}{
		{"93.184.216.34", "", true},
		{"2606:2800:220:1:248:1893:25c8:1946", "", true},
		{"127.0.0.1", "", false},
		{"127.8.9.10", "", false},
		{"::1", "", false},
		{"10.1.2.3", "", false},
		{"172.16.0.1", "", false},
		{"172.31.255.255", "", false},
		{"172.32.0.1", "", true},
		{"192.168.1.1", "", false},
		{"169.254.169.254", "", false},
		{"fe80::1", "", false},
		{"fe80::1%eth0", "", false},
		{"fd00::1", "", false},
		{"fc00::1", "", false},
		{"0.0.0.0", "", false},
		{"0.1.2.3", "", false},
		{"::", "", false},
		{"224.0.0.1", "", false},
		{"ff02::1", "", false},
		{"100.64.0.1", "", false},
		{"100.127.255.255", "", false},
		{"100.128.0.1", "", true},
		{"255.255.255.255", "", false},
		{"::ffff:127.0.0.1", "", false},
		{"::ffff:10.0.0.1", "", false},
		{"::ffff:93.184.216.34", "", true},
		{"64:ff9b::7f00:1", "", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::5db8:d822", "", true}, // NAT64 of 93.184.216.34
		{"2002:7f00:1::1", "", false},    // 6to4 of 127.0.0.1
		{"2002:5db8:d822::1", "", true},  // 6to4 of 93.184.216.34
		{"127.0.0.1", "127.0.0.0/8", true},
		{"::ffff:127.0.0.1", "127.0.0.0/8", true},
		{"10.9.8.7", "10.0.0.0/8", true},
		{"10.9.8.7", "127.0.0.0/8", false},
		{"192.168.1.1", "10.0.0.0/8", false},
	}
	for _, tc := range tests {
		var allow []netip.Prefix
		if tc.allow != "" {
			allow = []netip.Prefix{netip.MustParsePrefix(tc.allow)}
		}
		if got := AddressAllowed(netip.MustParseAddr(tc.addr), allow); got != tc.want {
			t.Errorf("AddressAllowed(%s, %q) = %v, want %v", tc.addr, tc.allow, got, tc.want)
		}
	}
}

func TestClientRefusesBlockedAddresses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer s.Close()
	for _, u := range []string{s.URL, "http://localhost:" + s.URL[len("http://127.0.0.1:"):]} {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
		_, err := NewClient(nil).Do(req)
		if !errors.Is(err, ErrAddressNotAllowed) {
			t.Errorf("GET %s = %v, want ErrAddressNotAllowed", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests", n)
	}
	c := NewClient([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("allowed range: %v", err)
	}
	resp.Body.Close()
	if tr := c.Transport.(*http.Transport); tr.Proxy != nil {
		t.Error("the client uses a proxy")
	}
}

// TestOutboundClient: without a client of its own a service gets NewClient's address checks; a
// client it is given is copied and never follows redirects, and the given one is left alone.
func TestOutboundClient(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/elsewhere" {
			elsewhere.Add(1)
			return
		}
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	}))
	defer s.Close()
	get := func(c *http.Client) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL, nil)
		return c.Do(req)
	}
	if _, err := get(OutboundClient(nil, nil)); !errors.Is(err, ErrAddressNotAllowed) {
		t.Errorf("default client to loopback: %v, want ErrAddressNotAllowed", err)
	}
	given := &http.Client{}
	resp, err := get(OutboundClient(given, nil))
	if err != nil {
		t.Fatalf("given client: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || elsewhere.Load() != 0 {
		t.Errorf("given client answered %d after %d requests of the redirect's target; want the 307 itself", resp.StatusCode, elsewhere.Load())
	}
	if given.CheckRedirect != nil {
		t.Error("the given client was changed")
	}
}
