package tenants

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Password length limits of dashboard admins (in characters).
const (
	MinPasswordLen = 12
	MaxPasswordLen = 256
)

// Argon2Params are the argon2id cost parameters of a password hash. They are stored with every
// hash (PHC string format), so changing PasswordParams only affects new hashes.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // iterations
	Threads uint8
}

// PasswordParams are the parameters new password hashes are made with: 64 MiB, 3 passes, 2 lanes
// (RFC 9106's second recommended option with fewer lanes), about half a second on one core of the
// reference machine. Tests lower them; production code must not change them.
var PasswordParams = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

const (
	saltLen = 16
	hashLen = 32
)

// hashSlots bounds concurrent argon2 computations, so that a flood of sign-in attempts cannot
// take more than a few times Memory of RAM; the others wait their turn.
var hashSlots = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// CheckPassword says what is wrong with a new admin password, or returns nil.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: the password is not valid UTF-8", ErrInvalidAdmin)
	case n < MinPasswordLen:
		return fmt.Errorf("%w: the password must have at least %d characters", ErrInvalidAdmin, MinPasswordLen)
	case n > MaxPasswordLen:
		return fmt.Errorf("%w: the password must have at most %d characters", ErrInvalidAdmin, MaxPasswordLen)
	}
	return nil
}

// GeneratePassword returns a random password of 20 characters (100 bits) from an alphabet
// without look-alike characters.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [20]byte
	out := make([]byte, 0, len(b))
	for len(out) < len(b) {
		rand.Read(b[:])
		for _, c := range b {
			// 56 symbols: reject bytes ≥ 224 to keep the choice uniform.
			if c < 224 && len(out) < len(b) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// acquireHash waits for a hashing slot.
func acquireHash(ctx context.Context) (release func(), err error) {
	select {
	case hashSlots <- struct{}{}:
		return func() { <-hashSlots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// HashPassword returns the PHC string of password under p with a fresh salt.
func HashPassword(password string, p Argon2Params) string {
	var salt [saltLen]byte
	rand.Read(salt[:])
	key := argon2.IDKey([]byte(password), salt[:], p.Time, p.Memory, p.Threads, hashLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt[:]), b64.EncodeToString(key))
}

// parsePHC reads an argon2id PHC string, refusing parameters no Portico hash has (so that a
// corrupted record cannot make a sign-in allocate gigabytes).
func parsePHC(s string) (p Argon2Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errors.New("tenants: password hash is not an argon2id PHC string")
	}
	var m, t, l uint64
	for _, kv := range strings.Split(parts[3], ",") {
		name, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return p, nil, nil, fmt.Errorf("tenants: reading password hash parameter %q: %w", kv, perr)
		}
		switch name {
		case "m":
			m = n
		case "t":
			t = n
		case "p":
			l = n
		}
	}
	if m < 8 || m > 1<<20 || t < 1 || t > 16 || l < 1 || l > 16 {
		return p, nil, nil, fmt.Errorf("tenants: password hash parameters m=%d,t=%d,p=%d are out of range", m, t, l)
	}
	b64 := base64.RawStdEncoding
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("tenants: password hash has an unreadable salt")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("tenants: password hash has an unreadable key")
	}
	return Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(l)}, salt, key, nil
}

// VerifyPassword reports whether password matches the PHC string, comparing in constant time.
func VerifyPassword(phc, password string) (bool, error) {
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// dummyHash burns the time of one verification with the current parameters, for sign-ins whose
// email or tenant does not exist.
func dummyHash(password string) {
	var salt [saltLen]byte
	p := PasswordParams
	argon2.IDKey([]byte(password), salt[:], p.Time, p.Memory, p.Threads, hashLen)
}
