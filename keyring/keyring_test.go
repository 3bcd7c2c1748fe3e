package keyring

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// openStore opens a store, still without sealing keys, under a prefix of the test's own.
func openStore(t *testing.T) *tenants.Store {
	t.Helper()
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// follow gives the store its first sealing key and returns a keyring following it.
func follow(t *testing.T, s *tenants.Store) *Keyring {
	t.Helper()
	if err := s.EnsureSealKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := Follow(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rotate adds a sealing key to the store, waits until its watch has it, and returns it.
func rotate(t *testing.T, s *tenants.Store) tenants.SealKey {
	t.Helper()
	k, err := s.RotateSealKey(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "rotated key watched", func() bool { return len(s.SealKeys()) == 2 })
	return k
}

func TestNewKeyRejects(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, id string
		secret   []byte
	}{
		{"empty id", "", make([]byte, 32)},
		{"long id", "k12345678901234567", make([]byte, 32)},
		{"id with a dot", "k.1", make([]byte, 32)},
		{"short secret", "k1", make([]byte, 16)},
	} {
		if _, err := NewKey(tt.id, tt.secret); err == nil {
			t.Errorf("%s: NewKey accepted it", tt.name)
		}
	}
}

// Sealed bytes open only with the same additional data and a key of the ring.
func TestSealBytesOpensOnlyBound(t *testing.T) {
	t.Parallel()
	k1, _ := NewKey("k1", make([]byte, 32))
	other, _ := NewKey("k1", append(make([]byte, 31), 1))
	k2, _ := NewKey("k2", append(make([]byte, 31), 2))
	var r, o, empty Keyring
	r.Set([]*Key{k1})
	o.Set([]*Key{other})
	sealed, err := r.SealBytes("ad", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := empty.SealBytes("ad", []byte("x")); !errors.Is(err, ErrNoKey) {
		t.Fatalf("sealing without a key: %v", err)
	}
	for _, tt := range []struct {
		name   string
		r      *Keyring
		ad     string
		sealed []byte
		want   error
	}{
		{"same ad", &r, "ad", sealed, nil},
		{"other ad", &r, "ad2", sealed, ErrForged},
		{"other secret same id", &o, "ad", sealed, ErrForged},
		{"truncated", &r, "ad", sealed[:10], ErrMalformed},
		{"empty", &r, "ad", nil, ErrMalformed},
		{"no key", &empty, "ad", sealed, ErrNoKey},
	} {
		p, err := tt.r.OpenBytes(tt.ad, tt.sealed)
		if !errors.Is(err, tt.want) || (err == nil && string(p) != "secret") {
			t.Errorf("%s: OpenBytes = %q, %v; want %v", tt.name, p, err, tt.want)
		}
	}
	// After a rotation the new key seals and the old one still opens.
	r.Set([]*Key{k2, k1})
	if p, err := r.OpenBytes("ad", sealed); err != nil || string(p) != "secret" {
		t.Fatalf("old key after rotation: %q, %v", p, err)
	}
	if s2, _ := r.SealBytes("ad", []byte("x")); string(s2[1:3]) != "k2" {
		t.Fatalf("new data sealed with %q, want k2", s2[1:3])
	}
}

// A followed keyring picks up a rotation on Sync: the new key seals, the old one still opens.
func TestFollowSyncsRotation(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	if _, err := Follow(s); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("Follow of a store without keys: %v", err)
	}
	r := follow(t, s)
	sealed, _ := r.SealBytes("ad", []byte("secret"))
	k := rotate(t, s)
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if r.Primary().ID != k.ID {
		t.Fatalf("primary after Sync is %q, want the new %q", r.Primary().ID, k.ID)
	}
	if p, err := r.OpenBytes("ad", sealed); err != nil || string(p) != "secret" {
		t.Fatalf("old key after Sync: %q, %v", p, err)
	}
}

// TestSealFollowsRotationWithoutSync: a background user that only seals and opens (webhook
// delivery) uses the newest key after a rotation on any instance, with no Sync call of its own.
func TestSealFollowsRotationWithoutSync(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	r := follow(t, s)
	old, _ := r.SealBytes("ad", []byte("before"))
	k := rotate(t, s)
	sealed, err := r.SealBytes("ad", []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if id := string(sealed[1 : 1+int(sealed[0])]); id != k.ID {
		t.Fatalf("sealed with %q after the rotation, want the new key %q", id, k.ID)
	}
	if p, err := r.OpenBytes("ad", old); err != nil || string(p) != "before" {
		t.Fatalf("what the old key sealed: %q, %v", p, err)
	}
}
