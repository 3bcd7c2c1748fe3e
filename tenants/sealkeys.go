package tenants

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// SealKey is a symmetric key that seals portal session cookies (and sealed API replies). Every
// instance holds all keys in memory, kept by the watch; the newest seals, all of them open.
type SealKey struct {
	ID        string    `json:"id"`
	Key       []byte    `json:"key"`
	CreatedAt time.Time `json:"createdAt"`
}

// SealKeys returns the sealing keys, newest first.
func (s *Store) SealKeys() []SealKey {
	s.sealMu.RLock()
	defer s.sealMu.RUnlock()
	return s.sealKeys
}

// SealKeysGen changes whenever the set of sealing keys does; callers that derive state from
// SealKeys compare it to know when to rebuild.
func (s *Store) SealKeysGen() uint64 { return s.sealGen.Load() }

func (s *Store) setSealKeys(keys []SealKey) {
	slices.SortFunc(keys, func(a, b SealKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	s.sealMu.Lock()
	s.sealKeys = keys
	s.sealGen.Add(1)
	s.sealMu.Unlock()
}

func (s *Store) applySealKey(ev *clientv3.Event) {
	id := string(ev.Kv.Key[len(s.k.sealkeys()):])
	s.sealMu.RLock()
	keys := slices.DeleteFunc(slices.Clone(s.sealKeys), func(k SealKey) bool { return k.ID == id })
	s.sealMu.RUnlock()
	if ev.Type == clientv3.EventTypePut {
		var k SealKey
		if err := json.Unmarshal(ev.Kv.Value, &k); err == nil && len(k.Key) == 32 {
			keys = append(keys, k)
		}
	}
	s.setSealKeys(keys)
}

// EnsureSealKey creates the first sealing key if there is none; concurrent instances agree on one.
// It returns once the key is in this store's memory.
func (s *Store) EnsureSealKey(ctx context.Context) error {
	if len(s.SealKeys()) > 0 {
		return nil
	}
	k := SealKey{ID: "k1", Key: make([]byte, 32), CreatedAt: time.Now().UTC()}
	rand.Read(k.Key)
	b, _ := json.Marshal(k)
	rctx, cancel := s.opCtx(ctx)
	defer cancel()
	_, err := s.c.Txn(rctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.k.sealkey(k.ID)), "=", 0)).
		Then(clientv3.OpPut(s.k.sealkey(k.ID), string(b))).Commit()
	if err != nil {
		return fmt.Errorf("tenants: creating sealing key: %w", Unavailable(err))
	}
	resp, err := s.c.Get(rctx, s.k.sealkeys(), clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("tenants: loading sealing keys: %w", Unavailable(err))
	}
	var keys []SealKey
	for _, kv := range resp.Kvs {
		var k SealKey
		if json.Unmarshal(kv.Value, &k) == nil && len(k.Key) == 32 {
			keys = append(keys, k)
		}
	}
	s.setSealKeys(keys)
	return nil
}

// SetMeta stores a small piece of installation-wide information under state/meta/<name> (for
// example the public URL settings `portico serve` runs with, so command-line tools build the same
// links).
func (s *Store) SetMeta(ctx context.Context, name string, value []byte) error {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Put(ctx, s.k.meta(name), string(value)); err != nil {
		return fmt.Errorf("tenants: storing %s: %w", name, Unavailable(err))
	}
	return nil
}

// Meta returns what SetMeta stored, or nil.
func (s *Store) Meta(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.meta(name))
	if err != nil {
		return nil, fmt.Errorf("tenants: loading %s: %w", name, Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}

// SealKeyOverlap is how long a replaced sealing key must keep opening what it sealed: sessions
// (at most MaxSessionTTL) and remembered idempotent responses (IdempotencyTTL).
const SealKeyOverlap = IdempotencyTTL

// RotateSealKey adds a new sealing key, which becomes the one that seals on every instance as the
// watch delivers it; the older keys keep opening cookies until they are retired.
func (s *Store) RotateSealKey(ctx context.Context, now time.Time) (SealKey, error) {
	k := SealKey{ID: "k" + strconv.FormatInt(now.UnixNano(), 36), Key: make([]byte, 32), CreatedAt: now.UTC()}
	rand.Read(k.Key)
	b, _ := json.Marshal(k)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(s.k.sealkey(k.ID)), "=", 0)).
		Then(clientv3.OpPut(s.k.sealkey(k.ID), string(b))).Commit()
	if err != nil {
		return SealKey{}, fmt.Errorf("tenants: rotating sealing key: %w", Unavailable(err))
	}
	if !resp.Succeeded {
		return SealKey{}, fmt.Errorf("rotating sealing key: %w", ErrConflict)
	}
	return k, nil
}

// ErrKeyInUse refuses to retire a sealing key that may still be needed.
var ErrKeyInUse = errors.New("tenants: sealing key is still in use")

// RetireSealKey deletes a replaced sealing key once its successor has sealed for SealKeyOverlap
// (unless force): cookies it sealed have expired by then. It never retires the newest key.
// Secrets sealed with it elsewhere (webhook endpoints, admin TOTP secrets) must have been
// re-sealed first.
func (s *Store) RetireSealKey(ctx context.Context, id string, now time.Time, force bool) error {
	keys := s.SealKeys() // newest first
	idx := slices.IndexFunc(keys, func(k SealKey) bool { return k.ID == id })
	switch {
	case idx < 0:
		return fmt.Errorf("retiring sealing key %q: %w", id, ErrKeyNotFound)
	case idx == 0:
		return fmt.Errorf("retiring sealing key %q: %w: it is the newest key; rotate first", id, ErrKeyInUse)
	case !force && now.Sub(keys[idx-1].CreatedAt) < SealKeyOverlap:
		return fmt.Errorf("retiring sealing key %q: %w: its successor is younger than %v (cookies and idempotent replies it sealed may still be live)", id, ErrKeyInUse, SealKeyOverlap)
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Delete(ctx, s.k.sealkey(id)); err != nil {
		return fmt.Errorf("tenants: retiring sealing key %q: %w", id, Unavailable(err))
	}
	return nil
}
