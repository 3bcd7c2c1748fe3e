package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/singleflight"
)

// ErrUnavailable wraps errors of etcd itself (no quorum, timeouts): callers answer 503.
var ErrUnavailable = errors.New("tenants: etcd unavailable")

// Config configures a Store. The zero value, with Client set, is usable.
type Config struct {
	// Client is the etcd client; required. The store does not close it.
	Client *clientv3.Client
	// Prefix is the key prefix of everything the store reads and writes (default "/portico/").
	Prefix string
	// AccountCacheSize is the number of account documents kept in memory (default 200,000).
	AccountCacheSize int64
	// LogoCacheBytes bounds the memory for cached logos (default 64 MiB).
	LogoCacheBytes int64
	// CatalogCacheBytes bounds the memory for cached catalogs, counted in bytes of their JSON
	// (default 64 MiB).
	CatalogCacheBytes int64
	// RequestTimeout bounds each etcd request the store makes on its own behalf (default 5 s).
	RequestTimeout time.Duration
	// Logger receives watch and cache events (default slog.Default()).
	Logger *slog.Logger
	// AuditRetention is how long portal sessions' audit trails are kept (default 90 days).
	AuditRetention time.Duration
	// SpaceCheckInterval is how often etcd's alarm list is read for the NOSPACE alarm (default
	// 5 s; see StorageFull).
	SpaceCheckInterval time.Duration
	// SourceRetry is how long a source-mode account's stale copy is served after its source
	// failed before the source is asked again (default DefaultSourceRetry; see source.go).
	SourceRetry time.Duration
	// Now returns the current time for source mode's TTLs (default time.Now).
	Now func() time.Time
}

// Store reads and writes Portico's state in etcd. It is safe for concurrent use; Close stops its
// watch.
type Store struct {
	c       *clientv3.Client
	k       keyspace
	log     *slog.Logger
	timeout time.Duration

	idx      atomic.Pointer[index]
	idxMu    sync.Mutex // serialises index rebuilds
	accounts *ristretto.Cache[string, *AccountSnapshot]
	apikeys  *ristretto.Cache[string, *APIKey]
	logos    *ristretto.Cache[string, *Logo]
	catalogs *ristretto.Cache[string, *CatalogSnapshot]
	catVers  atomic.Pointer[catalogVersions]
	catVerMu sync.Mutex // serialises catalogVersions replacements
	gens     [64]shardGen
	seed     maphash.Seed

	sealMu   sync.RWMutex
	revoked  atomic.Pointer[revocations]
	revMu    sync.Mutex
	sealKeys []SealKey
	sealGen  atomic.Uint64

	watchRev       atomic.Int64 // last revision the watch applied
	watching       atomic.Bool
	cancel         context.CancelFunc
	done           chan struct{}
	linkLeases     leaseBuckets
	auditRetention time.Duration
	spaceFull      atomic.Bool
	bg             sync.WaitGroup // background loops other than the watch
	writeLocks     [tenantWriteStripes]chan struct{}

	// Source mode (source.go).
	source        atomic.Pointer[sourceBox]
	flights       singleflight.Group
	instance      string // names this store's refresh keys
	refreshLeases leaseBuckets
	sourceRetry   time.Duration
	now           func() time.Time
}

// shardGen is a cache shard's generation: the watch bumps it for every change in the shard, under
// its mutex, and a fill only lands if the generation it saw before reading etcd is unchanged.
type shardGen struct {
	mu  sync.Mutex
	gen uint64
	_   [48]byte // keep shards on separate cache lines
}

// index holds every tenant by id and slug. It is replaced, never modified.
type index struct {
	byID   map[string]*Tenant
	bySlug map[string]*Tenant
	// byDomain holds active custom domains; domains keeps every domain claim by "<host>/<tenantID>",
	// so that a tenant change can be re-linked.
	byDomain map[string]*Tenant
	domains  map[string]*Domain
	// backends holds the ids of tenants with a backend registration (state/backends/).
	backends map[string]bool
}

// link fills byDomain from domains and byID.
func (idx *index) link() {
	idx.byDomain = make(map[string]*Tenant, len(idx.domains))
	for _, d := range idx.domains {
		if t, ok := idx.byID[d.TenantID]; ok && d.Status == DomainActive {
			idx.byDomain[d.Name] = t
		}
	}
}

// Open lists the tenants and sealing keys, starts the watch and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Client == nil {
		return nil, errors.New("tenants: Config.Client is nil")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "/portico/"
	}
	if !strings.HasSuffix(cfg.Prefix, "/") {
		cfg.Prefix += "/"
	}
	if cfg.AccountCacheSize <= 0 {
		cfg.AccountCacheSize = 200_000
	}
	if cfg.LogoCacheBytes <= 0 {
		cfg.LogoCacheBytes = 64 << 20
	}
	if cfg.CatalogCacheBytes <= 0 {
		cfg.CatalogCacheBytes = 64 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AuditRetention <= 0 {
		cfg.AuditRetention = DefaultAuditRetention
	}
	if cfg.SpaceCheckInterval <= 0 {
		cfg.SpaceCheckInterval = 5 * time.Second
	}
	if cfg.SourceRetry <= 0 {
		cfg.SourceRetry = DefaultSourceRetry
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{auditRetention: cfg.AuditRetention, c: cfg.Client, k: keyspace{cfg.Prefix}, log: cfg.Logger, timeout: cfg.RequestTimeout, seed: maphash.MakeSeed(),
		instance: newID("ins_"), sourceRetry: cfg.SourceRetry, now: cfg.Now}
	s.linkLeases.timeout = s.timeout
	s.refreshLeases.timeout = s.timeout
	for i := range s.writeLocks {
		s.writeLocks[i] = make(chan struct{}, 1)
	}
	var err error
	s.accounts, err = ristretto.NewCache(&ristretto.Config[string, *AccountSnapshot]{
		NumCounters: cfg.AccountCacheSize * 10, MaxCost: cfg.AccountCacheSize, BufferItems: 64, IgnoreInternalCost: true,
		Metrics: true,
	})
	if err != nil {
		return nil, fmt.Errorf("tenants: creating account cache: %w", err)
	}
	s.apikeys, _ = ristretto.NewCache(&ristretto.Config[string, *APIKey]{
		NumCounters: 100_000, MaxCost: 10_000, BufferItems: 64, IgnoreInternalCost: true,
	})
	s.logos, _ = ristretto.NewCache(&ristretto.Config[string, *Logo]{
		NumCounters: 100_000, MaxCost: cfg.LogoCacheBytes, BufferItems: 64, IgnoreInternalCost: true,
	})
	s.catalogs, _ = ristretto.NewCache(&ristretto.Config[string, *CatalogSnapshot]{
		NumCounters: 100_000, MaxCost: cfg.CatalogCacheBytes, BufferItems: 64, IgnoreInternalCost: true,
	})
	s.catVers.Store(&catalogVersions{})
	if err := s.migrateDomains(ctx); err != nil {
		s.closeCaches()
		return nil, err
	}
	rev, err := s.relist(ctx)
	if err != nil {
		s.closeCaches()
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	go s.watch(wctx, rev)
	s.bg.Add(1)
	go s.watchSpace(wctx, cfg.SpaceCheckInterval)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		n, err := s.backfillEmailIndex(wctx)
		switch {
		case err != nil && wctx.Err() == nil:
			s.log.Warn("tenants: indexing billing emails of accounts stored before the index (the next start tries again)", "err", err)
		case n > 0:
			s.log.Info("tenants: indexed billing emails of accounts stored before the index", "accounts", n)
		}
	}()
	return s, nil
}

// CacheStats returns the account cache's hits and misses since start.
func (s *Store) CacheStats() (hits, misses uint64) {
	return s.accounts.Metrics.Hits(), s.accounts.Metrics.Misses()
}

// Ping checks that etcd answers a linearizable read.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Get(ctx, s.k.ping(), clientv3.WithCountOnly()); err != nil {
		return Unavailable(err)
	}
	return nil
}

// Wait blocks until the caches have applied every pending write; tests and benchmarks call it
// before measuring a cache hit.
func (s *Store) Wait() {
	s.accounts.Wait()
	s.apikeys.Wait()
	s.logos.Wait()
	s.catalogs.Wait()
}

// Close stops the watch and releases the caches.
func (s *Store) Close() {
	s.cancel()
	<-s.done
	s.bg.Wait()
	s.closeCaches()
}

func (s *Store) closeCaches() {
	s.accounts.Close()
	s.apikeys.Close()
	s.logos.Close()
	s.catalogs.Close()
}

// Client returns the etcd client the store uses.
func (s *Store) Client() *clientv3.Client { return s.c }

// Revision returns the last etcd revision the watch applied; tests and the readiness probe use it.
func (s *Store) Revision() int64 { return s.watchRev.Load() }

// Watching reports whether the watch is established (the caches are being kept fresh).
func (s *Store) Watching() bool { return s.watching.Load() }

// opCtx bounds a request the store makes on its own behalf.
func (s *Store) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// Unavailable marks a failure of etcd itself as ErrUnavailable (callers answer 503), keeping
// context errors recognisable; a write refused for lack of space is ErrStorageFull as well. It
// returns nil for nil. Packages that keep keys of their own in etcd (webhooks, backend) wrap
// their etcd errors with it too, so every user of the data layer tells the same failures apart.
func Unavailable(err error) error {
	if err == nil {
		return nil
	}
	if isNoSpace(err) {
		return fmt.Errorf("%w: %w: %w", ErrUnavailable, ErrStorageFull, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// relist loads every tenant and sealing key and returns the revision of the listing.
func (s *Store) relist(ctx context.Context) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).Then(
		clientv3.OpGet(s.k.tenants(), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.sealkeys(), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.domains(), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.revoked(), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.backends(), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
	).Commit()
	if err != nil {
		return 0, fmt.Errorf("tenants: listing tenants: %w", Unavailable(err))
	}
	idx := &index{byID: map[string]*Tenant{}, bySlug: map[string]*Tenant{}, domains: map[string]*Domain{}, backends: map[string]bool{}}
	for _, kv := range resp.Responses[4].GetResponseRange().Kvs {
		idx.backends[strings.TrimPrefix(string(kv.Key), s.k.backends())] = true
	}
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		t, err := decodeTenant(kv.Value, kv.ModRevision)
		if err != nil {
			s.log.Error("tenants: skipping unreadable tenant record", "key", string(kv.Key), "err", err)
			continue
		}
		idx.byID[t.ID] = t
		idx.bySlug[t.Slug] = t
	}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		var d Domain
		if err := json.Unmarshal(kv.Value, &d); err == nil {
			idx.domains[strings.TrimPrefix(string(kv.Key), s.k.domains())] = &d
		}
	}
	idx.link()
	s.revMu.Lock()
	s.revoked.Store(loadRevocations(s.k, resp.Responses[3].GetResponseRange().Kvs))
	s.revMu.Unlock()
	var keys []SealKey
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		var k SealKey
		if err := json.Unmarshal(kv.Value, &k); err != nil || len(k.Key) != 32 {
			s.log.Error("tenants: skipping unreadable sealing key", "key", string(kv.Key))
			continue
		}
		keys = append(keys, k)
	}
	s.idxMu.Lock()
	s.idx.Store(idx)
	s.idxMu.Unlock()
	s.setSealKeys(keys)
	s.accounts.Clear()
	s.apikeys.Clear()
	s.logos.Clear()
	s.catalogs.Clear()
	for i := range s.gens {
		s.gens[i].mu.Lock()
		s.gens[i].gen++
		s.gens[i].mu.Unlock()
	}
	s.catalogsDropped()
	s.watchRev.Store(resp.Header.Revision)
	return resp.Header.Revision, nil
}

func decodeTenant(b []byte, rev int64) (*Tenant, error) {
	var t Tenant
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	t.Revision = rev
	return &t, nil
}

// watch applies every change under state/ from rev+1 on, re-listing after a compaction and
// resuming after any interruption, until ctx is cancelled.
func (s *Store) watch(ctx context.Context, rev int64) {
	defer close(s.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.c.Watch(wctx, s.k.state(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV(), clientv3.WithCreatedNotify())
		for resp := range wch {
			if resp.Created {
				s.watching.Store(true) // only now is the watch established with a leader
			}
			if resp.CompactRevision != 0 {
				s.log.Warn("tenants: watch fell behind a compaction; re-listing", "compacted", resp.CompactRevision)
				break
			}
			if err := resp.Err(); err != nil {
				s.log.Warn("tenants: watch interrupted", "err", err)
				break
			}
			for _, ev := range resp.Events {
				s.apply(ev)
			}
			if len(resp.Events) > 0 {
				rev = resp.Events[len(resp.Events)-1].Kv.ModRevision
			}
			if resp.Header.Revision > rev && resp.IsProgressNotify() {
				rev = resp.Header.Revision
			}
			s.watchRev.Store(rev)
			backoff = 50 * time.Millisecond
		}
		cancel()
		s.watching.Store(false)
		if ctx.Err() != nil {
			return
		}
		// Either compacted or interrupted: check whether rev+1 is still available by re-listing when
		// needed; a plain interruption resumes from rev+1 and etcd tells us if that was compacted.
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
		if s.compactedSince(ctx, rev) {
			if r, err := s.relist(ctx); err == nil {
				rev = r
			} else {
				s.log.Warn("tenants: re-listing failed", "err", err)
			}
		}
	}
}

// compactedSince reports whether revision rev+1 has been compacted away.
func (s *Store) compactedSince(ctx context.Context, rev int64) bool {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.c.Get(ctx, s.k.watchProbe(), clientv3.WithRev(rev+1), clientv3.WithKeysOnly())
	return err != nil && strings.Contains(err.Error(), "compacted")
}

// apply updates the caches for one watched change.
func (s *Store) apply(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	kind, rest := s.k.kind(key)
	switch kind {
	case "tenants":
		s.applyTenant(ev, rest)
	case "accounts":
		s.invalidate(rest, func() { s.accounts.Del(rest) })
	case "apikeys":
		s.invalidate(rest, func() { s.apikeys.Del(rest) })
	case "logos":
		s.invalidate(rest, func() { s.logos.Del(rest) })
	case "catalog":
		tid, _, _ := strings.Cut(rest, "/")
		s.dropCatalog(tid)
	case "sealkeys":
		s.applySealKey(ev)
	case "domains":
		s.applyDomain(ev, rest)
	case "revoked":
		s.applyRevocation(ev, rest)
	case "backends":
		s.applyBackend(ev, rest)
	case "refresh":
		s.applyRefresh(ev, rest)
	}
}

func (s *Store) shard(key string) *shardGen {
	return &s.gens[maphash.String(s.seed, key)%uint64(len(s.gens))]
}

// invalidate runs evict and bumps the shard generation of key, so that a fill that read etcd
// before this change does not land.
func (s *Store) invalidate(key string, evict func()) {
	g := s.shard(key)
	g.mu.Lock()
	evict()
	g.gen++
	g.mu.Unlock()
}

// fillGuard returns the generation to pass to fill, read before etcd is.
func (s *Store) fillGuard(key string) uint64 {
	g := s.shard(key)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen
}

// fill runs set only if no change touched key's shard since gen was read.
func (s *Store) fill(key string, gen uint64, set func()) {
	g := s.shard(key)
	g.mu.Lock()
	if g.gen == gen {
		set()
	}
	g.mu.Unlock()
}

func (s *Store) applyTenant(ev *clientv3.Event, id string) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	old := s.idx.Load()
	next := &index{byID: make(map[string]*Tenant, len(old.byID)+1), bySlug: make(map[string]*Tenant, len(old.bySlug)+1), domains: old.domains, backends: old.backends}
	for k, v := range old.byID {
		if k != id {
			next.byID[k] = v
			next.bySlug[v.Slug] = v
		}
	}
	if ev.Type == clientv3.EventTypePut {
		t, err := decodeTenant(ev.Kv.Value, ev.Kv.ModRevision)
		if err != nil {
			s.log.Error("tenants: ignoring unreadable tenant record", "id", id, "err", err)
		} else {
			next.byID[t.ID] = t
			next.bySlug[t.Slug] = t
		}
	}
	next.link()
	s.idx.Store(next)
}

func (s *Store) applyDomain(ev *clientv3.Event, claim string) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	old := s.idx.Load()
	next := &index{byID: old.byID, bySlug: old.bySlug, domains: make(map[string]*Domain, len(old.domains)+1), backends: old.backends}
	for k, v := range old.domains {
		if k != claim {
			next.domains[k] = v
		}
	}
	if ev.Type == clientv3.EventTypePut {
		var d Domain
		if err := json.Unmarshal(ev.Kv.Value, &d); err == nil {
			next.domains[claim] = &d
		}
	}
	next.link()
	s.idx.Store(next)
}

// applyBackend notes whether the tenant has a backend registration.
func (s *Store) applyBackend(ev *clientv3.Event, tenantID string) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	old := s.idx.Load()
	has := ev.Type == clientv3.EventTypePut
	if old.backends[tenantID] == has {
		return
	}
	next := *old
	next.backends = make(map[string]bool, len(old.backends)+1)
	for k := range old.backends {
		if k != tenantID {
			next.backends[k] = true
		}
	}
	if has {
		next.backends[tenantID] = true
	}
	s.idx.Store(&next)
}

// HasBackend reports, from the in-memory index (no I/O, no allocation), whether the tenant has
// registered a backend (package backend). It follows etcd's watch, so it may lag a registration
// by the watch's delay.
func (s *Store) HasBackend(tenantID string) bool { return s.idx.Load().backends[tenantID] }
