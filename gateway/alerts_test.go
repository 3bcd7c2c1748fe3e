package gateway

import (
	"net/url"
	"strings"
	"testing"

	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants/account"
)

// alertsPortal is the example account (API calls metered at 1,800,000 on Pro, item 2) in an
// English portal session of a new tenant whose gateway emails over a real SMTP server.
func alertsPortal(t *testing.T, slug string) (*harness, *portalSession, *mailtest.Server) {
	t.Helper()
	h := newHarness(t)
	smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
	sender, err := mail.New(mail.Config{Addr: smtp.Addr, TLS: "none", From: "Billing <billing@acme.example>"})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.cfg.SignInMail = sender // before the first request
	ps := h.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	return h, ps, smtp
}

// usageDoc is the example account with the API-call meter at usage in the period from start.
func usageDoc(t testing.TB, usage int64, start account.Date) string {
	return exampleDoc(t, func(a *account.Account) {
		s := &a.Subscriptions[0]
		m := s.Items[2].Meter
		m.UsageToDate = usage
		if start != s.CurrentPeriodStart {
			s.CurrentPeriodStart, s.CurrentPeriodEnd = start, "2027-12-31"
			m.Daily, m.PreviousDaily, m.PreviousPeriodStart = nil, nil, ""
		}
	})
}

// pushed PUTs the document and waits for the alerts' check.
func (ps *portalSession) pushed(doc string) {
	ps.h.t.Helper()
	ps.putAccount(doc)
	ps.h.gw.WaitAlerts()
}

// TestUsageAlertsEmailed: the customer sets alerts on the portal's page (with CSRF), the tenant
// pushes usage, and each alert crossing is emailed over SMTP to the billing email, in the
// account's language (German), once per threshold and period: 80 % of tier 2
// (1,000,001–5,000,000) is 1,000,000 + 3,200,000 = 4,200,000 calls; the cost of 2,000,001 calls
// is 1,000,001 × 0.3 ct = 300,000.3 → €3,000.00, not above €3,000.00, and of 2,000,004 calls
// 300,001.2 → €3,000.01, above.
func TestUsageAlertsEmailed(t *testing.T) {
	t.Parallel()
	h, ps, smtp := alertsPortal(t, "alerts-mail")
	page := ps.get("/")
	if !strings.Contains(page, `href="/usage/alerts"`) {
		t.Fatal("the Usage section does not link the alerts")
	}
	if page := ps.get("/usage/alerts"); !strings.Contains(page, "No usage alerts yet.") || !strings.Contains(page, `<option value="sub_Pro_01:2">API calls (Pro (annual))</option>`) ||
		!strings.Contains(page, "billing@globex.example") {
		t.Fatalf("alerts page:\n%s", page)
	}
	add := func(kind, value string) (int, string) {
		t.Helper()
		st, body, _ := ps.submit("/usage/alerts", url.Values{"meter": {"sub_Pro_01:2"}, "kind": {kind}, "value": {value}}, "https://"+ps.host)
		return st, body
	}
	for _, c := range []struct{ kind, value, want string }{
		{"tier", "0", "Enter a percentage from 1 to 100."},
		{"tier", "101", "Enter a percentage from 1 to 100."},
		{"quantity", "1.5", "Enter a whole number of at least 1."},
		{"cost", "3.001", "Enter an amount in EUR"},
		{"weekly", "3", "Choose when to be emailed."},
	} {
		if st, body := add(c.kind, c.value); st != 422 || !strings.Contains(body, c.want) || !strings.Contains(body, `class="error-summary"`) {
			t.Errorf("%s %s: %d, want 422 with %q", c.kind, c.value, st, c.want)
		}
	}
	if st, _, _ := ps.submit("/usage/alerts", url.Values{"meter": {"sub_Pro_01:0"}, "kind": {"quantity"}, "value": {"5"}}, "https://"+ps.host); st != 422 {
		t.Errorf("an alert on an item without a meter: %d", st)
	}
	if st, _, _ := ps.submit("/usage/alerts", url.Values{"meter": {"sub_Pro_01:2"}, "kind": {"quantity"}, "value": {"5"}, "csrf": {"forged"}}, "https://"+ps.host); st != 403 {
		t.Errorf("a forged CSRF token: %d", st)
	}
	for _, a := range [][2]string{{"tier", "80"}, {"cost", "3000"}, {"quantity", "10 000 000"}} {
		if st, body := add(a[0], a[1]); st != 303 {
			t.Fatalf("add %v: %d\n%s", a, st, body)
		}
	}
	list := ps.get("/usage/alerts")
	for _, want := range []string{"API calls: at 80% of the current tier", "API calls: when the cost is above €3,000.00", "API calls: at 10,000,000 calls"} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q", want)
		}
	}

	// The example's usage (1,800,000 calls, €2,400.00) crosses none of them.
	ps.pushed(usageDoc(t, 1800000, "2026-01-01"))
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("%d emails for usage below every alert", n)
	}
	// 2,000,017 calls: the cost (€3,000.01) is above €3,000.00.
	ps.pushed(usageDoc(t, 2000004, "2026-01-01"))
	msg := smtp.Next(t)
	p, err := mailtest.Parse(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if msg.To[0] != "billing@globex.example" || p.Subject != "Nutzungswarnung von Tenant ALERTS-MAIL" ||
		!strings.Contains(p.Text, "API calls kostet in diesem Zeitraum (1. Jan. 2026 – 31. Dez. 2026) bisher 3.000,01\u00a0€, mehr als Ihre Warnung bei 3.000,00\u00a0€.") ||
		!strings.Contains(p.Text, "https://alerts-mail."+base+"/sign-in") {
		t.Fatalf("email to %v, %q:\n%s", msg.To, p.Subject, p.Text)
	}
	// Pushed again, higher: the cost alert was sent for this period.
	ps.pushed(usageDoc(t, 2500000, "2026-01-01"))
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("the cost alert was emailed again (%d)", n)
	}
	// 4,200,000 calls: 80 % of tier 2.
	ps.pushed(usageDoc(t, 4200000, "2026-01-01"))
	p, _ = mailtest.Parse(smtp.Next(t).Data)
	if !strings.Contains(p.Text, "API calls hat in diesem Zeitraum (1. Jan. 2026 – 31. Dez. 2026) 4.200.000 Aufrufe erreicht: 80 % der Staffel 2 (1.000.001 Aufrufe – 5.000.000 Aufrufe).") {
		t.Fatalf("tier alert:\n%s", p.Text)
	}
	ps.pushed(usageDoc(t, 4300000, "2026-01-01"))
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("the tier alert was emailed again (%d)", n)
	}
	// A new period: the cost alert fires again for it (2,000,017 calls), the tier one does not yet.
	ps.pushed(usageDoc(t, 2000004, "2027-01-01"))
	p, _ = mailtest.Parse(smtp.Next(t).Data)
	if !strings.Contains(p.Text, "(1. Jan. 2027 – 31. Dez. 2027) bisher 3.000,01\u00a0€") {
		t.Fatalf("next period's cost alert:\n%s", p.Text)
	}
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("%d more emails in the new period", n)
	}

	// Delete: gone from the list, and no email for it any more.
	ua, err := h.store.UsageAlerts(t.Context(), ps.t.ID, "acc_7Hq2LmX9")
	if err != nil || len(ua.Alerts) != 3 {
		t.Fatalf("stored alerts %+v, %v", ua, err)
	}
	for _, al := range ua.Alerts {
		if st, _, loc := ps.submit("/usage/alerts/"+al.ID+"/delete", url.Values{}, "https://"+ps.host); st != 303 || loc != "/usage/alerts" {
			t.Fatalf("delete: %d %q", st, loc)
		}
	}
	if list := ps.get("/usage/alerts"); !strings.Contains(list, "No usage alerts yet.") {
		t.Errorf("after the deletes:\n%s", list)
	}
	ps.pushed(usageDoc(t, 4900000, "2027-01-01"))
	if n := smtp.Pending(); n != 0 {
		t.Fatalf("%d emails after the alerts were deleted", n)
	}
}

// TestUsageAlertsBounded: at most ten alerts; the eleventh is refused and the form gives way
// to a notice.
func TestUsageAlertsBounded(t *testing.T) {
	t.Parallel()
	_, ps, _ := alertsPortal(t, "alerts-bounded")
	for i := range 10 {
		st, body, _ := ps.submit("/usage/alerts", url.Values{"meter": {"sub_Pro_01:2"}, "kind": {"quantity"}, "value": {strings.Repeat("9", i+1)}}, "https://"+ps.host)
		if st != 303 {
			t.Fatalf("alert %d: %d\n%s", i, st, body)
		}
	}
	st, body, _ := ps.submit("/usage/alerts", url.Values{"meter": {"sub_Pro_01:2"}, "kind": {"quantity"}, "value": {"5"}}, "https://"+ps.host)
	if st != 422 || !strings.Contains(body, "You have 10 alerts, the most there can be.") {
		t.Fatalf("the eleventh: %d\n%s", st, body)
	}
	if page := ps.get("/usage/alerts"); strings.Contains(page, `action="/usage/alerts" class="form"`) || !strings.Contains(page, "You have 10 alerts") {
		t.Error("the full list still offers the form")
	}
}
