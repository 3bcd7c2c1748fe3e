package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The suite signs in many times; real parameters cost ~1.4 s per hash under -race. The format and
// the production parameters are checked by TestPasswordHashFormat.
func init() { PasswordParams = Argon2Params{Memory: 64, Time: 1, Threads: 1} }

const goodPassword = "correct horse battery"

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

func TestAdminLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "globex")

	a, err := s.CreateAdmin(ctx, tn.ID, "  Ops@Acme.Example ", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "ops@acme.example" || a.TenantID != tn.ID || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("created %+v", a)
	}
	if strings.Contains(a.PasswordHash, goodPassword) {
		t.Fatal("the password is stored in clear")
	}
	if _, err := s.CreateAdmin(ctx, tn.ID, "OPS@acme.example", goodPassword+"x"); !errors.Is(err, ErrAdminExists) {
		t.Fatalf("duplicate email: %v, want ErrAdminExists", err)
	}
	// The same email may be an admin of another tenant, with its own password.
	if _, err := s.CreateAdmin(ctx, other.ID, "ops@acme.example", "another password!"); err != nil {
		t.Fatalf("same email on another tenant: %v", err)
	}
	for _, c := range []struct{ email, pw string }{{"not-an-email", goodPassword}, {"a@b.example", "short"}, {"x/y@b.example", goodPassword}} {
		if _, err := s.CreateAdmin(ctx, tn.ID, c.email, c.pw); !errors.Is(err, ErrInvalidAdmin) {
			t.Errorf("CreateAdmin(%q, %q) = %v, want ErrInvalidAdmin", c.email, c.pw, err)
		}
	}
	if _, err := s.CreateAdmin(ctx, "ten_missing", "a@b.example", goodPassword); !errors.Is(err, ErrTenantNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}

	now := time.Now()
	got, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "OPS@acme.example", Addr: "192.0.2.1"}, goodPassword, now)
	if err != nil || got.Email != "ops@acme.example" || got.LastSignInAt.IsZero() {
		t.Fatalf("AuthenticateAdmin(right) = %+v, %v", got, err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword+"!", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "nobody@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: "", Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("no tenant: %v", err)
	}
	// Another tenant's password does not open this tenant, and vice versa.
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: other.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("other tenant with this tenant's password: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: other.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "another password!", now); err != nil {
		t.Fatalf("other tenant with its own password: %v", err)
	}

	list, err := s.Admins(ctx, tn.ID)
	if err != nil || len(list) != 1 || list[0].Email != "ops@acme.example" {
		t.Fatalf("Admins = %v, %v", list, err)
	}
	if err := s.SetAdminPassword(ctx, tn.ID, "ops@acme.example", "a brand new password", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after SetAdminPassword: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a brand new password", now); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := s.DeleteAdmin(ctx, tn.ID, "Ops@Acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAdmin(ctx, tn.ID, "ops@acme.example"); !errors.Is(err, ErrAdminNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a brand new password", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted admin: %v", err)
	}
	if l, _ := s.Admins(ctx, other.ID); len(l) != 1 {
		t.Fatalf("deleting on one tenant touched the other: %v", l)
	}
}

func throttledUntil(t *testing.T, err error) time.Time {
	t.Helper()
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) {
		t.Fatalf("err = %v, want a *ThrottledError", err)
	}
	return te.Until
}

func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	// A minute into the next window (the counters' leases are granted on the real clock).
	now := time.Now().Add(SignInWindow).Truncate(SignInWindow).Add(time.Minute)
	windowEnd := now.Truncate(SignInWindow).Add(SignInWindow)
	auth := func(email, addr, pw string, known bool) error {
		_, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: email, Addr: addr, KnownDevice: known}, pw, now)
		return err
	}

	// A known and an unknown email are throttled alike, after the same number of failures.
	for _, email := range []string{"ops@acme.example", "nobody@acme.example"} {
		for i := 1; i <= MaxFailuresPerAccountAddress; i++ {
			if err := auth(email, "192.0.2.1", "wrong password", false); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("%s failure %d: %v", email, i, err)
			}
		}
		if u := throttledUntil(t, auth(email, "192.0.2.1", goodPassword, false)); !u.Equal(windowEnd) {
			t.Fatalf("%s throttled until %v, want the window's end %v", email, u, windowEnd)
		}
	}
	// The owner, from another address, is not locked out by those failures.
	if err := auth("ops@acme.example", "198.51.100.7", goodPassword, false); err != nil {
		t.Fatalf("the owner from another address: %v", err)
	}
	// The record carries no failure count a stranger could drive.
	if b, _ := s.c.Get(ctx, s.k.admin(tn.ID, "ops@acme.example")); strings.Contains(string(b.Kvs[0].Value), "ailed") {
		t.Fatalf("the admin record counts failures: %s", b.Kvs[0].Value)
	}

	// An address that tries many accounts is refused after MaxFailuresPerAddress, whatever the
	// account.
	for i := range MaxFailuresPerAddress {
		if err := auth(fmt.Sprintf("guess%d@acme.example", i), "203.0.113.9", "wrong password", false); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("address failure %d: %v", i+1, err)
		}
	}
	throttledUntil(t, auth("ops@acme.example", "203.0.113.9", goodPassword, false))

	// Many addresses against one account: after MaxFailuresPerAccount only a browser that signed
	// in as the admin before gets through; a new window opens it again.
	// (The account already has MaxFailuresPerAccountAddress failures from the first address.)
	for i := range MaxFailuresPerAccount - MaxFailuresPerAccountAddress {
		if err := auth("ops@acme.example", fmt.Sprintf("198.18.%d.%d", i/4, i%4), "wrong password", false); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("account failure %d: %v", i+1, err)
		}
	}
	throttledUntil(t, auth("ops@acme.example", "198.51.100.7", goodPassword, false))
	if err := auth("ops@acme.example", "198.51.100.7", goodPassword, true); err != nil {
		t.Fatalf("the owner's known browser: %v", err)
	}
	now = windowEnd
	if err := auth("ops@acme.example", "192.0.2.1", goodPassword, false); err != nil {
		t.Fatalf("the next window: %v", err)
	}
}

// A successful sign-in forgets the owner's own typos from that address.
func TestSignInSuccessClearsOwnFailures(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	src := SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}
	for round := range 3 {
		for range MaxFailuresPerAccountAddress - 1 {
			if _, err := s.AuthenticateAdmin(ctx, src, "a typo password", now); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if _, err := s.AuthenticateAdmin(ctx, src, goodPassword, now); err != nil {
			t.Fatalf("round %d, right password: %v", round, err)
		}
	}
}

func TestSignInThrottleHoldsUnderParallelGuesses(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if _, err := s.CreateAdmin(ctx, tn.ID, "ops@acme.example", goodPassword); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for range 20 {
		wg.Go(func() {
			_, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a wrong guess!", now)
			if !errors.Is(err, ErrBadCredentials) {
				if !errors.Is(err, ErrThrottled) {
					t.Errorf("parallel guess: %v", err)
				}
				return // refused without checking the password
			}
			mu.Lock()
			checked++
			mu.Unlock()
		})
	}
	wg.Wait()
	// Between the check and the count at most cap(hashSlots)-1 other guesses can be in flight.
	if checked < MaxFailuresPerAccountAddress || checked > MaxFailuresPerAccountAddress+cap(hashSlots)-1 {
		t.Fatalf("%d of 20 parallel guesses were checked, want %d (+ at most %d in flight)", checked, MaxFailuresPerAccountAddress, cap(hashSlots)-1)
	}
}

func TestCountLinkEmail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	now := time.Now()
	for i := 1; i <= 3; i++ {
		n, err := s.CountLinkEmail(ctx, tn.ID, "acc_1", now)
		if err != nil || n != i {
			t.Fatalf("count %d = %d, %v", i, n, err)
		}
	}
	// Reading the count counts nothing.
	for range 2 {
		if n, err := s.LinkEmailCount(ctx, tn.ID, "acc_1", now); err != nil || n != 3 {
			t.Fatalf("LinkEmailCount = %d, %v, want 3", n, err)
		}
	}
	if n, err := s.LinkEmailCount(ctx, tn.ID, "acc_2", now); err != nil || n != 0 {
		t.Fatalf("LinkEmailCount of an account never counted = %d, %v", n, err)
	}
	if n, _ := s.CountLinkEmail(ctx, tn.ID, "acc_2", now); n != 1 {
		t.Fatalf("another account starts at %d", n)
	}
	other := mustTenant(t, s, "globex")
	if n, _ := s.CountLinkEmail(ctx, other.ID, "acc_1", now); n != 1 {
		t.Fatalf("another tenant's account starts at %d", n)
	}
	if n, _ := s.CountLinkEmail(ctx, tn.ID, "acc_1", now.Add(time.Hour)); n != 1 {
		t.Fatalf("the next hour starts at %d", n)
	}
	resp, err := s.c.Get(ctx, s.k.linkMail(tn.ID, "acc_1", now.Unix()/3600))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the counter key has no lease: %v %v", resp, err)
	}
	ttl, err := s.c.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || ttl.TTL <= 0 || ttl.TTL > 3660+60 {
		t.Fatalf("counter lease TTL %v, %v", ttl, err)
	}
	if _, err := s.CountLinkEmail(ctx, tn.ID, "bad/id", now); err == nil {
		t.Fatal("an invalid account id was counted")
	}
}

func TestDecodeSummary(t *testing.T) {
	t.Parallel()
	doc, err := json.Marshal(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		doc  string
		want AccountSummary
	}{
		{string(doc), AccountSummary{"acc_7Hq2LmX9", "crm-001234", "Globex Corporation", "billing@globex.example"}},
		{`{"id":"a1","name":"Caf\u00e9 \"Le Bon\"","currency":"EUR","email":"late@x.example"}`, AccountSummary{ID: "a1", Name: `Café "Le Bon"`}},
		{` { "currency" : "EUR", "company": {"legalName": "x}\"{", "address": {"line1": "]"}}, "tags": [1, [2, {"a": null}]], "n": -1.5e3,
		   "ok": true, "email": "e@x.example", "id": "a2", "alias": "al", "name": "Reordered" } `, AccountSummary{"a2", "al", "Reordered", "e@x.example"}},
		{`{}`, AccountSummary{}},
	} {
		got, err := decodeSummary([]byte(c.doc))
		if err != nil || got != c.want {
			t.Errorf("decodeSummary(%.40q) = %+v, %v; want %+v", c.doc, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"id":1,"name":"x"}`, `{"id":"a"`, `{"id" "a"}`, `{"x":{"y":1}`, `{"id":"a\"}`, `{"a":}`} {
		if _, err := decodeSummary([]byte(bad)); err == nil {
			t.Errorf("decodeSummary(%q) accepted invalid JSON", bad)
		}
	}
}

func TestListAndWatchAccountSummaries(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	for i := range 5 {
		a := loadExample(t)
		a.ID, a.Alias, a.Name = "acc_"+string(rune('a'+i)), "", "Customer "+string(rune('A'+i))
		if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	var all []AccountSummary
	after, rev := "", int64(0)
	for {
		page, next, at, err := s.ListAccountSummaries(ctx, tn.ID, after, 2, rev)
		if err != nil {
			t.Fatal(err)
		}
		if rev != 0 && at != rev {
			t.Fatalf("page read at revision %d, not the pinned %d", at, rev)
		}
		rev = at
		all = append(all, page...)
		// A write between pages does not show up in the pinned listing.
		a := loadExample(t)
		a.ID, a.Alias = "acc_z"+next, ""
		s.PutAccount(ctx, tn.ID, a, 0)
		if next == "" {
			break
		}
		after = next
	}
	if len(all) != 5 || all[0].ID != "acc_a" || all[4].Name != "Customer E" || all[2].Email != "billing@globex.example" {
		t.Fatalf("listing = %+v", all)
	}
	// The streamed scan sees the same accounts plus the ones written between the pages.
	var scanned []AccountSummary
	scanRev, err := s.ScanAccountSummaries(ctx, tn.ID, func(a AccountSummary) { scanned = append(scanned, a) })
	if err != nil || len(scanned) != 8 || scanned[0] != all[0] || scanRev <= rev || !strings.HasPrefix(scanned[7].ID, "acc_z") {
		t.Fatalf("scan = %+v at %d, %v", scanned, scanRev, err)
	}

	wctx, cancel := context.WithCancel(ctx)
	type change struct {
		id  string
		sum *AccountSummary
	}
	ch := make(chan change, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchAccountSummaries(wctx, tn.ID, rev, func(id string, sum *AccountSummary, _ int64) { ch <- change{id, sum} })
	}()
	next := func() change {
		select {
		case c := <-ch:
			return c
		case <-time.After(testwait.Patience):
			t.Fatal("no change watched")
			return change{}
		}
	}
	// The pages' own writes come first: the watch starts right after the pinned revision.
	for range 3 {
		if c := next(); !strings.HasPrefix(c.id, "acc_z") || c.sum == nil {
			t.Fatalf("watched %+v", c)
		}
	}
	if err := s.DeleteAccount(ctx, tn.ID, "acc_b", 0); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.id != "acc_b" || c.sum != nil {
		t.Fatalf("deletion watched as %+v", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	// After a compaction past the pinned revision, listing and watching from it say so.
	cur, err := s.c.Get(ctx, "compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Compact(ctx, cur.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.ListAccountSummaries(ctx, tn.ID, "", 10, rev); !errors.Is(err, ErrCompacted) {
		t.Fatalf("listing at a compacted revision: %v", err)
	}
	if err := s.WatchAccountSummaries(ctx, tn.ID, rev, func(string, *AccountSummary, int64) {}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watching from a compacted revision: %v", err)
	}
}
