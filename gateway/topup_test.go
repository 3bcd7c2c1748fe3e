package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/plugins/usage"
	"github.com/portico-billing/portico/tenants/account"
)

// Topping up the wallet from the portal's Usage section through a real HTTP backend
// (wallet.top_up), like paying an invoice.

var topUpHiddenRE = regexp.MustCompile(`<input type="hidden" name="(rev|currency)" value="([^"]*)">`)

// topUpForm opens the top-up page and returns its form with amount and method.
func (ps *portalSession) topUpForm(amount, method string) url.Values {
	ps.h.t.Helper()
	page := ps.get("/wallet/top-up")
	form := url.Values{"amount": {amount}, "method": {method}}
	for _, m := range topUpHiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	if len(form) != 4 {
		ps.h.t.Fatalf("top-up page lacks its hidden fields:\n%s", page)
	}
	return form
}

// toppedUpDoc is the example account with amount added to its wallet, as a backend returns it.
func toppedUpDoc(t testing.TB, amount int64) string {
	return exampleDoc(t, func(a *account.Account) {
		a.Wallet.Balance += amount
		a.Wallet.Transactions = append(a.Wallet.Transactions, account.WalletTransaction{ID: "wtx_new", Date: "2026-12-20", Type: account.WalletTopUp, Amount: amount})
	})
}

func TestTopUpResults(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		answer  backendAnswer
		status  int
		want    []string
		balance int64  // the stored balance afterwards
		event   string // the event emitted, "" none
		audit   string
	}{
		{name: "succeeded", answer: answerSucceeded("Thanks!", func(map[string]any) string { return toppedUpDoc(t, 5050) }), status: 200,
			want:    []string{"Credit topped up", "€50.50 was added to your prepaid credit and charged to Visa •••• 4242.", "Your balance is now €375.50.", "Thanks!"},
			balance: 37550, event: usage.EventTopUpSucceeded, audit: usage.EventTopUpSucceeded},
		{name: "succeeded without document", answer: answerJSON(`{"result":"succeeded"}`), status: 200,
			want: []string{"Credit topped up", "once Tenant SUCCEEDED-WITHOUT-DOCUMENT has recorded it"}, balance: 32500, event: usage.EventTopUpSucceeded, audit: usage.EventTopUpSucceeded},
		{name: "declined", answer: answerJSON(`{"result":"declined","message":"Card <b>declined</b>."}`), status: 200,
			want: []string{"Top-up declined", "Visa •••• 4242 was declined for €50.50. Nothing was charged.", "Card &lt;b&gt;declined&lt;/b&gt;.", `href="/wallet/top-up"`}, balance: 32500,
			event: usage.EventTopUpFailed, audit: usage.EventTopUpFailed},
		{name: "pending", answer: answerJSON(`{"result":"pending"}`), status: 200, want: []string{"Top-up processing", "€50.50 is being processed"}, balance: 32500, audit: usage.AuditTopUpPending},
		{name: "500", answer: answerStatus(500), status: 502, want: []string{"The payment service reported an error", "Try again"}, balance: 32500, audit: usage.AuditTopUpError},
		{name: "invalid document", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_7Hq2LmX9","name":"X","currency":"EUR","wallet":{"currency":"USD","balance":1}}}`), status: 502,
			want: []string{"The top-up could not be recorded"}, balance: 32500, audit: usage.AuditTopUpError},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			slug := strings.ReplaceAll(c.name, " ", "-")
			h, ps, b := backendPortal(t, slug, "en", map[string]backendAnswer{backend.TypeWalletTopUp: c.answer})
			if page := ps.get("/"); !strings.Contains(page, `href="/wallet/top-up"`) || !strings.Contains(page, "Prepaid credit") {
				t.Fatal("the overview offers no Top up")
			}
			st, body, _ := ps.submit("/wallet/top-up", ps.topUpForm("50.50", "pm_card_1"), "https://"+ps.host)
			if st != c.status {
				t.Fatalf("POST: %d, want %d\n%s", st, c.status, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("result lacks %q:\n%s", w, body)
				}
			}
			if n := b.count(backend.TypeWalletTopUp); n != 1 {
				t.Errorf("backend calls = %d, want 1", n)
			}
			_, data := b.lastOf(backend.TypeWalletTopUp)
			if data["amount"] != float64(5050) || data["currency"] != "EUR" || data["paymentMethodId"] != "pm_card_1" || data["accountId"] != "acc_7Hq2LmX9" || data["sessionId"] != ps.id {
				t.Errorf("request data %v", data)
			}
			if got := ps.account().Wallet.Balance; got != c.balance {
				t.Errorf("stored balance %d, want %d", got, c.balance)
			}
			for _, typ := range []string{usage.EventTopUpSucceeded, usage.EventTopUpFailed} {
				evs := ps.events(typ)
				if want := typ == c.event; (len(evs) == 1) != want || len(evs) > 1 {
					t.Errorf("%s events: %v", typ, evs)
				} else if want && (evs[0]["amount"] != float64(5050) || evs[0]["currency"] != "EUR" || evs[0]["accountId"] != "acc_7Hq2LmX9") {
					t.Errorf("%s event data: %v", typ, evs[0])
				}
			}
			wantAudit(t, h, ps.t.ID, "acc_7Hq2LmX9", c.audit)
		})
	}
}

// TestTopUpRefusals: an amount that is not one, out of bounds or with too many decimals, no
// payment method, or a form of an older document is asked again (4xx with the field's error) and
// nothing is called; a double submit calls once; a session without allowTopUp is refused.
func TestTopUpRefusals(t *testing.T) {
	t.Parallel()
	h, ps, b := backendPortal(t, "refusals", "en", map[string]backendAnswer{backend.TypeWalletTopUp: answerJSON(`{"result":"pending"}`)})
	form := ps.topUpForm("20", "pm_card_1")
	for _, c := range []struct {
		form   url.Values
		status int
		want   string
	}{
		{with(form, "amount", "abc"), 422, "Enter an amount from €1.00 to €100,000.00"},
		{with(form, "amount", "0.99"), 422, "Enter an amount from"},
		{with(form, "amount", "100000.01"), 422, "Enter an amount from"},
		{with(form, "amount", "1.005"), 422, "Enter an amount from"},
		{with(form, "amount", "-5"), 422, "Enter an amount from"},
		{with(form, "method", "pm_nope"), 422, "Choose a payment method."},
		{with(form, "rev", "1"), 409, "Your billing data changed since the page was opened."},
		{with(form, "currency", "USD"), 409, "Your billing data changed"},
	} {
		st, body, _ := ps.submit("/wallet/top-up", c.form, "https://"+ps.host)
		if st != c.status || !strings.Contains(body, c.want) || !strings.Contains(body, `class="error-summary"`) {
			t.Errorf("%v: %d, want %d with %q\n%s", c.form, st, c.status, c.want, body)
		}
	}
	if n := b.count(backend.TypeWalletTopUp); n != 0 {
		t.Fatalf("refused forms called the backend %d times", n)
	}
	for range 3 {
		if st, body, _ := ps.submit("/wallet/top-up", with(form, "amount", "20,00"), "https://"+ps.host); st != 200 || !strings.Contains(body, "Top-up processing") {
			t.Fatalf("submit: %d\n%s", st, body)
		}
	}
	if n := b.count(backend.TypeWalletTopUp); n != 1 {
		t.Errorf("three submits of one top-up called the backend %d times", n)
	}
	// Without allowTopUp: no button, and the pages are refused.
	other := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","locale":"en","usageSettings":{"allowTopUp":false}}`)
	if page := ps.pageOf(other, "/"); strings.Contains(page, "/wallet/top-up") || !strings.Contains(page, "Prepaid credit") {
		t.Errorf("a session without allowTopUp is offered Top up:\n%s", page)
	}
	if r := h.do("GET", ps.host, "/wallet/top-up", nil, "Cookie", other); r.StatusCode() != 403 {
		t.Errorf("GET without allowTopUp: %d", r.StatusCode())
	}
	// Without showSection: no Usage section.
	hidden := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","usageSettings":{"showSection":false}}`)
	if page := ps.pageOf(hidden, "/"); strings.Contains(page, "section-usage") {
		t.Error("usageSettings.showSection false shows the section")
	}
}

// TestTopUpRequiresActionRoundTrip: requires_action sends the customer to the backend's page with
// a sealed return URL, which shows the balance as it stands; a forged one is refused.
func TestTopUpRequiresActionRoundTrip(t *testing.T) {
	t.Parallel()
	h, ps, _ := backendPortal(t, "topup-action", "de", map[string]backendAnswer{
		backend.TypeWalletTopUp: answerJSON(`{"result":"requires_action","redirectUrl":"https://bank.example/3ds?tx=7"}`)})
	st, _, loc := ps.submit("/wallet/top-up", ps.topUpForm("50", "pm_card_1"), "https://"+ps.host)
	u, err := url.Parse(loc)
	if st != 303 || err != nil || u.Host != "bank.example" {
		t.Fatalf("POST: %d to %q", st, loc)
	}
	ret, err := url.Parse(u.Query().Get("return_url"))
	if err != nil || ret.Host != ps.host || ret.Path != "/wallet/top-up/return" {
		t.Fatalf("return_url %q", u.Query().Get("return_url"))
	}
	if body := ps.get(ret.RequestURI()); !strings.Contains(body, "Ihr Guthaben beträgt 325,00") {
		t.Errorf("return page:\n%s", body)
	}
	if r := h.do("GET", ps.host, "/wallet/top-up/return?r=AAAA", nil, "Cookie", ps.cookie); r.StatusCode() != 400 {
		t.Errorf("forged return: %d", r.StatusCode())
	}
	wantAudit(t, h, ps.t.ID, "acc_7Hq2LmX9", usage.AuditTopUpRequiresAction)
}

// TestTopUpThroughExampleBackend: the top-up carried out by `portico backend-example`'s backend
// over HTTP: the stored wallet raised with a top_up transaction, the page showing the new
// balance; its card ending in 0002 declined.
func TestTopUpThroughExampleBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.withBackend(0, false)
	ps := h.customer("example-topup", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	ps.putAccount(exampleDoc(t, func(a *account.Account) {
		a.PaymentMethods = append(a.PaymentMethods, account.PaymentMethod{ID: "pm_card_2", Type: account.PaymentCard, Brand: "mastercard", Last4: backend.DeclinedLast4})
	}))
	reg, err := backend.New(backend.Config{Store: h.store, Keyring: h.gw.Keyring(), AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	ex := &backend.Example{Account: func(ctx context.Context, id string) (*account.Account, error) {
		snap, err := h.store.Account(ctx, ps.t.ID, id)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(snap.Account)
		var c account.Account
		return &c, json.Unmarshal(b, &c)
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ex.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	_, secret, err := reg.Register(context.Background(), ps.t.ID, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ex.Secrets = []string{secret}
	etcdtest.Wait(t, "backend indexed", func() bool { return h.store.HasBackend(ps.t.ID) })
	etcdtest.Wait(t, "the page has the card", func() bool { return strings.Contains(ps.get("/wallet/top-up"), "pm_card_2") })

	st, body, _ := ps.submit("/wallet/top-up", ps.topUpForm("25", "pm_card_2"), "https://"+ps.host)
	if st != 200 || !strings.Contains(body, "Top-up declined") || !strings.Contains(body, "Your bank declined the card ending in 0002") {
		t.Fatalf("top up with 0002: %d\n%s", st, body)
	}
	st, body, _ = ps.submit("/wallet/top-up", ps.topUpForm("25", "pm_card_1"), "https://"+ps.host)
	if st != 200 || !strings.Contains(body, "Credit topped up") || !strings.Contains(body, "Your balance is now €350.00.") {
		t.Fatalf("top up: %d\n%s", st, body)
	}
	w := ps.account().Wallet
	last := w.Transactions[len(w.Transactions)-1]
	if w.Balance != 35000 || last.Type != account.WalletTopUp || last.Amount != 2500 {
		t.Errorf("stored wallet %+v", w)
	}
	etcdtest.Wait(t, "the overview shows the new balance", func() bool { return strings.Contains(ps.get("/"), "€350.00") })
}
