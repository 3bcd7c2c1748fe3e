package tenants

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// storedUsage sums the tenant's documents as etcd holds them: what the counter must equal.
func storedUsage(t *testing.T, s *Store, tid string) Usage {
	t.Helper()
	resp, err := s.c.Get(context.Background(), s.k.accounts(tid), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var u Usage
	for _, kv := range resp.Kvs {
		u.Bytes += int64(len(kv.Value))
		u.Accounts++
	}
	return u
}

func mustUsage(t *testing.T, s *Store, tid string) Usage {
	t.Helper()
	u, err := s.Usage(context.Background(), tid)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestUsageFollowsConcurrentWrites: many writers of one tenant (puts of new and existing accounts,
// customer updates, deletes) leave the counter equal to what etcd holds.
func TestUsageFollowsConcurrentWrites(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "usage")
	base := loadExample(t)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 6 {
		wg.Go(func() {
			for i := range 6 {
				a := *base
				a.ID, a.Alias = fmt.Sprintf("acc-%d-%d", w, i%3), ""
				a.Name = strings.Repeat("n", 1+w*10+i)
				if _, _, err := s.PutAccount(ctx, tn.ID, &a, 0); err != nil {
					errs <- err
					return
				}
				if i == 4 {
					_, err := s.UpdateAccount(ctx, tn.ID, a.ID, func(a *account.Account) ([]*Event, error) {
						a.Name += " GmbH"
						return nil, nil
					})
					if err != nil {
						errs <- err
						return
					}
				}
				if i == 5 {
					if err := s.DeleteAccount(ctx, tn.ID, fmt.Sprintf("acc-%d-0", w), 0); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent write: %v", err)
	}
	if got, want := mustUsage(t, s, tn.ID), storedUsage(t, s, tn.ID); got != want || want.Accounts != 12 {
		t.Fatalf("usage counter %+v, etcd holds %+v (want 12 accounts)", got, want)
	}
}

// TestManyWritersOfOneTenantAllLand: a backend pushing one tenant's accounts over many
// connections, to two gateways at once, gets every write stored: this instance's writers of one
// tenant queue instead of colliding on the usage counter, so only the two instances collide and
// nobody runs out of retries.
func TestManyWritersOfOneTenantAllLand(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	other, err := Open(context.Background(), Config{Client: s.c, Prefix: s.k.p, RequestTimeout: testwait.Patience})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	ctx := context.Background()
	tn := mustTenant(t, s, "pushy")
	base := loadExample(t)
	const writers, each = 48, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		st := []*Store{s, other}[w%2]
		wg.Go(func() {
			for i := range each {
				a := *base
				a.ID, a.Alias = fmt.Sprintf("acc-%d-%d", w, i), ""
				if _, _, err := st.PutAccount(ctx, tn.ID, &a, 0); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write refused: %v", err)
	}
	if got, want := mustUsage(t, s, tn.ID), storedUsage(t, s, tn.ID); got != want || want.Accounts != writers*each {
		t.Fatalf("usage counter %+v, etcd holds %+v (want %d accounts)", got, want, writers*each)
	}
}

// TestQuotaRefusesAndStoresNothing: over either limit a write fails with ErrQuotaExceeded naming
// the limit, the document and the counter stay as they were; a smaller document and a delete are
// allowed; zero limits mean the defaults.
func TestQuotaRefusesAndStoresNothing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "quota")
	if tn.AccountByteLimit() != DefaultMaxAccountBytes || tn.AccountLimit() != DefaultMaxAccounts {
		t.Fatalf("zero limits are %d bytes, %d accounts; want the defaults", tn.AccountByteLimit(), tn.AccountLimit())
	}
	a := loadExample(t)
	doc, _ := json.Marshal(a)
	stored := encodeDoc(doc) // the quota counts stored bytes
	tn, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error {
		t.MaxAccounts, t.MaxAccountBytes = 2, int64(2*len(stored)+20)
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2"} {
		b := *a
		b.ID, b.Alias = id, ""
		if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); err != nil {
			t.Fatalf("PutAccount(%s) inside the quota: %v", id, err)
		}
	}
	before := mustUsage(t, s, tn.ID)

	third := *a
	third.ID, third.Alias = "a3", ""
	_, _, err = s.PutAccount(ctx, tn.ID, &third, 0)
	if !errors.Is(err, ErrQuotaExceeded) || !strings.Contains(err.Error(), "max-accounts") {
		t.Fatalf("third account: %v, want ErrQuotaExceeded naming max-accounts", err)
	}
	if _, err := s.Account(ctx, tn.ID, "a3"); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("the refused account was stored: %v", err)
	}

	bigger := *a
	bigger.ID, bigger.Alias, bigger.Name = "a1", "", incompressible(190) // a repeated letter would compress to nothing
	_, _, err = s.PutAccount(ctx, tn.ID, &bigger, 0)
	if !errors.Is(err, ErrQuotaExceeded) || !strings.Contains(err.Error(), "max-account-bytes") {
		t.Fatalf("growing a1 past the byte limit: %v, want ErrQuotaExceeded naming max-account-bytes", err)
	}
	if got := mustUsage(t, s, tn.ID); got != before {
		t.Fatalf("a refused write moved the counter: %+v, was %+v", got, before)
	}

	smaller := *a
	smaller.ID, smaller.Alias, smaller.Invoices, smaller.CreditNotes = "a1", "", nil, nil
	if _, _, err := s.PutAccount(ctx, tn.ID, &smaller, 0); err != nil {
		t.Fatalf("shrinking a1: %v", err)
	}
	if err := s.DeleteAccount(ctx, tn.ID, "a2", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutAccount(ctx, tn.ID, &third, 0); err != nil {
		t.Fatalf("after a delete the third account fits: %v", err)
	}
	if got, want := mustUsage(t, s, tn.ID), storedUsage(t, s, tn.ID); got != want {
		t.Fatalf("usage counter %+v, etcd holds %+v", got, want)
	}
}

// TestUsageCountedForOlderData: a tenant whose accounts were written before the counter existed
// is counted from its documents on the first write, and the quota applies from then on.
func TestUsageCountedForOlderData(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "legacy")
	a := loadExample(t)
	for _, id := range []string{"old1", "old2"} {
		b := *a
		b.ID, b.Alias = id, ""
		if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.c.Delete(ctx, s.k.usage(tn.ID)); err != nil { // as a version without the counter left it
		t.Fatal(err)
	}
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.MaxAccounts = 2; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	b := *a
	b.ID, b.Alias = "new", ""
	if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("third account with two older ones and max 2: %v, want ErrQuotaExceeded", err)
	}
	b.ID = "old1"
	if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := mustUsage(t, s, tn.ID), storedUsage(t, s, tn.ID); got != want || want.Accounts != 2 {
		t.Fatalf("usage counter %+v, etcd holds %+v", got, want)
	}
}

// TestDocumentLimitInStore: the store refuses a document over account.MaxDocumentSize whoever
// calls it (the API, the CLI, a program using the package).
func TestDocumentLimitInStore(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tn := mustTenant(t, s, "bigdoc")
	a := loadExample(t)
	for i := range 300 {
		a.Invoices = append(a.Invoices, account.Invoice{ID: fmt.Sprintf("x%d", i), Status: account.InvPaid,
			Lines: []account.Line{{Description: strings.Repeat("d", 450), Quantity: 1}}})
	}
	_, _, err := s.PutAccount(context.Background(), tn.ID, a, 0)
	if !errors.Is(err, account.ErrInvalid) || !strings.Contains(err.Error(), "the limit is") {
		t.Fatalf("oversized document: %v", err)
	}
}

// incompressible returns n characters of random base64: about 6 bits of entropy each, so a
// document grows by about 3n/4 stored bytes with them.
func incompressible(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
