package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/internal/lifecycle"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrStorageFull says etcd refused a write because its database reached its space quota (the
// NOSPACE alarm). It comes wrapped with ErrUnavailable: nothing was written, and nothing will be
// until an operator frees space (`portico etcd maintenance`).
var ErrStorageFull = errors.New("tenants: etcd storage is full")

// isNoSpace reports whether err is etcd's "database space exceeded".
func isNoSpace(err error) bool {
	return errors.Is(err, rpctypes.ErrNoSpace) || errors.Is(err, rpctypes.ErrGRPCNoSpace)
}

// StorageFull reports whether etcd's space alarm was raised when the store last looked (every
// Config.SpaceCheckInterval, on every refused write and on CheckSpace).
func (s *Store) StorageFull() bool { return s.spaceFull.Load() }

// setStorageFull records the alarm's state and logs each change: an error when it is raised.
func (s *Store) setStorageFull(full bool, why string) {
	if s.spaceFull.Swap(full) == full {
		return
	}
	if full {
		s.log.Error("tenants: etcd storage is full: every write is refused until an operator runs `portico etcd maintenance`", "why", why)
	} else {
		s.log.Info("tenants: etcd storage has room again; writes are accepted")
	}
}

// CheckSpace asks etcd whether its NOSPACE alarm is raised and records the answer. When the alarm
// list may not be read (etcd auth without the root role), a store that saw the storage full tries
// a small write of its own instead.
func (s *Store) CheckSpace(ctx context.Context) (full bool, err error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.AlarmList(ctx)
	if err == nil {
		for _, a := range resp.Alarms {
			if a.Alarm == etcdserverpb.AlarmType_NOSPACE {
				s.setStorageFull(true, fmt.Sprintf("NOSPACE alarm raised on member %x", a.MemberID))
				return true, nil
			}
		}
		s.setStorageFull(false, "")
		return false, nil
	}
	if !s.spaceFull.Load() {
		return false, nil
	}
	_, perr := s.c.Put(ctx, s.k.spaceProbe(), time.Now().UTC().Format(time.RFC3339))
	switch {
	case perr == nil:
		s.setStorageFull(false, "")
		return false, nil
	case isNoSpace(perr):
		return true, nil
	}
	return true, fmt.Errorf("tenants: checking etcd's space alarm: %w", Unavailable(err))
}

// watchSpace runs CheckSpace every interval until ctx ends.
func (s *Store) watchSpace(ctx context.Context, every time.Duration) {
	defer s.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_, _ = s.CheckSpace(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CompactConfig configures Store.Compact's loop.
type CompactConfig struct {
	// Every is how often the revision is looked at (default 10 s).
	Every time.Duration
	// Keep is how many revisions of history stay for watches to resume from (default 1,000); the
	// history is compacted once it holds twice that. With documents of at most 128 KiB this bounds
	// what rewrites can pile up between compactions to about 2 × Keep × 128 KiB, whatever the
	// interval of etcd's own time-based compaction.
	Keep int64
}

// Compactor runs CompactLoop as a long-lived service (lifecycle.App).
type Compactor struct {
	store *Store
	cfg   CompactConfig
	loop  lifecycle.Loop
}

// Compactor returns the store's compaction loop with cfg, to Start and Stop.
func (s *Store) Compactor(cfg CompactConfig) *Compactor { return &Compactor{store: s, cfg: cfg} }

// Start runs the compaction loop in the background until Stop.
func (c *Compactor) Start(ctx context.Context) error {
	return c.loop.Start(ctx, func(ctx context.Context) { c.store.CompactLoop(ctx, c.cfg) })
}

// Stop ends the compaction loop.
func (c *Compactor) Stop() error { return c.loop.Stop() }

var _ lifecycle.App = (*Compactor)(nil)

// CompactLoop compacts etcd's history by revision count until ctx ends: every cfg.Every, when more
// than 2 × cfg.Keep revisions were written since the last compaction it compacts to the current
// revision minus cfg.Keep. Several gateway instances may run it against one cluster: a revision
// another instance compacted already is ignored.
func (s *Store) CompactLoop(ctx context.Context, cfg CompactConfig) {
	if cfg.Every <= 0 {
		cfg.Every = 10 * time.Second
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 1000
	}
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	var last int64
	for {
		if rev, err := s.compactOnce(ctx, last, cfg.Keep); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("tenants: compacting etcd's history", "err", err)
			}
		} else {
			last = rev
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// compactOnce compacts to the current revision minus keep when that is more than keep past last;
// it returns the revision compacted to (last when it did nothing).
func (s *Store) compactOnce(ctx context.Context, last, keep int64) (int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.ping(), clientv3.WithCountOnly())
	if err != nil {
		return last, Unavailable(err)
	}
	target := resp.Header.Revision - keep
	if target <= last+keep {
		return last, nil
	}
	if _, err := s.c.Compact(ctx, target); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return last, Unavailable(err)
	}
	return target, nil
}

// MaintenanceReport is what Maintain did on each endpoint.
type MaintenanceReport struct {
	// CompactedTo is the revision the history was compacted to.
	CompactedTo int64 `json:"compactedTo"`
	// Endpoints holds the database size of each endpoint before and after defragmentation.
	Endpoints []EndpointSpace `json:"endpoints"`
	// Disarmed lists the alarms that were disarmed ("NOSPACE on member 8e9e05c52164694d").
	Disarmed []string `json:"disarmed"`
}

// EndpointSpace is one member's database file size before and after Maintain, and its quota.
type EndpointSpace struct {
	Endpoint    string `json:"endpoint"`
	BytesBefore int64  `json:"bytesBefore"`
	BytesAfter  int64  `json:"bytesAfter"`
	InUse       int64  `json:"inUse"`
	Quota       int64  `json:"quota"`
}

// Maintain frees etcd's space and lifts its space alarm, in the order etcd requires: compact the
// history to the current revision, defragment every endpoint (which gives the freed pages back to
// the file system; a member does not serve while it defragments), then disarm the NOSPACE alarms.
// It fails, disarming nothing, when an endpoint is still over its quota after defragmentation
// (then tenants' data must shrink, or the quota grow). It needs etcd's root role when auth is on.
func Maintain(ctx context.Context, c *clientv3.Client) (*MaintenanceReport, error) {
	rep := &MaintenanceReport{}
	resp, err := c.Get(ctx, "\x00", clientv3.WithCountOnly())
	if err != nil {
		return nil, fmt.Errorf("tenants: reading etcd's revision: %w", Unavailable(err))
	}
	rep.CompactedTo = resp.Header.Revision
	if _, err := c.Compact(ctx, rep.CompactedTo, clientv3.WithCompactPhysical()); err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return nil, fmt.Errorf("tenants: compacting etcd to revision %d: %w", rep.CompactedTo, Unavailable(err))
	}
	over := false
	for _, ep := range c.Endpoints() {
		es := EndpointSpace{Endpoint: ep}
		st, err := c.Status(ctx, ep)
		if err != nil {
			return nil, fmt.Errorf("tenants: reading the status of %s: %w", ep, Unavailable(err))
		}
		es.BytesBefore = st.DbSize
		if _, err := c.Defragment(ctx, ep); err != nil {
			return nil, fmt.Errorf("tenants: defragmenting %s: %w", ep, Unavailable(err))
		}
		if st, err = c.Status(ctx, ep); err != nil {
			return nil, fmt.Errorf("tenants: reading the status of %s: %w", ep, Unavailable(err))
		}
		es.BytesAfter, es.InUse, es.Quota = st.DbSize, st.DbSizeInUse, st.DbSizeQuota
		if es.Quota > 0 && es.BytesAfter >= es.Quota {
			over = true
		}
		rep.Endpoints = append(rep.Endpoints, es)
	}
	if over {
		return rep, fmt.Errorf("tenants: an endpoint is still over its space quota after defragmentation; alarms left armed: %w", ErrStorageFull)
	}
	alarms, err := c.AlarmList(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenants: listing etcd's alarms: %w", Unavailable(err))
	}
	for _, a := range alarms.Alarms {
		if a.Alarm != etcdserverpb.AlarmType_NOSPACE {
			continue
		}
		if _, err := c.AlarmDisarm(ctx, (*clientv3.AlarmMember)(a)); err != nil {
			return rep, fmt.Errorf("tenants: disarming the NOSPACE alarm of member %x: %w", a.MemberID, Unavailable(err))
		}
		rep.Disarmed = append(rep.Disarmed, fmt.Sprintf("NOSPACE on member %x", a.MemberID))
	}
	return rep, nil
}
