package gateway

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/internal/bytesconv"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// Security headers of every portal response. The page runs no script at all; it can be framed
// only by the origins the tenant allows (by nobody unless it says so); it never leaks its URL
// (which may hold a link token) to another site.
const headerCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors "

// cspFor is the tenant's Content-Security-Policy, built once per tenant revision (memo slot 1).
func cspFor(t *tenants.Tenant) string {
	if t == nil {
		return headerCSP + "'none'"
	}
	if v, ok := t.Memo[1].Load().(string); ok {
		return v
	}
	v := headerCSP + "'none'"
	if len(t.FrameAncestors) > 0 {
		v = headerCSP + strings.Join(t.FrameAncestors, " ")
	}
	t.Memo[1].Store(v)
	return v
}

func setPortalHeaders(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", cspFor(t))
	// same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with form
	// posts, which the CSRF origin check must refuse. Token URLs get no-referrer (redeem).
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	if t == nil || len(t.FrameAncestors) == 0 {
		h.Set("X-Frame-Options", "DENY")
	}
}

// servePortal serves a tenant's portal host.
func (g *Gateway) servePortal(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	path := ctx.Path()
	get := ctx.IsGet() || ctx.IsHead()
	rs.class = classAsset
	switch {
	case get && string(path) == "/":
		rs.class = classPage
		g.customerPage(ctx, t, rs)
	case bytes.HasPrefix(path, []byte("/sign-in")):
		rs.class = classRedeem
		g.serveSignIn(ctx, t, path)
	case (get || ctx.IsPost()) && bytes.HasPrefix(path, []byte("/s/")):
		rs.class = classRedeem
		g.redeem(ctx, t, path[len("/s/"):])
	case string(path) == "/logout" && ctx.IsPost():
		rs.class = classAction
		g.logout(ctx, t, rs)
	case get && string(path) == "/assets/portal.css":
		serveAsset(ctx, "text/css; charset=utf-8", portalCSS)
	case get && string(path) == "/assets/theme.css":
		serveAsset(ctx, "text/css; charset=utf-8", themeCSS(t))
	case get && string(path) == "/assets/logo":
		g.logo(ctx, t)
	case get && string(path) == "/assets/icon.png":
		serveAsset(ctx, "image/png", web.Icon)
	case get && string(path) == "/favicon.ico":
		g.favicon(ctx, t)
	case g.serveAction(ctx, t, rs):
		rs.class = classAction
	default:
		l := requestLang(ctx, t)
		if g.openSession(ctx, t, rs) {
			l = g.langOf(ctx, t, rs)
			// A page inside a session is personal (its language, its links): never cached.
			ctx.Response.Header.Set("Cache-Control", "no-store")
		}
		g.messagePage(ctx, t, l, fasthttp.StatusNotFound, "error.pageNotFound")
	}
}

// serveAsset serves static bytes; the URL carries a version, so they may be cached for a year.
func serveAsset(ctx *fasthttp.RequestCtx, contentType string, body []byte) {
	ctx.Response.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.SetContentType(contentType)
	ctx.SetBody(body)
}

// openSession opens the request's session cookie for the tenant into rs.
func (g *Gateway) openSession(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	cookie := ctx.Request.Header.Cookie(g.cookieName)
	if len(cookie) == 0 {
		return false
	}
	if err := g.keyring.Sync(); err != nil {
		g.log.Error("gateway: loading sealing keys", "err", err)
		return false
	}
	if session.Open(g.keyring, t.ID, cookie, g.cfg.Now().Unix(), &rs.sc, &rs.s) != nil {
		return false
	}
	// Revoked sessions and sessions of an account whose sessions were all revoked: the watched
	// revocation set answers from memory, without allocating.
	key := append(rs.key[:0], t.ID...)
	key = append(key, '/')
	key = append(key, rs.s.ID...)
	if g.store.SessionRevoked(bytesconv.String(key)) {
		return false
	}
	key = append(key[:len(t.ID)+1], rs.s.AccountID...)
	if at := g.store.AccountRevokedAt(bytesconv.String(key)); at != 0 && rs.s.Issued <= at {
		return false
	}
	// A member's session ends when the member is removed or given a lower role.
	if len(rs.s.Member) > 0 {
		key = append(key, '/')
		key = append(key, rs.s.Member...)
		if at := g.store.MemberRevokedAt(bytesconv.String(key)); at != 0 && rs.s.Issued <= at {
			return false
		}
	}
	return true
}

// customerPage serves GET / — the hot path. With the account's snapshot and the rendered page in
// memory it reads no etcd and allocates nothing: host lookup in the tenant index, cookie opened
// into pooled scratch, snapshot from the cache by a key built in scratch, page parts copied out
// with the session's CSRF token (and the back link of a return cookie) between them. The page is
// rendered in the session's language (resolveLocale), which its cache key includes.
func (g *Gateway) customerPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !g.openSession(ctx, t, rs) {
		if t.EmailSignIn {
			g.signInPage(ctx, t, requestLang(ctx, t), fasthttp.StatusOK, "")
			return
		}
		g.sessionEnded(ctx, t)
		return
	}
	s := &rs.s
	key := append(rs.key[:0], t.ID...)
	key = append(key, '/')
	key = append(key, s.AccountID...)
	now := g.cfg.Now()
	snap, ok := g.store.CachedAccount(bytesconv.String(key))
	if !ok || !snap.Current(t, now) {
		// Not cached, or a source-mode copy past its TTL (revalidated by Account).
		var err error
		snap, err = g.store.Account(web.Detach(ctx), t.ID, string(s.AccountID))
		if errors.Is(err, tenants.ErrAccountNotFound) {
			g.messagePage(ctx, t, sessionLang(string(s.Locale), nil, t), fasthttp.StatusNotFound, "error.accountNotFound")
			return
		}
		if errors.Is(err, tenants.ErrSourceUnavailable) {
			g.log.Warn("gateway: the account source is not answering", "tenant", t.Slug, "err", err)
			ctx.Response.Header.Set("Retry-After", "30")
			g.messagePage(ctx, t, sessionLang(string(s.Locale), nil, t), fasthttp.StatusServiceUnavailable, "error.sourceUnavailable")
			return
		}
		if err != nil {
			g.unavailable(ctx, t, sessionLang(string(s.Locale), nil, t), err)
			return
		}
	}
	var notice []byte
	if snap.Expired(now) {
		// A source-mode copy its source did not revalidate: served, saying from when.
		notice = staleNotice(sessionLang(string(s.Locale), snap, t), snap.FetchedAt())
		ctx.Response.Header.Set("X-Portico-Degraded", "source-unreachable")
	}
	day := now.Unix() / 86400
	hasBackend := g.hasBackend(t)
	catVer := g.store.CatalogVersion(t.ID)
	p := cachedPage(snap, t, s, day, hasBackend, catVer)
	g.cfg.Metrics.pageLookup(p != nil)
	if p == nil {
		// The catalog (change policy: pause) only for a render, read after its version; when it
		// cannot be read the page is rendered without it and not kept.
		cat, catErr := g.plans.Catalog(web.Detach(ctx), t.ID)
		if catErr != nil {
			g.log.Warn("gateway: rendering the customer page without the catalog", "tenant", t.Slug, "err", catErr)
			cat = nil
		}
		// A cached snapshot is compact (its document compressed): decoded only to render.
		full, err := snap.Decoded()
		if err == nil {
			p, err = g.renderPage(t, full, s, now, hasBackend, cat)
		}
		if err != nil {
			g.log.Error("gateway: rendering customer page", "tenant", t.Slug, "err", err)
			g.messagePageText(ctx, t, sessionLang(string(s.Locale), snap, t), fasthttp.StatusInternalServerError, "error.internal.title", "error.internal.page")
			return
		}
		if catErr == nil {
			storePage(snap, t, s, day, hasBackend, catVer, p)
		}
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if !g.store.Watching() {
		// The watch is down (etcd unreachable): this page may be behind the tenant's data.
		ctx.Response.Header.Set("X-Portico-Degraded", "store-unreachable")
	}
	ctx.SetContentType("text/html; charset=utf-8")
	g.writePage(ctx, t, p, s, notice)
}

// tooMany answers 429 with Retry-After.
func (g *Gateway) tooMany(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, wait time.Duration) {
	ctx.Response.Header.Set("Retry-After", retryAfter(wait))
	g.messagePage(ctx, t, l, fasthttp.StatusTooManyRequests, "error.tooMany")
}

// sessionEnded answers 401 for a request without a (valid) session, in the browser's language.
func (g *Gateway) sessionEnded(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusUnauthorized, "error.sessionEnded")
}

func (g *Gateway) unavailable(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, err error) {
	g.log.Warn("gateway: store unavailable", "tenant", t.Slug, "err", err)
	ctx.Response.Header.Set("Retry-After", "5")
	g.messagePage(ctx, t, l, fasthttp.StatusServiceUnavailable, "error.unavailable")
}

// redeem answers a link's URL. GET consumes a redirect link (tenants.LinkKindRedirect) and starts
// a session: 303 to / (or to the step of the link's flow, links.Landing) with the sealed cookie,
// and the return cookie of the link's returnUrl. GET of an emailed link (tenants.LinkKindEmail)
// consumes nothing and shows the Continue page, whose POST (checked by checkContinue) consumes the
// link and starts the session as GET does for a redirect link. HEAD never consumes a link: it
// answers as the Continue page would, without any cookie. Pages before the session exists are in
// the browser's language; the Continue page is in the link's.
//
// The limits never stop a valid link: every token is looked up (one etcd read; only a valid
// link's redemption writes), and a client over its redemption or failed-token budget is only
// answered 429 instead of 404 or 410 when its token is not a valid link. A budget kept by refusing
// before the lookup would refuse the next valid link of whoever shares the address, or reloaded a
// used link; what it would save is one read, and guessing is no threat to 256-bit tokens.
func (g *Gateway) redeem(ctx *fasthttp.RequestCtx, t *tenants.Tenant, token []byte) {
	now := g.cfg.Now()
	client := g.ClientAddr(ctx)
	key := clientKey(client)
	over, wait := g.failedTokens.blocked(key, now)
	if ok, w := g.redeemLimit.allow(key, now); !ok && !over {
		over, wait = true, w
	}
	if ctx.IsPost() && !g.checkContinue(ctx, t) {
		return
	}
	var l *tenants.Link
	var err error
	if ctx.IsHead() {
		l, err = g.store.PeekLink(web.Detach(ctx), t.ID, string(token), now)
	} else {
		l, err = g.store.RedeemLink(web.Detach(ctx), t.ID, string(token), now, tenants.RedeemInfo{IP: client.String(), UserAgent: string(ctx.UserAgent()), Confirmed: ctx.IsPost()})
		if !errors.Is(err, tenants.ErrLinkNeedsConfirmation) {
			g.cfg.Metrics.redeemed(redeemResult(err))
		}
	}
	if errors.Is(err, tenants.ErrLinkUsed) || errors.Is(err, tenants.ErrLinkExpired) || errors.Is(err, tenants.ErrLinkNotFound) {
		if over {
			g.tooMany(ctx, t, requestLang(ctx, t), wait)
			return
		}
		g.failedTokens.allow(key, now) // count the failure
		if last, _ := g.failedTokens.blocked(key, now); last {
			g.log.Warn("gateway: client out of its failed-token budget", "tenant", t.Slug, "client", client)
		}
	}
	switch {
	case g.linkFailed(ctx, t, err):
		return
	case errors.Is(err, tenants.ErrLinkNeedsConfirmation) || err == nil && ctx.IsHead():
		g.continuePage(ctx, t, l, now)
		return
	case err != nil:
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	g.startSession(ctx, t, l, now)
}

// startSession answers a redeemed link: 303 to / (or to the step of the link's flow) with the
// sealed session cookie, and the return cookie of the link's returnUrl.
func (g *Gateway) startSession(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l *tenants.Link, now time.Time) {
	g.startSessionAs(ctx, t, l, now, nil)
}

// startSessionAs is startSession for the member m of the account (nil: the holder, an owner
// session): the session carries the member and its role, and its switches are masked by the
// role (plugins.ForRole).
func (g *Gateway) startSessionAs(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l *tenants.Link, now time.Time, m *tenants.Member) {
	s := &session.Session{
		ID: []byte(l.SessionID), AccountID: []byte(l.AccountID), Locale: []byte(l.Locale),
		Switches: uint32(plugins.SessionSwitches(l.Switches, l.Settings)), Expires: now.Add(l.SessionTTL.D()).Unix(), Issued: now.Unix(), CSRF: session.NewCSRF(),
		Role: uint8(plugins.RoleOwner),
	}
	if m != nil {
		role, _ := plugins.RoleOf(m.Role) // an unknown role reads as viewer
		s.Member, s.Role = []byte(m.ID), uint8(role)
		s.Switches = uint32(plugins.ForRole(plugins.Switches(s.Switches), role))
	}
	if err := g.keyring.Sync(); err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	value, err := session.Seal(g.keyring, t.ID, s)
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	// The return cookie first: the session cookie stays the last Set-Cookie of the response.
	if l.ReturnURL != "" && links.ReturnURLAllowed(links.ReturnHosts(t), []byte(l.ReturnURL)) {
		g.setReturnCookie(ctx, l.ReturnURL, int(l.SessionTTL.D().Seconds()))
	} else if len(ctx.Request.Header.Cookie(g.returnCookieName())) > 0 {
		g.setReturnCookie(ctx, "", 0) // a previous session's
	}
	g.setCookie(ctx, g.cookieName, value, int(l.SessionTTL.D().Seconds()), fasthttp.CookieSameSiteLaxMode)
	signInRedirect(ctx, t, links.Landing(t, l.Flow))
}

// signInRedirect answers a sign-in step (a redeemed link, a used sign-in by email) with a 303 to
// location: never cached, and without a Referer, since the URL it answers may hold a token.
func signInRedirect(ctx *fasthttp.RequestCtx, t *tenants.Tenant, location string) {
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Location", location)
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// linkFailed answers a link that cannot be used (tenants.ErrLinkUsed, ErrLinkExpired,
// ErrLinkNotFound: 410, 410, 404) and reports whether err was one of them.
func (g *Gateway) linkFailed(ctx *fasthttp.RequestCtx, t *tenants.Tenant, err error) bool {
	switch {
	case errors.Is(err, tenants.ErrLinkUsed):
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusGone, "error.linkUsed")
	case errors.Is(err, tenants.ErrLinkExpired):
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusGone, "error.linkExpired")
	case errors.Is(err, tenants.ErrLinkNotFound):
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.linkInvalid")
	default:
		return false
	}
	return true
}

func redeemResult(err error) string {
	switch {
	case err == nil:
		return redeemOK
	case errors.Is(err, tenants.ErrLinkUsed):
		return redeemUsed
	case errors.Is(err, tenants.ErrLinkExpired):
		return redeemExpired
	case errors.Is(err, tenants.ErrLinkNotFound):
		return redeemNotFound
	}
	return redeemError
}

// checkForm verifies a portal form post: the request comes from the portal's own origin and
// carries the session's CSRF token. It answers 403 itself when not.
func (g *Gateway) checkForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	if len(ctx.PostBody()) > MaxFormBody {
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusRequestEntityTooLarge, "error.tooLarge")
		return false
	}
	origin := ctx.Request.Header.Peek("Origin")
	want := append(rs.key[:0], g.cfg.PublicScheme...)
	want = append(want, "://"...)
	want = append(want, ctx.Host()...)
	if !bytes.Equal(origin, want) {
		g.messagePageText(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusForbidden, "error.refused.title", "error.refused.origin")
		return false
	}
	if subtle.ConstantTimeCompare(ctx.PostArgs().Peek(plugins.CSRFFieldName), rs.s.CSRF[:]) != 1 {
		g.messagePageText(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusForbidden, "error.refused.title", "error.refused.expired")
		return false
	}
	return true
}

// logout ends the session: the cookie is cleared and a page says so.
func (g *Gateway) logout(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !g.openSession(ctx, t, rs) {
		g.sessionEnded(ctx, t)
		return
	}
	if !g.checkForm(ctx, t, rs) {
		return
	}
	// Revoke the session too, so that a copy of the cookie stops working everywhere.
	if err := g.store.RevokeSession(web.Detach(ctx), t.ID, string(rs.s.ID), g.cfg.Now()); err != nil {
		g.unavailable(ctx, t, g.cachedLangOf(t, rs), err)
		return
	}
	l := g.langOf(ctx, t, rs)
	entry := tenants.AuditEntry{Type: tenants.AuditLoggedOut, At: g.cfg.Now(), IP: g.ClientAddr(ctx).String()}
	if len(rs.s.Member) > 0 {
		if m, err := g.store.Member(web.Detach(ctx), t.ID, string(rs.s.AccountID), string(rs.s.Member)); err == nil {
			entry.Member = m.Email
		}
	}
	if err := g.store.RecordAudit(web.Detach(ctx), t.ID, string(rs.s.ID), entry); err != nil {
		g.log.Warn("gateway: recording sign-out", "tenant", t.Slug, "err", err)
	}
	// The signed-out page still offers the way back; the return cookie ends with the session.
	ret := g.returnURL(ctx, t)
	if len(ctx.Request.Header.Cookie(g.returnCookieName())) > 0 {
		g.setReturnCookie(ctx, "", 0)
	}
	g.setCookie(ctx, g.cookieName, "", -1, fasthttp.CookieSameSiteLaxMode)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	g.signedOut(ctx, t, l, ret)
}

// signedOut writes the signed-out page, with the back link of the ended session's return URL.
func (g *Gateway) signedOut(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, ret []byte) {
	c := newChrome(t, l, l.T("info.signedOut.title"))
	c.Message = l.T("info.signedOut.body")
	c.setBack(ret)
	var out bytes.Buffer
	if err := c.execute(&out, "message"); err != nil {
		g.log.Error("gateway: rendering message page", "err", err)
	}
	setPortalHeaders(ctx, t)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// favicon answers /favicon.ico, which browsers ask for on their own (the pages link the icon
// under a versioned URL): the tenant's logo, else the neutral icon, cached for a day because the
// URL never changes.
func (g *Gateway) favicon(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	l, err := g.store.Logo(web.Detach(ctx), t)
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	ctx.Response.Header.Set("Cache-Control", "public, max-age=86400")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'")
	if l == nil {
		ctx.SetContentType("image/png")
		ctx.SetBody(web.Icon)
		return
	}
	ctx.SetContentType(l.ContentType)
	ctx.SetBody(l.Data)
}

// logo serves the tenant's logo with its ETag; the URL is versioned by the same ETag.
func (g *Gateway) logo(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	l, err := g.store.Logo(web.Detach(ctx), t)
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	if l == nil {
		ctx.SetStatusCode(fasthttp.StatusNotFound)
		return
	}
	etag := `"` + l.ETag + `"`
	ctx.Response.Header.Set("ETag", etag)
	ctx.Response.Header.Set("Cache-Control", "public, max-age=31536000, immutable")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.Header.Set("Content-Security-Policy", "default-src 'none'")
	if string(ctx.Request.Header.Peek("If-None-Match")) == etag {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	ctx.SetContentType(l.ContentType)
	ctx.SetBody(l.Data)
}
