package tenants

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors of the second factor.
var (
	// ErrCodeReused refuses a TOTP code of a time step that already signed in.
	ErrCodeReused = errors.New("tenants: this code was already used")
	// ErrNoSecondFactor says the admin has not enrolled a second factor.
	ErrNoSecondFactor = errors.New("tenants: the admin has no second factor")
)

// TOTP parameters (RFC 6238 with its defaults: HMAC-SHA1, 30-second steps, 6 digits). A code of
// the previous or next step is accepted too (clocks drift), but each step signs in only once.
const (
	TOTPStep          = 30 * time.Second
	TOTPDigits        = 6
	TOTPSecretLen     = 20 // bytes (160 bits, RFC 4226's recommendation)
	RecoveryCodeCount = 10
)

// HOTP is the RFC 4226 one-time password of secret for counter, digits long.
func HOTP(secret []byte, counter uint64, digits int) string {
	m := hmac.New(sha1.New, secret)
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], counter)
	m.Write(c[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

// TOTPStepAt is the RFC 6238 time step of t.
func TOTPStepAt(t time.Time) int64 { return t.Unix() / int64(TOTPStep/time.Second) }

// MatchTOTP returns the step (now's, the one before or the one after) whose code is code, or
// false. It compares in constant time.
func MatchTOTP(secret []byte, code string, now time.Time) (int64, bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(code) != TOTPDigits {
		return 0, false
	}
	step := TOTPStepAt(now)
	found, at := 0, int64(0)
	for _, s := range []int64{step - 1, step, step + 1} {
		if subtle.ConstantTimeCompare([]byte(HOTP(secret, uint64(s), TOTPDigits)), []byte(code)) == 1 {
			found, at = 1, s
		}
	}
	return at, found == 1
}

// NewTOTPSecret returns a fresh random TOTP secret.
func NewTOTPSecret() []byte {
	b := make([]byte, TOTPSecretLen)
	rand.Read(b)
	return b
}

// NewRecoveryCodes returns RecoveryCodeCount fresh codes ("xxxxx-xxxxx", 50 bits each) and their
// hashes, the only form they are stored in.
func NewRecoveryCodes() (codes, hashes []string) {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // 32 symbols, no look-alikes
	for range RecoveryCodeCount {
		var b [10]byte
		rand.Read(b[:])
		out := make([]byte, 0, 11)
		for i, c := range b {
			if i == 5 {
				out = append(out, '-')
			}
			out = append(out, alphabet[c&31])
		}
		codes = append(codes, string(out))
		hashes = append(hashes, hashHex(string(out)))
	}
	return codes, hashes
}

// SetAdminTOTP enrols a second factor: sealedSecret is the TOTP secret sealed by the caller (it
// is stored as given, never in clear), step the step of the code that confirmed it (it cannot
// sign in again) and recoveryHashes the hashes of NewRecoveryCodes.
func (s *Store) SetAdminTOTP(ctx context.Context, tenantID, email string, sealedSecret []byte, step int64, recoveryHashes []string) error {
	return s.updateAdmin(ctx, tenantID, NormalizeEmail(email), func(a *Admin) {
		a.TOTPSecret, a.TOTPLastStep, a.RecoveryCodes = sealedSecret, step, recoveryHashes
	})
}

// UseTOTPStep records that the code of step signed the admin in; a step at or before the last
// one used returns ErrCodeReused. It is a Txn guarded by the record's revision, so one code
// signs in once across every instance.
func (s *Store) UseTOTPStep(ctx context.Context, tenantID, email string, step int64) error {
	var reused bool
	err := s.updateAdmin(ctx, tenantID, NormalizeEmail(email), func(a *Admin) {
		reused = step <= a.TOTPLastStep
		if !reused {
			a.TOTPLastStep = step
		}
	})
	if err == nil && reused {
		return ErrCodeReused
	}
	return err
}

// UseRecoveryCode consumes one of the admin's recovery codes: true when code was one of them
// (it is then gone), false otherwise.
func (s *Store) UseRecoveryCode(ctx context.Context, tenantID, email, code string) (bool, error) {
	h := hashHex(strings.ToLower(strings.TrimSpace(code)))
	var used bool
	err := s.updateAdmin(ctx, tenantID, NormalizeEmail(email), func(a *Admin) {
		i := slices.Index(a.RecoveryCodes, h)
		used = i >= 0
		if used {
			a.RecoveryCodes = slices.Delete(slices.Clone(a.RecoveryCodes), i, i+1)
		}
	})
	return used, err
}

// ResealAdminTOTP seals the TOTP secret of every admin of the tenant again with reseal (which
// opens the sealed secret and seals it with the newest key), so that an older sealing key can be
// retired. It returns how many secrets it re-sealed.
func (s *Store) ResealAdminTOTP(ctx context.Context, tenantID string, reseal func(a *Admin) ([]byte, error)) (int, error) {
	admins, err := s.Admins(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, a := range admins {
		if !a.HasTOTP() {
			continue
		}
		next, err := reseal(a)
		if err != nil {
			return n, fmt.Errorf("tenants: re-sealing the TOTP secret of %q: %w", a.Email, err)
		}
		old := a.TOTPSecret
		if err := s.updateAdmin(ctx, tenantID, a.Email, func(cur *Admin) {
			if slices.Equal(cur.TOTPSecret, old) { // not re-enrolled meanwhile
				cur.TOTPSecret = next
			}
		}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
