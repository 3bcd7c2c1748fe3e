package dashboard_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/valyala/fasthttp"

	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// browserEnv is a dashboard and a portal served over real loopback TCP in development mode (plain
// HTTP, cookies without __Host-/Secure, which browsers drop on http://), for a headless Chromium:
// *.localhost names resolve to the loopback address in Chromium.
type browserEnv struct {
	*browsertest.Browser
	h       *harness
	port    int
	dashURL string
	ctx     context.Context
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	const base = "portal.localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	h := &harness{t: t, logs: &syncbuf.Buffer{}}
	h.log = slog.New(slog.NewTextHandler(h.logs, nil))
	s, err := tenants.Open(context.Background(), tenants.Config{RequestTimeout: testwait.Patience, Client: dashboard.EtcdForTest().Client(t), Prefix: etcdtest.Prefix(t), Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSealKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.store = s
	h.gw, err = gateway.New(gateway.Config{Store: s, BaseDomain: base, PublicScheme: "http", PublicPort: port, Dev: true, Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	h.smtp = mailtest.Start(t, mailtest.Options{})
	sender, err := mail.New(mail.Config{Addr: h.smtp.Addr, TLS: mail.TLSNone, From: "Portico <portal@portico.test>"})
	if err != nil {
		t.Fatal(err)
	}
	h.dash, err = dashboard.New(dashboard.Config{Store: s, Issuer: h.gw.Issuer(), Mail: sender, Dev: true, PublicScheme: "http", Logger: h.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.dash.Close)
	server := h.gw.Server()
	server.Handler = func(ctx *fasthttp.RequestCtx) {
		host, _, _ := strings.Cut(string(ctx.Host()), ":")
		if strings.EqualFold(host, "dashboard."+base) {
			h.dash.Handler(ctx)
			return
		}
		h.gw.Handler(ctx)
	}
	go server.Serve(ln)
	t.Cleanup(func() { server.Shutdown() })
	h.acme = h.tenant("acme", "Acme Cloud")
	h.putAccount(h.acme, func(*account.Account) {})
	if _, err := s.CreateAdmin(context.Background(), h.acme.ID, "ops@acme.example", password); err != nil {
		t.Fatal(err)
	}

	br := browsertest.Start(t)
	return &browserEnv{Browser: br, h: h, port: port, ctx: br.Ctx(), dashURL: "http://dashboard." + base + ":" + strconv.Itoa(port)}
}

// imageWidth waits until the image loaded and returns its natural width.
func (e *browserEnv) imageWidth(sel string) int {
	e.h.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, testwait.Patience)
	defer cancel()
	w, err := chromedp.Run(ctx, chromedp.PollFunction[int](`(sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth }`,
		chromedp.WithPollingArgs(sel), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		e.h.t.Fatalf("waiting for the image %s to load: %v", sel, err)
	}
	return w
}

func (e *browserEnv) signIn() {
	e.h.t.Helper()
	e.Do(
		chromedp.Navigate(e.dashURL+"/login"),
		chromedp.WaitVisible(chromedp.ID("tenant")),
		chromedp.SendKeys(chromedp.ID("tenant"), "acme"),
		chromedp.SendKeys(chromedp.ID("email"), "ops@acme.example"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("q")),
	)
}

func TestBrowserSendPortalLink(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)
	e.signIn()
	e.Do(
		chromedp.SendKeys(chromedp.ID("q"), "globex"),
		chromedp.Submit(chromedp.ID("q")),
		// The results page: its search field holds the query (the page before has the same link).
		chromedp.WaitVisible(chromedp.CSS(`input#q[value="globex"]`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/customers/acc_7Hq2LmX9"]`)),
	)
	if got := e.Text(".result-count"); !strings.Contains(got, "1 customer matches") {
		t.Fatalf("search result: %q", got)
	}
	e.Do(
		chromedp.Click(chromedp.CSS(`a[href="/customers/acc_7Hq2LmX9"]`)),
		chromedp.WaitVisible(chromedp.ID("send-link")),
		chromedp.Click(chromedp.ID("send-link")),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	if got := e.Text(".alert-ok"); !strings.Contains(got, "Portal link sent to billing@globex.example") {
		t.Fatalf("after Send Portal Link: %q", got)
	}
	e.Screenshot("dashboard-tests/dashboard-send-portal-link.png")

	p, err := mailtest.Parse(e.h.smtp.Next(t).Data)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`http://acme\.portal\.localhost:\d+/s/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	if link == "" {
		t.Fatalf("no link in the email:\n%s", p.Text)
	}
	// The emailed link shows its Continue page; its button opens the portal.
	e.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".page-title")))
	loc, _ := chromedp.Run(e.ctx, chromedp.Location())
	if want := "http://acme.portal.localhost:" + strconv.Itoa(e.port) + "/"; loc != want {
		t.Fatalf("landed on %s, want %s", loc, want)
	}
	if title, sub := e.Text(".page-title"), e.Text(".page-sub"); title != "Abrechnung" || sub != "Globex Corporation" { // the account's locale is de-DE
		t.Fatalf("portal page: %q %q", title, sub)
	}
	e.Screenshot("dashboard-tests/portal-from-emailed-link.png")
}

func TestBrowserLogoUpload(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, pngImage(160, 48), 0o644); err != nil {
		t.Fatal(err)
	}
	e.signIn()
	e.Do(
		chromedp.Navigate(e.dashURL+"/settings/branding"),
		chromedp.WaitVisible(chromedp.ID("logo")),
		chromedp.SetUploadFiles(chromedp.ID("logo"), []string{logo}),
		chromedp.SetValue(chromedp.ID("accent_color"), "#0f766e"),
		chromedp.Click(chromedp.ID("save-branding")),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
		chromedp.WaitVisible(chromedp.CSS(".preview img.logo")),
	)
	if got := e.Text(".alert-ok"); !strings.Contains(got, "Branding saved") {
		t.Fatalf("after saving: %q", got)
	}
	if w := e.imageWidth(".preview img.logo"); w != 160 {
		t.Fatalf("the preview's logo is not shown: width %d", w)
	}
	e.Screenshot("dashboard-tests/dashboard-branding.png")
	tn := e.h.tenantNow(e.h.acme.ID)
	if tn.Branding.LogoType != "image/png" || tn.Branding.AccentColor != "#0f766e" {
		t.Fatalf("stored %+v", tn.Branding)
	}

	// The portal shows the new logo.
	etcdtest.Wait(t, "the portal sees the logo", func() bool {
		c, _ := e.h.store.TenantByID(tn.ID)
		return c.Branding.LogoETag == tn.Branding.LogoETag
	})
	res, _, err := e.h.gw.Issuer().Create(context.Background(), tn, &links.Request{AccountID: "acc_7Hq2LmX9"}, links.Options{CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	e.Do(chromedp.Navigate(res.SessionURL), chromedp.WaitVisible(chromedp.CSS("header img.logo")))
	if w := e.imageWidth("header img.logo"); w != 160 {
		t.Fatalf("the portal's logo did not load: width %d", w)
	}
	src, _ := chromedp.Run(e.ctx, chromedp.Evaluate[string](`document.querySelector("header img.logo").getAttribute("src")`))
	if src != "/assets/logo?v="+tn.Branding.LogoETag {
		t.Fatalf("portal logo src %q", src)
	}
	e.Screenshot("dashboard-tests/portal-with-new-logo.png")
}

// TestBrowserBrandingPreviewMatchesPortal: the branding page's preview paints what it shows as
// the portal paints it — the tenant's name and header, the page and card titles, the amount, the
// outlined "Edit billing details" button and the accent-coloured link — compared by computed
// style in Chromium, for colours the portal darkens and with titles in the accent colour.
func TestBrowserBrandingPreviewMatchesPortal(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)
	e.signIn()
	// Each element: the preview's selector, the portal's, and the properties that must agree.
	colours := []string{"color", "background-color", "border-top-color", "border-top-style", "border-top-width", "font-weight", "text-decoration-line"}
	box := append([]string{"font-size", "border-radius", "padding-top", "padding-left", "min-height"}, colours...)
	elements := []struct {
		name, preview, portal string
		props                 []string
	}{
		{"header", ".preview .topbar", "header.topbar", []string{"border-top-color", "border-top-width", "background-color"}},
		{"tenant name", ".preview .brand-name", "header .brand-name", append([]string{"font-size"}, colours...)},
		{"page title", ".preview .page-title", "main .page-title", append([]string{"font-size"}, colours...)},
		{"card title", ".preview .card-title", "main .section .card-title", append([]string{"font-size"}, colours...)},
		{"amount", ".preview .fact-amount", "main .fact-amount", append([]string{"font-size"}, colours...)},
		{"Edit billing details", ".preview .actions .button", `main a.button[href$="/billing/edit"]`, box},
		{"Download invoice", ".preview .actions .link", "main a.link[download]", colours},
	}
	styles := func(pick func(el struct {
		name, preview, portal string
		props                 []string
	}) string) map[string]map[string]string {
		t.Helper()
		out := map[string]map[string]string{}
		for _, el := range elements {
			got, err := chromedp.Run(e.ctx, chromedp.Evaluate[map[string]string](`((sel, props) => { const e = document.querySelector(sel); if (!e) return null;
				const s = getComputedStyle(e); return Object.fromEntries(props.map(p => [p, s.getPropertyValue(p)])); })(`+
				strconv.Quote(pick(el))+`, `+jsonList(el.props)+`)`))
			if err != nil || got == nil {
				t.Fatalf("%s: no %s (%v)", el.name, pick(el), err)
			}
			out[el.name] = got
		}
		return out
	}
	for _, c := range []struct {
		primary, accent string
		accentTitles    bool
	}{
		{"#ffeb3b", "#14b8a6", false}, // both darkened for text; dark text on the button
		{"#ffeb3b", "#0f766e", true},  // titles in the accent
		{"#1f2937", "#4f46e5", false}, // the defaults
	} {
		e.Do(
			chromedp.Navigate(e.dashURL+"/settings/branding"),
			chromedp.WaitVisible(chromedp.ID("save-branding")),
			chromedp.SetValue(chromedp.ID("primary_color"), c.primary),
			chromedp.SetValue(chromedp.ID("accent_color"), c.accent),
			chromedp.Evaluate[chromedp.Void](`document.querySelector("input[name=accent_titles]").checked = `+strconv.FormatBool(c.accentTitles)),
			chromedp.Click(chromedp.ID("save-branding")),
			chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
		)
		preview := styles(func(el struct {
			name, preview, portal string
			props                 []string
		}) string {
			return el.preview
		})
		tn := e.h.tenantNow(e.h.acme.ID)
		if tn.Branding.AccentColor != c.accent || tn.Branding.AccentTitles != c.accentTitles {
			t.Fatalf("stored %+v", tn.Branding)
		}
		etcdtest.Wait(t, "the portal sees the branding", func() bool {
			p, _ := e.h.store.TenantByID(tn.ID)
			return p.Revision >= tn.Revision
		})
		res, _, err := e.h.gw.Issuer().Create(context.Background(), tn, &links.Request{AccountID: "acc_7Hq2LmX9", Locale: "en"}, links.Options{CreatedBy: "test"})
		if err != nil {
			t.Fatal(err)
		}
		e.Do(chromedp.Navigate(res.SessionURL), chromedp.WaitVisible(chromedp.CSS("main .page-title")))
		portal := styles(func(el struct {
			name, preview, portal string
			props                 []string
		}) string {
			return el.portal
		})
		for _, el := range elements {
			for _, p := range el.props {
				if preview[el.name][p] != portal[el.name][p] {
					t.Errorf("%s %s, accent titles %v: %s has %s %q in the preview, %q in the portal",
						c.primary, c.accent, c.accentTitles, el.name, p, preview[el.name][p], portal[el.name][p])
				}
			}
		}
	}
}

// jsonList writes strings as a JavaScript array literal.
func jsonList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestBrowserSellerForm fills in the seller form as an admin would: a missing city is refused
// next to the field with what was typed kept, then the seller is saved.
func TestBrowserSellerForm(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)
	e.signIn()
	e.Do(
		chromedp.Navigate(e.dashURL+"/settings/portal#seller"),
		chromedp.WaitVisible(chromedp.ID("legal_name")),
		chromedp.SendKeys(chromedp.ID("legal_name"), "Acme Cloud GmbH"),
		chromedp.SendKeys(chromedp.ID("address_line1"), "Torstraße 49"),
		chromedp.SendKeys(chromedp.ID("postal_code"), "10119"),
		chromedp.SetValue(chromedp.ID("country"), "DE"),
		chromedp.SendKeys(chromedp.ID("tax_id"), "DE312456789"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/seller"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#seller .has-error`)),
	)
	if got := e.Text(`#seller .has-error`); !strings.Contains(got, "An address needs this") || !strings.Contains(got, "City") {
		t.Fatalf("the refused form marks %q", got)
	}
	// The problem is summed up at the seller form, far down the page, which the focused summary
	// brings into view; its link leads to the field.
	if got := browsertest.Eval[string](e.Browser, `(() => { const a = document.activeElement, r = a.getBoundingClientRect();
		return [a.matches("#seller .error-summary"), r.top >= 0 && r.bottom <= innerHeight, a.querySelector("a") && a.querySelector("a").getAttribute("href"), a.innerText.includes("An address needs this")].join("|") })()`); got != "true|true|#city|true" {
		t.Errorf("the focused element after the refusal (in the seller form | in view | its link | the message): %s", got)
	}
	if got := browsertest.Eval[string](e.Browser, `document.getElementById("legal_name").value + "|" + document.getElementById("country").value`); got != "Acme Cloud GmbH|DE" {
		t.Fatalf("the refused form lost what was typed: %q", got)
	}
	// The field in error is outlined in red; the others are not.
	if got := browsertest.Eval[string](e.Browser, `getComputedStyle(document.getElementById("city")).borderColor + "|" + getComputedStyle(document.getElementById("postal_code")).borderColor`); got != "rgb(185, 28, 28)|rgb(156, 163, 175)" {
		t.Errorf("border colours of the city (in error) and the postal code: %s", got)
	}
	e.Screenshot("dashboard-tests/dashboard-seller-refused.png")
	e.Do(
		chromedp.SendKeys(chromedp.ID("city"), "Berlin"),
		chromedp.Click(chromedp.CSS(`form[action="/settings/seller"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	if got := e.Text(".alert-ok"); !strings.Contains(got, "Seller saved") {
		t.Fatalf("after saving: %q", got)
	}
	if tn := e.h.tenantNow(e.h.acme.ID); tn.Seller != berlinSeller {
		t.Fatalf("stored seller %+v", tn.Seller)
	}
	e.Viewport(360)
	e.Screenshot("dashboard-tests/dashboard-seller-360.png")
}

// TestBrowserPlansPage: Settings → Plans with a catalog, at 1280 and 360 px, axe-core clean; a
// refused policy focuses the shared error summary, whose link leads to the field, and keeps what
// was typed; the corrected form saves.
func TestBrowserPlansPage(t *testing.T) {
	t.Parallel()
	e := newBrowserEnv(t)
	e.h.putPlan(e.h.acme, "team-monthly", "Team", "team", "EUR", "month", 0, 4900, false)
	e.h.putPlan(e.h.acme, "team-yearly", "Team yearly", "team", "EUR", "year", 0, 49000, false)
	e.h.putPlan(e.h.acme, "starter-2019", "Starter (2019)", "", "EUR", "month", 0, 900, true)
	e.signIn()
	e.Do(
		chromedp.Navigate(e.dashURL+"/settings/plans"),
		chromedp.WaitVisible(chromedp.ID("policy")),
		chromedp.Click(chromedp.CSS(`input[name="upgrades"][value="now"]`)),
		chromedp.Click(chromedp.CSS(`input[name="pause"]`)),
		chromedp.SetValue(chromedp.ID("pause_max"), "3"),
		chromedp.SendKeys(chromedp.ID("offer_pricing_percent"), "150"),
		chromedp.SendKeys(chromedp.ID("offer_pricing_periods"), "2"),
		chromedp.SetAttributeValue(chromedp.ID("offer_pricing_percent"), "max", "1000"), // past the browser's own check, to the server's
		chromedp.Click(chromedp.CSS(`#policy button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#policy .error-summary`)),
	)
	if got := browsertest.Eval[string](e.Browser, `(() => { const a = document.activeElement;
		return [a.matches(".error-summary"), a.querySelector("a").getAttribute("href"), document.getElementById("offer_pricing_percent").value, document.querySelector('input[name="upgrades"][value="now"]').checked].join("|") })()`); got != "true|#offer_pricing_percent|150|true" {
		t.Errorf("after the refusal (summary focused | its link | the typed percent | the chosen timing): %s", got)
	}
	e.CheckA11y("plans page with a refused policy")
	e.Screenshot("dashboard-tests/dashboard-plans-refused.png")
	e.Do(
		chromedp.SetValue(chromedp.ID("offer_pricing_percent"), "50"),
		chromedp.Click(chromedp.CSS(`#policy button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert-ok")),
	)
	if p := e.h.catalogNow(e.h.acme).Policy; p.Upgrades != "now" || !p.Pause || p.PauseMaxPeriods != 3 || len(p.Offers) != 1 || p.Offers[0].PercentOff != 50 {
		t.Fatalf("stored policy %+v", p)
	}
	e.CheckA11y("plans page")
	e.Screenshot("dashboard-tests/dashboard-plans-1280.png")
	e.Viewport(360)
	if w := browsertest.Eval[int](e.Browser, `document.documentElement.scrollWidth`); w > 360 {
		t.Errorf("the plans page is %d px wide at 360 px", w)
	}
	e.CheckA11y("plans page at 360 px")
	e.Screenshot("dashboard-tests/dashboard-plans-360.png")
}
