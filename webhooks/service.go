package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-billing/portico/internal/lifecycle"

	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the endpoint API. Validation errors wrap ErrInvalid with a message for the caller;
// an unknown endpoint, or another tenant's, is ErrNotFound. Failures of etcd wrap
// tenants.ErrUnavailable.
var (
	ErrInvalid  = errors.New("webhooks: invalid request")
	ErrNotFound = errors.New("webhooks: endpoint not found")
)

// Limits.
const (
	// MaxEndpoints is the number of endpoints a tenant can have. The fan-out of an event is one
	// etcd Txn with two writes per endpoint, and etcd allows 128 operations per Txn by default.
	MaxEndpoints = 20
	// MaxURLLength bounds an endpoint URL.
	MaxURLLength = 2048
	// MaxDescriptionLength bounds an endpoint description, in characters.
	MaxDescriptionLength = 512
	// RotationOverlap is how long a rotated-out secret keeps signing.
	RotationOverlap = 24 * time.Hour
	// RecordTTL is how long delivery records are kept after their last change.
	RecordTTL = 7 * 24 * time.Hour
	// MaxRetryAfter caps how far a Retry-After header can push the next attempt.
	MaxRetryAfter = 24 * time.Hour
)

// DefaultSchedule is the Standard Webhooks retry schedule: the delay before each attempt.
var DefaultSchedule = []time.Duration{
	0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute,
	2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Store is what the webhooks service needs of the data layer: the etcd client and the webhooks/
// subspace for its own keys, the tenants, and the outbox it drains and adds test events to.
// *tenants.Store is one.
type Store interface {
	Client() *clientv3.Client
	WebhooksPrefix() string
	OutboxPrefix() string
	TenantByID(id string) (*tenants.Tenant, bool)
	Tenant(ctx context.Context, idOrSlug string) (*tenants.Tenant, error)
	AppendEvents(ctx context.Context, events ...*tenants.Event) error
}

var _ Store = (*tenants.Store)(nil)

// Config configures a Service. Store and Keyring are required; every other field has a usable
// zero value.
type Config struct {
	// Store is the data layer: the etcd client, the key prefix, the tenants and the outbox.
	// Required.
	Store Store
	// EventTypes are the event types endpoints may subscribe to besides Portico's own
	// (tenants.EventTypes): those the sections declare (plugins.EventTypes; default none).
	EventTypes []string
	// Keyring seals endpoint secrets at rest; it must hold a key (required).
	Keyring *keyring.Keyring
	// Client sends deliveries (default NewClient(AllowCIDRs): refuses blocked addresses, no proxy).
	// A client given here is copied and never follows redirects either; it must do its own
	// address checks.
	Client *http.Client
	// AllowCIDRs are ranges deliveries may reach although they are private, loopback or
	// otherwise blocked (default none), e.g. 127.0.0.0/8 in tests or 10.0.0.0/8 on premises.
	// Plain-http endpoint URLs are accepted only for hosts that resolve into these ranges.
	AllowCIDRs []netip.Prefix
	// AllowHTTP accepts plain-http endpoint URLs for any host (default false; for tests).
	AllowHTTP bool
	// Schedule is the delay before each attempt; its length is the number of attempts (default
	// DefaultSchedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).
	Schedule []time.Duration
	// Jitter spreads each retry delay by ± this fraction (default 0.1; negative: none).
	Jitter float64
	// Timeout bounds each delivery request (default 15 s).
	Timeout time.Duration
	// ClaimTTL is the TTL of the lease that holds this instance's claims: a killed instance's
	// tasks are picked up by others after at most this long (default Timeout + 10 s; at least
	// Timeout + 1 s).
	ClaimTTL time.Duration
	// Concurrency is the number of deliveries this instance makes at once (default 16).
	Concurrency int
	// Logger receives delivery failures and etcd trouble (default slog.Default()). Secrets and
	// signatures are never logged, nor endpoint URLs (only their hosts).
	Logger *slog.Logger
	// Now returns the current time (default time.Now); tests move it. Lease timing uses the real
	// clock.
	Now func() time.Time
	// WorkerID names this instance in claims (default a random "wk_…").
	WorkerID string
}

// Service manages webhook endpoints and delivers the outbox. Its methods are safe for concurrent
// use; Run delivers until its context ends.
type Service struct {
	cfg     Config
	store   Store
	loop    lifecycle.Loop // Start and Stop
	kr      *keyring.Keyring
	c       *clientv3.Client
	client  *http.Client
	log     *slog.Logger
	now     func() time.Time
	k       keys
	running atomic.Bool

	leaseMu    sync.Mutex // guards recLease and recLeaseAt
	recLease   clientv3.LeaseID
	recLeaseAt time.Time // real time the record lease was granted
}

// New checks cfg, fills its defaults and returns the service. It does no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: Config.Store is nil")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("webhooks: Config.Keyring is nil")
	}
	if len(cfg.Schedule) == 0 {
		cfg.Schedule = DefaultSchedule
	}
	cfg.Schedule = append([]time.Duration(nil), cfg.Schedule...)
	for _, d := range cfg.Schedule {
		if d < 0 {
			return nil, fmt.Errorf("webhooks: negative delay %v in Config.Schedule", d)
		}
	}
	switch {
	case cfg.Jitter == 0:
		cfg.Jitter = 0.1
	case cfg.Jitter < 0:
		cfg.Jitter = 0
	case cfg.Jitter > 1:
		cfg.Jitter = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.ClaimTTL <= 0 {
		cfg.ClaimTTL = cfg.Timeout + 10*time.Second
	}
	if cfg.ClaimTTL < cfg.Timeout+time.Second {
		return nil, fmt.Errorf("webhooks: Config.ClaimTTL %v must be at least Config.Timeout + 1s", cfg.ClaimTTL)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WorkerID == "" {
		var b [6]byte
		rand.Read(b[:])
		cfg.WorkerID = "wk_" + hex.EncodeToString(b[:])
	}
	cfg.AllowCIDRs = append([]netip.Prefix(nil), cfg.AllowCIDRs...)
	return &Service{
		cfg: cfg, store: cfg.Store, kr: cfg.Keyring, c: cfg.Store.Client(), client: OutboundClient(cfg.Client, cfg.AllowCIDRs),
		log: cfg.Logger, now: cfg.Now, k: keys{cfg.Store.WebhooksPrefix()},
	}, nil
}

// keys builds the etcd keys of the package; see the package doc for the layout.
type keys struct{ p string }

func (k keys) endpoints(tid string) string     { return k.p + "endpoints/" + tid + "/" }
func (k keys) endpoint(tid, id string) string  { return k.p + "endpoints/" + tid + "/" + id }
func (k keys) tasks() string                   { return k.p + "tasks/" }
func (k keys) claims() string                  { return k.p + "claims/" }
func (k keys) claim(did string) string         { return k.p + "claims/" + did }
func (k keys) deliveries(tid string) string    { return k.p + "deliveries/" + tid + "/" }
func (k keys) delivery(tid, did string) string { return k.p + "deliveries/" + tid + "/" + did }
func (k keys) dueBound(t time.Time) string     { return k.p + "tasks/" + dueDigits(t) }
func (k keys) task(due time.Time, did string) string {
	return k.p + "tasks/" + dueDigits(due) + "/" + did
}

// dueDigits is a due time as 20 zero-padded digits of Unix nanoseconds, so keys sort by time.
func dueDigits(t time.Time) string {
	n := t.UnixNano()
	if n < 0 {
		n = 0
	}
	return fmt.Sprintf("%020d", n)
}

// taskDue parses the due time out of a task key; ok is false for a key of another shape.
func (k keys) taskDue(key string) (due time.Time, did string, ok bool) {
	rest := key[len(k.tasks()):]
	if len(rest) < 22 || rest[20] != '/' {
		return time.Time{}, "", false
	}
	var n int64
	for _, c := range rest[:20] {
		if c < '0' || c > '9' {
			return time.Time{}, "", false
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(0, n), rest[21:], true
}

// newDeliveryID returns a time-ordered delivery id: "wd_" + 16 hex digits of Unix nanoseconds +
// 8 random hex digits.
func newDeliveryID(now time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("wd_%016x%s", now.UnixNano(), hex.EncodeToString(r[:]))
}

// recordLease returns the lease delivery records are written with. One lease serves every
// record written within an hour, so records live between RecordTTL and RecordTTL + 1 h after
// their last write.
func (s *Service) recordLease(ctx context.Context) (clientv3.LeaseID, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.recLease != 0 && time.Since(s.recLeaseAt) < time.Hour {
		return s.recLease, nil
	}
	resp, err := s.c.Grant(ctx, int64((RecordTTL+time.Hour)/time.Second))
	if err != nil {
		return 0, tenants.Unavailable(err)
	}
	s.recLease, s.recLeaseAt = resp.ID, time.Now()
	return resp.ID, nil
}

// forgetRecordLease drops a lease etcd no longer knows.
func (s *Service) forgetRecordLease(id clientv3.LeaseID) {
	s.leaseMu.Lock()
	if s.recLease == id {
		s.recLease = 0
	}
	s.leaseMu.Unlock()
}

// commitWithRecordLease commits a Txn whose operations put delivery records on the record lease,
// granting a new lease once if etcd lost the cached one.
func (s *Service) commitWithRecordLease(ctx context.Context, cmps []clientv3.Cmp, ops func(lease clientv3.LeaseID) []clientv3.Op) (*clientv3.TxnResponse, error) {
	for try := 0; ; try++ {
		lease, err := s.recordLease(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := s.c.Txn(ctx).If(cmps...).Then(ops(lease)...).Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && try == 0 {
			s.forgetRecordLease(lease)
			continue
		}
		if err != nil {
			return nil, tenants.Unavailable(err)
		}
		return resp, nil
	}
}
