package tenants

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/portico-billing/portico/internal/etcdtest"
)

// TestDomainsOfTheOldLayoutMigrate: a domain verified before several tenants could claim one name
// was stored as state/domains/<host>; after the upgrade it is still served by its tenant, with its
// owner key, and a pending one of the old layout stays its tenant's claim.
func TestDomainsOfTheOldLayoutMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, prefix := srv.Client(t), etcdtest.Prefix(t)
	first, err := Open(ctx, Config{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := first.CreateTenant(ctx, &Tenant{Slug: "legacy", Name: "Legacy"})
	first.Close()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []Domain{
		{Name: "billing.legacy.example", TenantID: tn.ID, Status: DomainActive, Token: "t1", CreatedAt: now},
		{Name: "pay.legacy.example", TenantID: tn.ID, Status: DomainPending, Token: "t2", CreatedAt: now},
	} {
		v, _ := json.Marshal(d)
		if _, err := c.Put(ctx, prefix+"state/domains/"+d.Name, string(v)); err != nil {
			t.Fatal(err)
		}
	}

	s, err := Open(ctx, Config{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, ok := s.TenantByDomain("billing.legacy.example"); !ok || got.ID != tn.ID {
		t.Errorf("TenantByDomain(billing.legacy.example) = %v, %v; want the tenant", got, ok)
	}
	if _, ok := s.TenantByDomain("pay.legacy.example"); ok {
		t.Error("a pending domain is served")
	}
	list, err := s.Domains(ctx, tn.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("Domains = %+v, %v; want both", list, err)
	}
	owner, err := c.Get(ctx, s.k.domainOwner("billing.legacy.example"))
	if err != nil || len(owner.Kvs) != 1 || string(owner.Kvs[0].Value) != tn.ID {
		t.Errorf("owner key: %+v, %v", owner, err)
	}
	old, err := c.Get(ctx, prefix+"state/domains/billing.legacy.example", clientv3.WithCountOnly())
	if err != nil || old.Count != 0 {
		t.Errorf("old record left: %+v, %v", old, err)
	}
	// A second instance starting finds nothing left to move.
	again, err := Open(ctx, Config{Client: c, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
	if list, err := s.Domains(ctx, tn.ID); err != nil || len(list) != 2 {
		t.Errorf("after a second start: %+v, %v", list, err)
	}
}
