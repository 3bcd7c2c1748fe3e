package tenants

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestCompactByRevisionCount: once more than 2 × Keep revisions were written since the last
// compaction, compactOnce compacts to the current revision minus Keep, so rewrites of one document
// cannot pile up history until the hourly compaction; below that it leaves the history alone.
func TestCompactByRevisionCount(t *testing.T) {
	s := newStore(t) // not parallel: it compacts the package's etcd member
	ctx := context.Background()
	tn := mustTenant(t, s, "compact")
	a := loadExample(t)
	first, _, err := s.PutAccount(ctx, tn.ID, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	const keep = 20
	for i := range 2*keep + 5 {
		a.Name = fmt.Sprintf("Globex %d", i)
		if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
			t.Fatal(err)
		}
	}
	rev, err := s.compactOnce(ctx, 0, keep)
	if err != nil || rev <= first {
		t.Fatalf("compactOnce = %d, %v; want a compaction past revision %d", rev, err, first)
	}
	if _, err := s.c.Get(ctx, s.k.account(tn.ID, a.ID), clientv3.WithRev(first)); !errors.Is(err, rpctypes.ErrCompacted) {
		t.Fatalf("reading the first revision after compaction: %v, want ErrCompacted", err)
	}
	again, err := s.compactOnce(ctx, rev, keep)
	if err != nil || again != rev {
		t.Fatalf("second compactOnce with little new history = %d, %v; want %d (nothing done)", again, err, rev)
	}
}

// TestUnavailable: an etcd failure wrapped by Unavailable (as tenants, webhooks and backend wrap
// theirs) is ErrUnavailable and still the original error; a refused write for lack of space is
// ErrStorageFull as well; nil stays nil.
func TestUnavailable(t *testing.T) {
	t.Parallel()
	if err := Unavailable(nil); err != nil {
		t.Fatalf("Unavailable(nil) = %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		full bool
	}{
		{"deadline", context.DeadlineExceeded, false},
		{"no leader", rpctypes.ErrNoLeader, false},
		{"no space", rpctypes.ErrNoSpace, true},
		{"no space over gRPC", rpctypes.ErrGRPCNoSpace, true},
	} {
		got := Unavailable(tc.err)
		if !errors.Is(got, ErrUnavailable) || !errors.Is(got, tc.err) {
			t.Errorf("%s: %v is not both ErrUnavailable and the original error", tc.name, got)
		}
		if errors.Is(got, ErrStorageFull) != tc.full {
			t.Errorf("%s: errors.Is(%v, ErrStorageFull) = %v, want %v", tc.name, got, !tc.full, tc.full)
		}
	}
}
