package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var (
	firstWords  = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Vandelay", "Pied", "Aperture", "Massive", "Gringotts"}
	secondWords = []string{"Corporation", "Industries", "Labs", "Systems", "Holdings", "Logistics", "Foods", "Dynamics", "Partners", "Studio", "Works", "Networks"}
)

// syntheticAccount is the i-th account of a seeded tenant: "Globex Labs 000123",
// alias crm-000123, email billing+000123@<word>.example, with a subscription and two invoices
// so that documents have a realistic size (~900 bytes).
func syntheticAccount(i int) *account.Account {
	amt := int64(4900 + i%100)
	a := &account.Account{
		ID:       fmt.Sprintf("acc_%06d", i),
		Alias:    fmt.Sprintf("crm-%06d", i),
		Name:     fmt.Sprintf("%s %s %06d", firstWords[i%len(firstWords)], secondWords[(i/len(firstWords))%len(secondWords)], i),
		Email:    fmt.Sprintf("billing+%06d@%s.example", i, strings.ToLower(firstWords[i%len(firstWords)])),
		Currency: "EUR",
		Subscriptions: []account.Subscription{{ID: "sub_1", Name: "Pro (monthly)", Status: account.SubActive,
			CurrentPeriodStart: "2026-08-01", CurrentPeriodEnd: "2026-08-31", NextChargeDate: "2026-09-01",
			Items: []account.Item{{Product: "Platform", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &amt}}}},
		Invoices: []account.Invoice{
			{ID: "inv_1", Number: fmt.Sprintf("INV-%06d-1", i), Status: account.InvPaid, IssueDate: "2026-07-01", DueDate: "2026-07-15", Subtotal: 4900, Total: 4900, AmountPaid: 4900},
			{ID: "inv_2", Number: fmt.Sprintf("INV-%06d-2", i), Status: account.InvIssued, IssueDate: "2026-08-01", DueDate: "2026-08-15", Subtotal: 4900, Total: 4900},
		},
	}
	return a
}

// seedAccounts writes n synthetic accounts straight into etcd (documents only, 128 per Txn), as
// PutAccount would store them; it returns the mean document size.
func seedAccounts(tb testing.TB, c *clientv3.Client, prefix, tid string, from, n int) int {
	tb.Helper()
	ctx := context.Background()
	var ops []clientv3.Op
	total := 0
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
			tb.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := from; i < from+n; i++ {
		b, _ := json.Marshal(syntheticAccount(i))
		total += len(b)
		ops = append(ops, clientv3.OpPut(prefix+"state/accounts/"+tid+"/"+fmt.Sprintf("acc_%06d", i), string(b)))
		if len(ops) == 128 {
			flush()
		}
	}
	flush()
	return total / max(n, 1)
}

func openStore(tb testing.TB) (*tenants.Store, *clientv3.Client, string) {
	tb.Helper()
	c := srv.Client(tb)
	prefix := etcdtest.Prefix(tb)
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: c, Prefix: prefix})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s, c, prefix
}

func createTenant(tb testing.TB, s *tenants.Store, slug string) *tenants.Tenant {
	tb.Helper()
	t, err := s.CreateTenant(context.Background(), &tenants.Tenant{Slug: slug, Name: "Tenant " + slug, Portal: tenants.DefaultPortal()})
	if err != nil {
		tb.Fatal(err)
	}
	etcdtest.Wait(tb, "tenant indexed", func() bool { _, ok := s.TenantBySlug(slug); return ok })
	return t
}

func ids(es []*entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func TestSearchIndex(t *testing.T) {
	t.Parallel()
	s, c, prefix := openStore(t)
	ctx := context.Background()
	tn := createTenant(t, s, "acme")
	other := createTenant(t, s, "globex")
	const n = 2000
	size := seedAccounts(t, c, prefix, tn.ID, 0, n)
	seedAccounts(t, c, prefix, other.ID, 5000, 10)

	idx := newSearchIndexes(s, slog.Default(), time.Hour)
	t.Cleanup(idx.close)
	start := time.Now()
	ix, err := idx.get(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the index of %d accounts (%d bytes each) in %v", n, size, time.Since(start))

	all := ix.search("", 0, 25)
	if all.Total != n || len(all.Entries) != 25 {
		t.Fatalf("list all: total %d, %d entries", all.Total, len(all.Entries))
	}
	for i := 1; i < len(all.Entries); i++ {
		if compareEntries(all.Entries[i-1], all.Entries[i]) >= 0 {
			t.Fatalf("not sorted by name: %q before %q", all.Entries[i-1].Name, all.Entries[i].Name)
		}
	}
	if last := ix.search("", n-5, 25); len(last.Entries) != 5 || last.Total != n {
		t.Fatalf("last page: %d entries", len(last.Entries))
	}
	if past := ix.search("", n+100, 25); len(past.Entries) != 0 {
		t.Fatal("a page past the end has entries")
	}

	cases := []struct {
		q     string
		total int
		first string
	}{
		{"acc_000042", 1, "acc_000042"}, // id, exact
		{"CRM-000042", 1, "acc_000042"}, // alias, case-insensitive
		{strings.ToUpper(syntheticAccount(42).Email), 1, "acc_000042"},
		{"crm-00004", 10, ""},                       // alias prefix: 000040-000049
		{"globex", n / len(firstWords), ""},         // name word and email domain, same accounts
		{"GLOBEX LABS", 0, ""},                      // words present but never adjacent in that order? (checked below)
		{"@hooli.example", n / len(firstWords), ""}, // email substring
		{"no such customer", 0, ""},
	}
	for _, c := range cases {
		if c.q == "GLOBEX LABS" {
			// Globex is firstWords[1]; Labs is secondWords[2]: i%16==1 and (i/16)%12==2.
			want := 0
			for i := range n {
				if i%len(firstWords) == 1 && (i/len(firstWords))%len(secondWords) == 2 {
					want++
				}
			}
			c.total = want
		}
		res := ix.search(c.q, 0, 25)
		if res.Total != c.total {
			t.Errorf("search %q: %d matches, want %d", c.q, res.Total, c.total)
		}
		if c.first != "" && (len(res.Entries) == 0 || res.Entries[0].ID != c.first) {
			t.Errorf("search %q: first %v, want %s", c.q, ids(res.Entries), c.first)
		}
	}
	// Exact matches come before prefix matches, which come before the rest.
	res := ix.search("acc_00004", 0, 25)
	if res.Total != 10 || !strings.HasPrefix(res.Entries[0].ID, "acc_00004") {
		t.Fatalf("prefix search: %d %v", res.Total, ids(res.Entries))
	}
	// Another tenant's accounts are never in this index.
	if r := ix.search("acc_005000", 0, 25); r.Total != 0 {
		t.Fatal("another tenant's account is in the index")
	}

	// Timing of one search over the 2,000 accounts (the benchmark does 100,000).
	start = time.Now()
	const rounds = 50
	for range rounds {
		ix.search("example", 0, 25)
	}
	t.Logf("a substring search matching all %d accounts takes %v", n, time.Since(start)/rounds)

	// The watch keeps the index fresh: a new account, a rename, a deletion.
	a := syntheticAccount(9999)
	a.Name, a.Alias, a.Email = "Zed Newcomer", "", "zed@newcomer.example"
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "new account searchable", func() bool { return ix.search("newcomer", 0, 5).Total == 1 })
	a.Name = "Aaron Renamed"
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "rename applied", func() bool {
		r := ix.search("", 0, 1)
		return len(r.Entries) == 1 && r.Entries[0].Name == "Aaron Renamed" && ix.search("zed newcomer", 0, 1).Total == 0
	})
	if err := s.DeleteAccount(ctx, tn.ID, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "deletion applied", func() bool { return ix.search("acc_009999", 0, 1).Total == 0 })
	if r := ix.search("", 0, 1); r.Total != n {
		t.Fatalf("after the changes: %d accounts", r.Total)
	}
	if ix.revision() < s.Revision()-1 && ix.revision() == 0 {
		t.Fatal("the index did not track revisions")
	}
}

func TestSearchIndexConcurrentFirstUseAndIdle(t *testing.T) {
	t.Parallel()
	s, c, prefix := openStore(t)
	tn := createTenant(t, s, "acme")
	seedAccounts(t, c, prefix, tn.ID, 0, 300)
	idx := newSearchIndexes(s, slog.Default(), time.Hour)
	t.Cleanup(idx.close)
	var wg sync.WaitGroup
	got := make([]*tenantIndex, 8)
	for i := range got {
		wg.Go(func() {
			ix, err := idx.get(context.Background(), tn.ID)
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = ix
		})
	}
	wg.Wait()
	for _, ix := range got[1:] {
		if ix != got[0] {
			t.Fatal("concurrent first searches built more than one index")
		}
	}
	if got[0].search("", 0, 1).Total != 300 {
		t.Fatal("index incomplete")
	}
	// An index nobody searched for the idle time is dropped and its watch stopped.
	idx.idle = time.Nanosecond
	got[0].lastUsed.Store(time.Now().Add(-time.Hour).UnixNano())
	idx.mu.Lock()
	idx.evictIdle(time.Now())
	n := len(idx.m)
	idx.mu.Unlock()
	<-got[0].done
	if n != 0 {
		t.Fatal("idle index kept")
	}
}

// BenchmarkSearch100k measures the customer search on 100,000 accounts of one tenant: building
// the index (the first search after start, or after the index idled out) and searching it.
// Seeding 100,000 documents into the embedded etcd takes a few seconds before the timings.
//
//	go test -run '^$' -bench Search100k -benchtime 20x ./gateway/dashboard/
func BenchmarkSearch100k(b *testing.B) {
	const n = 100_000
	s, c, prefix := openStore(b)
	tn := createTenant(b, s, "bench")
	start := time.Now()
	size := seedAccounts(b, c, prefix, tn.ID, 0, n)
	b.Logf("seeded %d accounts of %d bytes in %v", n, size, time.Since(start))
	idx := newSearchIndexes(s, slog.Default(), time.Hour)
	b.Cleanup(idx.close)
	ctx := context.Background()

	b.Run("build", func(b *testing.B) {
		for b.Loop() {
			ix := &tenantIndex{tid: tn.ID}
			if err := ix.build(ctx, s); err != nil {
				b.Fatal(err)
			}
			if len(ix.sorted) != n {
				b.Fatalf("%d entries", len(ix.sorted))
			}
		}
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ix, err := idx.get(ctx, tn.ID)
	if err != nil {
		b.Fatal(err)
	}
	ix.current()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("index of %d accounts with its search snapshot: about %d bytes per account", n, int64(after.HeapAlloc-before.HeapAlloc)/n)
	for _, q := range []struct{ name, q string }{
		{"list-first-page", ""},
		{"exact-alias", "crm-054321"},
		{"substring-few", "00042"},
		{"substring-all", "example"},
		{"no-match", "no such customer"},
	} {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				ix.search(q.q, 0, 25)
			}
		})
	}
}
