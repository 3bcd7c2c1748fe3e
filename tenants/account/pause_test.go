package account

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPauseAndOfferFields: the pause and retention offer fields of a subscription decode and
// are validated with their JSON paths.
func TestPauseAndOfferFields(t *testing.T) {
	t.Parallel()
	doc := func(sub string) string {
		return `{"id":"a1","name":"N","currency":"EUR","subscriptions":[{"id":"s","name":"S","status":"paused"` + sub + `}]}`
	}
	ok := []string{
		`,"resumesAt":"2027-03-01"`,
		`,"pauseRequest":{"action":"pause","periods":2,"resumesAt":"2027-03-01","requestedAt":"2026-12-10"}`,
		`,"pauseRequest":{"action":"resume","requestedAt":"2026-12-10"}`,
		`,"retentionOffer":{"reason":"pricing","percentOff":50,"periods":2,"shownAt":"2026-12-10"}`,
		`,"retentionOffer":{"reason":"","percentOff":10,"periods":1,"shownAt":"2026-12-10","acceptedAt":"2026-12-10","pending":true}`,
	}
	for _, sub := range ok {
		a, err := Decode([]byte(doc(sub)))
		if err != nil {
			t.Errorf("%s: %v", sub, err)
			continue
		}
		if _, err := Decode(mustJSON(t, a)); err != nil {
			t.Errorf("%s: round trip: %v", sub, err)
		}
	}
	bad := []struct{ sub, want string }{
		{`,"resumesAt":"1 March"`, "subscriptions[0].resumesAt"},
		{`,"pauseRequest":{"action":"stop","requestedAt":"2026-12-10"}`, `pauseRequest.action: "stop"`},
		{`,"pauseRequest":{"action":"pause","periods":0,"requestedAt":"2026-12-10"}`, "pauseRequest.periods: must be from 1 to 12"},
		{`,"pauseRequest":{"action":"pause","periods":13,"requestedAt":"2026-12-10"}`, "pauseRequest.periods"},
		{`,"pauseRequest":{"action":"resume","periods":1,"requestedAt":"2026-12-10"}`, "pauseRequest.periods: is only for action pause"},
		{`,"pauseRequest":{"action":"pause","periods":1}`, "pauseRequest.requestedAt: is required"},
		{`,"pauseRequest":{"action":"pause","periods":1,"requestedAt":"x"}`, "pauseRequest.requestedAt"},
		{`,"retentionOffer":{"reason":"bored","percentOff":50,"periods":2,"shownAt":"2026-12-10"}`, `retentionOffer.reason: "bored"`},
		{`,"retentionOffer":{"reason":"pricing","percentOff":0,"periods":2,"shownAt":"2026-12-10"}`, "retentionOffer.percentOff"},
		{`,"retentionOffer":{"reason":"pricing","percentOff":101,"periods":2,"shownAt":"2026-12-10"}`, "retentionOffer.percentOff"},
		{`,"retentionOffer":{"reason":"pricing","percentOff":50,"periods":25,"shownAt":"2026-12-10"}`, "retentionOffer.periods"},
		{`,"retentionOffer":{"reason":"pricing","percentOff":50,"periods":2}`, "retentionOffer.shownAt: is required"},
		{`,"retentionOffer":{"reason":"pricing","percentOff":50,"periods":2,"shownAt":"2026-12-10","pending":true}`, "retentionOffer.pending"},
	}
	for _, tt := range bad {
		_, err := Decode([]byte(doc(tt.sub)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.sub, err, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
