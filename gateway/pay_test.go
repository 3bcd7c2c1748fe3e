package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Paying invoices from the portal through a real HTTP backend (section invoices' pay pages).

// paidDoc is the example account with the invoice paid, as a backend returns it.
func paidDoc(t testing.TB, invoiceID string) string {
	return exampleDoc(t, func(a *account.Account) {
		if inv := a.Invoice(invoiceID); inv != nil {
			inv.Status, inv.AmountPaid, inv.PaidDate = account.InvPaid, inv.Total, "2026-12-20"
		}
	})
}

// str is the string at key k of a request's data.
func str(data map[string]any, k string) string { s, _ := data[k].(string); return s }

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="(rev|amount|currency)" value="([^"]*)">`)

// payForm opens the pay page and returns its form, with the method chosen.
func (ps *portalSession) payForm(invoiceID, method string) url.Values {
	ps.h.t.Helper()
	page := ps.get("/pay/" + invoiceID)
	form := url.Values{"method": {method}}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	if len(form) != 4 {
		ps.h.t.Fatalf("pay page lacks its hidden fields:\n%s", page)
	}
	return form
}

func TestPayInvoiceResults(t *testing.T) {
	t.Parallel()
	const inv = "inv_2026_0007"
	for _, c := range []struct {
		name    string
		answer  backendAnswer
		method  string
		status  int
		want    []string
		paid    bool   // the stored invoice is paid afterwards
		event   string // the event emitted, "" none
		audit   string // the audit entry of the attempt
		timeout time.Duration
		forbid  bool
	}{
		{name: "succeeded", answer: answerSucceeded("Thanks!", func(d map[string]any) string { return paidDoc(t, str(d, "invoiceId")) }), method: "pm_card_1", status: 200, want: []string{"Payment received", `€1,190.00 for invoice <span class="nowrap">GLX-2026-0007</span> was paid with Visa •••• 4242`, "Thanks!", `href="/invoices/inv_2026_0007.pdf"`, "View receipt"},
			paid: true, event: tenants.EventInvoicePaymentSucceeded, audit: tenants.EventInvoicePaymentSucceeded},
		{name: "succeeded without document", answer: answerJSON(`{"result":"succeeded"}`), method: "pm_card_1", status: 200,
			want: []string{"Payment received", "Your receipt will be here once Tenant SUCCEEDED-WITHOUT-DOCUMENT has recorded the payment."}, event: tenants.EventInvoicePaymentSucceeded, audit: tenants.EventInvoicePaymentSucceeded},
		{name: "declined", answer: answerJSON(`{"result":"declined","message":"Your bank declined the card <b>ending</b> in 3000."}`), method: "pm_sepa_1", status: 200,
			want:  []string{"Payment declined", "SEPA Direct Debit, Deutsche Bank •••• 3000 was declined", "Your bank declined the card &lt;b&gt;ending&lt;/b&gt; in 3000.", "Use another payment method", `href="/pay/inv_2026_0007"`},
			event: tenants.EventInvoicePaymentFailed, audit: tenants.EventInvoicePaymentFailed},
		{name: "pending", answer: answerJSON(`{"result":"pending"}`), method: "pm_card_1", status: 200,
			want: []string{"Payment processing", "is being processed"}, audit: "invoice.payment_pending"},
		{name: "timeout", answer: func(http.ResponseWriter, map[string]any) { time.Sleep(1500 * time.Millisecond) }, timeout: time.Second,
			method: "pm_card_1", status: 504, want: []string{"The payment service did not answer", "Nothing was changed here"}, audit: "invoice.payment_error"},
		{name: "500", answer: answerStatus(500),
			method: "pm_card_1", status: 502, want: []string{"The payment service failed", "Try again"}, audit: "invoice.payment_error"},
		{name: "invalid JSON", answer: answerJSON(`{"result":`), method: "pm_card_1", status: 502,
			want: []string{"The payment service gave an unusable answer"}, audit: "invoice.payment_error"},
		{name: "invalid document", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_7Hq2LmX9","name":"X","currency":"EURO"}}`), method: "pm_card_1", status: 502,
			want: []string{"The payment could not be recorded", "its updated billing data was not valid"}, audit: "invoice.payment_error"},
		{name: "another account's document", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_other","name":"X","currency":"EUR"}}`), method: "pm_card_1", status: 502,
			want: []string{"The payment could not be recorded"}, audit: "invoice.payment_error"},
		{name: "forbidden address", answer: answerJSON(`{"result":"succeeded"}`), forbid: true, method: "pm_card_1", status: 502,
			want: []string{"The payment service is unreachable", "Nothing was charged or changed"}, audit: "invoice.payment_error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.withBackend(c.timeout, c.forbid)
			b := newTenantBackend(t, map[string]backendAnswer{backend.TypeInvoicePay: c.answer})
			slug := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(c.name, " ", "-"), "'", ""))
			ps := h.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
			registerBackend(t, h, ps.t.ID, b.srv.URL+"/pay")
			if page := ps.get("/"); !strings.Contains(page, `href="/pay/inv_2026_0007"`) {
				t.Fatal("the page has no Pay now for the overdue invoice")
			}
			before := ps.account()
			form := ps.payForm(inv, c.method)
			st, body, _ := ps.submit("/pay/"+inv, form, "https://"+ps.host)
			if st != c.status {
				t.Fatalf("POST: %d, want %d\n%s", st, c.status, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("result lacks %q:\n%s", w, body)
				}
			}
			if n := b.count(backend.TypeInvoicePay); !c.forbid && n != 1 {
				t.Errorf("backend calls = %d, want 1", n)
			}
			if c.forbid && b.count(backend.TypeInvoicePay) != 0 {
				t.Errorf("a forbidden backend was called")
			}
			after := ps.account()
			if got := after.Invoice(inv).Status == account.InvPaid; got != c.paid {
				t.Errorf("invoice paid = %v, want %v", got, c.paid)
			}
			if !c.paid && !equalJSON(t, before, after) {
				t.Error("the account changed")
			}
			for _, typ := range []string{tenants.EventInvoicePaymentSucceeded, tenants.EventInvoicePaymentFailed} {
				evs := ps.events(typ)
				if want := typ == c.event; (len(evs) == 1) != want || len(evs) > 1 {
					t.Errorf("%s events: %v", typ, evs)
				} else if want && (evs[0]["invoiceId"] != inv || evs[0]["amount"] != float64(119000) || evs[0]["currency"] != "EUR" ||
					evs[0]["paymentMethodId"] != c.method || evs[0]["sessionId"] != ps.id || evs[0]["accountId"] != "acc_7Hq2LmX9") {
					t.Errorf("%s event data: %v", typ, evs[0])
				}
			}
			if c.paid {
				if page := ps.get("/invoices/" + inv); !strings.Contains(page, "Paid") {
					t.Error("the receipt does not show the invoice paid")
				}
				if r := h.do("GET", ps.host, "/invoices/"+inv+".pdf", nil, "Cookie", ps.cookie); r.StatusCode() != 200 || !strings.HasPrefix(string(r.Body()), "%PDF") {
					t.Errorf("receipt PDF: %d", r.StatusCode())
				}
				etcdtest.Wait(t, "the page shows the invoice paid", func() bool {
					return !strings.Contains(ps.get("/"), `href="/pay/inv_2026_0007"`)
				})
			}
			wantAudit(t, h, ps.t.ID, "acc_7Hq2LmX9", c.audit)
		})
	}
}

// TestPayRequiresActionRoundTrip: requires_action sends the customer to the backend's page with
// a sealed return URL; the return lands on the invoice's current state; a forged or another
// session's return is refused.
func TestPayRequiresActionRoundTrip(t *testing.T) {
	t.Parallel()
	h, ps, b := backendPortal(t, "action", "de", map[string]backendAnswer{
		backend.TypeInvoicePay: answerJSON(`{"result":"requires_action","redirectUrl":"https://bank.example/3ds?tx=1"}`)})
	st, _, loc := ps.submit("/pay/inv_2026_0006", ps.payForm("inv_2026_0006", "pm_card_1"), "https://"+ps.host)
	u, err := url.Parse(loc)
	if st != 303 || err != nil || u.Host != "bank.example" || u.Query().Get("tx") != "1" {
		t.Fatalf("POST: %d to %q", st, loc)
	}
	ret, err := url.Parse(u.Query().Get("return_url"))
	if err != nil || ret.Host != ps.host || ret.Path != "/pay/inv_2026_0006/return" {
		t.Fatalf("return_url %q", u.Query().Get("return_url"))
	}
	// Back from the bank, not paid yet: the invoice's state, in the customer's language.
	if body := ps.get(ret.RequestURI()); !strings.Contains(body, "Zahlung noch nicht abgeschlossen") || !strings.Contains(body, "595,00") {
		t.Errorf("return page:\n%s", body)
	}
	// The tenant records the payment: the return shows it paid with its receipt.
	h.putExample(ps.key, `"name": "Globex Corporation"`)
	ps.putAccount(paidDoc(t, "inv_2026_0006"))
	etcdtest.Wait(t, "the return shows the invoice paid", func() bool {
		body := ps.get(ret.RequestURI())
		return strings.Contains(body, "Rechnung bezahlt") && strings.Contains(body, `href="/invoices/inv_2026_0006.pdf"`)
	})
	// A forged return, or another invoice's: refused.
	for _, p := range []string{"/pay/inv_2026_0006/return?r=AAAA", "/pay/inv_2026_0007/return?" + ret.RawQuery} {
		if r := h.do("GET", ps.host, p, nil, "Cookie", ps.cookie); r.StatusCode() != 400 {
			t.Errorf("GET %s: %d", p, r.StatusCode())
		}
	}
	// Another session's return: refused.
	other := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9"}`)
	if r := h.do("GET", ps.host, ret.RequestURI(), nil, "Cookie", other); r.StatusCode() != 400 {
		t.Errorf("another session's return: %d", r.StatusCode())
	}
	if n := len(ps.events(tenants.EventInvoicePaymentSucceeded)); n != 0 || b.count(backend.TypeInvoicePay) != 1 {
		t.Errorf("events %d, calls %d", n, b.count(backend.TypeInvoicePay))
	}
}

// TestPayConcurrentSubmits: 20 submits of one payment through two gateway instances (a double
// submit, reloads, two tabs) reach the backend once, and all show its answer.
func TestPayConcurrentSubmits(t *testing.T) {
	t.Parallel()
	r := newTwoInstances(t, "twice", backend.TypeInvoicePay,
		answerSucceeded("", func(d map[string]any) string { return paidDoc(t, str(d, "invoiceId")) }))
	ps := r.ps
	statuses, bodies := r.confirm(t, "/pay/inv_2026_0007", ps.payForm("inv_2026_0007", "pm_card_1"), 20)
	for i := range statuses {
		if statuses[i] != 200 || !(strings.Contains(bodies[i], "Payment received") || strings.Contains(bodies[i], "Invoice paid")) {
			t.Errorf("submit %d: %d\n%s", i, statuses[i], bodies[i])
		}
	}
	if n := r.be.count(backend.TypeInvoicePay); n != 1 {
		t.Fatalf("backend calls = %d, want 1", n)
	}
	if n := len(ps.events(tenants.EventInvoicePaymentSucceeded)); n != 1 {
		t.Fatalf("payment_succeeded events = %d, want 1", n)
	}
	key, data := r.be.lastOf(backend.TypeInvoicePay)
	if !strings.HasPrefix(key, "pay_") || data["sessionId"] != ps.id || data["amount"] != float64(119000) || data["currency"] != "EUR" || data["paymentMethodId"] != "pm_card_1" {
		t.Errorf("request: key %q data %v", key, data)
	}
}

// TestPayRefusals: a forged form (no CSRF token, another Origin) and another account's invoice
// change nothing and call nothing; allowPayment off shows no button and refuses the POST; an
// invoice with nothing to pay shows its state.
func TestPayRefusals(t *testing.T) {
	t.Parallel()
	h, ps, b := backendPortal(t, "refuse", "en", nil)
	form := ps.payForm("inv_2026_0007", "pm_card_1")
	noCSRF := with(form, "csrf", strings.Repeat("A", 32))
	for _, c := range []struct {
		name, path, origin string
		form               url.Values
		status             int
	}{
		{"wrong CSRF", "/pay/inv_2026_0007", "https://" + ps.host, noCSRF, 403},
		{"other origin", "/pay/inv_2026_0007", "https://evil.example", form, 403},
		{"another account's invoice", "/pay/inv_elsewhere", "https://" + ps.host, form, 404},
		{"a draft", "/pay/inv_2026_0008", "https://" + ps.host, form, 404},
	} {
		if st, body, _ := ps.submit(c.path, c.form, c.origin); st != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.name, st, c.status, body)
		}
	}
	for _, p := range []string{"/pay/inv_elsewhere", "/pay/inv_2026_0008"} {
		if r := h.do("GET", ps.host, p, nil, "Cookie", ps.cookie); r.StatusCode() != 404 {
			t.Errorf("GET %s: %d", p, r.StatusCode())
		}
	}
	// A paid invoice: its state, no call.
	if body := ps.get("/pay/inv_2026_0005"); !strings.Contains(body, "Invoice paid") {
		t.Errorf("paid invoice's pay page:\n%s", body)
	}
	// A confirmation the page could not have sent (the document changed since it was shown, a
	// forged amount or method): asked again with the form error summary, which links each field
	// in error, and the field marked; no call.
	for _, c := range []struct {
		name    string
		change  map[string]string
		status  int
		summary []string // the fields the summary links, in order
	}{
		{"stale revision", map[string]string{"rev": "1"}, 409, []string{"amount"}},
		{"forged amount", map[string]string{"amount": "1"}, 409, []string{"amount"}},
		{"forged currency", map[string]string{"currency": "USD"}, 409, []string{"amount"}},
		{"another account's method", map[string]string{"method": "pm_elsewhere"}, 422, []string{"method"}},
		{"no method", map[string]string{"method": ""}, 422, []string{"method"}},
		{"forged amount and method", map[string]string{"amount": "-5", "method": "<b>"}, 409, []string{"amount", "method"}},
	} {
		forged := with(form)
		for k, v := range c.change {
			forged.Set(k, v)
		}
		st, body, _ := ps.submit("/pay/inv_2026_0007", forged, "https://"+ps.host)
		if st != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.name, st, c.status, body)
			continue
		}
		if n := strings.Count(body, `class="error-summary" role="alert" tabindex="-1" autofocus`); n != 1 || strings.Count(body, `role="alert"`) != 1 {
			t.Errorf("%s: %d error summaries, %d alerts, want one of each:\n%s", c.name, n, strings.Count(body, `role="alert"`), body)
		}
		var linked []string
		for _, m := range regexp.MustCompile(`<li><a href="#([a-z]+)">`).FindAllStringSubmatch(body, -1) {
			linked = append(linked, m[1])
		}
		if strings.Join(linked, " ") != strings.Join(c.summary, " ") {
			t.Errorf("%s: the summary links %v, want %v", c.name, linked, c.summary)
		}
		for _, f := range c.summary {
			want := map[string][]string{
				"amount": {`<dd id="amount" class="has-error" tabindex="-1">`, `<span class="field-error" id="amount-error">This invoice changed since the page was opened.`},
				"method": {`<fieldset class="field has-error">`, `<p class="field-error" id="method-error">Choose a payment method.</p>`,
					`<input type="radio" id="method" name="method" value="pm_card_1" aria-invalid="true" aria-describedby="method-error">`},
			}[f]
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: the page lacks %s:\n%s", c.name, w, body)
				}
			}
		}
		// A method of the account stays chosen; after a bad one none is, for the customer to choose.
		_, badMethod := c.change["method"]
		if chosen := strings.Contains(body, `value="pm_card_1" checked`); chosen == badMethod || (badMethod && strings.Contains(body, " checked")) {
			t.Errorf("%s: pm_card_1 checked %v, want %v", c.name, chosen, !badMethod)
		}
		if strings.Contains(body, "&lt;b&gt;") || strings.Contains(body, "<b>") {
			t.Errorf("%s: the forged method is echoed:\n%s", c.name, body)
		}
	}
	if b.count(backend.TypeInvoicePay) != 0 || len(ps.events(tenants.EventInvoicePaymentSucceeded)) != 0 {
		t.Fatalf("a refused submit called the backend (%d) or emitted an event", b.count(backend.TypeInvoicePay))
	}

	// allowPayment off: no button, and the pages refuse.
	off := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","locale":"en","invoiceListSettings":{"allowPayment":false}}`)
	page := ps.pageOf(off, "/")
	if !strings.Contains(page, "GLX-2026-0007") || strings.Contains(page, "/pay/") {
		t.Error("Pay now shown with allowPayment false, or the overdue invoice not listed")
	}
	csrf := page[strings.Index(page, `name="csrf" value="`)+19:][:32]
	form.Set("csrf", csrf)
	r := h.do("POST", ps.host, "/pay/inv_2026_0007", []byte(form.Encode()), "Cookie", off,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+ps.host)
	if r.StatusCode() != 403 || !strings.Contains(string(r.Body()), "Paying invoices online is not available") {
		t.Errorf("POST with allowPayment false: %d", r.StatusCode())
	}
	if b.count(backend.TypeInvoicePay) != 0 {
		t.Fatal("allowPayment false called the backend")
	}
}

// TestPayWithoutBackend: without a backend an invoice's paymentUrl is linked, and the pay page
// goes there; with neither there is no button, and the pay page says paying is not available.
func TestPayWithoutBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.withBackend(0, false)
	_, key := h.tenant("hosted")
	h.putAccount(key, exampleDoc(t, func(a *account.Account) {
		a.Invoice("inv_2026_0007").PaymentURL = "https://pay.hosted.example/inv_2026_0007?sig=x"
	}))
	cookie := h.customerOf(key, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	r := h.do("GET", "hosted."+base, "/", nil, "Cookie", cookie)
	page := string(r.Body())
	if !strings.Contains(page, `href="https://pay.hosted.example/inv_2026_0007?sig=x" rel="noopener noreferrer"`) {
		t.Error("no Pay now to the paymentUrl")
	}
	if strings.Contains(page, `href="/pay/`) {
		t.Error("a pay page offered without a backend")
	}
	if got := string(r.Header.Peek("Referrer-Policy")); got != "same-origin" {
		t.Errorf("Referrer-Policy %q: the portal's URL would leave as a Referer", got)
	}
	if r := h.do("GET", "hosted."+base, "/pay/inv_2026_0007", nil, "Cookie", cookie); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "https://pay.hosted.example/inv_2026_0007?sig=x" {
		t.Errorf("pay page with a paymentUrl: %d %s", r.StatusCode(), r.Header.Peek("Location"))
	}
	if r := h.do("GET", "hosted."+base, "/pay/inv_2026_0006", nil, "Cookie", cookie); r.StatusCode() != 409 || !strings.Contains(string(r.Body()), "does not take payments in this portal") {
		t.Errorf("pay page with neither: %d", r.StatusCode())
	}
}

// TestPayDeepLink: flow pay_invoice lands on the invoice's pay page; one with nothing to pay, of
// another account or without allowPayment is refused when the session is created.
func TestPayDeepLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("deeppay")
	st, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice","invoiceId":"inv_2026_0007"}`)
	if st != 201 {
		t.Fatalf("create: %d %s", st, raw)
	}
	if r := h.redeemLink(res["sessionUrl"].(string)); r.status != 303 || r.location != "/pay/inv_2026_0007" {
		t.Fatalf("redeem: %d to %q", r.status, r.location)
	}
	for _, c := range []struct{ body, detail string }{
		{`{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice"}`, "needs invoiceId"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice","invoiceId":"inv_2026_0005"}`, "has nothing to pay"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice","invoiceId":"inv_2026_0008"}`, "is not an invoice of the account"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice","invoiceId":"inv_nope"}`, "is not an invoice of the account"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"pay_invoice","invoiceId":"inv_2026_0007","invoiceListSettings":{"allowPayment":false}}`, "needs invoiceListSettings.allowPayment"},
		{`{"accountId":"acc_7Hq2LmX9","invoiceId":"inv_2026_0007"}`, "invoiceId is only used with flow pay_invoice"},
	} {
		st, res, raw := h.createSession(key, c.body)
		if d, _ := res["detail"].(string); st != 400 || !strings.Contains(d, c.detail) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.body, st, raw, c.detail)
		}
	}
}

// TestPayInvoiceNamedOverdue: an invoice whose id is "overdue" has its own pay page; "Pay all
// overdue" lives at a path no invoice id can take (it was /pay/overdue, which such an invoice's
// Pay now opened instead).
func TestPayInvoiceNamedOverdue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.withBackend(0, false)
	tn, key := h.tenant("named")
	h.putAccount(key, exampleDoc(t, func(a *account.Account) {
		a.Invoice("inv_2026_0007").ID = "overdue"
		a.CreditNotes[0].InvoiceID = "overdue" // the credit note of GLX-2026-0007 follows it
	}))
	registerBackend(t, h, tn.ID, newTenantBackend(t, map[string]backendAnswer{backend.TypeInvoicePay: answerJSON(`{"result":"pending"}`)}).srv.URL)
	cookie := h.customerOf(key, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	r := h.do("GET", "named."+base, "/pay/overdue", nil, "Cookie", cookie)
	if page := string(r.Body()); r.StatusCode() != 200 || !strings.Contains(page, "GLX-2026-0007") || !strings.Contains(page, `action="/pay/overdue"`) {
		t.Errorf("/pay/overdue: %d, want the pay page of invoice GLX-2026-0007:\n%s", r.StatusCode(), page)
	}
}
