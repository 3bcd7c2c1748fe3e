// Package dashboard serves the tenant dashboard on dashboard.<base-domain>: tenant admins sign in
// with an email and password (argon2id, lockout with back-off, package tenants), find customers,
// send or copy single-use portal links, and manage their branding, portal defaults, custom domains,
// webhooks and API keys.
//
// Pages are rendered on the server with html/template and run no script (the Content Security
// Policy forbids it), in the portal's look. The admin's session is a cookie sealed with the
// session keyring (AES-GCM, additional data "dashboard:<tenantID>"), HttpOnly, SameSite=Strict,
// Secure and __Host- prefixed unless Config.Dev, valid for 8 hours; it carries the tenant id, the
// admin's email and the CSRF token every form posts back. The tenant an admin sees comes from that
// sealed session only, never from a form or a URL. Every POST also needs an Origin header equal to
// the dashboard's own origin.
//
// The package reads and writes state through package tenants (and links, domains, mail and the
// WebhookPages interface); it owns no etcd keys. It does not own the host dispatch: the gateway
// hands it every request for the dashboard host.
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-billing/portico/gateway/domains"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/mail"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/plugins/format"
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
	// Keyring seals admin sessions. Leave it nil: the dashboard then keeps its own keyring in step
	// with the store's sealing keys (as the gateway does with its own).
	Keyring *session.Keyring
	// Mail sends portal-link emails; nil shows "email is not configured" (Copy link still works).
	Mail *mail.Sender
	// Domains verifies custom domains (default: a verifier with the system resolver).
	Domains *domains.Verifier
	// Webhooks backs the webhook pages; nil hides them.
	Webhooks WebhookPages
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
	// MaxLinksPerHour is how many portal-link emails one customer may be sent per clock hour,
	// across all instances (default 5).
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
	cfg    Config
	store  *tenants.Store
	log    *slog.Logger
	search *searchIndexes

	cookieName, loginCookieName string

	keyring *session.Keyring
	ownKeys bool
	keyGen  atomic.Uint64
	keyMu   sync.Mutex
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
	if cfg.MaxLinksPerHour <= 0 {
		cfg.MaxLinksPerHour = 5
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
		cfg: cfg, store: cfg.Store, log: cfg.Logger,
		search:          newSearchIndexes(cfg.Store, cfg.Logger, cfg.SearchIdle),
		cookieName:      "__Host-portico_admin",
		loginCookieName: "__Host-portico_login",
		keyring:         cfg.Keyring,
	}
	if cfg.Dev {
		d.cookieName, d.loginCookieName = "portico_admin", "portico_login"
	}
	if d.keyring == nil {
		d.keyring, d.ownKeys = new(session.Keyring), true
		if err := d.syncKeys(); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Close stops the search indexes' watches.
func (d *Dashboard) Close() { d.search.close() }

// syncKeys rebuilds the dashboard's own keyring when the store's sealing keys changed.
func (d *Dashboard) syncKeys() error {
	if !d.ownKeys {
		return nil
	}
	gen := d.store.SealKeysGen()
	if d.keyGen.Load() == gen && gen != 0 {
		return nil
	}
	d.keyMu.Lock()
	defer d.keyMu.Unlock()
	sk := d.store.SealKeys()
	if len(sk) == 0 {
		return errors.New("dashboard: no session sealing key in the store (EnsureSealKey)")
	}
	keys := make([]*session.Key, 0, len(sk))
	for _, k := range sk {
		key, err := session.NewKey(k.ID, k.Key)
		if err != nil {
			return fmt.Errorf("dashboard: loading sealing key %q: %w", k.ID, err)
		}
		keys = append(keys, key)
	}
	d.keyring.Set(keys)
	d.keyGen.Store(gen)
	return nil
}

var (
	//go:embed web
	webFS embed.FS

	// dashboardCSS is the base stylesheet shared with the portal, then the dashboard's own rules.
	dashboardCSS = append(append(append([]byte{}, web.CSS...), '\n'), mustRead("web/dashboard.css")...)
	cssVersion   = func() string { s := sha256.Sum256(dashboardCSS); return hex.EncodeToString(s[:6]) }()
	pages        = template.Must(template.New("").Funcs(funcs).ParseFS(webFS, "web/*.html"))
)

func mustRead(name string) []byte {
	b, err := webFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

var funcs = template.FuncMap{
	"money": format.Money,
	"date":  func(d account.Date, locale string) string { return format.Date(d, locale) },
	"time":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 MST") },
	"since": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2 Jan 2006, 15:04 MST")
	},
	"number":     func(n int) string { return format.Number(int64(n), "en") },
	"pathEscape": url.PathEscape,
	"statusClass": func(s string) string {
		return "status-" + strings.ReplaceAll(s, "_", "-")
	},
	"label": func(s string) string {
		s = strings.ReplaceAll(s, "_", " ")
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"ratio": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) + ":1" },
}

// view is what every page template gets.
type view struct {
	Title      string
	Nav        string // the active navigation entry
	CSSVersion string
	Tenant     *tenants.Tenant
	Admin      string
	CSRF       string
	Webhooks   bool
	Flash      string // a success message
	Error      string // a failure message
	Data       any
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

// render writes the page template name with v.
func (d *Dashboard) render(ctx *fasthttp.RequestCtx, status int, name string, v *view) {
	v.CSSVersion = cssVersion
	var out bytes.Buffer
	if err := pages.ExecuteTemplate(&out, name, v); err != nil {
		d.log.Error("dashboard: rendering page", "page", name, "err", err)
		out.Reset()
		status = fasthttp.StatusInternalServerError
		_ = pages.ExecuteTemplate(&out, "message", &view{Title: "Something went wrong", CSSVersion: cssVersion,
			Data: "The page could not be shown. Please try again in a moment."})
	}
	setHeaders(ctx)
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// message writes a page with a title and one paragraph; r may be nil (signed out).
func (d *Dashboard) message(ctx *fasthttp.RequestCtx, r *request, status int, title, text string) {
	v := &view{Title: title, Data: text}
	if r != nil {
		v = r.view("", title)
		v.Data = text
	}
	d.render(ctx, status, "message", v)
}

func (d *Dashboard) unavailable(ctx *fasthttp.RequestCtx, r *request, err error) {
	d.log.Warn("dashboard: store unavailable", "err", err)
	ctx.Response.Header.Set("Retry-After", "5")
	d.message(ctx, r, fasthttp.StatusServiceUnavailable, "Temporarily unavailable", "Portico cannot reach its database right now. Please try again in a minute.")
}

func (d *Dashboard) notFound(ctx *fasthttp.RequestCtx, r *request) {
	d.message(ctx, r, fasthttp.StatusNotFound, "Page not found", "This page does not exist.")
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
	case get && (path == "/favicon.ico" || path == "/robots.txt"):
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
		d.message(ctx, nil, fasthttp.StatusForbidden, "Your session has ended", "Please sign in again; nothing was changed.")
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
	case strings.HasPrefix(path, "/settings/webhooks/") && d.cfg.Webhooks != nil && get:
		d.deliveriesPage(ctx, r, strings.TrimPrefix(path, "/settings/webhooks/"))
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
	l, err := d.store.Logo(ctx, r.tenant)
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
