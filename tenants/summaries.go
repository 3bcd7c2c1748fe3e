package tenants

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrCompacted says a listing or watch asked for a revision etcd has compacted away; the caller
// lists again from the current revision.
var ErrCompacted = errors.New("tenants: revision compacted")

// AccountSummary is the part of an account document the dashboard's customer search needs.
type AccountSummary struct {
	ID, Alias, Name, Email string
}

// decodeSummary reads id, alias, name and email from an account document without decoding the
// rest. Documents are written by json.Marshal of account.Account, whose first fields are exactly
// these, so the scan stops at the first other key once id and name were seen; a document in
// another field order is still read correctly, only further. It is a small scanner rather than
// encoding/json because building the dashboard's search index reads every document of a tenant.
func decodeSummary(b []byte) (AccountSummary, error) {
	var s AccountSummary
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return s, errors.New("tenants: account document is not a JSON object")
	}
	i++
	var seenID, seenName bool
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return s, nil
		}
		start := i
		end, err := scanString(b, i)
		if err != nil {
			return s, err
		}
		key := b[start+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return s, errJSONSyntax
		}
		i = skipSpace(b, i+1)
		var dst *string
		switch string(key) {
		case "id":
			dst, seenID = &s.ID, true
		case "alias":
			dst = &s.Alias
		case "name":
			dst, seenName = &s.Name, true
		case "email":
			dst = &s.Email
		}
		if dst == nil {
			if seenID && seenName {
				return s, nil
			}
			if i, err = skipValue(b, i); err != nil {
				return s, err
			}
		} else {
			end, err := scanString(b, i)
			if err != nil {
				return s, fmt.Errorf("tenants: reading account field %q: %w", key, err)
			}
			if *dst, err = unquote(b[i:end]); err != nil {
				return s, fmt.Errorf("tenants: reading account field %q: %w", key, err)
			}
			i = end
		}
		i = skipSpace(b, i)
		switch {
		case i < len(b) && b[i] == ',':
			i++
		case i < len(b) && b[i] == '}':
			return s, nil
		default:
			return s, errJSONSyntax
		}
	}
}

// readSummary is decodeSummary of a stored document, decompressed into *buf (kept for the next
// call, so that a listing decompresses every document into one buffer).
func readSummary(buf *[]byte, stored []byte) (AccountSummary, error) {
	doc, err := decodeDoc((*buf)[:0], stored)
	if err != nil {
		return AccountSummary{}, err
	}
	if len(stored) > 0 && stored[0] == docZstd { // else doc is stored itself, not ours to reuse
		*buf = doc
	}
	return decodeSummary(doc)
}

var errJSONSyntax = errors.New("tenants: account document is not valid JSON")

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// scanString returns the index after the JSON string starting at b[i].
func scanString(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errJSONSyntax
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errJSONSyntax
}

// unquote decodes a JSON string literal; only literals with escapes go through encoding/json.
func unquote(lit []byte) (string, error) {
	if bytes.IndexByte(lit, '\\') < 0 {
		return string(lit[1 : len(lit)-1]), nil
	}
	var s string
	err := json.Unmarshal(lit, &s)
	return s, err
}

// skipValue returns the index after the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errJSONSyntax
	}
	switch b[i] {
	case '"':
		return scanString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := scanString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errJSONSyntax
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i {
		return 0, errJSONSyntax
	}
	return j, nil
}

// ListAccountSummaries reads up to limit of the tenant's accounts in id order after the id
// "after", as of revision rev (0: the current revision). It is one ranged Get. next is the id to
// pass as after for the following page ("" at the end) and atRev the revision read: pass it to
// the following calls so that a listing in pages is one consistent snapshot. Unreadable
// documents are skipped.
func (s *Store) ListAccountSummaries(ctx context.Context, tenantID, after string, limit, rev int64) (out []AccountSummary, next string, atRev int64, err error) {
	prefix := s.k.accounts(tenantID)
	from := prefix
	if after != "" {
		from = prefix + after + "\x00"
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix)), clientv3.WithLimit(limit)}
	if rev > 0 {
		opts = append(opts, clientv3.WithRev(rev))
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, from, opts...)
	if errors.Is(err, rpctypes.ErrCompacted) {
		return nil, "", 0, fmt.Errorf("listing accounts at revision %d: %w", rev, ErrCompacted)
	}
	if err != nil {
		return nil, "", 0, fmt.Errorf("tenants: listing accounts: %w", Unavailable(err))
	}
	out = make([]AccountSummary, 0, len(resp.Kvs))
	var buf []byte
	for _, kv := range resp.Kvs {
		sum, err := readSummary(&buf, kv.Value)
		if err != nil {
			s.log.Warn("tenants: skipping unreadable account", "key", string(kv.Key), "err", err)
			continue
		}
		sum.ID = string(kv.Key[len(prefix):]) // the key is authoritative
		out = append(out, sum)
	}
	if n := len(resp.Kvs); n > 0 && resp.More {
		next = string(resp.Kvs[n-1].Key[len(prefix):])
	}
	if rev == 0 {
		rev = resp.Header.Revision // with WithRev the header holds the current revision
	}
	return out, next, rev, nil
}

// ScanAccountSummaries calls fn for every account of the tenant, in id order, as of one revision,
// which it returns. It streams the range with etcd's RangeStream (etcd 3.7+), where the server
// pages at a pinned revision in chunks of about a megabyte without counting the rest of the range
// for each page, so 100,000 accounts cost one request; against an older etcd it falls back to
// ListAccountSummaries pages pinned to one revision. Unreadable documents are skipped.
func (s *Store) ScanAccountSummaries(ctx context.Context, tenantID string, fn func(AccountSummary)) (int64, error) {
	prefix := s.k.accounts(tenantID)
	sctx, cancel := context.WithTimeout(ctx, max(12*s.timeout, time.Minute))
	defer cancel()
	ch, err := s.c.GetStream(sctx, prefix, clientv3.WithPrefix())
	var rev int64
	var buf []byte
	received := false
	if err == nil {
		for r := range ch {
			if err = r.Err(); err != nil {
				break
			}
			received = true
			for _, kv := range r.Kvs {
				sum, derr := readSummary(&buf, kv.Value)
				if derr != nil {
					s.log.Warn("tenants: skipping unreadable account", "key", string(kv.Key), "err", derr)
					continue
				}
				sum.ID = string(kv.Key[len(prefix):])
				fn(sum)
			}
			if r.Header != nil {
				rev = r.Header.Revision
			}
		}
		for range ch { // drain after an error so the stream's goroutine ends
		}
	}
	if status.Code(err) == codes.Unimplemented && !received {
		return s.scanPaged(ctx, tenantID, fn)
	}
	if err != nil {
		return 0, fmt.Errorf("tenants: listing accounts: %w", Unavailable(err))
	}
	return rev, nil
}

// scanPaged is ScanAccountSummaries for etcd before 3.7.
func (s *Store) scanPaged(ctx context.Context, tenantID string, fn func(AccountSummary)) (int64, error) {
	var after string
	var rev int64
	for {
		page, next, at, err := s.ListAccountSummaries(ctx, tenantID, after, 1000, rev)
		if err != nil {
			return 0, err
		}
		rev = at
		for _, sum := range page {
			fn(sum)
		}
		if next == "" {
			return rev, nil
		}
		after = next
	}
}

// WatchAccountSummaries calls fn for every change of the tenant's accounts after revision rev,
// in order, with the account id, its new summary (nil when deleted) and the change's revision. It
// returns when ctx ends (nil), when etcd compacted rev away (ErrCompacted) or when the watch
// fails otherwise (the caller watches again from the last revision it saw).
func (s *Store) WatchAccountSummaries(ctx context.Context, tenantID string, rev int64, fn func(id string, sum *AccountSummary, rev int64)) error {
	prefix := s.k.accounts(tenantID)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	var buf []byte
	for resp := range s.c.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) {
		if resp.CompactRevision != 0 {
			return fmt.Errorf("watching accounts from revision %d: %w", rev, ErrCompacted)
		}
		if err := resp.Err(); err != nil {
			return fmt.Errorf("tenants: watching accounts: %w", Unavailable(err))
		}
		for _, ev := range resp.Events {
			id := string(ev.Kv.Key[len(prefix):])
			if ev.Type == clientv3.EventTypeDelete {
				fn(id, nil, ev.Kv.ModRevision)
				continue
			}
			sum, err := readSummary(&buf, ev.Kv.Value)
			if err != nil {
				s.log.Warn("tenants: skipping unreadable account", "key", string(ev.Kv.Key), "err", err)
				continue
			}
			sum.ID = id
			fn(id, &sum, ev.Kv.ModRevision)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("tenants: watching accounts: %w", ErrUnavailable)
}
