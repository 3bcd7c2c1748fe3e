package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// serveSectionAction answers a request for one of the sections' actions (plugins.Actor), in the
// order of plugins.Routes. Every one needs a session; every POST passes the size, Origin and CSRF
// checks first, then the session permission the action needs (a 403 page naming what is not
// available, nothing changed). It reports whether an action matched.
func (g *Gateway) serveSectionAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	path := string(ctx.Path())
	method := "GET"
	switch {
	case ctx.IsPost():
		method = "POST"
	case !ctx.IsGet() && !ctx.IsHead():
		return false
	}
	var (
		route *plugins.Route
		arg   string
	)
	for i := range g.routes {
		r := &g.routes[i]
		if r.Method != method {
			continue
		}
		if a, ok := r.Match(path); ok {
			route, arg = r, a
			break
		}
	}
	if route == nil {
		return false
	}
	if !g.openSession(ctx, t, rs) {
		g.sessionEnded(ctx, t)
		return true
	}
	if method == "POST" && !g.checkForm(ctx, t, rs) {
		return true
	}
	// The role is checked as well as the switch: the switches of a member's session were masked
	// by its role when it was opened, and the role in the cookie is checked again on every request.
	if route.Needs != nil && plugins.Role(rs.s.Role) < route.Needs.Role {
		// A colleague whose role is too low is told so, and who may do it.
		l := g.langOf(ctx, t, rs)
		g.messagePageText(ctx, t, l, fasthttp.StatusForbidden, "error.forbidden.title", "error.role.body",
			"role", l.T("role."+plugins.Role(rs.s.Role).String()), "needed", l.T("role."+route.Needs.Role.String()))
		return true
	}
	if route.Needs != nil && !plugins.Switches(rs.s.Switches).On(route.Needs) {
		g.refuse(ctx, t, rs, route.Refusal)
		return true
	}
	member, ok := g.sessionMember(ctx, t, rs)
	if !ok {
		return true
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return true
	}
	c := &actionCtx{g: g, ctx: ctx, t: t, rs: rs, snap: snap, section: route.Section, arg: arg, now: g.cfg.Now(), member: member}
	c.lang = sessionLang(string(rs.s.Locale), snap, t)
	route.Handle(c)
	return true
}

// actionCtx is the plugins.ActionContext of one request.
type actionCtx struct {
	g       *Gateway
	ctx     *fasthttp.RequestCtx
	t       *tenants.Tenant
	rs      *reqScratch
	snap    *tenants.AccountSnapshot
	lang    pageLang
	section string
	arg     string
	now     time.Time
	// member is the member whose session it is, nil for the holder's and tenant-issued sessions.
	member *tenants.Member
}

// sessionMember reads the member of a member's session (nil for other sessions). A member that
// is gone ends the session (401, answered here) even before the revocation is watched.
func (g *Gateway) sessionMember(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) (*tenants.Member, bool) {
	if len(rs.s.Member) == 0 {
		return nil, true
	}
	m, err := g.store.Member(web.Detach(ctx), t.ID, string(rs.s.AccountID), string(rs.s.Member))
	switch {
	case errors.Is(err, tenants.ErrMemberNotFound):
		g.sessionEnded(ctx, t)
		return nil, false
	case err != nil:
		g.unavailable(ctx, t, g.cachedLangOf(t, rs), err)
		return nil, false
	}
	return m, true
}

// memberEmail is the email of the session's member, "" for the holder's and tenant-issued sessions.
func (c *actionCtx) memberEmail() string {
	if c.member == nil {
		return ""
	}
	return c.member.Email
}

var _ plugins.ActionContext = (*actionCtx)(nil)

func (c *actionCtx) Account() *account.Account { return c.snap.Account }
func (c *actionCtx) Revision() int64           { return c.snap.Revision }
func (c *actionCtx) Tenant() *tenants.Tenant   { return c.t }
func (c *actionCtx) Locale() string            { return c.lang.locale }
func (c *actionCtx) Printer() *i18n.Printer    { return c.lang.Printer }
func (c *actionCtx) On(sw *plugins.Switch) bool {
	return plugins.Switches(c.rs.s.Switches).On(sw) && plugins.Role(c.rs.s.Role) >= sw.Role
}
func (c *actionCtx) SessionID() string { return string(c.rs.s.ID) }
func (c *actionCtx) Now() time.Time    { return c.now }
func (c *actionCtx) Arg() string       { return c.arg }
func (c *actionCtx) FormValue(name string) string {
	return string(c.ctx.PostArgs().Peek(name))
}
func (c *actionCtx) QueryValue(name string) string {
	return string(c.ctx.QueryArgs().Peek(name))
}
func (c *actionCtx) Origin() string { return c.g.cfg.PublicScheme + "://" + string(c.ctx.Host()) }

// sealAD binds sealed data to its section, purpose and tenant.
func (c *actionCtx) sealAD(purpose string) string {
	return "section:" + c.section + ":" + purpose + ":" + c.t.ID
}

func (c *actionCtx) Seal(purpose string, data []byte) ([]byte, error) {
	return c.g.keyring.SealBytes(c.sealAD(purpose), data)
}

func (c *actionCtx) Unseal(purpose string, sealed []byte) ([]byte, error) {
	return c.g.keyring.OpenBytes(c.sealAD(purpose), sealed)
}

// event makes the outbox event of a section's change, naming the session's account and session.
func (c *actionCtx) event(ev plugins.Event) (*tenants.Event, error) {
	if ev.Data == nil {
		ev.Data = map[string]any{}
	}
	ev.Data["accountId"] = string(c.rs.s.AccountID)
	ev.Data["sessionId"] = string(c.rs.s.ID)
	if c.member != nil {
		ev.Data["member"] = c.member.Email // the audit entry's Member too
	}
	return tenants.NewEvent(c.t.ID, ev.Type, ev.Data, c.g.cfg.Now())
}

func (c *actionCtx) Catalog() (*tenants.CatalogSnapshot, error) {
	return c.g.plans.Catalog(web.Detach(c.ctx), c.t.ID)
}

func (c *actionCtx) Backend() plugins.Backend { return actionBackend{c} }

func (c *actionCtx) Team() plugins.Team { return actionTeam{c} }

// actionTeam is the account's team as a section's action reaches it.
type actionTeam struct{ c *actionCtx }

func (m actionTeam) Role() plugins.Role      { return plugins.Role(m.c.rs.s.Role) }
func (m actionTeam) Member() *tenants.Member { return m.c.member }
func (m actionTeam) aid() string             { return string(m.c.rs.s.AccountID) }
func (m actionTeam) Members() ([]tenants.Member, error) {
	return m.c.g.store.Members(web.Detach(m.c.ctx), m.c.t.ID, m.aid())
}

// change is the session's tenants.MemberChange: by the member, or by the holder's billing email.
func (m actionTeam) change() tenants.MemberChange {
	c := m.c
	by := "member:" + c.snap.Account.Email
	if c.member != nil {
		by = "member:" + c.member.Email
	}
	return tenants.MemberChange{By: by, SessionID: string(c.rs.s.ID), MemberEmail: c.memberEmail(),
		IP: c.g.ClientAddr(c.ctx).String(), UserAgent: string(c.ctx.UserAgent()), At: c.g.cfg.Now()}
}

func (m actionTeam) Invite(email, role string) (tenants.Member, bool, error) {
	by := m.change()
	mem, created, _, err := m.c.g.store.UpsertMember(web.Detach(m.c.ctx), m.c.t.ID, m.aid(), email, role, by)
	if err != nil || !created {
		return mem, created, err
	}
	inviter := strings.TrimPrefix(by.By, "member:")
	if inviter == "" {
		inviter = m.c.t.Name
	}
	if err := m.c.g.Invite(web.Detach(m.c.ctx), m.c.t, m.aid(), mem, inviter, m.c.lang.locale); err != nil {
		m.c.g.log.Warn("gateway: an invitation was not sent", "tenant", m.c.t.Slug, "err", err)
	}
	return mem, true, nil
}

func (m actionTeam) SetRole(memberID, role string) error {
	_, err := m.c.g.store.SetMemberRole(web.Detach(m.c.ctx), m.c.t.ID, m.aid(), memberID, role, m.change())
	return err
}

func (m actionTeam) Remove(memberID string) error {
	return m.c.g.store.RemoveMember(web.Detach(m.c.ctx), m.c.t.ID, m.aid(), memberID, m.change())
}

func (m actionTeam) Activity() ([]tenants.SessionAudit, error) {
	return m.c.g.store.SessionAudits(web.Detach(m.c.ctx), m.c.t.ID, m.aid())
}

func (c *actionCtx) UsageAlerts() plugins.AlertStore { return actionAlerts{c} }

// actionAlerts are the session account's usage alerts as a section's action reaches them.
type actionAlerts struct{ c *actionCtx }

func (a actionAlerts) List() (*tenants.UsageAlerts, error) {
	return a.c.g.store.UsageAlerts(web.Detach(a.c.ctx), a.c.t.ID, string(a.c.rs.s.AccountID))
}

func (a actionAlerts) Add(al tenants.UsageAlert) (tenants.UsageAlert, error) {
	return a.c.g.store.AddUsageAlert(web.Detach(a.c.ctx), a.c.t.ID, string(a.c.rs.s.AccountID), al, a.c.now)
}

func (a actionAlerts) Delete(id string) error {
	return a.c.g.store.DeleteUsageAlert(web.Detach(a.c.ctx), a.c.t.ID, string(a.c.rs.s.AccountID), id)
}

// actionBackend is the tenant backend protocol as a section's action reaches it.
type actionBackend struct{ c *actionCtx }

func (b actionBackend) Registered() bool { return b.c.g.hasBackend(b.c.t) }

func (b actionBackend) Call(req backend.Request) (backend.Response, error) {
	svc := b.c.g.cfg.Backend
	if svc == nil {
		return backend.Response{}, backend.ErrNoBackend
	}
	return svc.Call(web.Detach(b.c.ctx), b.c.t.ID, req)
}

func (b actionBackend) Store(doc *account.Account, ev plugins.Event) error {
	svc := b.c.g.cfg.Backend
	if svc == nil {
		return backend.ErrNoBackend
	}
	var events []*tenants.Event
	if ev.Type != "" {
		e, err := b.c.event(ev)
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	ctx, aid := web.Detach(b.c.ctx), string(b.c.rs.s.AccountID)
	_, err := svc.StoreAccount(ctx, b.c.t.ID, aid, doc, b.c.snap.Revision, events...)
	if doc != nil && errors.Is(err, tenants.ErrRevisionMismatch) {
		// The document moved while the backend worked: the tenant pushes it as usual; the event
		// of what the backend did is written all the same.
		b.c.g.log.Warn("gateway: a backend's account document was not stored: the account moved meanwhile", "tenant", b.c.t.Slug, "account", aid)
		if _, err2 := svc.StoreAccount(ctx, b.c.t.ID, aid, nil, 0, events...); err2 != nil {
			return err2
		}
	}
	return err
}

func (b actionBackend) Audit(typ string, detail map[string]any) error {
	d, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("gateway: encoding an audit entry: %w", err)
	}
	return b.c.g.store.RecordAudit(web.Detach(b.c.ctx), b.c.t.ID, string(b.c.rs.s.ID), tenants.AuditEntry{
		Type: typ, At: b.c.g.cfg.Now(), Member: b.c.memberEmail(), IP: b.c.g.ClientAddr(b.c.ctx).String(), UserAgent: string(b.c.ctx.UserAgent()), Detail: d})
}

func (c *actionCtx) Update(change func(a *account.Account) (plugins.Event, error)) error {
	_, err := c.g.store.UpdateAccount(web.Detach(c.ctx), c.t.ID, string(c.rs.s.AccountID), func(a *account.Account) ([]*tenants.Event, error) {
		ev, err := change(a)
		if err != nil || ev.Type == "" {
			return nil, err
		}
		e, err := c.event(ev)
		return []*tenants.Event{e}, err
	})
	return err
}

func (c *actionCtx) Page(status int, title string, body template.HTML) {
	// The session's token goes straight into the page: form pages are rendered per request.
	b := bytes.ReplaceAll([]byte(body), []byte(plugins.CSRFPlaceholder), c.rs.s.CSRF[:])
	c.g.renderAction(c.ctx, c.t, c.rs, c.lang, status, title, template.HTML(b))
}

func (c *actionCtx) Message(status int, titleKey, bodyKey string) {
	c.g.messagePageText(c.ctx, c.t, c.lang, status, titleKey, bodyKey)
}

func (c *actionCtx) Done() { done(c.ctx) }

func (c *actionCtx) Redirect(url string) {
	c.ctx.Response.Header.Set("Cache-Control", "no-store")
	c.ctx.Response.Header.Set("Location", url)
	c.ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

func (c *actionCtx) Fail(err error) { c.g.actionFailed(c.ctx, c.t, c.rs, err) }

// renderAction writes a form page in the portal's chrome, in language l. The back link of a
// return cookie goes straight into the page: form pages are rendered per request, never cached.
func (g *Gateway) renderAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, l pageLang, status int, title string, body template.HTML) {
	c := newChrome(t, l, title)
	c.NoHeading = true // the form's card carries the page's h1
	c.SignOut = true
	c.CSRFInput = template.HTML(`<input type="hidden" name="csrf" value="` + string(rs.s.CSRF[:]) + `">`)
	c.setBack(g.returnURL(ctx, t))
	c.Body = body
	var out bytes.Buffer
	if err := c.execute(&out, "page"); err != nil {
		g.log.Error("gateway: rendering action layout", "err", err)
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetStatusCode(status)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// snapshot loads the session's account, answering the error page itself when it cannot.
func (g *Gateway) snapshot(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) *tenants.AccountSnapshot {
	snap, err := g.store.Account(web.Detach(ctx), t.ID, string(rs.s.AccountID))
	if errors.Is(err, tenants.ErrAccountNotFound) {
		g.messagePage(ctx, t, sessionLang(string(rs.s.Locale), nil, t), fasthttp.StatusNotFound, "error.accountNotFound")
		return nil
	}
	if err != nil {
		g.unavailable(ctx, t, g.cachedLangOf(t, rs), err)
		return nil
	}
	return snap
}

// done redirects to the portal after a successful action (post/redirect/get), so a reload does not
// post again and the page shows the new state.
func done(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Location", "/")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// actionFailed answers the page for a failed account change.
func (g *Gateway) actionFailed(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, err error) {
	var ae *plugins.Refusal
	switch {
	case errors.As(err, &ae):
		g.messagePageText(ctx, t, g.langOf(ctx, t, rs), ae.Status, ae.TitleKey, ae.BodyKey)
	case errors.Is(err, tenants.ErrAccountNotFound):
		g.messagePage(ctx, t, sessionLang(string(rs.s.Locale), nil, t), fasthttp.StatusNotFound, "error.accountNotFound")
	case errors.Is(err, account.ErrInvalid):
		g.log.Warn("gateway: action would leave an invalid account", "tenant", t.Slug, "err", err)
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusConflict, "error.conflict")
	default:
		g.unavailable(ctx, t, g.cachedLangOf(t, rs), err)
	}
}

// refuse answers 403 without changing anything; bodyKey says what is not available.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, bodyKey string) {
	g.messagePageText(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusForbidden, "error.forbidden.title", bodyKey)
}

// isHostPath reports whether a path is the gateway's own, which no section action may take.
func isHostPath(p string) bool {
	return p == "/" || p == "/logout" || p == "/favicon.ico" ||
		strings.HasPrefix(p, "/s/") || strings.HasPrefix(p, "/assets/") || strings.HasPrefix(p, "/invoices/") || strings.HasPrefix(p, "/credit-notes/")
}
