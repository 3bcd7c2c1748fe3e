package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TenantByID returns the tenant from the in-memory index. It never touches etcd.
func (s *Store) TenantByID(id string) (*Tenant, bool) {
	t, ok := s.idx.Load().byID[id]
	return t, ok
}

// TenantBySlug returns the tenant with the slug from the in-memory index.
func (s *Store) TenantBySlug(slug string) (*Tenant, bool) {
	t, ok := s.idx.Load().bySlug[slug]
	return t, ok
}

// TenantBySlugBytes is TenantBySlug for a byte slice; it does not allocate.
func (s *Store) TenantBySlugBytes(slug []byte) (*Tenant, bool) {
	t, ok := s.idx.Load().bySlug[string(slug)]
	return t, ok
}

// Tenants returns every tenant, sorted by slug.
func (s *Store) Tenants() []*Tenant {
	idx := s.idx.Load()
	out := make([]*Tenant, 0, len(idx.byID))
	for _, t := range idx.byID {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b *Tenant) int { return compareStrings(a.Slug, b.Slug) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Tenant resolves a tenant by id or slug, reading etcd (not the index), so that command-line tools
// see writes made a moment ago by another process.
func (s *Store) Tenant(ctx context.Context, idOrSlug string) (*Tenant, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	id := idOrSlug
	if ValidSlug(idOrSlug) {
		resp, err := s.c.Get(ctx, s.k.slug(idOrSlug))
		if err != nil {
			return nil, fmt.Errorf("tenants: loading tenant %q: %w", idOrSlug, Unavailable(err))
		}
		if len(resp.Kvs) == 1 {
			id = string(resp.Kvs[0].Value)
		}
	}
	resp, err := s.c.Get(ctx, s.k.tenant(id))
	if err != nil {
		return nil, fmt.Errorf("tenants: loading tenant %q: %w", idOrSlug, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("loading tenant %q: %w", idOrSlug, ErrTenantNotFound)
	}
	return decodeTenant(resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// CreateTenant validates t, fills its defaults and id, and stores it; the slug must be free.
func (s *Store) CreateTenant(ctx context.Context, t *Tenant) (*Tenant, error) {
	t = t.clone()
	t.normalize()
	if err := t.Validate(); err != nil {
		return nil, err
	}
	t.ID = newID("ten_")
	now := time.Now().UTC().Truncate(time.Second)
	t.CreatedAt, t.UpdatedAt = now, now
	b, _ := json.Marshal(t)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.k.slug(t.Slug)), "=", 0)).
		Then(clientv3.OpPut(s.k.slug(t.Slug), t.ID), clientv3.OpPut(s.k.tenant(t.ID), string(b))).
		Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: creating tenant %q: %w", t.Slug, Unavailable(err))
	}
	if !resp.Succeeded {
		return nil, fmt.Errorf("creating tenant %q: %w", t.Slug, ErrSlugTaken)
	}
	t.Revision = resp.Header.Revision
	return t, nil
}

// LogoUpdate replaces (Data non-nil) or removes (Remove) a tenant's logo in an UpdateTenant call.
type LogoUpdate struct {
	Data        []byte
	ContentType string
	Remove      bool
}

// MaxLogoBytes is the largest logo accepted.
const MaxLogoBytes = 800 << 10

// UpdateTenant reads the tenant, applies change and writes it back in one Txn that fails if the
// tenant changed meanwhile (then it reads and applies again, a few times). A slug change moves the
// slug index in the same Txn; logo, when not nil, is written in it too.
func (s *Store) UpdateTenant(ctx context.Context, idOrSlug string, change func(*Tenant) error, logo *LogoUpdate) (*Tenant, error) {
	if logo != nil && len(logo.Data) > MaxLogoBytes {
		return nil, fmt.Errorf("%w: logo is %d bytes, the limit is %d", ErrInvalidTenant, len(logo.Data), MaxLogoBytes)
	}
	for range 5 {
		cur, err := s.Tenant(ctx, idOrSlug)
		if err != nil {
			return nil, err
		}
		next := cur.clone()
		if err := change(next); err != nil {
			return nil, err
		}
		next.ID, next.CreatedAt = cur.ID, cur.CreatedAt
		next.normalize()
		if err := next.Validate(); err != nil {
			return nil, err
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.k.tenant(cur.ID)), "=", cur.Revision)}
		if next.Source.Enabled && !cur.Source.Enabled {
			// Read from etcd, not from the watched index (a backend registered a moment ago may
			// not be in it yet), and compared in the Txn, so that a backend removed meanwhile fails
			// the write and the next pass sees it gone.
			has, err := s.backendRegistered(ctx, cur.ID)
			if err != nil {
				return nil, fmt.Errorf("tenants: updating tenant %q: %w", idOrSlug, err)
			}
			if !has {
				return nil, fmt.Errorf("updating tenant %q: %w", idOrSlug, ErrSourceNeedsBackend)
			}
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k.backend(cur.ID)), ">", 0))
		}
		next.UpdatedAt = time.Now().UTC().Truncate(time.Second)
		var ops []clientv3.Op
		if next.Slug != cur.Slug {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.k.slug(next.Slug)), "=", 0))
			ops = append(ops, clientv3.OpDelete(s.k.slug(cur.Slug)), clientv3.OpPut(s.k.slug(next.Slug), cur.ID))
		}
		if logo != nil {
			if logo.Remove {
				next.Branding.LogoType, next.Branding.LogoETag = "", ""
				ops = append(ops, clientv3.OpDelete(s.k.logo(cur.ID)))
			} else {
				sum := sha256.Sum256(logo.Data)
				next.Branding.LogoType, next.Branding.LogoETag = logo.ContentType, hex.EncodeToString(sum[:8])
				ops = append(ops, clientv3.OpPut(s.k.logo(cur.ID), string(logo.Data)))
			}
		}
		b, _ := json.Marshal(next)
		ops = append(ops, clientv3.OpPut(s.k.tenant(cur.ID), string(b)))
		tctx, cancel := s.opCtx(ctx)
		resp, err := s.c.Txn(tctx).If(cmps...).Then(ops...).Commit()
		cancel()
		if err != nil {
			return nil, fmt.Errorf("tenants: updating tenant %q: %w", idOrSlug, Unavailable(err))
		}
		if resp.Succeeded {
			next.Revision = resp.Header.Revision
			return next, nil
		}
		if next.Slug != cur.Slug {
			if r, err := s.c.Get(ctx, s.k.slug(next.Slug)); err == nil && len(r.Kvs) == 1 {
				return nil, fmt.Errorf("updating tenant %q: %w", idOrSlug, ErrSlugTaken)
			}
		}
	}
	return nil, fmt.Errorf("updating tenant %q: %w", idOrSlug, ErrConflict)
}

// DeleteTenant removes the tenant and everything it owns (accounts, aliases, usage, logo, API
// keys, admins, domain claims, links, idempotency records, link-mail counters, revocations, audit
// trail, outbox, webhook endpoints and deliveries, its backend registration and attempts) in one
// Txn.
func (s *Store) DeleteTenant(ctx context.Context, idOrSlug string) error {
	t, err := s.Tenant(ctx, idOrSlug)
	if err != nil {
		return err
	}
	keys, err := s.APIKeys(ctx, t.ID)
	if err != nil {
		return err
	}
	ops := []clientv3.Op{
		clientv3.OpDelete(s.k.tenant(t.ID)),
		clientv3.OpDelete(s.k.slug(t.Slug)),
		clientv3.OpDelete(s.k.logo(t.ID)),
		clientv3.OpDelete(s.k.accounts(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.usage(t.ID)),
		clientv3.OpDelete(s.k.catalog(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.aliases(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.links(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.idempotencies(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.webhookEndpoints(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.webhookDeliveries(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.audit(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.outboxTenant(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.admins(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.linkMails(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.emailIndexTenant(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.membersTenant(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.emailSignIns(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.revokedTenant(t.ID), clientv3.WithPrefix()),
		clientv3.OpDelete(s.k.backend(t.ID)),
		clientv3.OpDelete(s.k.backendAttempts(t.ID), clientv3.WithPrefix()),
	}
	for _, k := range keys {
		ops = append(ops, clientv3.OpDelete(s.k.apikey(k.ID)))
	}
	domains, err := s.Domains(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, d := range domains {
		ops = append(ops, clientv3.OpDelete(s.k.domain(d.Name, t.ID)), clientv3.OpTxn(
			[]clientv3.Cmp{clientv3.Compare(clientv3.Value(s.k.domainOwner(d.Name)), "=", t.ID)},
			[]clientv3.Op{clientv3.OpDelete(s.k.domainOwner(d.Name))}, nil))
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(s.k.tenant(t.ID)), "=", t.Revision)).
		Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("tenants: deleting tenant %q: %w", idOrSlug, Unavailable(err))
	}
	if !resp.Succeeded {
		return fmt.Errorf("deleting tenant %q: %w", idOrSlug, ErrConflict)
	}
	return nil
}

// Logo is a tenant's logo image.
type Logo struct {
	Data        []byte
	ContentType string
	ETag        string
}

// Logo returns the tenant's logo, from the cache or etcd; ErrNotFound-like (nil, nil) when the
// tenant has none.
func (s *Store) Logo(ctx context.Context, t *Tenant) (*Logo, error) {
	if t.Branding.LogoType == "" {
		return nil, nil
	}
	if l, ok := s.logos.Get(t.ID); ok && l.ETag == t.Branding.LogoETag {
		return l, nil
	}
	gen := s.fillGuard(t.ID)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.logo(t.ID))
	if err != nil {
		return nil, fmt.Errorf("tenants: loading logo of %q: %w", t.Slug, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	sum := sha256.Sum256(resp.Kvs[0].Value)
	l := &Logo{Data: resp.Kvs[0].Value, ContentType: t.Branding.LogoType, ETag: hex.EncodeToString(sum[:8])}
	if l.ETag != t.Branding.LogoETag {
		// The logo and the record are written in one Txn; a mismatch means the index is behind.
		if cur, ok := s.TenantByID(t.ID); ok && cur.Branding.LogoETag == l.ETag {
			l.ContentType = cur.Branding.LogoType
		}
		return l, nil
	}
	s.fill(t.ID, gen, func() { s.logos.Set(t.ID, l, int64(len(l.Data))) })
	return l, nil
}

// backendRegistered reads from etcd whether the tenant has a registered backend (HasBackend reads
// the watched index, which may lag a registration by a moment).
func (s *Store) backendRegistered(ctx context.Context, tenantID string) (bool, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.backend(tenantID), clientv3.WithCountOnly())
	if err != nil {
		return false, Unavailable(err)
	}
	return resp.Count > 0, nil
}
