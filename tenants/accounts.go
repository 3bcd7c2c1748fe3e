package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
type AccountSnapshot struct {
	TenantID string
	Account  *account.Account
	// Revision is the etcd ModRevision of the document; it changes with every write.
	Revision int64
	// Memo holds values derived from this revision (the gateway's rendered pages).
	Memo Memo
}

// CachedAccount returns the snapshot for cacheKey ("<tenantID>/<accountID>") if it is in memory.
// It does not touch etcd and does not allocate.
func (s *Store) CachedAccount(cacheKey string) (*AccountSnapshot, bool) {
	return s.accounts.Get(cacheKey)
}

// Account returns the account's current snapshot from the cache, or from etcd on a miss.
func (s *Store) Account(ctx context.Context, tenantID, accountID string) (*AccountSnapshot, error) {
	ck := accountCacheKey(tenantID, accountID)
	if snap, ok := s.accounts.Get(ck); ok {
		return snap, nil
	}
	if !account.ValidID(accountID) {
		return nil, fmt.Errorf("loading account %q: %w", accountID, ErrAccountNotFound)
	}
	gen := s.fillGuard(ck)
	rctx, cancel := s.opCtx(ctx)
	resp, err := s.c.Get(rctx, s.k.account(tenantID, accountID))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("tenants: loading account %q: %w", accountID, wrapEtcd(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("loading account %q: %w", accountID, ErrAccountNotFound)
	}
	var a account.Account
	if err := json.Unmarshal(resp.Kvs[0].Value, &a); err != nil {
		return nil, fmt.Errorf("tenants: decoding account %q: %w", accountID, err)
	}
	snap := &AccountSnapshot{TenantID: tenantID, Account: &a, Revision: resp.Kvs[0].ModRevision}
	s.fill(ck, gen, func() { s.accounts.Set(ck, snap, 1) })
	return snap, nil
}

// AccountIDByAlias resolves an alias to an account id.
func (s *Store) AccountIDByAlias(ctx context.Context, tenantID, alias string) (string, error) {
	if !account.ValidID(alias) {
		return "", fmt.Errorf("resolving alias %q: %w", alias, ErrAccountNotFound)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.alias(tenantID, alias))
	if err != nil {
		return "", fmt.Errorf("tenants: resolving alias %q: %w", alias, wrapEtcd(err))
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
func (s *Store) PutAccount(ctx context.Context, tenantID string, a *account.Account, ifMatch int64) (rev int64, created bool, err error) {
	if err := a.Validate(); err != nil {
		return 0, false, err
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return 0, false, fmt.Errorf("tenants: encoding account %q: %w", a.ID, err)
	}
	for range 8 {
		rev, created, retry, err := s.putAccountOnce(ctx, tenantID, a, doc, ifMatch)
		if !retry {
			return rev, created, err
		}
	}
	return 0, false, fmt.Errorf("storing account %q: %w", a.ID, ErrConflict)
}

func (s *Store) putAccountOnce(ctx context.Context, tid string, a *account.Account, doc []byte, ifMatch int64) (rev int64, created, retry bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	akey := s.k.account(tid, a.ID)
	gets := []clientv3.Op{clientv3.OpGet(akey), clientv3.OpGet(s.k.tenant(tid), clientv3.WithKeysOnly())}
	if a.Alias != "" {
		gets = append(gets, clientv3.OpGet(s.k.alias(tid, a.Alias)))
	}
	cur, err := s.c.Txn(ctx).Then(gets...).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing account %q: %w", a.ID, wrapEtcd(err))
	}
	if len(cur.Responses[1].GetResponseRange().Kvs) == 0 {
		return 0, false, false, fmt.Errorf("storing account %q: %w", a.ID, ErrTenantNotFound)
	}
	var (
		cmps   []clientv3.Cmp
		ops    []clientv3.Op
		oldRev int64
		old    account.Account
	)
	if kvs := cur.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		oldRev = kvs[0].ModRevision
		_ = json.Unmarshal(kvs[0].Value, &old)
	}
	if ifMatch != 0 && ifMatch != oldRev {
		return 0, false, false, fmt.Errorf("storing account %q (revision %d, If-Match %d): %w", a.ID, oldRev, ifMatch, ErrRevisionMismatch)
	}
	cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(akey), "=", oldRev))
	if a.Alias != "" {
		akv := cur.Responses[2].GetResponseRange().Kvs
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
	ops = append(ops, clientv3.OpPut(akey, string(doc)))
	resp, err := s.c.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return 0, false, false, fmt.Errorf("tenants: storing account %q: %w", a.ID, wrapEtcd(err))
	}
	if !resp.Succeeded {
		if ifMatch != 0 {
			return 0, false, false, fmt.Errorf("storing account %q: %w", a.ID, ErrRevisionMismatch)
		}
		return 0, false, true, nil
	}
	s.dropAccount(tid, a.ID)
	return resp.Header.Revision, oldRev == 0, false, nil
}

// DeleteAccount removes the document and its alias. ifMatch as for PutAccount.
func (s *Store) DeleteAccount(ctx context.Context, tenantID, accountID string, ifMatch int64) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	akey := s.k.account(tenantID, accountID)
	cur, err := s.c.Get(ctx, akey)
	if err != nil {
		return fmt.Errorf("tenants: deleting account %q: %w", accountID, wrapEtcd(err))
	}
	if len(cur.Kvs) == 0 {
		return fmt.Errorf("deleting account %q: %w", accountID, ErrAccountNotFound)
	}
	kv := cur.Kvs[0]
	if ifMatch != 0 && ifMatch != kv.ModRevision {
		return fmt.Errorf("deleting account %q: %w", accountID, ErrRevisionMismatch)
	}
	var old account.Account
	_ = json.Unmarshal(kv.Value, &old)
	ops := []clientv3.Op{clientv3.OpDelete(akey)}
	if old.Alias != "" {
		ops = append(ops, clientv3.OpDelete(s.k.alias(tenantID, old.Alias)))
	}
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(akey), "=", kv.ModRevision)).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("tenants: deleting account %q: %w", accountID, wrapEtcd(err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("deleting account %q: %w", accountID, ErrConflict)
	}
	s.dropAccount(tenantID, accountID)
	return nil
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
		return nil, fmt.Errorf("tenants: listing accounts: %w", wrapEtcd(err))
	}
	ids := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ids = append(ids, string(kv.Key[len(prefix):]))
	}
	return ids, nil
}
