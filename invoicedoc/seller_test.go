package invoicedoc

import (
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// berlinSeller is a seller whose legal name differs from the tenant's display name, so the
// tests can tell the masthead (the brand) from the From block (the legal seller).
var berlinSeller = tenants.Seller{
	LegalName: "Zephyr Software GmbH", TaxID: "DE811907980",
	Address: account.Address{Line1: "Friedrichstraße 68", Line2: "4. OG", PostalCode: "10117", City: "Berlin", Country: "DE"},
}

// inOrder reports whether text holds each of parts, one after another.
func inOrder(text string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(text, p)
		if i < 0 {
			return false
		}
		text = text[i+len(p):]
	}
	return true
}

// between is the text from the first start to the first end after it.
func between(text, start, end string) string {
	text = text[strings.Index(text, start):]
	return text[:strings.Index(text, end)]
}

// TestSellerFromBlock: the invoice's From block names the tenant's seller — legal name, address in
// the country's order and the country's name in the document's language, VAT or tax ID with the
// language's label — on the page and in the PDF; without a seller, the tenant's display name alone.
func TestSellerFromBlock(t *testing.T) {
	t.Parallel()
	requireCJKFont(t)
	us := tenants.Seller{LegalName: "Acme Cloud, Inc.", TaxID: "12-3456789",
		Address: account.Address{Line1: "1 Market St", Line2: "Suite 300", City: "San Francisco", Region: "CA", PostalCode: "94105", Country: "US"}}
	tests := []struct {
		name    string
		locale  string
		seller  tenants.Seller
		html    []string // in order, on the page, between From and Bill to
		pdf     []string // in order, in the PDF's text, between FROM and BILL TO
		footer  string   // the PDF's footer
		notFrom []string // not in the From block of either
	}{
		{name: "no seller", locale: "en",
			html: []string{"From", "Acme Cloud Ltd", "Bill to"}, pdf: []string{"FROM", "Acme Cloud Ltd", "BILL TO"},
			footer: "Acme Cloud Ltd · Invoice GLX-2026-0007 · Page 1 of 1", notFrom: []string{"Tax ID"}},
		{name: "legal name only", locale: "en", seller: tenants.Seller{LegalName: "Acme Cloud Limited"},
			html: []string{"From", "Acme Cloud Limited", "Bill to"}, pdf: []string{"FROM", "Acme Cloud Limited", "BILL TO"},
			footer: "Acme Cloud Limited · Invoice", notFrom: []string{"Tax ID"}},
		{name: "German seller in German", locale: "de-DE", seller: berlinSeller,
			html:   []string{"Von", "Zephyr Software GmbH", "Friedrichstraße 68", "4. OG", "10117 Berlin", "Deutschland", "USt-IdNr. DE811907980", "Rechnung an"},
			pdf:    []string{"VON", "Zephyr Software GmbH", "Friedrichstraße 68", "4. OG", "10117 Berlin", "Deutschland", "USt-IdNr.: DE811907980", "RECHNUNG AN"},
			footer: "Zephyr Software GmbH · Rechnung GLX-2026-0007 · Seite 1 von 1", notFrom: []string{"Acme Cloud Ltd"}},
		{name: "German seller in French", locale: "fr", seller: berlinSeller,
			html: []string{"De", "Zephyr Software GmbH", "10117 Berlin", "Allemagne", "Numéro de TVA DE811907980", "Facturer à"},
			pdf:  []string{"DE", "Zephyr Software GmbH", "10117 Berlin", "Allemagne", "N° de TVA : DE811907980", "FACTURER À"}},
		{name: "US seller in English", locale: "en", seller: us,
			html: []string{"From", "Acme Cloud, Inc.", "1 Market St", "Suite 300", "San Francisco, CA 94105", "United States", "Tax ID 12-3456789", "Bill to"},
			pdf:  []string{"FROM", "Acme Cloud, Inc.", "1 Market St", "Suite 300", "San Francisco, CA 94105", "United States", "Tax ID: 12-3456789", "BILL TO"}},
		{name: "US seller in Spanish", locale: "es", seller: us,
			html: []string{"De", "Acme Cloud, Inc.", "San Francisco, CA 94105", "Estados Unidos", "NIF/CIF 12-3456789", "Facturar a"},
			pdf:  []string{"DE", "Acme Cloud, Inc.", "Estados Unidos", "NIF/CIF: 12-3456789", "FACTURAR A"}},
		{name: "US seller in Portuguese", locale: "pt-BR", seller: us,
			html: []string{"De", "Acme Cloud, Inc.", "Estados Unidos", "CNPJ ou identificação fiscal 12-3456789", "Cobrar de"},
			pdf:  []string{"DE", "Acme Cloud, Inc.", "Estados Unidos", "Identificação fiscal: 12-3456789", "COBRAR DE"}},
		{name: "Japanese seller in Japanese", locale: "ja", seller: tenants.Seller{LegalName: "株式会社ゼファー", TaxID: "T1234567890123",
			Address: account.Address{Line1: "丸の内一丁目1番1号", PostalCode: "100-0005", City: "千代田区", Region: "東京都", Country: "JP"}},
			html: []string{"請求元", "株式会社ゼファー", "丸の内一丁目1番1号", "100-0005 千代田区", "日本", "税務 ID T1234567890123", "請求先"},
			pdf:  []string{"請求元", "株式会社ゼファー", "丸の内一丁目1番1号", "日本", "税務 ID: T1234567890123", "請求先"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", tt.locale)
			in.Tenant.Seller = tt.seller
			html := htmlText(t, renderHTML(t, in))
			if !inOrder(html, tt.html...) {
				t.Errorf("the page's From block lacks %q, in order:\n%s", tt.html, html)
			}
			pdf := pdfString(t, renderPDF(t, in))
			if !inOrder(pdf, tt.pdf...) {
				t.Errorf("the PDF's From block lacks %q, in order:\n%s", tt.pdf, pdf)
			}
			if tt.footer != "" && !strings.Contains(pdf, tt.footer) {
				t.Errorf("the PDF's footer is not %q:\n%s", tt.footer, pdf)
			}
			for _, block := range []string{between(html, tt.html[0], tt.html[len(tt.html)-1]), between(pdf, tt.pdf[0], tt.pdf[len(tt.pdf)-1])} {
				for _, w := range tt.notFrom {
					if strings.Contains(block, w) {
						t.Errorf("the From block shows %q:\n%s", w, block)
					}
				}
			}
			if strings.Contains(pdf, "?") {
				t.Errorf("the PDF has characters its fonts could not draw:\n%s", pdf)
			}
		})
	}
}

// TestHeaderSaysEachOnce: above the lines, the PDF names the tenant in its masthead and the
// seller in its From block, each once, and the status once; the page (whose top bar shows the
// tenant) names only the seller, once, and the status once.
func TestHeaderSaysEachOnce(t *testing.T) {
	t.Parallel()
	for _, locale := range []string{"en", "de-DE", "fr"} {
		in := input(t, "inv_2026_0007", locale)
		in.Tenant.Name = "Zephyr"
		in.Tenant.Seller = berlinSeller
		status := i18n.ForLocale(locale).T("invoices.status.overdue")
		pdf := pdfString(t, renderPDF(t, in))
		head := pdf[:strings.Index(pdf, i18n.ForLocale(locale).T("doc.col.description"))]
		html := htmlText(t, renderHTML(t, in))
		for _, c := range []struct {
			where, text, what string
			want              int
		}{
			{"PDF", head, "Zephyr Software GmbH", 1},
			{"PDF", head, "Zephyr", 2}, // the masthead's "Zephyr" and the seller's "Zephyr Software GmbH"
			{"PDF", head, status, 1},
			{"PDF", head, "DE811907980", 1},
			{"page", html, "Zephyr", 1},
			{"page", html, status, 1},
			{"page", html, "DE811907980", 1},
		} {
			if n := strings.Count(c.text, c.what); n != c.want {
				t.Errorf("%s, %s: %q shown %d times, want %d:\n%s", locale, c.where, c.what, n, c.want, c.text)
			}
		}
	}
}
