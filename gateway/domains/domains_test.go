package domains

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/dnstest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

func TestDomainLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := tenants.Open(ctx, tenants.Config{Client: srv.Client(t), Prefix: etcdtest.Prefix(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, _ := s.CreateTenant(ctx, &tenants.Tenant{Slug: "acme", Name: "Acme"})
	b, _ := s.CreateTenant(ctx, &tenants.Tenant{Slug: "bravo", Name: "Bravo"})
	z := dnstest.Start(t)
	v := &Verifier{Store: s, BaseDomain: "portal.test", Resolver: NewResolver(z.Addr)}

	d, err := s.AddDomain(ctx, a.ID, "Billing.Acme.Example.", time.Now())
	if err != nil || d.Name != "billing.acme.example" || d.Status != tenants.DomainPending {
		t.Fatalf("AddDomain = %+v, %v", d, err)
	}
	if _, err := s.AddDomain(ctx, b.ID, "billing.acme.example", time.Now()); !errors.Is(err, tenants.ErrDomainTaken) {
		t.Fatalf("B adds A's domain: %v", err)
	}
	if _, _, err := s.Domain(ctx, b.ID, "billing.acme.example"); !errors.Is(err, tenants.ErrDomainNotFound) {
		t.Fatalf("B reads A's domain: %v", err)
	}
	for _, bad := range []string{"localhost", "127.0.0.1", "*.acme.example", "acme.example:443", "a..b", ""} {
		if _, err := s.AddDomain(ctx, a.ID, bad, time.Now()); !errors.Is(err, tenants.ErrInvalidDomain) {
			t.Errorf("AddDomain(%q) = %v", bad, err)
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
	// Now B may have it.
	if _, err := s.AddDomain(ctx, b.ID, d.Name, time.Now()); err != nil {
		t.Fatalf("B adds the freed domain: %v", err)
	}
}
