package account

import (
	"strings"

	"github.com/portico-billing/portico/i18n"
)

// cardBrands are the display names of card brands as billing systems report them.
var cardBrands = map[string]string{
	"visa":             "Visa",
	"mastercard":       "Mastercard",
	"amex":             "American Express",
	"american_express": "American Express",
	"discover":         "Discover",
	"diners":           "Diners Club",
	"diners_club":      "Diners Club",
	"jcb":              "JCB",
	"unionpay":         "UnionPay",
	"cartes_bancaires": "Cartes Bancaires",
	"maestro":          "Maestro",
	"eftpos_au":        "eftpos",
	"interac":          "Interac",
}

// dots stand for the digits of a number that are not shown.
const dots = "••••"

// Describe names the payment method the way its owner recognises it, in the printer's language:
// "Visa •••• 4242", "SEPA Direct Debit, Deutsche Bank •••• 3000", "PayPal, jane@example.com"
// ("SEPA-Lastschrift, Deutsche Bank •••• 3000" in German). Card brands are names and stay as
// they are; a card of unknown brand is a "Card", a type without a message (method.type.<type>)
// a "Payment method". Every page that names a method (the Billing information section, the
// auto-pay form, the pay page and its results) uses it.
func (pm *PaymentMethod) Describe(tr *i18n.Printer) string {
	var s string
	switch pm.Type {
	case PaymentCard:
		s = cardBrand(pm.Brand, tr)
	default:
		key := "method.type." + pm.Type
		if !i18n.Has(key) {
			key = "method.type.other"
		}
		s = tr.T(key)
		switch {
		case pm.BankName != "":
			s += ", " + pm.BankName
		case pm.Email != "":
			s += ", " + pm.Email
		}
	}
	if pm.Last4 != "" {
		s += " " + dots + " " + pm.Last4
	}
	return s
}

func cardBrand(b string, tr *i18n.Printer) string {
	if name, ok := cardBrands[strings.ToLower(b)]; ok {
		return name
	}
	if b == "" || b == "unknown" {
		return tr.T("method.type.card")
	}
	return b
}
