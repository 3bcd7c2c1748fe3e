package certs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/portico-billing/portico/certs/storagetest"
	"github.com/portico-billing/portico/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var srv *etcdtest.Server

// TestMain runs the tests against one embedded etcd member, or, in a child process started by
// startInstance, a gateway instance instead.
func TestMain(m *testing.M) {
	if js := os.Getenv(instanceEnv); js != "" {
		os.Exit(runInstance(js))
	}
	os.Exit(etcdtest.Main(m, &srv))
}

// newStorage returns a Storage on c under prefix, and checks when the test ends that it has no
// lock state left: every Lock was matched by an Unlock and no gate entry leaked.
func newStorage(t testing.TB, c *clientv3.Client, prefix string, ttl time.Duration) *Storage {
	t.Helper()
	s, err := NewStorage(StorageConfig{Client: c, Prefix: prefix, LockTTL: ttl})
	if err != nil {
		t.Fatalf("NewStorage: %v", err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := len(s.locks); n != 0 {
			t.Errorf("%d lock entries left in the Storage", n)
		}
	})
	return s
}

func TestStorageConformance(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	storagetest.Run(t, func(t *testing.T) certmagic.Storage {
		return newStorage(t, c, etcdtest.Prefix(t), 0)
	})
}

func TestNewStorage(t *testing.T) {
	t.Parallel()
	c := srv.Client(t)
	cases := []struct {
		name       string
		cfg        StorageConfig
		wantPrefix string
		wantTTL    time.Duration
	}{
		{"defaults", StorageConfig{Client: c}, "/portico/certs/", time.Minute},
		{"slash added", StorageConfig{Client: c, Prefix: "/x"}, "/x/", time.Minute},
		{"prefix kept", StorageConfig{Client: c, Prefix: "/x/y/"}, "/x/y/", time.Minute},
		{"ttl rounded up", StorageConfig{Client: c, LockTTL: 1500 * time.Millisecond}, "/portico/certs/", 2 * time.Second},
		{"negative ttl", StorageConfig{Client: c, LockTTL: -time.Second}, "/portico/certs/", time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStorage(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if s.Prefix() != tc.wantPrefix || s.lockTTL != tc.wantTTL || s.leaseTTL != int64(tc.wantTTL/time.Second) {
				t.Errorf("prefix %q, TTL %v (%ds); want %q, %v", s.Prefix(), s.lockTTL, s.leaseTTL, tc.wantPrefix, tc.wantTTL)
			}
		})
	}
	if _, err := NewStorage(StorageConfig{}); err == nil || !strings.HasPrefix(err.Error(), "certs: ") {
		t.Errorf("NewStorage without a client: %v; want a certs: error", err)
	}
	a, _ := NewStorage(StorageConfig{Client: c})
	b, _ := NewStorage(StorageConfig{Client: c})
	if a.HolderID() == b.HolderID() || a.HolderID() == "" {
		t.Errorf("holder ids %q and %q; want unique ones", a.HolderID(), b.HolderID())
	}
}

// TestKeyLayout pins the etcd keys the package documents.
func TestKeyLayout(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	s := newStorage(t, c, prefix, 0)
	const key = "certificates/acme-v02.api.letsencrypt.org-directory/example.com/example.com.crt"
	before := time.Now()
	if err := s.Store(ctx, key, []byte("PEM")); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Get(ctx, prefix+"data/"+key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("raw get of the data key: %v, %d kvs", err, len(resp.Kvs))
	}
	value, modified, err := decode(resp.Kvs[0].Value)
	if err != nil || string(value) != "PEM" || resp.Kvs[0].Value[0] != 1 || modified.Before(before.Truncate(0)) {
		t.Errorf("envelope %x decodes to %q, %v, %v", resp.Kvs[0].Value, value, modified, err)
	}

	const name = "issue_cert_example.com"
	if err := s.Lock(ctx, name); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Get(ctx, prefix+"locks/"+name)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != s.HolderID() || resp.Kvs[0].Lease == 0 {
		t.Fatalf("raw get of the lock key: %v, %+v; want the holder id on a lease", err, resp.Kvs)
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != prefix+"data/"+key {
		t.Errorf("keys under the prefix after Unlock: %v, %v; want only the data key", resp.Kvs, err)
	}
}

// TestKeyNormalisation: keys are cleaned like file system paths; the root is not a value.
func TestKeyNormalisation(t *testing.T) {
	t.Parallel()
	ctx := etcdtest.Ctx(t)
	s := newStorage(t, srv.Client(t), etcdtest.Prefix(t), 0)
	if err := s.Store(ctx, "/a//b/./c/", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a/b/c", "a/b/c/", "/a/b/c", "a/x/../b/c"} {
		if v, err := s.Load(ctx, k); err != nil || string(v) != "v" {
			t.Errorf("Load(%q) = %q, %v", k, v, err)
		}
	}
	if got, err := s.List(ctx, "/a/", false); err != nil || !slices.Equal(got, []string{"a/b"}) {
		t.Errorf("List(/a/) = %q, %v", got, err)
	}
	if got, err := s.List(ctx, "", true); err != nil || !slices.Equal(got, []string{"a/b/c"}) {
		t.Errorf("List of the root = %q, %v", got, err)
	}
	for _, k := range []string{"", "/", "."} {
		if err := s.Store(ctx, k, nil); err == nil {
			t.Errorf("Store(%q) succeeded", k)
		}
		if err := s.Delete(ctx, k); err == nil {
			t.Errorf("Delete(%q) succeeded", k)
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q): %v", k, err)
		}
		if _, err := s.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q): %v", k, err)
		}
		if s.Exists(ctx, k) {
			t.Errorf("Exists(%q) = true", k)
		}
	}
	if !s.Exists(ctx, "a") {
		t.Error("the root Delete removed something")
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	ctx := etcdtest.Ctx(t)
	s := newStorage(t, srv.Client(t), etcdtest.Prefix(t), 0)
	s.listPage = 2
	keys := []string{"p/a/1", "p/a/2", "p/a/3", "p/a.crt", "p/b", "p/c/1", "p/c/d/2"}
	for _, k := range keys {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		recursive bool
		want      []string
	}{
		{false, []string{"p/a", "p/a.crt", "p/b", "p/c"}},
		{true, slices.Sorted(slices.Values(keys))},
	}
	for _, tc := range cases {
		if got, err := s.List(ctx, "p", tc.recursive); err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("List(p, %v) = %q, %v; want %q", tc.recursive, got, err, tc.want)
		}
	}
}

// TestValueAndDirectory: etcd, unlike a file system, can hold a value "a/b" and values beneath
// "a/b/" at once; the Storage treats the name as one entry.
func TestValueAndDirectory(t *testing.T) {
	t.Parallel()
	ctx := etcdtest.Ctx(t)
	s := newStorage(t, srv.Client(t), etcdtest.Prefix(t), 0)
	for _, k := range []string{"a/b", "a/b.crt", "a/b/c"} {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.List(ctx, "a", false); err != nil || !slices.Equal(got, []string{"a/b", "a/b.crt"}) {
		t.Errorf("List(a) = %q, %v; want each name once", got, err)
	}
	if info, err := s.Stat(ctx, "a/b"); err != nil || !info.IsTerminal || info.Size != 3 {
		t.Errorf("Stat(a/b) = %+v, %v; want the value", info, err)
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.List(ctx, "a", true); err != nil || !slices.Equal(got, []string{"a/b.crt"}) {
		t.Errorf("List(a) after Delete(a/b) = %q, %v; want the value and the directory gone", got, err)
	}
}

// TestStatDirectoryModified: a directory's Modified is its newest value's, which certmagic uses
// to pick the most recently used ACME account.
func TestStatDirectoryModified(t *testing.T) {
	t.Parallel()
	ctx := etcdtest.Ctx(t)
	s := newStorage(t, srv.Client(t), etcdtest.Prefix(t), 0)
	for _, k := range []string{"users/a/a.json", "users/b/b.json", "users/a/a.key"} {
		if err := s.Store(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	newest, err := s.Stat(ctx, "users/a/a.key")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"users/a", "users"} {
		if info, err := s.Stat(ctx, dir); err != nil || !info.Modified.Equal(newest.Modified) || info.IsTerminal {
			t.Errorf("Stat(%q) = %+v, %v; want Modified %v of users/a/a.key", dir, info, err, newest.Modified)
		}
	}
	if info, err := s.Stat(ctx, "users/b"); err != nil || !info.Modified.Before(newest.Modified) {
		t.Errorf("Stat(users/b) = %+v, %v; want it older than users/a", info, err)
	}
}

func TestMalformedValue(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	s := newStorage(t, c, prefix, 0)
	for _, raw := range []string{"", "\x01short", "\x02" + strings.Repeat("x", 20)} {
		if _, err := c.Put(ctx, prefix+"data/bad", raw); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(ctx, "bad"); err == nil || errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "certs: loading \"bad\": ") {
			t.Errorf("Load of %q: %v; want a certs: decoding error", raw, err)
		}
		if _, err := s.Stat(ctx, "bad"); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of %q: %v; want a decoding error", raw, err)
		}
	}
}

func TestPrefixIsolation(t *testing.T) {
	t.Parallel()
	ctx, c, prefix := etcdtest.Ctx(t), srv.Client(t), etcdtest.Prefix(t)
	one := newStorage(t, c, prefix+"one", 0)
	two := newStorage(t, c, prefix+"one-two", 0) // a prefix string that extends the other's
	const key, name = "certificates/ca/example.com/example.com.crt", "issue_cert_example.com"
	for _, s := range []*Storage{one, two} {
		if err := s.Store(ctx, key, []byte(s.Prefix())); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.TryLock(ctx, name); !ok || err != nil {
			t.Fatalf("TryLock in %s = %v, %v; want each prefix to have its own locks", s, ok, err)
		}
	}
	for _, s := range []*Storage{one, two} {
		if v, err := s.Load(ctx, key); err != nil || string(v) != s.Prefix() {
			t.Errorf("Load in %s = %q, %v", s, v, err)
		}
		if got, err := s.List(ctx, "", true); err != nil || !slices.Equal(got, []string{key}) {
			t.Errorf("List of the root in %s = %q, %v", s, got, err)
		}
	}
	if err := one.Delete(ctx, "certificates"); err != nil {
		t.Fatal(err)
	}
	if !two.Exists(ctx, key) || one.Exists(ctx, key) {
		t.Error("Delete crossed prefixes")
	}
	for _, s := range []*Storage{one, two} {
		if err := s.Unlock(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if k := string(kv.Key); !strings.HasPrefix(k, one.Prefix()) && !strings.HasPrefix(k, two.Prefix()) {
			t.Errorf("key %q written outside both prefixes", k)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	ctx := etcdtest.Ctx(b)
	s := newStorage(b, srv.Client(b), etcdtest.Prefix(b), 0)
	value := bytes.Repeat([]byte("x"), 3<<10) // a certificate bundle
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Store(ctx, "certificates/ca/example.com/example.com.crt", value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	ctx := etcdtest.Ctx(b)
	s := newStorage(b, srv.Client(b), etcdtest.Prefix(b), 0)
	const key = "certificates/ca/example.com/example.com.crt"
	if err := s.Store(ctx, key, bytes.Repeat([]byte("x"), 3<<10)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}
