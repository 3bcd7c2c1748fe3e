package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// newStore opens a store under a prefix of its own on the package's etcd member.
func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(etcdtest.Ctx(t), Config{Client: srv.Client(t), Prefix: etcdtest.Prefix(t), RequestTimeout: testwait.Patience})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustTenant(t *testing.T, s *Store, slug string) *Tenant {
	t.Helper()
	tn, err := s.CreateTenant(context.Background(), &Tenant{Slug: slug, Name: "Tenant " + slug})
	if err != nil {
		t.Fatalf("CreateTenant(%q): %v", slug, err)
	}
	etcdtest.Wait(t, "tenant in index", func() bool { _, ok := s.TenantBySlug(slug); return ok })
	return tn
}

func loadExample(t testing.TB) *account.Account {
	t.Helper()
	b, err := os.ReadFile("account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTenantLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	if tn.LinkTTL.D() != DefaultLinkTTL || tn.SessionTTL.D() != DefaultSessionTTL || tn.Branding.AccentColor != DefaultAccentColor {
		t.Fatalf("defaults not applied: %+v", tn)
	}
	if _, err := s.CreateTenant(ctx, &Tenant{Slug: "acme", Name: "Other"}); !errors.Is(err, ErrSlugTaken) {
		t.Fatalf("duplicate slug: %v, want ErrSlugTaken", err)
	}
	for _, bad := range []*Tenant{
		{Slug: "Bad_Slug", Name: "x"}, {Slug: "api", Name: "x"}, {Slug: "ok", Name: ""},
		{Slug: "ok", Name: "x", Branding: Branding{AccentColor: "red"}},
		{Slug: "ok", Name: "x", Branding: Branding{AccentColor: "#14b8a6", AccentTitles: true}}, // 2.4:1: too faint for titles
		{Slug: "ok", Name: "x", LinkTTL: Duration(time.Minute)},
		{Slug: "ok", Name: "x", SessionTTL: Duration(13 * time.Hour)},
	} {
		if _, err := s.CreateTenant(ctx, bad); !errors.Is(err, ErrInvalidTenant) {
			t.Errorf("CreateTenant(%+v) = %v, want ErrInvalidTenant", bad, err)
		}
	}
	up, err := s.UpdateTenant(ctx, "acme", func(t *Tenant) error { t.Slug = "acme2"; t.Name = "Acme 2"; return nil }, nil)
	if err != nil {
		t.Fatalf("UpdateTenant: %v", err)
	}
	etcdtest.Wait(t, "slug change watched", func() bool { _, ok := s.TenantBySlug("acme2"); return ok })
	if _, ok := s.TenantBySlug("acme"); ok {
		t.Fatal("old slug still resolves")
	}
	if got, _ := s.TenantByID(tn.ID); got.Name != "Acme 2" || got.Revision != up.Revision {
		t.Fatalf("index has %+v", got)
	}
	// The old slug is free again.
	mustTenant(t, s, "acme")
	if err := s.DeleteTenant(ctx, "acme2"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant deletion watched", func() bool { _, ok := s.TenantByID(tn.ID); return !ok })
	if len(s.Tenants()) != 1 {
		t.Fatalf("Tenants() = %d, want 1", len(s.Tenants()))
	}
}

func TestWatchSeesDirectEtcdWrite(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tn := mustTenant(t, s, "direct")
	raw := *tn
	raw.Branding.AccentColor = "#ff0000"
	b, _ := json.Marshal(&raw)
	if _, err := s.Client().Put(context.Background(), s.k.tenant(tn.ID), string(b)); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "branding change", func() bool {
		got, _ := s.TenantByID(tn.ID)
		return got.Branding.AccentColor == "#ff0000"
	})
}

func TestLogo(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	mustTenant(t, s, "logo")
	png := []byte("\x89PNG\r\n\x1a\nfake")
	tn, err := s.UpdateTenant(ctx, "logo", func(*Tenant) error { return nil }, &LogoUpdate{Data: png, ContentType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Logo(ctx, tn)
	if err != nil || l == nil || string(l.Data) != string(png) || l.ETag != tn.Branding.LogoETag {
		t.Fatalf("Logo = %+v, %v", l, err)
	}
	if _, err := s.UpdateTenant(ctx, "logo", func(*Tenant) error { return nil }, &LogoUpdate{Data: make([]byte, MaxLogoBytes+1)}); !errors.Is(err, ErrInvalidTenant) {
		t.Fatalf("oversized logo: %v", err)
	}
}

func TestAPIKeys(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "keys-a")
	rec, key, err := s.CreateAPIKey(ctx, a.ID, "backend")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := s.Client().Get(ctx, s.k.apikey(rec.ID))
	if len(raw.Kvs) != 1 || !json.Valid(raw.Kvs[0].Value) || strings.Contains(string(raw.Kvs[0].Value), key[len(key)-20:]) {
		t.Fatalf("stored key record holds the secret: %s", raw.Kvs[0].Value)
	}
	got, err := s.Authenticate(ctx, key)
	if err != nil || got.TenantID != a.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "pk_", key + "x", key[:len(key)-1] + "A", "Bearer " + key} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrKeyInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrKeyInvalid", bad, err)
		}
	}
	b := mustTenant(t, s, "keys-b")
	if err := s.RevokeAPIKey(ctx, b.ID, rec.ID); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("revoking another tenant's key: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, a.ID, rec.ID); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "revocation watched", func() bool {
		_, err := s.Authenticate(ctx, key)
		return errors.Is(err, ErrKeyInvalid)
	})
}

func TestAccounts(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acc")
	other := mustTenant(t, s, "acc-other")
	a := loadExample(t)
	rev, created, err := s.PutAccount(ctx, tn.ID, a, 0)
	if err != nil || !created {
		t.Fatalf("PutAccount = %d %v %v", rev, created, err)
	}
	snap, err := s.Account(ctx, tn.ID, a.ID)
	if err != nil || snap.Revision != rev || snap.Account.Name != "Globex Corporation" {
		t.Fatalf("Account = %+v, %v", snap, err)
	}
	if _, err := s.Account(ctx, other.ID, a.ID); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("other tenant reads account: %v", err)
	}
	if id, err := s.AccountIDByAlias(ctx, tn.ID, "crm-001234"); err != nil || id != a.ID {
		t.Fatalf("alias = %q, %v", id, err)
	}
	// A second account cannot take the alias.
	b := *a
	b.ID = "acc_second"
	if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); !errors.Is(err, ErrAliasTaken) {
		t.Fatalf("duplicate alias: %v", err)
	}
	// but the same alias in another tenant is fine.
	if _, _, err := s.PutAccount(ctx, other.ID, &b, 0); err != nil {
		t.Fatalf("same alias in other tenant: %v", err)
	}
	// If-Match with a stale revision fails and changes nothing.
	a.Name = "Globex Renamed"
	if _, _, err := s.PutAccount(ctx, tn.ID, a, rev-1); !errors.Is(err, ErrRevisionMismatch) {
		t.Fatalf("stale If-Match: %v", err)
	}
	rev2, created, err := s.PutAccount(ctx, tn.ID, a, rev)
	if err != nil || created || rev2 <= rev {
		t.Fatalf("update = %d %v %v", rev2, created, err)
	}
	etcdtest.Wait(t, "cache follows update", func() bool {
		snap, err := s.Account(ctx, tn.ID, a.ID)
		return err == nil && snap.Revision == rev2 && snap.Account.Name == "Globex Renamed"
	})
	// Changing the alias frees the old one.
	a.Alias = "crm-new"
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AccountIDByAlias(ctx, tn.ID, "crm-001234"); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("old alias still resolves: %v", err)
	}
	ids, err := s.AccountIDs(ctx, tn.ID, "", 10)
	if err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("AccountIDs = %v, %v", ids, err)
	}
	if err := s.DeleteAccount(ctx, tn.ID, a.ID, 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "cache follows delete", func() bool {
		_, err := s.Account(ctx, tn.ID, a.ID)
		return errors.Is(err, ErrAccountNotFound)
	})
	if _, err := s.AccountIDByAlias(ctx, tn.ID, "crm-new"); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("alias survives delete: %v", err)
	}
}

// TestStaleFillImpossible interleaves a cache fill with a delete the way a slow reader would: the
// fill read etcd before the delete, and must not land after it.
func TestStaleFillImpossible(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "stale")
	a := loadExample(t)
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	ck := accountCacheKey(tn.ID, a.ID)
	gen := s.fillGuard(ck) // the reader starts
	resp, _ := s.Client().Get(ctx, s.k.account(tn.ID, a.ID))
	if err := s.DeleteAccount(ctx, tn.ID, a.ID, 0); err != nil { // meanwhile: delete
		t.Fatal(err)
	}
	etcdtest.Wait(t, "delete watched", func() bool { return s.Revision() >= resp.Header.Revision+1 })
	stale := &AccountSnapshot{TenantID: tn.ID, Account: a, Revision: resp.Kvs[0].ModRevision}
	s.fill(ck, gen, func() { s.accounts.Set(ck, stale, 1) }) // the reader's late fill
	s.accounts.Wait()
	if _, ok := s.CachedAccount(ck); ok {
		t.Fatal("stale snapshot was cached after the delete")
	}
	if _, err := s.Account(ctx, tn.ID, a.ID); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("Account after delete: %v", err)
	}
}

func newLink(accountID string, ttl time.Duration) *Link {
	now := time.Now()
	return &Link{SessionID: newID("ps_"), AccountID: accountID, Settings: DefaultPortal(), SessionTTL: Duration(time.Hour), ExpiresAt: now.Add(ttl), CreatedAt: now}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "links-a")
	b := mustTenant(t, s, "links-b")
	tok, _, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
	if err != nil || !ValidToken(tok) {
		t.Fatalf("CreateLink = %q, %v", tok, err)
	}
	// Only the hash is stored.
	all, _ := s.Client().Get(ctx, s.Prefix(), clientv3.WithPrefix())
	for _, kv := range all.Kvs {
		if strings.Contains(string(kv.Key), tok) || strings.Contains(string(kv.Value), tok) {
			t.Fatalf("token stored in clear at %s", kv.Key)
		}
	}
	// Another tenant's host finds nothing and consumes nothing.
	if _, err := s.RedeemLink(ctx, b.ID, tok, time.Now(), RedeemInfo{}); !errors.Is(err, ErrLinkNotFound) {
		t.Fatalf("foreign redeem: %v", err)
	}
	l, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{})
	if err != nil || l.AccountID != "acc1" {
		t.Fatalf("redeem = %+v, %v", l, err)
	}
	if _, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{}); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("replay: %v, want ErrLinkUsed", err)
	}
	for _, bad := range []string{"", "short", tok[:42] + "!", NewToken()} {
		if _, err := s.RedeemLink(ctx, a.ID, bad, time.Now(), RedeemInfo{}); !errors.Is(err, ErrLinkNotFound) {
			t.Errorf("RedeemLink(%q) = %v, want ErrLinkNotFound", bad, err)
		}
	}
	exp, _, _ := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
	if _, err := s.RedeemLink(ctx, a.ID, exp, time.Now().Add(2*time.Hour), RedeemInfo{}); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// TestEmailedLinkNeedsConfirmation: an emailed link is read by any number of unconfirmed
// redemptions and peeks without being consumed, then redeemed once by a confirmed one; PeekLink
// consumes no link of either kind and answers like RedeemLink for used, expired and unknown ones.
func TestEmailedLinkNeedsConfirmation(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "emailed")
	el := newLink("acc1", time.Hour)
	el.Kind = LinkKindEmail
	tok, _, err := s.CreateLink(ctx, a.ID, el, CreateLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if l, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{}); !errors.Is(err, ErrLinkNeedsConfirmation) || l == nil || l.Kind != LinkKindEmail {
			t.Fatalf("unconfirmed redeem = %+v, %v; want the link and ErrLinkNeedsConfirmation", l, err)
		}
		if l, err := s.PeekLink(ctx, a.ID, tok, time.Now()); err != nil || l.AccountID != "acc1" {
			t.Fatalf("peek = %+v, %v", l, err)
		}
	}
	if l, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{Confirmed: true}); err != nil || l.AccountID != "acc1" {
		t.Fatalf("confirmed redeem = %+v, %v", l, err)
	}
	for _, confirmed := range []bool{false, true} {
		if _, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{Confirmed: confirmed}); !errors.Is(err, ErrLinkUsed) {
			t.Fatalf("redeem after use (confirmed %v): %v, want ErrLinkUsed", confirmed, err)
		}
	}
	if _, err := s.PeekLink(ctx, a.ID, tok, time.Now()); !errors.Is(err, ErrLinkUsed) {
		t.Fatalf("peek after use: %v, want ErrLinkUsed", err)
	}
	// A redirect link is not consumed by peeks either, and is redeemed without confirmation.
	rt, _, _ := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
	for range 3 {
		if _, err := s.PeekLink(ctx, a.ID, rt, time.Now()); err != nil {
			t.Fatalf("peek of a redirect link: %v", err)
		}
	}
	if _, err := s.PeekLink(ctx, a.ID, rt, time.Now().Add(2*time.Hour)); !errors.Is(err, ErrLinkExpired) {
		t.Fatalf("peek of an expired link: %v, want ErrLinkExpired", err)
	}
	if _, err := s.RedeemLink(ctx, a.ID, rt, time.Now(), RedeemInfo{}); err != nil {
		t.Fatalf("redirect link after peeks: %v", err)
	}
	for _, bad := range []string{"short", NewToken()} {
		if _, err := s.PeekLink(ctx, a.ID, bad, time.Now()); !errors.Is(err, ErrLinkNotFound) {
			t.Errorf("PeekLink(%q) = %v, want ErrLinkNotFound", bad, err)
		}
	}
}

func TestConcurrentRedemptionExactlyOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "race")
	tok, _, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var wins, used atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, ErrLinkUsed):
				used.Add(1)
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || used.Load() != 99 {
		t.Fatalf("wins = %d, used = %d; want 1 and 99", wins.Load(), used.Load())
	}
}

func TestIdempotentLinkCreation(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "idem")
	opt := CreateLinkOptions{IdempotencyKey: "key-1", RequestHash: "h1", Response: func(tok string) ([]byte, error) { return []byte("sealed:" + tok), nil }}
	tok, replay, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), opt)
	if err != nil || tok == "" || replay != nil {
		t.Fatalf("first = %q %q %v", tok, replay, err)
	}
	tok2, replay, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), opt)
	if err != nil || tok2 != "" || string(replay) != "sealed:"+tok {
		t.Fatalf("replay = %q %q %v", tok2, replay, err)
	}
	opt.RequestHash = "h2"
	if _, _, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), opt); !errors.Is(err, ErrIdempotency) {
		t.Fatalf("different body: %v", err)
	}
	// The replayed creation made no second link.
	links, _ := s.Client().Get(ctx, s.k.links(a.ID), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if links.Count != 1 {
		t.Fatalf("%d links stored, want 1", links.Count)
	}
}

func TestRelistAfterCompaction(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "compact")
	// Stop the watch from seeing anything, write, compact, then let it resume: it must re-list.
	s.cancel()
	<-s.done
	raw := *tn
	raw.Name = "Renamed while away"
	b, _ := json.Marshal(&raw)
	resp, err := s.Client().Put(ctx, s.k.tenant(tn.ID), string(b))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Put(ctx, s.k.state()+"filler", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client().Compact(ctx, resp.Header.Revision+1); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.watch(wctx, tn.Revision)
	etcdtest.Wait(t, "re-list after compaction", func() bool {
		got, ok := s.TenantByID(tn.ID)
		return ok && got.Name == "Renamed while away"
	})
}

// TestWatchResumesAfterReconnect stops etcd under a running store and starts it again: the watch
// must resume on its own and deliver changes made after the restart.
func TestWatchResumesAfterReconnect(t *testing.T) {
	t.Parallel()
	own, err := etcdtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	s, err := Open(context.Background(), Config{Client: own.Client(t), Prefix: "/portico/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	tn := mustTenant(t, s, "reconnect")
	own.Stop()
	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	var up *Tenant
	etcdtest.Wait(t, "etcd answering after restart", func() bool {
		up, err = s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.Name = "After restart"; return nil }, nil)
		return err == nil
	})
	etcdtest.Wait(t, "watch resumed", func() bool {
		got, _ := s.TenantByID(tn.ID)
		return got.Name == "After restart" && got.Revision == up.Revision
	})
}

func outboxEvents(t *testing.T, s *Store, typ string) []Event {
	t.Helper()
	resp, err := s.Client().Get(context.Background(), s.OutboxPrefix(), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for _, kv := range resp.Kvs {
		var e Event
		if err := json.Unmarshal(kv.Value, &e); err != nil {
			t.Fatal(err)
		}
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestLinkEventsWrittenWithTheirChange(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a := mustTenant(t, s, "events")
	tok, _, err := s.CreateLink(ctx, a.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := outboxEvents(t, s, EventPortalSessionCreated); len(got) != 1 || got[0].TenantID != a.ID {
		t.Fatalf("created events = %+v", got)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() { defer wg.Done(); s.RedeemLink(ctx, a.ID, tok, time.Now(), RedeemInfo{}) }()
	}
	wg.Wait()
	if got := outboxEvents(t, s, EventPortalSessionRedeemed); len(got) != 1 || !strings.Contains(string(got[0].Data), "acc1") {
		t.Fatalf("redeemed events after 20 concurrent redemptions = %+v, want exactly 1", got)
	}
}

func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "update")
	a := loadExample(t)
	rev, _, err := s.PutAccount(ctx, tn.ID, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account(ctx, tn.ID, a.ID); err != nil { // cached now
		t.Fatal(err)
	}
	rev2, err := s.UpdateAccount(ctx, tn.ID, a.ID, func(a *account.Account) ([]*Event, error) {
		a.AutoPay.Enabled = false
		e, err := NewEvent(tn.ID, EventAutopayUpdated, a.AutoPay, time.Now())
		return []*Event{e}, err
	})
	if err != nil || rev2 <= rev {
		t.Fatalf("UpdateAccount = %d, %v", rev2, err)
	}
	// This instance reads the new revision at once, without waiting for the watch.
	snap, err := s.Account(ctx, tn.ID, a.ID)
	if err != nil || snap.Revision != rev2 || snap.Account.AutoPay.Enabled {
		t.Fatalf("read after update: %+v %v", snap, err)
	}
	if got := outboxEvents(t, s, EventAutopayUpdated); len(got) != 1 {
		t.Fatalf("events = %d, want 1", len(got))
	}
	// Nothing to do: nothing written.
	rev3, err := s.UpdateAccount(ctx, tn.ID, a.ID, func(*account.Account) ([]*Event, error) { return nil, ErrNoChange })
	if err != nil || rev3 != rev2 {
		t.Fatalf("no-op update = %d, %v", rev3, err)
	}
	// An invalid result is refused and changes nothing, event included.
	_, err = s.UpdateAccount(ctx, tn.ID, a.ID, func(a *account.Account) ([]*Event, error) {
		a.Currency = "XXXX"
		e, _ := NewEvent(tn.ID, EventBillingDetailsUpdated, nil, time.Now())
		return []*Event{e}, nil
	})
	if !errors.Is(err, account.ErrInvalid) || len(outboxEvents(t, s, EventBillingDetailsUpdated)) != 0 {
		t.Fatalf("invalid update: %v", err)
	}
	if _, err := s.UpdateAccount(ctx, tn.ID, "nope", func(*account.Account) ([]*Event, error) { return nil, nil }); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("missing account: %v", err)
	}
}

// BenchmarkAccountSnapshot is the page path's account lookup on a cache hit.
func BenchmarkAccountSnapshot(b *testing.B) {
	s, err := Open(context.Background(), Config{Client: srv.Client(b), Prefix: etcdtest.Prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tn, _ := s.CreateTenant(context.Background(), &Tenant{Slug: "bench", Name: "Bench"})
	raw, _ := os.ReadFile("account/testdata/account.json")
	a, _ := account.Decode(raw)
	if _, _, err := s.PutAccount(context.Background(), tn.ID, a, 0); err != nil {
		b.Fatal(err)
	}
	s.Account(context.Background(), tn.ID, a.ID)
	s.Wait()
	key := accountCacheKey(tn.ID, a.ID)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.CachedAccount(key); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// TestAccentTitles: a tenant may paint titles in its accent only while the accent reads on the
// portal's page (4.5:1); the refusal says why, and the choice survives a round trip through etcd.
func TestAccentTitles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		accent       string
		accentTitles bool
		ok           bool
	}{
		{"#0f766e", true, true},  // teal 5.2:1
		{"#4f46e5", true, true},  // the default accent
		{"#14b8a6", true, false}, // light teal 2.4:1
		{"#ffeb3b", true, false}, // yellow
		{"#14b8a6", false, true}, // a faint accent is fine for links (the portal darkens them)
		{"#ffffff", false, true}, // likewise
		{"#000000", true, true},  // black reads
		{"#767676", true, false}, // 4.5:1 on white but 4.2:1 on the page
	} {
		tn := &Tenant{Slug: "ok", Name: "x", Branding: Branding{AccentColor: tt.accent, AccentTitles: tt.accentTitles}}
		tn.normalize()
		err := tn.Validate()
		if tt.ok != (err == nil) {
			t.Errorf("accent %s, accent titles %v: Validate() = %v, want ok %v", tt.accent, tt.accentTitles, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidTenant) || !strings.Contains(err.Error(), "titles in the accent colour need an accent with at least 4.5:1 contrast")) {
			t.Errorf("accent %s: the refusal does not say why: %v", tt.accent, err)
		}
	}
	s := newStore(t)
	ctx := context.Background()
	id := mustTenant(t, s, "acme").ID
	up, err := s.UpdateTenant(ctx, id, func(t *Tenant) error {
		t.Branding.AccentColor, t.Branding.AccentTitles = "#0f766e", true
		return nil
	}, nil)
	if err != nil || !up.Branding.AccentTitles {
		t.Fatalf("UpdateTenant: %+v %v", up, err)
	}
	if _, err := s.UpdateTenant(ctx, id, func(t *Tenant) error { t.Branding.AccentColor = "#14b8a6"; return nil }, nil); !errors.Is(err, ErrInvalidTenant) {
		t.Fatalf("a faint accent kept for titles: %v, want ErrInvalidTenant", err)
	}
}

// TestSourceModeNeedsBackend: UpdateTenant refuses to turn source mode on without a registered
// backend, whoever asks (API, CLI, dashboard), and stores nothing; with one it turns on, and a
// tenant already in source mode may change its TTL or turn it off.
func TestSourceModeNeedsBackend(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := etcdtest.Ctx(t)
	tn := mustTenant(t, s, "srcmode")
	on := func(tt *Tenant) error {
		tt.Source = SourceSettings{Enabled: true, TTL: Duration(time.Minute)}
		return nil
	}
	if _, err := s.UpdateTenant(ctx, tn.ID, on, nil); !errors.Is(err, ErrSourceNeedsBackend) {
		t.Fatalf("source mode on without a backend: %v, want ErrSourceNeedsBackend", err)
	}
	if got, err := s.Tenant(ctx, tn.ID); err != nil || got.Source.Enabled || got.Source.TTL != 0 {
		t.Fatalf("after the refusal the tenant's source is %+v (%v)", got.Source, err)
	}
	// Package backend registers a backend under this key. Turning source mode on right after
	// works: UpdateTenant reads the key from etcd, not from the watched index, which may lag.
	if _, err := srv.Client(t).Put(ctx, s.k.backend(tn.ID), "{}"); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateTenant(ctx, tn.ID, on, nil)
	if err != nil || !got.Source.Enabled {
		t.Fatalf("source mode on with a backend: %+v, %v", got, err)
	}
	if _, err := srv.Client(t).Delete(ctx, s.k.backend(tn.ID)); err != nil {
		t.Fatal(err)
	}
	got, err = s.UpdateTenant(ctx, tn.ID, func(tt *Tenant) error { tt.Source.TTL = Duration(time.Hour); return nil }, nil)
	if err != nil || !got.Source.Enabled || got.Source.TTL.D() != time.Hour {
		t.Fatalf("changing the TTL of a tenant in source mode without a backend: %+v, %v", got, err)
	}
	if got, err = s.UpdateTenant(ctx, tn.ID, func(tt *Tenant) error { tt.Source.Enabled = false; return nil }, nil); err != nil || got.Source.Enabled {
		t.Fatalf("turning source mode off: %+v, %v", got, err)
	}
}
