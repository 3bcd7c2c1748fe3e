package tenants

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCountLinkEmail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	now := time.Now()
	for i := 1; i <= 3; i++ {
		n, err := s.CountLinkEmail(ctx, tn.ID, "acc_1", now)
		if err != nil || n != i {
			t.Fatalf("count %d = %d, %v", i, n, err)
		}
	}
	// Reading the count counts nothing.
	for range 2 {
		if n, err := s.LinkEmailCount(ctx, tn.ID, "acc_1", now); err != nil || n != 3 {
			t.Fatalf("LinkEmailCount = %d, %v, want 3", n, err)
		}
	}
	if n, err := s.LinkEmailCount(ctx, tn.ID, "acc_2", now); err != nil || n != 0 {
		t.Fatalf("LinkEmailCount of an account never counted = %d, %v", n, err)
	}
	if n, _ := s.CountLinkEmail(ctx, tn.ID, "acc_2", now); n != 1 {
		t.Fatalf("another account starts at %d", n)
	}
	other := mustTenant(t, s, "globex")
	if n, _ := s.CountLinkEmail(ctx, other.ID, "acc_1", now); n != 1 {
		t.Fatalf("another tenant's account starts at %d", n)
	}
	if n, _ := s.CountLinkEmail(ctx, tn.ID, "acc_1", now.Add(time.Hour)); n != 1 {
		t.Fatalf("the next hour starts at %d", n)
	}
	resp, err := s.c.Get(ctx, s.k.linkMail(tn.ID, "acc_1", now.Unix()/3600))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Fatalf("the counter key has no lease: %v %v", resp, err)
	}
	ttl, err := s.c.TimeToLive(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	if err != nil || ttl.TTL <= 0 || ttl.TTL > 3660+60 {
		t.Fatalf("counter lease TTL %v, %v", ttl, err)
	}
	if _, err := s.CountLinkEmail(ctx, tn.ID, "bad/id", now); err == nil {
		t.Fatal("an invalid account id was counted")
	}
}
