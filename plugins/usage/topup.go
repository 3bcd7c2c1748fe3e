package usage

import (
	_ "embed"
	"html/template"
	"log/slog"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants/account"
)

// Topping up the wallet through the tenant's backend (request "wallet.top_up"), like paying an
// invoice (plugins/invoices/pay.go): GET /wallet/top-up asks the amount and the payment method;
// its POST calls the backend once per attempt and answers the result page: topped up (the
// balance as the stored document has it), declined (the backend's message, and the form again),
// requires_action (the backend's page, back to /wallet/top-up/return through a sealed return URL)
// or pending, or the page of a failure class (backend.FailureOf). The idempotency key is made
// of the session, the amount, the currency, the payment method and the revision of the account
// document the form showed: a double submit, a reload, two tabs and two instances make one
// call; a top-up after the document changed (a top-up recorded) is a new one.

// Event types of a top-up's answers, and audit entry types of the others.
const (
	EventTopUpSucceeded      = "wallet.top_up_succeeded"
	EventTopUpFailed         = "wallet.top_up_failed"
	AuditTopUpRequiresAction = "wallet.top_up_requires_action"
	AuditTopUpPending        = "wallet.top_up_pending"
	AuditTopUpError          = "wallet.top_up_error"
	topUpPath, topUpReturn   = "/wallet/top-up", "/wallet/top-up/return"
	topUpPurpose             = "topup-return"
	maxTopUpMajor            = 100_000 // the largest top-up, in major units of the currency
	minTopUpMajor            = 1       // the smallest
	amountField, methodField = "amount", "method"
	revField, currencyField  = "rev", "currency"
	topUpKeyPrefix           = "topup_"
	topUpForbidden           = "usage.topUp.forbidden"
	topUpTemplateForm        = "topup"
	topUpTemplateNoMethod    = "no-method"
)

//go:embed topup.html
var topUpHTML string

var topUpTmpl = i18n.NewTemplates(plugins.ParseTemplate("topup", topUpHTML))

var (
	_ plugins.Actor   = section{}
	_ plugins.Eventer = section{}
)

// EventTypes declares the section's events.
func (section) EventTypes() []string { return []string{EventTopUpSucceeded, EventTopUpFailed} }

// Actions are the top-up pages, permitted by AllowTopUp, and the usage alerts' (alerts.go).
func (section) Actions() []plugins.Action {
	return append([]plugins.Action{
		{Method: "GET", Path: topUpPath, Needs: AllowTopUp, Refusal: topUpForbidden, Handle: topUpForm},
		{Method: "POST", Path: topUpPath, Needs: AllowTopUp, Refusal: topUpForbidden, Handle: topUpSubmit},
		{Method: "GET", Path: topUpReturn, Handle: topUpReturned},
	}, alertActions()...)
}

// amountRE is a top-up amount as typed: whole units and at most the currency's decimals, with
// a point or a comma.
var amountRE = regexp.MustCompile(`^([0-9]{1,9})(?:[.,]([0-9]{1,3}))?$`)

// ParseAmount reads an amount typed in major units of cur ("50", "50.5", "50,50") as minor
// units; ok is false for anything else, more decimals than the currency has, or an amount
// outside 1 to 100,000 units.
func ParseAmount(s, cur string) (int64, bool) {
	m := amountRE.FindStringSubmatch(strings.TrimSpace(s))
	digits := i18n.MinorUnits(cur)
	if m == nil || len(m[2]) > digits {
		return 0, false
	}
	scale := int64(1)
	for range digits {
		scale *= 10
	}
	whole, _ := strconv.ParseInt(m[1], 10, 64)
	frac := int64(0)
	if m[2] != "" {
		frac, _ = strconv.ParseInt(m[2]+strings.Repeat("0", digits-len(m[2])), 10, 64)
	}
	v := whole*scale + frac
	return v, v >= minTopUpMajor*scale && v <= maxTopUpMajor*scale
}

// topUpPage is the data of the top-up form.
type topUpPage struct {
	Balance, Currency, Amount, Min, Max, Tenant string
	Revision                                    int64
	Methods                                     []payMethod
	Errors                                      plugins.FormErrors
}

type payMethod struct {
	ID, Label string
	Checked   bool
}

func newTopUpPage(c plugins.ActionContext, amount, chosen string, errs plugins.FormErrors) *topUpPage {
	a, tr, loc := c.Account(), c.Printer(), c.Locale()
	p := &topUpPage{Balance: i18n.Money(balance(a), a.Currency, loc), Currency: a.Currency, Amount: amount, Revision: c.Revision(), Errors: errs,
		Tenant: c.Tenant().Name}
	scale := int64(1)
	for range i18n.MinorUnits(a.Currency) {
		scale *= 10
	}
	p.Min, p.Max = i18n.Money(minTopUpMajor*scale, a.Currency, loc), i18n.Money(maxTopUpMajor*scale, a.Currency, loc)
	if a.PaymentMethod(chosen) == nil {
		chosen = ""
		if def := a.DefaultPaymentMethod(); def != nil {
			chosen = def.ID
		} else if len(a.PaymentMethods) > 0 {
			chosen = a.PaymentMethods[0].ID
		}
	}
	for i := range a.PaymentMethods {
		pm := &a.PaymentMethods[i]
		p.Methods = append(p.Methods, payMethod{ID: pm.ID, Label: pm.Describe(tr), Checked: pm.ID == chosen})
	}
	return p
}

// balance is the wallet's balance, 0 without a wallet.
func balance(a *account.Account) int64 {
	if a.Wallet == nil {
		return 0
	}
	return a.Wallet.Balance
}

func topUpForm(c plugins.ActionContext) {
	if !c.Backend().Registered() {
		topUpFailure(c, backend.ErrNoBackend)
		return
	}
	p := newTopUpPage(c, "", c.QueryValue(methodField), nil)
	name := topUpTemplateForm
	if len(p.Methods) == 0 {
		name = topUpTemplateNoMethod
	}
	plugins.Render(c, topUpTmpl, 200, c.Printer().T("usage.topUp.title"), name, p)
}

var topUpRecording = &plugins.Recording{
	Events: map[backend.Result]string{backend.Succeeded: EventTopUpSucceeded, backend.Declined: EventTopUpFailed},
	Audits: map[backend.Result]string{backend.RequiresAction: AuditTopUpRequiresAction, backend.Pending: AuditTopUpPending},
	Error:  AuditTopUpError,
}

// topUpSubmit checks the form, calls the backend once per attempt, stores what it returned and
// answers the result.
func topUpSubmit(c plugins.ActionContext) {
	a, tr := c.Account(), c.Printer()
	rev, _ := strconv.ParseInt(c.FormValue(revField), 10, 64)
	amount, ok := ParseAmount(c.FormValue(amountField), a.Currency)
	pm := a.PaymentMethod(c.FormValue(methodField))
	var errs plugins.FormErrors
	status := 422
	if !ok {
		p := newTopUpPage(c, "", "", nil)
		errs.Add(amountField, tr.T("usage.topUp.badAmount", "min", p.Min, "max", p.Max))
	}
	if pm == nil {
		errs.Add(methodField, tr.T("usage.topUp.chooseMethod"))
	}
	if rev != c.Revision() || c.FormValue(currencyField) != a.Currency {
		errs.Add(amountField, tr.T("usage.topUp.changed"))
		status = 409
	}
	if len(errs) > 0 {
		p := newTopUpPage(c, c.FormValue(amountField), c.FormValue(methodField), errs)
		plugins.Render(c, topUpTmpl, status, tr.T("usage.topUp.title"), topUpTemplateForm, p)
		return
	}
	cur := a.Currency
	key := backend.IdempotencyKey(topUpKeyPrefix, c.SessionID(), strconv.FormatInt(amount, 10), cur, pm.ID, strconv.FormatInt(rev, 10))
	data := backend.WalletTopUpData{AccountID: a.ID, Amount: amount, Currency: cur, PaymentMethodID: pm.ID, SessionID: c.SessionID()}
	detail := map[string]any{"amount": amount, "currency": cur, "paymentMethodId": pm.ID}
	resp, stored, err := plugins.CallBackend(c, backend.Request{Type: backend.TypeWalletTopUp, IdempotencyKey: key, Data: data}, detail, topUpRecording)
	if err != nil {
		topUpFailure(c, err)
		return
	}
	money := i18n.Money(amount, cur, c.Locale())
	switch resp.Result {
	case backend.Succeeded:
		r := newResult(c, "succeeded", tr.T("usage.topUp.done.title"), resp.Message)
		r.Paragraphs = []template.HTML{para(tr.T("usage.topUp.done.body", "amount", money, "method", pm.Describe(tr)))}
		if stored != nil {
			r.Paragraphs = append(r.Paragraphs, para(tr.T("usage.topUp.balance", "balance", i18n.Money(balance(stored), cur, c.Locale()))))
		} else {
			r.Paragraphs = append(r.Paragraphs, para(tr.T("usage.topUp.balanceLater", "tenant", c.Tenant().Name)))
		}
		plugins.ShowResult(c, 200, r)
	case backend.Declined:
		r := newResult(c, "declined", tr.T("usage.topUp.declined.title"), resp.Message)
		r.Paragraphs = []template.HTML{para(tr.T("usage.topUp.declined.body", "amount", money, "method", pm.Describe(tr)))}
		r.Links = []plugins.Link{{Href: topUpPath, Label: tr.T("usage.topUp.otherMethod")}}
		plugins.ShowResult(c, 200, r)
	case backend.RequiresAction:
		plugins.RedirectWithReturn(c, resp.RedirectURL, nil, topUpPurpose, topUpReturn)
	default:
		r := newResult(c, "pending", tr.T("usage.topUp.pending.title"), resp.Message)
		r.Paragraphs = []template.HTML{para(tr.T("usage.topUp.pending.body", "amount", money, "tenant", c.Tenant().Name))}
		plugins.ShowResult(c, 200, r)
	}
}

// topUpReturned is where the backend's page sends the customer back: the balance as it stands.
func topUpReturned(c plugins.ActionContext) {
	if !plugins.CheckReturn(c, topUpPurpose) {
		c.Message(400, "usage.topUp.returnInvalid.title", "usage.topUp.returnInvalid.body")
		return
	}
	tr := c.Printer()
	r := newResult(c, "open", tr.T("usage.topUp.returned.title"), "")
	r.Paragraphs = []template.HTML{para(tr.T("usage.topUp.returned.body", "balance", i18n.Money(balance(c.Account()), c.Account().Currency, c.Locale()), "tenant", c.Tenant().Name))}
	if c.On(AllowTopUp) {
		r.Links = []plugins.Link{{Href: topUpPath, Label: tr.T("usage.topUp.again")}}
	}
	plugins.ShowResult(c, 200, r)
}

func newResult(c plugins.ActionContext, kind, title, message string) *plugins.Result {
	tr := c.Printer()
	return &plugins.Result{Kind: kind, Title: title, Message: message, MessageLabel: tr.T("usage.topUp.message"), Back: tr.T("usage.topUp.back")}
}

func para(s string) template.HTML { return template.HTML(template.HTMLEscapeString(s)) }

// topUpFailure answers the page of a failure class (usage.topUp.fail.<page>.*): nothing changed.
func topUpFailure(c plugins.ActionContext, err error) {
	tr := c.Printer()
	f := backend.FailureOf(err)
	if f.Unexpected() {
		slog.Error("usage: topping up the wallet", "err", err)
	}
	key := "usage.topUp.fail." + f.Page
	r := newResult(c, "failure", tr.T(key+".title"), "")
	r.Paragraphs = []template.HTML{para(tr.T(key+".body", "tenant", c.Tenant().Name))}
	if f.Page != "noBackend" && f.Page != "document" && f.Page != "timeout" {
		r.Links = []plugins.Link{{Href: topUpPath, Label: tr.T("usage.topUp.tryAgain")}}
	}
	plugins.ShowResult(c, f.Status, r)
}
