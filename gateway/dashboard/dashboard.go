// Package dashboard serves the tenant dashboard on dashboard.<base-domain>: tenant admins sign in
// with an email and password (argon2id, lockout with back-off, package tenants), find customers,
// send or copy single-use portal links, and manage their branding, portal defaults, custom domains,
// webhooks and API keys.
//
// Pages are rendered on the server with html/template and run no script (the Content Security
// Policy forbids it), in the portal's look, and in the language of the admin's browser: the best
// supported match of its Accept-Language header (i18n.ResolveAccept) among the portal's six
// languages, else English. Their texts are the "dash.*" messages of package i18n; dates and
// numbers follow the same locale (i18n.Money, i18n.Date), times are shown in UTC.
//
// The admin's session is a cookie sealed with the session keyring (AES-GCM, additional data
// "dashboard:<tenantID>"), HttpOnly, SameSite=Strict, Secure and __Host- prefixed unless
// Config.Dev, valid for 8 hours; it carries the tenant id, the admin's email and the CSRF token
// every form posts back. The tenant an admin sees comes from that sealed session only, never from
// a form or a URL. Every POST also needs an Origin header equal to the dashboard's own origin.
//
// The package reads and writes state through package tenants (and links, domains, mail and the
// WebhookPages interface); it owns no etcd keys. It does not own the host dispatch: the gateway
// hands it every request for the dashboard host.
package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/internal/lifecycle"
	"github.com/portico-billing/portico/plugins"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// Config configures a Dashboard. Store and Issuer are required.
type Config struct {
	// Store is the data layer; required.
	Store *tenants.Store
	// Issuer issues portal links (the gateway's, so that links look the same from every path);
	// required.
	Issuer *links.Issuer
	// Keyring seals admin sessions. Leave it nil: the dashboard then follows the store's sealing
	// keys with a keyring of its own (keyring.Follow).
	Keyring *keyring.Keyring
	// PortalLinks emails portal links (Send portal link); the API sends through the same one.
	// Default: one built from Store, Issuer, Mail and MaxLinksPerHour.
	PortalLinks *links.Emailer
	// Mail sends portal-link emails when PortalLinks is nil; nil shows "email is not configured"
	// (Copy link still works).
	Mail *mail.Sender
	// Invite sends a colleague's invitation email (the gateway's Invite: who invited, the account,
	// the role and the portal's sign-in page); nil adds members without an email.
	Invite func(ctx context.Context, t *tenants.Tenant, accountID string, m tenants.Member, inviter, locale string) error
	// Domains verifies custom domains (default: a verifier with the system resolver).
	Domains *domains.Verifier
	// Webhooks backs the webhook pages; nil hides them.
	Webhooks WebhookPages
	// Backend backs Settings → Backend (the tenant backend protocol); nil hides it.
	Backend BackendPages
	// Dev allows plain-HTTP development: the session cookie loses its __Host- prefix and Secure
	// flag. Never in production.
	Dev bool
	// PublicScheme is the scheme browsers reach the dashboard with: "https" (default) or "http";
	// form posts must come from PublicScheme://<dashboard host>.
	PublicScheme string
	// Logger receives sign-ins and failures (default slog.Default()). Passwords, cookies, links
	// and keys are never logged.
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
	// ClientAddr is the address of the client of a request, the one sign-ins are logged with
	// (default: the TCP peer). `portico serve` passes the gateway's (gateway.Gateway.ClientAddr),
	// which believes the proxies it trusts.
	ClientAddr func(*fasthttp.RequestCtx) netip.Addr
	// MaxLinksPerHour is how many portal-link emails one customer may be sent per clock hour,
	// across all instances, when PortalLinks is nil (default links.DefaultMaxEmailsPerHour).
	MaxLinksPerHour int
	// SessionTTL is how long an admin stays signed in (default 8 h).
	SessionTTL time.Duration
	// SearchIdle is how long a tenant's customer search index lives without searches (default
	// 30 min).
	SearchIdle time.Duration
	// PageSize is the number of customers per page (default 25).
	PageSize int
}

// Dashboard serves the dashboard host.
type Dashboard struct {
	cfg   Config
	store *tenants.Store
	// catalog is the store as Settings → Plans sees it.
	catalog catalogStore
	log     *slog.Logger
	search  *searchIndexes
	links   *links.Emailer

	cookieName, loginCookieName, deviceCookieName string

	keyring *keyring.Keyring
}

// Limits of request bodies.
const (
	// MaxFormBody bounds URL-encoded form posts.
	MaxFormBody = 64 << 10
	// MaxUploadBody bounds the branding form (a logo of at most tenants.MaxLogoBytes and a few
	// fields); a larger Content-Length is refused before the body is looked at. The server in
	// front should not read much more than this (the gateway's limit is 1 MiB + 64 KiB).
	MaxUploadBody = tenants.MaxLogoBytes + 64<<10
)

// New checks cfg and returns a dashboard. Call Close when done with it.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Store == nil {
		return nil, errors.New("dashboard: Config.Store is nil")
	}
	if cfg.Issuer == nil {
		return nil, errors.New("dashboard: Config.Issuer is nil")
	}
	if cfg.PublicScheme == "" {
		cfg.PublicScheme = "https"
	}
	if cfg.PublicScheme != "https" && cfg.PublicScheme != "http" {
		return nil, fmt.Errorf("dashboard: public scheme %q is not http or https", cfg.PublicScheme)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = peerAddr
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.SearchIdle <= 0 {
		cfg.SearchIdle = 30 * time.Minute
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.Domains == nil {
		base := cfg.Issuer.URLs.BaseDomain
		if base == "" {
			base = "portal.localhost"
		}
		cfg.Domains = &domains.Verifier{Store: cfg.Store, BaseDomain: base, Logger: cfg.Logger, Now: cfg.Now}
	}
	d := &Dashboard{
		cfg: cfg, store: cfg.Store, catalog: cfg.Store, log: cfg.Logger,
		search:           newSearchIndexes(cfg.Store, cfg.Logger, cfg.SearchIdle),
		cookieName:       "__Host-portico_admin",
		loginCookieName:  "__Host-portico_login",
		deviceCookieName: "__Host-portico_device",
		keyring:          cfg.Keyring,
		links:            cfg.PortalLinks,
	}
	if d.links == nil {
		d.links = &links.Emailer{Store: cfg.Store, Issuer: cfg.Issuer, Mail: cfg.Mail, MaxPerHour: cfg.MaxLinksPerHour, Now: cfg.Now, Logger: cfg.Logger}
	}
	if cfg.Dev {
		d.cookieName, d.loginCookieName, d.deviceCookieName = "portico_admin", "portico_login", "portico_device"
	}
	if d.keyring == nil {
		var err error
		if d.keyring, err = keyring.Follow(cfg.Store); err != nil {
			return nil, fmt.Errorf("dashboard: loading sealing keys: %w", err)
		}
	}
	return d, nil
}

// Close stops the search indexes' watches.
func (d *Dashboard) Close() { d.search.close() }

// Start does nothing: the dashboard's search indexes build on first use. It makes the dashboard a
// lifecycle.App, which cmd/portico stops after the HTTP servers.
func (d *Dashboard) Start(context.Context) error { return nil }

// Stop is Close.
func (d *Dashboard) Stop() error { d.Close(); return nil }

var _ lifecycle.App = (*Dashboard)(nil)

// syncKeys reloads the keyring's keys if the store's changed (a no-op for a keyring the caller
// keeps, such as the gateway's, which syncs it itself).
func (d *Dashboard) syncKeys() error { return d.keyring.Sync() }

var (
	//go:embed web
	webFS embed.FS

	// dashboardCSS is the base stylesheet shared with the portal, then the dashboard's own rules.
	dashboardCSS = append(append(append([]byte{}, web.CSS...), '\n'), mustRead("web/dashboard.css")...)
	cssVersion   = func() string { s := sha256.Sum256(dashboardCSS); return hex.EncodeToString(s[:6]) }()
	// pages are the dashboard's templates, with the form templates every form page shares
	// (plugins.FormErrors); their texts are translated per language ("t").
	pages = i18n.NewTemplates(template.Must(template.Must(plugins.FormTemplates(template.New("").Funcs(i18n.Funcs()).Funcs(funcs))).ParseFS(webFS, "web/*.html")))
)

func mustRead(name string) []byte {
	b, err := webFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// lang is the admin's language: the printer of the dashboard's texts and the locale that dates
// and numbers are formatted in (i18n.ResolveAccept: German text for "de-AT" with Austrian
// formats).
type lang struct {
	*i18n.Printer
	locale string
}

// requestLang is the language of a dashboard page: the best supported match of the browser's
// Accept-Language header, else English. The tenant's default locale is its customers' language,
// not its admins', so it plays no part.
func requestLang(ctx *fasthttp.RequestCtx) lang {
	tag, locale := i18n.ResolveAccept(string(ctx.Request.Header.Peek(fasthttp.HeaderAcceptLanguage)), "")
	p := i18n.NewPrinter(tag)
	if i18n.ForLocale(locale) != p {
		locale = p.Lang() // a tag Match cannot read back (over-long): format in the language itself
	}
	return lang{p, locale}
}

// langOf is the language of a request: the signed-in admin's (r), else the browser's.
func langOf(ctx *fasthttp.RequestCtx, r *request) lang {
	if r != nil {
		return r.l
	}
	return requestLang(ctx)
}

// dateTime writes a time in UTC in the locale's language, its date written by i18n.Date as the
// portal and every other date of the dashboard write it: "Jan 2, 2027, 15:04 UTC",
// "2 Jan 2027, 15:04 UTC" (en-GB), "2. Jan. 2027, 15:04 UTC", "2027年1月2日 15:04 UTC".
func dateTime(t time.Time, locale string) string {
	t = t.UTC()
	date := i18n.Date(i18n.DateOf(t), locale)
	return i18n.ForLocale(locale).T("dash.dateTime", "date", date, "time", t.Format("15:04"))
}

// clock is a time of day in UTC, "15:04 UTC", as the dashboard's messages write it.
func clock(t time.Time) string { return t.UTC().Format("15:04 MST") }

// decimal writes a number with one decimal in the locale's style: "4.5" in English and Japanese,
// "4,5" in German, French, Spanish and Portuguese.
func decimal(f float64, locale string) string {
	s := strconv.FormatFloat(f, 'f', 1, 64)
	switch i18n.Language(locale) {
	case "en", "ja":
		return s
	}
	return strings.Replace(s, ".", ",", 1)
}

// sizeText writes a byte count as the dashboard's messages do: "800 KB", "5.0 MB" ("5,0 Mo").
func sizeText(n int, l lang) string {
	if n >= 1<<20 {
		return l.T("dash.size.mb", "size", decimal(float64(n)/(1<<20), l.locale))
	}
	return l.T("dash.size.kb", "size", strconv.Itoa((n+1023)>>10))
}

// label makes a status readable when no message names it: "past_due" is "Past due".
func label(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// The template functions that format take the page's locale ({{date .DueDate $.Locale}}):
// i18n.Templates binds only "t" to the language of a render.
var funcs = template.FuncMap{
	"money": i18n.Money,
	"date":  func(d account.Date, locale string) string { return i18n.Date(d.Civil(), locale) },
	"time":  dateTime,
	"since": func(t time.Time, locale string) string {
		if t.IsZero() {
			return i18n.ForLocale(locale).T("dash.time.never")
		}
		return dateTime(t, locale)
	},
	"number":     func(n int, locale string) string { return i18n.Number(int64(n), locale) },
	"pathEscape": url.PathEscape,
	"statusClass": func(s string) string {
		return "status-" + strings.ReplaceAll(s, "_", "-")
	},
	// status names a status by the message prefix+s ("plan.status.", "dash.domains.status."),
	// or, for a status without a message, by label.
	"status": func(prefix, s, locale string) string {
		if i18n.Has(prefix + s) {
			return i18n.ForLocale(locale).T(prefix + s)
		}
		return label(s)
	},
	"ratio": func(f float64, locale string) string { return decimal(f, locale) + ":1" },
	// list3 pairs three names with their values, to range over fields laid out alike.
	"list3": func(n1, v1, n2, v2, n3, v3 string) []namedValue {
		return []namedValue{{n1, v1}, {n2, v2}, {n3, v3}}
	},
}

// namedValue is a field's name and value (template function list3).
type namedValue struct{ Name, Value string }

// view is what every page template gets.
type view struct {
	Title      string
	Nav        string // the active navigation entry
	CSSVersion string
	Tenant     *tenants.Tenant
	Admin      string
	CSRF       string
	Webhooks   bool
	Backend    bool
	Pending    bool   // the session still waits for its second factor: no navigation
	Flash      string // a success message
	Error      string // a failure message
	Data       any
	// Lang is the page's language for its html lang attribute ("en", "de", "pt-BR"); Locale is
	// the locale its dates and numbers are formatted in (the template functions' last argument).
	Lang, Locale string

	l lang
}

func (v *view) setLang(l lang) { v.l, v.Lang, v.Locale = l, l.Lang(), l.locale }

// Markup returns the message of key with placeholders replaced by values wrapped in an inline
// element, tag "em" or "code"; args are (name, tag, value) triples:
// {{$.Markup "dash.login.workspaceHint" "example" "em" "acme" "address" "em" .Data.Address}}.
// The message and the values are HTML-escaped.
func (v *view) Markup(key string, args ...string) template.HTML {
	out := template.HTMLEscapeString(v.l.T(key))
	for i := 0; i+2 < len(args); i += 3 {
		name, tag, value := args[i], args[i+1], args[i+2]
		if tag != "em" && tag != "code" {
			tag = "span"
		}
		out = strings.ReplaceAll(out, "{"+name+"}", "<"+tag+">"+template.HTMLEscapeString(value)+"</"+tag+">")
	}
	return template.HTML(out)
}

// Link returns the message of key with its placeholder {name} replaced by a link to href whose
// text is the message textKey: {{$.Link "dash.customers.emptyPage" "link" "/customers" "dash.customers.firstPage"}}.
func (v *view) Link(key, name, href, textKey string) template.HTML {
	return v.fill(key, name, `<a href="`+template.HTMLEscapeString(href)+`">`+template.HTMLEscapeString(v.l.T(textKey))+`</a>`)
}

func (v *view) fill(key, name, html string) template.HTML {
	return template.HTML(strings.ReplaceAll(template.HTMLEscapeString(v.l.T(key)), "{"+name+"}", html))
}

// security headers of every dashboard response: no script, no framing, no referrer (pages show
// portal links and keys), nothing cached.
func setHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render writes the page template name with v, in v's language (the browser's when v has none).
func (d *Dashboard) render(ctx *fasthttp.RequestCtx, status int, name string, v *view) {
	v.CSSVersion = cssVersion
	if v.l.Printer == nil {
		v.setLang(requestLang(ctx))
	}
	var out bytes.Buffer
	if err := pages.Execute(&out, v.l.Printer, name, v); err != nil {
		d.log.Error("dashboard: rendering page", "page", name, "err", err)
		out.Reset()
		status = fasthttp.StatusInternalServerError
		fail := &view{Title: v.l.T("dash.error.internal.title"), CSSVersion: cssVersion, Data: v.l.T("dash.error.internal.body")}
		fail.setLang(v.l)
		_ = pages.Execute(&out, v.l.Printer, "message", fail)
	}
	setHeaders(ctx)
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// message writes a page with a title and one paragraph, the messages titleKey and textKey (with
// args); r may be nil (signed out).
func (d *Dashboard) message(ctx *fasthttp.RequestCtx, r *request, status int, titleKey, textKey string, args ...any) {
	l := langOf(ctx, r)
	title, text := l.T(titleKey), l.T(textKey, args...)
	v := &view{Title: title, Data: text}
	if r != nil {
		v = r.view("", title)
		v.Data = text
	}
	v.setLang(l)
	d.render(ctx, status, "message", v)
}

func (d *Dashboard) unavailable(ctx *fasthttp.RequestCtx, r *request, err error) {
	d.log.Warn("dashboard: store unavailable", "err", err)
	ctx.Response.Header.Set("Retry-After", "5")
	d.message(ctx, r, fasthttp.StatusServiceUnavailable, "dash.error.unavailable.title", "dash.error.unavailable.body")
}

func (d *Dashboard) notFound(ctx *fasthttp.RequestCtx, r *request) {
	d.message(ctx, r, fasthttp.StatusNotFound, "dash.error.notFound.title", "dash.error.notFound.body")
}

func redirect(ctx *fasthttp.RequestCtx, to string) {
	setHeaders(ctx)
	ctx.Response.Header.Set("Location", to)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// Handler serves every request for the dashboard host.
func (d *Dashboard) Handler(ctx *fasthttp.RequestCtx) {
	path := string(ctx.Path())
	get := ctx.IsGet() || ctx.IsHead()
	post := ctx.IsPost()
	switch {
	case get && path == "/assets/dashboard.css":
		ctx.Response.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
		ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
		ctx.SetContentType("text/css; charset=utf-8")
		ctx.SetBody(dashboardCSS)
		return
	case get && path == "/favicon.ico":
		// The neutral icon; a signed-in admin's pages link the tenant's logo instead.
		setHeaders(ctx)
		ctx.Response.Header.Set("Cache-Control", "public, max-age=86400")
		ctx.SetContentType("image/png")
		ctx.SetBody(web.Icon)
		return
	case get && path == "/robots.txt":
		setHeaders(ctx)
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	case path == "/login" && get:
		d.loginPage(ctx)
		return
	case path == "/login" && post:
		d.login(ctx)
		return
	case path == "/logout" && post:
		d.logout(ctx)
		return
	case !get && !post:
		setHeaders(ctx)
		ctx.Response.Header.Set("Allow", "GET, HEAD, POST")
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		return
	}
	r, err := d.session(ctx)
	if err != nil {
		d.unavailable(ctx, nil, err)
		return
	}
	if r == nil {
		if get {
			redirect(ctx, "/login")
			return
		}
		d.clearCookie(ctx, d.cookieName)
		d.message(ctx, nil, fasthttp.StatusForbidden, "dash.error.sessionEnded.title", "dash.error.sessionEnded.body")
		return
	}
	if ok, next := stageAllows(r.s.Stage, path); !ok {
		redirect(ctx, next)
		return
	}
	if post && !d.checkForm(ctx, r) {
		return
	}
	d.route(ctx, r, path, get)
}

// route serves the pages of a signed-in admin.
func (d *Dashboard) route(ctx *fasthttp.RequestCtx, r *request, path string, get bool) {
	switch {
	case path == "/":
		redirect(ctx, "/customers")
	case path == "/customers" && get:
		d.customers(ctx, r)
	case strings.HasPrefix(path, "/customers/"):
		d.customerRoutes(ctx, r, strings.TrimPrefix(path, "/customers/"), get)
	case path == "/assets/logo" && get:
		d.logo(ctx, r)
	case path == "/assets/preview.css" && get:
		d.previewCSS(ctx, r)
	case path == "/settings/branding":
		if get {
			d.brandingPage(ctx, r, fasthttp.StatusOK, "", "")
		} else {
			d.saveBranding(ctx, r)
		}
	case path == "/settings/portal":
		if get {
			d.portalPage(ctx, r, fasthttp.StatusOK, nil, "", nil)
		} else {
			d.savePortal(ctx, r)
		}
	case path == "/settings/plans":
		if get {
			d.plansPage(ctx, r, fasthttp.StatusOK, nil, "")
		} else {
			d.savePolicy(ctx, r)
		}
	case path == "/settings/seller":
		if get {
			redirect(ctx, "/settings/portal#seller")
		} else {
			d.saveSeller(ctx, r)
		}
	case path == "/settings/domains":
		if get {
			d.domainsPage(ctx, r, fasthttp.StatusOK, "", "", "")
		} else {
			d.domainAction(ctx, r)
		}
	case path == "/settings/api-keys":
		if get {
			d.apiKeysPage(ctx, r, fasthttp.StatusOK, "", "", "")
		} else {
			d.apiKeyAction(ctx, r)
		}
	case path == "/settings/webhooks" && d.cfg.Webhooks != nil:
		if get {
			d.webhooksPage(ctx, r, fasthttp.StatusOK, "", "", "")
		} else {
			d.webhookAction(ctx, r)
		}
	case path == "/settings/backend" && d.cfg.Backend != nil:
		if get {
			d.backendPage(ctx, r, fasthttp.StatusOK, "", "", "")
		} else {
			d.backendAction(ctx, r)
		}
	case strings.HasPrefix(path, "/settings/webhooks/") && d.cfg.Webhooks != nil && get:
		d.deliveriesPage(ctx, r, strings.TrimPrefix(path, "/settings/webhooks/"))
	case path == "/login/code" && r.s.Stage == stageCode:
		if get {
			d.codePage(ctx, r, fasthttp.StatusOK, "")
		} else {
			d.checkCode(ctx, r)
		}
	case path == "/settings/security":
		if get {
			d.securityPage(ctx, r, fasthttp.StatusOK, "")
		} else {
			d.enrol(ctx, r)
		}
	case path == "/settings/password":
		if get {
			d.passwordPage(ctx, r, fasthttp.StatusOK, "", "")
		} else {
			d.changePassword(ctx, r)
		}
	default:
		d.notFound(ctx, r)
	}
}

// logo serves the admin's tenant's logo.
func (d *Dashboard) logo(ctx *fasthttp.RequestCtx, r *request) {
	l, err := d.store.Logo(web.Detach(ctx), r.tenant)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	if l == nil {
		setHeaders(ctx)
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	setHeaders(ctx)
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'")
	ctx.Response.Header.Set("Cache-Control", "private, max-age=3600")
	ctx.SetContentType(l.ContentType)
	ctx.SetBody(l.Data)
}

// peerAddr is the request's TCP peer (0.0.0.0 when it has none).
func peerAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if t, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(t.IP); ok {
			return a.Unmap()
		}
	}
	return netip.IPv4Unspecified()
}
