package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

func TestSellerValidation(t *testing.T) {
	t.Parallel()
	berlin := account.Address{Line1: "Friedrichstraße 68", City: "Berlin", PostalCode: "10117", Country: "DE"}
	tests := []struct {
		name   string
		seller Seller
		want   string // a part of the error, "" for valid
	}{
		{"none", Seller{}, ""},
		{"name only", Seller{LegalName: "Acme Cloud Ltd"}, ""},
		{"full", Seller{LegalName: "Acme Cloud GmbH", Address: berlin, TaxID: "DE811907980"}, ""},
		{"non-Latin", Seller{LegalName: "株式会社アクメ", Address: account.Address{Line1: "丸の内1-1", City: "千代田区", Country: "JP"}}, ""},
		{"longest", Seller{LegalName: strings.Repeat("é", MaxSellerName), TaxID: strings.Repeat("9", MaxSellerTaxID)}, ""},
		{"tax ID without name", Seller{TaxID: "DE811907980"}, "seller.legalName is required"},
		{"blank name", Seller{LegalName: "  ", TaxID: "DE811907980"}, "seller.legalName is required"},
		{"name too long", Seller{LegalName: strings.Repeat("a", MaxSellerName+1)}, "seller.legalName must be at most 200"},
		{"tax ID too long", Seller{LegalName: "A", TaxID: strings.Repeat("9", MaxSellerTaxID+1)}, "seller.taxId must be at most 64"},
		{"newline", Seller{LegalName: "A\nB"}, "seller.legalName must be"},
		{"DEL", Seller{LegalName: "A", TaxID: "DE\x7f1"}, "seller.taxId must be"},
		{"invalid UTF-8", Seller{LegalName: "A\xff"}, "seller.legalName must be"},
		{"address without city", Seller{LegalName: "A", Address: account.Address{Line1: "1 Main St", Country: "US"}}, "seller.address.city is required"},
		{"address without line", Seller{LegalName: "A", Address: account.Address{City: "Paris", Country: "FR"}}, "seller.address.line1 is required"},
		{"address without country", Seller{LegalName: "A", Address: account.Address{Line1: "1 Main St", City: "Springfield"}}, `seller.address.country "" is not`},
		{"lower-case country", Seller{LegalName: "A", Address: account.Address{Line1: "1", City: "B", Country: "de"}}, `seller.address.country "de"`},
		{"postal code too long", Seller{LegalName: "A", Address: account.Address{Line1: "1", City: "B", Country: "DE", PostalCode: strings.Repeat("1", 21)}}, "seller.address.postalCode must be at most 20"},
		{"region with tab", Seller{LegalName: "A", Address: account.Address{Line1: "1", City: "B", Country: "US", Region: "I\tL"}}, "seller.address.region must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tn := &Tenant{Slug: "acme", Name: "Acme", Seller: tt.seller}
			tn.normalize()
			err := tn.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalidTenant) || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want ErrInvalidTenant saying %q", err, tt.want)
			}
		})
	}
}

// TestSellerKeepsOtherSettings: saving the seller keeps the tenant's other settings (the
// second-factor requirement, branding, portal defaults, quotas), saving those keeps the seller,
// and a refused seller changes nothing.
func TestSellerKeepsOtherSettings(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	seller := Seller{LegalName: "Acme Cloud GmbH", TaxID: "DE811907980",
		Address: account.Address{Line1: "Friedrichstraße 68", City: "Berlin", PostalCode: "10117", Country: "DE"}}
	tn, err := s.CreateTenant(ctx, &Tenant{Slug: "acme", Name: "Acme", RequireTwoFactor: true, Seller: seller,
		Branding: Branding{PrimaryColor: "#112233", AccentColor: "#0f766e", AccentTitles: true}, MaxAccounts: 9})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Tenant(ctx, tn.ID); err != nil || !got.RequireTwoFactor || got.Seller != seller {
		t.Fatalf("created: %+v %v", got, err)
	}
	seller.TaxID = "DE999999999"
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.Seller = seller; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Tenant(ctx, tn.ID)
	if err != nil || got.Seller != seller || !got.RequireTwoFactor || got.Branding.PrimaryColor != "#112233" ||
		!got.Branding.AccentTitles || got.MaxAccounts != 9 || got.Portal != tn.Portal {
		t.Fatalf("after saving the seller: %+v %v", got, err)
	}
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error {
		t.Portal.CancelMode, t.Branding.PrimaryColor, t.MaxAccounts = CancelImmediate, "#445566", 10
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Tenant(ctx, tn.ID); err != nil || got.Seller != seller || !got.RequireTwoFactor || got.Portal.CancelMode != CancelImmediate {
		t.Fatalf("after saving other settings: %+v %v", got, err)
	}
	rev := got.Revision
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.Seller.LegalName = ""; return nil }, nil); !errors.Is(err, ErrInvalidTenant) {
		t.Fatalf("a seller without a name: %v, want ErrInvalidTenant", err)
	}
	if got, _ = s.Tenant(ctx, tn.ID); got.Revision != rev {
		t.Fatal("a refused seller was written")
	}
	if _, err := s.UpdateTenant(ctx, tn.ID, func(t *Tenant) error { t.Seller = Seller{}; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Tenant(ctx, tn.ID); !got.Seller.IsZero() || !got.RequireTwoFactor {
		t.Fatalf("after clearing the seller: %+v", got)
	}
}
