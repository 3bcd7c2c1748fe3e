package backend

import (
	"crypto/sha256"
	"encoding/hex"
)

// IdempotencyKey derives a request's idempotency key from what the customer confirmed: prefix
// (naming the kind of request, "pay_") and the hex SHA-256 of parts, each ended by a NUL byte so
// that no two lists of parts share a key. The same confirmation (a double submit, a reload, two
// tabs, two instances) thus makes the same key, and one call.
func IdempotencyKey(prefix string, parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return prefix + hex.EncodeToString(h.Sum(nil))
}
