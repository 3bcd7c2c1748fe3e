package dashboard

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-billing/portico/tenants"
)

// The customer search index.
//
// Listing 100,000 accounts through AccountIDs and one Account read each would cost 100,000 etcd
// round trips per search. Instead each dashboard instance keeps, per tenant whose admins search,
// an in-memory index of (id, alias, name, email):
//
//   - Built lazily by the first search with one streamed range read of the tenant's accounts
//     prefix (tenants.Store.ScanAccountSummaries: etcd's RangeStream, which pages on the server
//     at one pinned revision without counting the rest of the range per page; paged Gets pinned
//     to one revision against etcd < 3.7), decoding only the four fields (the documents' first
//     fields; the rest of each document is skipped unread).
//   - Kept fresh by one etcd watch on the tenant's accounts prefix from that revision + 1
//     (tenants.Store.WatchAccountSummaries): puts upsert, deletes remove. A compaction that
//     outran the watch rebuilds the index; another watch failure re-watches from the last
//     revision applied, after a back-off. So every instance converges on etcd within a watch
//     round trip, without polling.
//   - Dropped (and its watch stopped) when nobody searched it for Config.SearchIdle (30 min).
//
// Entries are kept sorted by (lower-case name, id). A query is lower-cased and matched as a
// substring of the lower-cased id, alias, name and email; accounts with a field equal to the
// query come first, then those with a field starting with it, then the rest, each group in name
// order. A search scans one immutable snapshot string of all entries with strings.Index (no
// locks; the snapshot is rebuilt on the first search after a change): see BenchmarkSearch100k.
// Memory is about 300 bytes per account.

// entry is one account in the index; it is immutable once published.
type entry struct {
	tenants.AccountSummary
	sort string // lower-cased name
}

func newEntry(s tenants.AccountSummary) *entry {
	return &entry{AccountSummary: s, sort: strings.ToLower(s.Name)}
}

// hay is what a query is matched against: "\x00id\x00alias\x00name\x00email", lower-cased.
func (e *entry) hay() string {
	return strings.ToLower("\x00" + e.ID + "\x00" + e.Alias + "\x00" + e.Name + "\x00" + e.Email)
}

func compareEntries(a, b *entry) int {
	return cmp.Or(strings.Compare(a.sort, b.sort), strings.Compare(a.ID, b.ID))
}

// tenantIndex is the index of one tenant.
type tenantIndex struct {
	tid   string
	ready chan struct{} // closed when the first build ended
	err   error         // the first build's error, set before ready is closed

	mu      sync.Mutex // guards sorted, byID and rev, and snapshot rebuilds
	sorted  []*entry
	byID    map[string]*entry
	rev     int64         // last revision applied
	version atomic.Uint64 // bumped by every change
	snap    atomic.Pointer[snapshot]

	lastUsed atomic.Int64 // Unix nanoseconds
	cancel   context.CancelFunc
	done     chan struct{}
}

// snapshot is an immutable view of the index that searches scan without locks: the entries in
// order and one string holding every entry's hay, each preceded by "\x01", so that one
// strings.Index call (SIMD-accelerated) scans all accounts for the next match.
type snapshot struct {
	version uint64
	entries []*entry
	blob    string
	offs    []int // offs[i] is where entry i's "\x01" is in blob
}

// summaryStore is what the search index needs of the data layer: one consistent scan of a
// tenant's account summaries and a watch of their changes after the scan's revision.
// *tenants.Store is one.
type summaryStore interface {
	ScanAccountSummaries(ctx context.Context, tenantID string, fn func(tenants.AccountSummary)) (rev int64, err error)
	WatchAccountSummaries(ctx context.Context, tenantID string, rev int64, fn func(id string, sum *tenants.AccountSummary, rev int64)) error
}

var _ summaryStore = (*tenants.Store)(nil)

// searchIndexes holds the indexes of every tenant searched recently.
type searchIndexes struct {
	store summaryStore
	log   *slog.Logger
	idle  time.Duration

	mu     sync.Mutex
	m      map[string]*tenantIndex
	closed bool
}

func newSearchIndexes(store summaryStore, log *slog.Logger, idle time.Duration) *searchIndexes {
	return &searchIndexes{store: store, log: log, idle: idle, m: map[string]*tenantIndex{}}
}

// errClosed is returned by searches after Close.
var errClosed = errors.New("dashboard: closed")

// get returns the tenant's index, building it on first use; concurrent callers wait for one
// build. A failed build is forgotten so that the next search tries again.
func (s *searchIndexes) get(ctx context.Context, tid string) (*tenantIndex, error) {
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	s.evictIdle(now)
	ix, ok := s.m[tid]
	if !ok {
		ix = &tenantIndex{tid: tid, ready: make(chan struct{}), done: make(chan struct{})}
		wctx, cancel := context.WithCancel(context.Background())
		ix.cancel = cancel
		s.m[tid] = ix
		go s.run(wctx, ix)
	}
	ix.lastUsed.Store(now.UnixNano())
	s.mu.Unlock()
	select {
	case <-ix.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ix.err != nil {
		s.mu.Lock()
		if s.m[tid] == ix {
			delete(s.m, tid)
		}
		s.mu.Unlock()
		return nil, ix.err
	}
	return ix, nil
}

// evictIdle stops the indexes nobody used for the idle time; s.mu is held.
func (s *searchIndexes) evictIdle(now time.Time) {
	for tid, ix := range s.m {
		if now.UnixNano()-ix.lastUsed.Load() > int64(s.idle) {
			select {
			case <-ix.ready:
				ix.cancel()
				delete(s.m, tid)
			default: // still building
			}
		}
	}
}

// close stops every watch and waits for them.
func (s *searchIndexes) close() {
	s.mu.Lock()
	s.closed = true
	all := s.m
	s.m = map[string]*tenantIndex{}
	s.mu.Unlock()
	for _, ix := range all {
		ix.cancel()
		<-ix.done
	}
}

// run builds the index and keeps it fresh until ctx ends.
func (s *searchIndexes) run(ctx context.Context, ix *tenantIndex) {
	defer close(ix.done)
	err := ix.build(ctx, s.store)
	ix.err = err
	close(ix.ready)
	if err != nil {
		return
	}
	backoff := 100 * time.Millisecond
	for {
		err := s.store.WatchAccountSummaries(ctx, ix.tid, ix.revision(), ix.apply)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, tenants.ErrCompacted) {
			s.log.Info("dashboard: search index fell behind a compaction; rebuilding", "tenant", ix.tid)
			if err = ix.build(ctx, s.store); err == nil {
				backoff = 100 * time.Millisecond
				continue
			}
		}
		s.log.Warn("dashboard: search index watch interrupted", "tenant", ix.tid, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// build lists every account of the tenant at one revision and replaces the index's entries.
func (ix *tenantIndex) build(ctx context.Context, store summaryStore) error {
	var entries []*entry
	rev, err := store.ScanAccountSummaries(ctx, ix.tid, func(s tenants.AccountSummary) {
		entries = append(entries, newEntry(s))
	})
	if err != nil {
		return err
	}
	byID := make(map[string]*entry, len(entries))
	for _, e := range entries {
		byID[e.ID] = e
	}
	slices.SortFunc(entries, compareEntries)
	ix.mu.Lock()
	ix.sorted, ix.byID, ix.rev = entries, byID, rev
	ix.version.Add(1)
	ix.mu.Unlock()
	return nil
}

// apply applies one watched change.
func (ix *tenantIndex) apply(id string, sum *tenants.AccountSummary, rev int64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if old, ok := ix.byID[id]; ok {
		if i, found := slices.BinarySearchFunc(ix.sorted, old, compareEntries); found {
			ix.sorted = slices.Delete(ix.sorted, i, i+1)
		}
		delete(ix.byID, id)
	}
	if sum != nil {
		e := newEntry(*sum)
		i, _ := slices.BinarySearchFunc(ix.sorted, e, compareEntries)
		ix.sorted = slices.Insert(ix.sorted, i, e)
		ix.byID[id] = e
	}
	ix.rev = rev
	ix.version.Add(1)
}

// revision is the last revision the index applied.
func (ix *tenantIndex) revision() int64 {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.rev
}

// current returns a snapshot of the index as it is now, rebuilding it after changes (a few
// milliseconds for 100,000 accounts; searches in between changes share one snapshot).
func (ix *tenantIndex) current() *snapshot {
	if s := ix.snap.Load(); s != nil && s.version == ix.version.Load() {
		return s
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	v := ix.version.Load()
	if s := ix.snap.Load(); s != nil && s.version == v {
		return s
	}
	s := &snapshot{version: v, entries: slices.Clone(ix.sorted), offs: make([]int, len(ix.sorted))}
	var b strings.Builder
	for i, e := range s.entries {
		s.offs[i] = b.Len()
		b.WriteByte(1)
		b.WriteString(e.hay())
	}
	s.blob = b.String()
	ix.snap.Store(s)
	return s
}

// searchResult is one page of a search.
type searchResult struct {
	Entries []*entry
	Total   int
}

// search returns the page [offset, offset+limit) of the matches of q (all accounts when q is
// blank).
func (ix *tenantIndex) search(q string, offset, limit int) searchResult {
	return ix.current().search(q, offset, limit)
}

func (s *snapshot) search(q string, offset, limit int) searchResult {
	q = strings.ToLower(strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 {
			return -1
		}
		return r
	}, q)))
	if q == "" {
		return searchResult{Entries: window(s.entries, offset, limit), Total: len(s.entries)}
	}
	start, whole := "\x00"+q, "\x00"+q+"\x00"
	var exact, prefix, inner []*entry
	for pos := 0; pos < len(s.blob); {
		i := strings.Index(s.blob[pos:], q)
		if i < 0 {
			break
		}
		k := sort.SearchInts(s.offs, pos+i+1) - 1 // the entry whose segment holds the match
		end := len(s.blob)
		if k+1 < len(s.offs) {
			end = s.offs[k+1]
		}
		e, seg := s.entries[k], s.blob[s.offs[k]:end]
		switch {
		case strings.Contains(seg, whole) || strings.HasSuffix(seg, start):
			exact = append(exact, e)
		case strings.Contains(seg, start):
			prefix = append(prefix, e)
		default:
			inner = append(inner, e)
		}
		pos = end
	}
	all := append(append(exact, prefix...), inner...)
	return searchResult{Entries: window(all, offset, limit), Total: len(all)}
}

func window(es []*entry, offset, limit int) []*entry {
	if offset >= len(es) {
		return nil
	}
	return slices.Clone(es[offset:min(offset+limit, len(es))])
}
