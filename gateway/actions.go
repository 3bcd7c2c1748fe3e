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
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

//go:embed web/actions.html
var actionsHTML string

var actionTmpl = template.Must(template.New("actions").Funcs(plugins.Funcs()).Parse(actionsHTML))

// Cancellation reasons a customer picks from, in the order shown.
var cancelReasons = []struct{ Value, Label string }{
	{"no_longer_required", "I no longer need it"},
	{"moving_provider", "I am moving to another provider"},
	{"pricing", "It is too expensive"},
	{"support", "I was not happy with the support"},
	{"features", "It lacks features I need"},
	{"upgraded", "I am switching to another plan"},
	{"other", "Another reason"},
}

// MaxCommentLen bounds a cancellation comment, in characters.
const MaxCommentLen = 1000

// portalAction is a portal route that needs a session.
type portalAction func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch)

// serveAction routes the portal's pages other than / and the assets. Every one needs a session;
// every POST passes the CSRF and Origin checks first.
func (g *Gateway) serveAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	path := string(ctx.Path())
	get, post := ctx.IsGet() || ctx.IsHead(), ctx.IsPost()
	var h portalAction
	switch {
	case path == "/billing/edit" && get:
		h = g.billingForm
	case path == "/billing/edit" && post:
		h = g.billingSave
	case path == "/billing/autopay" && get:
		h = g.autopayForm
	case path == "/billing/autopay" && post:
		h = g.autopaySave
	case path == "/payment-methods/add" && get:
		h = g.paymentMethodAdd
	case path == "/payment-methods/return" && get:
		h = g.paymentMethodReturn
	case strings.HasPrefix(path, "/subscriptions/"):
		id, action, _ := strings.Cut(strings.TrimPrefix(path, "/subscriptions/"), "/")
		switch {
		case action == "cancel" && get:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.cancelForm(ctx, t, rs, id) }
		case action == "cancel" && post:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.cancelSave(ctx, t, rs, id) }
		case action == "reactivate" && post:
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) { g.reactivate(ctx, t, rs, id) }
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
	h(ctx, t, rs)
	return true
}

// snapshot loads the session's account, answering the error page itself when it cannot.
func (g *Gateway) snapshot(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) *tenants.AccountSnapshot {
	snap, err := g.store.Account(ctx, t.ID, string(rs.s.AccountID))
	if errors.Is(err, tenants.ErrAccountNotFound) {
		g.errorPage(ctx, t, fasthttp.StatusNotFound, "Account not found", "This billing account no longer exists. Please contact "+t.Name+".")
		return nil
	}
	if err != nil {
		g.unavailable(ctx, t, err)
		return nil
	}
	return snap
}

// renderAction writes a form page in the portal's chrome. The session's CSRF token goes straight
// into the page: form pages are rendered per request, never cached.
func (g *Gateway) renderAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, status int, title, name string, data any) {
	var body bytes.Buffer
	if err := actionTmpl.ExecuteTemplate(&body, name, data); err != nil {
		g.log.Error("gateway: rendering action page", "page", name, "err", err)
		g.errorPage(ctx, t, fasthttp.StatusInternalServerError, "Something went wrong", "The page could not be shown. Please try again in a moment.")
		return
	}
	c := newChrome(t, "en", title)
	c.SignOut = true
	c.CSRFInput = template.HTML(`<input type="hidden" name="csrf" value="` + string(rs.s.CSRF[:]) + `">`)
	c.Body = template.HTML(body.String())
	var out bytes.Buffer
	if err := layout.ExecuteTemplate(&out, "page", c); err != nil {
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
	_, err := g.store.UpdateAccount(ctx, t.ID, string(rs.s.AccountID), change)
	if err == nil {
		return true
	}
	g.actionFailed(ctx, t, err)
	return false
}

// actionFailed answers the page for a failed account change.
func (g *Gateway) actionFailed(ctx *fasthttp.RequestCtx, t *tenants.Tenant, err error) {
	var ae *actionError
	switch {
	case errors.As(err, &ae):
		g.errorPage(ctx, t, ae.status, ae.title, ae.message)
	case errors.Is(err, tenants.ErrAccountNotFound):
		g.errorPage(ctx, t, fasthttp.StatusNotFound, "Account not found", "This billing account no longer exists. Please contact "+t.Name+".")
	case errors.Is(err, account.ErrInvalid):
		g.log.Warn("gateway: action would leave an invalid account", "tenant", t.Slug, "err", err)
		g.errorPage(ctx, t, fasthttp.StatusConflict, "This change is not possible", "Your account data does not allow this change. Please contact "+t.Name+".")
	default:
		g.unavailable(ctx, t, err)
	}
}

// actionError is a refusal decided inside an account change, shown as a page.
type actionError struct {
	status         int
	title, message string
}

func (e *actionError) Error() string { return e.title }

func notFound(what string) error {
	return &actionError{fasthttp.StatusNotFound, what + " not found", "It may have been removed. Go back to your billing overview to see what is there now."}
}

// event builds an event of the session's account with the session id in its data.
func (g *Gateway) event(t *tenants.Tenant, rs *reqScratch, typ string, data map[string]any) (*tenants.Event, error) {
	data["accountId"] = string(rs.s.AccountID)
	data["sessionId"] = string(rs.s.ID)
	return tenants.NewEvent(t.ID, typ, data, g.cfg.Now())
}

func today(now time.Time) account.Date { return account.Date(now.UTC().Format(time.DateOnly)) }

// refuse answers 403 without changing anything.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, t *tenants.Tenant, message string) {
	g.errorPage(ctx, t, fasthttp.StatusForbidden, "Not available", message)
}

// ---- cancellation ----

type cancelPage struct {
	Sub             *account.Subscription
	Effect          string
	CSRF            string
	TenantName      string
	Reasons         []struct{ Value, Label string }
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
	if !rs.s.Has(session.AllowSubscriptionCancel) {
		g.refuse(ctx, t, "Cancelling online is not available for your account. Please contact "+t.Name+".")
		return
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	sub := snap.Account.Subscription(id)
	if sub == nil {
		g.errorPage(ctx, t, fasthttp.StatusNotFound, "Subscription not found", "Go back to your billing overview to see your subscriptions.")
		return
	}
	if !cancellable(sub) {
		done(ctx) // already cancelled or scheduled: the overview says so
		return
	}
	p := &cancelPage{Sub: sub, CSRF: string(rs.s.CSRF[:]), TenantName: t.Name, Reasons: cancelReasons, Reason: reason, Comment: comment, Errors: errs}
	if imm, date := cancelEffect(t, sub); imm {
		p.Effect = "Your subscription ends immediately and will not be charged again."
	} else {
		p.Effect = "Your subscription stays active until the end of the current period (" + string(date) + "), then ends. You can reactivate it until then."
	}
	g.renderAction(ctx, t, rs, status, "Cancel subscription", "cancel", p)
}

func (g *Gateway) cancelSave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	if !rs.s.Has(session.AllowSubscriptionCancel) {
		g.refuse(ctx, t, "Cancelling online is not available for your account. Please contact "+t.Name+".")
		return
	}
	args := ctx.PostArgs()
	reason, comment := string(args.Peek("reason")), strings.TrimSpace(string(args.Peek("comment")))
	errs := map[string]string{}
	if !slices.ContainsFunc(cancelReasons, func(r struct{ Value, Label string }) bool { return r.Value == reason }) {
		errs["reason"] = "Choose the reason that fits best."
	}
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > MaxCommentLen {
		errs["comment"] = "Keep the comment under 1,000 characters."
	}
	if len(errs) > 0 {
		g.cancelPage(ctx, t, rs, id, fasthttp.StatusUnprocessableEntity, reason, comment, errs)
		return
	}
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return nil, notFound("Subscription")
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
	if !rs.s.Has(session.AllowSubscriptionCancel) {
		g.refuse(ctx, t, "Changing your subscription online is not available for your account. Please contact "+t.Name+".")
		return
	}
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return nil, notFound("Subscription")
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

// countries is every ISO 3166-1 alpha-2 country with its English name, sorted by name.
var countries = func() []option {
	var out []option
	names := display.English.Regions()
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if !account.ValidCountry(code) {
				continue
			}
			r, _ := language.ParseRegion(code)
			out = append(out, option{code, names.Name(r)})
		}
	}
	slices.SortFunc(out, func(x, y option) int { return strings.Compare(x.Label, y.Label) })
	return out
}()

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

func (v billingValues) fields(errs map[string]string) []formField {
	return []formField{
		{Name: "legalName", Label: "Legal name", Type: "text", Value: v.LegalName, Autocomplete: "organization", Max: 200, Required: true, Error: errs["legalName"]},
		{Name: "email", Label: "Billing email", Type: "email", Value: v.Email, Autocomplete: "email", Max: 254, Required: true, Error: errs["email"]},
		{Name: "line1", Label: "Address", Type: "text", Value: v.Line1, Autocomplete: "address-line1", Max: 200, Required: true, Error: errs["line1"]},
		{Name: "line2", Label: "Address line 2", Type: "text", Value: v.Line2, Autocomplete: "address-line2", Max: 200, Error: errs["line2"]},
		{Name: "postalCode", Label: "Postal code", Type: "text", Value: v.PostalCode, Autocomplete: "postal-code", Max: 20, Error: errs["postalCode"]},
		{Name: "city", Label: "City", Type: "text", Value: v.City, Autocomplete: "address-level2", Max: 100, Required: true, Error: errs["city"]},
		{Name: "region", Label: "State or region", Type: "text", Value: v.Region, Autocomplete: "address-level1", Max: 100, Error: errs["region"]},
		{Name: "country", Label: "Country", Value: v.Country, Required: true, Options: countries, Error: errs["country"]},
		{Name: "taxId", Label: "Tax ID", Type: "text", Value: v.TaxID, Autocomplete: "off", Max: 64, Error: errs["taxId"]},
	}
}

// validate checks typed billing details and returns the problems by field.
func (v *billingValues) validate() map[string]string {
	errs := map[string]string{}
	text := func(name, val, label string, required bool, max int) {
		switch {
		case required && val == "":
			errs[name] = label + " is required."
		case !utf8.ValidString(val) || strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs[name] = label + " contains characters that are not allowed."
		case utf8.RuneCountInString(val) > max:
			errs[name] = label + " is too long."
		}
	}
	text("legalName", v.LegalName, "Legal name", true, 200)
	text("line1", v.Line1, "Address", true, 200)
	text("line2", v.Line2, "Address line 2", false, 200)
	text("city", v.City, "City", true, 100)
	text("postalCode", v.PostalCode, "Postal code", false, 20)
	text("region", v.Region, "State or region", false, 100)
	text("taxId", v.TaxID, "Tax ID", false, 64)
	if v.Email == "" {
		errs["email"] = "Billing email is required."
	} else if !account.ValidEmail(v.Email) {
		errs["email"] = "Enter an email address such as billing@example.com."
	}
	if !account.ValidCountry(v.Country) {
		errs["country"] = "Choose a country."
	}
	return errs
}

func (g *Gateway) billingForm(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !rs.s.Has(session.AllowDetailsEdit) {
		g.refuse(ctx, t, "Editing billing details online is not available for your account. Please contact "+t.Name+".")
		return
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	g.renderAction(ctx, t, rs, fasthttp.StatusOK, "Edit billing details", "billing-edit",
		&billingPage{CSRF: string(rs.s.CSRF[:]), Fields: currentBilling(snap.Account).fields(nil)})
}

func (g *Gateway) billingSave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !rs.s.Has(session.AllowDetailsEdit) {
		g.refuse(ctx, t, "Editing billing details online is not available for your account. Please contact "+t.Name+".")
		return
	}
	a := ctx.PostArgs()
	get := func(k string) string { return strings.TrimSpace(string(a.Peek(k))) }
	v := billingValues{
		LegalName: get("legalName"), Email: get("email"), TaxID: get("taxId"), Line1: get("line1"), Line2: get("line2"),
		City: get("city"), PostalCode: get("postalCode"), Region: get("region"), Country: strings.ToUpper(get("country")),
	}
	if errs := v.validate(); len(errs) > 0 {
		g.renderAction(ctx, t, rs, fasthttp.StatusUnprocessableEntity, "Edit billing details", "billing-edit",
			&billingPage{CSRF: string(rs.s.CSRF[:]), Fields: v.fields(errs), Errors: true})
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
	if !rs.s.Has(session.AllowDetailsEdit) {
		g.refuse(ctx, t, "Changing payment methods online is not available for your account. Please contact "+t.Name+".")
		return
	}
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		pm := a.PaymentMethod(id)
		if pm == nil {
			return nil, notFound("Payment method")
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
	if !rs.s.Has(session.AllowDetailsEdit) {
		g.refuse(ctx, t, "Changing payment methods online is not available for your account. Please contact "+t.Name+".")
		return
	}
	ok := g.update(ctx, t, rs, func(a *account.Account) ([]*tenants.Event, error) {
		i := slices.IndexFunc(a.PaymentMethods, func(pm account.PaymentMethod) bool { return pm.ID == id })
		if i < 0 {
			return nil, tenants.ErrNoChange // removed already: a double submit
		}
		if len(a.PaymentMethods) == 1 && a.Billing() {
			return nil, &actionError{fasthttp.StatusConflict, "Keep one payment method",
				"Your subscription needs a payment method. Add another one before removing this one."}
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
	if !rs.s.Has(session.AllowDetailsEdit) || t.PaymentSetupURL == "" {
		g.refuse(ctx, t, "Adding a payment method online is not available. Please contact "+t.Name+".")
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
		g.errorPage(ctx, t, fasthttp.StatusBadRequest, "This return link is not valid", "Go back to your billing overview; a new payment method shows there once "+t.Name+" has saved it.")
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

func describeMethod(pm *account.PaymentMethod) string {
	if pm == nil {
		return ""
	}
	name := pm.Brand
	if name == "" {
		name = strings.ReplaceAll(pm.Type, "_", " ")
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
	if !rs.s.Has(session.AllowAutopayEdit) {
		g.refuse(ctx, t, "Changing auto-pay online is not available for your account. Please contact "+t.Name+".")
		return
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return
	}
	a := snap.Account
	p := &autopayPage{CSRF: string(rs.s.CSRF[:]), Timing: account.AutoPayOnDueDate, Method: describeMethod(a.DefaultPaymentMethod())}
	if ap := a.AutoPay; ap != nil {
		p.Enabled = ap.Enabled
		if ap.Timing != "" {
			p.Timing = ap.Timing
		}
		if pm := a.PaymentMethod(ap.PaymentMethodID); pm != nil {
			p.Method = describeMethod(pm)
		}
	}
	g.renderAction(ctx, t, rs, fasthttp.StatusOK, "Auto-pay", "autopay", p)
}

// errNoDefaultMethod is raised inside the change when auto-pay is turned on without a method.
var errNoDefaultMethod = errors.New("gateway: auto-pay needs a default payment method")

func (g *Gateway) autopaySave(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
	if !rs.s.Has(session.AllowAutopayEdit) {
		g.refuse(ctx, t, "Changing auto-pay online is not available for your account. Please contact "+t.Name+".")
		return
	}
	args := ctx.PostArgs()
	enabled, timing := string(args.Peek("enabled")), string(args.Peek("timing"))
	if (enabled != "on" && enabled != "off") || (timing != account.AutoPayOnIssue && timing != account.AutoPayOnDueDate) {
		g.renderAction(ctx, t, rs, fasthttp.StatusUnprocessableEntity, "Auto-pay", "autopay", &autopayPage{
			CSRF: string(rs.s.CSRF[:]), Enabled: enabled == "on", Timing: timing, Error: "Choose whether auto-pay is on and when it charges."})
		return
	}
	_, err := g.store.UpdateAccount(ctx, t.ID, string(rs.s.AccountID), func(a *account.Account) ([]*tenants.Event, error) {
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
		g.renderAction(ctx, t, rs, fasthttp.StatusUnprocessableEntity, "Auto-pay", "autopay", &autopayPage{
			CSRF: string(rs.s.CSRF[:]), Enabled: true, Timing: timing, Error: "Auto-pay needs a default payment method. Add one first."})
	case err != nil:
		g.actionFailed(ctx, t, err)
	default:
		done(ctx)
	}
}
