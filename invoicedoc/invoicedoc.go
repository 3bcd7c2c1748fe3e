// Package invoicedoc renders one invoice as a printable HTML fragment and as a PDF.
//
// It owns the invoice document: which facts of an account.Invoice a customer sees (seller, buyer,
// number, status, dates, lines with their period and arithmetic, discounts, subtotal, tax, total,
// amount paid and remaining), how they are laid
// out on the invoice page (RenderHTML, a fragment the host wraps in its page layout and styles with
// invoice.css appended to the portal stylesheet) and in the downloadable PDF (RenderPDF, A4, with
// the tenant's logo and colours), and the file name the PDF is downloaded as (FileName).
//
// Every amount and date goes through i18n.Money and i18n.Date and every label through the
// catalogs of package i18n, so the portal's invoice list, the invoice page and the PDF show the same text in the same
// language. The PDF's embedded Go fonts have no CJK glyphs, so the PDF sets Japanese documents and
// CJK text in a TrueType CJK font of the system, IPAex Gothic by default (see Input.CJKFont);
// without one, a Japanese PDF is written in English (labels, dates and amounts) rather than as
// question marks, while the Japanese invoice page is always Japanese. The package is a pure
// function of its Input: it performs no I/O other than reading the CJK font file once per process
// (the host loads the account, the tenant and the logo bytes), keeps no state between calls other
// than that font and is safe for concurrent use. It does not decide who may see an invoice: the
// host only passes an invoice of the session's own account; invoices the portal does not show
// (drafts and others that account.Invoice.Visible rejects) are refused with ErrNotVisible.
package invoicedoc

import (
	"cmp"
	"errors"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Input is everything one invoice document is rendered from. Tenant, Account and Invoice are only
// read; they may be shared with concurrent renders.
type Input struct {
	// Tenant is the seller: its Name heads the PDF, its Branding colours it, and its Seller (legal
	// name, postal address, VAT or tax ID) fills the document's "From" block, which shows the
	// tenant's Name alone when no seller is set.
	Tenant *tenants.Tenant
	// Logo is the tenant's logo (PNG, JPEG, GIF or WebP), or nil. RenderPDF places it at the top
	// left; a logo that cannot be decoded is left out, it never fails the document. RenderHTML does
	// not use it (the page's top bar already shows the logo).
	Logo []byte
	// LogoType is the logo's content type as stored ("image/png", …). The type is recognised from
	// the bytes themselves; LogoType is only a hint that is not trusted.
	LogoType string
	// Account is the buyer: its company details, name and billing email.
	Account *account.Account
	// Invoice is the invoice to render, normally an element of Account.Invoices.
	Invoice *account.Invoice
	// CreditNote, when set, is rendered instead of the invoice: a credit note of Invoice (its
	// InvoiceID must be Invoice's id), with its own number, date, reason, lines and total.
	CreditNote *account.CreditNote
	// Locale is the BCP 47 tag of the document's language and of its money and date formats,
	// resolved by the host. When it is empty or unsupported, the fallback chain of i18n.Resolve goes
	// on with the account's locale, then the tenant's default locale, then English.
	Locale string
	// Now is the time of the render. An issued invoice whose due date (a calendar date) is before
	// Now's date in UTC and that still has an amount due is shown as Overdue. It is also the PDF's
	// creation and modification date, so a fixed Now gives byte-identical PDFs. The zero time
	// disables the overdue check and lets the PDF library stamp the wall clock.
	Now time.Time
	// CJKFont is the path of the TrueType font (.ttf with glyf outlines; not OpenType/CFF, not a
	// .ttc collection) RenderPDF sets Japanese documents and CJK text in (default: the first usable
	// one of /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf and the other paths of IPAex
	// Gothic, IPA Gothic and fonts-japanese-gothic.ttf on Debian and Ubuntu). The file is read
	// once per process and path (see LoadCJKFont). When it is missing or unusable, a Japanese PDF
	// is written in English and CJK text shows as "?"; the render does not fail.
	CJKFont string
}

// Errors of RenderHTML and RenderPDF, for errors.Is. Every other error is from writing to w.
var (
	// ErrInvalidInput means the Input, its Tenant, its Account or its Invoice is nil.
	ErrInvalidInput = errors.New("invoicedoc: invalid input")
	// ErrNotVisible means the invoice has a status the portal never shows to the customer (draft,
	// scheduled, canceled, …; see account.Invoice.Visible). The host should answer 404.
	ErrNotVisible = errors.New("invoicedoc: invoice is not visible to the customer")
)

// doc is the invoice as a person reads it: every value is already formatted text. Both renderers
// draw from it, so the page and the PDF cannot disagree.
type doc struct {
	tr      *i18n.Printer // the document's language
	locale  string        // the locale amounts and dates are formatted in
	face    *face         // PDF only: the face the text is set in
	alt     func() *face  // PDF only: the face for text face lacks glyphs for, or nil
	ID      string        // the invoice id, for the PDF link
	PDFPath string        // HTML only: the PDF's path, /invoices/{id}.pdf or /credit-notes/{id}.pdf
	// Credit is true for a credit note; Keys are the labels that differ from an invoice's.
	Credit        bool
	Keys          keys
	InvoiceNumber string // a credit note's invoice
	InvoiceID     string // a credit note's invoice, for the link to it
	OriginalURL   string // HTML only: the tenant's own PDF of a credit note (CreditNote.PDFURL)
	// ChangesTitle and Changes say what changed since the previous invoice, by product.
	ChangesTitle string
	Changes      []string
	Reason       string        // a credit note's reason
	Number       string        // the invoice number, or the id when the invoice has none
	TitleHTML    template.HTML // HTML only: the heading, with the number kept on one line
	Brand        string        // PDF only: the tenant's display name, in the masthead
	Seller       party         // From: the seller's legal name (or the tenant's name), address, tax ID
	Buyer        party
	Status       string // paid, issued, overdue, void: the CSS class is "status-" + Status
	StatusLabel  string
	IssueDate    string
	DueDate      string
	PaidDate     string
	Currency     string
	Lines        []line
	Discount     string // the discounts (the invoice's and its lines') as a negative amount, or ""
	// Discounts are the rows of the discounts under the lines: one per discount the invoice
	// describes (with its arithmetic), or one "Discount" row of Discount.
	Discounts []adjust
	Subtotal  string
	TaxLabel  string // "Tax", or "Tax (19%)" when the invoice gives its rate
	Tax       string
	Total     string
	Paid      string
	Remaining string
}

// keys are the catalog keys of the labels that name the document: an invoice's or a credit note's.
type keys struct{ Title, Heading, Number, Caption, Footer string }

var (
	invoiceKeys = keys{Title: "doc.title", Heading: "doc.heading", Number: "doc.number", Caption: "doc.caption", Footer: "doc.pdf.footer"}
	creditKeys  = keys{Title: "doc.credit.title", Heading: "doc.credit.heading", Number: "doc.credit.number", Caption: "doc.credit.caption", Footer: "doc.credit.footer"}
)

// party is the seller's or the buyer's block (the seller has no email).
type party struct {
	Name    string
	Address []string // street lines, locality line and country name
	TaxID   string
	Email   string
}

type line struct {
	Description string
	Quantity    string
	UnitPrice   string
	Amount      string
	// Period is the service period the line bills ("Nov 13, 2026 – Nov 30, 2026"), or "".
	Period string
	// Steps is the line's arithmetic ("18 of 30 days × €120.00 = €72.00", "Discount: -€2.00").
	Steps []string
}

// adjust is a row under the lines: a discount with its arithmetic.
type adjust struct {
	Label, Amount string
	Steps         []string
}

// build checks the input and formats the invoice. forPDF chooses the faces of the PDF: the Go
// fonts, with the CJK font (when there is one) for text they cannot draw, or the CJK font, with the
// Go fonts for text it cannot draw, when the language's labels need it; without a CJK font that
// can draw them, it falls back to English.
func build(in *Input, forPDF bool) (*doc, error) {
	if in == nil || in.Tenant == nil || in.Account == nil || in.Invoice == nil {
		return nil, ErrInvalidInput
	}
	inv, a, cn := in.Invoice, in.Account, in.CreditNote
	if !inv.Visible() {
		return nil, ErrNotVisible
	}
	if cn != nil && cn.InvoiceID != inv.ID {
		return nil, ErrInvalidInput
	}
	tag, locale := i18n.ResolveFormat(in.Locale, a.Locale, in.Tenant.DefaultLocale)
	tr := i18n.NewPrinter(tag)
	var face0 *face
	var alt func() *face
	if forPDF {
		// The CJK font is loaded when a document first needs it.
		face0, alt = goFace(), func() *face { return loadCJK(in.CJKFont).face }
		if !drawable(tr, face0.cov) {
			if cjk := alt(); cjk != nil && drawable(tr, cjk.cov) {
				face0, alt = cjk, goFace
			} else {
				tr, locale = i18n.NewPrinter(i18n.English), "en"
			}
		}
	}
	cur := a.InvoiceCurrency(inv)
	money := func(v int64) string { return i18n.Money(v, cur, locale) }

	d := &doc{
		tr:        tr,
		locale:    locale,
		face:      face0,
		alt:       alt,
		ID:        inv.ID,
		PDFPath:   "/invoices/" + url.PathEscape(inv.ID) + ".pdf",
		Keys:      invoiceKeys,
		Number:    cmp.Or(inv.Number, inv.ID),
		Brand:     in.Tenant.Name,
		Status:    inv.DisplayStatus(in.Now),
		IssueDate: i18n.Date(inv.IssueDate.Civil(), locale),
		DueDate:   i18n.Date(inv.DueDate.Civil(), locale),
		PaidDate:  i18n.Date(inv.PaidDate.Civil(), locale),
		Currency:  strings.ToUpper(cur),
		Subtotal:  money(inv.Subtotal),
		TaxLabel:  tr.T("doc.tax"),
		Tax:       money(inv.Tax),
		Total:     money(inv.Total),
		Paid:      money(inv.AmountPaid),
	}
	lines, discount, described := inv.Lines, inv.Discount, len(inv.Discounts) > 0
	if cn != nil {
		d.Credit, d.Keys, d.ID = true, creditKeys, cn.ID
		d.PDFPath = "/credit-notes/" + url.PathEscape(cn.ID) + ".pdf"
		d.InvoiceNumber, d.InvoiceID, d.OriginalURL = d.Number, inv.ID, cn.PDFURL
		d.Number = cmp.Or(cn.Number, cn.ID)
		d.IssueDate, d.DueDate, d.PaidDate = i18n.Date(cn.IssueDate.Civil(), locale), "", ""
		d.Reason = cn.Reason
		d.Total = money(cn.Total)
		d.StatusLabel = tr.T("doc.credit.of", "number", d.InvoiceNumber)
		d.Status = "credit"
		lines, discount, described = cn.Lines, 0, false
	}
	for _, l := range lines {
		discount += l.Discount // Validate: the discounts add up without overflow
	}
	if discount != 0 {
		d.Discount = money(-discount)
		if !described {
			d.Discounts = []adjust{{Label: tr.T("doc.discount"), Amount: d.Discount}}
		}
		for _, r := range inv.DiscountRows() {
			if !described {
				break
			}
			d.Discounts = append(d.Discounts, adjust{Label: tr.T("plan.discount", "name", r.Discount.Description),
				Amount: money(-r.Amount), Steps: account.StepTexts(r.Steps, tr, cur, locale, nil)})
		}
	}
	if rate := i18n.Percent(inv.TaxRate, locale); rate != "" {
		d.TaxLabel = tr.T("doc.taxRate", "rate", rate)
	}
	if !d.Credit {
		d.StatusLabel = tr.T("invoices.status." + d.Status)
	}
	// A paid or void invoice has nothing left to pay, whatever its amounts say; otherwise the
	// remainder is what the invoice list shows as remaining.
	remaining := inv.AmountDue()
	if d.Status == account.InvPaid || d.Status == account.InvVoid {
		remaining = 0
	}
	d.Remaining = money(remaining)

	d.Seller.Name = in.Tenant.Name
	if sl := in.Tenant.Seller; !sl.IsZero() {
		d.Seller.Name = cmp.Or(strings.TrimSpace(sl.LegalName), in.Tenant.Name)
		d.Seller.TaxID = sl.TaxID
		if sl.Address != (account.Address{}) {
			d.Seller.Address = tr.AddressLines(sl.Address.Postal())
		}
	}
	d.Buyer.Name = a.Name
	d.Buyer.Email = a.Email
	if c := a.Company; c != nil {
		d.Buyer.Name = cmp.Or(strings.TrimSpace(c.LegalName), a.Name)
		d.Buyer.TaxID = c.TaxID
		if c.Address != nil {
			d.Buyer.Address = tr.AddressLines(c.Address.Postal())
		}
	}

	if prev := a.PreviousInvoice(inv); prev != nil && !d.Credit && a.InvoiceCurrency(prev) == cur {
		since := i18n.Date(prev.IssueDate.Civil(), locale)
		d.ChangesTitle = tr.T("changes.sinceInvoice", "number", cmp.Or(prev.Number, prev.ID), "date", since)
		if d.Changes = account.ChangeTexts(inv.ChangesSince(prev), tr, cur, locale, since); len(d.Changes) == 0 {
			d.Changes = []string{tr.T("changes.none", "date", since)}
		}
	}
	d.Lines = make([]line, len(lines))
	for i, l := range lines {
		d.Lines[i] = line{
			Description: l.Description,
			Quantity:    i18n.Number(l.Quantity, locale),
			UnitPrice:   money(l.UnitAmount),
			Amount:      money(l.Amount),
		}
		if l.UnitAmountDecimal != "" { // a fractional price: "$0.025"
			d.Lines[i].UnitPrice = i18n.Decimal(l.UnitAmountDecimal, cur, locale)
		}
		if pd := l.Period; pd != nil {
			d.Lines[i].Period = i18n.Date(pd.Start.Civil(), locale) + " – " + i18n.Date(pd.End.Civil(), locale)
		}
		d.Lines[i].Steps = account.StepTexts(l.Steps(), tr, cur, locale, nil)
	}
	return d, nil
}

// drawable reports whether a face of coverage cov has the glyphs of the language's labels.
func drawable(tr *i18n.Printer, cov *coverage) bool {
	return allCovered(tr.T("doc.heading")+tr.T("doc.billTo")+tr.T("doc.total")+tr.T("doc.remaining"), cov)
}

// Title is the invoice's title in its language, "Invoice GLX-2026-0007", for the host's page
// title. It uses the same language as RenderHTML.
func Title(in *Input) string {
	if in == nil || in.Tenant == nil || in.Account == nil || in.Invoice == nil {
		return ""
	}
	tag := i18n.Resolve(in.Locale, in.Account.Locale, in.Tenant.DefaultLocale)
	if cn := in.CreditNote; cn != nil {
		return i18n.T(tag, "doc.credit.title", "number", cmp.Or(cn.Number, cn.ID))
	}
	return i18n.T(tag, "doc.title", "number", cmp.Or(in.Invoice.Number, in.Invoice.ID))
}

// maxFileNameStem is the most characters FileName keeps before ".pdf".
const maxFileNameStem = 100

// FileName returns the name an invoice's PDF is downloaded as, safe to put into a
// Content-Disposition header as a quoted string and as a file name on any system: the invoice
// number (the id when there is none) with every character other than an ASCII letter, digit, '-',
// '_' or '.' replaced by '_', a leading '.' replaced by '_' (no hidden files, no ".."), cut to 100
// characters, with ".pdf" appended: "GLX-2026-0007" gives "GLX-2026-0007.pdf". An invoice without
// number and id gives "invoice.pdf".
func FileName(inv *account.Invoice) string {
	name := ""
	if inv != nil {
		name = cmp.Or(inv.Number, inv.ID)
	}
	return fileName(name, "invoice.pdf")
}

// CreditNoteFileName is FileName for a credit note: its number, else its id, else
// "credit-note.pdf".
func CreditNoteFileName(cn *account.CreditNote) string {
	name := ""
	if cn != nil {
		name = cmp.Or(cn.Number, cn.ID)
	}
	return fileName(name, "credit-note.pdf")
}

// fileName is name made safe as FileName describes, or none without a name.
func fileName(name, none string) string {
	if name == "" {
		return none
	}
	var b strings.Builder
	b.Grow(min(len(name), maxFileNameStem) + len(".pdf"))
	n := 0
	for _, r := range name {
		if n == maxFileNameStem {
			break
		}
		switch {
		case r == '.' && n == 0:
			r = '_'
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
		default:
			r = '_'
		}
		b.WriteRune(r)
		n++
	}
	b.WriteString(".pdf")
	return b.String()
}
