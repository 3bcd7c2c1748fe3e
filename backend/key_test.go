package backend

import "testing"

// TestIdempotencyKey: the same parts make the same key; parts split otherwise, in another order,
// or under another prefix make another one; a key fits the protocol's limit.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	base := IdempotencyKey("pay_", "ps_1", "inv_1", "100")
	if again := IdempotencyKey("pay_", "ps_1", "inv_1", "100"); again != base {
		t.Fatalf("the same parts: %q, then %q", base, again)
	}
	// The construction is fixed: a key made before an upgrade names the same attempt after it.
	// pay_ + sha256 of "ps_1\x00inv_1\x00100\x00", computed apart with Python's hashlib.
	if want := "pay_0dc2a63f80ee1faa6b9735c7e1abd52218702662aca2d15341261edaeae8c8c7"; base != want {
		t.Fatalf("key %q, want %q", base, want)
	}
	for _, c := range []struct {
		name string
		key  string
	}{
		{"parts split otherwise", IdempotencyKey("pay_", "ps_1inv_1", "100")},
		{"a part moved across the boundary", IdempotencyKey("pay_", "ps_", "1inv_1", "100")},
		{"other order", IdempotencyKey("pay_", "inv_1", "ps_1", "100")},
		{"another prefix", IdempotencyKey("chg_", "ps_1", "inv_1", "100")},
		{"an empty part more", IdempotencyKey("pay_", "ps_1", "inv_1", "100", "")},
	} {
		if c.key == base {
			t.Errorf("%s: the same key %q", c.name, c.key)
		}
	}
	if len(base) > MaxIdempotencyKey {
		t.Errorf("key of %d characters, over the protocol's %d", len(base), MaxIdempotencyKey)
	}
}
