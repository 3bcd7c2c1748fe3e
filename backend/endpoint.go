package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Endpoint is a tenant's registered backend as the API shows it: no secret material.
type Endpoint struct {
	// URL receives the calls: https, or http for hosts in the allowed address ranges.
	URL string `json:"url"`
	// PreviousSecretExpiresAt is, after a rotation (or a re-registration), when the previous
	// secret stops signing beside the current one.
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`
	CreatedAt               time.Time `json:"createdAt"`
	UpdatedAt               time.Time `json:"updatedAt"`
}

// record is the registration as stored: secrets sealed with the keyring, bound to the tenant.
type record struct {
	Endpoint
	// Secret is the sealed key of the current secret.
	Secret []byte `json:"secret"`
	// PreviousSecret is the sealed key of the replaced secret, signing until
	// PreviousSecretExpiresAt.
	PreviousSecret []byte `json:"previousSecret,omitempty"`
}

func (r *record) public() *Endpoint { e := r.Endpoint; return &e }

// validTenantID keeps tenant ids from escaping their key range.
func validTenantID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsAny(id, "/\x00")
}

// secretAD binds a sealed secret to its tenant: it does not open under another tenant's key.
func secretAD(tenantID string) string { return "portico-backend-secret/" + tenantID }

// checkURL validates and normalises a backend URL: the rules of webhook endpoint URLs.
func (s *Service) checkURL(ctx context.Context, raw string) (string, error) {
	u, err := webhooks.CheckURL(ctx, raw, s.cfg.AllowCIDRs, false)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, err.Error())
	}
	return u, nil
}

// tenantExists checks the tenant in the store's index, then in etcd (the index may lag).
func (s *Service) tenantExists(ctx context.Context, tenantID string) error {
	if !validTenantID(tenantID) {
		return fmt.Errorf("%w: tenant %q", tenants.ErrTenantNotFound, tenantID)
	}
	if _, ok := s.store.TenantByID(tenantID); ok {
		return nil
	}
	_, err := s.store.Tenant(ctx, tenantID)
	return err
}

// load reads the tenant's registration and its ModRevision; ErrNoBackend without one.
func (s *Service) load(ctx context.Context, tenantID string) (*record, int64, error) {
	if !validTenantID(tenantID) {
		return nil, 0, ErrNoBackend
	}
	resp, err := s.c.Get(ctx, s.store.BackendKey(tenantID))
	if err != nil {
		return nil, 0, tenants.Unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrNoBackend
	}
	var r record
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return nil, 0, fmt.Errorf("backend: decoding the registration of tenant %q: %w", tenantID, err)
	}
	return &r, resp.Kvs[0].ModRevision, nil
}

// update reads the registration (nil when there is none), lets change modify or create it, and
// writes it back in a Txn that fails if the key moved meanwhile (then it reads again, a few
// times).
func (s *Service) update(ctx context.Context, tenantID string, change func(r *record) (*record, error)) (*record, error) {
	key := s.store.BackendKey(tenantID)
	for range 8 {
		r, rev, err := s.load(ctx, tenantID)
		if errors.Is(err, ErrNoBackend) {
			r, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		if r, err = change(r); err != nil {
			return nil, err
		}
		r.UpdatedAt = s.now().UTC().Truncate(time.Second)
		b, _ := json.Marshal(r)
		resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).Then(clientv3.OpPut(key, string(b))).Commit()
		if err != nil {
			return nil, tenants.Unavailable(err)
		}
		if resp.Succeeded {
			return r, nil
		}
	}
	return nil, tenants.ErrConflict
}

// newSealedSecret returns a fresh "whsec_…" secret and its key sealed for the tenant.
func (s *Service) newSealedSecret(tenantID string) (string, []byte, error) {
	secret := webhooks.NewSecret()
	key, _ := webhooks.ParseSecret(secret)
	sealed, err := s.kr.SealBytes(secretAD(tenantID), key)
	if err != nil {
		return "", nil, fmt.Errorf("backend: sealing the secret: %w", err)
	}
	return secret, sealed, nil
}

// Register sets the tenant's backend URL (PUT /v1/backend) and returns the registration with a
// fresh signing secret, shown this once. Registering again (a new URL, or the same) issues a new
// secret too; the previous one keeps signing beside it for RotationOverlap.
func (s *Service) Register(ctx context.Context, tenantID, rawURL string) (*Endpoint, string, error) {
	u, err := s.checkURL(ctx, rawURL)
	if err != nil {
		return nil, "", err
	}
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, "", fmt.Errorf("backend: registering: %w", err)
	}
	secret, sealed, err := s.newSealedSecret(tenantID)
	if err != nil {
		return nil, "", err
	}
	r, err := s.update(ctx, tenantID, func(r *record) (*record, error) {
		now := s.now().UTC()
		if r == nil {
			return &record{Endpoint: Endpoint{URL: u, CreatedAt: now.Truncate(time.Second)}, Secret: sealed}, nil
		}
		r.URL = u
		r.PreviousSecret, r.PreviousSecretExpiresAt, r.Secret = r.Secret, now.Add(RotationOverlap), sealed
		return r, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("backend: registering: %w", err)
	}
	return r.public(), secret, nil
}

// Get returns the tenant's registration without secrets; ErrNoBackend without one.
func (s *Service) Get(ctx context.Context, tenantID string) (*Endpoint, error) {
	r, _, err := s.load(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("backend: loading the registration: %w", err)
	}
	return r.public(), nil
}

// Delete removes the tenant's registration; ErrNoBackend without one. Outcomes of earlier
// attempts stay until they expire.
func (s *Service) Delete(ctx context.Context, tenantID string) error {
	if !validTenantID(tenantID) {
		return fmt.Errorf("backend: deleting the registration: %w", ErrNoBackend)
	}
	resp, err := s.c.Delete(ctx, s.store.BackendKey(tenantID))
	if err != nil {
		return fmt.Errorf("backend: deleting the registration: %w", tenants.Unavailable(err))
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("backend: deleting the registration: %w", ErrNoBackend)
	}
	return nil
}

// RotateSecret gives the backend a new secret and returns it (shown this once). The previous
// secret keeps signing, as a second signature, for RotationOverlap; one rotated out earlier is
// dropped.
func (s *Service) RotateSecret(ctx context.Context, tenantID string) (string, error) {
	secret, sealed, err := s.newSealedSecret(tenantID)
	if err != nil {
		return "", err
	}
	_, err = s.update(ctx, tenantID, func(r *record) (*record, error) {
		if r == nil {
			return nil, ErrNoBackend
		}
		r.PreviousSecret, r.PreviousSecretExpiresAt, r.Secret = r.Secret, s.now().UTC().Add(RotationOverlap), sealed
		return r, nil
	})
	if err != nil {
		return "", fmt.Errorf("backend: rotating the secret: %w", err)
	}
	return secret, nil
}

// signingKeys opens the secrets that sign at now: the current one, and the previous one during
// its overlap.
func (s *Service) signingKeys(tenantID string, r *record, now time.Time) ([][]byte, error) {
	keys, err := webhooks.SigningKeys(s.kr, secretAD(tenantID), r.Secret, r.PreviousSecret, r.PreviousSecretExpiresAt, now)
	if err != nil {
		return nil, fmt.Errorf("backend: opening the secret: %w", err)
	}
	return keys, nil
}

// ResealSecrets seals the backend secrets of the tenants again with the keyring's newest key, so
// that an older sealing key can be retired. It returns how many registrations it re-sealed.
func (s *Service) ResealSecrets(ctx context.Context, tenantIDs []string) (int, error) {
	n := 0
	for _, tid := range tenantIDs {
		_, err := s.update(ctx, tid, func(r *record) (*record, error) {
			if r == nil {
				return nil, ErrNoBackend
			}
			for _, p := range []*[]byte{&r.Secret, &r.PreviousSecret} {
				if len(*p) == 0 {
					continue
				}
				key, err := s.kr.OpenBytes(secretAD(tid), *p)
				if err != nil {
					return nil, fmt.Errorf("backend: opening a secret: %w", err)
				}
				if *p, err = s.kr.SealBytes(secretAD(tid), key); err != nil {
					return nil, fmt.Errorf("backend: sealing a secret: %w", err)
				}
			}
			return r, nil
		})
		if errors.Is(err, ErrNoBackend) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("backend: re-sealing the secrets of tenant %q: %w", tid, err)
		}
		n++
	}
	return n, nil
}
