package gateway

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/tenants"
)

// TestRequiresActionReturns: a backend's requires_action sends the customer to its page with a
// return URL sealed for the session and the page's invoice or subscription, for an hour, on
// every page that calls a backend (pay, change, pause, offer). The return lands where it should;
// another session's, another subscription's or invoice's, a forged one and one over an hour old
// are refused (the session itself, of a tenant whose sessions last 3 h, still open).
func TestRequiresActionReturns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		typ     string
		confirm func(t *testing.T, ps *portalSession) (int, string, string)
		path    string // the return's path
		other   string // the same return on another invoice's or subscription's path
		landing int    // the status of the valid return: the invoice's page (200) or the overview (303)
	}{
		{"pay", backend.TypeInvoicePay, func(t *testing.T, ps *portalSession) (int, string, string) {
			return ps.submit("/pay/inv_2026_0006", ps.payForm("inv_2026_0006", "pm_card_1"), "https://"+ps.host)
		}, "/pay/inv_2026_0006/return", "/pay/inv_2026_0007/return", 200},
		{"change", backend.TypeSubscriptionChange, func(t *testing.T, ps *portalSession) (int, string, string) {
			changeCatalog(t, ps)
			form, _ := ps.changeForm(subPath + "/change/preview?plan=business")
			return ps.submit(subPath+"/change", form, "https://"+ps.host)
		}, subPath + "/change/return", "/subscriptions/sub_Basic_01/change/return", 303},
		{"pause", backend.TypeSubscriptionPause, func(t *testing.T, ps *portalSession) (int, string, string) {
			ps.putPolicy(pausePolicy)
			form, _ := ps.formOf(subPath + "/pause")
			form.Set("periods", "1")
			return ps.submit(subPath+"/pause", form, "https://"+ps.host)
		}, subPath + "/return", "/subscriptions/sub_Basic_01/return", 303},
		{"offer", backend.TypeSubscriptionOfferAccept, func(t *testing.T, ps *portalSession) (int, string, string) {
			ps.putPolicy(pausePolicy)
			if st, body := ps.cancelPricing(); st != 200 || !strings.Contains(body, subPath+"/offer") {
				t.Fatalf("no offer: %d\n%s", st, body)
			}
			return ps.submit(subPath+"/offer", url.Values{}, "https://"+ps.host)
		}, subPath + "/return", "/subscriptions/sub_Basic_01/return", 303},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.withBackend(0, false)
			b := newTenantBackend(t, map[string]backendAnswer{
				c.typ: answerJSON(`{"result":"requires_action","redirectUrl":"https://bank.example/3ds?tx=1"}`),
			})
			ps := h.customerWith("ret-"+c.name, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`,
				func(tn *tenants.Tenant) { tn.SessionTTL = tenants.Duration(3 * time.Hour) })
			registerBackend(t, h, ps.t.ID, b.srv.URL)

			st, body, loc := c.confirm(t, ps)
			u, err := url.Parse(loc)
			if st != 303 || err != nil || u.Host != "bank.example" || u.Query().Get("tx") != "1" {
				t.Fatalf("confirm: %d to %q\n%s", st, loc, body)
			}
			if n := b.count(c.typ); n != 1 {
				t.Fatalf("%s calls: %d", c.typ, n)
			}
			ret, err := url.Parse(u.Query().Get("return_url"))
			if err != nil || ret.Scheme != "https" || ret.Host != ps.host || ret.Path != c.path || ret.Query().Get("r") == "" {
				t.Fatalf("return_url %q, want https://%s%s?r=…", u.Query().Get("return_url"), ps.host, c.path)
			}
			back := func(cookie, path string) (int, string) {
				r := h.do("GET", ps.host, path, nil, "Cookie", cookie)
				return r.StatusCode(), string(r.Header.Peek("Location"))
			}
			if st, loc := back(ps.cookie, ret.RequestURI()); st != c.landing || st == 303 && loc != "/" {
				t.Errorf("return: %d to %q, want %d", st, loc, c.landing)
			}
			other := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9"}`)
			for name, r := range map[string]struct{ cookie, path string }{
				"another session's":    {other, ret.RequestURI()},
				"another page's":       {ps.cookie, c.other + "?" + ret.RawQuery},
				"a forged":             {ps.cookie, c.path + "?r=AAAA"},
				"one without its seal": {ps.cookie, c.path},
			} {
				if st, _ := back(r.cookie, r.path); st != 400 {
					t.Errorf("%s return: %d, want 400", name, st)
				}
			}
			h.now.Store(int64(time.Hour/time.Second) + 1)
			if st, _ := back(ps.cookie, "/"); st != 200 {
				t.Fatalf("the session ended after an hour: %d", st)
			}
			if st, _ := back(ps.cookie, ret.RequestURI()); st != 400 {
				t.Errorf("a return over an hour old: %d, want 400", st)
			}
		})
	}
}
