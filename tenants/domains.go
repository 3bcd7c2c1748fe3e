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
	// ErrDomainTaken is a tenant adding a domain it has already added (another tenant's claim on
	// the same name does not block it).
	ErrDomainTaken    = errors.New("tenants: domain is already added")
	ErrDomainNotFound = errors.New("tenants: domain not found")
	ErrInvalidDomain  = errors.New("tenants: invalid domain")
)

// TakenReason is the LastError of a claim on a name another tenant has verified.
const TakenReason = "another tenant verified this domain first"

// Domain statuses. Only active domains are served and get certificates.
const (
	DomainPending  = "pending"  // added; waiting for its DNS records
	DomainActive   = "active"   // verified: served, certificates issued
	DomainInactive = "inactive" // was active, stopped pointing at Portico: not served, no renewals
	DomainTaken    = "taken"    // another tenant verified the name first: not served
)

// Domain is a tenant's claim on a custom domain (billing.acme.com). Several tenants may claim the
// same name; the first whose DNS records verify it holds it (the name's owner key, written in the
// Txn that activates the claim), and only that claim is ever active.
type Domain struct {
	Name     string `json:"name"`
	TenantID string `json:"tenantId"`
	Status   string `json:"status"`
	// Token is the value the TXT record _portico-challenge.<name> must hold.
	Token     string    `json:"token"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt is when a claim that was never verified lapses (zero: never); see Expired.
	ExpiresAt     time.Time `json:"expiresAt,omitzero"`
	VerifiedAt    time.Time `json:"verifiedAt,omitzero"`
	LastCheckedAt time.Time `json:"lastCheckedAt,omitzero"`
	// LastError says why the last check failed, for the tenant to fix.
	LastError string `json:"lastError,omitempty"`
}

// Expired reports whether the claim was never verified and its time ran out at now.
func (d *Domain) Expired(now time.Time) bool {
	return (d.Status == DomainPending || d.Status == DomainTaken) && !d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt)
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
	for _, d := range s.idx.Load().domains {
		if d.TenantID == tenantID && d.Status == DomainActive && (best == "" || d.Name < best) {
			best = d.Name
		}
	}
	return best
}

// AddDomain registers the tenant's claim on a custom domain as pending, with a fresh TXT token,
// lapsing at expires (zero: never). Other tenants' claims on the name do not block it (the first to
// verify wins); the tenant's own claim does (ErrDomainTaken) unless it has expired at now, in which
// case the fresh claim replaces it.
func (s *Store) AddDomain(ctx context.Context, tenantID, name string, now, expires time.Time) (*Domain, error) {
	host, err := NormalizeDomain(name)
	if err != nil {
		return nil, err
	}
	d := &Domain{Name: host, TenantID: tenantID, Status: DomainPending, Token: NewToken()[:32], CreatedAt: now.UTC().Truncate(time.Second)}
	if !expires.IsZero() {
		d.ExpiresAt = expires.UTC().Truncate(time.Second)
	}
	b, _ := json.Marshal(d)
	old, rev, err := s.Domain(ctx, tenantID, host)
	switch {
	case err == nil && !old.Expired(now):
		return nil, fmt.Errorf("adding domain %q: %w", host, ErrDomainTaken)
	case err != nil && !errors.Is(err, ErrDomainNotFound):
		return nil, err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	key := s.k.domain(host, tenantID)
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rev),
			clientv3.Compare(clientv3.CreateRevision(s.k.tenant(tenantID)), ">", 0)).
		Then(clientv3.OpPut(key, string(b))).
		Else(clientv3.OpGet(s.k.tenant(tenantID), clientv3.WithKeysOnly())).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: adding domain %q: %w", host, Unavailable(err))
	}
	if !resp.Succeeded {
		if len(resp.Responses[0].GetResponseRange().Kvs) > 0 {
			return nil, fmt.Errorf("adding domain %q: %w", host, ErrDomainTaken)
		}
		return nil, fmt.Errorf("adding domain %q: %w", host, ErrTenantNotFound)
	}
	return d, nil
}

// shown is the claim as its tenant sees it: a claim on a name another tenant holds is taken.
func shown(d *Domain, owner string) *Domain {
	if owner != "" && owner != d.TenantID && d.Status != DomainActive {
		d.Status, d.LastError = DomainTaken, TakenReason
	}
	return d
}

// Domain returns the tenant's claim on a domain and its revision; another tenant's claim is not
// found. With tenantID "" it is not found either.
func (s *Store) Domain(ctx context.Context, tenantID, name string) (*Domain, int64, error) {
	host, err := NormalizeDomain(name)
	if err != nil || tenantID == "" {
		return nil, 0, fmt.Errorf("loading domain %q: %w", name, ErrDomainNotFound)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).Then(clientv3.OpGet(s.k.domain(host, tenantID)), clientv3.OpGet(s.k.domainOwner(host))).Commit()
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: loading domain %q: %w", host, Unavailable(err))
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	var d Domain
	if len(kvs) == 0 || json.Unmarshal(kvs[0].Value, &d) != nil {
		return nil, 0, fmt.Errorf("loading domain %q: %w", host, ErrDomainNotFound)
	}
	owner := ""
	if o := resp.Responses[1].GetResponseRange().Kvs; len(o) > 0 {
		owner = string(o[0].Value)
	}
	return shown(&d, owner), kvs[0].ModRevision, nil
}

// Domains lists the tenant's claims by name; with tenantID "" every tenant's (by name, then
// tenant).
func (s *Store) Domains(ctx context.Context, tenantID string) ([]*Domain, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).Then(clientv3.OpGet(s.k.domains(), clientv3.WithPrefix()),
		clientv3.OpGet(s.k.domainOwners(), clientv3.WithPrefix())).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: listing domains: %w", Unavailable(err))
	}
	owners := map[string]string{}
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		owners[strings.TrimPrefix(string(kv.Key), s.k.domainOwners())] = string(kv.Value)
	}
	var out []*Domain
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		var d Domain
		if json.Unmarshal(kv.Value, &d) == nil && (tenantID == "" || d.TenantID == tenantID) {
			out = append(out, shown(&d, owners[d.Name]))
		}
	}
	slices.SortFunc(out, func(a, b *Domain) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.TenantID, b.TenantID)
	})
	return out, nil
}

// SetDomainStatus records the result of a DNS check, compared on the revision read so that a
// removal or a concurrent check in between is not overwritten. Activating a claim is one Txn that
// also takes the name's owner key, compared on the revision read, so that two tenants verifying
// the same name at once never both become active: a claim on a name another tenant holds is
// recorded as taken instead. A claim that stops being active gives the name up.
func (s *Store) SetDomainStatus(ctx context.Context, d *Domain, rev int64, status, lastError string, now time.Time) (*Domain, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	key, ownerKey := s.k.domain(d.Name, d.TenantID), s.k.domainOwner(d.Name)
	for range 3 {
		o, err := s.c.Get(ctx, ownerKey)
		if err != nil {
			return nil, fmt.Errorf("tenants: updating domain %q: %w", d.Name, Unavailable(err))
		}
		owner, ownerRev := "", int64(0)
		if len(o.Kvs) > 0 {
			owner, ownerRev = string(o.Kvs[0].Value), o.Kvs[0].ModRevision
		}
		next := *d
		next.Status, next.LastError, next.LastCheckedAt = status, lastError, now.UTC().Truncate(time.Second)
		if next.Status == DomainTaken {
			next.Status = DomainPending
		}
		var ops []clientv3.Op
		switch {
		case status == DomainActive && owner != "" && owner != d.TenantID:
			next.Status, next.LastError = DomainTaken, TakenReason
		case status == DomainActive:
			if d.Status != DomainActive {
				next.VerifiedAt = next.LastCheckedAt
			}
			next.ExpiresAt = time.Time{}
			if owner == "" {
				ops = append(ops, clientv3.OpPut(ownerKey, d.TenantID))
			}
		case owner == d.TenantID:
			ops = append(ops, clientv3.OpDelete(ownerKey))
		}
		b, _ := json.Marshal(&next)
		resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev),
			clientv3.Compare(clientv3.ModRevision(ownerKey), "=", ownerRev)).
			Then(append(ops, clientv3.OpPut(key, string(b)))...).
			Else(clientv3.OpGet(key, clientv3.WithKeysOnly())).Commit()
		if err != nil {
			return nil, fmt.Errorf("tenants: updating domain %q: %w", d.Name, Unavailable(err))
		}
		if resp.Succeeded {
			return shown(&next, owner), nil
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 0 || kvs[0].ModRevision != rev {
			break // the claim itself changed
		}
		// Only the owner key moved (another tenant's verification): decide again.
	}
	return nil, fmt.Errorf("updating domain %q: %w", d.Name, ErrConflict)
}

// RemoveDomain deletes the tenant's claim: the domain stops being served and gets no new
// certificates, and the name is free for another tenant's claim to verify.
func (s *Store) RemoveDomain(ctx context.Context, tenantID, name string) error {
	d, rev, err := s.Domain(ctx, tenantID, name)
	if err != nil {
		return err
	}
	return s.removeDomain(ctx, d, rev)
}

// RemoveExpiredDomain deletes the claim if it is still the one read at rev and has expired at now.
func (s *Store) RemoveExpiredDomain(ctx context.Context, d *Domain, rev int64, now time.Time) error {
	if !d.Expired(now) {
		return nil
	}
	return s.removeDomain(ctx, d, rev)
}

func (s *Store) removeDomain(ctx context.Context, d *Domain, rev int64) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	key, ownerKey := s.k.domain(d.Name, d.TenantID), s.k.domainOwner(d.Name)
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
		Then(clientv3.OpDelete(key), clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.Value(ownerKey), "=", d.TenantID)},
			[]clientv3.Op{clientv3.OpDelete(ownerKey)}, nil)).Commit()
	if err != nil {
		return fmt.Errorf("tenants: removing domain %q: %w", d.Name, Unavailable(err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("removing domain %q: %w", d.Name, ErrConflict)
	}
	return nil
}

// migrateDomains moves domain records written before several tenants could claim one name
// (state/domains/<host>) to today's layout (state/domains/<host>/<tenantID>, plus the owner key
// of an active one), each in one Txn compared on the old record's revision, so that custom
// domains verified before the upgrade keep being served. It is idempotent: every instance runs it
// at start, and whichever comes first moves a record.
func (s *Store) migrateDomains(ctx context.Context) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.domains(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("tenants: listing domains to migrate: %w", Unavailable(err))
	}
	for _, kv := range resp.Kvs {
		host := strings.TrimPrefix(string(kv.Key), s.k.domains())
		if strings.Contains(host, "/") {
			continue // today's layout
		}
		var d Domain
		if err := json.Unmarshal(kv.Value, &d); err != nil || d.TenantID == "" || strings.Contains(d.TenantID, "/") {
			s.log.Error("tenants: skipping an unreadable domain record of the old layout", "key", string(kv.Key))
			continue
		}
		then := []clientv3.Op{clientv3.OpDelete(string(kv.Key)), clientv3.OpPut(s.k.domain(host, d.TenantID), string(kv.Value))}
		if d.Status == DomainActive {
			then = append(then, clientv3.OpPut(s.k.domainOwner(host), d.TenantID))
		}
		if _, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)).Then(then...).Commit(); err != nil {
			return fmt.Errorf("tenants: migrating domain %q: %w", host, Unavailable(err))
		}
		s.log.Info("tenants: domain record moved to the per-tenant layout", "domain", host, "tenant", d.TenantID)
	}
	return nil
}
