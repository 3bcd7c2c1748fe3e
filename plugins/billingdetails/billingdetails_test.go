package billingdetails_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/billingdetails"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/tenants/account"
)

func render(t testing.TB, v *plugins.View) string {
	t.Helper()
	s, err := plugins.Lookup(billingdetails.Name)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := s.Render(&b, v); err != nil {
		t.Fatalf("Render: %v", err)
	}
	sectiontest.CheckMarkup(t, billingdetails.Name, b.String())
	return b.String()
}

func TestRegistered(t *testing.T) {
	t.Parallel()
	s, err := plugins.Lookup("billing_details")
	if err != nil {
		t.Fatal(err)
	}
	if p := s.(plugins.Positioner).Position(); p != 30 {
		t.Errorf("Position = %d, want 30", p)
	}
	for loc, want := range map[string]string{"en": "Billing information", "de": "Rechnungsinformationen", "pt-BR": "Informações de cobrança", "xx": "Billing information"} {
		if got := s.(plugins.Titler).Title(loc); got != want {
			t.Errorf("Title(%q) = %q, want %q", loc, got, want)
		}
	}
}

func TestRenderExample(t *testing.T) {
	t.Parallel()
	out := render(t, &plugins.View{Account: sectiontest.Example(t), Locale: "en"})
	text := sectiontest.Text(t, out)
	for _, want := range []string{
		"Company Globex Corporation GmbH",
		"Billing email billing@globex.example",
		"Tax ID DE123456789",
		"Address Hauptstraße 12 3. OG 10115 Berlin Germany",
		"Payment methods Visa •••• 4242 , expires 08/2028 Default SEPA Direct Debit, Deutsche Bank •••• 3000 Auto-pay",
		"Auto-pay On — charged on the due date to Visa •••• 4242",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	if !strings.Contains(out, `<address>Hauptstraße 12<br>3. OG<br>10115 Berlin<br>Germany</address>`) {
		t.Errorf("address markup:\n%s", out)
	}
	for _, bad := range []string{"<form", "/billing/edit", "/billing/autopay", "Make default", "Expired"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q without permission:\n%s", bad, out)
		}
	}
}

func TestControls(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		settings                     plugins.Switches
		methods                      int
		wantEdit, wantAuto, wantForm bool
	}{
		{"none", plugins.Switches(0), 2, false, false, false},
		{"details", plugins.Switches(0).With(billingdetails.AllowDetailsEdit), 2, true, false, true},
		{"details, one method", plugins.Switches(0).With(billingdetails.AllowDetailsEdit), 1, true, false, false},
		{"autopay", plugins.Switches(0).With(billingdetails.AllowAutopayEdit), 2, false, true, false},
		{"all", plugins.Switches(0).With(billingdetails.AllowDetailsEdit, billingdetails.AllowAutopayEdit), 2, true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			a.PaymentMethods = a.PaymentMethods[:tt.methods]
			out := render(t, &plugins.View{Account: a, Locale: "en", PathPrefix: "/p", Switches: tt.settings})
			if got := strings.Contains(out, `<a class="button button-secondary" href="/p/billing/edit">Edit billing details</a>`); got != tt.wantEdit {
				t.Errorf("edit link = %v, want %v", got, tt.wantEdit)
			}
			if got := strings.Contains(out, `<a class="button button-secondary" href="/p/billing/autopay">Change auto-pay</a>`); got != tt.wantAuto {
				t.Errorf("auto-pay link = %v, want %v", got, tt.wantAuto)
			}
			form := `<form class="inline-form" method="post" action="/p/payment-methods/pm_sepa_1/default">` + string(plugins.CSRFInput) + `<button class="button button-link" type="submit">Make default`
			if got := strings.Contains(out, form); got != tt.wantForm {
				t.Errorf("make-default form = %v, want %v:\n%s", got, tt.wantForm, out)
			}
			// Never for the default method itself.
			if strings.Contains(out, "/payment-methods/pm_card_1/default") {
				t.Errorf("make-default form for the default method:\n%s", out)
			}
		})
	}
}

func TestPaymentMethodDescriptions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		pm   account.PaymentMethod
		want string
	}{
		{account.PaymentMethod{Type: "card", Brand: "visa", Last4: "4242", ExpMonth: 8, ExpYear: 2028}, "Visa •••• 4242 , expires 08/2028"},
		{account.PaymentMethod{Type: "card", Brand: "amex", Last4: "0005", ExpMonth: 9, ExpYear: 2026}, "American Express •••• 0005 , expires 09/2026"},
		{account.PaymentMethod{Type: "card", Brand: "MasterCard", Last4: "4444", ExpMonth: 8, ExpYear: 2026}, "Mastercard •••• 4444 , expired 08/2026"},
		{account.PaymentMethod{Type: "card", Brand: "Elo", Last4: "1234"}, "Elo •••• 1234"},
		{account.PaymentMethod{Type: "card"}, "Card"},
		{account.PaymentMethod{Type: "sepa_debit", BankName: "Deutsche Bank", Last4: "3000"}, "SEPA Direct Debit, Deutsche Bank •••• 3000"},
		{account.PaymentMethod{Type: "sepa_debit", Last4: "3000"}, "SEPA Direct Debit •••• 3000"},
		{account.PaymentMethod{Type: "us_bank_account", BankName: "Chase", Last4: "6789"}, "US bank account, Chase •••• 6789"},
		{account.PaymentMethod{Type: "bacs_debit", Last4: "2345"}, "Bacs Direct Debit •••• 2345"},
		{account.PaymentMethod{Type: "paypal", Email: "jane@example.com"}, "PayPal, jane@example.com"},
	}
	for _, tt := range tests {
		a := sectiontest.Example(t)
		tt.pm.ID = "pm_x"
		expired := strings.Contains(tt.want, "expired")
		a.PaymentMethods = []account.PaymentMethod{tt.pm}
		a.AutoPay = nil
		out := render(t, &plugins.View{Account: a, Locale: "en", Now: now})
		if got := strings.Contains(out, `class="payment-method-expiry is-expired"`); got != expired {
			t.Errorf("%s: expired class = %v", tt.want, got)
		}
		text := sectiontest.Text(t, out)
		if want := "Payment methods " + tt.want + " Auto-pay"; !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestAutoPay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ap   *account.AutoPay
		want string
	}{
		{"absent", nil, "Auto-pay Off"},
		{"disabled", &account.AutoPay{Enabled: false, PaymentMethodID: "pm_card_1"}, "Auto-pay Off"},
		{"due date", &account.AutoPay{Enabled: true, PaymentMethodID: "pm_card_1", Timing: account.AutoPayOnDueDate}, "Auto-pay On — charged on the due date to Visa •••• 4242"},
		{"on issue, SEPA", &account.AutoPay{Enabled: true, PaymentMethodID: "pm_sepa_1", Timing: account.AutoPayOnIssue}, "Auto-pay On — charged when an invoice is issued to SEPA Direct Debit, Deutsche Bank •••• 3000"},
		{"default method", &account.AutoPay{Enabled: true}, "Auto-pay On — charged automatically to Visa •••• 4242"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			a.AutoPay = tt.ap
			text := sectiontest.Text(t, render(t, &plugins.View{Account: a, Locale: "en"}))
			if !strings.HasSuffix(text, tt.want) {
				t.Errorf("text does not end with %q:\n%s", tt.want, text)
			}
		})
	}
}

// TestAutoPayNeedsAMethod: without a payment method there is nothing auto-pay could charge, so
// the customer is told so instead of being offered a "Change auto-pay" button that cannot work;
// auto-pay left on without a method can still be turned off.
func TestAutoPayNeedsAMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		methods bool
		ap      *account.AutoPay
		button  bool
	}{
		{"no method, auto-pay off", false, nil, false},
		{"no method, auto-pay on", false, &account.AutoPay{Enabled: true}, true},
		{"a method, auto-pay off", true, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := sectiontest.Example(t)
			if !tt.methods {
				a.PaymentMethods = nil
			}
			a.AutoPay = tt.ap
			out := render(t, &plugins.View{Account: a, Locale: "en", Switches: plugins.Switches(0).With(billingdetails.AllowAutopayEdit)})
			if got := strings.Contains(out, "/billing/autopay"); got != tt.button {
				t.Errorf("Change auto-pay shown = %v, want %v", got, tt.button)
			}
			if hint := strings.Contains(out, "Auto-pay can be turned on once a payment method is on file."); hint == tt.button {
				t.Errorf("hint shown = %v with the button shown = %v", hint, tt.button)
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ad   account.Address
		want string
	}{
		{account.Address{Line1: "1 Main St", City: "Springfield", Region: "IL", PostalCode: "62701", Country: "US"}, "1 Main St<br>Springfield, IL 62701<br>United States"},
		{account.Address{Line1: "10 Downing St", City: "London", PostalCode: "SW1A 2AA", Country: "GB"}, "10 Downing St<br>London<br>SW1A 2AA<br>United Kingdom"},
		{account.Address{Line1: "Rue de Rivoli", City: "Paris", PostalCode: "75001", Country: "FR"}, "Rue de Rivoli<br>75001 Paris<br>France"},
		{account.Address{City: "Tokyo"}, "Tokyo"},
	}
	for _, tt := range tests {
		a := sectiontest.Example(t)
		a.Company.Address = &tt.ad
		if out := render(t, &plugins.View{Account: a, Locale: "en"}); !strings.Contains(out, "<address>"+tt.want+"</address>") {
			t.Errorf("address %+v: want %s in\n%s", tt.ad, tt.want, out)
		}
	}
}

func TestMinimalAccount(t *testing.T) {
	t.Parallel()
	a := &account.Account{ID: "acc", Name: "Jane Doe", Currency: "EUR"}
	out := render(t, &plugins.View{Account: a, Locale: "en"})
	text := sectiontest.Text(t, out)
	for _, want := range []string{"Company Jane Doe", "No payment method on file.", "Auto-pay Off"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	for _, bad := range []string{"Tax ID", "Billing email", "Address"} {
		if strings.Contains(text, bad) {
			t.Errorf("text has %q for an account without it:\n%s", bad, text)
		}
	}
	render(t, &plugins.View{Locale: "en"})
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	for _, payload := range sectiontest.Payloads {
		a := sectiontest.Hostile(t, payload)
		out := render(t, &plugins.View{Account: a, Locale: "en", Switches: plugins.Switches(0).With(billingdetails.AllowDetailsEdit, billingdetails.AllowAutopayEdit)})
		sectiontest.CheckEscaped(t, out)
		if !strings.Contains(sectiontest.Text(t, out), payload) {
			t.Errorf("payload %q is not shown as text", payload)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	s, err := plugins.Lookup(billingdetails.Name)
	if err != nil {
		b.Fatal(err)
	}
	v := &plugins.View{Account: sectiontest.Example(b), Locale: "en", Switches: plugins.Switches(0).With(billingdetails.AllowDetailsEdit, billingdetails.AllowAutopayEdit)}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Render(io.Discard, v); err != nil {
			b.Fatal(err)
		}
	}
}
