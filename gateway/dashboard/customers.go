package dashboard

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

type customersData struct {
	Query             string
	Results           []*entry
	Total, Page, Last int
	From, To          int
	PrevURL, NextURL  string
}

// customers lists and searches the tenant's customers.
func (d *Dashboard) customers(ctx *fasthttp.RequestCtx, r *request) {
	q := strings.TrimSpace(string(ctx.QueryArgs().Peek("q")))
	if len(q) > 200 {
		q = q[:200]
	}
	page, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("page")))
	page = max(page, 1)
	ix, err := d.search.get(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	size := d.cfg.PageSize
	res := ix.search(q, (page-1)*size, size)
	data := &customersData{Query: q, Results: res.Entries, Total: res.Total, Page: page, Last: max(1, (res.Total+size-1)/size)}
	if len(res.Entries) > 0 {
		data.From, data.To = (page-1)*size+1, (page-1)*size+len(res.Entries)
	}
	pageURL := func(p int) string {
		v := url.Values{}
		if q != "" {
			v.Set("q", q)
		}
		if p > 1 {
			v.Set("page", strconv.Itoa(p))
		}
		if len(v) == 0 {
			return "/customers"
		}
		return "/customers?" + v.Encode()
	}
	if page > 1 {
		data.PrevURL = pageURL(min(page-1, data.Last))
	}
	if page < data.Last {
		data.NextURL = pageURL(page + 1)
	}
	v := r.view("customers", r.T("dash.customers.title"))
	v.Data = data
	d.render(ctx, fasthttp.StatusOK, "customers", v)
}

func (d *Dashboard) customerRoutes(ctx *fasthttp.RequestCtx, r *request, rest string, get bool) {
	id, action, _ := strings.Cut(rest, "/")
	if !account.ValidID(id) {
		d.customerNotFound(ctx, r, id)
		return
	}
	switch {
	case action == "" && get:
		d.customerPage(ctx, r, id, fasthttp.StatusOK, "", "", nil)
	case action == "send-link" && !get:
		d.sendLink(ctx, r, id)
	case action == "copy-link" && !get:
		d.copyLink(ctx, r, id)
	case action == "members" && !get:
		d.inviteMember(ctx, r, id)
	case strings.HasPrefix(action, "members/") && !get:
		mid, op, _ := strings.Cut(strings.TrimPrefix(action, "members/"), "/")
		d.changeMember(ctx, r, id, mid, op)
	default:
		d.notFound(ctx, r)
	}
}

func (d *Dashboard) customerNotFound(ctx *fasthttp.RequestCtx, r *request, id string) {
	d.message(ctx, r, fasthttp.StatusNotFound, "dash.customer.notFound.title", "dash.customer.notFound.body", "id", id, "tenant", r.tenant.Name)
}

type subscriptionView struct {
	*account.Subscription
	NextCharge string
}

type invoiceView struct {
	*account.Invoice
	Status     string // what the portal shows (account.Invoice.DisplayStatus), over the stored one
	Total, Due string
}

type customerData struct {
	Account        *account.Account
	Revision       int64
	Subscriptions  []subscriptionView
	Invoices       []invoiceView
	Link           *links.Result
	MailConfigured bool
	MaxLinks       int
	Locale         string
	// CommandSMTP is the command line that configures email, for the hint where it is not.
	CommandSMTP string
	// Members are the account's colleagues (tenants.Member), Roles the roles to choose from.
	Members    []tenants.Member
	Roles      []string
	MaxMembers int
	// InviteEmail and InviteRole refill the invite form after an error.
	InviteEmail, InviteRole string
}

// customerPage shows one customer of the admin's tenant: another tenant's id is not found.
func (d *Dashboard) customerPage(ctx *fasthttp.RequestCtx, r *request, id string, status int, flash, errMsg string, link *links.Result) {
	snap, err := d.store.Account(web.Detach(ctx), r.tenant.ID, id)
	if errors.Is(err, tenants.ErrAccountNotFound) {
		d.customerNotFound(ctx, r, id)
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	locale := r.l.locale // the admin's language; amounts keep their currency
	a := snap.Account
	data := &customerData{Account: a, Revision: snap.Revision, Link: link, MailConfigured: d.links.Configured(), MaxLinks: d.links.Limit(), Locale: locale,
		CommandSMTP: "portico serve --smtp-addr …"}
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		sv := subscriptionView{Subscription: s}
		if s.EstimatedNextCharge != nil {
			sv.NextCharge = i18n.Money(*s.EstimatedNextCharge, a.Currency, locale)
		} else if n, err := s.NextCharge(); err == nil {
			sv.NextCharge = i18n.Money(n, a.Currency, locale)
		}
		data.Subscriptions = append(data.Subscriptions, sv)
	}
	// Newest first, each with the status the portal shows the customer.
	now := d.cfg.Now()
	for _, inv := range a.InvoicesNewestFirst() {
		cur := a.InvoiceCurrency(inv)
		data.Invoices = append(data.Invoices, invoiceView{Invoice: inv, Status: inv.DisplayStatus(now),
			Total: i18n.Money(inv.Total, cur, locale), Due: i18n.Money(inv.AmountDue(), cur, locale)})
	}
	if data.Members, err = d.store.Members(web.Detach(ctx), r.tenant.ID, id); err != nil && !errors.Is(err, tenants.ErrAccountNotFound) {
		d.unavailable(ctx, r, err)
		return
	}
	data.Roles, data.MaxMembers, data.InviteRole = tenants.Roles, tenants.MaxMembers, tenants.RoleViewer
	if form := ctx.PostArgs(); status >= 400 && len(form.Peek("email")) > 0 {
		data.InviteEmail, data.InviteRole = string(form.Peek("email")), string(form.Peek("role"))
	}
	v := r.view("customers", a.Name)
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "customer", v)
}

// memberChange is the admin's tenants.MemberChange.
func (d *Dashboard) memberChange(ctx *fasthttp.RequestCtx, r *request) tenants.MemberChange {
	c := tenants.MemberChange{By: "dashboard:" + r.s.Email, UserAgent: string(ctx.UserAgent()), At: d.cfg.Now()}
	if d.cfg.ClientAddr != nil {
		c.IP = d.cfg.ClientAddr(ctx).String()
	}
	return c
}

// inviteMember adds a colleague to the customer's account (or sets the role of the one with
// that email) and emails the invitation when the server can.
func (d *Dashboard) inviteMember(ctx *fasthttp.RequestCtx, r *request, id string) {
	form := ctx.PostArgs()
	email, role := strings.TrimSpace(string(form.Peek("email"))), string(form.Peek("role"))
	m, created, _, err := d.store.UpsertMember(web.Detach(ctx), r.tenant.ID, id, email, role, d.memberChange(ctx, r))
	if d.memberFailed(ctx, r, id, err) {
		return
	}
	flash := r.T("dash.customer.team.roleSet", "email", m.Email, "role", r.T("role."+m.Role))
	if created {
		flash = r.T("dash.customer.team.added", "email", m.Email)
		if d.cfg.Invite != nil {
			if err := d.cfg.Invite(web.Detach(ctx), r.tenant, id, m, r.tenant.Name, ""); err != nil {
				d.log.Warn("dashboard: an invitation was not sent", "tenant", r.tenant.Slug, "account", id, "err", err)
			} else {
				flash = r.T("dash.customer.team.invited", "email", m.Email)
			}
		}
	}
	d.customerPage(ctx, r, id, fasthttp.StatusOK, flash, "", nil)
}

// changeMember sets a member's role (op "role") or removes it (op "remove").
func (d *Dashboard) changeMember(ctx *fasthttp.RequestCtx, r *request, id, mid, op string) {
	var err error
	switch op {
	case "role":
		_, err = d.store.SetMemberRole(web.Detach(ctx), r.tenant.ID, id, mid, string(ctx.PostArgs().Peek("role")), d.memberChange(ctx, r))
	case "remove":
		err = d.store.RemoveMember(web.Detach(ctx), r.tenant.ID, id, mid, d.memberChange(ctx, r))
	default:
		d.notFound(ctx, r)
		return
	}
	if d.memberFailed(ctx, r, id, err) {
		return
	}
	flash := r.T("dash.customer.team.changed")
	if op == "remove" {
		flash = r.T("dash.customer.team.removed")
	}
	d.customerPage(ctx, r, id, fasthttp.StatusOK, flash, "", nil)
}

// memberFailed answers the customer page with the error of a members change, and reports
// whether there was one.
func (d *Dashboard) memberFailed(ctx *fasthttp.RequestCtx, r *request, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, tenants.ErrAccountNotFound):
		d.customerNotFound(ctx, r, id)
	case errors.Is(err, tenants.ErrInvalidMember):
		d.customerPage(ctx, r, id, fasthttp.StatusBadRequest, "", r.T("dash.customer.team.error.invalid"), nil)
	case errors.Is(err, tenants.ErrMemberIsHolder):
		d.customerPage(ctx, r, id, fasthttp.StatusConflict, "", r.T("dash.customer.team.error.holder"), nil)
	case errors.Is(err, tenants.ErrTooManyMembers):
		d.customerPage(ctx, r, id, fasthttp.StatusConflict, "", r.T("dash.customer.team.error.tooMany", "count", tenants.MaxMembers), nil)
	case errors.Is(err, tenants.ErrMemberNotFound):
		d.customerPage(ctx, r, id, fasthttp.StatusNotFound, "", r.T("dash.customer.team.error.notFound"), nil)
	default:
		d.unavailable(ctx, r, err)
	}
	return true
}

// sendLink emails a new portal link to the customer.
func (d *Dashboard) sendLink(ctx *fasthttp.RequestCtx, r *request, id string) {
	by := "dashboard:" + r.s.Email
	res, to, err := d.links.EmailPortalLink(web.Detach(ctx), r.tenant, id, "", by)
	var rl *links.RateLimitError
	switch {
	case err == nil:
		d.log.Info("dashboard: portal link emailed", "tenant", r.tenant.Slug, "account", id, "session", res.SessionID, "by", by)
		d.customerPage(ctx, r, id, fasthttp.StatusOK, r.T("dash.customer.linkSent",
			"email", to, "duration", r.l.Duration(res.ExpiresAt.Sub(d.cfg.Now())), "time", clock(res.ExpiresAt)), "", nil)
	case errors.Is(err, tenants.ErrAccountNotFound):
		d.customerNotFound(ctx, r, id)
	case errors.Is(err, links.ErrMailNotConfigured):
		d.customerPage(ctx, r, id, fasthttp.StatusServiceUnavailable, "", r.T("dash.customer.error.noMail"), nil)
	case errors.Is(err, links.ErrNoEmail):
		d.customerPage(ctx, r, id, fasthttp.StatusConflict, "", r.T("dash.customer.error.noEmail"), nil)
	case errors.As(err, &rl):
		d.customerPage(ctx, r, id, fasthttp.StatusTooManyRequests, "", r.T("dash.customer.error.rateLimited",
			"count", rl.Limit, "time", clock(rl.RetryAt)), nil)
	case errors.Is(err, tenants.ErrUnavailable):
		d.unavailable(ctx, r, err)
	default:
		d.log.Warn("dashboard: sending a portal link failed", "tenant", r.tenant.Slug, "account", id, "by", by, "err", err)
		d.customerPage(ctx, r, id, fasthttp.StatusBadGateway, "", r.T("dash.customer.error.sendFailed",
			"email", to, "error", strings.TrimPrefix(err.Error(), "mail: ")), nil)
	}
}

// copyLink issues a new portal link and shows it for the admin to copy. The admin passes it on
// in an email or a chat message, whose scanners and previews open it too: it is an emailed link
// (tenants.LinkKindEmail), redeemed by the customer's click on its Continue page.
func (d *Dashboard) copyLink(ctx *fasthttp.RequestCtx, r *request, id string) {
	res, _, err := d.cfg.Issuer.Create(web.Detach(ctx), r.tenant, &links.Request{AccountID: id}, links.Options{CreatedBy: "dashboard:" + r.s.Email, Kind: tenants.LinkKindEmail})
	switch {
	case errors.Is(err, tenants.ErrAccountNotFound):
		d.customerNotFound(ctx, r, id)
	case err != nil:
		d.unavailable(ctx, r, err)
	default:
		d.log.Info("dashboard: portal link created", "tenant", r.tenant.Slug, "account", id, "session", res.SessionID, "by", r.s.Email)
		d.customerPage(ctx, r, id, fasthttp.StatusOK, "", "", res)
	}
}
