package tenants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the API key concern.
var (
	ErrKeyNotFound = errors.New("tenants: API key not found")
	ErrKeyInvalid  = errors.New("tenants: API key is invalid or revoked")
)

// APIKey is the stored record of an API key. The key itself is shown once, at creation; only its
// sha256 is kept, so a leaked etcd snapshot does not leak usable keys.
type APIKey struct {
	// ID is the public part of the key ("pk_<id>_<secret>"); it appears in lists and logs.
	ID        string    `json:"id"`
	TenantID  string    `json:"tenantId"`
	Name      string    `json:"name,omitempty"`
	Hash      string    `json:"hash"`
	CreatedAt time.Time `json:"createdAt"`
}

// keyPrefix starts every Portico API key, so secret scanners can recognise them.
const keyPrefix = "pk_"

// CreateAPIKey makes a new key for the tenant and returns the record and the key, which is not
// stored anywhere and cannot be recovered.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID, name string) (*APIKey, string, error) {
	if _, err := s.Tenant(ctx, tenantID); err != nil {
		return nil, "", err
	}
	if len(name) > 100 {
		return nil, "", fmt.Errorf("%w: key name is longer than 100 characters", ErrInvalidTenant)
	}
	var secret [32]byte
	rand.Read(secret[:])
	id := idEncoding.EncodeToString(secret[:8])[:12]
	key := keyPrefix + id + "_" + idEncoding.EncodeToString(secret[8:])
	rec := &APIKey{ID: id, TenantID: tenantID, Name: name, Hash: hashHex(key), CreatedAt: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(rec)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.k.apikey(id)), "=", 0),
			clientv3.Compare(clientv3.CreateRevision(s.k.tenant(tenantID)), ">", 0)).
		Then(clientv3.OpPut(s.k.apikey(id), string(b))).Commit()
	if err != nil {
		return nil, "", fmt.Errorf("tenants: creating API key: %w", Unavailable(err))
	}
	if !resp.Succeeded {
		return nil, "", fmt.Errorf("creating API key: %w", ErrTenantNotFound)
	}
	return rec, key, nil
}

// keyID extracts the id of a key of the form pk_<id>_<secret>.
func keyID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, keyPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 12 || len(secret) < 20 || len(key) > 128 {
		return "", false
	}
	return id, true
}

// Authenticate returns the record of a valid key. Records are cached and evicted by the watch, so a
// revoked key stops working on every instance as soon as the deletion is watched.
func (s *Store) Authenticate(ctx context.Context, key string) (*APIKey, error) {
	id, ok := keyID(key)
	if !ok {
		return nil, ErrKeyInvalid
	}
	rec, ok := s.apikeys.Get(id)
	if !ok {
		gen := s.fillGuard(id)
		rctx, cancel := s.opCtx(ctx)
		resp, err := s.c.Get(rctx, s.k.apikey(id))
		cancel()
		if err != nil {
			return nil, fmt.Errorf("tenants: loading API key: %w", Unavailable(err))
		}
		if len(resp.Kvs) == 0 {
			return nil, ErrKeyInvalid
		}
		rec = new(APIKey)
		if err := json.Unmarshal(resp.Kvs[0].Value, rec); err != nil {
			return nil, fmt.Errorf("tenants: decoding API key %q: %w", id, err)
		}
		s.fill(id, gen, func() { s.apikeys.Set(id, rec, 1) })
	}
	if subtle.ConstantTimeCompare([]byte(hashHex(key)), []byte(rec.Hash)) != 1 {
		return nil, ErrKeyInvalid
	}
	if _, ok := s.TenantByID(rec.TenantID); !ok {
		return nil, ErrKeyInvalid
	}
	return rec, nil
}

// APIKeys lists the tenant's keys, oldest first.
func (s *Store) APIKeys(ctx context.Context, tenantID string) ([]*APIKey, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.apikeys(), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("tenants: listing API keys: %w", Unavailable(err))
	}
	var out []*APIKey
	for _, kv := range resp.Kvs {
		var k APIKey
		if json.Unmarshal(kv.Value, &k) == nil && k.TenantID == tenantID {
			out = append(out, &k)
		}
	}
	slices.SortFunc(out, func(a, b *APIKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out, nil
}

// RevokeAPIKey deletes the key with the id, which must belong to the tenant.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, id string) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.apikey(id))
	if err != nil {
		return fmt.Errorf("tenants: revoking API key %q: %w", id, Unavailable(err))
	}
	var k APIKey
	if len(resp.Kvs) == 0 || json.Unmarshal(resp.Kvs[0].Value, &k) != nil || k.TenantID != tenantID {
		return fmt.Errorf("revoking API key %q: %w", id, ErrKeyNotFound)
	}
	_, err = s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(s.k.apikey(id)), "=", resp.Kvs[0].ModRevision)).
		Then(clientv3.OpDelete(s.k.apikey(id))).Commit()
	if err != nil {
		return fmt.Errorf("tenants: revoking API key %q: %w", id, Unavailable(err))
	}
	return nil
}
