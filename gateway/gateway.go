// Package gateway is Portico's fasthttp edge. It dispatches each request on its Host header: the
// tenant API on api.<base-domain>, a tenant's portal on <slug>.<base-domain>. The portal handlers
// redeem single-use links into sealed session cookies and serve the customer page, which is
// rendered once per account and tenant revision by the section plugins and then served from
// memory without allocating. The gateway reads and writes state only through package tenants and
// renders only through package plugins.
package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/router"
	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/invoicedoc"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/valyala/fasthttp"
)

// Config configures a Gateway. Store is required; every other field has a usable zero value.
type Config struct {
	// Store is the data layer; required.
	Store *tenants.Store
	// BaseDomain hosts the API (api.<base>), the dashboard and tenant portals (<slug>.<base>)
	// (default "portal.localhost").
	BaseDomain string
	// PublicScheme is the scheme of the URLs Portico hands out: "https" (default) or "http".
	PublicScheme string
	// PublicPort is the port of the URLs Portico hands out (default: none, the scheme's port).
	PublicPort int
	// Dev allows plain-HTTP development: cookies lose the __Host- prefix and the Secure flag, so
	// browsers keep them on http://. Never set it in production (default false).
	Dev bool
	// Logger receives request errors (default slog.Default()). Tokens and cookies are never logged.
	Logger *slog.Logger
	// Now returns the current time (default time.Now); tests move it.
	Now func() time.Time
	// Keyring seals and opens session cookies and sealed API replies (default: a keyring following
	// Store's sealing keys). cmd/portico builds one and shares it with webhooks and the dashboard.
	Keyring *keyring.Keyring
	// Issuer issues portal sessions for the API (default: one over Store, Keyring and the public
	// URLs of BaseDomain, PublicScheme and PublicPort, whose URLs it must have if set).
	Issuer *links.Issuer
	// Webhooks manages tenants' webhook endpoints for the API (default: none, the routes answer
	// 501). Its delivery (Start/Stop) is run by the caller.
	Webhooks *webhooks.Service
	// Backend registers and calls tenants' backends (the tenant backend protocol; default: none,
	// the /v1/backend routes answer 501).
	Backend *backend.Service
	// Dashboard serves dashboard.<BaseDomain> (default: none, the host answers 404).
	Dashboard fasthttp.RequestHandler
	// PortalLinkMailer emails portal links for POST /v1/accounts/{id}/portal-link (default: none,
	// the route answers 503).
	PortalLinkMailer PortalLinkMailer
	// SignInMail sends the emails of sign in by email (tenants.Tenant.EmailSignIn; default: none,
	// the sign-in page answers as always and no email is sent, which is logged).
	SignInMail *mail.Sender
	// Limits bounds redemptions per client address and API requests per key (defaults in Limits).
	Limits Limits
	// TrustedProxies are the address ranges of the proxies in front of the gateway (default:
	// none, every request is its TCP peer's). A request whose peer is in one of them is the
	// client's that the proxy states in ProxyHeader (ClientAddr); limits, audit entries and logs
	// use that address.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the header trusted proxies state the client in: HeaderXForwardedFor
	// (default) or HeaderForwarded. Only that one is read: a proxy that writes one passes the
	// other through from the client as it came.
	ProxyHeader string
	// Metrics receives request metrics (default: none).
	Metrics *Metrics
	// Domains verifies custom domains for the API (default: a verifier using the system resolver
	// and <slug>.<BaseDomain> as the CNAME target).
	Domains *domains.Verifier
	// PDFCJKFont is the TrueType font file invoice PDFs set Japanese text in (default: the first
	// usable one of IPAex Gothic, IPA Gothic and fonts-japanese-gothic.ttf at their Debian and
	// Ubuntu paths, see invoicedoc.Input.CJKFont; with none, New logs a warning and Japanese
	// invoice PDFs are written in English). A font set here that cannot be used fails New.
	PDFCJKFont string
}

// Body size limits.
const (
	// MaxAPIBody bounds API request bodies (account documents have their own, smaller limit:
	// account.MaxDocumentSize).
	MaxAPIBody = 1 << 20
	// MaxFormBody bounds portal form posts.
	MaxFormBody = 64 << 10
	// maxServerBody is what the server reads at all; above it fasthttp refuses the request. It
	// leaves room for the dashboard's logo uploads, which the dashboard refuses with a page of its
	// own above 800 KB; API and portal handlers check their own, smaller limits.
	maxServerBody = 8 << 20
)

// Gateway serves every host Portico answers for.
type Gateway struct {
	cfg     Config
	store   *tenants.Store
	plans   planStore
	log     *slog.Logger
	urls    links.URLs
	issuer  *links.Issuer
	keyring *keyring.Keyring

	apiHost    string
	dashHost   string
	slugSuffix string // "." + base domain

	cookieName string
	api        *router.Router
	// routes are the sections' actions (plugins.Routes), fixed at start.
	routes []plugins.Route

	scratch sync.Pool // *reqScratch

	proxies                   proxies
	redeemLimit, failedTokens *limiter[[16]byte] // by clientKey
	apiLimit                  *limiter[string]   // by API key id
	signIns                   signInQueue
	// alertSlots bounds the usage-alert checks running (alerts.go); alertChecks counts them.
	alertSlots  chan struct{}
	alertChecks sync.WaitGroup
}

// reqScratch is per-request working memory, reused through a pool.
type reqScratch struct {
	class int // route class, for metrics
	host  [256]byte
	key   [512]byte
	sc    session.Scratch
	s     session.Session
}

// New returns a gateway for cfg. The store's sealing keys must exist (tenants.Store.EnsureSealKey).
func New(cfg Config) (*Gateway, error) {
	if cfg.Store == nil {
		return nil, errors.New("gateway: Config.Store is nil")
	}
	routes, err := sectionRoutes()
	if err != nil {
		return nil, err
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = "portal.localhost"
	}
	cfg.BaseDomain = strings.ToLower(strings.TrimSuffix(cfg.BaseDomain, "."))
	if cfg.PublicScheme == "" {
		cfg.PublicScheme = "https"
	}
	if cfg.PublicScheme != "https" && cfg.PublicScheme != "http" {
		return nil, fmt.Errorf("gateway: public scheme %q is not http or https", cfg.PublicScheme)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// Load the font now rather than on the first Japanese invoice PDF, and report a missing one.
	switch file, err := invoicedoc.LoadCJKFont(cfg.PDFCJKFont); {
	case err != nil && cfg.PDFCJKFont != "":
		return nil, fmt.Errorf("gateway: PDF CJK font: %w", err)
	case err != nil:
		cfg.Logger.Warn("gateway: no CJK font: Japanese invoice PDFs are written in English", "err", err)
	default:
		cfg.Logger.Debug("gateway: CJK font of invoice PDFs", "file", file)
	}
	g := &Gateway{
		routes: routes,
		cfg:    cfg, store: cfg.Store, plans: cfg.Store, log: cfg.Logger,
		urls:       links.URLs{Scheme: cfg.PublicScheme, BaseDomain: cfg.BaseDomain, Port: cfg.PublicPort},
		apiHost:    "api." + cfg.BaseDomain,
		dashHost:   "dashboard." + cfg.BaseDomain,
		slugSuffix: "." + cfg.BaseDomain,
		cookieName: "__Host-portico_session",
		alertSlots: make(chan struct{}, maxAlertChecks),
	}
	if cfg.Dev {
		g.cookieName = "portico_session"
	}
	if cfg.Domains == nil {
		g.cfg.Domains = &domains.Verifier{Store: cfg.Store, BaseDomain: cfg.BaseDomain, Logger: cfg.Logger, Now: cfg.Now}
	}
	if g.proxies, err = newProxies(cfg.TrustedProxies, cfg.ProxyHeader); err != nil {
		return nil, err
	}
	lim := cfg.Limits.withDefaults()
	g.redeemLimit = newLimiter[[16]byte](lim.RedeemsPerMinute/60, 20, lim.MaxClients)
	g.failedTokens = newLimiter[[16]byte](lim.FailedTokensPerHour/3600, 10, lim.MaxClients)
	g.apiLimit = newLimiter[string](lim.APIPerSecond, 200, lim.MaxClients)
	g.scratch.New = func() any { return new(reqScratch) }
	if g.keyring = cfg.Keyring; g.keyring == nil {
		if g.keyring, err = keyring.Follow(cfg.Store); err != nil {
			return nil, fmt.Errorf("gateway: loading sealing keys: %w", err)
		}
	}
	if g.issuer = cfg.Issuer; g.issuer == nil {
		g.issuer = &links.Issuer{Store: cfg.Store, URLs: g.urls, Keyring: g.keyring, Now: cfg.Now}
	} else if g.issuer.URLs != g.urls {
		return nil, fmt.Errorf("gateway: Config.Issuer hands out %s, the gateway serves %s", g.issuer.URLs.API(), g.urls.API())
	}
	g.api = g.apiRouter()
	return g, nil
}

// URLs returns the builder of the gateway's public URLs.
func (g *Gateway) URLs() links.URLs { return g.urls }

// Issuer returns the session issuer the gateway's API uses.
func (g *Gateway) Issuer() *links.Issuer { return g.issuer }

// PortalLinkMailer emails a new portal link to an account's billing email (links.Emailer, whose
// errors it returns). Locale, when not empty, is the language of the email and of the portal
// session (a BCP 47 tag; a malformed one gives an error matching links.ErrBadLocale); empty means
// the account's, else the tenant's.
type PortalLinkMailer interface {
	EmailPortalLink(ctx context.Context, t *tenants.Tenant, accountID, locale, createdBy string) (*links.Result, string, error)
}

// Keyring returns the gateway's sealing keyring.
func (g *Gateway) Keyring() *keyring.Keyring { return g.keyring }

// Server returns a fasthttp server for the gateway with Portico's limits and error handling.
func (g *Gateway) Server() *fasthttp.Server {
	return &fasthttp.Server{
		Handler:                       g.Handler,
		Name:                          "portico",
		MaxRequestBodySize:            maxServerBody,
		ReadBufferSize:                8 << 10,
		ReadTimeout:                   30 * time.Second,
		WriteTimeout:                  30 * time.Second,
		IdleTimeout:                   90 * time.Second,
		DisableHeaderNamesNormalizing: false,
		NoDefaultServerHeader:         true,
		NoDefaultDate:                 false,
		ErrorHandler:                  g.serverError,
		Logger:                        fasthttpLogger{g.log},
		CloseOnShutdown:               true,
	}
}

// serverError answers requests fasthttp could not parse (too large, malformed) with a detail.
func (g *Gateway) serverError(ctx *fasthttp.RequestCtx, err error) {
	status, detail := fasthttp.StatusBadRequest, "malformed HTTP request"
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		status, detail = fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("request body exceeds %d bytes", MaxAPIBody)
	} else if strings.Contains(err.Error(), "timeout") {
		status, detail = fasthttp.StatusRequestTimeout, "request not received in time"
	}
	writeProblem(ctx, status, detail)
}

type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}

// Handler dispatches on the Host header.
func (g *Gateway) Handler(ctx *fasthttp.RequestCtx) {
	start := time.Now()
	rs := g.scratch.Get().(*reqScratch)
	rs.class = classUnknownHost
	host := normalizeHost(rs.host[:0], ctx.Host())
	switch {
	case string(host) == g.apiHost:
		rs.class = classAPI
		g.api.Handler(ctx)
	case string(host) == g.dashHost && g.cfg.Dashboard != nil:
		rs.class = classDashboard
		g.cfg.Dashboard(ctx)
	case bytes.HasSuffix(host, []byte(g.slugSuffix)):
		slug := host[:len(host)-len(g.slugSuffix)]
		t, ok := g.store.TenantBySlugBytes(slug)
		if !ok {
			g.unknownHost(ctx)
			break
		}
		g.servePortal(ctx, t, rs)
	default:
		t, ok := g.store.TenantByDomainBytes(host)
		if !ok {
			g.unknownHost(ctx)
			break
		}
		g.servePortal(ctx, t, rs)
	}
	g.cfg.Metrics.observe(rs.class, ctx, start)
	g.scratch.Put(rs)
}

// normalizeHost lower-cases host into dst, dropping the port and a trailing dot.
func normalizeHost(dst, host []byte) []byte {
	if len(host) > cap(dst) { // no host name is that long; keep the scratch buffer bounded
		host = host[:cap(dst)]
	}
	if len(host) > 0 && host[0] == '[' { // IPv6 literal: never a tenant
		return append(dst, host...)
	}
	if i := bytes.IndexByte(host, ':'); i >= 0 { // a host name never holds a colon: what follows is the port
		host = host[:i]
	}
	host = bytes.TrimSuffix(host, []byte("."))
	if len(host) > cap(dst) {
		host = host[:cap(dst)]
	}
	for _, c := range host {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// unknownHost answers a host that is no tenant's: a plain 404 naming no tenant.
func (g *Gateway) unknownHost(ctx *fasthttp.RequestCtx) {
	g.errorPage(ctx, nil, fasthttp.StatusNotFound, "Not found", "There is no billing portal at this address.")
}
