package tenants

import (
	"context"
	"fmt"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestBackfillEmailIndex: accounts stored before the billing-email index existed (here: their
// entries deleted) are indexed at start, across pages; a document that changed after it was read is
// left to the entry its own write made; and once done, the scan does not run again.
func TestBackfillEmailIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	etcdtest.Wait(t, "the start's backfill done", func() bool { b, err := s.Meta(ctx, emailIndexDone); return err == nil && b != nil })
	tn := mustTenant(t, s, "backfill")
	const n = backfillPage + 6
	for i := range n {
		putEmailAccount(t, s, tn.ID, fmt.Sprintf("acc_%03d", i), fmt.Sprintf("u%d@acme.example", i))
	}
	putEmailAccount(t, s, tn.ID, "acc_none", "")
	forget := func() {
		t.Helper()
		if _, err := s.c.Delete(ctx, s.k.emailIndexTenant(tn.ID), clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
	}
	forget()
	wantAccounts(t, s, tn.ID, "u0@acme.example")

	// A page read before acc_001 moves to another email: only the unchanged documents are indexed.
	prefix := s.k.p + "state/accounts/"
	page, err := s.c.Get(ctx, s.k.accounts(tn.ID), clientv3.WithPrefix(), clientv3.WithLimit(3))
	if err != nil {
		t.Fatal(err)
	}
	putEmailAccount(t, s, tn.ID, "acc_001", "moved@acme.example")
	if got, err := s.indexEmails(ctx, prefix, page.Kvs); err != nil || got != 2 {
		t.Fatalf("indexEmails of a page with a moved document = %d, %v; want 2", got, err)
	}
	wantAccounts(t, s, tn.ID, "u0@acme.example", "acc_000")
	wantAccounts(t, s, tn.ID, "u1@acme.example")
	wantAccounts(t, s, tn.ID, "moved@acme.example", "acc_001")

	forget()
	if _, err := s.c.Delete(ctx, s.k.meta(emailIndexDone)); err != nil {
		t.Fatal(err)
	}
	got, err := s.backfillEmailIndex(ctx)
	if err != nil || got < n {
		t.Fatalf("backfillEmailIndex = %d, %v; want at least the tenant's %d accounts with an email", got, err, n)
	}
	for _, i := range []int{0, backfillPage - 1, backfillPage, n - 1} {
		wantAccounts(t, s, tn.ID, fmt.Sprintf("u%d@acme.example", i), fmt.Sprintf("acc_%03d", i))
	}
	wantAccounts(t, s, tn.ID, "moved@acme.example", "acc_001")

	// Done once: a later start does not scan again.
	forget()
	if got, err := s.backfillEmailIndex(ctx); err != nil || got != 0 {
		t.Fatalf("second backfillEmailIndex = %d, %v; want 0", got, err)
	}
	wantAccounts(t, s, tn.ID, "u0@acme.example")
}
