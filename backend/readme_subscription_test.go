package backend

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestREADMESubscriptionRequests: the README's example requests of the subscription types and of
// wallet.top_up decode strictly into their data types, and name every field of them.
func TestREADMESubscriptionRequests(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]any{
		TypeSubscriptionPause:       &SubscriptionPauseData{},
		TypeSubscriptionResume:      &SubscriptionResumeData{},
		TypeSubscriptionOfferAccept: &SubscriptionOfferAcceptData{},
		TypeWalletTopUp:             &WalletTopUpData{},
	}
	lines := strings.Split(string(b), "\n")
	found := map[string]bool{}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"type":"subscription.`) && !strings.HasPrefix(l, `{"type":"wallet.`) || i+1 >= len(lines) {
			continue
		}
		example := l + lines[i+1]
		var req struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal([]byte(example), &req); err != nil {
			t.Errorf("README:%d: %v", i+1, err)
			continue
		}
		v, ok := types[req.Type]
		if !ok {
			continue // another section's type
		}
		found[req.Type] = true
		dec := json.NewDecoder(bytes.NewReader(req.Data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("README:%d: %s: %v", i+1, req.Type, err)
			continue
		}
		var inREADME, inGo map[string]any
		json.Unmarshal(req.Data, &inREADME)
		out, _ := json.Marshal(v)
		json.Unmarshal(out, &inGo)
		var a, b []string
		for k := range inREADME {
			a = append(a, k)
		}
		for k := range inGo {
			b = append(b, k)
		}
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("README:%d: %s names %v, the type has %v", i+1, req.Type, a, b)
		}
	}
	for typ := range types {
		if !found[typ] {
			t.Errorf("the README has no example request of %s", typ)
		}
	}
}
