package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"
)

func TestDecodeSummary(t *testing.T) {
	t.Parallel()
	doc, err := json.Marshal(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		doc  string
		want AccountSummary
	}{
		{string(doc), AccountSummary{"acc_7Hq2LmX9", "crm-001234", "Globex Corporation", "billing@globex.example"}},
		{`{"id":"a1","name":"Caf\u00e9 \"Le Bon\"","currency":"EUR","email":"late@x.example"}`, AccountSummary{ID: "a1", Name: `Café "Le Bon"`}},
		{` { "currency" : "EUR", "company": {"legalName": "x}\"{", "address": {"line1": "]"}}, "tags": [1, [2, {"a": null}]], "n": -1.5e3,
		   "ok": true, "email": "e@x.example", "id": "a2", "alias": "al", "name": "Reordered" } `, AccountSummary{"a2", "al", "Reordered", "e@x.example"}},
		{`{}`, AccountSummary{}},
	} {
		got, err := decodeSummary([]byte(c.doc))
		if err != nil || got != c.want {
			t.Errorf("decodeSummary(%.40q) = %+v, %v; want %+v", c.doc, got, err, c.want)
		}
	}
	for _, bad := range []string{``, `[]`, `{"id":1,"name":"x"}`, `{"id":"a"`, `{"id" "a"}`, `{"x":{"y":1}`, `{"id":"a\"}`, `{"a":}`} {
		if _, err := decodeSummary([]byte(bad)); err == nil {
			t.Errorf("decodeSummary(%q) accepted invalid JSON", bad)
		}
	}
}

func TestListAndWatchAccountSummaries(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	for i := range 5 {
		a := loadExample(t)
		a.ID, a.Alias, a.Name = "acc_"+string(rune('a'+i)), "", "Customer "+string(rune('A'+i))
		if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	var all []AccountSummary
	after, rev := "", int64(0)
	for {
		page, next, at, err := s.ListAccountSummaries(ctx, tn.ID, after, 2, rev)
		if err != nil {
			t.Fatal(err)
		}
		if rev != 0 && at != rev {
			t.Fatalf("page read at revision %d, not the pinned %d", at, rev)
		}
		rev = at
		all = append(all, page...)
		// A write between pages does not show up in the pinned listing.
		a := loadExample(t)
		a.ID, a.Alias = "acc_z"+next, ""
		s.PutAccount(ctx, tn.ID, a, 0)
		if next == "" {
			break
		}
		after = next
	}
	if len(all) != 5 || all[0].ID != "acc_a" || all[4].Name != "Customer E" || all[2].Email != "billing@globex.example" {
		t.Fatalf("listing = %+v", all)
	}
	// The streamed scan sees the same accounts plus the ones written between the pages.
	var scanned []AccountSummary
	scanRev, err := s.ScanAccountSummaries(ctx, tn.ID, func(a AccountSummary) { scanned = append(scanned, a) })
	if err != nil || len(scanned) != 8 || scanned[0] != all[0] || scanRev <= rev || !strings.HasPrefix(scanned[7].ID, "acc_z") {
		t.Fatalf("scan = %+v at %d, %v", scanned, scanRev, err)
	}

	wctx, cancel := context.WithCancel(ctx)
	type change struct {
		id  string
		sum *AccountSummary
	}
	ch := make(chan change, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchAccountSummaries(wctx, tn.ID, rev, func(id string, sum *AccountSummary, _ int64) { ch <- change{id, sum} })
	}()
	next := func() change {
		select {
		case c := <-ch:
			return c
		case <-time.After(testwait.Patience):
			t.Fatal("no change watched")
			return change{}
		}
	}
	// The pages' own writes come first: the watch starts right after the pinned revision.
	for range 3 {
		if c := next(); !strings.HasPrefix(c.id, "acc_z") || c.sum == nil {
			t.Fatalf("watched %+v", c)
		}
	}
	if err := s.DeleteAccount(ctx, tn.ID, "acc_b", 0); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.id != "acc_b" || c.sum != nil {
		t.Fatalf("deletion watched as %+v", c)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch ended with %v", err)
	}
	// After a compaction past the pinned revision, listing and watching from it say so.
	cur, err := s.c.Get(ctx, "compact-probe")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Compact(ctx, cur.Header.Revision); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.ListAccountSummaries(ctx, tn.ID, "", 10, rev); !errors.Is(err, ErrCompacted) {
		t.Fatalf("listing at a compacted revision: %v", err)
	}
	if err := s.WatchAccountSummaries(ctx, tn.ID, rev, func(string, *AccountSummary, int64) {}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watching from a compacted revision: %v", err)
	}
}
