package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"text/template"
	"time"

	"github.com/portico-billing/portico/catalog"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/spf13/cobra"
)

// The demo accounts are templates: every date in them is written relative to the month the demo
// is seeded in (see demoDates), so the demo tells the same story on any day.
//
//go:embed demodata/*.json.tmpl
var demoData embed.FS

// demoTemplates are the demo account documents, Globex first.
var demoTemplates = template.Must(template.New("demo").Funcs(template.FuncMap{
	"first": func(int) string { return "" }, "last": func(int) string { return "" },
	"month": func(int) string { return "" }, "year": func(int) int { return 0 },
	"daily": func(int, int, int) string { return "" },
}).ParseFS(demoData, "demodata/*.json.tmpl"))

// demoAccountFiles are the demo accounts in the order they are seeded.
var demoAccountFiles = []string{"globex.json.tmpl", "initech.json.tmpl"}

// demoDates are the template functions of the demo accounts as of now (a UTC calendar day), each
// taking a number of months from now's month: first and last give the first and last day of that
// month as YYYY-MM-DD, month its English name and year ("Oct 2026"), year now's year plus n
// (card expiry years); daily gives a meter's daily series (see demoDaily). The story they tell
// on any day: the current billing periods contain
// today and the next charge is after it; Globex has an invoice due last month (overdue), one
// issued this month and due on the 1st of next month (open), a paid one and next month's draft;
// Initech's open invoice is due on the last day of this month.
func demoDates(now time.Time) template.FuncMap {
	y, m, _ := now.UTC().Date()
	start := func(n int) time.Time { return time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC) }
	return template.FuncMap{
		"first": func(n int) string { return start(n).Format(time.DateOnly) },
		"last":  func(n int) string { return start(n+1).AddDate(0, 0, -1).Format(time.DateOnly) },
		"month": func(n int) string { return start(n).Format("Jan 2006") },
		"year":  func(n int) int { return y + n },
		"daily": func(from, to, years int) string {
			return demoDaily(start(from), start(to+1).AddDate(0, 0, -1), now.UTC(), years)
		},
	}
}

// demoDaily is a daily usage series as JSON, from the day first to last shifted by years (-1:
// the same days of the previous year) and not after today: weekdays of 20,000 to 28,000 calls,
// weekends half that, 85 % of it a year ago, at most MaxDaily days (two months): never more than the 1,800,000 of
// the meter's usage to date.
func demoDaily(first, last, today time.Time, years int) string {
	var b strings.Builder
	b.WriteByte('[')
	first, last = first.AddDate(years, 0, 0), last.AddDate(years, 0, 0)
	if today = today.Truncate(24 * time.Hour); years == 0 && last.After(today) {
		last = today
	}
	for i, d := 0, first; !d.After(last) && i < account.MaxDaily; i, d = i+1, d.AddDate(0, 0, 1) {
		q := 20000 + (d.YearDay()*7919)%8000
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			q /= 2
		}
		if years != 0 {
			q = q * 85 / 100 // a year ago the customer used less
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"date":%q,"quantity":%d}`, d.Format(time.DateOnly), q)
	}
	b.WriteByte(']')
	return b.String()
}

// demoAccounts renders the demo accounts with their dates relative to now.
func demoAccounts(now time.Time) ([]*account.Account, error) {
	tmpl, err := demoTemplates.Clone()
	if err != nil {
		return nil, err
	}
	tmpl.Funcs(demoDates(now))
	var out []*account.Account
	for _, f := range demoAccountFiles {
		var b bytes.Buffer
		if err := tmpl.ExecuteTemplate(&b, f, nil); err != nil {
			return nil, fmt.Errorf("rendering demo account %s: %w", f, err)
		}
		a, err := account.Decode(b.Bytes())
		if err != nil {
			return nil, fmt.Errorf("demo account %s: %w", f, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Demo tenant settings.
const (
	demoSlug    = "demo"
	demoName    = "Acme Cloud"
	demoKeyName = "demo"
)

// demoSeller is who issues the demo tenant's invoices: a German company, as the 19 % VAT on its
// German customer's invoices suggests.
var demoSeller = tenants.Seller{
	LegalName: "Acme Cloud GmbH",
	Address:   account.Address{Line1: "Torstraße 49", PostalCode: "10119", City: "Berlin", Country: "DE"},
	TaxID:     "DE312456789",
}

func demoCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Seed the demo tenant (idempotent) and print a portal link and a new API key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				urls, err := publicURLs(ctx, s)
				if err != nil {
					return err
				}
				return seedDemo(ctx, g, s, urls, true, time.Now())
			})
		},
	}
}

// demoLogo draws the demo tenant's logo: a rounded mark in the brand colours.
func demoLogo() []byte {
	const n = 96
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	primary := color.NRGBA{0x0f, 0x3d, 0x91, 0xff}
	accent := color.NRGBA{0x14, 0xb8, 0xa6, 0xff}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			dx, dy := x-n/2, y-n/2
			switch d := dx*dx + dy*dy; {
			case d < 18*18:
				img.Set(x, y, accent)
			case d < 46*46:
				img.Set(x, y, primary)
			}
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// Demo dashboard admin.
const demoAdmin = "admin@acme-cloud.example"

// seedDemo creates or refreshes the demo tenant and its two accounts, replaces the demo API key,
// sets a new password for the demo dashboard admin, and prints a portal link, the key and the
// dashboard sign-in. The accounts' dates are relative to now, the day of seeding.
func seedDemo(ctx context.Context, g *globals, s *tenants.Store, urls links.URLs, admin bool, now time.Time) error {
	t, err := s.Tenant(ctx, demoSlug)
	if errors.Is(err, tenants.ErrTenantNotFound) {
		portal := tenants.DefaultPortal()
		portal.AllowTeamManagement = true
		t, err = s.CreateTenant(ctx, &tenants.Tenant{Slug: demoSlug, Name: demoName, Portal: portal, EmailSignIn: true})
	}
	if err != nil {
		return fmt.Errorf("creating the demo tenant: %w", err)
	}
	t, err = s.UpdateTenant(ctx, t.ID, func(t *tenants.Tenant) error {
		t.Name = demoName
		t.Branding.PrimaryColor, t.Branding.AccentColor = "#0f3d91", "#0d8a7d"
		// Team management is on for the demo, also for one seeded before teams existed.
		t.Portal.AllowTeamManagement = true
		if t.Seller.IsZero() { // one the admin set is kept
			t.Seller = demoSeller
		}
		return nil
	}, &tenants.LogoUpdate{Data: demoLogo(), ContentType: "image/png"})
	if err != nil {
		return fmt.Errorf("branding the demo tenant: %w", err)
	}
	if err := seedDemoCatalog(ctx, s, t.ID); err != nil {
		return err
	}
	accounts, err := demoAccounts(now)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if _, _, err := s.PutAccount(ctx, t.ID, a, 0); err != nil {
			return fmt.Errorf("storing demo account %s: %w", a.ID, err)
		}
	}
	keys, err := s.APIKeys(ctx, t.ID)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Name == demoKeyName {
			if err := s.RevokeAPIKey(ctx, t.ID, k.ID); err != nil {
				return err
			}
		}
	}
	_, key, err := s.CreateAPIKey(ctx, t.ID, demoKeyName)
	if err != nil {
		return err
	}
	password := tenants.GeneratePassword()
	if admin {
		_, err := s.CreateAdmin(ctx, t.ID, demoAdmin, password)
		if errors.Is(err, tenants.ErrAdminExists) {
			err = s.SetAdminPassword(ctx, t.ID, demoAdmin, password, time.Now())
		}
		if err != nil {
			return fmt.Errorf("seeding the demo admin: %w", err)
		}
	}
	iss := &links.Issuer{Store: s, URLs: urls}
	// The printed link opens in English, as the README shows the portal; Globex's own language
	// (German) is one curl away, printed second.
	res, _, err := iss.Create(ctx, t, &links.Request{AccountAlias: "crm-001234", Locale: "en"}, links.Options{CreatedBy: "demo"})
	if err != nil {
		return fmt.Errorf("creating the demo link: %w", err)
	}
	api := urls.API()
	g.print(map[string]any{"tenant": t.Slug, "portalLink": res.SessionURL, "expiresAt": res.ExpiresAt, "apiKey": key, "api": api,
		"dashboard": urls.Dashboard(), "admin": demoAdmin, "password": password},
		fmt.Sprintf(`
Demo tenant %q (%s) is ready.

  Portal link for Globex Corporation, in English (single use, valid until %s):
    %s

  API key (shown once; a new one replaces it on every start):
    %s

  Dashboard (workspace %q, sign in as %s, password shown once):
    %s/login
    %s

  Create another link: Globex in its own language, German (for the second demo account,
  Initech LLC in US English, use "crm-004711"):
    curl -s -X POST %s/portal/customer-session/customer-portal \
      -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
      -d '{"accountAlias":"crm-001234"}'

`, t.Name, t.Slug, res.ExpiresAt.Local().Format("15:04 MST"), res.SessionURL, key, t.Slug, demoAdmin, urls.Dashboard(), password, api, key))
	return nil
}

// demoPlans are the demo's catalog: Starter, Team and Business monthly in EUR in one family,
// seats per unit on Team (1–50) and Business (5–200); Globex's Team subscription is on Team.
func demoPlans() []*catalog.Plan {
	amt := func(n int64) *int64 { return &n }
	flat := func(product string, n int64) catalog.Item {
		return catalog.Item{Item: account.Item{Product: product, PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: amt(n)}}
	}
	seats := func(q, unit, lo, hi int64) catalog.Item {
		return catalog.Item{Item: account.Item{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: q, UnitAmount: amt(unit)}, MinQuantity: amt(lo), MaxQuantity: amt(hi)}
	}
	plan := func(id, name, desc string, features []string, items ...catalog.Item) *catalog.Plan {
		return &catalog.Plan{ID: id, Name: name, Description: desc, Features: features, Currency: "EUR", Interval: catalog.IntervalMonth, Family: "team", Items: items}
	}
	return []*catalog.Plan{
		plan("starter", "Starter", "For one person getting started.", []string{"1 project", "Community support"}, flat("Starter", 1900)),
		plan("team", "Team", "For small teams.", []string{"10 projects", "Email support", "Seats at €9.00 each"}, flat("Team", 4900), seats(5, 900, 1, 50)),
		plan("business", "Business", "For growing companies.", []string{"Unlimited projects", "Priority support", "Single sign-on", "Seats at €7.00 each"},
			flat("Business", 14900), seats(10, 700, 5, 200)),
	}
}

// seedDemoCatalog stores the demo's plans and its change policy: upgrades now (prorated),
// downgrades at the end of the period, seats now, pauses and the retention offer of demoPolicy.
func seedDemoCatalog(ctx context.Context, s *tenants.Store, tenantID string) error {
	for _, p := range demoPlans() {
		if _, _, err := s.PutPlan(ctx, tenantID, p, 0); err != nil {
			return fmt.Errorf("storing demo plan %s: %w", p.ID, err)
		}
	}
	po := demoPolicy
	po.Upgrades, po.Downgrades, po.Seats = catalog.Now, catalog.PeriodEnd, catalog.Now
	if _, err := s.PutPlanPolicy(ctx, tenantID, &po, 0); err != nil {
		return fmt.Errorf("storing the demo change policy: %w", err)
	}
	return nil
}
