package gateway

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"html/template"
	"strings"
	"sync"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// Sign in by email (tenants.Tenant.EmailSignIn). Without a session, the portal host's front page
// asks for a billing email (POST /sign-in). The answer is the same page whether or not an account
// of the tenant has the email, and it takes the same time: the request only counts itself against
// the limits (tenants.CountSignInMail, the same for every email) and queues the email; a worker
// looks the email up (tenants.Store.AccountsByEmail) and, when accounts have it, stores the
// sign-in and sends its email off the request path. The page that answers has the code form
// (POST /sign-in/code). The emailed link (/sign-in/l/<token>) is mail-scanner safe as emailed
// portal links are: its GET shows a Continue page, whose POST signs in. Every form is checked as
// the Continue page's is (checkContinue: the nonce of the continue cookie repeated in the form).
// An email with several accounts gets a chooser (/sign-in/choose) that lists only those, kept
// in etcd under a token in a cookie (tenants.SignInChoice). The session opened has the tenant's
// default settings; its audit trail says signed_in_by_email.

// AuditSignedInByEmail is the audit entry of a session opened by sign in by email.
const AuditSignedInByEmail = "signed_in_by_email"

// signInQueueSize bounds the sign-in emails waiting for the worker; a request that finds the queue
// full gets the same answer and no email (it is logged).
const signInQueueSize = 256

// signInChoiceCookie names the cookie holding the token of a sign-in's chooser.
func (g *Gateway) signInChoiceCookie() string {
	if g.cfg.Dev {
		return "portico_signin"
	}
	return "__Host-portico_signin"
}

type signInJob struct {
	t      *tenants.Tenant
	email  string
	lang   string
	origin string
	at     time.Time
}

// signInQueue is the bounded queue of sign-in emails and its one worker, started on first use.
type signInQueue struct {
	once sync.Once
	jobs chan signInJob
}

func (g *Gateway) enqueueSignIn(j signInJob) bool {
	g.signIns.once.Do(func() {
		g.signIns.jobs = make(chan signInJob, signInQueueSize)
		go g.signInWorker(g.signIns.jobs)
	})
	select {
	case g.signIns.jobs <- j:
		return true
	default:
		return false
	}
}

// signInWorker sends the queued sign-in emails one after the other.
func (g *Gateway) signInWorker(jobs <-chan signInJob) {
	for j := range jobs {
		if err := g.sendSignIn(j); err != nil {
			g.log.Warn("gateway: sign-in email not sent", "tenant", j.t.Slug, "err", err)
		}
	}
}

// sendSignIn looks the email up and, when accounts of the tenant have it, stores a sign-in and
// emails its link and code. An email without accounts is sent nothing.
func (g *Gateway) sendSignIn(j signInJob) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids, err := g.store.AccountsByEmail(ctx, j.t.ID, j.email)
	if err != nil || len(ids) == 0 {
		return err
	}
	if g.cfg.SignInMail == nil {
		return errors.New("gateway: no SMTP server is configured for sign-in emails")
	}
	token, code, err := g.store.CreateEmailSignIn(ctx, j.t.ID, j.email, ids, j.lang, j.at)
	if err != nil {
		return err
	}
	msg := mail.PortalLinkMessage{
		To: j.email, TenantName: j.t.Name, URL: j.origin + "/sign-in/l/" + token, Code: code, ExpiresAt: j.at.Add(tenants.SignInCodeTTL),
		PrimaryColor: j.t.Branding.PrimaryColor, AccentColor: j.t.Branding.AccentColor, AccentTitles: j.t.Branding.AccentTitles, Locale: j.lang,
	}
	first := tenants.ParseSignInEntry(ids[0])
	if snap, err := g.store.Account(ctx, j.t.ID, first.Account); err == nil {
		if first.Member == "" {
			msg.To = snap.Account.Email // as the tenant wrote it
		}
		if len(ids) == 1 {
			msg.AccountName = snap.Account.Name
		}
	}
	if j.t.Branding.LogoETag != "" {
		msg.LogoURL = j.origin + "/assets/logo?v=" + j.t.Branding.LogoETag
	}
	return g.cfg.SignInMail.SendPortalLink(ctx, msg)
}

// serveSignIn serves the /sign-in paths of a tenant that allows sign in by email; 404 otherwise.
func (g *Gateway) serveSignIn(ctx *fasthttp.RequestCtx, t *tenants.Tenant, path []byte) {
	if !t.EmailSignIn {
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.pageNotFound")
		return
	}
	get := ctx.IsGet() || ctx.IsHead()
	switch p := string(path); {
	case p == "/sign-in" && ctx.IsPost():
		g.signInRequest(ctx, t)
	case p == "/sign-in" && get:
		g.signInPage(ctx, t, requestLang(ctx, t), fasthttp.StatusOK, "")
	case p == "/sign-in/code" && ctx.IsPost():
		g.signInCode(ctx, t)
	case strings.HasPrefix(p, "/sign-in/l/") && (get || ctx.IsPost()):
		g.signInLink(ctx, t, p[len("/sign-in/l/"):])
	case p == "/sign-in/choose" && get:
		g.signInChooser(ctx, t)
	case p == "/sign-in/choose" && ctx.IsPost():
		g.signInChoose(ctx, t)
	default:
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.pageNotFound")
	}
}

// signInOffer is the link to the sign-in page under the 410 and 401 pages of a tenant that allows
// sign in by email.
func signInOffer(l pageLang) template.HTML {
	return template.HTML(`<p class="actions"><a class="button button-primary" href="/sign-in">` +
		template.HTMLEscapeString(l.T("signin.offer")) + `</a></p>`)
}

// anonNonce returns the nonce of the continue cookie (a new one if the browser has none) and sets
// the cookie, except for HEAD; anonymous forms repeat it (checkContinue).
func (g *Gateway) anonNonce(ctx *fasthttp.RequestCtx, maxAge time.Duration) string {
	nonce := string(ctx.Request.Header.Cookie(g.continueCookieName()))
	if !tenants.ValidToken(nonce) {
		nonce = tenants.NewToken()
	}
	if !ctx.IsHead() {
		g.setCookie(ctx, g.continueCookieName(), nonce, int(maxAge.Seconds()), fasthttp.CookieSameSiteStrictMode)
	}
	return nonce
}

// setCookie sets a portal cookie: Secure, except in Dev mode (web.SetCookie).
func (g *Gateway) setCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge int, same fasthttp.CookieSameSite) {
	web.SetCookie(ctx, name, value, maxAge, same, g.cfg.Dev)
}

//go:embed web/forms.html
var formsHTML string

// forms are the templates of the forms of pages without a session (web/forms.html).
var forms = template.Must(template.New("forms").Parse(formsHTML))

// anonForm is a form of a page without a session: the continue cookie's nonce, hidden fields,
// at most one visible field, a submit button and a hint under it.
type anonForm struct {
	Action string // "" posts to the page's own URL
	Nonce  string
	Hidden []hiddenField
	Field  *formField
	Button string
	Hint   string
}

type hiddenField struct{ Name, Value string }

// formField is a labelled input with its error, if any.
type formField struct {
	Name, Type, Label, Value, Error string
	// Attrs are the input's further attributes, constant markup of the caller.
	Attrs template.HTMLAttr
}

// renderForm executes one of the forms templates; a failure is logged and renders nothing (the
// templates are parsed at start and their data are strings, so it does not happen).
func (g *Gateway) renderForm(name string, data any) template.HTML {
	var b bytes.Buffer
	if err := forms.ExecuteTemplate(&b, name, data); err != nil {
		g.log.Error("gateway: rendering a form", "template", name, "err", err)
		return ""
	}
	return template.HTML(b.String())
}

// writeFormPage writes a message page with the markup of a form as its action: the Continue page
// of emailed links and the pages of sign in by email. noReferrer is for a page whose URL holds a
// token.
func (g *Gateway) writeFormPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, title, message string, action template.HTML, noReferrer bool) {
	c := newChrome(t, l, title)
	c.Message = message
	c.Action = action
	c.NoReferrer = noReferrer
	var out bytes.Buffer
	if err := c.execute(&out, "message"); err != nil {
		g.log.Error("gateway: rendering a sign-in page", "err", err)
	}
	setPortalHeaders(ctx, t)
	if noReferrer {
		ctx.Response.Header.Set("Referrer-Policy", "no-referrer")
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// signInPage is the email form.
func (g *Gateway) signInPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, email string) {
	nonce := g.anonNonce(ctx, time.Hour)
	errText := ""
	if status == fasthttp.StatusBadRequest {
		errText = l.T("signin.badEmail")
	}
	form := g.renderForm("anon-form", &anonForm{Action: "/sign-in", Nonce: nonce, Button: l.T("signin.send"),
		Field: &formField{Name: "email", Type: "email", Label: l.T("signin.email"), Value: email, Error: errText, Attrs: `autocomplete="email" maxlength="254"`}})
	g.writeFormPage(ctx, t, l, status, l.T("signin.title"), l.T("signin.body", "tenant", t.Name), form, false)
}

// codePage is the answer to an email: the same for every email, with the code form.
func (g *Gateway) codePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, l pageLang, status int, email string, wrong bool) {
	nonce := g.anonNonce(ctx, time.Hour)
	errText := ""
	if wrong {
		errText = l.T("signin.codeWrong")
	}
	form := g.renderForm("signin-code", struct {
		Form  *anonForm
		Again string
	}{&anonForm{Action: "/sign-in/code", Nonce: nonce, Hidden: []hiddenField{{"email", email}}, Button: l.T("signin.verify"),
		Field: &formField{Name: "code", Type: "text", Label: l.T("signin.code"), Error: errText,
			Attrs: `inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6"`}}, l.T("signin.again")})
	g.writeFormPage(ctx, t, l, status, l.T("signin.sent.title"), l.T("signin.sent.body"), form, false)
}

// signInRequest answers POST /sign-in: the same page for every well-formed email.
func (g *Gateway) signInRequest(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	if !g.checkContinue(ctx, t) {
		return
	}
	l := requestLang(ctx, t)
	email := strings.TrimSpace(string(ctx.PostArgs().Peek("email")))
	if len(email) > 254 || !account.ValidEmail(email) {
		g.signInPage(ctx, t, l, fasthttp.StatusBadRequest, email)
		return
	}
	now := g.cfg.Now()
	err := g.store.CountSignInMail(web.Detach(ctx), t.ID, email, g.ClientAddr(ctx).String(), now)
	var limited *tenants.SignInLimitedError
	switch {
	case errors.As(err, &limited):
		g.tooMany(ctx, t, l, limited.Until.Sub(now))
		return
	case err != nil:
		g.unavailable(ctx, t, l, err)
		return
	}
	job := signInJob{t: t, email: email, lang: l.Lang(), origin: g.cfg.PublicScheme + "://" + string(ctx.Host()), at: now}
	if !g.enqueueSignIn(job) {
		g.log.Warn("gateway: sign-in email queue full; email dropped", "tenant", t.Slug)
	}
	g.codePage(ctx, t, l, fasthttp.StatusOK, email, false)
}

// signInCode answers POST /sign-in/code.
func (g *Gateway) signInCode(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	if !g.checkContinue(ctx, t) {
		return
	}
	l := requestLang(ctx, t)
	now := g.cfg.Now()
	key := clientKey(g.ClientAddr(ctx))
	if over, wait := g.failedTokens.blocked(key, now); over {
		g.tooMany(ctx, t, l, wait)
		return
	}
	args := ctx.PostArgs()
	email := strings.TrimSpace(string(args.Peek("email")))
	code := strings.TrimSpace(string(args.Peek("code")))
	e, err := g.store.RedeemEmailSignInCode(web.Detach(ctx), t.ID, email, code, now)
	switch {
	case errors.Is(err, tenants.ErrSignInCodeWrong):
		g.failedTokens.allow(key, now)
		g.codePage(ctx, t, l, fasthttp.StatusBadRequest, email, true)
		return
	case err != nil:
		g.unavailable(ctx, t, l, err)
		return
	}
	g.signedIn(ctx, t, e, now)
}

// signInLink answers the emailed link: GET and HEAD show the Continue page, POST signs in.
func (g *Gateway) signInLink(ctx *fasthttp.RequestCtx, t *tenants.Tenant, token string) {
	now := g.cfg.Now()
	if ctx.IsPost() && !g.checkContinue(ctx, t) {
		return
	}
	var e *tenants.EmailSignIn
	var err error
	if ctx.IsPost() {
		e, err = g.store.RedeemEmailSignInLink(web.Detach(ctx), t.ID, token, now)
	} else {
		e, err = g.store.PeekEmailSignInLink(web.Detach(ctx), t.ID, token, now)
	}
	switch {
	case g.linkFailed(ctx, t, err):
		return
	case err != nil:
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	if ctx.IsPost() {
		g.signedIn(ctx, t, e, now)
		return
	}
	g.continueForm(ctx, t, sessionLang(e.Locale, nil, t), g.anonNonce(ctx, e.ExpiresAt.Sub(now)), "signin.continue.title", "signin.continue.body")
}

// signedIn opens the session of a used sign-in: at once for one account, through the chooser for
// several.
func (g *Gateway) signedIn(ctx *fasthttp.RequestCtx, t *tenants.Tenant, e *tenants.EmailSignIn, now time.Time) {
	ids, err := g.store.SignInAccounts(web.Detach(ctx), t.ID, e)
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	switch len(ids) {
	case 0:
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.accountNotFound")
	case 1:
		g.openEmailSession(ctx, t, ids[0], e.Locale, now)
	default:
		exp := now.Add(tenants.SignInCodeTTL)
		entries := make([]string, len(ids))
		for i, id := range ids {
			entries[i] = id.String()
		}
		tok, err := g.store.CreateSignInChoice(web.Detach(ctx), t.ID, &tenants.SignInChoice{Accounts: entries, Locale: e.Locale, ExpiresAt: exp})
		if err != nil {
			g.unavailable(ctx, t, requestLang(ctx, t), err)
			return
		}
		g.setCookie(ctx, g.signInChoiceCookie(), tok, int(tenants.SignInCodeTTL.Seconds()), fasthttp.CookieSameSiteStrictMode)
		signInRedirect(ctx, t, "/sign-in/choose")
	}
}

// signInChooser lists the accounts of the browser's sign-in choice.
func (g *Gateway) signInChooser(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	now := g.cfg.Now()
	tok := string(ctx.Request.Header.Cookie(g.signInChoiceCookie()))
	c, err := g.store.SignInChoiceOf(web.Detach(ctx), t.ID, tok, now)
	if errors.Is(err, tenants.ErrLinkNotFound) {
		g.sessionEnded(ctx, t)
		return
	}
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	l := sessionLang(c.Locale, nil, t)
	nonce := g.anonNonce(ctx, c.ExpiresAt.Sub(now))
	var choices []*anonForm
	for _, id := range c.Accounts {
		en := tenants.ParseSignInEntry(id)
		name := en.Account
		if snap, err := g.store.Account(web.Detach(ctx), t.ID, en.Account); err == nil && snap.Account.Name != "" {
			name = snap.Account.Name
		}
		role := tenants.RoleOwner
		if en.Member != "" {
			if m, err := g.store.Member(web.Detach(ctx), t.ID, en.Account, en.Member); err == nil {
				role = m.Role
			}
		}
		choices = append(choices, &anonForm{Action: "/sign-in/choose", Nonce: nonce, Hidden: []hiddenField{{"account", id}},
			Button: l.T("signin.choose.open", "name", name), Hint: l.T("role." + role)})
	}
	g.writeFormPage(ctx, t, l, fasthttp.StatusOK, l.T("signin.choose.title"), l.T("signin.choose.body", "tenant", t.Name), g.renderForm("signin-choices", choices), false)
}

// signInChoose opens the session of the chosen account, which must be one of the choice's.
func (g *Gateway) signInChoose(ctx *fasthttp.RequestCtx, t *tenants.Tenant) {
	if !g.checkContinue(ctx, t) {
		return
	}
	now := g.cfg.Now()
	tok := string(ctx.Request.Header.Cookie(g.signInChoiceCookie()))
	account := string(ctx.PostArgs().Peek("account"))
	c, err := g.store.TakeSignInChoice(web.Detach(ctx), t.ID, tok, account, now)
	switch {
	case errors.Is(err, tenants.ErrSignInNotChosen):
		g.messagePageText(ctx, t, requestLang(ctx, t), fasthttp.StatusForbidden, "error.refused.title", "error.refused.link")
		return
	case errors.Is(err, tenants.ErrLinkNotFound):
		g.sessionEnded(ctx, t)
		return
	case err != nil:
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	g.setCookie(ctx, g.signInChoiceCookie(), "", -1, fasthttp.CookieSameSiteStrictMode)
	g.openEmailSession(ctx, t, tenants.ParseSignInEntry(account), c.Locale, now)
}

// openEmailSession opens a session of the entry's account with the tenant's default settings: a
// link is issued and redeemed at once (so the session has the events and audit entries of every
// other), and the trail records signed_in_by_email. A member's session carries the member and
// its role, its switches masked by the role; its entries name the member's email.
func (g *Gateway) openEmailSession(ctx *fasthttp.RequestCtx, t *tenants.Tenant, en tenants.SignInEntry, locale string, now time.Time) {
	var m *tenants.Member
	if en.Member != "" {
		var err error
		m, err = g.store.Member(web.Detach(ctx), t.ID, en.Account, en.Member)
		if errors.Is(err, tenants.ErrMemberNotFound) {
			g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.accountNotFound")
			return
		}
		if err != nil {
			g.unavailable(ctx, t, requestLang(ctx, t), err)
			return
		}
	}
	res, _, err := g.issuer.Create(web.Detach(ctx), t, &links.Request{AccountID: en.Account, Locale: locale}, links.Options{CreatedBy: "email-sign-in"})
	if errors.Is(err, tenants.ErrAccountNotFound) {
		g.messagePage(ctx, t, requestLang(ctx, t), fasthttp.StatusNotFound, "error.accountNotFound")
		return
	}
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	client := g.ClientAddr(ctx).String()
	l, err := g.store.RedeemLink(web.Detach(ctx), t.ID, res.Token, now, tenants.RedeemInfo{IP: client, UserAgent: string(ctx.UserAgent()), Confirmed: true})
	if err != nil {
		g.unavailable(ctx, t, requestLang(ctx, t), err)
		return
	}
	entry := tenants.AuditEntry{Type: AuditSignedInByEmail, At: now, IP: client, UserAgent: string(ctx.UserAgent())}
	if m != nil {
		entry.Member = m.Email
	}
	if err := g.store.RecordAudit(web.Detach(ctx), t.ID, l.SessionID, entry); err != nil {
		g.log.Warn("gateway: recording a sign-in by email", "tenant", t.Slug, "err", err)
	}
	g.startSessionAs(ctx, t, l, now, m)
}
