package account

import (
	"testing"

	"github.com/portico-billing/portico/i18n"
)

// TestDescribe: a payment method is named by its brand or type, bank or email, and last four
// digits, in the customer's language.
func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		locale string
		pm     PaymentMethod
		want   string
	}{
		{"en", PaymentMethod{Type: "card", Brand: "visa", Last4: "4242"}, "Visa •••• 4242"},
		{"en", PaymentMethod{Type: "card", Brand: "amex", Last4: "0005"}, "American Express •••• 0005"},
		{"en", PaymentMethod{Type: "card", Brand: "MasterCard", Last4: "0002"}, "Mastercard •••• 0002"},
		{"en", PaymentMethod{Type: "card", Brand: "Elo", Last4: "1234"}, "Elo •••• 1234"},
		{"en", PaymentMethod{Type: "card"}, "Card"},
		{"de", PaymentMethod{Type: "card", Brand: "unknown", Last4: "1111"}, "Karte •••• 1111"},
		{"en", PaymentMethod{Type: "sepa_debit", BankName: "Deutsche Bank", Last4: "3000"}, "SEPA Direct Debit, Deutsche Bank •••• 3000"},
		{"de", PaymentMethod{Type: "sepa_debit", BankName: "Deutsche Bank", Last4: "3000"}, "SEPA-Lastschrift, Deutsche Bank •••• 3000"},
		{"en", PaymentMethod{Type: "sepa_debit", Last4: "3000"}, "SEPA Direct Debit •••• 3000"},
		{"en", PaymentMethod{Type: "us_bank_account", BankName: "Chase", Last4: "6789"}, "US bank account, Chase •••• 6789"},
		{"en", PaymentMethod{Type: "bacs_debit", Last4: "2345"}, "Bacs Direct Debit •••• 2345"},
		{"en", PaymentMethod{Type: "paypal", Email: "jane@example.com"}, "PayPal, jane@example.com"},
		{"en", PaymentMethod{Type: "klarna", Email: "jane@example.com"}, "Payment method, jane@example.com"},
	} {
		if got := tc.pm.Describe(i18n.ForLocale(tc.locale)); got != tc.want {
			t.Errorf("%s %+v: %q, want %q", tc.locale, tc.pm, got, tc.want)
		}
	}
}
