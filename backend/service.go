package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of registration. Validation errors wrap ErrInvalid with a sentence for the caller.
var (
	ErrInvalid = errors.New("backend: invalid request")
	// ErrNoBackend: the tenant has registered no backend (or the tenant does not exist).
	ErrNoBackend = errors.New("backend: no backend registered")
)

// Errors of Call, one per failure class; the portal shows a page per class. Each comes wrapped
// with a detail for logs (never shown to customers: it may name the backend's host).
var (
	// ErrTimeout: no complete answer within Config.Timeout.
	ErrTimeout = errors.New("backend: the backend did not answer in time")
	// ErrUnreachable: no connection (DNS, refused, reset, TLS).
	ErrUnreachable = errors.New("backend: the backend is unreachable")
	// ErrStatus: the backend answered another status than 200 (a redirect too: never followed).
	// The error is a *StatusError carrying the code.
	ErrStatus = errors.New("backend: the backend answered an error status")
	// ErrInvalidResponse: the 200 answer is not a valid protocol answer (not JSON, an unknown
	// result, a requires_action without an https redirectUrl, over MaxResponseBody, …).
	ErrInvalidResponse = errors.New("backend: the backend's answer is invalid")
	// ErrInvalidAccount: the answer's account document is invalid (or names another account, for
	// StoreAccount). The Response that comes with it holds the backend's result: the backend
	// acted, Portico stored nothing.
	ErrInvalidAccount = errors.New("backend: the backend returned an invalid account document")
	// ErrForbiddenAddress: the backend's address is private, loopback or otherwise blocked, and
	// the operator's allowed ranges (Config.AllowCIDRs) do not include it.
	ErrForbiddenAddress = errors.New("backend: the backend's address is not allowed")
	// ErrKeyReused: the idempotency key already names an attempt with another type or data.
	ErrKeyReused = errors.New("backend: the idempotency key was used for a different request")
)

// StatusError is the error of a non-200 answer; errors.Is(err, ErrStatus) holds.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("backend: the backend answered HTTP %d", e.Code)
}
func (e *StatusError) Is(err error) bool { return err == ErrStatus }

// Limits and defaults.
const (
	// DefaultTimeout bounds one call unless Config.Timeout says otherwise.
	DefaultTimeout = 10 * time.Second
	// MaxResponseBody bounds the backend's answer (an account document is at most 128 KiB).
	MaxResponseBody = 1 << 20
	// MaxMessageLength bounds the answer's message, in characters.
	MaxMessageLength = 1000
	// MaxIdempotencyKey bounds an idempotency key, in bytes.
	MaxIdempotencyKey = 255
	// MaxRequestData bounds the encoded data of a request.
	MaxRequestData = 64 << 10
	// RotationOverlap is how long a replaced secret keeps signing beside the new one.
	RotationOverlap = webhooks.RotationOverlap
	// DefaultOutcomeTTL is how long the outcome of an attempt answers repeated calls with its key.
	DefaultOutcomeTTL = 24 * time.Hour
	// claimMargin is how much longer than the timeout an attempt's claim lives.
	claimMargin = 10 * time.Second
)

// Store is what the backend service needs of the data layer: the etcd client and the keys of
// the registrations and attempts, the tenants, and the account writes with their outbox events.
// *tenants.Store is one.
type Store interface {
	Client() *clientv3.Client
	BackendKey(tenantID string) string
	BackendAttemptKey(tenantID, idempotencyKey string) string
	TenantByID(id string) (*tenants.Tenant, bool)
	Tenant(ctx context.Context, idOrSlug string) (*tenants.Tenant, error)
	AppendEvents(ctx context.Context, events ...*tenants.Event) error
	PutAccountWithEvents(ctx context.Context, tenantID string, a *account.Account, ifMatch int64, events []*tenants.Event) (rev int64, created bool, err error)
	DropSourceCopy(ctx context.Context, tenantID, accountID string) error
}

var _ Store = (*tenants.Store)(nil)

// Config configures a Service. Store and Keyring are required; every other field has a usable
// zero value.
type Config struct {
	// Store is the data layer: the etcd client, the key layout, tenants and accounts. Required.
	Store Store
	// Keyring seals the signing secrets at rest; it must hold a key. Required.
	Keyring *keyring.Keyring
	// Client sends the calls (default webhooks.NewClient(AllowCIDRs): refuses blocked addresses
	// at connect time, no proxy). A client given here is copied and never follows redirects; it
	// must do its own address checks.
	Client *http.Client
	// AllowCIDRs are ranges the backend may be in although they are private, loopback or
	// otherwise blocked (default none); `portico serve` passes --webhook-allow-cidr. Plain-http
	// URLs are accepted only for hosts that resolve into them; a requires_action redirectUrl may
	// be plain http only on loopback, and only when loopback is in them.
	AllowCIDRs []netip.Prefix
	// Timeout bounds each call: connecting, sending, and reading the whole answer (default
	// DefaultTimeout).
	Timeout time.Duration
	// OutcomeTTL is how long an attempt's outcome answers repeated calls with the same
	// idempotency key (default DefaultOutcomeTTL).
	OutcomeTTL time.Duration
	// Logger receives failures (default slog.Default()). Secrets, signatures and URLs (only
	// hosts) are never logged.
	Logger *slog.Logger
	// Now returns the current time (default time.Now); lease timing uses the real clock.
	Now func() time.Time
}

// Service registers tenants' backends and calls them. Its methods are safe for concurrent use.
type Service struct {
	cfg    Config
	store  Store
	kr     *keyring.Keyring
	c      *clientv3.Client
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	leaseMu    sync.Mutex // guards outLease and outLeaseAt
	outLease   clientv3.LeaseID
	outLeaseAt time.Time
}

// New checks cfg, fills its defaults and returns the service. It does no I/O.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("backend: Config.Store is nil")
	}
	if cfg.Keyring == nil {
		return nil, errors.New("backend: Config.Keyring is nil")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.OutcomeTTL <= 0 {
		cfg.OutcomeTTL = DefaultOutcomeTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.AllowCIDRs = append([]netip.Prefix(nil), cfg.AllowCIDRs...)
	return &Service{cfg: cfg, store: cfg.Store, kr: cfg.Keyring, c: cfg.Store.Client(), client: webhooks.OutboundClient(cfg.Client, cfg.AllowCIDRs),
		log: cfg.Logger, now: cfg.Now}, nil
}

// Timeout is the bound of each call.
func (s *Service) Timeout() time.Duration { return s.cfg.Timeout }

// outcomeLease returns the lease outcomes are written with. One lease serves every outcome
// written within an hour, so outcomes live between OutcomeTTL and OutcomeTTL + 1 h.
func (s *Service) outcomeLease(ctx context.Context) (clientv3.LeaseID, error) {
	s.leaseMu.Lock()
	defer s.leaseMu.Unlock()
	if s.outLease != 0 && time.Since(s.outLeaseAt) < time.Hour {
		return s.outLease, nil
	}
	resp, err := s.c.Grant(ctx, int64((s.cfg.OutcomeTTL+time.Hour)/time.Second))
	if err != nil {
		return 0, tenants.Unavailable(err)
	}
	s.outLease, s.outLeaseAt = resp.ID, time.Now()
	return resp.ID, nil
}

// forgetOutcomeLease drops a lease etcd no longer knows.
func (s *Service) forgetOutcomeLease(id clientv3.LeaseID) {
	s.leaseMu.Lock()
	if s.outLease == id {
		s.outLease = 0
	}
	s.leaseMu.Unlock()
}

// isLeaseNotFound reports whether etcd lost a lease.
func isLeaseNotFound(err error) bool { return errors.Is(err, rpctypes.ErrLeaseNotFound) }
