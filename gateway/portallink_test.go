package gateway

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// withMailer gives the harness's gateway a portal-link emailer, shared with a dashboard as in
// `portico serve`, that sends through a real SMTP server (at most maxLinks per account and hour;
// 0: the default).
func withMailer(h *harness, maxLinks int) *mailtest.Server {
	h.t.Helper()
	smtp := mailtest.Start(h.t, mailtest.Options{TLS: "none"})
	sender, err := mail.New(mail.Config{Addr: smtp.Addr, TLS: "none", From: "Billing <billing@acme.example>"})
	if err != nil {
		h.t.Fatal(err)
	}
	emailer := &links.Emailer{Store: h.store, Issuer: h.gw.Issuer(), Mail: sender, MaxPerHour: maxLinks, Logger: h.gw.log}
	dash, err := dashboard.New(dashboard.Config{Store: h.store, Issuer: h.gw.Issuer(), PortalLinks: emailer, Logger: h.gw.log})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(dash.Close)
	h.gw.cfg.Dashboard, h.gw.cfg.PortalLinkMailer = dash.Handler, emailer // before the first request
	return smtp
}

// TestAPIEmailsPortalLink: POST /v1/accounts/{id}/portal-link sends the dashboard's email through a
// real SMTP server; the emailed link opens the portal once; the hourly limit answers 429. The send
// is logged by the API (with the key), not as the dashboard's.
func TestAPIEmailsPortalLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	var logs syncbuf.Buffer
	h.gw.log = slog.New(slog.NewTextHandler(&logs, nil))
	smtp := withMailer(h, 2)
	tn, key := h.tenant("mailer")
	auth := []string{"Authorization", "Bearer " + key}
	r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", nil, auth...)
	if r.StatusCode() != 202 || !strings.Contains(string(r.Body()), `"sentTo":"billing@globex.example"`) {
		t.Fatalf("portal-link: %d %s", r.StatusCode(), r.Body())
	}
	msg := smtp.Next(t)
	link := regexp.MustCompile(`https://mailer\.portal\.test/s/[A-Za-z0-9_-]{43}`).FindString(string(msg.Data))
	if link == "" || msg.To[0] != "billing@globex.example" {
		t.Fatalf("mail to %v without a link:\n%s", msg.To, msg.Data)
	}
	if st, _, _ := h.continueLink(link); st != 303 {
		t.Fatalf("emailed link: %d", st)
	}
	if l := logs.String(); !strings.Contains(l, `msg="gateway: portal link emailed"`) || !strings.Contains(l, "by=apikey:") || strings.Contains(l, "dashboard:") {
		t.Fatalf("the API's send is not logged as the API's:\n%s", l)
	}
	if st, _, _ := h.open(link); st != 410 {
		t.Fatalf("emailed link twice: %d", st)
	}
	if r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", nil, auth...); r.StatusCode() != 202 {
		t.Fatalf("second email: %d", r.StatusCode())
	}
	smtp.Next(t)
	if r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", nil, auth...); r.StatusCode() != 429 || len(r.Header.Peek("Retry-After")) == 0 {
		t.Fatalf("third email in the hour: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("POST", "api."+base, "/v1/accounts/nope/portal-link", nil, auth...); r.StatusCode() != 404 {
		t.Fatalf("unknown account: %d", r.StatusCode())
	}
	if _, err := h.store.UpdateAccount(context.Background(), tn.ID, "acc_7Hq2LmX9", func(a *account.Account) ([]*tenants.Event, error) {
		a.Email = ""
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", nil, auth...); r.StatusCode() != 409 {
		t.Fatalf("account without email: %d %s", r.StatusCode(), r.Body())
	}
	// The dashboard host is served by the dashboard.
	if r := h.do("GET", "dashboard."+base, "/login", nil); r.StatusCode() != 200 || !strings.Contains(string(r.Body()), "password") {
		t.Fatalf("dashboard login page: %d", r.StatusCode())
	}
}

// TestAPIEmailsPortalLinkInLocale: the optional body {"locale": …} picks the language of the email
// and of the portal it links to; a malformed body or locale is a 400 that sends nothing.
func TestAPIEmailsPortalLinkInLocale(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	smtp := withMailer(h, 0)
	tn, key := h.tenant("mailer-ja")
	auth := []string{"Authorization", "Bearer " + key, "Content-Type", "application/json"}
	for _, tc := range []struct{ body, detail string }{
		{`{"locale":"not a tag!"}`, "locale"},
		{`{"locale":"ja","extra":1}`, `extra`},
		{`{"locale":`, "JSON"},
	} {
		r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", []byte(tc.body), auth...)
		if r.StatusCode() != 400 || !strings.Contains(string(r.Body()), tc.detail) {
			t.Errorf("body %s: %d %s, want 400 naming %s", tc.body, r.StatusCode(), r.Body(), tc.detail)
		}
	}
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("%d emails sent for refused requests", n)
	}
	r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", []byte(`{"locale":"ja-JP"}`), auth...)
	if r.StatusCode() != 202 {
		t.Fatalf("portal-link in ja-JP: %d %s", r.StatusCode(), r.Body())
	}
	p, err := mailtest.Parse(smtp.Next(t).Data)
	if err != nil {
		t.Fatal(err)
	}
	ja := i18n.ForLocale("ja")
	if want := ja.T("email.portalLink.subject", "tenant", tn.Name); p.Subject != want {
		t.Errorf("subject %q, want %q", p.Subject, want)
	}
	link := regexp.MustCompile(`https://mailer-ja\.portal\.test/s/[A-Za-z0-9_-]{43}`).FindString(p.Text)
	_, cookie, _ := h.continueLink(link)
	page := h.do("GET", "mailer-ja."+base, "/", nil, "Cookie", cookie)
	if got := langAttr(string(page.Body())); got != "ja" {
		t.Errorf("the emailed link opens the portal in %q, want ja", got)
	}
}

// TestFailedPortalLinkSendsDoNotCount: only emails the SMTP server accepted count toward the
// per-account hourly limit (5 by default): five refused sends leave all five, the sixth send
// after five sent ones is refused with 429.
func TestFailedPortalLinkSendsDoNotCount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	smtp := withMailer(h, 0)
	_, key := h.tenant("mailer")
	send := func() int {
		return h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", nil, "Authorization", "Bearer "+key).StatusCode()
	}
	smtp.Reject(errors.New("mailbox unavailable"))
	for i := range 5 {
		if st := send(); st != 502 {
			t.Fatalf("refused send %d: %d, want 502", i+1, st)
		}
	}
	smtp.Reject(nil)
	for i := range 5 {
		if st := send(); st != 202 {
			t.Fatalf("send %d after 5 refused ones: %d, want 202", i+1, st)
		}
		smtp.Next(t)
	}
	if st := send(); st != 429 {
		t.Fatalf("sixth sent email in the hour: %d, want 429", st)
	}
	if smtp.Pending() != 0 {
		t.Fatal("an email was sent past the limit")
	}
}
