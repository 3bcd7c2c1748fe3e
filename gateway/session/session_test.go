package session

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/keyring"
)

func newRing(t testing.TB, ids ...string) *keyring.Keyring {
	t.Helper()
	var keys []*keyring.Key
	for _, id := range ids {
		secret := make([]byte, 32)
		rand.Read(secret)
		k, err := keyring.NewKey(id, secret)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	r := new(keyring.Keyring)
	r.Set(keys)
	return r
}

func sample() *Session {
	return &Session{
		ID: []byte("ps_abc"), AccountID: []byte("acc_7Hq2LmX9"), Locale: []byte("de-DE"),
		Switches: 1<<0 | 1<<2 | 1<<31, Expires: time.Now().Add(time.Hour).Unix(), Issued: time.Now().Unix(), CSRF: NewCSRF(),
		Member: []byte("mb_4XQ7ZK2MPA3FE6HN"), Role: 1,
	}
}

// sealPlain seals a plaintext of any layout as Seal would, for cookies of earlier versions.
func sealPlain(r *keyring.Keyring, tenantID string, p []byte) string {
	k := r.Primary()
	out := make([]byte, nonceLen)
	out = k.AEAD().Seal(out, out[:nonceLen], p, []byte(tenantID))
	return k.ID + "." + enc.EncodeToString(out)
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	r := newRing(t, "k1")
	in := sample()
	c, err := Seal(r, "ten_a", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c, "k1.") || strings.Contains(c, "acc_7Hq2LmX9") {
		t.Fatalf("cookie %q is not sealed", c)
	}
	var sc Scratch
	var out Session
	if err := Open(r, "ten_a", []byte(c), time.Now().Unix(), &sc, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.ID) != "ps_abc" || string(out.AccountID) != "acc_7Hq2LmX9" || string(out.Locale) != "de-DE" ||
		out.Switches != in.Switches || out.Expires != in.Expires || out.Issued != in.Issued || out.CSRF != in.CSRF ||
		string(out.Member) != "mb_4XQ7ZK2MPA3FE6HN" || out.Role != 1 {
		t.Fatalf("opened %+v, sealed %+v", out, in)
	}
	if out.Switches&(1<<2) == 0 || out.Switches&(1<<1) != 0 || out.Switches&(1<<31) == 0 {
		t.Fatal("settings bits wrong")
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	r := newRing(t, "k1")
	c, _ := Seal(r, "ten_a", sample())
	raw, _ := enc.DecodeString(c[3:])
	raw[len(raw)-5] ^= 1
	flip := "k1." + enc.EncodeToString(raw)
	expired := sample()
	expired.Expires = time.Now().Add(-time.Second).Unix()
	ec, _ := Seal(r, "ten_a", expired)
	other := newRing(t, "k1")
	oc, _ := Seal(other, "ten_a", sample())
	// A version 3 cookie (no role, no member) of a session that was valid.
	in := sample()
	v3 := []byte{3}
	v3 = binary.BigEndian.AppendUint32(v3, in.Switches)
	v3 = binary.BigEndian.AppendUint64(v3, uint64(in.Expires))
	v3 = binary.BigEndian.AppendUint64(v3, uint64(in.Issued))
	v3 = append(v3, in.CSRF[:]...)
	for _, f := range [][]byte{in.ID, in.AccountID, in.Locale} {
		v3 = append(append(v3, byte(len(f))), f...)
	}
	// The version 4 layout without its last field (Member).
	v4 := append([]byte{version}, v3[1:21]...)
	v4 = append(append(v4, 2), v3[21:]...)
	if err := func() error {
		var sc Scratch
		var s Session
		return Open(r, "ten_a", []byte(sealPlain(r, "ten_a", append(v4, 0))), time.Now().Unix(), &sc, &s)
	}(); err != nil {
		t.Fatalf("the hand-built version 4 cookie does not open: %v", err)
	}
	tests := []struct {
		name, tenant, cookie string
		want                 error
	}{
		{"empty", "ten_a", "", ErrMalformed},
		{"no dot", "ten_a", "k1abc", ErrMalformed},
		{"unknown key", "ten_a", "k9" + c[2:], ErrNoKey},
		{"bad base64", "ten_a", "k1.***", ErrMalformed},
		{"short", "ten_a", "k1.AAAA", ErrMalformed},
		{"tampered", "ten_a", flip, ErrForged},
		{"other tenant", "ten_b", c, ErrForged},
		{"other secret same key id", "ten_a", oc, ErrForged},
		{"expired", "ten_a", ec, ErrExpired},
		{"too long", "ten_a", "k1." + strings.Repeat("A", MaxCookieLen), ErrMalformed},
		{"version 3", "ten_a", sealPlain(r, "ten_a", v3), ErrMalformed},
		{"no member field", "ten_a", sealPlain(r, "ten_a", v4), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sc Scratch
			var s Session
			if err := Open(r, tt.tenant, []byte(tt.cookie), time.Now().Unix(), &sc, &s); !errors.Is(err, tt.want) {
				t.Fatalf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRotationOldKeyStillOpens(t *testing.T) {
	t.Parallel()
	old := newRing(t, "k1")
	c, _ := Seal(old, "ten_a", sample())
	k1 := old.Primary()
	next := newRing(t, "k2")
	next.Set([]*keyring.Key{next.Primary(), k1})
	var sc Scratch
	var s Session
	if err := Open(next, "ten_a", []byte(c), time.Now().Unix(), &sc, &s); err != nil {
		t.Fatalf("cookie of the previous key: %v", err)
	}
	c2, _ := Seal(next, "ten_a", sample())
	if !strings.HasPrefix(c2, "k2.") {
		t.Fatalf("new cookies not sealed with the newest key: %q", c2)
	}
}

func TestOpenDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	r := newRing(t, "k1")
	c, _ := Seal(r, "ten_a", sample())
	cookie := []byte(c)
	var sc Scratch
	var s Session
	now := time.Now().Unix()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := Open(r, "ten_a", cookie, now, &sc, &s); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Open allocates %v times per call, want 0", allocs)
	}
}

func FuzzOpen(f *testing.F) {
	r := newRing(f, "k1")
	c, _ := Seal(r, "ten_a", sample())
	f.Add([]byte(c))
	f.Add([]byte("k1."))
	f.Add([]byte("k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, cookie []byte) {
		var sc Scratch
		var s Session
		err := Open(r, "ten_a", cookie, time.Now().Unix(), &sc, &s)
		if err == nil && !bytes.Equal(cookie, []byte(c)) {
			t.Fatalf("a cookie that was never sealed opened: %q", cookie)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	r := newRing(b, "k1")
	c, _ := Seal(r, "ten_a", sample())
	cookie := []byte(c)
	now := time.Now().Unix()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var sc Scratch
		var s Session
		for pb.Next() {
			if err := Open(r, "ten_a", cookie, now, &sc, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}
