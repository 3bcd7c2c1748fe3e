// Package storetest opens the data layer for tests the way a Portico instance does: a
// tenants.Store on the test's etcd prefix, holding the sealing key that every store under that
// prefix shares, and a keyring following it. Tests of the packages that keep keys of their own
// beside the data layer (webhooks, backend) build their worlds on it; the stores talk to a real
// etcd (internal/etcdtest).
package storetest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Open opens a store of prefix on c (patient requests, Logger's logger), closed when the test
// ends, makes sure the prefix has a sealing key (the first store creates it, later ones share
// it), and returns the store with a keyring following its keys. A test that opens several stores
// on one prefix (instances) may seal with any of their keyrings.
func Open(t testing.TB, c *clientv3.Client, prefix string) (*tenants.Store, *keyring.Keyring) {
	t.Helper()
	return OpenWith(t, c, prefix, nil)
}

// OpenWith is Open with a change to the store's Config (edit may be nil): a clock, a logger.
func OpenWith(t testing.TB, c *clientv3.Client, prefix string, edit func(*tenants.Config)) (*tenants.Store, *keyring.Keyring) {
	t.Helper()
	ctx := context.Background()
	cfg := tenants.Config{RequestTimeout: testwait.Patience, Client: c, Prefix: prefix, Logger: Logger()}
	if edit != nil {
		edit(&cfg)
	}
	s, err := tenants.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("storetest: tenants.Open: %v", err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(ctx); err != nil {
		t.Fatalf("storetest: EnsureSealKey: %v", err)
	}
	r, err := keyring.Follow(s)
	if err != nil {
		t.Fatalf("storetest: keyring.Follow: %v", err)
	}
	return s, r
}

// Tenant creates a tenant with the slug, named "Tenant <slug>".
func Tenant(t testing.TB, s *tenants.Store, slug string) *tenants.Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), &tenants.Tenant{Slug: slug, Name: "Tenant " + slug})
	if err != nil {
		t.Fatalf("storetest: CreateTenant: %v", err)
	}
	return tn
}

// Logger is a logger for the services under test: silent, or everything on stderr with -v.
func Logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
