package gateway

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"strconv"
	"time"

	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/gateway/invoicedoc"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

var (
	//go:embed web/layout.html
	layoutHTML string
	//go:embed web/portal.css
	portalOnlyCSS []byte
	// portalCSS is the stylesheet of every portal page, the invoice page's rules included.
	portalCSS = append(append(append([]byte{}, portalOnlyCSS...), '\n'), invoicedoc.CSS...)

	layout     = template.Must(template.New("layout").Parse(layoutHTML))
	cssVersion = func() string { s := sha256.Sum256(portalCSS); return hex.EncodeToString(s[:6]) }()
)

// chrome is what the layout needs to frame a page.
type chrome struct {
	Lang, Title, Subtitle, TenantName string
	CSSVersion, ThemeVersion, LogoURL string
	SignOut                           bool
	NoHeading                         bool // the body brings its own heading
	NoReferrer                        bool // the page's URL holds a link token
	CSRFInput                         template.HTML
	Message                           string
	Body                              template.HTML
}

func newChrome(t *tenants.Tenant, lang, title string) *chrome {
	c := &chrome{Lang: lang, Title: title, TenantName: "Portico", CSSVersion: cssVersion}
	if t != nil {
		c.TenantName = t.Name
		c.ThemeVersion = strconv.FormatInt(t.Revision, 36)
		if t.Branding.LogoETag != "" {
			c.LogoURL = "/assets/logo?v=" + t.Branding.LogoETag
		}
	}
	return c
}

// page is one rendered customer page. It is the same for every session with the same settings,
// except for the session's CSRF token, which is written between its parts.
type page struct {
	parts [][]byte
}

// pageSet is the rendered pages of one account revision, by settings, locale and tenant revision.
// It is immutable: adding a page replaces the set in the snapshot's memo.
type pageSet struct {
	entries []pageEntry
}

type pageEntry struct {
	settings  uint8
	locale    string
	tenantRev int64
	day       int64 // sections show states relative to today (overdue), so pages expire daily
	page      *page
}

// maxPagesPerAccount bounds the variants kept for one account revision.
const maxPagesPerAccount = 8

const memoPages = 0 // AccountSnapshot.Memo slot of the pageSet

// cachedPage returns the page for the session if it was rendered for this account revision,
// settings, locale, tenant revision and day. It does not allocate.
func cachedPage(snap *tenants.AccountSnapshot, t *tenants.Tenant, s *session.Session, day int64) *page {
	ps, _ := snap.Memo[memoPages].Load().(*pageSet)
	if ps == nil {
		return nil
	}
	for i := range ps.entries {
		e := &ps.entries[i]
		if e.settings == s.Settings && e.tenantRev == t.Revision && e.day == day && e.locale == string(s.Locale) {
			return e.page
		}
	}
	return nil
}

// storePage remembers p in the snapshot's memo. Concurrent renders of the same page may both
// store; either result is the same page.
func storePage(snap *tenants.AccountSnapshot, t *tenants.Tenant, s *session.Session, day int64, p *page) {
	old, _ := snap.Memo[memoPages].Load().(*pageSet)
	next := &pageSet{}
	if old != nil {
		next.entries = append(next.entries, old.entries...)
		if len(next.entries) >= maxPagesPerAccount {
			next.entries = next.entries[1:]
		}
	}
	next.entries = append(next.entries, pageEntry{settings: s.Settings, locale: string(s.Locale), tenantRev: t.Revision, day: day, page: p})
	snap.Memo[memoPages].Store(next)
}

// sectionEnabled maps the compiled-in sections to the session's show bits; other sections show.
func sectionEnabled(name string, bits uint8) bool {
	switch name {
	case "plan_overview":
		return bits&session.ShowPlanOverview != 0
	case "invoices":
		return bits&session.ShowInvoices != 0
	case "billing_details":
		return bits&session.ShowBillingDetails != 0
	}
	return true
}

// resolveLocale picks the session's locale, else the account's, else the tenant's, else English.
func resolveLocale(sessionLocale string, snap *tenants.AccountSnapshot, t *tenants.Tenant) string {
	switch {
	case sessionLocale != "":
		return sessionLocale
	case snap.Account.Locale != "":
		return snap.Account.Locale
	case t.DefaultLocale != "":
		return t.DefaultLocale
	}
	return "en"
}

// renderPage renders the customer page for a session's settings and locale.
func (g *Gateway) renderPage(t *tenants.Tenant, snap *tenants.AccountSnapshot, s *session.Session, now time.Time) (*page, error) {
	locale := resolveLocale(string(s.Locale), snap, t)
	v := &plugins.View{
		Account:    snap.Account,
		Locale:     locale,
		TenantName: t.Name,
		Now:        now,
		Settings: plugins.Settings{
			AllowSubscriptionCancel: s.Has(session.AllowSubscriptionCancel),
			AllowDetailsEdit:        s.Has(session.AllowDetailsEdit),
			AllowAutopayEdit:        s.Has(session.AllowAutopayEdit),
			AddPaymentMethod:        t.PaymentSetupURL != "",
		},
	}
	var body bytes.Buffer
	for _, sec := range plugins.Ordered() {
		if !sectionEnabled(sec.Name(), s.Settings) {
			continue
		}
		if err := sec.Render(&body, v); err != nil {
			return nil, err
		}
	}
	if body.Len() == 0 {
		body.WriteString(`<section class="card message"><p>There is nothing to show here.</p></section>`)
	}
	c := newChrome(t, lang(locale), "Billing")
	c.Subtitle = snap.Account.Name
	c.SignOut = true
	c.CSRFInput = plugins.CSRFInput
	c.Body = template.HTML(body.String())
	var out bytes.Buffer
	if err := layout.ExecuteTemplate(&out, "page", c); err != nil {
		return nil, err
	}
	return &page{parts: bytes.Split(out.Bytes(), []byte(plugins.CSRFPlaceholder))}, nil
}

// lang is the primary language subtag for the html lang attribute.
func lang(locale string) string {
	for i := 0; i < len(locale); i++ {
		if locale[i] == '-' || locale[i] == '_' {
			return locale[:i]
		}
	}
	return locale
}

// messagePage writes a branded page with a title and one paragraph.
func (g *Gateway) errorPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, status int, title, message string) {
	c := newChrome(t, "en", title)
	// A page answering a token URL must not send that URL as Referer, even to this host.
	c.NoReferrer = bytes.HasPrefix(ctx.Path(), []byte("/s/"))
	c.Message = message
	var out bytes.Buffer
	if err := layout.ExecuteTemplate(&out, "message", c); err != nil {
		g.log.Error("gateway: rendering message page", "err", err)
	}
	setPortalHeaders(ctx, t)
	if c.NoReferrer {
		ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// themeCSS is the per-tenant stylesheet of brand colours, cached in the tenant's memo.
func themeCSS(t *tenants.Tenant) []byte {
	if b, ok := t.Memo[0].Load().([]byte); ok {
		return b
	}
	// Text on accent buttons is black or white, whichever reads better on the tenant's colour.
	b := []byte(":root{--primary:" + t.Branding.PrimaryColor + ";--accent:" + t.Branding.AccentColor +
		";--accent-contrast:" + dashboard.ButtonTextColor(t.Branding.AccentColor) + "}\n")
	t.Memo[0].Store(b)
	return b
}
