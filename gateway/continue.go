package gateway

import (
	"bytes"
	"crypto/subtle"
	"html/template"
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
	nonce := string(ctx.Request.Header.Cookie(g.continueCookieName()))
	if !tenants.ValidToken(nonce) {
		nonce = tenants.NewToken()
	}
	snap, _ := g.store.Account(web.Detach(ctx), t.ID, l.AccountID) // only for its language: none is fine
	lang := sessionLang(l.Locale, snap, t)
	c := newChrome(t, lang, lang.T("info.continue.title"))
	c.NoReferrer = true
	c.Message = lang.T("info.continue.body", "tenant", t.Name)
	// No action: the form posts to the page's own URL, so the token is not repeated in the page.
	c.Action = template.HTML(`<form method="post" class="form"><input type="hidden" name="` + continueField + `" value="` +
		template.HTMLEscapeString(nonce) + `"><p class="actions"><button class="button button-primary" type="submit">` +
		template.HTMLEscapeString(lang.T("info.continue.button")) + `</button></p></form>`)
	var out bytes.Buffer
	if err := c.execute(&out, "message"); err != nil {
		g.log.Error("gateway: rendering the continue page", "err", err)
	}
	if !ctx.IsHead() {
		ck := fasthttp.AcquireCookie()
		defer fasthttp.ReleaseCookie(ck)
		ck.SetKey(g.continueCookieName())
		ck.SetValue(nonce)
		ck.SetPath("/")
		ck.SetHTTPOnly(true)
		ck.SetSecure(!g.cfg.Dev)
		ck.SetSameSite(fasthttp.CookieSameSiteStrictMode)
		ck.SetMaxAge(max(int(l.ExpiresAt.Sub(now).Seconds()), 60))
		ctx.Response.Header.SetCookie(ck)
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Referrer-Policy", "no-referrer") // the token URL never leaves as a Referer
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
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
