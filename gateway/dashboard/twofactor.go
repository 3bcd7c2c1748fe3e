package dashboard

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
	"rsc.io/qr"
)

// Stages of an admin session (adminSession.Stage): signed in, or past the password but not yet
// past the second factor.
const (
	stageFull  = ""
	stageCode  = "code"  // the admin has TOTP: only /login/code until a code is given
	stageEnrol = "enrol" // the tenant requires TOTP and the admin has none: only /settings/security
)

// pendingTTL is how long a session waits for its second factor (code or enrolment).
const pendingTTL = 15 * time.Minute

// totpAD binds an admin's sealed TOTP secret to the admin.
func totpAD(tenantID, email string) string { return "dashboard-totp:" + tenantID + "/" + email }

// enrolAD binds the secret offered on the enrolment page to the admin's session.
func enrolAD(s *adminSession) string {
	return "dashboard-enrol:" + s.TenantID + "/" + s.Email + "/" + s.ID
}

// stageAllows reports whether a session of a pending stage may use path.
func stageAllows(stage, path string) (bool, string) {
	switch stage {
	case stageCode:
		return path == "/login/code", "/login/code"
	case stageEnrol:
		return path == "/settings/security", "/settings/security"
	}
	return true, ""
}

// startAfterPassword starts the session of an admin whose password was right: a full one, or one
// that waits for the second factor (the admin has TOTP) or for enrolment (the tenant requires
// it). It returns where to go next.
func (d *Dashboard) startAfterPassword(ctx *fasthttp.RequestCtx, a *tenants.Admin, now time.Time) (string, error) {
	s := &adminSession{TenantID: a.TenantID, Email: a.Email, CSRF: newToken(), ID: newToken(), Issued: now.Unix(), Expires: now.Add(d.cfg.SessionTTL).Unix()}
	t, _ := d.store.TenantByID(a.TenantID)
	ttl := d.cfg.SessionTTL
	switch {
	case a.HasTOTP():
		s.Stage, ttl = stageCode, pendingTTL
	case t != nil && t.RequireTwoFactor:
		s.Stage, ttl = stageEnrol, pendingTTL
	}
	s.Expires = now.Add(ttl).Unix()
	if err := d.startSession(ctx, s, ttl); err != nil {
		return "", err
	}
	if s.Stage == stageFull {
		d.rememberDevice(ctx, a.TenantID, a.Email, now)
		return "/customers", nil
	}
	_, next := stageAllows(s.Stage, "")
	return next, nil
}

// promote replaces a pending session by a full one with a new id.
func (d *Dashboard) promote(ctx *fasthttp.RequestCtx, r *request, now time.Time) error {
	r.s.Stage, r.s.ID, r.s.CSRF = stageFull, newToken(), newToken()
	r.s.Expires = now.Add(d.cfg.SessionTTL).Unix()
	if err := d.startSession(ctx, &r.s, d.cfg.SessionTTL); err != nil {
		return err
	}
	d.rememberDevice(ctx, r.s.TenantID, r.s.Email, now)
	return nil
}

func (d *Dashboard) codePage(ctx *fasthttp.RequestCtx, r *request, status int, errMsg string) {
	v := r.view("", r.T("dash.security.title"))
	v.Error = errMsg
	d.render(ctx, status, "twofactor", v)
}

// checkCode is the second step of a sign-in: a TOTP code of the admin's app (each time step
// signs in once) or one of their recovery codes (each works once). Failures count toward the
// sign-in throttle like wrong passwords.
func (d *Dashboard) checkCode(ctx *fasthttp.RequestCtx, r *request) {
	now := d.cfg.Now()
	src := tenants.SignInSource{TenantID: r.s.TenantID, Email: r.s.Email, Addr: d.cfg.ClientAddr(ctx).String(), KnownDevice: d.knownDevice(ctx, r.s.TenantID, r.s.Email)}
	var throttled *tenants.ThrottledError
	if err := d.store.CheckSignInThrottle(web.Detach(ctx), src, now); errors.As(err, &throttled) {
		d.codePage(ctx, r, fasthttp.StatusTooManyRequests, r.T("dash.login.error.locked", "time", clock(throttled.Until), "duration", r.l.Duration(throttled.Until.Sub(now))))
		return
	} else if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	code := strings.TrimSpace(string(ctx.PostArgs().Peek("code")))
	secret, err := d.openTOTP(r.admin)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	ok := false
	if step, match := tenants.MatchTOTP(secret, code, now); match {
		err = d.store.UseTOTPStep(web.Detach(ctx), r.s.TenantID, r.s.Email, step)
		ok = err == nil
	} else if len(code) > tenants.TOTPDigits && len(code) < 64 {
		ok, err = d.store.UseRecoveryCode(web.Detach(ctx), r.s.TenantID, r.s.Email, code)
		if ok {
			d.log.Warn("dashboard: admin signed in with a recovery code", "tenant", r.tenant.Slug, "email", r.s.Email)
		}
	}
	if err != nil && !errors.Is(err, tenants.ErrCodeReused) {
		d.unavailable(ctx, r, err)
		return
	}
	if !ok {
		if err := d.store.CountSignInFailure(web.Detach(ctx), src, now); err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: wrong second factor", "tenant", r.tenant.Slug, "email", r.s.Email, "addr", src.Addr)
		d.codePage(ctx, r, fasthttp.StatusUnauthorized, r.T("dash.twofactor.error.wrong"))
		return
	}
	if err := d.promote(ctx, r, now); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: admin signed in", "tenant", r.tenant.Slug, "email", r.s.Email, "addr", d.cfg.ClientAddr(ctx), "secondFactor", true)
	redirect(ctx, "/customers")
}

// openTOTP opens the admin's sealed TOTP secret.
func (d *Dashboard) openTOTP(a *tenants.Admin) ([]byte, error) {
	if !a.HasTOTP() {
		return nil, tenants.ErrNoSecondFactor
	}
	if err := d.syncKeys(); err != nil {
		return nil, err
	}
	b, err := d.keyring.OpenBytes(totpAD(a.TenantID, a.Email), a.TOTPSecret)
	if err != nil {
		return nil, fmt.Errorf("dashboard: opening the TOTP secret of %q: %w", a.Email, err)
	}
	return b, nil
}

// securityData is the Settings → Security page.
type securityData struct {
	Enabled       bool
	Required      bool // the session waits for enrolment
	RecoveryLeft  int
	Pending       string        // the offered secret, sealed to the session (a form field)
	Secret        string        // the same secret in base32, for typing by hand
	QR            template.HTML // an inline SVG of the otpauth:// URI
	RecoveryCodes []string      // shown once, right after enrolment
}

func b32(secret []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
}

// securityPage shows the admin's second factor: on, or a fresh secret to enrol (QR code and text).
func (d *Dashboard) securityPage(ctx *fasthttp.RequestCtx, r *request, status int, errMsg string) {
	data := &securityData{Enabled: r.admin.HasTOTP(), Required: r.s.Stage == stageEnrol, RecoveryLeft: len(r.admin.RecoveryCodes)}
	if !data.Enabled {
		secret := tenants.NewTOTPSecret()
		if err := d.syncKeys(); err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		sealed, err := d.keyring.SealBytes(enrolAD(&r.s), secret)
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		data.Pending = base64.RawURLEncoding.EncodeToString(sealed)
		data.Secret = b32(secret)
		uri := "otpauth://totp/" + url.PathEscape("Portico ("+r.tenant.Slug+"):"+r.s.Email) +
			"?secret=" + data.Secret + "&issuer=Portico&algorithm=SHA1&digits=6&period=30"
		svg, err := qrSVG(uri, r.T("dash.security.qrLabel"))
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		data.QR = svg
	}
	v := r.view("security", r.T("dash.security.title"))
	v.Error, v.Data = errMsg, data
	d.render(ctx, status, "security", v)
}

// enrol turns TOTP on: the posted code must match the offered secret; the secret is stored
// sealed and RecoveryCodeCount recovery codes are shown once (stored hashed).
func (d *Dashboard) enrol(ctx *fasthttp.RequestCtx, r *request) {
	if r.admin.HasTOTP() {
		redirect(ctx, "/settings/security")
		return
	}
	args := ctx.PostArgs()
	now := d.cfg.Now()
	raw, err := base64.RawURLEncoding.DecodeString(string(args.Peek("pending")))
	if err != nil {
		d.securityPage(ctx, r, fasthttp.StatusBadRequest, r.T("dash.security.error.wrong"))
		return
	}
	if err := d.syncKeys(); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	secret, err := d.keyring.OpenBytes(enrolAD(&r.s), raw)
	if err != nil || len(secret) != tenants.TOTPSecretLen {
		d.securityPage(ctx, r, fasthttp.StatusBadRequest, r.T("dash.security.error.wrong"))
		return
	}
	step, ok := tenants.MatchTOTP(secret, string(args.Peek("code")), now)
	if !ok {
		d.securityPage(ctx, r, fasthttp.StatusBadRequest, r.T("dash.security.error.wrong"))
		return
	}
	sealed, err := d.keyring.SealBytes(totpAD(r.s.TenantID, r.s.Email), secret)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	codes, hashes := tenants.NewRecoveryCodes()
	if err := d.store.SetAdminTOTP(web.Detach(ctx), r.s.TenantID, r.s.Email, sealed, step, hashes); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	if r.s.Stage != stageFull {
		if err := d.promote(ctx, r, now); err != nil {
			d.unavailable(ctx, r, err)
			return
		}
	}
	d.log.Info("dashboard: admin turned on two-factor authentication", "tenant", r.tenant.Slug, "email", r.s.Email)
	v := r.view("security", r.T("dash.security.title"))
	v.Flash = r.T("dash.security.enabled")
	v.Data = &securityData{Enabled: true, RecoveryLeft: len(codes), RecoveryCodes: codes}
	d.render(ctx, fasthttp.StatusOK, "security", v)
}

// qrSVG draws the QR code of text as an inline SVG (allowed by the dashboard's CSP, which loads
// no image from elsewhere), with a quiet zone of four modules.
func qrSVG(text, label string) (template.HTML, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("dashboard: drawing the QR code: %w", err)
	}
	n := c.Size + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="%s"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, n*5, n*5, html.EscapeString(label), n, n)
	for y := range c.Size {
		for x := range c.Size {
			if c.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+4, y+4)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// ResealTOTPSecrets seals the admins' TOTP secrets of the tenants again with ring's newest key
// (`portico sealkey retire` does this before it deletes a key). It returns how many it re-sealed.
func ResealTOTPSecrets(ctx context.Context, store *tenants.Store, ring *keyring.Keyring, tenantIDs []string) (int, error) {
	n := 0
	for _, tid := range tenantIDs {
		m, err := store.ResealAdminTOTP(ctx, tid, func(a *tenants.Admin) ([]byte, error) {
			ad := totpAD(a.TenantID, a.Email)
			secret, err := ring.OpenBytes(ad, a.TOTPSecret)
			if err != nil {
				return nil, err
			}
			return ring.SealBytes(ad, secret)
		})
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
