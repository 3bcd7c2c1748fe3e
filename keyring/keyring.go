// Package keyring owns the sealing keys every Portico instance shares through etcd: AES-256-GCM
// keys of which the newest seals and all of them open, so that a key can be rotated without
// breaking what the previous one sealed (tenants.Store keeps the keys; `portico sealkey` rotates
// and retires them). A Keyring built by Follow keeps itself in step with the store's keys on Sync.
//
// Portal session cookies (package session), sealed API replies, webhook endpoint secrets and the
// dashboard's admin sessions and second-factor secrets are all sealed with one Keyring. It knows
// nothing of HTTP.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/portico-billing/portico/internal/bytesconv"
	"github.com/portico-billing/portico/tenants"
)

// Errors of sealed data.
var (
	ErrMalformed = errors.New("keyring: malformed sealed data")
	ErrNoKey     = errors.New("keyring: sealed with an unknown key")
	ErrForged    = errors.New("keyring: sealed data does not open (forged, tampered or bound to something else)")
	// ErrNoKeys is a store without any sealing key yet (tenants.Store.EnsureSealKey creates one).
	ErrNoKeys = errors.New("keyring: no sealing key in the store (EnsureSealKey)")
)

// NonceLen and Overhead are the sizes AES-GCM adds to what a key seals.
const (
	NonceLen = 12
	Overhead = 16
)

// Key is one sealing key.
type Key struct {
	ID   string
	aead cipher.AEAD
}

// NewKey makes a key from 32 bytes; id must be 1-16 letters or digits.
func NewKey(id string, secret []byte) (*Key, error) {
	if len(id) == 0 || len(id) > 16 {
		return nil, fmt.Errorf("keyring: key id %q must be 1-16 characters", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return nil, fmt.Errorf("keyring: key id %q must be letters and digits", id)
		}
	}
	if len(secret) != 32 {
		return nil, fmt.Errorf("keyring: key %q is %d bytes, want 32", id, len(secret))
	}
	b, err := aes.NewCipher(secret)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Key{ID: id, aead: g}, nil
}

// AEAD returns the key's cipher, for callers with their own sealed format (session cookies).
func (k *Key) AEAD() cipher.AEAD { return k.aead }

// Store is where the sealing keys live: tenants.Store, which keeps them current by its watch.
type Store interface {
	// SealKeys returns the keys, newest first.
	SealKeys() []tenants.SealKey
	// SealKeysGen changes whenever the keys do.
	SealKeysGen() uint64
}

// Keyring holds the sealing keys: the first seals, all open. It is replaced atomically when the
// keys change. The zero Keyring holds no key; Set gives it some.
type Keyring struct {
	keys atomic.Pointer[[]*Key]

	store Store // nil unless built by Follow
	gen   atomic.Uint64
	mu    sync.Mutex
}

// Follow returns a keyring holding the store's keys, which Sync keeps current. It fails with
// ErrNoKeys if the store holds none.
func Follow(s Store) (*Keyring, error) {
	r := &Keyring{store: s}
	if err := r.Sync(); err != nil {
		return nil, err
	}
	return r, nil
}

// Sync reloads the keys if the store's changed since the last Sync (a rotation or retirement on
// any instance). It is one atomic load when nothing changed, so request handlers call it before
// sealing or opening; background users call it before their work. A keyring not built by Follow
// has nothing to sync with.
func (r *Keyring) Sync() error {
	if r.store == nil {
		return nil
	}
	gen := r.store.SealKeysGen()
	if r.gen.Load() == gen && gen != 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sk := r.store.SealKeys()
	if len(sk) == 0 {
		return ErrNoKeys
	}
	keys := make([]*Key, 0, len(sk))
	for _, k := range sk {
		key, err := NewKey(k.ID, k.Key)
		if err != nil {
			return fmt.Errorf("keyring: loading sealing key %q: %w", k.ID, err)
		}
		keys = append(keys, key)
	}
	r.Set(keys)
	r.gen.Store(gen)
	return nil
}

// Set replaces the keys; keys[0] seals.
func (r *Keyring) Set(keys []*Key) { r.keys.Store(&keys) }

// Find returns the key with the id, or nil. It does not allocate.
func (r *Keyring) Find(id []byte) *Key {
	p := r.keys.Load()
	if p == nil {
		return nil
	}
	for _, k := range *p {
		if k.ID == bytesconv.String(id) {
			return k
		}
	}
	return nil
}

// Primary returns the key that seals, or nil if the keyring holds none.
func (r *Keyring) Primary() *Key {
	p := r.keys.Load()
	if p == nil || len(*p) == 0 {
		return nil
	}
	return (*p)[0]
}

// SealBytes encrypts data with the primary key, bound to ad; the result opens with OpenBytes. A
// keyring built by Follow syncs first (one atomic load when nothing changed), so background users
// such as webhook delivery seal with the newest key without a sync loop of their own.
func (r *Keyring) SealBytes(ad string, data []byte) ([]byte, error) {
	r.Sync() // on failure the keys held stay in use; none at all is ErrNoKey below
	k := r.Primary()
	if k == nil {
		return nil, ErrNoKey
	}
	out := make([]byte, 1+len(k.ID)+NonceLen, 1+len(k.ID)+NonceLen+len(data)+Overhead)
	out[0] = byte(len(k.ID))
	copy(out[1:], k.ID)
	n := out[1+len(k.ID):]
	rand.Read(n)
	return k.aead.Seal(out, n, data, bytesconv.Bytes(ad)), nil
}

// OpenBytes decrypts what SealBytes sealed for the same ad; like SealBytes, it syncs first.
func (r *Keyring) OpenBytes(ad string, sealed []byte) ([]byte, error) {
	r.Sync()
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0])+NonceLen+Overhead {
		return nil, ErrMalformed
	}
	k := r.Find(sealed[1 : 1+int(sealed[0])])
	if k == nil {
		return nil, ErrNoKey
	}
	rest := sealed[1+int(sealed[0]):]
	p, err := k.aead.Open(nil, rest[:NonceLen], rest[NonceLen:], bytesconv.Bytes(ad))
	if err != nil {
		return nil, ErrForged
	}
	return p, nil
}
