package gateway

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/billingdetails"
	"github.com/portico-billing/portico/plugins/format"
	"github.com/portico-billing/portico/plugins/planoverview"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
	"golang.org/x/text/language"
)

//go:embed web/actions.html
var actionsHTML string

// actionTmpl holds the form pages; their texts are translated per language ("t").
var actionTmpl = i18n.NewTemplates(template.Must(template.New("actions").Funcs(plugins.Funcs()).Parse(actionsHTML)))

// Cancellation reasons a customer picks from, in the order shown; each is labelled by the
// message "cancel.reason.<value>".
var cancelReasons = []string{"no_longer_required", "moving_provider", "pricing", "support", "features", "upgraded", "other"}

// MaxCommentLen bounds a cancellation comment, in characters.
const MaxCommentLen = 1000

// portalAction is a portal route that needs a session.
type portalAction func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch)

// serveAction routes the portal's pages other than / and the assets. Every one needs a session;
// every POST passes the CSRF and Origin checks first, then the session permission its route
// requires (a 403 page naming what is not available, nothing changed).
func (g *Gateway) serveAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	path := string(ctx.Path())
	get, post := ctx.IsGet() || ctx.IsHead(), ctx.IsPost()
	var (
		h       portalAction
		need    *plugins.Switch // the session permission the route requires, nil for none
		refusal string          // the message of the 403 page when the session lacks it
	)
	requires := func(perm *plugins.Switch, bodyKey string) { need, refusal = perm, bodyKey }
	switch {
	case path == "/billing/edit" && get:
		h = g.billingForm
		requires(billingdetails.AllowDetailsEdit, "error.forbidden.billing")
	case path == "/billing/edit" && post:
		h = g.billingSave
		requires(billingdetails.AllowDetailsEdit, "error.forbidden.billing")
	case path == "/billing/autopay" && get:
		h = g.autopayForm
		requires(billingdetails.AllowAutopayEdit, "error.forbidden.autopay")
	case path == "/billing/autopay" && post:
		h = g.autopaySave
		requires(billingdetails.AllowAutopayEdit, "error.forbidden.autopay")
	case path == "/payment-methods/add" && get:
		h = g.paymentMethodAdd
		requires(billingdetails.AllowDetailsEdit, "error.forbidden.addPaymentMethod")
	case path == "/payment-methods/return" && get:
		h = g.paymentMethodReturn
	case strings.HasPrefix(path, "/subscriptions/"):
		id, action, _ := strings.Cut(strings.TrimPrefix(path, "/subscriptions/"), "/")
		switch {
		case action == "cancel" && get:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.cancelForm(ctx, t, rs, id) }
			requires(planoverview.AllowCancel, "error.forbidden.cancel")
		case action == "cancel" && post:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.cancelSave(ctx, t, rs, id) }
			requires(planoverview.AllowCancel, "error.forbidden.cancel")
		case action == "reactivate" && post:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.reactivate(ctx, t, rs, id) }
			requires(planoverview.AllowCancel, "error.forbidden.subscription")
		}
	case strings.HasPrefix(path, "/payment-methods/") && post:
		id, action, _ := strings.Cut(strings.TrimPrefix(path, "/payment-methods/"), "/")
		switch action {
		case "default":
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
				g.paymentMethodDefault(ctx, t, rs, id)
			}
		case "remove":
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
				g.paymentMethodRemove(ctx, t, rs, id)
			}
		}
		requires(billingdetails.AllowDetailsEdit, "error.forbidden.paymentMethods")
	case strings.HasPrefix(path, "/invoices/") && get:
		id := strings.TrimPrefix(path, "/invoices/")
		if pdf, ok := strings.CutSuffix(id, ".pdf"); ok {
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.invoicePDF(ctx, t, rs, pdf) }
		} else {
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.invoicePage(ctx, t, rs, id) }
		}
	}
	if h == nil {
		return false
	}
	if !g.openSession(ctx, t, rs) {
		g.sessionEnded(ctx, t)
		return true
	}
	if post && !g.checkForm(ctx, t, rs) {
		return true
	}
	if need != nil && !plugins.Switches(rs.s.Switches).On(need) {
		g.refuse(ctx, t, rs, refusal)
		return true
	}
	h(ctx, t, rs)
	return true
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

// renderAction writes a form page in the portal's chrome, in language l. The session's CSRF token
// and the back link of a return cookie go straight into the page: form pages are rendered per
// request, never cached.
func (g *Gateway) renderAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, l pageLang, status int, title, name string, data any) {
	var body bytes.Buffer
	if err := actionTmpl.Execute(&body, l.Printer, name, data); err != nil {
		g.log.Error("gateway: rendering action page", "page", name, "err", err)
		g.messagePageText(ctx, t, l, fasthttp.StatusInternalServerError, "error.internal.title", "error.internal.page")
		return
	}
	c := newChrome(t, l, title)
	c.NoHeading = true // the form's card carries the page's h1
	c.SignOut = true
	c.CSRFInput = template.HTML(`<input type="hidden" name="csrf" value="` + string(rs.s.CSRF[:]) + `">`)
	c.setBack(g.returnURL(ctx, t))
	c.Body = template.HTML(body.String())
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

// done redirects to the portal after a successful action (post/redirect/get), so a reload does not
// post again and the page shows the new state.
func done(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Location", "/")
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// update applies change to the session's account with its events; it answers the page itself when
// the change fails and reports whether it succeeded.
func (g *Gateway) update(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, change func(a *account.Account) ([]*tenants.Event, error)) bool {
	_, err := g.store.UpdateAccount(web.Detach(ctx), t.ID, string(rs.s.AccountID), change)
	if err == nil {
		return true
	}
	g.actionFailed(ctx, t, rs, err)
	return false
}

// actionFailed answers the page for a failed account change.
func (g *Gateway) actionFailed(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, err error) {
	var ae *actionError
	switch {
	case errors.As(err, &ae):
		g.messagePageText(ctx, t, g.langOf(ctx, t, rs), ae.status, ae.titleKey, ae.bodyKey)
	case errors.Is(err, tenants.ErrAccountNotFound):
		g.messagePage(ctx, t, sessionLang(string(rs.s.Locale), nil, t), fasthttp.StatusNotFound, "error.accountNotFound")
	case errors.Is(err, account.ErrInvalid):
		g.log.Warn("gateway: action would leave an invalid account", "tenant", t.Slug, "err", err)
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusConflict, "error.conflict")
	default:
		g.unavailable(ctx, t, g.cachedLangOf(t, rs), err)
	}
}

// actionError is a refusal decided inside an account change, shown as a page of two messages.
type actionError struct {
	status            int
	titleKey, bodyKey string
}

func (e *actionError) Error() string { return "gateway: action refused: " + e.titleKey }

// notFound is the refusal of a change to a subscription or payment method that is gone; titleKey
// names it ("error.subscriptionNotFound.title").
func notFound(titleKey string) error {
	return &actionError{fasthttp.StatusNotFound, titleKey, "error.removed.body"}
}

// event builds an event of the session's account with the session id in its data.
func (g *Gateway) event(t *tenants.Tenant, rs *reqScratch, typ string, data map[string]any) (*tenants.Event, error) {
	data["accountId"] = string(rs.s.AccountID)
	data["sessionId"] = string(rs.s.ID)
	return tenants.NewEvent(t.ID, typ, data, g.cfg.Now())
}

func today(now time.Time) account.Date { return account.Date(now.UTC().Format(time.DateOnly)) }

// refuse answers 403 without changing anything; bodyKey says what is not available.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, bodyKey string) {
	g.messagePageText(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusForbidden, "error.forbidden.title", bodyKey)
}

// ---- cancellation ----

type cancelPage struct {
	Sub             *account.Subscription
	Effect          string
	CSRF            string
	TenantName      string
	Reasons         []option
	Reason, Comment string
	Errors          map[string]string
}

func cancellable(s *account.Subscription) bool {
	switch s.Status {
	case account.SubActive, account.SubTrialing, account.SubPastDue:
		return !s.CancelAtPeriodEnd
	}
	return false
}

// effect says what cancelling does under the tenant's policy, and when.
func cancelEffect(t *tenants.Tenant, s *account.Subscription) (immediate bool, date account.Date) {
	if t.Portal.CancelMode == tenants.CancelImmediate || s.CurrentPeriodEnd == "" {
		return true, ""
	}
	return false, s.CurrentPeriodEnd
}

func (g *Gateway) cancelForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	g.cancelPage(ctx, t, rs, id, fasthttp.StatusOK, "", "", nil)
}

func (g *Gateway) cancelPage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string, status int, reason, comment string, errs map[string]string) {
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	l := sessionLang(string(rs.s.Locale), snap, t)
	sub := snap.Account.Subscription(id)
	if sub == nil {
		g.messagePage(ctx, t, l, fasthttp.StatusNotFound, "error.subscriptionNotFound")
		return
	}
	if !cancellable(sub) {
		done(ctx) // already cancelled or scheduled: the overview says so
		return
	}
	p := &cancelPage{Sub: sub, CSRF: string(rs.s.CSRF[:]), TenantName: t.Name, Reason: reason, Comment: comment, Errors: errs}
	for _, r := range cancelReasons {
		p.Reasons = append(p.Reasons, option{r, l.T("cancel.reason." + r)})
	}
	if imm, date := cancelEffect(t, sub); imm {
		p.Effect = l.T("cancel.effectImmediate")
	} else {
		p.Effect = l.T("cancel.effectEndOfTerm", "date", format.Date(date, l.locale))
	}
	g.renderAction(ctx, t, rs, l, status, l.T("cancel.pageTitle"), "cancel", p)
}

func (g *Gateway) cancelSave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	args := ctx.PostArgs()
	reason, comment := string(args.Peek("reason")), strings.TrimSpace(string(args.Peek("comment")))
	errs := map[string]string{}
	l := g.langOf(ctx, t, rs)
	if !slices.Contains(cancelReasons, reason) {
		errs["reason"] = l.T("cancel.error.reason")
	}
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > MaxCommentLen {
		errs["comment"] = l.T("cancel.error.comment", "max", MaxCommentLen)
	}
	if len(errs) > 0 {
		g.cancelPage(ctx, t, rs, id, fasthttp.StatusUnprocessableEntity, reason, comment, errs)
		return
	}
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return nil, notFound("error.subscriptionNotFound.title")
		}
		if !cancellable(sub) {
			return nil, tenants.ErrNoChange // a double submit, or cancelled meanwhile
		}
		data := map[string]any{"subscriptionId": sub.ID, "reason": reason, "comment": comment}
		now := g.cfg.Now()
		if imm, date := cancelEffect(t, sub); imm {
			sub.Status, sub.CanceledAt, sub.CancelAtPeriodEnd, sub.NextChargeDate = account.SubCanceled, today(now), false, ""
			data["canceledAt"] = sub.CanceledAt
			e, err := g.event(t, rs, tenants.EventSubscriptionCanceled, data)
			return []*tenants.Event{e}, err
		} else {
			sub.CancelAtPeriodEnd, sub.CanceledAt = true, date
			data["effectiveDate"] = date
			e, err := g.event(t, rs, tenants.EventSubscriptionCancelationScheduled, data)
			return []*tenants.Event{e}, err
		}
	})
	if ok {
		done(ctx)
	}
}

func (g *Gateway) reactivate(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return nil, notFound("error.subscriptionNotFound.title")
		}
		if !sub.CancelAtPeriodEnd || sub.Status == account.SubCanceled || sub.Status == account.SubEnded {
			return nil, tenants.ErrNoChange
		}
		sub.CancelAtPeriodEnd, sub.CanceledAt = false, ""
		e, err := g.event(t, rs, tenants.EventSubscriptionReactivated, map[string]any{"subscriptionId": sub.ID})
		return []*tenants.Event{e}, err
	})
	if ok {
		done(ctx)
	}
}

// ---- billing details ----

type formField struct {
	Name, Label, Type, Value, Error, Autocomplete string
	Max                                           int
	Required                                      bool
	Options                                       []option
}

type option struct{ Value, Label string }

// countryCodes are the countries the billing form offers: every ISO 3166-1 alpha-2 code the
// account document accepts, less the withdrawn ones (DD, YU, UK, TP: they would repeat a current
// country's name or show a bare code) and the groupings UN and EZ.
var countryCodes = func() []string {
	var out []string
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if !account.ValidCountry(code) || code == "UN" || code == "EZ" {
				continue
			}
			r, _ := language.ParseRegion(code)
			if r.Canonicalize().String() != code || i18n.NewPrinter(i18n.English).CountryName(code) == code {
				continue
			}
			out = append(out, code)
		}
	}
	return out
}()

// countryOptions caches, per language (an i18n.Printer), the countries with their names in
// that language, sorted as the language sorts: the options of the country field.
var countryOptions sync.Map

func countries(l pageLang) []option {
	if v, ok := countryOptions.Load(l.Printer); ok {
		return v.([]option)
	}
	var out []option
	for _, c := range l.Countries(countryCodes) {
		out = append(out, option{c.Code, c.Name})
	}
	countryOptions.Store(l.Printer, out)
	return out
}

type billingPage struct {
	CSRF   string
	Fields []formField
	Errors bool
}

// billingValues are the editable billing details, as typed.
type billingValues struct {
	LegalName, Email, TaxID, Line1, Line2, City, PostalCode, Region, Country string
}

func currentBilling(a *account.Account) billingValues {
	v := billingValues{LegalName: a.Name, Email: a.Email}
	if c := a.Company; c != nil {
		if c.LegalName != "" {
			v.LegalName = c.LegalName
		}
		v.TaxID = c.TaxID
		if ad := c.Address; ad != nil {
			v.Line1, v.Line2, v.City, v.PostalCode, v.Region, v.Country = ad.Line1, ad.Line2, ad.City, ad.PostalCode, ad.Region, ad.Country
		}
	}
	return v
}

func (v billingValues) fields(l pageLang, errs map[string]string) []formField {
	label := func(name string) string { return l.T("billing.field." + name) }
	return []formField{
		{Name: "legalName", Label: label("legalName"), Type: "text", Value: v.LegalName, Autocomplete: "organization", Max: 200, Required: true, Error: errs["legalName"]},
		{Name: "email", Label: label("email"), Type: "email", Value: v.Email, Autocomplete: "email", Max: 254, Required: true, Error: errs["email"]},
		{Name: "line1", Label: label("line1"), Type: "text", Value: v.Line1, Autocomplete: "address-line1", Max: 200, Required: true, Error: errs["line1"]},
		{Name: "line2", Label: label("line2"), Type: "text", Value: v.Line2, Autocomplete: "address-line2", Max: 200, Error: errs["line2"]},
		{Name: "postalCode", Label: label("postalCode"), Type: "text", Value: v.PostalCode, Autocomplete: "postal-code", Max: 20, Error: errs["postalCode"]},
		{Name: "city", Label: label("city"), Type: "text", Value: v.City, Autocomplete: "address-level2", Max: 100, Required: true, Error: errs["city"]},
		{Name: "region", Label: label("region"), Type: "text", Value: v.Region, Autocomplete: "address-level1", Max: 100, Error: errs["region"]},
		{Name: "country", Label: label("country"), Value: v.Country, Required: true, Options: countries(l), Error: errs["country"]},
		{Name: "taxId", Label: label("taxId"), Type: "text", Value: v.TaxID, Autocomplete: "off", Max: 64, Error: errs["taxId"]},
	}
}

// validate checks typed billing details and returns the problems by field, in language l.
func (v *billingValues) validate(l pageLang) map[string]string {
	errs := map[string]string{}
	text := func(name, val string, required bool, max int) {
		label := l.T("billing.field." + name)
		switch {
		case required && val == "":
			errs[name] = l.T("billing.error.required", "field", label)
		case !utf8.ValidString(val) || strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs[name] = l.T("billing.error.characters", "field", label)
		case utf8.RuneCountInString(val) > max:
			errs[name] = l.T("billing.error.tooLong", "field", label)
		}
	}
	text("legalName", v.LegalName, true, 200)
	text("line1", v.Line1, true, 200)
	text("line2", v.Line2, false, 200)
	text("city", v.City, true, 100)
	text("postalCode", v.PostalCode, false, 20)
	text("region", v.Region, false, 100)
	text("taxId", v.TaxID, false, 64)
	if v.Email == "" {
		errs["email"] = l.T("billing.error.required", "field", l.T("billing.field.email"))
	} else if !account.ValidEmail(v.Email) {
		errs["email"] = l.T("billing.error.email")
	}
	if !account.ValidCountry(v.Country) {
		errs["country"] = l.T("billing.error.country")
	}
	return errs
}

func (g *Gateway) billingForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	l := sessionLang(string(rs.s.Locale), snap, t)
	g.renderAction(ctx, t, rs, l, fasthttp.StatusOK, l.T("billing.pageTitle"), "billing-edit",
		&billingPage{CSRF: string(rs.s.CSRF[:]), Fields: currentBilling(snap.Account).fields(l, nil)})
}

func (g *Gateway) billingSave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	a := ctx.PostArgs()
	get := func(k string) string { return strings.TrimSpace(string(a.Peek(k))) }
	v := billingValues{
		LegalName: get("legalName"), Email: get("email"), TaxID: get("taxId"), Line1: get("line1"), Line2: get("line2"),
		City: get("city"), PostalCode: get("postalCode"), Region: get("region"), Country: strings.ToUpper(get("country")),
	}
	l := g.langOf(ctx, t, rs)
	if errs := v.validate(l); len(errs) > 0 {
		g.renderAction(ctx, t, rs, l, fasthttp.StatusUnprocessableEntity, l.T("billing.pageTitle"), "billing-edit",
			&billingPage{CSRF: string(rs.s.CSRF[:]), Fields: v.fields(l, errs), Errors: true})
		return
	}
	ok := g.update(ctx, t, rs, func(acc *account.Account) ([]*tenants.Event, error) {
		if currentBilling(acc) == v {
			return nil, tenants.ErrNoChange
		}
		if acc.Company == nil {
			acc.Company = &account.Company{}
		}
		acc.Email = v.Email
		acc.Company.LegalName, acc.Company.TaxID = v.LegalName, v.TaxID
		acc.Company.Address = &account.Address{Line1: v.Line1, Line2: v.Line2, City: v.City, PostalCode: v.PostalCode, Region: v.Region, Country: v.Country}
		e, err := g.event(t, rs, tenants.EventBillingDetailsUpdated, map[string]any{"email": acc.Email, "company": acc.Company})
		return []*tenants.Event{e}, err
	})
	if ok {
		done(ctx)
	}
}

// ---- payment methods ----

func (g *Gateway) paymentMethodDefault(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		pm := a.PaymentMethod(id)
		if pm == nil {
			return nil, notFound("error.paymentMethodNotFound.title")
		}
		if pm.Default {
			return nil, tenants.ErrNoChange
		}
		var previous string
		if old := a.DefaultPaymentMethod(); old != nil {
			previous, old.Default = old.ID, false
		}
		pm.Default = true
		// Auto-pay that charged the old default follows the new one.
		if ap := a.AutoPay; ap != nil && (ap.PaymentMethodID == previous) {
			ap.PaymentMethodID = pm.ID
		}
		e, err := g.event(t, rs, tenants.EventPaymentMethodDefaultChanged, map[string]any{"paymentMethodId": pm.ID, "previousPaymentMethodId": previous})
		return []*tenants.Event{e}, err
	})
	if ok {
		done(ctx)
	}
}

func (g *Gateway) paymentMethodRemove(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		i := slices.IndexFunc(a.PaymentMethods, func(pm account.PaymentMethod) bool { return pm.ID == id })
		if i < 0 {
			return nil, tenants.ErrNoChange // removed already: a double submit
		}
		if len(a.PaymentMethods) == 1 && a.Billing() {
			return nil, &actionError{fasthttp.StatusConflict, "error.keepOneMethod.title", "error.keepOneMethod.body"}
		}
		wasDefault := a.PaymentMethods[i].Default
		a.PaymentMethods = slices.Delete(a.PaymentMethods, i, i+1)
		if wasDefault && len(a.PaymentMethods) > 0 {
			a.PaymentMethods[0].Default = true
		}
		if ap := a.AutoPay; ap != nil && ap.PaymentMethodID == id {
			ap.PaymentMethodID = ""
			if def := a.DefaultPaymentMethod(); def != nil {
				ap.PaymentMethodID = def.ID
			} else {
				ap.Enabled = false
			}
		}
		e, err := g.event(t, rs, tenants.EventPaymentMethodRemoved, map[string]any{"paymentMethodId": id})
		return []*tenants.Event{e}, err
	})
	if ok {
		done(ctx)
	}
}

// paymentMethodAdd sends the customer to the tenant's own setup page (Portico never sees card
// numbers) with a return URL back to the portal that Portico signs, so that only a return it
// issued for this session is honoured.
func (g *Gateway) paymentMethodAdd(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if t.PaymentSetupURL == "" {
		g.refuse(ctx, t, rs, "error.forbidden.addPaymentMethod")
		return
	}
	exp := g.cfg.Now().Add(time.Hour).Unix()
	ret := g.cfg.PublicScheme + "://" + string(ctx.Host()) + "/payment-methods/return?" + g.signReturn(t, rs, exp).Encode()
	u, _ := url.Parse(t.PaymentSetupURL)
	q := u.Query()
	q.Set("account_id", string(rs.s.AccountID))
	q.Set("session_id", string(rs.s.ID))
	q.Set("return_url", ret)
	u.RawQuery = q.Encode()
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Location", u.String())
	ctx.SetStatusCode(fasthttp.StatusSeeOther)
}

// paymentMethodReturn is where the tenant's setup page sends the customer back.
func (g *Gateway) paymentMethodReturn(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !g.verifyReturn(t, rs, ctx.QueryArgs()) {
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusBadRequest, "error.returnInvalid")
		return
	}
	done(ctx)
}

// signReturn seals the session id and an expiry for the tenant: the "signed return URL" of the
// payment-method setup round trip.
func (g *Gateway) signReturn(t *tenants.Tenant, rs *reqScratch, exp int64) url.Values {
	payload := string(rs.s.ID) + "|" + strconv.FormatInt(exp, 10)
	sealed, _ := g.keyring.SealBytes("return:"+t.ID, []byte(payload))
	return url.Values{"r": {base64.RawURLEncoding.EncodeToString(sealed)}}
}

func (g *Gateway) verifyReturn(t *tenants.Tenant, rs *reqScratch, q *fasthttp.Args) bool {
	sealed, err := base64.RawURLEncoding.DecodeString(string(q.Peek("r")))
	if err != nil {
		return false
	}
	p, err := g.keyring.OpenBytes("return:"+t.ID, sealed)
	if err != nil {
		return false
	}
	sid, exp, ok := strings.Cut(string(p), "|")
	n, err := strconv.ParseInt(exp, 10, 64)
	return ok && err == nil && sid == string(rs.s.ID) && g.cfg.Now().Unix() < n
}

// ---- auto-pay ----

type autopayPage struct {
	CSRF, Method, Timing, Error string
	Enabled                     bool
}

// describeMethod names a payment method on the auto-pay form: its brand, else its type in
// language l, with its bank and last four digits.
func describeMethod(pm *account.PaymentMethod, l pageLang) string {
	if pm == nil {
		return ""
	}
	name := pm.Brand
	if name == "" {
		if key := "method.type." + pm.Type; i18n.Has(key) {
			name = l.T(key)
		} else {
			name = strings.ReplaceAll(pm.Type, "_", " ")
		}
	}
	if pm.BankName != "" {
		name += ", " + pm.BankName
	}
	if pm.Last4 != "" {
		name += " •••• " + pm.Last4
	}
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return name
}

func (g *Gateway) autopayForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	l := sessionLang(string(rs.s.Locale), snap, t)
	a := snap.Account
	p := &autopayPage{CSRF: string(rs.s.CSRF[:]), Timing: account.AutoPayOnDueDate, Method: describeMethod(a.DefaultPaymentMethod(), l)}
	if ap := a.AutoPay; ap != nil {
		p.Enabled = ap.Enabled
		if ap.Timing != "" {
			p.Timing = ap.Timing
		}
		if pm := a.PaymentMethod(ap.PaymentMethodID); pm != nil {
			p.Method = describeMethod(pm, l)
		}
	}
	g.renderAction(ctx, t, rs, l, fasthttp.StatusOK, l.T("autopay.pageTitle"), "autopay", p)
}

// errNoDefaultMethod is raised inside the change when auto-pay is turned on without a method.
var errNoDefaultMethod = errors.New("gateway: auto-pay needs a default payment method")

func (g *Gateway) autopaySave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	l := g.langOf(ctx, t, rs)
	args := ctx.PostArgs()
	enabled, timing := string(args.Peek("enabled")), string(args.Peek("timing"))
	if (enabled != "on" && enabled != "off") || (timing != account.AutoPayOnIssue && timing != account.AutoPayOnDueDate) {
		g.renderAction(ctx, t, rs, l, fasthttp.StatusUnprocessableEntity, l.T("autopay.pageTitle"), "autopay", &autopayPage{
			CSRF: string(rs.s.CSRF[:]), Enabled: enabled == "on", Timing: timing, Error: l.T("autopay.error.choose")})
		return
	}
	_, err := g.store.UpdateAccount(web.Detach(ctx), t.ID, string(rs.s.AccountID), func(a *account.Account) ([]*tenants.Event, error) {
		next := account.AutoPay{Enabled: enabled == "on", Timing: timing}
		if a.AutoPay != nil {
			next.PaymentMethodID = a.AutoPay.PaymentMethodID
		}
		if next.Enabled && a.PaymentMethod(next.PaymentMethodID) == nil {
			def := a.DefaultPaymentMethod()
			if def == nil {
				return nil, errNoDefaultMethod
			}
			next.PaymentMethodID = def.ID
		}
		if a.AutoPay != nil && *a.AutoPay == next {
			return nil, tenants.ErrNoChange
		}
		a.AutoPay = &next
		e, err := g.event(t, rs, tenants.EventAutopayUpdated, map[string]any{"enabled": next.Enabled, "timing": next.Timing, "paymentMethodId": next.PaymentMethodID})
		return []*tenants.Event{e}, err
	})
	switch {
	case errors.Is(err, errNoDefaultMethod):
		g.renderAction(ctx, t, rs, l, fasthttp.StatusUnprocessableEntity, l.T("autopay.pageTitle"), "autopay", &autopayPage{
			CSRF: string(rs.s.CSRF[:]), Enabled: true, Timing: timing, Error: l.T("autopay.error.noMethod")})
	case err != nil:
		g.actionFailed(ctx, t, rs, err)
	default:
		done(ctx)
	}
}
