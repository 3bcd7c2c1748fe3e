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
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/spf13/cobra"
)

//go:embed demodata/*.json
var demoData embed.FS

// Demo tenant settings.
const (
	demoSlug    = "demo"
	demoName    = "Acme Cloud"
	demoKeyName = "demo"
)

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
				return seedDemo(ctx, g, s, urls, true)
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
// dashboard sign-in.
func seedDemo(ctx context.Context, g *globals, s *tenants.Store, urls links.URLs, admin bool) error {
	t, err := s.Tenant(ctx, demoSlug)
	if errors.Is(err, tenants.ErrTenantNotFound) {
		t, err = s.CreateTenant(ctx, &tenants.Tenant{Slug: demoSlug, Name: demoName, Portal: tenants.DefaultPortal()})
	}
	if err != nil {
		return fmt.Errorf("creating the demo tenant: %w", err)
	}
	t, err = s.UpdateTenant(ctx, t.ID, func(t *tenants.Tenant) error {
		t.Name = demoName
		t.Branding.PrimaryColor, t.Branding.AccentColor = "#0f3d91", "#0d8a7d"
		return nil
	}, &tenants.LogoUpdate{Data: demoLogo(), ContentType: "image/png"})
	if err != nil {
		return fmt.Errorf("branding the demo tenant: %w", err)
	}
	for _, f := range []string{"demodata/globex.json", "demodata/initech.json"} {
		b, _ := demoData.ReadFile(f)
		a, err := account.Decode(b)
		if err != nil {
			return fmt.Errorf("demo account %s: %w", f, err)
		}
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
