package tenants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"weak"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the account concern.
var (
	ErrAccountNotFound  = errors.New("tenants: account not found")
	ErrAliasTaken       = errors.New("tenants: alias is used by another account")
	ErrRevisionMismatch = errors.New("tenants: account revision does not match")
)

// AccountSnapshot is one revision of an account document, shared read-only by every reader.
//
// The account cache holds snapshots in a compact form: the document compressed (as etcd stores
// it, about a quarter of its JSON) and its locale, without the decoded tree, which for the example
// document is more than twice the JSON. CachedAccount returns that form (Account nil); Account and
// Decoded return the snapshot with Account, decoded from the compact form on demand and kept only
// weakly, until the collector next needs the memory. Both forms of a revision share Memo.
type AccountSnapshot struct {
	TenantID string
	// Account is the decoded document; nil in the compact form (see Decoded).
	Account *account.Account
	// Revision is the etcd ModRevision of the document; it changes with every write.
	Revision int64
	// Locale is the document's locale, in both forms: a page's language needs it without decoding.
	Locale string
	// Memo holds values derived from this revision (the gateway's rendered pages).
	Memo *Memo

	doc     []byte                                        // compact form: the document as encodeDoc stores it
	decoded atomic.Pointer[weak.Pointer[account.Account]] // compact form: the last decoding, while it lives

	// Source mode (source.go); zero for a document read from etcd.
	// ETag is the source's ETag of the document ("": none, or put by an action).
	ETag      string
	fetchedAt atomic.Int64 // Unix ns of the fetch or the last revalidation
	expiresAt atomic.Int64 // Unix ns from which the document is revalidated
	retryAt   atomic.Int64 // Unix ns before which a failed revalidation is not retried
}

// Decoded returns the snapshot with its Account: snap itself when it has it, else the compact
// snapshot's document decoded (the last decoding if the collector has not taken it yet). The
// result shares snap's Memo.
func (snap *AccountSnapshot) Decoded() (*AccountSnapshot, error) {
	if snap.Account != nil {
		return snap, nil
	}
	if wp := snap.decoded.Load(); wp != nil {
		if a := wp.Value(); a != nil {
			return snap.with(a), nil
		}
	}
	var a account.Account
	if err := unmarshalDoc(snap.doc, &a); err != nil {
		return nil, fmt.Errorf("tenants: decoding a cached account: %w", err)
	}
	wp := weak.Make(&a)
	snap.decoded.Store(&wp)
	return snap.with(&a), nil
}

func (snap *AccountSnapshot) with(a *account.Account) *AccountSnapshot {
	return &AccountSnapshot{TenantID: snap.TenantID, Account: a, Revision: snap.Revision, Locale: snap.Locale, Memo: snap.Memo}
}

// CachedAccount returns the compact snapshot for cacheKey ("<tenantID>/<accountID>") if it is in
// memory: Account is nil, Revision, Locale and Memo are set (Decoded gives the document). It does
// not touch etcd and does not allocate.
func (s *Store) CachedAccount(cacheKey string) (*AccountSnapshot, bool) {
	return s.accounts.Get(cacheKey)
}

// Account returns the account's current snapshot, with Account, from the cache or from etcd on
// a miss.
//
// A source-mode tenant's account comes from its source instead (source.go): the cached copy within
// its TTL, else fetched or revalidated; stale when the source fails and a copy is cached.
func (s *Store) Account(ctx context.Context, tenantID, accountID string) (*AccountSnapshot, error) {
	if t, ok := s.sourceTenant(tenantID); ok {
		return s.sourceAccount(ctx, t, accountID)
	}
	ck := accountCacheKey(tenantID, accountID)
	if snap, ok := s.accounts.Get(ck); ok && !snap.FromSource() {
		full, err := snap.Decoded()
		if err != nil {
			return nil, fmt.Errorf("loading account %q: %w", accountID, err)
		}
		return full, nil
	}
	if !account.ValidID(accountID) {
		return nil, fmt.Errorf("loading account %q: %w", accountID, ErrAccountNotFound)
	}
	gen := s.fillGuard(ck)
	rctx, cancel := s.opCtx(ctx)
	resp, err := s.c.Get(rctx, s.k.account(tenantID, accountID))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tenants: loading account %q: %w", accountID, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("loading account %q: %w", accountID, ErrAccountNotFound)
	}
	stored := resp.Kvs[0].Value
	doc, err := decodeDoc(nil, stored)
	if err != nil {
		return nil, fmt.Errorf("loading account %q: %w", accountID, err)
	}
	var a account.Account
	if err := json.Unmarshal(doc, &a); err != nil {
		return nil, fmt.Errorf("tenants: decoding account %q: %w", accountID, err)
	}
	if len(stored) > 0 && stored[0] == docZstd {
		stored = bytes.Clone(stored) // not the response's memory
	} else {
		stored = encodeDoc(doc) // stored before compression: compact in the cache all the same
	}
	compact := &AccountSnapshot{TenantID: tenantID, Revision: resp.Kvs[0].ModRevision, Locale: a.Locale, Memo: new(Memo), doc: stored}
	wp := weak.Make(&a)
	compact.decoded.Store(&wp)
	s.fill(ck, gen, func() { s.accounts.Set(ck, compact, 1) })
	return compact.with(&a), nil
}

// AccountIDByAlias resolves an alias to an account id; a source-mode tenant's source resolves it
// (its document is cached on the way).
func (s *Store) AccountIDByAlias(ctx context.Context, tenantID, alias string) (string, error) {
	if !account.ValidID(alias) {
		return "", fmt.Errorf("resolving alias %q: %w", alias, ErrAccountNotFound)
	}
	if t, ok := s.sourceTenant(tenantID); ok {
		return s.sourceAliasID(ctx, t, alias)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.alias(tenantID, alias))
	if err != nil {
		return "", fmt.Errorf("tenants: resolving alias %q: %w", alias, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return "", fmt.Errorf("resolving alias %q: %w", alias, ErrAccountNotFound)
	}
	return string(resp.Kvs[0].Value), nil
}

// PutAccount stores a validated document. ifMatch, when not zero, is the revision the caller read:
// the write fails with ErrRevisionMismatch if the document moved since. The alias index follows the
// document in the same Txn; an alias another account holds fails with ErrAliasTaken. It returns the
// new revision and whether the account was created.
//
// The document's JSON is at most account.MaxDocumentSize bytes; it is stored compressed
// (encodeDoc), and the tenant's usage counter, which counts stored bytes, moves in the same Txn: a write that would take the tenant over its quota (Tenant.MaxAccountBytes,
// Tenant.MaxAccounts) fails with ErrQuotaExceeded and stores nothing.
//
// A source-mode tenant's documents live in its source: ErrSourceMode.
func (s *Store) PutAccount(ctx context.Context, tenantID string, a *account.Account, ifMatch int64) (rev int64, created bool, err error) {
	if s.SourceMode(tenantID) {
		return 0, false, fmt.Errorf("storing account %q: %w", a.ID, ErrSourceMode)
	}
	return s.PutAccountWithEvents(ctx, tenantID, a, ifMatch, nil)
}

// PutAccountWithEvents is PutAccount that also writes events to the outbox in the same Txn (and,
// for events of a portal session, their audit entries), so the document is never stored without
// its events nor the events without the document. Package backend stores the document a tenant's
// backend returns this way.
//
// For a source-mode tenant only the events go to etcd: the document goes into the account cache
// (without an ETag: its next revalidation fetches the source's whole), every other instance
// drops its copy, and ifMatch is not checked (the backend's answer is the newest document).
func (s *Store) PutAccountWithEvents(ctx context.Context, tenantID string, a *account.Account, ifMatch int64, events []*Event) (rev int64, created bool, err error) {
	doc, err := encodeValid(a, "document", account.MaxDocumentSize, account.ErrInvalid)
	if err != nil {
		return 0, false, err
	}
	if t, ok := s.sourceTenant(tenantID); ok {
		if len(events) > 0 {
			if err := s.AppendEvents(ctx, events...); err != nil {
				return 0, false, fmt.Errorf("storing account %q: %w", a.ID, err)
			}
		}
		return s.cacheSourceDocument(ctx, t, a, doc), false, nil
	}
	doc = encodeDoc(doc)
	// Every write of a tenant's accounts moves its usage counter, so concurrent writes of one
	// tenant's accounts retry more often than writes of one account.
	err = s.retryUsageWrite(ctx, tenantID, fmt.Sprintf("storing account %q", a.ID), func() (retry bool, err error) {
		rev, created, retry, err = s.putAccountOnce(ctx, tenantID, a, doc, ifMatch, events)
		return retry, err
	})
	if err != nil {
		return 0, false, err
	}
	return rev, created, nil
}

func (s *Store) putAccountOnce(ctx context.Context, tid string, a *account.Account, doc []byte, ifMatch int64, events []*Event) (rev int64, created, retry bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	akey := s.k.account(tid, a.ID)
	gets := []clientv3.Op{clientv3.OpGet(akey), clientv3.OpGet(s.k.tenant(tid)), s.usageGet(tid)}
	if a.Alias != "" {
		gets = append(gets, clientv3.OpGet(s.k.alias(tid, a.Alias)))
	}
	cur, err := s.c.Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing account %q: %w", a.ID, Unavailable(err))
	}
	ten, usage, err := s.quotaOf(ctx, tid, fmt.Sprintf("storing account %q", a.ID), cur.Responses[1].GetResponseRange(), cur.Responses[2].GetResponseRange())
	if err != nil {
		return 0, false, false, err
	}
	var (
		cmps   []clientv3.Cmp
		ops    []clientv3.Op
		oldRev int64
		old    account.Account
	)
	next := usage.Usage
	if kvs := cur.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		oldRev = kvs[0].ModRevision
		unmarshalStored(kvs[0].Value, &old)
		next.Bytes -= int64(len(kvs[0].Value))
	} else {
		next.Accounts++
	}
	next.Bytes += int64(len(doc))
	if ifMatch != 0 && ifMatch != oldRev {
		return 0, false, false, fmt.Errorf("storing account %q (revision %d, If-Match %d): %w", a.ID, oldRev, ifMatch, ErrRevisionMismatch)
	}
	if err := checkQuota(ten, usage.Usage, next); err != nil {
		return 0, false, false, fmt.Errorf("storing account %q: %w", a.ID, err)
	}
	ucmp, uop := s.usageWrite(tid, usage, next)
	cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(akey), "=", oldRev), ucmp)
	ops = append(ops, uop)
	if a.Alias != "" {
		akv := cur.Responses[3].GetResponseRange().Kvs
		switch {
		case len(akv) == 0:
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k.alias(tid, a.Alias)), "=", 0))
			ops = append(ops, clientv3.OpPut(s.k.alias(tid, a.Alias), a.ID))
		case string(akv[0].Value) == a.ID:
			cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(s.k.alias(tid, a.Alias)), "=", akv[0].ModRevision))
		default:
			return 0, false, false, fmt.Errorf("storing account %q with alias %q: %w", a.ID, a.Alias, ErrAliasTaken)
		}
	}
	if old.Alias != "" && old.Alias != a.Alias {
		ops = append(ops, clientv3.OpDelete(s.k.alias(tid, old.Alias)))
	}
	ops = append(ops, s.emailIndexOps(tid, a.ID, old.Email, a.Email)...)
	ops = append(ops, clientv3.OpPut(akey, string(doc)))
	if len(events) > 0 {
		ops = append(ops, s.eventOps(events)...)
		audit, err := s.eventAuditOps(ctx, events)
		if err != nil {
			return 0, false, false, err
		}
		ops = append(ops, audit...)
	}
	resp, err := s.c.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing account %q: %w", a.ID, Unavailable(err))
	}
	if !resp.Succeeded {
		// Either the document moved (If-Match fails on the next read) or another write of the
		// tenant moved its usage counter: read again.
		return 0, false, true, nil
	}
	s.dropAccount(tid, a.ID)
	return resp.Header.Revision, oldRev == 0, false, nil
}

// DeleteAccount removes the document and its alias, the account's members with their index
// keys, and its usage alerts. ifMatch as for PutAccount.
func (s *Store) DeleteAccount(ctx context.Context, tenantID, accountID string, ifMatch int64) error {
	if s.SourceMode(tenantID) {
		return fmt.Errorf("deleting account %q: %w", accountID, ErrSourceMode)
	}
	return s.retryUsageWrite(ctx, tenantID, fmt.Sprintf("deleting account %q", accountID), func() (retry bool, err error) {
		done, err := s.deleteAccountOnce(ctx, tenantID, accountID, ifMatch)
		return !done && err == nil, err
	})
}

func (s *Store) deleteAccountOnce(ctx context.Context, tenantID, accountID string, ifMatch int64) (done bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	akey := s.k.account(tenantID, accountID)
	cur, err := s.c.Txn(ctx).Then(clientv3.OpGet(akey), s.usageGet(tenantID)).Commit()
	if err != nil {
		return false, fmt.Errorf("tenants: deleting account %q: %w", accountID, Unavailable(err))
	}
	kvs := cur.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return false, fmt.Errorf("deleting account %q: %w", accountID, ErrAccountNotFound)
	}
	kv := kvs[0]
	if ifMatch != 0 && ifMatch != kv.ModRevision {
		return false, fmt.Errorf("deleting account %q: %w", accountID, ErrRevisionMismatch)
	}
	usage, err := s.readUsage(ctx, tenantID, cur.Responses[1].GetResponseRange())
	if err != nil {
		return false, err
	}
	next := usage.Usage
	next.Accounts--
	next.Bytes -= int64(len(kv.Value))
	ucmp, uop := s.usageWrite(tenantID, usage, next)
	var old account.Account
	unmarshalStored(kv.Value, &old)
	ops := []clientv3.Op{clientv3.OpDelete(akey), uop}
	if old.Alias != "" {
		ops = append(ops, clientv3.OpDelete(s.k.alias(tenantID, old.Alias)))
	}
	ops = append(ops, s.emailIndexOps(tenantID, accountID, old.Email, "")...)
	ops = append(ops, clientv3.OpDelete(s.k.alerts(tenantID, accountID)))
	mops, mcmp, err := s.memberDeleteOps(ctx, tenantID, accountID)
	if err != nil {
		return false, fmt.Errorf("tenants: deleting account %q: %w", accountID, err)
	}
	ops = append(ops, mops...)
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(akey), "=", kv.ModRevision), ucmp, mcmp).Then(ops...).Commit()
	if err != nil {
		return false, fmt.Errorf("tenants: deleting account %q: %w", accountID, Unavailable(err))
	}
	if !resp.Succeeded {
		return false, nil
	}
	s.dropAccount(tenantID, accountID)
	return true, nil
}

// encodeValid validates v (an account document, a plan, a policy) and encodes it as stored; more
// than limit bytes is refused with invalid, the sentinel of v's package ("<name> is N bytes, the
// limit is L").
func encodeValid(v interface{ Validate() error }, name string, limit int, invalid error) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("tenants: encoding the %s: %w", name, err)
	}
	if len(doc) > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", invalid, name, len(doc), limit)
	}
	return doc, nil
}

// unmarshalStored decodes a stored document into a as far as it can, for the alias and email of
// the document a write replaces: an unreadable one leaves them empty, so that the write can
// replace it (its stale index entries stay, as they would for any lost entry).
func unmarshalStored(stored []byte, a *account.Account) {
	if doc, err := decodeDoc(nil, stored); err == nil {
		_ = json.Unmarshal(doc, a)
	}
}

// dropAccount evicts the account from this instance's cache right after this instance changed it,
// so that its next read is fresh without waiting for the watch (other instances follow the watch).
func (s *Store) dropAccount(tenantID, accountID string) {
	ck := accountCacheKey(tenantID, accountID)
	s.invalidate(ck, func() { s.accounts.Del(ck) })
}

// AccountIDs lists the ids of the tenant's accounts in key order, at most limit, after the id
// "after" (for paging). It reads keys only.
func (s *Store) AccountIDs(ctx context.Context, tenantID, after string, limit int64) ([]string, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	prefix := s.k.accounts(tenantID)
	from := prefix
	if after != "" {
		from = prefix + after + "\x00"
	}
	resp, err := s.c.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithKeysOnly(), clientv3.WithLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("tenants: listing accounts: %w", Unavailable(err))
	}
	ids := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ids = append(ids, string(kv.Key[len(prefix):]))
	}
	return ids, nil
}
