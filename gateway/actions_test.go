package gateway

import (
	"context"
	"encoding/json"
	"html/template"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// portalSession is a customer with an open portal session.
type portalSession struct {
	key    string
	id     string // the session's id, as events and backend requests name it
	h      *harness
	t      *tenants.Tenant
	host   string
	cookie string
	csrf   string
}

func (h *harness) customer(slug, body string) *portalSession {
	h.t.Helper()
	return h.customerWith(slug, body, nil)
}

// customerWith is customer with the new tenant's configuration changed by edit first (nil: none).
func (h *harness) customerWith(slug, body string, edit func(*tenants.Tenant)) *portalSession {
	h.t.Helper()
	tn, key := h.tenant(slug)
	if edit != nil {
		var err error
		if tn, err = h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { edit(t); return nil }, nil); err != nil {
			h.t.Fatal(err)
		}
		want, _ := json.Marshal(tn)
		etcdtest.Wait(h.t, "the tenant's change indexed", func() bool {
			got, ok := h.store.TenantBySlug(slug)
			b, _ := json.Marshal(got)
			return ok && string(b) == string(want)
		})
	}
	st, res, raw := h.createSession(key, body)
	if st != 201 {
		h.t.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	id, _ := res["sessionId"].(string)
	if !strings.HasPrefix(id, "ps_") {
		h.t.Fatalf("create session: no session id in %s", raw)
	}
	ps := &portalSession{h: h, t: tn, key: key, id: id, host: slug + "." + base, cookie: cookie}
	page := ps.get("/")
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		h.t.Fatal("no CSRF token on the page")
	}
	ps.csrf = page[i+19 : i+19+32]
	return ps
}

func (ps *portalSession) get(path string) string {
	ps.h.t.Helper()
	r := ps.h.do("GET", ps.host, path, nil, "Cookie", ps.cookie)
	if r.StatusCode() != 200 {
		ps.h.t.Fatalf("GET %s: %d", path, r.StatusCode())
	}
	return string(r.Body())
}

// pageOf is the page at path for another session's cookie, which must be served (a check that
// something is not on a page is worth nothing on an error page).
func (ps *portalSession) pageOf(cookie, path string) string {
	ps.h.t.Helper()
	r := ps.h.do("GET", ps.host, path, nil, "Cookie", cookie)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `class="card section`) {
		ps.h.t.Fatalf("GET %s: %d, not a portal page:\n%s", path, r.StatusCode(), r.Body())
	}
	return string(r.Body())
}

// post submits a form as the portal page would, with the session's token and origin.
func (ps *portalSession) post(path string, form url.Values) (int, string) {
	ps.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", ps.csrf)
	}
	r := ps.h.do("POST", ps.host, path, []byte(form.Encode()), "Cookie", ps.cookie,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+ps.host)
	if r.StatusCode() == 303 && string(r.Header.Peek("Location")) != "/" {
		ps.h.t.Fatalf("POST %s redirected to %q", path, r.Header.Peek("Location"))
	}
	return r.StatusCode(), string(r.Body())
}

func (ps *portalSession) account() *account.Account {
	ps.h.t.Helper()
	snap, err := ps.h.store.Account(context.Background(), ps.t.ID, "acc_7Hq2LmX9")
	if err != nil {
		ps.h.t.Fatal(err)
	}
	return snap.Account
}

// events returns the data of the tenant's outbox events of a type.
func (ps *portalSession) events(typ string) []map[string]any {
	ps.h.t.Helper()
	resp, err := ps.h.store.Client().Get(context.Background(), ps.h.store.OutboxPrefix()+ps.t.ID+"/", clientv3.WithPrefix())
	if err != nil {
		ps.h.t.Fatal(err)
	}
	var out []map[string]any
	for _, kv := range resp.Kvs {
		var e tenants.Event
		json.Unmarshal(kv.Value, &e)
		if e.Type == typ {
			var d map[string]any
			json.Unmarshal(e.Data, &d)
			out = append(out, d)
		}
	}
	return out
}

func TestCancelEndOfTermAndReactivate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("cancel", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	form := ps.get("/subscriptions/sub_Pro_01/cancel")
	for _, want := range []string{"no_longer_required", "moving_provider", "Why are you cancelling", "Dec 31, 2026"} {
		if !strings.Contains(form, want) {
			t.Errorf("cancel form lacks %q", want)
		}
	}
	// A missing reason keeps what was typed and changes nothing.
	st, body := ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"comment": {"Too pricey for us"}})
	if st != 422 || !strings.Contains(body, "Choose the reason") || !strings.Contains(body, "Too pricey for us") {
		t.Fatalf("cancel without reason: %d", st)
	}
	if ps.account().Subscriptions[0].CancelAtPeriodEnd || len(ps.events(tenants.EventSubscriptionCancelationScheduled)) != 0 {
		t.Fatal("invalid cancel changed state")
	}
	for range 2 { // a double submit is harmless
		if st, _ := ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}, "comment": {"Too pricey"}}); st != 303 {
			t.Fatalf("cancel: %d", st)
		}
	}
	sub := ps.account().Subscriptions[0]
	if !sub.CancelAtPeriodEnd || sub.Status != account.SubActive || sub.CanceledAt != "2026-12-31" {
		t.Fatalf("after cancel: %+v", sub)
	}
	ev := ps.events(tenants.EventSubscriptionCancelationScheduled)
	if len(ev) != 1 || ev[0]["reason"] != "pricing" || ev[0]["comment"] != "Too pricey" || ev[0]["subscriptionId"] != "sub_Pro_01" || ev[0]["effectiveDate"] != "2026-12-31" {
		t.Fatalf("events = %v", ev)
	}
	page := ps.get("/")
	if !strings.Contains(page, "Scheduled for cancellation") || !strings.Contains(page, "/subscriptions/sub_Pro_01/reactivate") {
		t.Fatal("page does not show the scheduled cancellation with a Reactivate button")
	}
	for range 2 {
		if st, _ := ps.post("/subscriptions/sub_Pro_01/reactivate", nil); st != 303 {
			t.Fatalf("reactivate: %d", st)
		}
	}
	if sub := ps.account().Subscriptions[0]; sub.CancelAtPeriodEnd || sub.CanceledAt != "" {
		t.Fatalf("after reactivate: %+v", sub)
	}
	if n := len(ps.events(tenants.EventSubscriptionReactivated)); n != 1 {
		t.Fatalf("%d reactivated events, want 1", n)
	}
	if strings.Contains(ps.get("/"), "Scheduled for cancellation") {
		t.Fatal("page still shows the cancellation")
	}
}

func TestCancelImmediate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("cancelnow", `{"accountId":"acc_7Hq2LmX9"}`)
	if _, err := h.store.UpdateTenant(context.Background(), ps.t.ID, func(t *tenants.Tenant) error { t.Portal.CancelMode = tenants.CancelImmediate; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	waitTenant(t, h, ps.t.ID, func(t *tenants.Tenant) bool { return t.Portal.CancelMode == tenants.CancelImmediate })
	if st, _ := ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"other"}}); st != 303 {
		t.Fatalf("cancel: %d", st)
	}
	if sub := ps.account().Subscriptions[0]; sub.Status != account.SubCanceled || sub.CanceledAt == "" {
		t.Fatalf("after immediate cancel: %+v", sub)
	}
	if n := len(ps.events(tenants.EventSubscriptionCanceled)); n != 1 {
		t.Fatalf("%d canceled events", n)
	}
	// Invoices of a canceled subscription stay listed.
	if !strings.Contains(ps.get("/"), "GLX-2026-0007") {
		t.Fatal("invoices gone after cancel")
	}
}

func waitTenant(t *testing.T, h *harness, id string, cond func(*tenants.Tenant) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if tn, ok := h.store.TenantByID(id); ok && cond(tn) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("tenant change not watched")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCancelNotAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("nocancel", `{"accountId":"acc_7Hq2LmX9","planOverviewSettings":{"allowSubscriptionCancel":false}}`)
	r := h.do("GET", ps.host, "/subscriptions/sub_Pro_01/cancel", nil, "Cookie", ps.cookie)
	if r.StatusCode() != 403 {
		t.Fatalf("cancel form without permission: %d", r.StatusCode())
	}
	if st, _ := ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}}); st != 403 {
		t.Fatalf("cancel without permission: %d", st)
	}
	if ps.account().Subscriptions[0].CancelAtPeriodEnd || len(ps.events(tenants.EventSubscriptionCancelationScheduled)) != 0 {
		t.Fatal("state changed without permission")
	}
}

func TestActionsRejectForgeries(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("forge", `{"accountId":"acc_7Hq2LmX9"}`)
	form := url.Values{"reason": {"pricing"}}.Encode()
	tests := []struct {
		name    string
		body    string
		headers []string
		status  int
	}{
		{"forged CSRF", form + "&csrf=" + strings.Repeat("a", 32), []string{"Origin", "https://" + ps.host}, 403},
		{"missing CSRF", form, []string{"Origin", "https://" + ps.host}, 403},
		{"missing Origin", form + "&csrf=" + ps.csrf, nil, 403},
		{"other Origin", form + "&csrf=" + ps.csrf, []string{"Origin", "https://evil.example"}, 403},
		{"http Origin", form + "&csrf=" + ps.csrf, []string{"Origin", "http://" + ps.host}, 403},
	}
	for _, tt := range tests {
		hdr := append([]string{"Cookie", ps.cookie, "Content-Type", "application/x-www-form-urlencoded"}, tt.headers...)
		if r := h.do("POST", ps.host, "/subscriptions/sub_Pro_01/cancel", []byte(tt.body), hdr...); r.StatusCode() != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, r.StatusCode(), tt.status)
		}
	}
	// Another account's or a made-up subscription id.
	if st, _ := ps.post("/subscriptions/sub_other/cancel", url.Values{"reason": {"pricing"}}); st != 404 {
		t.Errorf("unknown subscription: %d", st)
	}
	if ps.account().Subscriptions[0].CancelAtPeriodEnd || len(ps.events(tenants.EventSubscriptionCancelationScheduled)) != 0 {
		t.Fatal("a rejected request changed state")
	}
}

func TestBillingDetailsEdit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("billing", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	form := ps.get("/billing/edit")
	if !strings.Contains(form, `value="Globex Corporation GmbH"`) || !strings.Contains(form, `<option value="DE" selected>Germany</option>`) {
		t.Fatal("edit form not filled with the current details")
	}
	bad := url.Values{"legalName": {"Zoë <b>GmbH</b>"}, "email": {"not-an-email"}, "line1": {"Hauptstraße 12"}, "city": {"Berlin"}, "country": {"XX"}}
	st, body := ps.post("/billing/edit", bad)
	if st != 422 || !strings.Contains(body, "Enter an email address") || !strings.Contains(body, "Choose a country") ||
		!strings.Contains(body, `value="Zoë &lt;b&gt;GmbH&lt;/b&gt;"`) || !strings.Contains(body, `value="not-an-email"`) {
		t.Fatalf("invalid edit: %d", st)
	}
	if len(ps.events(tenants.EventBillingDetailsUpdated)) != 0 || ps.account().Email != "billing@globex.example" {
		t.Fatal("invalid edit changed state")
	}
	good := url.Values{"legalName": {"Zoë Müller GmbH"}, "email": {"ap@globex.example"}, "line1": {"Hauptstraße 13"}, "city": {"Berlin"},
		"postalCode": {"10115"}, "country": {"de"}, "taxId": {"DE999999999"}}
	for range 2 {
		if st, _ := ps.post("/billing/edit", good); st != 303 {
			t.Fatalf("edit: %d", st)
		}
	}
	a := ps.account()
	if a.Email != "ap@globex.example" || a.Company.LegalName != "Zoë Müller GmbH" || a.Company.Address.Country != "DE" || a.Company.TaxID != "DE999999999" {
		t.Fatalf("stored: %+v %+v", a, a.Company)
	}
	if n := len(ps.events(tenants.EventBillingDetailsUpdated)); n != 1 {
		t.Fatalf("%d billing events for a double submit, want 1", n)
	}
	if page := ps.get("/"); !strings.Contains(page, "Zoë Müller GmbH") || !strings.Contains(page, "Hauptstraße 13") {
		t.Fatal("page does not show the new details")
	}
	// Not allowed for this session → 403 and nothing changed.
	ro := h.customer("billing-ro", `{"accountId":"acc_7Hq2LmX9","billingDetailsSettings":{"allowDetailsEdit":false}}`)
	if st, _ := ro.post("/billing/edit", good); st != 403 {
		t.Fatalf("edit without permission: %d", st)
	}
}

func TestPaymentMethods(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("pm", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	if st, _ := ps.post("/payment-methods/pm_sepa_1/default", nil); st != 303 {
		t.Fatalf("make default: %d", st)
	}
	a := ps.account()
	if def := a.DefaultPaymentMethod(); def == nil || def.ID != "pm_sepa_1" || a.AutoPay.PaymentMethodID != "pm_sepa_1" {
		t.Fatalf("after make default: %+v %+v", def, a.AutoPay)
	}
	ev := ps.events(tenants.EventPaymentMethodDefaultChanged)
	if len(ev) != 1 || ev[0]["previousPaymentMethodId"] != "pm_card_1" {
		t.Fatalf("events = %v", ev)
	}
	if st, _ := ps.post("/payment-methods/pm_nope/default", nil); st != 404 {
		t.Fatalf("unknown method: %d", st)
	}
	if st, _ := ps.post("/payment-methods/pm_card_1/remove", nil); st != 303 {
		t.Fatalf("remove: %d", st)
	}
	if st, _ := ps.post("/payment-methods/pm_card_1/remove", nil); st != 303 { // double submit
		t.Fatalf("remove again: %d", st)
	}
	if n := len(ps.events(tenants.EventPaymentMethodRemoved)); n != 1 {
		t.Fatalf("%d removed events", n)
	}
	// The last method stays while the subscription bills.
	st, body := ps.post("/payment-methods/pm_sepa_1/remove", nil)
	if st != 409 || !strings.Contains(body, "Keep one payment method") || len(ps.account().PaymentMethods) != 1 {
		t.Fatalf("removing the last method: %d", st)
	}
}

func TestAutopay(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("autopay", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	if !strings.Contains(ps.get("/billing/autopay"), `value="on_due_date" checked`) {
		t.Fatal("auto-pay form does not show the current timing")
	}
	if st, _ := ps.post("/billing/autopay", url.Values{"enabled": {"on"}, "timing": {"someday"}}); st != 422 {
		t.Fatalf("bad timing: %d", st)
	}
	for range 2 {
		if st, _ := ps.post("/billing/autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}); st != 303 {
			t.Fatalf("turn off: %d", st)
		}
	}
	if ap := ps.account().AutoPay; ap.Enabled || ap.Timing != "on_issue" {
		t.Fatalf("auto-pay = %+v", ap)
	}
	if n := len(ps.events(tenants.EventAutopayUpdated)); n != 1 {
		t.Fatalf("%d autopay events", n)
	}
	if !strings.Contains(ps.get("/"), "Off") {
		t.Fatal("page does not show auto-pay off")
	}
	ro := h.customer("autopay-ro", `{"accountId":"acc_7Hq2LmX9","billingDetailsSettings":{"allowAutopayEdit":false}}`)
	if st, _ := ro.post("/billing/autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}); st != 403 {
		t.Fatalf("auto-pay without permission: %d", st)
	}
}

func TestAutopayNeedsDefaultMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("autopay-pm", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	_, err := h.store.UpdateAccount(context.Background(), ps.t.ID, "acc_7Hq2LmX9", func(a *account.Account) ([]*tenants.Event, error) {
		a.PaymentMethods, a.AutoPay = nil, &account.AutoPay{Enabled: false}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, body := ps.post("/billing/autopay", url.Values{"enabled": {"on"}, "timing": {"on_issue"}})
	if st != 422 || !strings.Contains(body, "needs a default payment method") || ps.account().AutoPay.Enabled {
		t.Fatalf("auto-pay without a method: %d", st)
	}
}

func TestAddPaymentMethodRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("addpm", `{"accountId":"acc_7Hq2LmX9"}`)
	if r := h.do("GET", ps.host, "/payment-methods/add", nil, "Cookie", ps.cookie); r.StatusCode() != 403 {
		t.Fatalf("add without a setup URL: %d", r.StatusCode())
	}
	if _, err := h.store.UpdateTenant(context.Background(), ps.t.ID, func(t *tenants.Tenant) error {
		t.PaymentSetupURL = "https://billing.acme.example/cards/new?plan=x"
		return nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	waitTenant(t, h, ps.t.ID, func(t *tenants.Tenant) bool { return t.PaymentSetupURL != "" })
	if !strings.Contains(ps.get("/"), "/payment-methods/add") {
		t.Fatal("page lacks Add payment method")
	}
	r := h.do("GET", ps.host, "/payment-methods/add", nil, "Cookie", ps.cookie)
	loc, err := url.Parse(string(r.Header.Peek("Location")))
	if r.StatusCode() != 303 || err != nil || loc.Host != "billing.acme.example" || loc.Query().Get("plan") != "x" || loc.Query().Get("account_id") != "acc_7Hq2LmX9" {
		t.Fatalf("add: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	ret, _ := url.Parse(loc.Query().Get("return_url"))
	if ret.Host != ps.host || ret.Path != "/payment-methods/return" {
		t.Fatalf("return URL %q", ret)
	}
	if r := h.do("GET", ps.host, ret.RequestURI(), nil, "Cookie", ps.cookie); r.StatusCode() != 303 {
		t.Fatalf("signed return: %d", r.StatusCode())
	}
	q := ret.Query()
	q.Set("r", q.Get("r")[:len(q.Get("r"))-2]+"AA")
	if r := h.do("GET", ps.host, "/payment-methods/return?"+q.Encode(), nil, "Cookie", ps.cookie); r.StatusCode() != 400 {
		t.Fatalf("tampered return: %d", r.StatusCode())
	}
}

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("audit", `{"accountId":"acc_7Hq2LmX9"}`)
	if st, _ := ps.post("/billing/autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}); st != 303 {
		t.Fatalf("action: %d", st)
	}
	if st, _ := ps.post("/logout", nil); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	r := h.do("GET", "api."+base, "/v1/portal-sessions?accountId=acc_7Hq2LmX9", nil, "Authorization", "Bearer "+ps.key)
	var out struct {
		Data []tenants.SessionAudit `json:"data"`
	}
	if err := json.Unmarshal(r.Body(), &out); err != nil || r.StatusCode() != 200 || len(out.Data) != 1 {
		t.Fatalf("audit: %d %s", r.StatusCode(), r.Body())
	}
	var types []string
	for _, e := range out.Data[0].Entries {
		types = append(types, e.Type)
	}
	want := []string{tenants.AuditCreated, tenants.AuditRedeemed, tenants.EventAutopayUpdated, tenants.AuditLoggedOut}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("trail = %v, want %v", types, want)
	}
	if e := out.Data[0].Entries[0]; !strings.HasPrefix(e.By, "apikey:") {
		t.Errorf("created by %q", e.By)
	}
	if e := out.Data[0].Entries[1]; e.IP == "" {
		t.Errorf("redeemed entry without IP: %+v", e)
	}
	// Another tenant's key sees nothing of it.
	_, other := h.tenant("audit-other")
	r = h.do("GET", "api."+base, "/v1/portal-sessions?accountId=acc_7Hq2LmX9", nil, "Authorization", "Bearer "+other)
	if !strings.Contains(string(r.Body()), `"data":[]`) {
		t.Fatalf("other tenant sees: %s", r.Body())
	}
}

func TestInvoicePagesAndPDF(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("inv", `{"accountId":"acc_7Hq2LmX9"}`)
	page := ps.get("/invoices/inv_2026_0007")
	for _, want := range []string{"GLX-2026-0007", "Globex Corporation GmbH", "DE123456789", "Hauptstraße 12", "/invoices/inv_2026_0007.pdf"} {
		if !strings.Contains(page, want) {
			t.Errorf("invoice page lacks %q", want)
		}
	}
	r := h.do("GET", ps.host, "/invoices/inv_2026_0007.pdf", nil, "Cookie", ps.cookie)
	if r.StatusCode() != 200 || string(r.Header.ContentType()) != "application/pdf" || !strings.HasPrefix(string(r.Body()), "%PDF-") ||
		string(r.Header.Peek("Content-Disposition")) != `attachment; filename="GLX-2026-0007.pdf"` {
		t.Fatalf("PDF: %d %q %q", r.StatusCode(), r.Header.ContentType(), r.Header.Peek("Content-Disposition"))
	}
	// Drafts, made-up ids and another account's invoice are all not found; without a session, 401.
	for _, id := range []string{"inv_2026_0008", "inv_nope", "inv_2026_0007x", "..%2Finv_2026_0007"} {
		if r := h.do("GET", ps.host, "/invoices/"+id+".pdf", nil, "Cookie", ps.cookie); r.StatusCode() != 404 {
			t.Errorf("GET /invoices/%s.pdf: %d", id, r.StatusCode())
		}
	}
	if r := h.do("GET", ps.host, "/invoices/inv_2026_0007.pdf", nil); r.StatusCode() != 401 {
		t.Errorf("PDF without a session: %d", r.StatusCode())
	}
	other := h.customer("inv-other", `{"accountId":"acc_7Hq2LmX9"}`)
	if r := h.do("GET", ps.host, "/invoices/inv_2026_0007.pdf", nil, "Cookie", other.cookie); r.StatusCode() != 401 {
		t.Errorf("another tenant's cookie: %d", r.StatusCode())
	}
	// Invoices of a canceled subscription stay downloadable.
	if _, err := h.store.UpdateAccount(context.Background(), ps.t.ID, "acc_7Hq2LmX9", func(a *account.Account) ([]*tenants.Event, error) {
		a.Subscriptions[0].Status = account.SubCanceled
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := h.do("GET", ps.host, "/invoices/inv_2026_0005.pdf", nil, "Cookie", ps.cookie); r.StatusCode() != 200 {
		t.Errorf("PDF of a canceled subscription's invoice: %d", r.StatusCode())
	}
}

// TestActionsRequirePermission: a session whose settings allow no change gets a 403 page on
// every action route, GET form or POST, and the account and the outbox stay as they were.
func TestActionsRequirePermission(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("readonly", `{"accountId":"acc_7Hq2LmX9","locale":"en",
		"planOverviewSettings":{"allowSubscriptionCancel":false},
		"billingDetailsSettings":{"allowDetailsEdit":false,"allowAutopayEdit":false}}`)
	snap, err := h.store.Account(context.Background(), ps.t.ID, "acc_7Hq2LmX9")
	if err != nil {
		t.Fatal(err)
	}
	en := i18n.ForLocale("en")
	for _, tc := range []struct {
		method, path, bodyKey string
		form                  url.Values
	}{
		{"GET", "/subscriptions/sub_Pro_01/cancel", "error.forbidden.cancel", nil},
		{"POST", "/subscriptions/sub_Pro_01/cancel", "error.forbidden.cancel", url.Values{"reason": {"pricing"}}},
		{"POST", "/subscriptions/sub_Pro_01/reactivate", "error.forbidden.subscription", nil},
		{"GET", "/billing/edit", "error.forbidden.billing", nil},
		{"POST", "/billing/edit", "error.forbidden.billing", url.Values{"legalName": {"X"}}},
		{"GET", "/billing/autopay", "error.forbidden.autopay", nil},
		{"POST", "/billing/autopay", "error.forbidden.autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}},
		{"GET", "/payment-methods/add", "error.forbidden.addPaymentMethod", nil},
		{"POST", "/payment-methods/pm_sepa_1/default", "error.forbidden.paymentMethods", nil},
		{"POST", "/payment-methods/pm_sepa_1/remove", "error.forbidden.paymentMethods", nil},
	} {
		var status int
		var body string
		if tc.method == "GET" {
			r := h.do("GET", ps.host, tc.path, nil, "Cookie", ps.cookie)
			status, body = r.StatusCode(), string(r.Body())
		} else {
			status, body = ps.post(tc.path, tc.form)
		}
		if want := template.HTMLEscapeString(en.T(tc.bodyKey, "tenant", ps.t.Name)); status != 403 || !strings.Contains(body, want) {
			t.Errorf("%s %s: %d, want 403 saying %q", tc.method, tc.path, status, want)
		}
	}
	after, err := h.store.Account(context.Background(), ps.t.ID, "acc_7Hq2LmX9")
	if err != nil {
		t.Fatal(err)
	}
	if after.Revision != snap.Revision {
		t.Errorf("the account changed (revision %d → %d)", snap.Revision, after.Revision)
	}
	for _, typ := range []string{tenants.EventSubscriptionCancelationScheduled, tenants.EventSubscriptionReactivated,
		tenants.EventBillingDetailsUpdated, tenants.EventAutopayUpdated} {
		if n := len(ps.events(typ)); n != 0 {
			t.Errorf("%d %s events", n, typ)
		}
	}
}
