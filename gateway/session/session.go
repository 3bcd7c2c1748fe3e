// Package session seals and opens portal session cookies. A session is carried entirely by its
// cookie, sealed with AES-256-GCM under a key of the shared keyring (package keyring), and bound to its
// tenant by the additional data: a cookie sealed for one tenant does not open on another's host. A
// page view therefore needs no etcd round trip to know who is asking.
//
// Opening is on the request hot path and does not allocate: it decodes and decrypts into a
// caller-provided Scratch, and the Session's fields alias that buffer.
package session

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/internal/bytesconv"
	"github.com/portico-billing/portico/keyring"
)

// Errors of session cookies. Callers treat every one as "no session".
var (
	ErrMalformed = errors.New("session: malformed cookie")
	ErrNoKey     = errors.New("session: cookie sealed with an unknown key")
	ErrForged    = errors.New("session: cookie does not open (forged, tampered or another tenant's)")
	ErrExpired   = errors.New("session: expired")
)

// CSRFLen is the length in bytes of a session's CSRF token (hex-encoded in forms).
const CSRFLen = 16

// Session is an opened (or to be sealed) portal session.
type Session struct {
	// ID identifies the session ("ps_…") in audit records and revocation.
	ID []byte
	// AccountID is the account the session shows.
	AccountID []byte
	// Locale is the session's resolved locale, possibly empty.
	Locale []byte
	// Switches holds the switches of the sections' settings, one bit each (plugins.Switches: the
	// registry of sections assigns the bits). The cookie has a fixed 32 bits for them.
	Switches uint32
	// Expires is the session's end, in Unix seconds.
	Expires int64
	// Issued is when the session started, in Unix seconds (revoke-all compares it).
	Issued int64
	// CSRF is the token every form of the session must post back, hex-encoded.
	CSRF [CSRFLen * 2]byte
	// Member is the id of the account's member whose session it is ("mb_…"); empty for the
	// account's holder (its billing email) and for sessions a tenant issued (links, API).
	Member []byte
	// Role is the session's role (plugins.Role: viewer, billing or owner); sessions of the holder
	// and of tenant-issued links are owner sessions.
	Role uint8
}

const (
	// version 4 carries the member and the role (version 3 had neither; its cookies are refused as
	// malformed, so a session from before members existed signs in again. Version 2 had 8 bits of
	// fixed settings; its bits meant other switches).
	version   = 4
	nonceLen  = keyring.NonceLen
	overhead  = keyring.Overhead
	maxFields = 255
	// MaxCookieLen bounds the cookie value Open looks at.
	MaxCookieLen = 1024
)

// Scratch is the working memory of Open; reuse one per request (a sync.Pool of them).
type Scratch struct {
	raw   [MaxCookieLen]byte
	plain [MaxCookieLen]byte
}

var enc = base64.RawURLEncoding

// Seal encodes and encrypts s for the tenant with the keyring's primary key, returning the cookie
// value "<keyID>.<base64url(nonce|ciphertext)>".
func Seal(r *keyring.Keyring, tenantID string, s *Session) (string, error) {
	k := r.Primary()
	if k == nil {
		return "", ErrNoKey
	}
	if len(s.ID) > maxFields || len(s.AccountID) > maxFields || len(s.Locale) > maxFields || len(s.Member) > maxFields {
		return "", fmt.Errorf("session: field too long")
	}
	p := make([]byte, 0, 72+len(s.ID)+len(s.AccountID)+len(s.Locale)+len(s.Member))
	p = append(p, version)
	p = binary.BigEndian.AppendUint32(p, s.Switches)
	p = binary.BigEndian.AppendUint64(p, uint64(s.Expires))
	p = binary.BigEndian.AppendUint64(p, uint64(s.Issued))
	p = append(p, s.Role)
	p = append(p, s.CSRF[:]...)
	for _, f := range [][]byte{s.ID, s.AccountID, s.Locale, s.Member} {
		p = append(p, byte(len(f)))
		p = append(p, f...)
	}
	out := make([]byte, nonceLen, nonceLen+len(p)+overhead)
	rand.Read(out)
	out = k.AEAD().Seal(out, out[:nonceLen], p, bytesconv.Bytes(tenantID))
	v := k.ID + "." + enc.EncodeToString(out)
	if len(v) > MaxCookieLen {
		return "", fmt.Errorf("session: sealed cookie is %d bytes, the limit is %d", len(v), MaxCookieLen)
	}
	return v, nil
}

// Open decrypts and decodes a cookie value for the tenant into s with any of the keyring's keys,
// using sc as memory; s's slices alias sc. now is Unix seconds. It does not allocate.
func Open(r *keyring.Keyring, tenantID string, cookie []byte, now int64, sc *Scratch, s *Session) error {
	if len(cookie) == 0 || len(cookie) > MaxCookieLen {
		return ErrMalformed
	}
	dot := -1
	for i, c := range cookie {
		if c == '.' {
			dot = i
			break
		}
	}
	if dot <= 0 {
		return ErrMalformed
	}
	k := r.Find(cookie[:dot])
	if k == nil {
		return ErrNoKey
	}
	n, err := enc.Decode(sc.raw[:], cookie[dot+1:])
	if err != nil || n < nonceLen+overhead {
		return ErrMalformed
	}
	raw := sc.raw[:n]
	p, err := k.AEAD().Open(sc.plain[:0], raw[:nonceLen], raw[nonceLen:], bytesconv.Bytes(tenantID))
	if err != nil {
		return ErrForged
	}
	if len(p) < 5+16+1+CSRFLen*2 || p[0] != version {
		return ErrMalformed
	}
	s.Switches = binary.BigEndian.Uint32(p[1:5])
	s.Expires = int64(binary.BigEndian.Uint64(p[5:13]))
	s.Issued = int64(binary.BigEndian.Uint64(p[13:21]))
	s.Role = p[21]
	copy(s.CSRF[:], p[22:22+CSRFLen*2])
	p = p[22+CSRFLen*2:]
	var ok1, ok2, ok3, ok4 bool
	s.ID, p, ok1 = field(p)
	s.AccountID, p, ok2 = field(p)
	s.Locale, p, ok3 = field(p)
	s.Member, _, ok4 = field(p)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return ErrMalformed
	}
	if now >= s.Expires {
		return ErrExpired
	}
	return nil
}

// field splits a length-prefixed field off p.
func field(p []byte) (f, rest []byte, ok bool) {
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return nil, nil, false
	}
	return p[1 : 1+int(p[0])], p[1+int(p[0]):], true
}

// NewCSRF returns a fresh hex CSRF token.
func NewCSRF() (t [CSRFLen * 2]byte) {
	var b [CSRFLen]byte
	rand.Read(b[:])
	const hexd = "0123456789abcdef"
	for i, c := range b {
		t[2*i], t[2*i+1] = hexd[c>>4], hexd[c&15]
	}
	return t
}

// ExpiresAt returns the session's expiry as a time.
func (s *Session) ExpiresAt() time.Time { return time.Unix(s.Expires, 0) }
