package gateway

import (
	"crypto/subtle"
	"time"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// The Continue page of emailed links (tenants.LinkKindEmail). Mail scanners (Safe Links,
// Mimecast, Proofpoint) and link previews GET every URL of a message before the person does, so
// the GET of an emailed link only shows this page; its button POSTs to the same URL, which
// redeems the link.
//
// The POST is a sign-in, and a forged one would be a login CSRF: another site making the
// visitor's browser redeem a link the attacker holds, signing the visitor into the attacker's
// account. The page cannot rely on Origin alone: it is served with Referrer-Policy: no-referrer
// (its URL holds the token), under which browsers send "Origin: null" with its form. So the
// page sets a random nonce in a SameSite=Strict, HttpOnly __Host- cookie and repeats it in a
// hidden field; the POST must carry both, equal (a cross-site POST carries no Strict cookie, and
// another site can neither read nor set it). An Origin other than "null" must be the portal's
// own, and a Sec-Fetch-Site other than same-origin is refused.

// continueField is the Continue form's field holding the nonce of the continue cookie.
const continueField = "confirm"

// continueCookieName is the cookie of the Continue page's nonce: __Host- and Secure like the
// session cookie, without both in Dev mode.
func (g *Gateway) continueCookieName() string {
	if g.cfg.Dev {
		return "portico_continue"
	}
	return "__Host-portico_continue"
}

// continuePage answers the GET (and the HEAD) of a link that is not redeemed by it: a branded page
// in the link's language with a "Continue to billing" button that POSTs to the same URL. The GET
// sets the continue cookie (keeping the nonce of one set before, so that two links opened in two
// tabs both work); HEAD sets no cookie.
func (g *Gateway) continuePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l *tenants.Link, now time.Time) {
	nonce := g.anonNonce(ctx, max(l.ExpiresAt.Sub(now), time.Minute))
	snap, _ := g.store.Account(web.Detach(ctx), t.ID, l.AccountID) // only for its language: none is fine
	g.continueForm(ctx, t, sessionLang(l.Locale, snap, t), nonce, "info.continue.title", "info.continue.body")
}

// continueForm writes a Continue page (the title and body keys, the tenant's name in the body)
// whose button posts the nonce to the page's own URL: the token of the URL is not repeated in the
// page, and the page sends no Referer.
func (g *Gateway) continueForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, nonce, titleKey, bodyKey string) {
	form := g.renderForm("anon-form", &anonForm{Nonce: nonce, Button: l.T("info.continue.button")})
	g.writeFormPage(ctx, t, l, fasthttp.StatusOK, l.T(titleKey), l.T(bodyKey, "tenant", t.Name), form, true)
}

// checkContinue verifies the Continue page's POST before any link is looked up: a body within
// MaxFormBody, an Origin that is absent, "null" or the portal's own, a Sec-Fetch-Site that is
// absent or same-origin, and the continue cookie's nonce repeated in the form. It answers 413 or
// 403 itself when not; the link stays as it was.
func (g *Gateway) checkContinue(ctx *fasthttp.RequestCtx, t *tenants.Tenant) bool {
	if len(ctx.PostBody()) > MaxFormBody {
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusRequestEntityTooLarge, "error.tooLarge")
		return false
	}
	origin := ctx.Request.Header.Peek("Origin")
	sameOrigin := len(origin) == 0 || string(origin) == "null" || string(origin) == g.cfg.PublicScheme+"://"+string(ctx.Host())
	if site := ctx.Request.Header.Peek("Sec-Fetch-Site"); len(site) > 0 && string(site) != "same-origin" {
		sameOrigin = false
	}
	if !sameOrigin {
		g.messagePageText(ctx, t, requestLang(ctx, t), fasthttp.StatusForbidden, "error.refused.title", "error.refused.link")
		return false
	}
	nonce := ctx.Request.Header.Cookie(g.continueCookieName())
	if !tenants.ValidToken(string(nonce)) || subtle.ConstantTimeCompare(ctx.PostArgs().Peek(continueField), nonce) != 1 {
		g.messagePageText(ctx, t, requestLang(ctx, t), fasthttp.StatusForbidden, "error.refused.title", "error.refused.link")
		return false
	}
	return true
}
