package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/net/idna"
)

// Errors of the custom domain concern.
var (
	ErrDomainTaken    = errors.New("tenants: domain is already added")
	ErrDomainNotFound = errors.New("tenants: domain not found")
	ErrInvalidDomain  = errors.New("tenants: invalid domain")
)

// Domain statuses. Only active domains are served and get certificates.
const (
	DomainPending  = "pending"  // added; waiting for its DNS records
	DomainActive   = "active"   // verified: served, certificates issued
	DomainInactive = "inactive" // was active, stopped pointing at Portico: not served, no renewals
)

// Domain is a tenant's custom domain (billing.acme.com), unique across all tenants.
type Domain struct {
	Name     string `json:"name"`
	TenantID string `json:"tenantId"`
	Status   string `json:"status"`
	// Token is the value the TXT record _portico-challenge.<name> must hold.
	Token         string    `json:"token"`
	CreatedAt     time.Time `json:"createdAt"`
	VerifiedAt    time.Time `json:"verifiedAt,omitzero"`
	LastCheckedAt time.Time `json:"lastCheckedAt,omitzero"`
	// LastError says why the last check failed, for the tenant to fix.
	LastError string `json:"lastError,omitempty"`
}

// ChallengeName is the DNS name of the domain's TXT record.
func (d *Domain) ChallengeName() string { return "_portico-challenge." + d.Name }

// NormalizeDomain lower-cases a host name, converts it to its ASCII (punycode) form and checks it
// is a name Portico can serve: at least two labels, no IP address, no port, no wildcard.
func NormalizeDomain(name string) (string, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	ascii, err := idna.Lookup.ToASCII(name)
	if err != nil || name == "" {
		return "", fmt.Errorf("%w: %q is not a host name", ErrInvalidDomain, name)
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 || len(ascii) > 253 {
		return "", fmt.Errorf("%w: %q must be a full host name such as billing.example.com", ErrInvalidDomain, name)
	}
	for _, l := range labels {
		if !slugRE.MatchString(l) && !(strings.HasPrefix(l, "xn--") && len(l) <= 63) {
			return "", fmt.Errorf("%w: %q has an invalid label %q", ErrInvalidDomain, name, l)
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", fmt.Errorf("%w: %q looks like an IP address", ErrInvalidDomain, name)
	}
	return ascii, nil
}

// TenantByDomain returns the tenant serving an active custom domain, from the in-memory index.
func (s *Store) TenantByDomain(host string) (*Tenant, bool) {
	t, ok := s.idx.Load().byDomain[host]
	return t, ok
}

// TenantByDomainBytes is TenantByDomain for a byte slice; it does not allocate.
func (s *Store) TenantByDomainBytes(host []byte) (*Tenant, bool) {
	t, ok := s.idx.Load().byDomain[string(host)]
	return t, ok
}

// PrimaryDomain returns the tenant's active custom domain (the first by name), or "" when it has
// none; links are issued on it so that customers land on the tenant's own domain.
func (s *Store) PrimaryDomain(tenantID string) string {
	best := ""
	for host, d := range s.idx.Load().domains {
		if d.TenantID == tenantID && d.Status == DomainActive && (best == "" || host < best) {
			best = host
		}
	}
	return best
}

// AddDomain registers a custom domain for the tenant as pending, with a fresh TXT token. A domain
// belongs to one tenant at a time: adding one another tenant has fails with ErrDomainTaken.
func (s *Store) AddDomain(ctx context.Context, tenantID, name string, now time.Time) (*Domain, error) {
	host, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	d := &Domain{Name: host, TenantID: tenantID, Status: DomainPending, Token: NewToken()[:32], CreatedAt: now.UTC().Truncate(time.Second)}
	b, _ := json.Marshal(d)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.k.domain(host)), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.k.tenant(tenantID)), ">", 0)).
		Then(clientv3.OpPut(s.k.domain(host), string(b))).
		Else(clientv3.OpGet(s.k.domain(host), clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: adding domain %q: %w", host, wrapEtcd(err))
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) > 0 {
			return nil, fmt.Errorf("adding domain %q: %w", host, ErrDomainTaken)
		}
		return nil, fmt.Errorf("adding domain %q: %w", host, ErrTenantNotFound)
	}
	return d, nil
}

// Domain returns the tenant's domain; another tenant's domain is not found.
func (s *Store) Domain(ctx context.Context, tenantID, name string) (*Domain, int64, error) {
	host, err := NormalizeDomain(name)
	if err != nil {
		return nil, 0, fmt.Errorf("loading domain %q: %w", name, ErrDomainNotFound)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.domain(host))
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: loading domain %q: %w", host, wrapEtcd(err))
	}
	var d Domain
	if len(resp.Kvs) == 0 || json.Unmarshal(resp.Kvs[0].Value, &d) != nil || (tenantID != "" && d.TenantID != tenantID) {
		return nil, 0, fmt.Errorf("loading domain %q: %w", host, ErrDomainNotFound)
	}
	return &d, resp.Kvs[0].ModRevision, nil
}

// Domains lists the tenant's domains by name; with tenantID "" every tenant's.
func (s *Store) Domains(ctx context.Context, tenantID string) ([]*Domain, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.domains(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("tenants: listing domains: %w", wrapEtcd(err))
	}
	var out []*Domain
	for _, kv := range resp.Kvs {
		var d Domain
		if json.Unmarshal(kv.Value, &d) == nil && (tenantID == "" || d.TenantID == tenantID) {
			out = append(out, &d)
		}
	}
	slices.SortFunc(out, func(a, b *Domain) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// SetDomainStatus records the result of a DNS check, compared on the revision read so that a
// removal or a concurrent check in between is not overwritten.
func (s *Store) SetDomainStatus(ctx context.Context, d *Domain, rev int64, status, lastError string, now time.Time) (*Domain, error) {
	next := *d
	next.Status, next.LastError, next.LastCheckedAt = status, lastError, now.UTC().Truncate(time.Second)
	if status == DomainActive && d.Status != DomainActive {
		next.VerifiedAt = next.LastCheckedAt
	}
	b, _ := json.Marshal(&next)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.k.domain(d.Name)), "=", rev)).
		Then(clientv3.OpPut(s.k.domain(d.Name), string(b))).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: updating domain %q: %w", d.Name, wrapEtcd(err))
	}
	if !resp.Succeeded {
		return nil, fmt.Errorf("updating domain %q: %w", d.Name, ErrConflict)
	}
	return &next, nil
}

// RemoveDomain deletes the tenant's domain: it stops being served and gets no new certificates.
func (s *Store) RemoveDomain(ctx context.Context, tenantID, name string) error {
	d, rev, err := s.Domain(ctx, tenantID, name)
	if err != nil {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.k.domain(d.Name)), "=", rev)).
		Then(clientv3.OpDelete(s.k.domain(d.Name))).Commit()
	if err != nil {
		return fmt.Errorf("tenants: removing domain %q: %w", d.Name, wrapEtcd(err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("removing domain %q: %w", d.Name, ErrConflict)
	}
	return nil
}
