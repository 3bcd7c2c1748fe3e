package domains

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/testwait"

	"github.com/portico-billing/portico/internal/dnstest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

func TestDomainLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := tenants.Open(ctx, tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.CreateTenant(ctx, &tenants.Tenant{Slug: "acme", Name: "Acme"})
	b, _ := s.CreateTenant(ctx, &tenants.Tenant{Slug: "bravo", Name: "Bravo"})
	z := dnstest.Start(t)
	v := &Verifier{Store: s, BaseDomain: "portal.test", Resolver: NewResolver(z.Addr)}

	d, err := v.Add(ctx, a, "Billing.Acme.Example.")
	if err != nil || d.Name != "billing.acme.example" || d.Status != tenants.DomainPending {
		t.Fatalf("Add = %+v, %v", d, err)
	}
	if _, err := v.Add(ctx, a, "billing.acme.example"); !errors.Is(err, tenants.ErrDomainTaken) {
		t.Fatalf("A adds its domain twice: %v", err)
	}
	if _, _, err := s.Domain(ctx, b.ID, "billing.acme.example"); !errors.Is(err, tenants.ErrDomainNotFound) {
		t.Fatalf("B reads A's domain: %v", err)
	}
	for _, bad := range []string{"localhost", "127.0.0.1", "*.acme.example", "acme.example:443", "a..b", ""} {
		if _, err := v.Add(ctx, a, bad); !errors.Is(err, tenants.ErrInvalidDomain) {
			t.Errorf("Add(%q) = %v", bad, err)
		}
	}
	in := v.InstructionsFor(a, d)
	if in.CNAME.Value != "acme.portal.test" || in.TXT.Name != "_portico-challenge.billing.acme.example" || in.TXT.Value != d.Token {
		t.Fatalf("instructions = %+v", in)
	}
	// No records yet: stays pending, with the reason.
	got, err := v.Verify(ctx, a, d.Name)
	if err != nil || got.Status != tenants.DomainPending || !strings.Contains(got.LastError, "_portico-challenge") {
		t.Fatalf("verify without records = %+v, %v", got, err)
	}
	if _, ok := s.TenantByDomain(d.Name); ok {
		t.Fatal("pending domain served")
	}
	z.Set(`_portico-challenge.billing.acme.example. 60 IN TXT "`+d.Token+`"`,
		"billing.acme.example. 60 IN CNAME acme.portal.test.", "acme.portal.test. 60 IN A 192.0.2.10")
	got, err = v.Verify(ctx, a, d.Name)
	if err != nil || got.Status != tenants.DomainActive || got.VerifiedAt.IsZero() {
		t.Fatalf("verify with records = %+v, %v", got, err)
	}
	etcdtest.Wait(t, "active domain indexed", func() bool { tn, ok := s.TenantByDomain(d.Name); return ok && tn.ID == a.ID })
	// It stops pointing at us: inactive, not served.
	z.Clear("billing.acme.example", "CNAME")
	z.Set("billing.acme.example. 60 IN A 198.51.100.7")
	v.ReverifyAll(ctx, slog.Default())
	etcdtest.Wait(t, "inactive domain dropped", func() bool { _, ok := s.TenantByDomain(d.Name); return !ok })
	got, _, _ = s.Domain(ctx, a.ID, d.Name)
	if got.Status != tenants.DomainInactive || !strings.Contains(got.LastError, "198.51.100.7") {
		t.Fatalf("after DNS moved away: %+v", got)
	}
	// An apex-style A record with the target's address verifies too.
	z.Clear("billing.acme.example", "A")
	z.Set("billing.acme.example. 60 IN A 192.0.2.10")
	if got, _ := v.Verify(ctx, a, d.Name); got.Status != tenants.DomainActive {
		t.Fatalf("same-address domain: %+v", got)
	}
	if err := s.RemoveDomain(ctx, b.ID, d.Name); !errors.Is(err, tenants.ErrDomainNotFound) {
		t.Fatalf("B removes A's domain: %v", err)
	}
	if err := s.RemoveDomain(ctx, a.ID, d.Name); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "removed domain dropped", func() bool { _, ok := s.TenantByDomain(d.Name); return !ok })
}

func openStore(t *testing.T) (*tenants.Store, *tenants.Tenant, *tenants.Tenant) {
	t.Helper()
	ctx := context.Background()
	s, err := tenants.Open(ctx, tenants.Config{RequestTimeout: testwait.Patience, Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	a, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: "bravo", Name: "Bravo"})
	if err != nil {
		t.Fatal(err)
	}
	// The re-check finds a claim's tenant in the watched index, as a running gateway does.
	etcdtest.Wait(t, "both tenants indexed", func() bool {
		_, okA := s.TenantByID(a.ID)
		_, okB := s.TenantByID(b.ID)
		return okA && okB
	})
	return s, a, b
}

// Names under the base domain are Portico's: a tenant cannot claim another's portal host, the
// API or dashboard host, the base domain itself or the operator's CNAME target.
func TestBaseDomainNamesRefused(t *testing.T) {
	t.Parallel()
	s, a, _ := openStore(t)
	v := &Verifier{Store: s, BaseDomain: "Portal.Test.", Target: "lb.gateways.example"}
	for _, name := range []string{"portal.test", "api.portal.test", "dashboard.portal.test", "bravo.portal.test",
		"x.acme.portal.test", "API.PORTAL.TEST.", "lb.gateways.example"} {
		_, err := v.Add(context.Background(), a, name)
		if !errors.Is(err, tenants.ErrInvalidDomain) || !strings.Contains(err.Error(), "Portico's own") {
			t.Errorf("Add(%q) = %v, want refused as Portico's own", name, err)
		}
	}
	// A name that merely ends in the same letters is not under the base domain.
	if _, err := v.Add(context.Background(), a, "myportal.test"); err != nil {
		t.Errorf("Add(myportal.test) = %v", err)
	}
}

// A pending claim blocks nobody: both tenants claim the name, the one whose TXT record verifies
// wins, and the other's claim shows as taken and cannot become active until the name is free.
func TestTwoTenantsClaimOneName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, a, b := openStore(t)
	z := dnstest.Start(t)
	v := &Verifier{Store: s, BaseDomain: "portal.test", Resolver: NewResolver(z.Addr)}
	squat, err := v.Add(ctx, a, "billing.victim.example")
	if err != nil {
		t.Fatal(err)
	}
	real, err := v.Add(ctx, b, "billing.victim.example")
	if err != nil || real.Status != tenants.DomainPending {
		t.Fatalf("B claims a name A has pending: %+v, %v", real, err)
	}
	// The name's owner sets B's records.
	z.Set(`_portico-challenge.billing.victim.example. 60 IN TXT "`+real.Token+`"`,
		"billing.victim.example. 60 IN CNAME bravo.portal.test.", "bravo.portal.test. 60 IN A 192.0.2.20")
	if got, err := v.Verify(ctx, a, squat.Name); err != nil || got.Status != tenants.DomainPending || !strings.Contains(got.LastError, squat.Token) {
		t.Fatalf("A verifies without its TXT record: %+v, %v", got, err)
	}
	if got, err := v.Verify(ctx, b, real.Name); err != nil || got.Status != tenants.DomainActive {
		t.Fatalf("B verifies: %+v, %v", got, err)
	}
	etcdtest.Wait(t, "B serves the name", func() bool { tn, ok := s.TenantByDomain(real.Name); return ok && tn.ID == b.ID })
	if got, _, err := s.Domain(ctx, a.ID, squat.Name); err != nil || got.Status != tenants.DomainTaken || got.LastError != tenants.TakenReason {
		t.Fatalf("A's claim after B verified: %+v, %v", got, err)
	}
	if list, _ := s.Domains(ctx, a.ID); len(list) != 1 || list[0].Status != tenants.DomainTaken {
		t.Fatalf("A's list: %+v", list)
	}
	// Even with its own TXT record and a CNAME to it, A cannot take a name B holds.
	z.Set(`_portico-challenge.billing.victim.example. 60 IN TXT "` + squat.Token + `"`)
	z.Clear("billing.victim.example", "CNAME")
	z.Set("billing.victim.example. 60 IN CNAME acme.portal.test.", "acme.portal.test. 60 IN A 192.0.2.10")
	if got, err := v.Verify(ctx, a, squat.Name); err != nil || got.Status != tenants.DomainTaken {
		t.Fatalf("A verifies a name B holds: %+v, %v", got, err)
	}
	if tn, ok := s.TenantByDomain(real.Name); !ok || tn.ID != b.ID {
		t.Fatal("the index moved away from B")
	}
	// B's re-check fails (the name points at A now): B's claim turns inactive and frees the name.
	v.ReverifyAll(ctx, slog.Default())
	etcdtest.Wait(t, "the name is A's", func() bool { tn, ok := s.TenantByDomain(real.Name); return ok && tn.ID == a.ID })
	if got, _, _ := s.Domain(ctx, b.ID, real.Name); got.Status != tenants.DomainTaken {
		t.Fatalf("B's claim after A took over: %+v", got)
	}
	// Deleting the tenant that holds the name frees it.
	if err := s.DeleteTenant(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "deleted tenant's name dropped", func() bool { _, ok := s.TenantByDomain(real.Name); return !ok })
	if got, _, _ := s.Domain(ctx, b.ID, real.Name); got.Status != tenants.DomainInactive {
		t.Fatalf("B's claim after A was deleted: %+v", got)
	}
}

// Two tenants whose records both verify (the operator's --domain-target is one CNAME target for
// everyone) verify at once: exactly one claim becomes active.
func TestConcurrentVerificationOneWinner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, a, b := openStore(t)
	z := dnstest.Start(t)
	v := &Verifier{Store: s, BaseDomain: "portal.test", Target: "lb.gateways.example", Resolver: NewResolver(z.Addr)}
	for round, name := range []string{"one.shared.example", "two.shared.example", "three.shared.example"} {
		da, err := v.Add(ctx, a, name)
		if err != nil {
			t.Fatal(err)
		}
		db, err := v.Add(ctx, b, name)
		if err != nil {
			t.Fatal(err)
		}
		z.Set(`_portico-challenge.`+name+`. 60 IN TXT "`+da.Token+`"`, `_portico-challenge.`+name+`. 60 IN TXT "`+db.Token+`"`,
			name+". 60 IN CNAME lb.gateways.example.")
		start := make(chan struct{})
		got := make(chan *tenants.Domain, 2)
		for _, tn := range []*tenants.Tenant{a, b} {
			go func() {
				<-start
				d, err := v.Verify(ctx, tn, name)
				if err != nil {
					t.Errorf("round %d: verify: %v", round, err)
				}
				got <- d
			}()
		}
		close(start)
		active, taken := 0, 0
		for range 2 {
			switch d := <-got; {
			case d == nil:
			case d.Status == tenants.DomainActive:
				active++
			case d.Status == tenants.DomainTaken:
				taken++
			}
		}
		if active != 1 || taken != 1 {
			t.Fatalf("round %d: %d active, %d taken", round, active, taken)
		}
	}
}

// A claim that is never verified lapses after PendingTTL: verifying it says so and removes it, the
// hourly re-check removes it, and the tenant may add the name again.
func TestPendingClaimExpires(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, a, b := openStore(t)
	z := dnstest.Start(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Store: s, BaseDomain: "portal.test", Resolver: NewResolver(z.Addr), PendingTTL: 48 * time.Hour,
		Now: func() time.Time { return now }}
	da, err := v.Add(ctx, a, "old.claim.example")
	if err != nil || !da.ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("Add = %+v, %v", da, err)
	}
	if _, err := v.Add(ctx, b, "old.claim.example"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(47 * time.Hour)
	if got, err := v.Verify(ctx, a, da.Name); err != nil || got.Status != tenants.DomainPending {
		t.Fatalf("verify before expiry: %+v, %v", got, err)
	}
	now = now.Add(time.Hour)
	if _, err := v.Verify(ctx, a, da.Name); !errors.Is(err, ErrExpired) {
		t.Fatalf("verify after expiry: %v", err)
	}
	if _, _, err := s.Domain(ctx, a.ID, da.Name); !errors.Is(err, tenants.ErrDomainNotFound) {
		t.Fatalf("expired claim still there: %v", err)
	}
	v.ReverifyAll(ctx, slog.Default())
	if list, _ := s.Domains(ctx, ""); len(list) != 0 {
		t.Fatalf("after the re-check: %+v", list)
	}
	again, err := v.Add(ctx, a, da.Name)
	if err != nil || again.Token == da.Token || !again.ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("add again: %+v, %v", again, err)
	}
	// The tenant's own expired claim does not block adding it anew either.
	now = now.Add(49 * time.Hour)
	if fresh, err := v.Add(ctx, a, da.Name); err != nil || fresh.Token == again.Token {
		t.Fatalf("add over an expired claim: %+v, %v", fresh, err)
	}
	// A verified claim does not expire.
	z.Set(`_portico-challenge.old.claim.example. 60 IN TXT "`+mustDomain(t, s, a, da.Name).Token+`"`,
		"old.claim.example. 60 IN CNAME acme.portal.test.", "acme.portal.test. 60 IN A 192.0.2.10")
	if got, err := v.Verify(ctx, a, da.Name); err != nil || got.Status != tenants.DomainActive || !got.ExpiresAt.IsZero() {
		t.Fatalf("verify: %+v, %v", got, err)
	}
	now = now.Add(365 * 24 * time.Hour)
	if got, err := v.Verify(ctx, a, da.Name); err != nil || got.Status != tenants.DomainActive {
		t.Fatalf("a year later: %+v, %v", got, err)
	}
}

func mustDomain(t *testing.T, s *tenants.Store, tn *tenants.Tenant, name string) *tenants.Domain {
	t.Helper()
	d, _, err := s.Domain(context.Background(), tn.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
