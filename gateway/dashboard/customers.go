package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/plugins/format"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// Errors of EmailPortalLink.
var (
	ErrMailNotConfigured = errors.New("dashboard: email is not configured (start portico with --smtp-addr)")
	ErrNoEmail           = errors.New("dashboard: the customer has no billing email")
	// ErrRateLimited is wrapped by *RateLimitError.
	ErrRateLimited = errors.New("dashboard: too many portal links for this customer")
)

// RateLimitError says that a customer was sent Limit links this hour and when the next is allowed.
type RateLimitError struct {
	Limit   int
	RetryAt time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: at most %d per hour; the next one can be sent at %s", ErrRateLimited, e.Limit, e.RetryAt.UTC().Format("15:04 MST"))
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// EmailPortalLink issues a new single-use emailed link (tenants.LinkKindEmail: opening it shows a
// Continue page, whose button redeems it) to the account with the tenant's portal defaults and
// emails it to the account's billing email. At most Config.MaxLinksPerHour links per account
// per clock hour are sent, counted in etcd across all instances once sent (a send the SMTP server
// refuses does not count; sends in flight together may pass the limit by a few). createdBy names the requester for the audit trail
// ("dashboard:<admin email>", "apikey:<id>"). The tenant API can send the same email through it.
func (d *Dashboard) EmailPortalLink(ctx context.Context, t *tenants.Tenant, accountID, locale, createdBy string) (*links.Result, string, error) {
	if d.cfg.Mail == nil {
		return nil, "", ErrMailNotConfigured
	}
	snap, err := d.store.Account(ctx, t.ID, accountID)
	if err != nil {
		return nil, "", err
	}
	to := snap.Account.Email
	if to == "" {
		return nil, "", ErrNoEmail
	}
	now := d.cfg.Now()
	n, err := d.store.LinkEmailCount(ctx, t.ID, accountID, now)
	if err != nil {
		return nil, "", err
	}
	if n >= d.cfg.MaxLinksPerHour {
		return nil, to, &RateLimitError{Limit: d.cfg.MaxLinksPerHour, RetryAt: now.Truncate(time.Hour).Add(time.Hour)}
	}
	res, _, err := d.cfg.Issuer.Create(ctx, t, &links.Request{AccountID: accountID, Locale: locale}, links.Options{CreatedBy: createdBy, Kind: tenants.LinkKindEmail})
	if err != nil {
		return nil, to, err
	}
	// The email is in the customer's language: the one asked for, else the account's locale, else
	// the tenant's default, else English (the first of them that is a supported language).
	_, lang := i18n.ResolveFormat(locale, snap.Account.Locale, t.DefaultLocale)
	msg := mail.PortalLinkMessage{
		To: to, TenantName: t.Name, AccountName: snap.Account.Name, URL: res.SessionURL, ExpiresAt: res.ExpiresAt,
		PrimaryColor: t.Branding.PrimaryColor, AccentColor: t.Branding.AccentColor, AccentTitles: t.Branding.AccentTitles, Locale: lang,
	}
	if origin, _, ok := strings.Cut(res.SessionURL, "/s/"); ok && t.Branding.LogoETag != "" {
		msg.LogoURL = origin + "/assets/logo?v=" + t.Branding.LogoETag
	}
	// The caller logs the outcome under its own name (the dashboard, the API). The error never
	// holds the link (package mail redacts it).
	if err := d.cfg.Mail.SendPortalLink(ctx, msg); err != nil {
		return nil, to, err
	}
	// Only a sent email counts. The email is out: a failure to count it is logged, not reported
	// as a failed send.
	if _, err := d.store.CountLinkEmail(ctx, t.ID, accountID, now); err != nil {
		d.log.Warn("dashboard: counting a sent portal-link email", "tenant", t.ID, "account", accountID, "err", err)
	}
	return res, to, nil
}

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
	data := &customerData{Account: a, Revision: snap.Revision, Link: link, MailConfigured: d.cfg.Mail != nil, MaxLinks: d.cfg.MaxLinksPerHour, Locale: locale,
		CommandSMTP: "portico serve --smtp-addr …"}
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		sv := subscriptionView{Subscription: s}
		if s.EstimatedNextCharge != nil {
			sv.NextCharge = format.Money(*s.EstimatedNextCharge, a.Currency, locale)
		} else if n, err := s.NextCharge(); err == nil {
			sv.NextCharge = format.Money(n, a.Currency, locale)
		}
		data.Subscriptions = append(data.Subscriptions, sv)
	}
	// Newest first, each with the status the portal shows the customer.
	now := d.cfg.Now()
	for _, inv := range a.InvoicesNewestFirst() {
		cur := a.InvoiceCurrency(inv)
		data.Invoices = append(data.Invoices, invoiceView{Invoice: inv, Status: inv.DisplayStatus(now),
			Total: format.Money(inv.Total, cur, locale), Due: format.Money(inv.AmountDue(), cur, locale)})
	}
	v := r.view("customers", a.Name)
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "customer", v)
}

// sendLink emails a new portal link to the customer.
func (d *Dashboard) sendLink(ctx *fasthttp.RequestCtx, r *request, id string) {
	by := "dashboard:" + r.s.Email
	res, to, err := d.EmailPortalLink(web.Detach(ctx), r.tenant, id, "", by)
	var rl *RateLimitError
	switch {
	case err == nil:
		d.log.Info("dashboard: portal link emailed", "tenant", r.tenant.Slug, "account", id, "session", res.SessionID, "by", by)
		d.customerPage(ctx, r, id, fasthttp.StatusOK, r.T("dash.customer.linkSent",
			"email", to, "duration", r.l.Duration(res.ExpiresAt.Sub(d.cfg.Now())), "time", clock(res.ExpiresAt)), "", nil)
	case errors.Is(err, tenants.ErrAccountNotFound):
		d.customerNotFound(ctx, r, id)
	case errors.Is(err, ErrMailNotConfigured):
		d.customerPage(ctx, r, id, fasthttp.StatusServiceUnavailable, "", r.T("dash.customer.error.noMail"), nil)
	case errors.Is(err, ErrNoEmail):
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
