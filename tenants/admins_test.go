package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const goodPassword = "correct horse battery"

func TestAdminLifecycle(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "acme")
	other := mustTenant(t, s, "globex")

	a, err := s.CreateAdmin(ctx, tn.ID, "  Ops@Acme.Example ", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "ops@acme.example" || a.TenantID != tn.ID || !strings.HasPrefix(a.PasswordHash, "$argon2id$") {
		t.Fatalf("created %+v", a)
	}
	if strings.Contains(a.PasswordHash, goodPassword) {
		t.Fatal("the password is stored in clear")
	}
	if _, err := s.CreateAdmin(ctx, tn.ID, "OPS@acme.example", goodPassword+"x"); !errors.Is(err, ErrAdminExists) {
		t.Fatalf("duplicate email: %v, want ErrAdminExists", err)
	}
	// The same email may be an admin of another tenant, with its own password.
	if _, err := s.CreateAdmin(ctx, other.ID, "ops@acme.example", "another password!"); err != nil {
		t.Fatalf("same email on another tenant: %v", err)
	}
	for _, c := range []struct{ email, pw string }{{"not-an-email", goodPassword}, {"a@b.example", "short"}, {"x/y@b.example", goodPassword}} {
		if _, err := s.CreateAdmin(ctx, tn.ID, c.email, c.pw); !errors.Is(err, ErrInvalidAdmin) {
			t.Errorf("CreateAdmin(%q, %q) = %v, want ErrInvalidAdmin", c.email, c.pw, err)
		}
	}
	if _, err := s.CreateAdmin(ctx, "ten_missing", "a@b.example", goodPassword); !errors.Is(err, ErrTenantNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}

	now := time.Now()
	got, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "OPS@acme.example", Addr: "192.0.2.1"}, goodPassword, now)
	if err != nil || got.Email != "ops@acme.example" || got.LastSignInAt.IsZero() {
		t.Fatalf("AuthenticateAdmin(right) = %+v, %v", got, err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword+"!", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "nobody@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("unknown email: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: "", Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("no tenant: %v", err)
	}
	// Another tenant's password does not open this tenant, and vice versa.
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: other.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("other tenant with this tenant's password: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: other.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "another password!", now); err != nil {
		t.Fatalf("other tenant with its own password: %v", err)
	}

	list, err := s.Admins(ctx, tn.ID)
	if err != nil || len(list) != 1 || list[0].Email != "ops@acme.example" {
		t.Fatalf("Admins = %v, %v", list, err)
	}
	if err := s.SetAdminPassword(ctx, tn.ID, "ops@acme.example", "a brand new password", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, goodPassword, now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password after SetAdminPassword: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a brand new password", now); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if err := s.DeleteAdmin(ctx, tn.ID, "Ops@Acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAdmin(ctx, tn.ID, "ops@acme.example"); !errors.Is(err, ErrAdminNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.AuthenticateAdmin(ctx, SignInSource{TenantID: tn.ID, Email: "ops@acme.example", Addr: "192.0.2.1"}, "a brand new password", now); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("deleted admin: %v", err)
	}
	if l, _ := s.Admins(ctx, other.ID); len(l) != 1 {
		t.Fatalf("deleting on one tenant touched the other: %v", l)
	}
}
