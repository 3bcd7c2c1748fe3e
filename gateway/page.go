package gateway

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"html/template"
	"strconv"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/bytesconv"
	"github.com/portico-billing/portico/invoicedoc"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/theme"
	"github.com/valyala/fasthttp"
)

var (
	//go:embed web/layout.html
	layoutHTML string
	// portalCSS is the stylesheet of every portal page: the base shared with the dashboard, then
	// the invoice page's rules.
	portalCSS = append(append(append([]byte{}, web.CSS...), '\n'), invoicedoc.CSS...)

	// layout frames every portal page; its texts are translated per language ("t").
	layout     = i18n.NewTemplates(template.Must(template.New("layout").Funcs(i18n.Funcs()).Parse(layoutHTML)))
	cssVersion = func() string { s := sha256.Sum256(portalCSS); return hex.EncodeToString(s[:6]) }()
	// iconURL is the versioned URL of the neutral favicon (web.Icon).
	iconURL = func() string { s := sha256.Sum256(web.Icon); return "/assets/icon.png?v=" + hex.EncodeToString(s[:6]) }()
)

// pageLang is the language of a page and the locale its amounts and dates are formatted in
// (i18n.ResolveFormat): German text for "de-AT" with Austrian formats.
type pageLang struct {
	*i18n.Printer
	locale string
}

// sessionLang resolves the language of a session's page: the session's locale, else the
// account's (snap may be nil when the account is not at hand), else the tenant's, else English.
func sessionLang(sessionLocale string, snap *tenants.AccountSnapshot, t *tenants.Tenant) pageLang {
	var account, def string
	if snap != nil {
		account = snap.Locale
	}
	if t != nil {
		def = t.DefaultLocale
	}
	tag, locale := i18n.ResolveFormat(sessionLocale, account, def)
	return pageLang{i18n.NewPrinter(tag), locale}
}

// requestLang is the language of a page shown without a session: the browser's Accept-Language,
// else the tenant's default, else English.
func requestLang(ctx *fasthttp.RequestCtx, t *tenants.Tenant) pageLang {
	var def string
	if t != nil {
		def = t.DefaultLocale
	}
	tag, locale := i18n.ResolveAccept(string(ctx.Request.Header.Peek(fasthttp.HeaderAcceptLanguage)), def)
	return pageLang{i18n.NewPrinter(tag), locale}
}

// langOf is the language of a page for the open session in rs, with the account's locale from
// the account cache or, after a change evicted it, from etcd. A failed read leaves the account's
// locale out; pages about the store being unreachable use cachedLangOf instead.
func (g *Gateway) langOf(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) pageLang {
	snap := g.cachedAccount(t, rs)
	if snap == nil {
		snap, _ = g.store.Account(web.Detach(ctx), t.ID, string(rs.s.AccountID))
	}
	return sessionLang(string(rs.s.Locale), snap, t)
}

// cachedLangOf is langOf without reading etcd: the account's locale only when it is cached.
func (g *Gateway) cachedLangOf(t *tenants.Tenant, rs *reqScratch) pageLang {
	return sessionLang(string(rs.s.Locale), g.cachedAccount(t, rs), t)
}

func (g *Gateway) cachedAccount(t *tenants.Tenant, rs *reqScratch) *tenants.AccountSnapshot {
	key := append(rs.key[:0], t.ID...)
	key = append(key, '/')
	key = append(key, rs.s.AccountID...)
	snap, _ := g.store.CachedAccount(bytesconv.String(key))
	return snap
}

// chrome is what the layout needs to frame a page.
type chrome struct {
	Lang, Title, Subtitle, TenantName string
	CSSVersion, ThemeVersion, LogoURL string
	IconURL                           string // the favicon: the logo, else the neutral icon
	SignOut                           bool
	NoHeading                         bool // the body brings its own heading
	NoReferrer                        bool // the page's URL holds a link token
	CSRFInput                         template.HTML
	// BackLink is the "Back to <tenant>" link (backLink), or backPlaceholder where a cached page
	// gets it per request, or empty.
	BackLink template.HTML
	// Notice is markup above the page's title: noticePlaceholder in a cached page.
	Notice  template.HTML
	Footer  string
	Message string
	// Action is markup after a message page's text: the Continue page's form.
	Action template.HTML
	Body   template.HTML

	p *i18n.Printer
}

func newChrome(t *tenants.Tenant, l pageLang, title string) *chrome {
	c := &chrome{Lang: l.Lang(), Title: title, TenantName: "Portico", CSSVersion: cssVersion, IconURL: iconURL, p: l.Printer}
	if t != nil {
		c.TenantName = t.Name
		c.ThemeVersion = strconv.FormatInt(t.Revision, 36)
		if t.Branding.LogoETag != "" {
			c.LogoURL = "/assets/logo?v=" + t.Branding.LogoETag
			c.IconURL = c.LogoURL
		}
	}
	c.Footer = l.T("layout.footer", "tenant", c.TenantName)
	return c
}

// execute renders a layout template ("page" or "message") of the chrome's language.
func (c *chrome) execute(w *bytes.Buffer, name string) error {
	return layout.Execute(w, c.p, name, c)
}

// setBack gives the page the "Back to <tenant>" link to ret (a return URL that
// links.ReturnURLAllowed accepted), or none for nil.
func (c *chrome) setBack(ret []byte) {
	if ret != nil {
		open, close := backLink(c.p, c.TenantName)
		c.BackLink = template.HTML(open + template.HTMLEscapeString(string(ret)) + close)
	}
}

// backLink is the markup of the "Back to <tenant>" link before and after its (escaped) URL.
func backLink(p *i18n.Printer, tenantName string) (open, close string) {
	return `<p class="back-link"><a class="link" href="`,
		`">` + template.HTMLEscapeString(p.T("layout.backTo", "tenant", tenantName)) + `</a></p>`
}

// page is one rendered customer page. It is the same for every session with the same settings,
// except for what is written between its parts: the session's CSRF token, and the "Back to
// <tenant>" link when the browser has a return cookie.
type page struct {
	parts [][]byte
	slots []uint8 // slots[i] is what goes between parts[i] and parts[i+1]
	// backOpen and backClose surround the return URL in the back link, in the page's language.
	backOpen, backClose []byte
}

// Slots of a cached page.
const (
	slotCSRF uint8 = iota
	slotBack
	slotNotice
)

// backPlaceholder marks the back link's place in a cached page. Like plugins.CSRFPlaceholder it
// holds "<" and ">", which html/template always escapes in data, so no account or tenant string
// can produce it.
const backPlaceholder = "<portico-back-link>"

// noticePlaceholder marks where a page says that it shows stale data (a source-mode account whose
// source is not answering, staleNotice); empty otherwise.
const noticePlaceholder = "<portico-notice>"

// splitPage cuts a rendered page at its placeholders (the slots' markers, in slot order).
func splitPage(b []byte) (parts [][]byte, slots []uint8) {
	marks := [...][]byte{slotCSRF: []byte(plugins.CSRFPlaceholder), slotBack: []byte(backPlaceholder), slotNotice: []byte(noticePlaceholder)}
	for {
		at, slot := -1, uint8(0)
		for i, m := range marks {
			if j := bytes.Index(b, m); j >= 0 && (at < 0 || j < at) {
				at, slot = j, uint8(i)
			}
		}
		if at < 0 {
			return append(parts, b), slots
		}
		parts, slots, b = append(parts, b[:at]), append(slots, slot), b[at+len(marks[slot]):]
	}
}

// pageSet is the rendered pages of one account revision, by settings, locale, tenant revision,
// day, backend and catalog version. It is immutable: adding a page replaces the set in the
// snapshot's memo.
type pageSet struct {
	entries []pageEntry
}

type pageEntry struct {
	switches  uint32
	locale    string
	tenantRev int64
	day       int64  // sections show states relative to today (overdue), so pages expire daily
	backend   bool   // the tenant had a backend registered (plugins.View.Backend)
	catalog   uint64 // tenants.Store.CatalogVersion of the catalog rendered with (plugins.View.Catalog)
	page      *page
}

// maxPagesPerAccount bounds the variants kept for one account revision.
const maxPagesPerAccount = 8

const memoPages = 0 // AccountSnapshot.Memo slot of the pageSet

// cachedPage returns the page for the session if it was rendered for this account revision,
// settings, locale, tenant revision, day and catalog version. It does not allocate.
func cachedPage(snap *tenants.AccountSnapshot, t *tenants.Tenant, s *session.Session, day int64, backend bool, catVer uint64) *page {
	ps, _ := snap.Memo[memoPages].Load().(*pageSet)
	if ps == nil {
		return nil
	}
	for i := range ps.entries {
		e := &ps.entries[i]
		if e.switches == s.Switches && e.tenantRev == t.Revision && e.day == day && e.backend == backend && e.catalog == catVer && e.locale == string(s.Locale) {
			return e.page
		}
	}
	return nil
}

// storePage remembers p in the snapshot's memo. Concurrent renders of the same page may both
// store; either result is the same page.
func storePage(snap *tenants.AccountSnapshot, t *tenants.Tenant, s *session.Session, day int64, backend bool, catVer uint64, p *page) {
	old, _ := snap.Memo[memoPages].Load().(*pageSet)
	next := &pageSet{}
	if old != nil {
		next.entries = append(next.entries, old.entries...)
		if len(next.entries) >= maxPagesPerAccount {
			next.entries = next.entries[1:]
		}
	}
	next.entries = append(next.entries, pageEntry{switches: s.Switches, locale: string(s.Locale), tenantRev: t.Revision, day: day, backend: backend, catalog: catVer, page: p})
	snap.Memo[memoPages].Store(next)
}

// resolveLocale resolves the language of a session's page through the fallback chain of
// i18n.Resolve: the session's locale (from the session request), its language, the account's
// locale, the tenant's default, English. The result is a function of the session's locale, the
// account revision and the tenant revision, all of which key the page cache.
func resolveLocale(sessionLocale string, snap *tenants.AccountSnapshot, t *tenants.Tenant) pageLang {
	return sessionLang(sessionLocale, snap, t)
}

// hasBackend reports whether the tenant's backend can be called: the gateway has the protocol's
// service and the tenant registered a backend (from the store's index: no I/O).
func (g *Gateway) hasBackend(t *tenants.Tenant) bool {
	return g.cfg.Backend != nil && g.store.HasBackend(t.ID)
}

// renderPage renders the customer page for a session's settings and locale.
func (g *Gateway) renderPage(t *tenants.Tenant, snap *tenants.AccountSnapshot, s *session.Session, now time.Time, hasBackend bool, cat *tenants.CatalogSnapshot) (*page, error) {
	l := resolveLocale(string(s.Locale), snap, t)
	v := &plugins.View{
		Account:    snap.Account,
		Locale:     l.locale,
		TenantName: t.Name,
		Tenant:     t,
		Now:        now,
		Switches:   plugins.Switches(s.Switches),
		Backend:    hasBackend,
		Catalog:    cat,
	}
	var body bytes.Buffer
	for _, sec := range plugins.Ordered() {
		if !plugins.Shown(sec, v.Switches) {
			continue
		}
		if err := sec.Render(&body, v); err != nil {
			return nil, err
		}
	}
	if body.Len() == 0 {
		body.WriteString(`<section class="card message"><p>` + template.HTMLEscapeString(l.T("page.empty")) + `</p></section>`)
	}
	c := newChrome(t, l, l.T("page.billing"))
	c.Subtitle = snap.Account.Name
	c.SignOut = true
	c.CSRFInput = plugins.CSRFInput
	c.BackLink = backPlaceholder
	c.Notice = noticePlaceholder
	c.Body = template.HTML(body.String())
	var out bytes.Buffer
	if err := c.execute(&out, "page"); err != nil {
		return nil, err
	}
	p := &page{}
	p.parts, p.slots = splitPage(out.Bytes())
	open, close := backLink(l.Printer, c.TenantName)
	p.backOpen, p.backClose = []byte(open), []byte(close)
	return p, nil
}

// writePage writes a cached page: the session's CSRF token, when the browser holds a valid
// return cookie the back link, and notice (nil: none) into their slots. It does not allocate.
func (g *Gateway) writePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, p *page, s *session.Session, notice []byte) {
	ret := g.returnURL(ctx, t)
	for i, part := range p.parts {
		if i > 0 {
			switch p.slots[i-1] {
			case slotCSRF:
				ctx.Write(s.CSRF[:])
			case slotBack:
				if ret != nil {
					ctx.Write(p.backOpen)
					writeAttrURL(ctx, ret)
					ctx.Write(p.backClose)
				}
			case slotNotice:
				ctx.Write(notice)
			}
		}
		ctx.Write(part)
	}
}

// staleNotice is the notice of a page showing a source-mode account's copy fetched at fetchedAt,
// its source not answering: "Showing data from Jan 2, 2027, 15:04 UTC; the billing system is not
// answering."
func staleNotice(l pageLang, fetchedAt time.Time) []byte {
	at := fetchedAt.UTC()
	when := l.T("page.staleAt", "date", i18n.Date(i18n.DateOf(at), l.locale), "time", at.Format("15:04"))
	return []byte(`<p class="stale-notice" role="status">` + template.HTMLEscapeString(l.T("page.stale", "time", when)) + `</p>`)
}

// writeAttrURL writes a return URL into a double-quoted attribute as template.HTMLEscapeString
// would: links.ReturnURLAllowed let only RFC 3986 characters through, of which the ampersand and
// the apostrophe are the ones to escape.
func writeAttrURL(ctx *fasthttp.RequestCtx, u []byte) {
	for {
		i := bytes.IndexAny(u, "&'")
		if i < 0 {
			ctx.Write(u)
			return
		}
		ctx.Write(u[:i])
		if u[i] == '&' {
			ctx.WriteString("&amp;")
		} else {
			ctx.WriteString("&#39;")
		}
		u = u[i+1:]
	}
}

// returnCookieName is the cookie holding the "Back to <tenant>" URL: __Host- and Secure like the
// session cookie, without both in Dev mode.
func (g *Gateway) returnCookieName() string {
	if g.cfg.Dev {
		return "portico_return"
	}
	return "__Host-portico_return"
}

// memoReturnHosts is the tenant Memo slot of links.ReturnHosts.
const memoReturnHosts = 2

// returnURL is the request's return cookie when it is a URL the tenant (still) allows, else nil.
// It does not allocate once the tenant's allowed hosts are memoised.
func (g *Gateway) returnURL(ctx *fasthttp.RequestCtx, t *tenants.Tenant) []byte {
	v := ctx.Request.Header.Cookie(g.returnCookieName())
	if len(v) == 0 || t == nil {
		return nil
	}
	hosts, ok := t.Memo[memoReturnHosts].Load().([]string)
	if !ok {
		hosts = links.ReturnHosts(t)
		t.Memo[memoReturnHosts].Store(hosts)
	}
	if !links.ReturnURLAllowed(hosts, v) {
		return nil
	}
	return v
}

// setReturnCookie stores (or, for "", clears) the return URL for the session's lifetime.
func (g *Gateway) setReturnCookie(ctx *fasthttp.RequestCtx, value string, maxAge int) {
	if value == "" {
		maxAge = -1
	}
	g.setCookie(ctx, g.returnCookieName(), value, maxAge, fasthttp.CookieSameSiteLaxMode)
}

// errorPage writes a branded page with a title and one paragraph, given as text. It is the
// English page of callers without a language (the unknown-host page); portal pages use
// messagePage with message keys.
func (g *Gateway) errorPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, status int, title, message string) {
	g.writeMessage(ctx, t, pageLang{i18n.NewPrinter(i18n.English), "en"}, status, title, message)
}

// messagePage writes a branded page in language l: the message key+".title" as title and
// key+".body" as text, with placeholders from args; "tenant" is filled with the tenant's name.
func (g *Gateway) messagePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, key string, args ...any) {
	g.messagePageText(ctx, t, l, status, key+".title", key+".body", args...)
}

// messagePageText is messagePage with separate title and body keys.
func (g *Gateway) messagePageText(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, titleKey, bodyKey string, args ...any) {
	if t != nil {
		args = append(args, "tenant", t.Name)
	}
	g.writeMessage(ctx, t, l, status, l.T(titleKey, args...), l.T(bodyKey, args...))
}

func (g *Gateway) writeMessage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, title, message string) {
	c := newChrome(t, l, title)
	// A page answering a token URL must not send that URL as Referer, even to this host.
	c.NoReferrer = bytes.HasPrefix(ctx.Path(), []byte("/s/"))
	c.Message = message
	if !c.NoReferrer {
		c.setBack(g.returnURL(ctx, t))
	}
	if t != nil && t.EmailSignIn && (status == fasthttp.StatusGone || status == fasthttp.StatusUnauthorized) {
		c.Action = signInOffer(l)
	}
	var out bytes.Buffer
	if err := c.execute(&out, "message"); err != nil {
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
	// Brand colours that read too faintly on the page are darkened to WCAG AA (package theme).
	pal := theme.For(t.Branding.PrimaryColor, t.Branding.AccentColor)
	if t.Branding.AccentTitles {
		pal = pal.AccentTitles()
	}
	b := pal.CSS(":root")
	t.Memo[0].Store(b)
	return b
}
