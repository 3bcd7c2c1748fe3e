package invoices_test

import (
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/invoices"
	"github.com/portico-billing/portico/tenants/account"
)

func render(t testing.TB, v *plugins.View) string {
	t.Helper()
	s, err := plugins.Lookup(invoices.Name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := s.Render(&b, v); err != nil {
		t.Fatalf("Render: %v", err)
	}
	sectiontest.CheckMarkup(t, invoices.Name, b.String())
	return b.String()
}

// rows returns the text of each body row of the invoice table.
func rows(t testing.TB, out string) []string {
	t.Helper()
	var list []string
	for _, m := range regexp.MustCompile(`(?s)<tr><th scope="row".*?</tr>`).FindAllString(out, -1) {
		list = append(list, sectiontest.Text(t, "<table>"+m+"</table>"))
	}
	return list
}

func TestRegistered(t *testing.T) {
	t.Parallel()
	s, err := plugins.Lookup("invoices")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.(plugins.Positioner).Position(); p != 20 {
		t.Errorf("Position = %d, want 20", p)
	}
	if got := s.(plugins.Titler).Title("en"); got != "Invoices" {
		t.Errorf("Title = %q", got)
	}
}

func TestRenderExample(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "en"})
	want := []string{
		"GLX-2026-0006 Nov 1, 2026 Dec 1, 2026 €595.00 Issued Open invoice GLX-2026-0006 Download PDF of invoice GLX-2026-0006",
		"GLX-2026-0007 Oct 1, 2026 Oct 31, 2026 €1,190.00 Overdue Open invoice GLX-2026-0007 Download PDF of invoice GLX-2026-0007",
		"GLX-2026-0005 Sep 1, 2026 Oct 1, 2026 €595.00 Paid Open invoice GLX-2026-0005 Download PDF of invoice GLX-2026-0005",
	}
	got := rows(t, out)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(out, "GLX-2026-0008") || strings.Contains(out, "inv_2026_0008") {
		t.Errorf("the draft invoice is shown:\n%s", out)
	}
	for _, want := range []string{
		`<span class="badge status-overdue">Overdue</span>`,
		`<span class="badge status-paid">Paid</span>`,
		`<span class="badge status-issued">Issued</span>`,
		`<a class="link" href="/invoices/inv_2026_0007">`,
		`<a class="link" href="/invoices/inv_2026_0007.pdf" download>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s", want)
		}
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 15, 23, 0, 0, 0, time.FixedZone("UTC-5", -5*3600)) // Dec 16 in UTC
	tests := []struct {
		name       string
		inv        account.Invoice
		now        time.Time
		wantStatus string
		wantText   string
	}{
		{"issued, not yet due", account.Invoice{Status: account.InvIssued, DueDate: "2026-12-16"}, now, "issued", "Issued"},
		{"issued, past due", account.Invoice{Status: account.InvIssued, DueDate: "2026-12-15"}, now, "overdue", "Overdue"},
		{"issued, past due, no clock", account.Invoice{Status: account.InvIssued, DueDate: "2026-12-15"}, time.Time{}, "issued", "Issued"},
		{"issued, past due, fully paid", account.Invoice{Status: account.InvIssued, DueDate: "2026-12-15", AmountPaid: 119000}, now, "issued", "Issued"},
		{"issued, no due date", account.Invoice{Status: account.InvIssued}, now, "issued", "Issued"},
		{"paid", account.Invoice{Status: account.InvPaid, DueDate: "2026-01-01", AmountPaid: 119000}, now, "paid", "Paid"},
		{"void", account.Invoice{Status: account.InvVoid, DueDate: "2026-01-01"}, now, "void", "Void"},
		{"overdue", account.Invoice{Status: account.InvOverdue, DueDate: "2027-01-01"}, now, "overdue", "Overdue"},
		{"partly paid", account.Invoice{Status: account.InvIssued, DueDate: "2027-01-01", AmountPaid: 19000}, now, "issued", "€1,190.00 €1,000.00 remaining Issued"},
		{"partly paid, overdue", account.Invoice{Status: account.InvOverdue, AmountPaid: 100000}, now, "overdue", "€1,190.00 €190.00 remaining Overdue"},
		{"void with payment", account.Invoice{Status: account.InvVoid, AmountPaid: 100}, now, "void", "€1,190.00 Void"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			inv := tt.inv
			inv.ID, inv.Number, inv.Total = "inv_1", "N-1", 119000
			a.Invoices = []account.Invoice{inv}
			out := render(t, &plugins.View{Account: a, Locale: "en", Now: tt.now})
			if want := `<span class="badge status-` + tt.wantStatus + `">`; !strings.Contains(out, want) {
				t.Errorf("output lacks %s:\n%s", want, out)
			}
			if text := sectiontest.Text(t, out); !strings.Contains(text, tt.wantText) {
				t.Errorf("text lacks %q:\n%s", tt.wantText, text)
			}
			if got := strings.Contains(out, "remaining"); got != strings.Contains(tt.wantText, "remaining") {
				t.Errorf("remaining shown = %v", got)
			}
		})
	}
}

func TestHiddenStatuses(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Invoices = nil
	for i, st := range []string{account.InvDraft, account.InvUpcoming, account.InvPendingApproval, account.InvScheduled,
		account.InvProcessing, account.InvIssuing, account.InvCanceled} {
		a.Invoices = append(a.Invoices, account.Invoice{ID: "inv_" + st, Number: "SECRET-" + string(rune('A'+i)), Status: st, Total: 100})
	}
	out := render(t, &plugins.View{Account: a, Locale: "en"})
	if strings.Contains(out, "SECRET") || strings.Contains(out, "<table") {
		t.Errorf("an invoice that is not issued is shown:\n%s", out)
	}
	if text := sectiontest.Text(t, out); !strings.Contains(text, "You don’t have any invoices yet.") {
		t.Errorf("no empty state:\n%s", text)
	}
}

func TestOrderCurrencyAndFallbacks(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Invoices = []account.Invoice{
		{ID: "inv_nodate", Status: account.InvIssued, Total: 100},
		{ID: "inv_old", Number: "OLD", Status: account.InvPaid, IssueDate: "2025-01-01", Total: 100},
		{ID: "inv_usd", Number: "USD-1", Status: account.InvPaid, IssueDate: "2026-06-01", Currency: "USD", Total: 123456},
		{ID: "inv_jpy", Number: "JPY-1", Status: account.InvPaid, IssueDate: "2026-06-01", Currency: "JPY", Total: 5000},
	}
	got := rows(t, render(t, &plugins.View{Account: a, Locale: "en", PathPrefix: "/p"}))
	want := []string{
		"USD-1 Jun 1, 2026 None $1,234.56 Paid Open invoice USD-1 Download PDF of invoice USD-1",
		"JPY-1 Jun 1, 2026 None ¥5,000 Paid Open invoice JPY-1 Download PDF of invoice JPY-1",
		"OLD Jan 1, 2025 None €1.00 Paid Open invoice OLD Download PDF of invoice OLD",
		"inv_nodate None None €1.00 Issued Open invoice inv_nodate Download PDF of invoice inv_nodate",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLinks(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Invoices = []account.Invoice{{ID: "a/b?c#d e", Number: "X", Status: account.InvPaid}}
	out := render(t, &plugins.View{Account: a, Locale: "de", PathPrefix: "/portal"})
	for _, want := range []string{
		`href="/portal/invoices/a%2Fb%3Fc%23d%20e"`,
		`href="/portal/invoices/a%2Fb%3Fc%23d%20e.pdf" download`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestGerman(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "de-DE"})
	for _, want := range []string{"1.190,00\u00a0€", "1. Okt. 2026", "31. Okt. 2026", "Rechnungen", "Bezahlt", "PDF herunterladen", "3 Rechnungen, neueste zuerst"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestNilAccount(t *testing.T) {
	t.Parallel()
	render(t, &plugins.View{Locale: "en"})
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	for _, payload := range sectiontest.Payloads {
		a := sectiontest.Hostile(t, payload)
		out := render(t, &plugins.View{Account: a, Locale: "en"})
		sectiontest.CheckEscaped(t, out)
		if !strings.Contains(sectiontest.Text(t, out), payload) {
			t.Errorf("payload %q is not shown as text", payload)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	s, err := plugins.Lookup(invoices.Name)
	if err != nil {
		b.Fatal(err)
	}
	v := &plugins.View{Account: sectiontest.Example(b), Locale: "en", Now: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Render(io.Discard, v); err != nil {
			b.Fatal(err)
		}
	}
}
