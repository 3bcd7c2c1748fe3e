package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Source mode: a tenant whose billing system is the only copy of its account documents (or whose
// accounts should not live in the gateway's etcd) sets Tenant.Source. Its documents are then
// fetched on demand from an AccountSource (package backend: GET <backend url>/accounts/{id}) and
// cached in memory, in the same account cache as documents read from etcd, keyed alike
// ("<tenantID>/<accountID>"), with the source's ETag and the time of the fetch:
//
//   - within the tenant's TTL a cached copy is served as is (AccountSnapshot.Current: no I/O);
//   - after it, the next read revalidates it (If-None-Match): 304 keeps the copy (and the pages
//     rendered from it) and restarts its TTL, 200 replaces it, 404 drops it (ErrAccountNotFound);
//   - one fetch per account at a time on an instance (single flight): concurrent readers of an
//     uncached account wait for the same answer;
//   - a source that fails (times out, errs, answers something that is not a valid document)
//     leaves a cached copy in service, stale (AccountSnapshot.Expired), asked again after
//     Config.SourceRetry; without a copy the read fails with ErrSourceUnavailable (which wraps
//     ErrUnavailable: 503);
//   - RefreshAccount drops the copy on every instance through a watched key
//     (state/refresh/<tenantID>/<accountID>, leased for a minute).
//
// Nothing of a source-mode account is written to etcd: PutAccount and DeleteAccount refuse with
// ErrSourceMode; PutAccountWithEvents (a document a backend returned to an action) and
// UpdateAccount (a customer's change in the portal) put the new document into this instance's
// cache without an ETag (so its next revalidation fetches the source's document whole), drop the
// other instances' copies, and write only the events (with their audit entries) to etcd.

// Bounds and defaults of source mode.
const (
	DefaultSourceTTL = 5 * time.Minute
	MinSourceTTL     = 10 * time.Second
	MaxSourceTTL     = 24 * time.Hour
	// DefaultSourceRetry is how long a stale copy is served after a failed revalidation before
	// the source is asked again (Config.SourceRetry).
	DefaultSourceRetry = 15 * time.Second
	// refreshKeyTTL is about how long a refresh key lives in etcd (a lease bucket's minute).
	refreshKeyTTL = time.Minute
)

// SourceSettings is a tenant's source mode (Tenant.Source).
type SourceSettings struct {
	// Enabled makes the tenant's backend the source of its account documents.
	Enabled bool `json:"enabled"`
	// TTL is how long a fetched document is served before it is revalidated (MinSourceTTL to
	// MaxSourceTTL; 0 means DefaultSourceTTL).
	TTL Duration `json:"ttl,omitzero"`
}

// TTLOrDefault is the TTL, or DefaultSourceTTL when none is set.
func (s SourceSettings) TTLOrDefault() time.Duration {
	if s.TTL == 0 {
		return DefaultSourceTTL
	}
	return s.TTL.D()
}

// Errors of source mode.
var (
	// ErrSourceUnavailable: the source did not give a usable answer and no copy is cached. It
	// comes wrapped with ErrUnavailable.
	ErrSourceUnavailable = errors.New("tenants: the account source is not answering")
	// ErrSourceMode: the tenant's documents live in its source; they are not written through the
	// API (PUT, DELETE /v1/accounts).
	ErrSourceMode = errors.New("tenants: the tenant's account documents live in its source (source mode)")
	// ErrNotSourceMode: the tenant is not in source mode (RefreshAccount has nothing to drop).
	ErrNotSourceMode = errors.New("tenants: the tenant is not in source mode")
	// ErrSourceNeedsBackend: UpdateTenant refuses to turn source mode on for a tenant without a
	// registered backend (it would have nowhere to fetch documents from). A tenant already in
	// source mode keeps it when its backend is removed; its pages then say the source is not
	// answering.
	ErrSourceNeedsBackend = errors.New("tenants: source mode needs a registered backend")
)

// SourceQuery asks an AccountSource for one document: by AccountID, or by Alias when AccountID
// is empty. ETag, when not empty, is the cached copy's: the source may answer NotModified.
type SourceQuery struct {
	AccountID string
	Alias     string
	ETag      string
}

// SourceAnswer is an AccountSource's answer: NotModified (the copy whose ETag was sent is
// current), or the document's JSON as the source sent it (decoded and validated by the store)
// with its ETag ("" when it sent none).
type SourceAnswer struct {
	NotModified bool
	Document    []byte
	ETag        string
}

// AccountSource fetches account documents of source-mode tenants (package backend's Service is
// one). FetchAccount returns an error wrapping ErrAccountNotFound when the source has no such
// account; any other error is a failure of the source. It bounds its own time.
type AccountSource interface {
	FetchAccount(ctx context.Context, tenantID string, q SourceQuery) (SourceAnswer, error)
}

type sourceBox struct{ src AccountSource }

// UseAccountSource sets where source-mode tenants' documents come from. `portico serve` calls it
// once, after making the backend service (which needs the store, so the store cannot take it
// when opened), before serving. Without a source, source-mode accounts that are not cached are
// ErrSourceUnavailable.
func (s *Store) UseAccountSource(src AccountSource) { s.source.Store(&sourceBox{src}) }

// SourceMode reports, from the in-memory index, whether the tenant is in source mode.
func (s *Store) SourceMode(tenantID string) bool {
	t, ok := s.TenantByID(tenantID)
	return ok && t.Source.Enabled
}

func (s *Store) sourceTenant(tenantID string) (*Tenant, bool) {
	t, ok := s.TenantByID(tenantID)
	return t, ok && t.Source.Enabled
}

// Expired reports whether a document fetched from a source is past its TTL at now (it is then
// revalidated, or, when the source failed, served stale). A document read from etcd never is.
// It does not allocate.
func (snap *AccountSnapshot) Expired(now time.Time) bool {
	e := snap.expiresAt.Load()
	return e != 0 && now.UnixNano() >= e
}

// FromSource reports whether the document was fetched from the tenant's source (or put into the
// cache by an action of a source-mode account) rather than read from etcd.
func (snap *AccountSnapshot) FromSource() bool { return snap.expiresAt.Load() != 0 }

// FetchedAt is when a source's document was fetched or last revalidated (zero for etcd's).
func (snap *AccountSnapshot) FetchedAt() time.Time {
	if n := snap.fetchedAt.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// Current reports whether a cached snapshot can be served for tenant t at now without asking
// the store: read from etcd for a tenant not in source mode, or fetched from the source within
// its TTL for one in source mode. It does not allocate: the page's hot path calls it on every
// cache hit, and asks Store.Account when it is false.
func (snap *AccountSnapshot) Current(t *Tenant, now time.Time) bool {
	if !t.Source.Enabled {
		return !snap.FromSource()
	}
	return snap.FromSource() && !snap.Expired(now)
}

// sourceRevision is a source document's Revision: a hash of its JSON (positive), the same on every
// instance for the same document.
func sourceRevision(doc []byte) int64 {
	h := fnv.New64a()
	h.Write(doc)
	r := int64(h.Sum64() &^ (1 << 63))
	if r == 0 {
		r = 1
	}
	return r
}

func (s *Store) newSourceSnapshot(t *Tenant, a *account.Account, doc []byte, etag string, now time.Time) *AccountSnapshot {
	snap := &AccountSnapshot{TenantID: t.ID, Account: a, Revision: sourceRevision(doc), Locale: a.Locale, Memo: new(Memo), ETag: etag}
	snap.fetchedAt.Store(now.UnixNano())
	snap.expiresAt.Store(now.Add(t.Source.TTLOrDefault()).UnixNano())
	return snap
}

// sourceAccount is Account for a source-mode tenant.
func (s *Store) sourceAccount(ctx context.Context, t *Tenant, accountID string) (*AccountSnapshot, error) {
	ck := accountCacheKey(t.ID, accountID)
	if snap, ok := s.usableSource(ck, s.now()); ok {
		return snap, nil
	}
	if !account.ValidID(accountID) {
		return nil, fmt.Errorf("loading account %q: %w", accountID, ErrAccountNotFound)
	}
	// One fetch at a time per account; it runs on for the others if its first caller leaves.
	v, err, _ := s.flights.Do(ck, func() (any, error) {
		return s.fetchSource(context.WithoutCancel(ctx), t, ck, accountID)
	})
	if err != nil {
		return nil, err
	}
	return v.(*AccountSnapshot), nil
}

// usableSource returns the cached source copy of ck when it needs no fetch at now: within its TTL,
// or stale while a failed revalidation waits for its retry.
func (s *Store) usableSource(ck string, now time.Time) (*AccountSnapshot, bool) {
	snap, ok := s.accounts.Get(ck)
	if !ok || !snap.FromSource() {
		return nil, false
	}
	if !snap.Expired(now) || now.UnixNano() < snap.retryAt.Load() {
		return snap, true
	}
	return snap, false
}

// fetchSource asks the source for the account (revalidating a cached copy) and caches the answer.
func (s *Store) fetchSource(ctx context.Context, t *Tenant, ck, accountID string) (*AccountSnapshot, error) {
	now := s.now()
	cached, fresh := s.usableSource(ck, now)
	if fresh {
		return cached, nil // a flight that just ended brought it
	}
	gen := s.fillGuard(ck)
	q := SourceQuery{AccountID: accountID}
	if cached != nil {
		q.ETag = cached.ETag
	}
	ans, err := s.askSource(ctx, t.ID, q)
	if errors.Is(err, ErrAccountNotFound) {
		s.invalidate(ck, func() { s.accounts.Del(ck) })
		return nil, fmt.Errorf("loading account %q from the source: %w", accountID, ErrAccountNotFound)
	}
	var snap *AccountSnapshot
	switch {
	case err != nil:
	case ans.NotModified && (cached == nil || q.ETag == ""):
		err = errors.New("the source answered 304 Not Modified without being asked with an ETag")
	case ans.NotModified:
		cached.fetchedAt.Store(now.UnixNano())
		cached.expiresAt.Store(now.Add(t.Source.TTLOrDefault()).UnixNano())
		cached.retryAt.Store(0)
		return cached, nil
	default:
		snap, err = s.decodeSource(t, ans, accountID, "", now)
	}
	if err != nil {
		if cached != nil {
			cached.retryAt.Store(now.Add(s.sourceRetry).UnixNano())
			s.log.Warn("tenants: the account source failed; serving the cached copy", "tenant", t.ID, "account", accountID,
				"fetchedAt", cached.FetchedAt().UTC().Format(time.RFC3339), "err", err)
			return cached, nil
		}
		s.log.Warn("tenants: the account source failed; the account is not cached", "tenant", t.ID, "account", accountID, "err", err)
		return nil, fmt.Errorf("%w: %w: loading account %q: %w", ErrUnavailable, ErrSourceUnavailable, accountID, err)
	}
	s.fill(ck, gen, func() { s.accounts.Set(ck, snap, 1) })
	s.accounts.Wait() // the next reader finds it: no second fetch right after this flight
	return snap, nil
}

// askSource calls the configured source.
func (s *Store) askSource(ctx context.Context, tenantID string, q SourceQuery) (SourceAnswer, error) {
	box := s.source.Load()
	if box == nil || box.src == nil {
		return SourceAnswer{}, errors.New("no account source is configured")
	}
	return box.src.FetchAccount(ctx, tenantID, q)
}

// decodeSource validates a source's document as PUT /v1/accounts would, and checks that it is the
// account asked for (by id, or by alias).
func (s *Store) decodeSource(t *Tenant, ans SourceAnswer, accountID, alias string, now time.Time) (*AccountSnapshot, error) {
	a, err := account.Decode(ans.Document)
	if err != nil {
		return nil, err
	}
	if accountID != "" && a.ID != accountID {
		return nil, fmt.Errorf("%w: the source answered account %q for %q", account.ErrInvalid, a.ID, accountID)
	}
	if alias != "" && a.Alias != alias {
		return nil, fmt.Errorf("%w: the source answered an account with alias %q for %q", account.ErrInvalid, a.Alias, alias)
	}
	return s.newSourceSnapshot(t, a, ans.Document, ans.ETag, now), nil
}

// sourceAliasID resolves an alias through the source (every time: session creation by alias asks
// the source) and caches the document it answers under its id.
func (s *Store) sourceAliasID(ctx context.Context, t *Tenant, alias string) (string, error) {
	v, err, _ := s.flights.Do("alias\x00"+t.ID+"/"+alias, func() (any, error) {
		now := s.now()
		ans, err := s.askSource(context.WithoutCancel(ctx), t.ID, SourceQuery{Alias: alias})
		if errors.Is(err, ErrAccountNotFound) {
			return nil, fmt.Errorf("resolving alias %q through the source: %w", alias, ErrAccountNotFound)
		}
		var snap *AccountSnapshot
		if err == nil && ans.NotModified {
			err = errors.New("the source answered 304 Not Modified without being asked with an ETag")
		}
		if err == nil {
			snap, err = s.decodeSource(t, ans, "", alias, now)
		}
		if err != nil {
			s.log.Warn("tenants: the account source failed resolving an alias", "tenant", t.ID, "alias", alias, "err", err)
			return nil, fmt.Errorf("%w: %w: resolving alias %q: %w", ErrUnavailable, ErrSourceUnavailable, alias, err)
		}
		ck := accountCacheKey(t.ID, snap.Account.ID)
		s.invalidate(ck, func() { s.accounts.Set(ck, snap, 1) })
		s.accounts.Wait()
		return snap.Account.ID, nil
	})
	if err != nil {
		return "", err
	}
	return v.(string), nil
}

// cacheSourceDocument puts a document that did not come from the source (an action's) into this
// instance's cache without an ETag, and drops the other instances' copies. doc is its JSON
// (encodeValid's). It returns its revision.
func (s *Store) cacheSourceDocument(ctx context.Context, t *Tenant, a *account.Account, doc []byte) int64 {
	snap := s.newSourceSnapshot(t, a, doc, "", s.now())
	ck := accountCacheKey(t.ID, a.ID)
	s.invalidate(ck, func() { s.accounts.Set(ck, snap, 1) })
	s.accounts.Wait()
	if err := s.publishRefresh(ctx, t.ID, a.ID); err != nil {
		s.log.Warn("tenants: other instances keep their copy of a source-mode account until its TTL", "tenant", t.ID, "account", a.ID, "err", err)
	}
	return snap.Revision
}

// dropSourceCopy drops this instance's copy of a source-mode account and every other instance's.
func (s *Store) dropSourceCopy(ctx context.Context, tenantID, accountID string) error {
	s.dropAccount(tenantID, accountID)
	return s.publishRefresh(ctx, tenantID, accountID)
}

// RefreshAccount drops the cached copy of a source-mode account on every instance (through the
// watched key state/refresh/<tenantID>/<accountID>), so that its next read fetches it.
// ErrNotSourceMode for a tenant not in source mode.
func (s *Store) RefreshAccount(ctx context.Context, tenantID, accountID string) error {
	if !s.SourceMode(tenantID) {
		return fmt.Errorf("refreshing account %q: %w", accountID, ErrNotSourceMode)
	}
	if !account.ValidID(accountID) {
		return fmt.Errorf("refreshing account %q: %w", accountID, ErrAccountNotFound)
	}
	if err := s.dropSourceCopy(ctx, tenantID, accountID); err != nil {
		return fmt.Errorf("tenants: refreshing account %q: %w", accountID, err)
	}
	return nil
}

// DropSourceCopy drops the cached copy of a source-mode account on every instance, as
// RefreshAccount does; for a tenant not in source mode it does nothing. Package backend calls it
// when an action's answer carries no document: the copy may be behind what the backend did.
func (s *Store) DropSourceCopy(ctx context.Context, tenantID, accountID string) error {
	if !s.SourceMode(tenantID) {
		return nil
	}
	return s.dropSourceCopy(ctx, tenantID, accountID)
}

// publishRefresh writes the refresh key of the account, naming this instance (which keeps what it
// has: it dropped or replaced its copy itself).
func (s *Store) publishRefresh(ctx context.Context, tenantID, accountID string) error {
	for try := 0; ; try++ {
		lease, err := s.refreshLeases.get(ctx, s.c, time.Now().Add(refreshKeyTTL))
		if err != nil {
			return Unavailable(err)
		}
		rctx, cancel := s.opCtx(ctx)
		_, err = s.c.Put(rctx, s.k.refresh(tenantID, accountID), s.instance, clientv3.WithLease(lease))
		cancel()
		if err != nil && try == 0 && errors.Is(err, rpctypes.ErrLeaseNotFound) {
			s.refreshLeases.forget(lease)
			continue
		}
		return Unavailable(err)
	}
}

// applyRefresh drops the copy a refresh key names, unless this instance wrote it.
func (s *Store) applyRefresh(ev *clientv3.Event, ck string) {
	if ev.Type != clientv3.EventTypePut || string(ev.Kv.Value) == s.instance {
		return
	}
	s.invalidate(ck, func() { s.accounts.Del(ck) })
}

// updateSourceAccount is UpdateAccount for a source-mode tenant: the change applies to the current
// document (the source's, through the cache), the result goes into the cache, the events to etcd.
func (s *Store) updateSourceAccount(ctx context.Context, t *Tenant, accountID string, change func(a *account.Account) ([]*Event, error)) (int64, error) {
	snap, err := s.sourceAccount(ctx, t, accountID)
	if err != nil {
		return 0, fmt.Errorf("updating account %q: %w", accountID, err)
	}
	b, err := json.Marshal(snap.Account)
	if err != nil {
		return 0, fmt.Errorf("tenants: encoding account %q: %w", accountID, err)
	}
	var a account.Account
	if err := json.Unmarshal(b, &a); err != nil {
		return 0, fmt.Errorf("tenants: decoding account %q: %w", accountID, err)
	}
	events, err := change(&a)
	if errors.Is(err, ErrNoChange) {
		return snap.Revision, nil
	}
	if err != nil {
		return 0, err
	}
	if a.ID != accountID {
		return 0, fmt.Errorf("%w: the id of an account cannot change", account.ErrInvalid)
	}
	doc, err := encodeValid(&a, "document", account.MaxDocumentSize, account.ErrInvalid)
	if err != nil {
		return 0, err
	}
	if len(events) > 0 {
		if err := s.AppendEvents(ctx, events...); err != nil {
			return 0, fmt.Errorf("updating account %q: %w", accountID, err)
		}
	}
	return s.cacheSourceDocument(ctx, t, &a, doc), nil
}
