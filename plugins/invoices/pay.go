package invoices

import (
	"cmp"
	_ "embed"
	"html/template"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Paying an invoice through the tenant's backend (package backend, request "invoice.pay").
//
// GET /pay/{id} names the invoice, the amount due and the payment method (the default, or
// another saved one chosen there) with a confirm button; its POST calls the backend and answers
// the result page in the customer's language: paid (with the receipt: the paid invoice's page
// and PDF), declined (the backend's message, and the pay page again to choose another method),
// requires_action (a redirect to the backend's page, which sends the customer back to
// /pay/{id}/return through a sealed return URL), pending, or the page of a failure class.
//
// The idempotency key of an attempt is derived from what the customer confirmed: the session,
// the invoice, the amount and currency, the payment method, and the revision of the account
// document the pay page showed (a hidden field, checked against the current one on the POST).
// A double submit, a reload of the result, two tabs and two gateway instances thus send the
// same key for the same attempt, and the backend is called once; an attempt over after the
// document changed (a payment recorded, an invoice amended) or with another method is a new
// one. A sealed per-render nonce would make two tabs two attempts, so it is not used. The
// backend's answer to a key is kept for 24 h: the same card, confirmed again on an unchanged
// document in the same session, sees the same decline; another method is a new attempt.
//
// "Pay all overdue" (GET /pay-overdue) pays the overdue invoices one after another, each with
// its own confirmation and request: it opens the pay page of the oldest, and each paid result
// offers the next. One request per invoice keeps invoice.pay as it is and every invoice's
// outcome its own.

//go:embed pay.html
var payHTML string

var payTmpl = i18n.NewTemplates(plugins.ParseTemplate("pay", payHTML))

// Actions are the pay pages, permitted by AllowPayment.
func (section) Actions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: "/pay-overdue", Needs: AllowPayment, Refusal: "invoices.pay.forbidden", Handle: payOverdue},
		{Method: "GET", Path: "/pay/{id}", Needs: AllowPayment, Refusal: "invoices.pay.forbidden", Handle: payForm},
		{Method: "POST", Path: "/pay/{id}", Needs: AllowPayment, Refusal: "invoices.pay.forbidden", Handle: paySubmit},
		{Method: "GET", Path: "/pay/{id}/return", Handle: payReturn},
	}
}

// Audit entry types of attempts that write no event (succeeded and declined answers are
// recorded by their events, tenants.EventInvoicePaymentSucceeded and …Failed).
const (
	AuditPaymentRequiresAction = "invoice.payment_requires_action"
	AuditPaymentPending        = "invoice.payment_pending"
	AuditPaymentError          = "invoice.payment_error"
)

// openInvoice finds the session account's visible invoice of the path; nil answers 404 (another
// account's invoice id looks like one that does not exist).
func findInvoice(c plugins.ActionContext) *account.Invoice {
	id := c.Arg()
	if !account.ValidID(id) {
		return nil
	}
	inv := c.Account().Invoice(id)
	if inv == nil || !inv.Visible() {
		return nil
	}
	return inv
}

func notFound(c plugins.ActionContext) {
	c.Message(404, "error.invoiceNotFound.title", "error.invoiceNotFound.body")
}

// payPage is the data of the pay form.
type payPage struct {
	Prefix, ID, Number, DueDate, Amount, Status, StatusLabel string
	AmountMinor                                              int64
	Currency                                                 string
	Revision                                                 int64
	Methods                                                  []payMethod
	Tenant                                                   string
	// Errors are the problems of a refused confirmation, shown in the form error summary and
	// next to their field: "amount" (the amount due or the document changed since the page
	// was shown) and "method" (no payment method of the account chosen).
	Errors plugins.FormErrors
}

type payMethod struct {
	ID, Label string
	Checked   bool
}

// render answers a page of pay.html's template name.
func render(c plugins.ActionContext, status int, title, name string, data any) {
	plugins.Render(c, payTmpl, status, title, name, data)
}

func newPayPage(c plugins.ActionContext, inv *account.Invoice, chosen string, errs plugins.FormErrors) *payPage {
	a, tr, loc := c.Account(), c.Printer(), c.Locale()
	cur := a.InvoiceCurrency(inv)
	p := &payPage{
		ID: inv.ID, Number: cmp.Or(inv.Number, inv.ID), Amount: i18n.Money(inv.AmountDue(), cur, loc),
		AmountMinor: inv.AmountDue(), Currency: cur, Revision: c.Revision(), Errors: errs, Tenant: c.Tenant().Name,
		Status: inv.DisplayStatus(c.Now()),
	}
	p.StatusLabel = tr.T(statusKeys[p.Status])
	if inv.DueDate != "" {
		p.DueDate = i18n.Date(inv.DueDate.Civil(), loc)
	}
	if a.PaymentMethod(chosen) == nil && errs.Of("method") == "" {
		chosen = ""
		if def := a.DefaultPaymentMethod(); def != nil {
			chosen = def.ID
		} else if len(a.PaymentMethods) > 0 {
			chosen = a.PaymentMethods[0].ID
		}
	}
	for i := range a.PaymentMethods {
		pm := &a.PaymentMethods[i]
		label := pm.Describe(tr)
		if pm.Default {
			label = tr.T("invoices.pay.defaultMethod", "method", label)
		}
		p.Methods = append(p.Methods, payMethod{ID: pm.ID, Label: label, Checked: pm.ID == chosen})
	}
	return p
}

// payForm is the pay page of an open invoice; an invoice with nothing to pay shows its state.
func payForm(c plugins.ActionContext) {
	inv := findInvoice(c)
	if inv == nil {
		notFound(c)
		return
	}
	if !inv.Open() {
		stateResult(c, inv, false)
		return
	}
	if !c.Backend().Registered() {
		if inv.PaymentURL != "" {
			c.Redirect(inv.PaymentURL)
			return
		}
		failure(c, inv, backend.ErrNoBackend)
		return
	}
	p := newPayPage(c, inv, c.QueryValue("method"), nil)
	tr := c.Printer()
	if len(p.Methods) == 0 {
		render(c, 200, tr.T("invoices.pay.title", "number", p.Number), "no-method", p)
		return
	}
	render(c, 200, tr.T("invoices.pay.title", "number", p.Number), "pay", p)
}

// payOverdue opens the pay page of the oldest overdue invoice.
func payOverdue(c plugins.ActionContext) {
	if next := nextOverdue(c.Account(), c.Now(), ""); next != nil {
		c.Redirect("/pay/" + url.PathEscape(next.ID))
		return
	}
	c.Done()
}

// nextOverdue is the oldest open overdue invoice other than skip, or nil.
func nextOverdue(a *account.Account, now time.Time, skip string) *account.Invoice {
	list := a.InvoicesNewestFirst()
	slices.Reverse(list)
	for _, inv := range list {
		if inv.ID != skip && inv.Visible() && inv.Open() && inv.DisplayStatus(now) == account.InvOverdue {
			return inv
		}
	}
	return nil
}

// payRecording records the answers to invoice.pay: succeeded and declined by their events, the
// others by audit entries.
var payRecording = &plugins.Recording{
	Events: map[backend.Result]string{backend.Succeeded: tenants.EventInvoicePaymentSucceeded, backend.Declined: tenants.EventInvoicePaymentFailed},
	Audits: map[backend.Result]string{backend.RequiresAction: AuditPaymentRequiresAction, backend.Pending: AuditPaymentPending},
	Error:  AuditPaymentError,
}

// paySubmit confirms a payment: checks what the customer confirmed against the account, calls
// the backend once per attempt, stores what it returned and answers the result.
func paySubmit(c plugins.ActionContext) {
	inv := findInvoice(c)
	if inv == nil {
		notFound(c)
		return
	}
	a, tr := c.Account(), c.Printer()
	if !inv.Open() {
		// Paid meanwhile (a double submit whose first request paid it, another tab): its state.
		stateResult(c, inv, false)
		return
	}
	cur := a.InvoiceCurrency(inv)
	rev, _ := strconv.ParseInt(c.FormValue("rev"), 10, 64)
	amount, _ := strconv.ParseInt(c.FormValue("amount"), 10, 64)
	pm := a.PaymentMethod(c.FormValue("method"))
	var errs plugins.FormErrors
	status := 422
	if rev != c.Revision() || amount != inv.AmountDue() || c.FormValue("currency") != cur {
		errs.Add("amount", tr.T("invoices.pay.changed"))
		status = 409
	}
	if pm == nil {
		errs.Add("method", tr.T("invoices.pay.chooseMethod"))
	}
	if len(errs) > 0 {
		// Asked again with the page as it stands now (its amount and revision); a method of
		// the account stays chosen, another one is not (the default is).
		p := newPayPage(c, inv, c.FormValue("method"), errs)
		render(c, status, tr.T("invoices.pay.title", "number", p.Number), "pay", p)
		return
	}
	data := backend.InvoicePayData{AccountID: a.ID, InvoiceID: inv.ID, Amount: amount, Currency: cur, PaymentMethodID: pm.ID, SessionID: c.SessionID()}
	// The attempt, as the package notes say: the same inputs, the same key, on any instance.
	key := backend.IdempotencyKey("pay_", c.SessionID(), inv.ID, strconv.FormatInt(amount, 10), cur, pm.ID, strconv.FormatInt(rev, 10))
	detail := map[string]any{"invoiceId": inv.ID, "amount": amount, "currency": cur, "paymentMethodId": pm.ID}
	resp, stored, err := plugins.CallBackend(c, backend.Request{Type: backend.TypeInvoicePay, IdempotencyKey: key, Data: data}, detail, payRecording)
	if err != nil {
		failure(c, inv, err)
		return
	}
	switch resp.Result {
	case backend.Succeeded:
		paidResult(c, inv, pm, resp.Message, stored)
	case backend.Declined:
		declinedResult(c, inv, pm, resp.Message)
	case backend.RequiresAction:
		// To the backend's page (3-D Secure, a bank), which sends the customer back to payReturn.
		plugins.RedirectWithReturn(c, resp.RedirectURL, nil, "pay-return", "/pay/"+url.PathEscape(inv.ID)+"/return")
	default:
		pendingResult(c, inv, resp.Message)
	}
}

// newResult is a result page about an invoice: its kind and title, the backend's message.
func newResult(c plugins.ActionContext, kind, title, message string) *plugins.Result {
	tr := c.Printer()
	return &plugins.Result{Kind: kind, Title: title, Message: message,
		MessageLabel: tr.T("invoices.result.message"), Back: tr.T("invoices.result.back")}
}

func invoiceOf(c plugins.ActionContext, inv *account.Invoice) (number, amount string) {
	return cmp.Or(inv.Number, inv.ID), i18n.Money(inv.AmountDue(), c.Account().InvoiceCurrency(inv), c.Locale())
}

// withReceipt links the paid invoice's page and PDF.
func withReceipt(c plugins.ActionContext, r *plugins.Result, inv *account.Invoice) {
	tr, page := c.Printer(), "/invoices/"+url.PathEscape(inv.ID)
	r.Links = append(r.Links, plugins.Link{Href: page, Label: tr.T("invoices.result.receipt")},
		plugins.Link{Href: page + ".pdf", Label: tr.T("invoices.result.receiptPDF"), Download: true})
}

// withRetry links the invoice's pay page again, with label.
func withRetry(r *plugins.Result, inv *account.Invoice, label string) {
	r.Links = append(r.Links, plugins.Link{Href: "/pay/" + url.PathEscape(inv.ID), Label: label})
}

// withNext offers the next overdue invoice after a paid one, for "Pay all overdue": the primary
// action, before the receipt.
func withNext(c plugins.ActionContext, r *plugins.Result, paid string) {
	if next := nextOverdue(c.Account(), c.Now(), paid); next != nil {
		r.Links = append([]plugins.Link{{Href: "/pay/" + url.PathEscape(next.ID),
			Label: c.Printer().T("invoices.result.next", "number", cmp.Or(next.Number, next.ID))}}, r.Links...)
	}
}

func paidResult(c plugins.ActionContext, inv *account.Invoice, pm *account.PaymentMethod, message string, stored *account.Account) {
	tr := c.Printer()
	number, amount := invoiceOf(c, inv)
	r := newResult(c, "paid", tr.T("invoices.result.paid.title"), message)
	r.Paragraphs = []template.HTML{para(tr, "invoices.result.paid.body", number, "amount", amount, "method", pm.Describe(tr))}
	recorded := false
	if stored != nil {
		if si := stored.Invoice(inv.ID); si != nil && si.Status == account.InvPaid {
			recorded = true
		}
	}
	if recorded {
		withReceipt(c, r, inv)
	} else {
		r.Paragraphs = append(r.Paragraphs, para(tr, "invoices.result.receiptLater", number, "tenant", c.Tenant().Name))
	}
	withNext(c, r, inv.ID)
	plugins.ShowResult(c, 200, r)
}

func declinedResult(c plugins.ActionContext, inv *account.Invoice, pm *account.PaymentMethod, message string) {
	tr := c.Printer()
	number, amount := invoiceOf(c, inv)
	r := newResult(c, "declined", tr.T("invoices.result.declined.title"), message)
	r.Paragraphs = []template.HTML{para(tr, "invoices.result.declined.body", number, "method", pm.Describe(tr), "amount", amount)}
	withRetry(r, inv, tr.T("invoices.result.otherMethod"))
	plugins.ShowResult(c, 200, r)
}

func pendingResult(c plugins.ActionContext, inv *account.Invoice, message string) {
	tr := c.Printer()
	number, amount := invoiceOf(c, inv)
	r := newResult(c, "pending", tr.T("invoices.result.pending.title"), message)
	r.Paragraphs = []template.HTML{para(tr, "invoices.result.pending.body", number, "amount", amount, "tenant", c.Tenant().Name)}
	plugins.ShowResult(c, 200, r)
}

// stateResult shows an invoice as it stands: paid (with its receipt), nothing to pay, or still
// open (after a requires_action round trip that did not complete it yet).
func stateResult(c plugins.ActionContext, inv *account.Invoice, returned bool) {
	tr := c.Printer()
	number, amount := invoiceOf(c, inv)
	var r *plugins.Result
	switch {
	case inv.Status == account.InvPaid:
		r = newResult(c, "paid", tr.T("invoices.result.isPaid.title"), "")
		r.Paragraphs = []template.HTML{para(tr, "invoices.result.isPaid.body", number)}
		withReceipt(c, r, inv)
		withNext(c, r, inv.ID)
	case !inv.Open():
		r = newResult(c, "settled", tr.T("invoices.result.nothingDue.title"), "")
		r.Paragraphs = []template.HTML{para(tr, "invoices.result.nothingDue.body", number)}
	default:
		r = newResult(c, "open", tr.T("invoices.result.notYet.title"), "")
		r.Paragraphs = []template.HTML{para(tr, "invoices.result.notYet.body", number, "amount", amount, "tenant", c.Tenant().Name)}
		if returned {
			withRetry(r, inv, tr.T("invoices.result.tryAgain"))
		}
	}
	plugins.ShowResult(c, 200, r)
}

// para is the message of key, HTML-escaped, with its {number} the invoice number kept on one
// line (an invoice number such as GLX-0006 would break at its hyphen on a phone).
func para(tr *i18n.Printer, key, number string, args ...any) template.HTML {
	const mark = "\uE000" // a private-use character: in no message, number or name
	s := template.HTMLEscapeString(tr.T(key, append(args, "number", mark)...))
	return template.HTML(strings.ReplaceAll(s, mark, `<span class="nowrap">`+template.HTMLEscapeString(number)+`</span>`))
}

// failure answers the page of a failure class (backend.FailureOf: its messages are
// invoices.fail.<page>.*): nothing was changed.
func failure(c plugins.ActionContext, inv *account.Invoice, err error) {
	tr := c.Printer()
	number, _ := invoiceOf(c, inv)
	f := backend.FailureOf(err)
	if f.Unexpected() {
		slog.Error("invoices: paying an invoice", "invoice", inv.ID, "err", err)
	}
	key := "invoices.fail." + f.Page
	r := newResult(c, "failure", tr.T(key+".title"), "")
	r.Paragraphs = []template.HTML{para(tr, key+".body", number, "tenant", c.Tenant().Name)}
	if f.Page != "noBackend" && f.Page != "document" && f.Page != "timeout" {
		withRetry(r, inv, tr.T("invoices.result.tryAgain"))
	}
	plugins.ShowResult(c, f.Status, r)
}

// payReturn is where the backend's page sends the customer back (through the return URL that
// only this session can use, for an hour): the invoice as it stands now.
func payReturn(c plugins.ActionContext) {
	inv := findInvoice(c)
	if inv == nil {
		notFound(c)
		return
	}
	if !plugins.CheckReturn(c, "pay-return") {
		c.Message(400, "invoices.returnInvalid.title", "invoices.returnInvalid.body")
		return
	}
	stateResult(c, inv, true)
}
