package tenants

import (
	"testing"
	"time"
)

// RFC 6238 Appendix B, the SHA1 rows (8 digits, the 20-byte ASCII secret "1234567890…").
func TestTOTPRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		if got := HOTP(secret, uint64(TOTPStepAt(time.Unix(c.unix, 0))), 8); got != c.code {
			t.Errorf("T=%d: %s, want %s", c.unix, got, c.code)
		}
		// Six digits are the last six.
		step, ok := MatchTOTP(secret, c.code[2:], time.Unix(c.unix, 0))
		if !ok || step != TOTPStepAt(time.Unix(c.unix, 0)) {
			t.Errorf("T=%d: MatchTOTP(%s) = %d, %v", c.unix, c.code[2:], step, ok)
		}
	}
	now := time.Unix(1234567890, 0)
	for _, c := range []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"previous step", now.Add(-TOTPStep), true}, {"next step", now.Add(TOTPStep), true},
		{"two steps back", now.Add(-2 * TOTPStep), false}, {"two steps ahead", now.Add(2 * TOTPStep), false},
	} {
		code := HOTP(secret, uint64(TOTPStepAt(c.at)), TOTPDigits)
		if _, ok := MatchTOTP(secret, code, now); ok != c.ok {
			t.Errorf("%s: accepted = %v, want %v", c.name, ok, c.ok)
		}
	}
	if _, ok := MatchTOTP(secret, "12345", now); ok {
		t.Error("a five-digit code was accepted")
	}
}
