package team

import "testing"

func TestCoarseIP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.x"},
		{"203.0.113.77:52311", "203.0.113.x"},
		{"::ffff:198.51.100.9", "198.51.100.x"},
		{"2001:db8:1:2::5", "2001:db8:1::/48"},
		{"[2001:db8:abcd:12::1]:443", "2001:db8:abcd::/48"},
		{"", ""},
		{"not an address", ""},
	} {
		if got := CoarseIP(c.in); got != c.want {
			t.Errorf("CoarseIP(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
