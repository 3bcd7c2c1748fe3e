package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/spf13/cobra"
)

type tenantFlags struct {
	slug, name, primary, accent, logo   string
	cancelMode, setupURL                string
	frameAncestors                      []string
	linkTTL, sessionTTL                 time.Duration
	removeLogo, require2FA, emailSignIn bool
	maxAccountBytes, maxAccounts        int64
	sellerName, sellerTaxID             string
	sellerAddress                       string
	source                              bool
	sourceTTL                           time.Duration
}

func (f *tenantFlags) register(cmd *cobra.Command, update bool) {
	fl := cmd.Flags()
	if update {
		fl.StringVar(&f.slug, "slug", "", "new slug")
	} else {
		fl.StringVar(&f.slug, "slug", "", "DNS label of the tenant's portal host (required)")
	}
	fl.StringVar(&f.name, "name", "", "display name")
	fl.StringVar(&f.primary, "primary-color", "", "title colour, #rrggbb")
	fl.StringVar(&f.accent, "accent-color", "", "button and link colour, #rrggbb")
	fl.StringVar(&f.logo, "logo", "", "logo file (PNG, JPEG, GIF or WebP, at most 800 KB)")
	fl.DurationVar(&f.linkTTL, "link-ttl", 0, "how long an unused link is valid (5m–168h, default 1h)")
	fl.DurationVar(&f.sessionTTL, "session-ttl", 0, "how long a session lasts (5m–12h, default 1h)")
	fl.StringVar(&f.cancelMode, "cancel-mode", "", "what a customer's cancellation does: end_of_term (default) or immediate")
	fl.StringVar(&f.setupURL, "payment-setup-url", "", "https page of the tenant where customers add a payment method")
	fl.StringSliceVar(&f.frameAncestors, "frame-ancestor", nil, "https origin allowed to embed the portal in a frame (repeatable; default: none)")
	fl.BoolVar(&f.require2FA, "require-2fa", false, "require a second factor (TOTP) of every dashboard admin; --require-2fa=false turns it off")
	fl.BoolVar(&f.emailSignIn, "email-sign-in", false, "let customers sign in on the portal with their billing email (a link and a code by email); --email-sign-in=false turns it off")
	fl.Int64Var(&f.maxAccountBytes, "max-account-bytes", 0, fmt.Sprintf("storage quota: bytes the tenant's account documents (as stored, compressed) and plans may take in etcd (0: the default, %d)", tenants.DefaultMaxAccountBytes))
	fl.Int64Var(&f.maxAccounts, "max-accounts", 0, fmt.Sprintf("storage quota: number of accounts (0: the default, %d)", tenants.DefaultMaxAccounts))
	fl.StringVar(&f.sellerName, "seller-name", "", "legal name of the seller on the tenant's invoices (default: the display name)")
	fl.StringVar(&f.sellerAddress, "seller-address", "", `seller's postal address as key=value pairs, comma-separated (a pair with a comma in double quotes): line1, line2, postal-code, city, region, country (ISO 3166-1 alpha-2), e.g. "line1=Friedrichstraße 68,postal-code=10117,city=Berlin,country=DE"; "" removes it`)
	fl.StringVar(&f.sellerTaxID, "seller-tax-id", "", "seller's VAT or tax ID on the tenant's invoices")
	if update {
		fl.BoolVar(&f.removeLogo, "remove-logo", false, "remove the logo")
		fl.BoolVar(&f.source, "source", false, "source mode: the tenant's account documents are fetched from its registered backend (GET <url>/accounts/{id}), cached in memory, never stored in etcd; --source=false turns it off")
		fl.DurationVar(&f.sourceTTL, "source-ttl", 0, fmt.Sprintf("source mode: how long a fetched document is served before it is revalidated (%v–%v, default %v)", tenants.MinSourceTTL, tenants.MaxSourceTTL, tenants.DefaultSourceTTL))
	}
}

// apply copies the flags that were given onto t.
func (f *tenantFlags) apply(cmd *cobra.Command, t *tenants.Tenant) error {
	ch := cmd.Flags().Changed
	if ch("slug") {
		t.Slug = f.slug
	}
	if ch("name") {
		t.Name = f.name
	}
	if ch("primary-color") {
		t.Branding.PrimaryColor = f.primary
	}
	if ch("accent-color") {
		t.Branding.AccentColor = f.accent
	}
	if ch("link-ttl") {
		t.LinkTTL = tenants.Duration(f.linkTTL)
	}
	if ch("session-ttl") {
		t.SessionTTL = tenants.Duration(f.sessionTTL)
	}
	if ch("cancel-mode") {
		t.Portal.CancelMode = f.cancelMode
	}
	if ch("payment-setup-url") {
		t.PaymentSetupURL = f.setupURL
	}
	if ch("frame-ancestor") {
		t.FrameAncestors = f.frameAncestors
	}
	if ch("require-2fa") {
		t.RequireTwoFactor = f.require2FA
	}
	if ch("email-sign-in") {
		t.EmailSignIn = f.emailSignIn
	}
	if ch("max-account-bytes") {
		t.MaxAccountBytes = f.maxAccountBytes
	}
	if ch("max-accounts") {
		t.MaxAccounts = f.maxAccounts
	}
	if ch("source") {
		t.Source.Enabled = f.source
	}
	if ch("source-ttl") {
		t.Source.TTL = tenants.Duration(f.sourceTTL)
		if f.sourceTTL == 0 {
			return fmt.Errorf("%w: --source-ttl must be %v–%v", tenants.ErrInvalidTenant, tenants.MinSourceTTL, tenants.MaxSourceTTL)
		}
	}
	if ch("seller-name") {
		t.Seller.LegalName = strings.TrimSpace(f.sellerName)
	}
	if ch("seller-tax-id") {
		t.Seller.TaxID = strings.TrimSpace(f.sellerTaxID)
	}
	if ch("seller-address") {
		ad, err := parseAddress(f.sellerAddress)
		if err != nil {
			return err
		}
		t.Seller.Address = ad
	}
	return nil
}

// addressKeys are the keys of --seller-address, with the field each sets.
var addressKeys = map[string]func(*account.Address) *string{
	"line1":       func(a *account.Address) *string { return &a.Line1 },
	"line2":       func(a *account.Address) *string { return &a.Line2 },
	"postal-code": func(a *account.Address) *string { return &a.PostalCode },
	"city":        func(a *account.Address) *string { return &a.City },
	"region":      func(a *account.Address) *string { return &a.Region },
	"country":     func(a *account.Address) *string { return &a.Country },
}

// parseAddress reads --seller-address: key=value pairs separated by commas, in CSV quoting (a
// pair whose value holds a comma is written in double quotes); "" is no address.
func parseAddress(s string) (account.Address, error) {
	var ad account.Address
	if strings.TrimSpace(s) == "" {
		return ad, nil
	}
	r := csv.NewReader(strings.NewReader(s))
	pairs, err := r.Read()
	if err != nil {
		return ad, fmt.Errorf("reading --seller-address: %w", err)
	}
	if _, err := r.Read(); err != io.EOF {
		return ad, fmt.Errorf("reading --seller-address: one line of key=value pairs expected")
	}
	seen := map[string]bool{}
	for _, pair := range pairs {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		field := addressKeys[k]
		switch {
		case !ok || field == nil:
			return ad, fmt.Errorf("reading --seller-address: %q is not key=value with a key of line1, line2, postal-code, city, region, country", pair)
		case seen[k]:
			return ad, fmt.Errorf("reading --seller-address: %s is given twice", k)
		}
		seen[k] = true
		*field(&ad) = strings.TrimSpace(v)
	}
	ad.Country = strings.ToUpper(ad.Country)
	return ad, nil
}

// sellerText is a tenant's seller on one line for tenant get: "none" when none is set.
func sellerText(s tenants.Seller) string {
	if s.IsZero() {
		return "none (invoices name the tenant)"
	}
	parts := []string{s.LegalName}
	if s.Address != (account.Address{}) {
		parts = append(parts, i18n.NewPrinter(i18n.English).AddressLines(s.Address.Postal())...)
	}
	if s.TaxID != "" {
		parts = append(parts, "tax ID "+s.TaxID)
	}
	return strings.Join(parts, ", ")
}

// readLogo reads and sniffs a logo file; only raster formats browsers show are accepted.
func readLogo(path string) (*tenants.LogoUpdate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading logo: %w", err)
	}
	if len(b) > tenants.MaxLogoBytes {
		return nil, fmt.Errorf("logo %s is %d bytes, the limit is %d", path, len(b), tenants.MaxLogoBytes)
	}
	ct := http.DetectContentType(b)
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return nil, fmt.Errorf("logo %s is %s; PNG, JPEG, GIF or WebP required", path, ct)
	}
	return &tenants.LogoUpdate{Data: b, ContentType: ct}, nil
}

func tenantCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Manage tenants"}
	var cf tenantFlags
	create := &cobra.Command{
		Use: "create", Short: "Create a tenant", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cf.slug == "" || cf.name == "" {
				return fmt.Errorf("--slug and --name are required")
			}
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t := &tenants.Tenant{Portal: tenants.DefaultPortal()}
				if err := cf.apply(cmd, t); err != nil {
					return err
				}
				var logo *tenants.LogoUpdate
				if cf.logo != "" {
					var err error
					if logo, err = readLogo(cf.logo); err != nil {
						return err
					}
				}
				t, err := s.CreateTenant(ctx, t)
				if err != nil {
					return err
				}
				if logo != nil {
					if t, err = s.UpdateTenant(ctx, t.ID, func(*tenants.Tenant) error { return nil }, logo); err != nil {
						return err
					}
				}
				g.print(t, fmt.Sprintf("created tenant %s (%s)\n", t.Slug, t.ID))
				return nil
			})
		},
	}
	cf.register(create, false)

	var uf tenantFlags
	update := &cobra.Command{
		Use: "update SLUG", Short: "Change a tenant's name, slug, colours, logo, lifetimes, storage quota, seller or source mode", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				var logo *tenants.LogoUpdate
				switch {
				case uf.removeLogo:
					logo = &tenants.LogoUpdate{Remove: true}
				case uf.logo != "":
					var err error
					if logo, err = readLogo(uf.logo); err != nil {
						return err
					}
				}
				t, err := s.UpdateTenant(ctx, args[0], func(t *tenants.Tenant) error { return uf.apply(cmd, t) }, logo)
				if errors.Is(err, tenants.ErrSourceNeedsBackend) {
					return fmt.Errorf("%w (PUT /v1/backend, or the dashboard's Settings → Backend)", err)
				}
				if err != nil {
					return err
				}
				g.print(t, fmt.Sprintf("updated tenant %s (%s)\n", t.Slug, t.ID))
				return nil
			})
		},
	}
	uf.register(update, true)

	get := &cobra.Command{
		Use: "get SLUG", Short: "Show a tenant", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, args[0])
				if err != nil {
					return err
				}
				u, err := s.Usage(ctx, t.ID)
				if err != nil {
					return err
				}
				g.print(struct {
					*tenants.Tenant
					Usage tenants.Usage `json:"usage"`
				}{t, u}, fmt.Sprintf("id:          %s\nslug:        %s\nname:        %s\ncolours:     primary %s, accent %s\nlogo:        %s\nlink TTL:    %v\nsession TTL: %v\naccounts:    %d of %d\nbytes:       %d of %d\nseller:      %s\ncreated:     %s\n",
					t.ID, t.Slug, t.Name, t.Branding.PrimaryColor, t.Branding.AccentColor, orNone(t.Branding.LogoType),
					t.LinkTTL.D(), t.SessionTTL.D(), u.Accounts, t.AccountLimit(), u.Bytes, t.AccountByteLimit(), sellerText(t.Seller), t.CreatedAt.Format(time.RFC3339)))
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List tenants", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				ts := s.Tenants()
				var b strings.Builder
				w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "SLUG\tID\tNAME")
				for _, t := range ts {
					fmt.Fprintf(w, "%s\t%s\t%s\n", t.Slug, t.ID, t.Name)
				}
				w.Flush()
				if ts == nil {
					ts = []*tenants.Tenant{}
				}
				g.print(ts, b.String())
				return nil
			})
		},
	}
	del := &cobra.Command{
		Use: "delete SLUG", Short: "Delete a tenant and all its data", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				if err := s.DeleteTenant(ctx, args[0]); err != nil {
					return err
				}
				g.print(map[string]string{"deleted": args[0]}, fmt.Sprintf("deleted tenant %s\n", args[0]))
				return nil
			})
		},
	}
	cmd.AddCommand(create, update, get, list, del)
	return cmd
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
