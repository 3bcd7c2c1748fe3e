package gateway

import (
	"context"
	"errors"

	"github.com/fasthttp/router"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// Colleagues with roles (tenants.Member): the API's members routes, and the invitation email that
// they, the portal's Team page and the dashboard send.

// ErrNoInviteMail is the error of an invitation asked for on a server without SMTP (--smtp-addr).
var ErrNoInviteMail = errors.New("gateway: no SMTP server is configured for invitations")

// Invite is an invitation's email: who invited (an email, or the tenant's name for its API and
// dashboard) the member to the account, in the language of locale (the account's when empty). It
// holds the portal's sign-in URL, never a token.
func (g *Gateway) Invite(ctx context.Context, t *tenants.Tenant, accountID string, m tenants.Member, inviter, locale string) error {
	if g.cfg.SignInMail == nil {
		return ErrNoInviteMail
	}
	snap, err := g.store.Account(ctx, t.ID, accountID)
	if err != nil {
		return err
	}
	if locale == "" {
		locale = snap.Account.Locale
	}
	origin := g.urls.Portal(t)
	msg := mail.PortalLinkMessage{
		To: m.Email, TenantName: t.Name, AccountName: snap.Account.Name, URL: origin + "/sign-in", InvitedBy: inviter, Role: m.Role,
		PrimaryColor: t.Branding.PrimaryColor, AccentColor: t.Branding.AccentColor, AccentTitles: t.Branding.AccentTitles, Locale: locale,
	}
	if t.Branding.LogoETag != "" {
		msg.LogoURL = origin + "/assets/logo?v=" + t.Branding.LogoETag
	}
	return g.cfg.SignInMail.SendPortalLink(ctx, msg)
}

func (g *Gateway) memberRoutes(r *router.Router) {
	r.GET("/v1/accounts/{id}/members", g.authed(g.apiMembers))
	r.POST("/v1/accounts/{id}/members", g.authed(g.apiPutMember))
	r.DELETE("/v1/accounts/{id}/members/{memberId}", g.authed(g.apiRemoveMember))
}

// apiMembers is GET /v1/accounts/{id}/members: {"holder": <billing email>, "members": [...]}.
func (g *Gateway) apiMembers(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	list, err := g.store.Members(web.Detach(ctx), t.ID, id)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	if list == nil {
		list = []tenants.Member{}
	}
	holder := ""
	if snap, err := g.store.Account(web.Detach(ctx), t.ID, id); err == nil {
		holder = snap.Account.Email
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Holder  string           `json:"holder"`
		Members []tenants.Member `json:"members"`
	}{holder, list})
}

// apiPutMember is POST /v1/accounts/{id}/members {"email", "role", "sendInvite"}: 201 with a new
// member, 200 with one whose role changed or stayed.
func (g *Gateway) apiPutMember(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	var req struct {
		Email      string `json:"email"`
		Role       string `json:"role"`
		SendInvite bool   `json:"sendInvite"`
	}
	if !decodeJSON(ctx, &req) {
		return
	}
	if req.SendInvite && g.cfg.SignInMail == nil {
		writeProblem(ctx, fasthttp.StatusServiceUnavailable, "email is not configured on this server (--smtp-addr); send the invitation without sendInvite")
		return
	}
	m, created, _, err := g.store.UpsertMember(web.Detach(ctx), t.ID, id, req.Email, req.Role, tenants.MemberChange{By: "apikey:" + key.ID, At: g.cfg.Now()})
	if !g.memberError(ctx, err) {
		return
	}
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	res := struct {
		tenants.Member
		InviteSent bool `json:"inviteSent"`
	}{Member: m}
	if req.SendInvite {
		if err := g.Invite(web.Detach(ctx), t, id, m, t.Name, ""); err != nil {
			g.log.Warn("gateway: an invitation was not sent", "tenant", t.Slug, "account", id, "err", err)
		} else {
			res.InviteSent = true
		}
	}
	writeJSON(ctx, status, res)
}

// apiRemoveMember is DELETE /v1/accounts/{id}/members/{memberId}: 204; the member's sessions end.
func (g *Gateway) apiRemoveMember(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	mid, _ := ctx.UserValue("memberId").(string)
	err := g.store.RemoveMember(web.Detach(ctx), t.ID, id, mid, tenants.MemberChange{By: "apikey:" + key.ID, At: g.cfg.Now()})
	if g.memberError(ctx, err) {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}
}

// memberError answers an error of a members change and reports whether there was none.
func (g *Gateway) memberError(ctx *fasthttp.RequestCtx, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, tenants.ErrInvalidMember):
		writeProblem(ctx, fasthttp.StatusBadRequest, trimTenants(err.Error()))
	case errors.Is(err, tenants.ErrMemberIsHolder):
		writeProblem(ctx, fasthttp.StatusConflict, "the email is the account's billing email: its holder is always an owner")
	case errors.Is(err, tenants.ErrTooManyMembers):
		writeProblem(ctx, fasthttp.StatusConflict, trimTenants(err.Error()))
	case errors.Is(err, tenants.ErrMemberNotFound):
		writeProblem(ctx, fasthttp.StatusNotFound, "member not found")
	default:
		g.apiError(ctx, err)
	}
	return false
}
