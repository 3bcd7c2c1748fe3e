package tenants

import (
	"strings"
	"testing"
)

// The suite signs in many times; real parameters cost ~1.4 s per hash under -race. The format and
// the production parameters are checked by TestPasswordHashFormat.
func init() { PasswordParams = Argon2Params{Memory: 64, Time: 1, Threads: 1} }

func TestPasswordHashFormat(t *testing.T) {
	t.Parallel()
	h := HashPassword("s3cret-password", Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2})
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Count(h, "$") != 5 {
		t.Fatalf("hash %q is not a PHC argon2id string with the production parameters", h)
	}
	if ok, err := VerifyPassword(h, "s3cret-password"); !ok || err != nil {
		t.Fatalf("VerifyPassword(right) = %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(h, "s3cret-passwore"); ok || err != nil {
		t.Fatalf("VerifyPassword(wrong) = %v, %v", ok, err)
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=64,t=1,p=1$!!$!!"} {
		if _, err := VerifyPassword(bad, "x"); err == nil {
			t.Errorf("VerifyPassword(%q) accepted a malformed hash", bad)
		}
	}
	if a, b := GeneratePassword(), GeneratePassword(); len(a) != 20 || a == b || CheckPassword(a) != nil {
		t.Fatalf("GeneratePassword = %q, %q", a, b)
	}
}
