package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// emailIndexDone is the meta record (state/meta/<name>) written once every account stored before
// the billing-email index existed has been indexed; with it, backfillEmailIndex does nothing.
const emailIndexDone = "email-index-backfilled"

// backfillPage is how many account documents backfillEmailIndex reads and indexes per etcd
// request (and per Txn).
const backfillPage = 64

// backfillEmailIndex indexes the billing email of every stored account, so that accounts written
// before the index existed can sign in by email without waiting for their next write. Each entry is
// put in a Txn compared on the account's revision as read: an account written since indexed itself
// (and may have another email now), and a deleted one must not come back into the index. It reads
// the accounts a page at a time, is idempotent, and records when it is done, so that only the first
// start after an upgrade scans. It returns the number of accounts it indexed.
func (s *Store) backfillEmailIndex(ctx context.Context) (int, error) {
	done, err := s.Meta(ctx, emailIndexDone)
	if err != nil || done != nil {
		return 0, err
	}
	prefix := s.k.p + "state/accounts/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	from, n := prefix, 0
	for {
		rctx, cancel := s.opCtx(ctx)
		resp, err := s.c.Get(rctx, from, clientv3.WithRange(end), clientv3.WithLimit(backfillPage))
		cancel()
		if err != nil {
			return n, fmt.Errorf("tenants: listing accounts to index their emails: %w", Unavailable(err))
		}
		indexed, err := s.indexEmails(ctx, prefix, resp.Kvs)
		n += indexed
		if err != nil {
			return n, err
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if err := s.SetMeta(ctx, emailIndexDone, []byte("1")); err != nil {
		return n, err
	}
	return n, nil
}

// indexEmails puts the index entries of the account documents kvs (keys under prefix, as read),
// each only if the document has not changed since: in one Txn for the page, and account by account
// when some document moved.
func (s *Store) indexEmails(ctx context.Context, prefix string, kvs []*mvccpb.KeyValue) (int, error) {
	type entry struct {
		cmp clientv3.Cmp
		put clientv3.Op
	}
	var entries []entry
	for _, kv := range kvs {
		tid, aid, ok := strings.Cut(strings.TrimPrefix(string(kv.Key), prefix), "/")
		if !ok || aid == "" || strings.Contains(aid, "/") {
			continue
		}
		var doc struct {
			Email string `json:"email"`
		}
		js, err := decodeDoc(nil, kv.Value)
		if err != nil || json.Unmarshal(js, &doc) != nil || NormalizeEmail(doc.Email) == "" {
			continue
		}
		entries = append(entries, entry{
			cmp: clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
			put: clientv3.OpPut(s.k.emailIndexAccount(tid, emailHash(tid, doc.Email), aid), ""),
		})
	}
	if len(entries) == 0 {
		return 0, nil
	}
	commit := func(es []entry) (bool, error) {
		cmps := make([]clientv3.Cmp, len(es))
		puts := make([]clientv3.Op, len(es))
		for i, e := range es {
			cmps[i], puts[i] = e.cmp, e.put
		}
		tctx, cancel := s.opCtx(ctx)
		defer cancel()
		r, err := s.c.Txn(tctx).If(cmps...).Then(puts...).Commit()
		if err != nil {
			return false, fmt.Errorf("tenants: indexing account emails: %w", Unavailable(err))
		}
		return r.Succeeded, nil
	}
	ok, err := commit(entries)
	if err != nil || ok {
		return len(entries), err
	}
	n := 0
	for _, e := range entries {
		ok, err := commit([]entry{e})
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
