// Package domains verifies tenants' custom domains through DNS and keeps verifying them: a domain
// becomes active when its TXT record _portico-challenge.<domain> holds the token Portico issued and
// the domain points at Portico (a CNAME to the tenant's <slug>.<base-domain> or the configured
// target, or the same addresses); an active domain that stops pointing at Portico becomes inactive,
// which stops serving it and renewing its certificate. Names under the base domain are Portico's
// own and cannot be added. Several tenants may claim one name: the first whose records verify it
// holds it and the others' claims show as taken; a claim that never verifies lapses after
// PendingTTL. Records live in package tenants.
package domains

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/portico-billing/portico/internal/lifecycle"

	"github.com/portico-billing/portico/tenants"
)

// Errors of domain verification.
var (
	// ErrNotVerified wraps every reason a domain fails its check.
	ErrNotVerified = errors.New("domains: DNS does not verify the domain")
	// ErrExpired is a claim that was not verified within PendingTTL; it is removed, and the
	// tenant may add the domain again.
	ErrExpired = errors.New("domains: the claim expired before it was verified")
)

// DefaultPendingTTL is how long a claim may stay unverified (Verifier.PendingTTL's default).
const DefaultPendingTTL = 7 * 24 * time.Hour

// Store is what a Verifier needs of the data layer: the domain claims and their tenants.
// *tenants.Store is one.
type Store interface {
	AddDomain(ctx context.Context, tenantID, name string, now, expires time.Time) (*tenants.Domain, error)
	Domain(ctx context.Context, tenantID, name string) (*tenants.Domain, int64, error)
	Domains(ctx context.Context, tenantID string) ([]*tenants.Domain, error)
	SetDomainStatus(ctx context.Context, d *tenants.Domain, rev int64, status, lastError string, now time.Time) (*tenants.Domain, error)
	RemoveExpiredDomain(ctx context.Context, d *tenants.Domain, rev int64, now time.Time) error
	TenantByID(id string) (*tenants.Tenant, bool)
}

var _ Store = (*tenants.Store)(nil)

// Verifier checks domains against DNS.
type Verifier struct {
	// Store holds the domain records; required.
	Store Store
	// BaseDomain is the domain tenant slugs live under; the default CNAME target of a domain is
	// <slug>.<BaseDomain>.
	BaseDomain string
	// Target, when set, is the CNAME target every custom domain must point at instead (for a load
	// balancer name in front of the gateways).
	Target string
	// Resolver answers the DNS queries (default net.DefaultResolver). `portico serve
	// --dns-resolver host:port` points it at a specific server.
	Resolver *net.Resolver
	// Interval is how often Run re-verifies every domain (default 1 h).
	Interval time.Duration
	// Logger receives the results of background checks (default slog.Default()).
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// PendingTTL is how long an added domain may stay unverified before its claim lapses
	// (default DefaultPendingTTL, 7 days).
	PendingTTL time.Duration

	loop lifecycle.Loop // Start and Stop
}

// Start runs Run in the background until Stop.
func (v *Verifier) Start(ctx context.Context) error { return v.loop.Start(ctx, v.Run) }

// Stop ends the re-verification Start began.
func (v *Verifier) Stop() error { return v.loop.Stop() }

var _ lifecycle.App = (*Verifier)(nil)

// Add claims the domain for the tenant, pending until its DNS records verify it. Names under the
// base domain (tenant portals, the API and dashboard hosts), the base domain itself and the
// --domain-target name are refused with tenants.ErrInvalidDomain.
func (v *Verifier) Add(ctx context.Context, t *tenants.Tenant, name string) (*tenants.Domain, error) {
	host, err := tenants.NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	if base := strings.ToLower(strings.TrimSuffix(v.BaseDomain, ".")); base != "" && (host == base || strings.HasSuffix(host, "."+base)) {
		return nil, fmt.Errorf("%w: %q is under Portico's own domain %s", tenants.ErrInvalidDomain, host, base)
	}
	if target := strings.ToLower(strings.TrimSuffix(v.Target, ".")); target != "" && host == target {
		return nil, fmt.Errorf("%w: %q is Portico's own CNAME target", tenants.ErrInvalidDomain, host)
	}
	ttl := v.PendingTTL
	if ttl <= 0 {
		ttl = DefaultPendingTTL
	}
	now := v.now()
	return v.Store.AddDomain(ctx, t.ID, host, now, now.Add(ttl))
}

// NewResolver returns a resolver that sends every query to the DNS server at addr (host:port).
func NewResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func (v *Verifier) resolver() *net.Resolver {
	if v.Resolver != nil {
		return v.Resolver
	}
	return net.DefaultResolver
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// TargetFor is the host name the tenant's custom domains must point at.
func (v *Verifier) TargetFor(t *tenants.Tenant) string {
	if v.Target != "" {
		return strings.TrimSuffix(v.Target, ".")
	}
	return t.Slug + "." + v.BaseDomain
}

// Record is one DNS record to create.
type Record struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Instructions are the DNS records a tenant creates for a domain.
type Instructions struct {
	CNAME Record `json:"cname"`
	TXT   Record `json:"txt"`
}

// InstructionsFor returns the records the domain needs.
func (v *Verifier) InstructionsFor(t *tenants.Tenant, d *tenants.Domain) Instructions {
	var in Instructions
	in.CNAME.Name, in.CNAME.Value = d.Name, v.TargetFor(t)
	in.TXT.Name, in.TXT.Value = d.ChallengeName(), d.Token
	return in
}

// Check looks the domain's records up and returns nil when they verify it.
func (v *Verifier) Check(ctx context.Context, t *tenants.Tenant, d *tenants.Domain) error {
	r := v.resolver()
	txts, err := r.LookupTXT(ctx, d.ChallengeName())
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("%w: looking up TXT %s: %v", ErrNotVerified, d.ChallengeName(), err)
	}
	if !slices.Contains(txts, d.Token) {
		return fmt.Errorf("%w: TXT record %s must be %q (found %q)", ErrNotVerified, d.ChallengeName(), d.Token, txts)
	}
	target := v.TargetFor(t)
	if cname, err := r.LookupCNAME(ctx, d.Name); err == nil && strings.EqualFold(strings.TrimSuffix(cname, "."), target) {
		return nil
	}
	// An apex domain cannot have a CNAME: accept the same addresses as the target.
	have, err := r.LookupHost(ctx, d.Name)
	if err != nil {
		return fmt.Errorf("%w: %s has no CNAME to %s and no addresses (%v)", ErrNotVerified, d.Name, target, err)
	}
	want, err := r.LookupHost(ctx, target)
	if err != nil {
		return fmt.Errorf("%w: looking up the target %s: %v", ErrNotVerified, target, err)
	}
	for _, a := range have {
		if slices.Contains(want, a) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s points at %v, not at %s (%v)", ErrNotVerified, d.Name, have, target, want)
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// Verify checks one domain of the tenant now and records the result: pending or inactive domains
// that verify become active, unless another tenant holds the name (then the claim is taken);
// active ones that fail become inactive; pending ones that fail stay pending with the reason. A
// claim past its expiry is removed (ErrExpired). It returns the updated record.
func (v *Verifier) Verify(ctx context.Context, t *tenants.Tenant, name string) (*tenants.Domain, error) {
	d, rev, err := v.Store.Domain(ctx, t.ID, name)
	if err != nil {
		return nil, err
	}
	if now := v.now(); d.Expired(now) {
		if err := v.Store.RemoveExpiredDomain(ctx, d, rev, now); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("verifying %q: %w", d.Name, ErrExpired)
	}
	status, reason := tenants.DomainActive, ""
	if err := v.Check(ctx, t, d); err != nil {
		reason = strings.TrimPrefix(err.Error(), ErrNotVerified.Error()+": ")
		switch d.Status {
		case tenants.DomainActive, tenants.DomainInactive:
			status = tenants.DomainInactive
		default:
			status = tenants.DomainPending
		}
	}
	return v.Store.SetDomainStatus(ctx, d, rev, status, reason, v.now())
}

// Run re-verifies every domain each Interval until ctx ends.
func (v *Verifier) Run(ctx context.Context) {
	interval := v.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	log := v.Logger
	if log == nil {
		log = slog.Default()
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		v.ReverifyAll(ctx, log)
	}
}

// ReverifyAll checks every claim once and removes those that expired unverified. Active claims go
// first, so that a name whose owner's records moved away is free for the other claims in the same
// pass.
func (v *Verifier) ReverifyAll(ctx context.Context, log *slog.Logger) {
	all, err := v.Store.Domains(ctx, "")
	if err != nil {
		log.Warn("domains: listing domains to re-verify", "err", err)
		return
	}
	slices.SortStableFunc(all, func(a, b *tenants.Domain) int {
		return cmpBool(b.Status == tenants.DomainActive, a.Status == tenants.DomainActive)
	})
	for _, d := range all {
		t, ok := v.Store.TenantByID(d.TenantID)
		if !ok {
			continue
		}
		nd, err := v.Verify(ctx, t, d.Name)
		if errors.Is(err, ErrExpired) {
			log.Info("domains: unverified claim expired", "domain", d.Name, "tenant", t.Slug)
			continue
		}
		if err != nil {
			log.Warn("domains: re-verifying", "domain", d.Name, "err", err)
			continue
		}
		if nd.Status != d.Status {
			log.Info("domains: status changed", "domain", d.Name, "tenant", t.Slug, "from", d.Status, "to", nd.Status, "reason", nd.LastError)
		}
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
