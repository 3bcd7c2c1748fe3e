package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks header names and limits.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"

	// SecretPrefix starts every signing secret: "whsec_" + base64 of the key bytes.
	SecretPrefix = "whsec_"
	// MinSecretBytes and MaxSecretBytes bound a secret's key; NewSecret makes SecretBytes.
	MinSecretBytes = 24
	MaxSecretBytes = 64
	SecretBytes    = 32

	// Tolerance is how far a webhook-timestamp may be from the verifier's clock.
	Tolerance = 5 * time.Minute
)

// Errors of signing and verification.
var (
	ErrSecret              = errors.New("webhooks: invalid secret")
	ErrMissingHeaders      = errors.New("webhooks: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrTimestamp           = errors.New("webhooks: webhook-timestamp is malformed or outside the tolerance")
	ErrNoMatchingSignature = errors.New("webhooks: no matching signature")
)

// NewSecret returns a fresh signing secret: "whsec_" + base64 of SecretBytes random bytes.
func NewSecret() string {
	k := make([]byte, SecretBytes)
	rand.Read(k)
	return FormatSecret(k)
}

// FormatSecret returns the "whsec_…" form of a key.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// ParseSecret returns the key of a "whsec_…" secret. Like the reference libraries it accepts the
// base64 part without its prefix too.
func ParseSecret(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: not base64 after %q", ErrSecret, SecretPrefix)
	}
	if len(k) < MinSecretBytes || len(k) > MaxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrSecret, len(k), MinSecretBytes, MaxSecretBytes)
	}
	return k, nil
}

// Sign returns the Standard Webhooks signature of a message: "v1," + base64 of
// HMAC-SHA256(key, msgID + "." + unix seconds of ts + "." + body).
func Sign(secret []byte, msgID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignatureHeader is the webhook-signature value for several keys (during a rotation): their
// signatures, space-separated.
func SignatureHeader(secrets [][]byte, msgID string, ts time.Time, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, k := range secrets {
		sigs[i] = Sign(k, msgID, ts, body)
	}
	return strings.Join(sigs, " ")
}

// Verify checks the Standard Webhooks headers of a request against its body: the timestamp must
// be within Tolerance of now, and one of the "v1," signatures must match one of the secrets
// ("whsec_…"). It is written from the spec, independently of Sign.
func Verify(secrets []string, h http.Header, body []byte, now time.Time) error {
	return VerifySignature(secrets, h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body, now, Tolerance)
}

// VerifySignature is Verify on the three header values, with a tolerance of its own (Tolerance if
// zero or negative).
func VerifySignature(secrets []string, id, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if id == "" || timestamp == "" || signature == "" {
		return ErrMissingHeaders
	}
	if tolerance <= 0 {
		tolerance = Tolerance
	}
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not Unix seconds", ErrTimestamp, timestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s away from now", ErrTimestamp, d.Round(time.Second))
	}
	// The signed content uses the header's timestamp text exactly as received.
	content := make([]byte, 0, len(id)+len(timestamp)+len(body)+2)
	content = append(content, id...)
	content = append(content, '.')
	content = append(content, timestamp...)
	content = append(content, '.')
	content = append(content, body...)
	var given [][]byte
	for _, f := range strings.Fields(signature) {
		version, sig, ok := strings.Cut(f, ",")
		if !ok || version != "v1" {
			continue
		}
		if b, err := base64.StdEncoding.DecodeString(sig); err == nil {
			given = append(given, b)
		}
	}
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrSecret)
	}
	for _, s := range secrets {
		key, err := ParseSecret(s)
		if err != nil {
			return err
		}
		mac := hmac.New(sha256.New, key)
		mac.Write(content)
		want := mac.Sum(nil)
		for _, g := range given {
			if hmac.Equal(g, want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}
