package invoicedoc

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"strings"

	"github.com/portico-billing/portico/i18n"
)

//go:embed invoice.html
var htmlSource string

// CSS is the stylesheet of the invoice page (screen and A4 print), for the host to serve with the
// portal's own.
//
//go:embed invoice.css
var CSS []byte

var htmlTmpl = i18n.NewTemplates(template.Must(template.New("invoice").Funcs(i18n.Funcs()).Funcs(template.FuncMap{
	"pathEscape": url.PathEscape,
}).Parse(htmlSource)))

// RenderHTML writes the invoice page's content to w: one <article> that the host puts inside the
// <main> of its page layout. It shows the seller (the tenant's seller: legal name, address, tax
// ID; the tenant's name when it has none), the buyer (company legal name or
// account name, address, tax ID, billing email), the invoice number, status, dates, lines,
// subtotal, tax, total, amount paid and amount remaining, with a "Download PDF" link to
// /invoices/{id}.pdf and a "Back to billing" link to /, in the language of Input.Locale. The classes it uses are styled by the
// portal stylesheet and by invoice.css, whose print rules hide the page chrome and the links.
//
// The error wraps ErrInvalidInput or ErrNotVisible, or is an error of w.
func RenderHTML(w io.Writer, in *Input) error {
	d, err := build(in, false)
	if err != nil {
		return fmt.Errorf("invoicedoc: rendering HTML: %w", err)
	}
	d.TitleHTML = titleHTML(d.tr, d.Keys.Title, d.Number)
	if err := htmlTmpl.Execute(w, d.tr, "", d); err != nil {
		return fmt.Errorf("invoicedoc: writing HTML: %w", err)
	}
	return nil
}

// titleHTML is the page's heading, "Invoice GLX-2026-0007", with the number in a span of class
// invoice-number that invoice.css keeps on one line: a browser would otherwise break a narrow
// heading after a hyphen of the number ("GLX-2026-" / "0007").
func titleHTML(tr *i18n.Printer, key, number string) template.HTML {
	const mark = "\uE000" // a private-use character no catalog message contains
	title := template.HTMLEscapeString(tr.T(key, "number", mark))
	num := `<span class="invoice-number">` + template.HTMLEscapeString(number) + `</span>`
	if !strings.Contains(title, mark) { // a translation without the number
		return template.HTML(title + " " + num)
	}
	return template.HTML(strings.Replace(title, mark, num, 1))
}
