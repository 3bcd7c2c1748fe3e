package invoices_test

import (
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/invoices"
	"github.com/portico-billing/portico/tenants/account"
)

// payAccount has two overdue invoices (EUR), one issued (EUR), one in USD, one paid, one void.
func payAccount(t testing.TB) *account.Account {
	a := sectiontest.Example(t)
	a.Invoices = []account.Invoice{
		{ID: "inv_o1", Number: "O-1", Status: account.InvIssued, IssueDate: "2026-09-01", DueDate: "2026-10-01", Total: 50000},
		{ID: "inv_o2", Number: "O-2", Status: account.InvOverdue, IssueDate: "2026-10-01", DueDate: "2026-10-31", Total: 119000, AmountPaid: 19000},
		{ID: "inv_i1", Number: "I-1", Status: account.InvIssued, IssueDate: "2026-12-01", DueDate: "2027-01-01", Total: 59500, PaymentURL: "https://pay.acme.example/i1?t=1"},
		{ID: "inv_usd", Number: "U-1", Status: account.InvIssued, IssueDate: "2026-12-02", DueDate: "2027-01-02", Currency: "USD", Total: 1000},
		{ID: "inv_p", Number: "P-1", Status: account.InvPaid, IssueDate: "2026-08-01", Total: 100, AmountPaid: 100, PaymentURL: "https://pay.acme.example/p"},
		{ID: "inv_v", Number: "V-1", Status: account.InvVoid, IssueDate: "2026-07-01", Total: 100},
	}
	return a
}

var payNow = time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)

func allowed() plugins.Switches {
	return plugins.Switches(0).With(invoices.ShowSection, invoices.AllowPayment)
}

// TestBalance: the balance sums what open invoices leave to pay, per currency, and says the
// overdue part in words (the badge's text, not only its colour).
func TestBalance(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		locale string
		want   []string
	}{
		{"en", []string{"Outstanding balance", "€2,095.00 Overdue €1,500.00 of it is overdue", "$10.00"}},
		{"de", []string{"Offener Betrag", "2.095,00 € Überfällig davon 1.500,00 € überfällig", "10,00 $"}},
	} {
		out := render(t, &plugins.View{Account: payAccount(t), Locale: c.locale, Now: payNow, Switches: allowed(), Backend: true})
		text := sectiontest.Text(t, out)
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: text lacks %q:\n%s", c.locale, w, text)
			}
		}
		if i, j := strings.Index(out, "balance"), strings.Index(out, "<table"); i < 0 || i > j {
			t.Errorf("%s: the balance does not open the section", c.locale)
		}
	}
	// Nothing open: the balance says so.
	a := payAccount(t)
	a.Invoices = a.Invoices[4:]
	if text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en", Now: payNow, Switches: allowed()})); !strings.Contains(text, "Nothing to pay: every invoice is settled.") {
		t.Errorf("settled account: %s", text)
	}
}

// TestPayNowButtons: with a backend, every open invoice has Pay now to the portal's pay page and
// several overdue ones "Pay all overdue"; without one, an invoice's paymentUrl is linked (no
// Referer, no opener); with neither, or allowPayment off, there is no button.
func TestPayNowButtons(t *testing.T) {
	t.Parallel()
	payLink := func(id string) string { return `href="/pay/` + id + `"` }
	for _, c := range []struct {
		name      string
		backend   bool
		switches  plugins.Switches
		want, not []string
	}{
		{"backend", true, allowed(),
			[]string{payLink("inv_o1"), payLink("inv_o2"), payLink("inv_i1"), payLink("inv_usd"), `href="/pay-overdue"`},
			[]string{payLink("inv_p"), payLink("inv_v"), "pay.acme.example"}},
		{"paymentUrl", false, allowed(),
			[]string{`href="https://pay.acme.example/i1?t=1" rel="noopener noreferrer"`},
			[]string{"/pay/", "pay.acme.example/p"}},
		{"not allowed", true, plugins.Switches(0).With(invoices.ShowSection),
			nil, []string{"/pay/", "pay.acme.example", "Pay now"}},
	} {
		out := render(t, &plugins.View{Account: payAccount(t), Locale: "en", Now: payNow, Switches: c.switches, Backend: c.backend})
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %s", c.name, w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(out, w) {
				t.Errorf("%s: output has %s", c.name, w)
			}
		}
	}
	// One overdue invoice: no "Pay all overdue".
	a := payAccount(t)
	a.Invoices = a.Invoices[1:]
	if out := render(t, &plugins.View{Account: a, Locale: "en", Now: payNow, Switches: allowed(), Backend: true}); strings.Contains(out, "/pay-overdue") {
		t.Error("Pay all overdue offered for one overdue invoice")
	}
}
