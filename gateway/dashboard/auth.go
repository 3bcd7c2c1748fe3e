package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// adminSession is the sealed content of the session cookie.
type adminSession struct {
	TenantID string `json:"t"`
	Email    string `json:"e"`
	CSRF     string `json:"c"`
	// ID names the session for sign-out: POST /logout revokes it on every instance
	// (tenants.RevokeAdminSession). A cookie without one is refused.
	ID      string `json:"s"`
	Issued  int64  `json:"i"` // Unix seconds
	Expires int64  `json:"x"` // Unix seconds
	// Stage is "" once signed in, or the step a sign-in still waits for (stageCode, stageEnrol).
	Stage string `json:"g,omitempty"`
}

// request is a signed-in admin's request.
type request struct {
	d      *Dashboard
	s      adminSession
	tenant *tenants.Tenant
	admin  *tenants.Admin
	l      lang // the admin's language (requestLang)
}

func (r *request) view(nav, title string) *view {
	v := &view{Title: title, Nav: nav, Tenant: r.tenant, Admin: r.s.Email, CSRF: r.s.CSRF, Webhooks: r.d.cfg.Webhooks != nil, Backend: r.d.cfg.Backend != nil, Pending: r.s.Stage != stageFull}
	v.setLang(r.l)
	return v
}

// T is the message of key in the admin's language (i18n.Printer.T).
func (r *request) T(key string, args ...any) string { return r.l.T(key, args...) }

// sessionAD binds a sealed session to its tenant: a cookie whose clear tenant id was changed
// does not open.
func sessionAD(tenantID string) string { return "dashboard:" + tenantID }

func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validToken(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// seal returns the cookie value "<tenantID>.<base64url(sealed session)>".
func (d *Dashboard) seal(s *adminSession) (string, error) {
	if err := d.syncKeys(); err != nil {
		return "", err
	}
	b, _ := json.Marshal(s)
	sealed, err := d.keyring.SealBytes(sessionAD(s.TenantID), b)
	if err != nil {
		return "", err
	}
	return s.TenantID + "." + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// session opens the session cookie and checks that its admin and tenant still exist and that
// the password did not change since it was issued. It returns nil (and no error) when there is
// no valid session; an error only when the store cannot answer.
func (d *Dashboard) session(ctx *fasthttp.RequestCtx) (*request, error) {
	c := ctx.Request.Header.Cookie(d.cookieName)
	if len(c) == 0 || len(c) > 2048 {
		return nil, nil
	}
	tid, enc, ok := strings.Cut(string(c), ".")
	if !ok {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, nil
	}
	if err := d.syncKeys(); err != nil {
		return nil, err
	}
	plain, err := d.keyring.OpenBytes(sessionAD(tid), raw)
	if err != nil {
		return nil, nil
	}
	r := &request{d: d, l: requestLang(ctx)}
	if json.Unmarshal(plain, &r.s) != nil || r.s.TenantID != tid || d.cfg.Now().Unix() >= r.s.Expires ||
		!validToken(r.s.ID) || d.store.AdminSessionRevoked(tid, r.s.ID) {
		return nil, nil
	}
	t, ok := d.store.TenantByID(tid)
	if !ok {
		return nil, nil
	}
	a, err := d.store.Admin(web.Detach(ctx), tid, r.s.Email)
	if errors.Is(err, tenants.ErrAdminNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.PasswordChangedAt.Unix() > r.s.Issued {
		return nil, nil
	}
	r.tenant, r.admin = t, a
	return r, nil
}

// setCookie and clearCookie set and remove the dashboard's cookies, all SameSite=Strict.
func (d *Dashboard) setCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge time.Duration) {
	web.SetCookie(ctx, name, value, int(maxAge.Seconds()), fasthttp.CookieSameSiteStrictMode, d.cfg.Dev)
}

func (d *Dashboard) clearCookie(ctx *fasthttp.RequestCtx, name string) {
	web.SetCookie(ctx, name, "", -1, fasthttp.CookieSameSiteStrictMode, d.cfg.Dev)
}

// checkOrigin refuses a POST whose Origin is not the dashboard's own origin.
func (d *Dashboard) checkOrigin(ctx *fasthttp.RequestCtx, r *request) bool {
	want := d.cfg.PublicScheme + "://" + string(ctx.Host())
	if string(ctx.Request.Header.Peek("Origin")) != want {
		d.message(ctx, r, fasthttp.StatusForbidden, "dash.error.refused.title", "dash.error.refused.origin")
		return false
	}
	return true
}

// checkCSRF compares a posted token with the expected one in constant time.
func (d *Dashboard) checkCSRF(ctx *fasthttp.RequestCtx, r *request, got, want string) bool {
	if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		d.message(ctx, r, fasthttp.StatusForbidden, "dash.error.refused.title", "dash.error.refused.token")
		return false
	}
	return true
}

// checkForm checks a signed-in admin's POST: size, origin and CSRF token. The branding form is
// multipart and checks its own token after its size check.
func (d *Dashboard) checkForm(ctx *fasthttp.RequestCtx, r *request) bool {
	if string(ctx.Path()) == "/settings/branding" {
		return d.checkOrigin(ctx, r)
	}
	if ctx.Request.Header.ContentLength() > MaxFormBody || len(ctx.PostBody()) > MaxFormBody {
		d.message(ctx, r, fasthttp.StatusRequestEntityTooLarge, "dash.error.tooLarge.title", "dash.error.tooLarge.body")
		return false
	}
	return d.checkOrigin(ctx, r) && d.checkCSRF(ctx, r, string(ctx.PostArgs().Peek("csrf")), r.s.CSRF)
}

type loginData struct {
	Tenant, Email string
	LoginCSRF     string
	// Address is the example workspace's portal host ("acme.portal.example.com") for the hint.
	Address string
}

// loginPage shows the sign-in form with a fresh double-submit token: the same random value in a
// SameSite=Strict cookie and in the form.
func (d *Dashboard) loginPage(ctx *fasthttp.RequestCtx) {
	if r, err := d.session(ctx); err == nil && r != nil {
		redirect(ctx, "/customers")
		return
	}
	d.renderLogin(ctx, fasthttp.StatusOK, &loginData{Tenant: string(ctx.QueryArgs().Peek("tenant"))}, "")
}

// baseDomain is the domain under which tenant portals live ("portal.example.com").
func (d *Dashboard) baseDomain() string {
	if d.cfg.Issuer != nil && d.cfg.Issuer.URLs.BaseDomain != "" {
		return d.cfg.Issuer.URLs.BaseDomain
	}
	return "portal.localhost"
}

func (d *Dashboard) renderLogin(ctx *fasthttp.RequestCtx, status int, data *loginData, errMsg string) {
	// Keep a token the browser already has, so that two sign-in tabs (or a stray request that
	// lands here) do not invalidate each other's forms.
	data.LoginCSRF = string(ctx.Request.Header.Cookie(d.loginCookieName))
	if !validToken(data.LoginCSRF) {
		data.LoginCSRF = newToken()
	}
	d.setCookie(ctx, d.loginCookieName, data.LoginCSRF, time.Hour)
	data.Address = "acme." + d.baseDomain()
	l := requestLang(ctx)
	v := &view{Title: l.T("dash.login.pageTitle"), Error: errMsg, Data: data}
	v.setLang(l)
	d.render(ctx, status, "login", v)
}

// login checks the sign-in form and starts a session.
func (d *Dashboard) login(ctx *fasthttp.RequestCtx) {
	if len(ctx.PostBody()) > MaxFormBody {
		d.message(ctx, nil, fasthttp.StatusRequestEntityTooLarge, "dash.error.tooLarge.title", "dash.error.tooLarge.body")
		return
	}
	if !d.checkOrigin(ctx, nil) {
		return
	}
	args := ctx.PostArgs()
	if !d.checkCSRF(ctx, nil, string(args.Peek("csrf")), string(ctx.Request.Header.Cookie(d.loginCookieName))) {
		return
	}
	data := &loginData{
		Tenant: strings.ToLower(strings.TrimSpace(string(args.Peek("tenant")))),
		Email:  strings.TrimSpace(string(args.Peek("email"))),
	}
	password := string(args.Peek("password"))
	var tid string
	if t, ok := d.store.TenantBySlug(data.Tenant); ok {
		tid = t.ID
	}
	now := d.cfg.Now()
	src := tenants.SignInSource{TenantID: tid, Email: data.Email, Addr: d.cfg.ClientAddr(ctx).String()}
	src.KnownDevice = d.knownDevice(ctx, tid, data.Email)
	a, err := d.store.AuthenticateAdmin(web.Detach(ctx), src, password, now)
	var throttled *tenants.ThrottledError
	switch {
	case errors.As(err, &throttled):
		d.log.Warn("dashboard: sign-in throttled", "tenant", data.Tenant, "addr", src.Addr, "until", throttled.Until)
		l := requestLang(ctx)
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(max(1, throttled.Until.Sub(now).Seconds()))))
		d.renderLogin(ctx, fasthttp.StatusTooManyRequests, data,
			l.T("dash.login.error.locked", "time", clock(throttled.Until), "duration", l.Duration(throttled.Until.Sub(now))))
		return
	case errors.Is(err, tenants.ErrBadCredentials):
		d.log.Info("dashboard: failed sign-in", "tenant", data.Tenant, "email", data.Email, "addr", src.Addr)
		d.renderLogin(ctx, fasthttp.StatusUnauthorized, data, requestLang(ctx).T("dash.login.error.credentials"))
		return
	case err != nil:
		d.unavailable(ctx, nil, err)
		return
	}
	next, err := d.startAfterPassword(ctx, a, now)
	if err != nil {
		d.unavailable(ctx, nil, err)
		return
	}
	d.clearCookie(ctx, d.loginCookieName)
	d.log.Info("dashboard: admin passed the password", "tenant", data.Tenant, "email", a.Email, "addr", d.cfg.ClientAddr(ctx), "next", next)
	redirect(ctx, next)
}

func (d *Dashboard) startSession(ctx *fasthttp.RequestCtx, s *adminSession, ttl time.Duration) error {
	v, err := d.seal(s)
	if err != nil {
		return err
	}
	d.setCookie(ctx, d.cookieName, v, ttl)
	return nil
}

// logout ends the session on every instance: it revokes the session's id until the cookie would
// have expired, so a copy of the cookie opens nothing either. A POST without a valid session still
// clears the cookie.
func (d *Dashboard) logout(ctx *fasthttp.RequestCtx) {
	r, err := d.session(ctx)
	if err != nil {
		d.unavailable(ctx, nil, err)
		return
	}
	if r != nil {
		if !d.checkForm(ctx, r) {
			return
		}
		if err := d.store.RevokeAdminSession(web.Detach(ctx), r.s.TenantID, r.s.ID, time.Unix(r.s.Expires, 0)); err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: admin signed out", "tenant", r.tenant.Slug, "email", r.s.Email)
	}
	d.clearCookie(ctx, d.cookieName)
	redirect(ctx, "/login")
}

func (d *Dashboard) passwordPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg string) {
	v := r.view("password", r.T("dash.password.title"))
	v.Flash, v.Error = flash, errMsg
	d.render(ctx, status, "password", v)
}

// changePassword checks the current password (a failure counts toward the sign-in throttle), sets the new
// one, which ends every other session of the admin, and renews this one.
func (d *Dashboard) changePassword(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	cur, next, confirm := string(args.Peek("current")), string(args.Peek("new")), string(args.Peek("confirm"))
	if next != confirm {
		d.passwordPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.password.error.differ"))
		return
	}
	if err := tenants.CheckPassword(next); err != nil {
		d.passwordPage(ctx, r, fasthttp.StatusBadRequest, "", passwordProblem(r, next, err))
		return
	}
	now := d.cfg.Now()
	src := tenants.SignInSource{TenantID: r.s.TenantID, Email: r.s.Email, Addr: d.cfg.ClientAddr(ctx).String(), KnownDevice: true}
	_, err := d.store.AuthenticateAdmin(web.Detach(ctx), src, cur, now)
	var throttled *tenants.ThrottledError
	switch {
	case errors.As(err, &throttled):
		d.passwordPage(ctx, r, fasthttp.StatusTooManyRequests, "", r.T("dash.password.error.locked", "time", clock(throttled.Until)))
		return
	case errors.Is(err, tenants.ErrBadCredentials):
		d.passwordPage(ctx, r, fasthttp.StatusUnauthorized, "", r.T("dash.password.error.wrong"))
		return
	case err != nil:
		d.unavailable(ctx, r, err)
		return
	}
	if err := d.store.SetAdminPassword(web.Detach(ctx), r.s.TenantID, r.s.Email, next, now); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	r.s.Issued, r.s.Expires = now.Unix()+1, now.Add(d.cfg.SessionTTL).Unix()
	if err := d.startSession(ctx, &r.s, d.cfg.SessionTTL); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: admin changed their password", "tenant", r.tenant.Slug, "email", r.s.Email)
	d.passwordPage(ctx, r, fasthttp.StatusOK, r.T("dash.password.changed"), "")
}

// passwordProblem says in the admin's language why tenants.CheckPassword refused a new password
// (err), or, for a rule it does not know, what CheckPassword said.
func passwordProblem(r *request, password string, err error) string {
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		return r.T("dash.password.error.encoding")
	case n < tenants.MinPasswordLen:
		return r.T("dash.password.error.tooShort", "min", tenants.MinPasswordLen)
	case n > tenants.MaxPasswordLen:
		return r.T("dash.password.error.tooLong", "max", tenants.MaxPasswordLen)
	}
	return strings.TrimPrefix(err.Error(), tenants.ErrInvalidAdmin.Error()+": ") + "."
}

// deviceCookie is the sealed content of the device cookie: the admin this browser last signed in
// as. It exempts the browser from the per-account sign-in limit (tenants.MaxFailuresPerAccount),
// so that failures from elsewhere do not keep the owner out.
type deviceCookie struct {
	TenantID string `json:"t"`
	Email    string `json:"e"`
	Expires  int64  `json:"x"` // Unix seconds
}

// DeviceTTL is how long a browser is remembered after a sign-in.
const DeviceTTL = 90 * 24 * time.Hour

func deviceAD(tenantID string) string { return "dashboard-device:" + tenantID }

// rememberDevice sets the device cookie for the admin who just signed in.
func (d *Dashboard) rememberDevice(ctx *fasthttp.RequestCtx, tenantID, email string, now time.Time) {
	if d.syncKeys() != nil {
		return
	}
	b, _ := json.Marshal(deviceCookie{TenantID: tenantID, Email: email, Expires: now.Add(DeviceTTL).Unix()})
	sealed, err := d.keyring.SealBytes(deviceAD(tenantID), b)
	if err != nil {
		return
	}
	d.setCookie(ctx, d.deviceCookieName, tenantID+"."+base64.RawURLEncoding.EncodeToString(sealed), DeviceTTL)
}

// knownDevice reports whether the browser signed in as the admin (tenantID, email) before.
func (d *Dashboard) knownDevice(ctx *fasthttp.RequestCtx, tenantID, email string) bool {
	c := ctx.Request.Header.Cookie(d.deviceCookieName)
	if tenantID == "" || len(c) == 0 || len(c) > 2048 {
		return false
	}
	tid, enc, ok := strings.Cut(string(c), ".")
	if !ok || tid != tenantID {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || d.syncKeys() != nil {
		return false
	}
	plain, err := d.keyring.OpenBytes(deviceAD(tid), raw)
	if err != nil {
		return false
	}
	var dc deviceCookie
	return json.Unmarshal(plain, &dc) == nil && dc.TenantID == tenantID &&
		dc.Email == tenants.NormalizeEmail(email) && d.cfg.Now().Unix() < dc.Expires
}
