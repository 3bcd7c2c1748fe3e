package invoicedoc

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/language"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Page geometry of the PDF, in millimetres (A4 portrait).
const (
	pageH        = 297.0
	marginLeft   = 18.0
	marginTop    = 16.0
	marginBottom = 22.0 // the footer sits in it
	contentW     = 210.0 - 2*marginLeft
	pageLimit    = pageH - marginBottom // nothing of the body is drawn below this

	logoMaxW = 50.0
	logoMaxH = 16.0

	// Columns of the lines table; they add up to contentW.
	colDesc   = 88.0
	colQty    = 22.0
	colUnit   = 32.0
	colAmount = 32.0

	lineH   = 5.0 // height of one text line in the table
	rowPadY = 1.6 // space above and below the text of a table row

	fontFamily = "go"
	minFont    = 5.0 // the smallest size a number is shrunk to so that it fits its column
)

type rgb struct{ r, g, b int }

var (
	ink       = rgb{17, 24, 39}
	muted     = rgb{107, 114, 128}
	rule      = rgb{229, 231, 235}
	headFill  = rgb{243, 244, 246}
	statusRGB = map[string]rgb{
		account.InvPaid:    {22, 101, 52},
		account.InvIssued:  {30, 64, 175},
		account.InvOverdue: {153, 27, 27},
		account.InvVoid:    {75, 85, 99},
	}
)

// parseColor reads "#rrggbb"; anything else gives def.
func parseColor(s string, def rgb) rgb {
	if len(s) != 7 || s[0] != '#' {
		return def
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return def
	}
	return rgb{int(v >> 16 & 0xff), int(v >> 8 & 0xff), int(v & 0xff)}
}

// RenderPDF writes the invoice as an A4 PDF to w: the tenant's logo (when Input.Logo decodes) and
// name in its primary colour, a rule in its accent colour, then the same content as RenderHTML —
// seller, buyer, number, status, dates, the lines table (continued on further pages with its
// header repeated) and subtotal, tax, total, amount paid and amount remaining. Text is set in the
// Go fonts, embedded as subsets, which cover Latin, Greek and Cyrillic; a character they cannot
// draw (CJK, emoji) is shown as "?" (see pdfText), and a language whose labels they cannot draw
// (Japanese) is written in English. The document's title is the invoice number.
//
// The output is compressed and, for a fixed Input.Now, byte-for-byte deterministic.
//
// The error wraps ErrInvalidInput or ErrNotVisible, or is an error of w; RenderPDF does not panic.
func RenderPDF(w io.Writer, in *Input) (err error) {
	d, err := build(in, true)
	if err != nil {
		return fmt.Errorf("invoicedoc: rendering PDF: %w", err)
	}
	defer func() {
		// The PDF library indexes its tables by rune and byte; pdfText keeps it within bounds,
		// and this keeps a surprise in it from taking the server down.
		if r := recover(); r != nil {
			err = fmt.Errorf("invoicedoc: rendering PDF: unexpected failure in the PDF library: %v", r)
		}
	}()
	p := newPDF(in, d)
	p.draw(in)
	if err := p.f.Error(); err != nil {
		return fmt.Errorf("invoicedoc: rendering PDF: %w", err)
	}
	if err := p.f.Output(w); err != nil {
		return fmt.Errorf("invoicedoc: writing PDF: %w", err)
	}
	return nil
}

// pdf is one document being drawn.
type pdf struct {
	f       *fpdf.Fpdf
	d       *doc
	primary rgb
	accent  rgb
}

func newPDF(in *Input, d *doc) *pdf {
	f := fpdf.New("P", "mm", "A4", "")
	p := &pdf{
		f:       f,
		d:       d,
		primary: parseColor(in.Tenant.Branding.PrimaryColor, parseColor(tenants.DefaultPrimaryColor, ink)),
		accent:  parseColor(in.Tenant.Branding.AccentColor, parseColor(tenants.DefaultAccentColor, ink)),
	}
	f.SetCompression(true)
	f.SetCatalogSort(true)
	if !in.Now.IsZero() {
		f.SetCreationDate(in.Now.UTC())
		f.SetModificationDate(in.Now.UTC())
	}
	f.SetTitle(pdfText(d.Number), true)
	f.SetSubject(pdfText(d.tr.T("doc.title", "number", d.Number)), true)
	f.SetAuthor(pdfText(d.Seller), true)
	f.SetCreator("Portico", false)
	if tag, err := language.Parse(d.locale); err == nil && tag != language.Und {
		f.SetLang(tag.String()) // canonical: letters, digits and '-' only
	}
	f.AliasNbPages("{nb}")
	f.AddUTF8FontFromBytes(fontFamily, "", goregular.TTF)
	f.AddUTF8FontFromBytes(fontFamily, "B", gobold.TTF)
	f.SetMargins(marginLeft, marginTop, marginLeft)
	f.SetCellMargin(1)
	// Rows are placed by hand and break pages themselves; the automatic break stays on, with the
	// same limit, for the wrapped text blocks of the header.
	f.SetAutoPageBreak(true, marginBottom)
	f.SetFooterFunc(func() {
		f.SetXY(marginLeft, pageH-14)
		p.font("", 8, muted)
		p.fit(contentW, 5, pdfText(d.tr.T("doc.pdf.footer", "seller", d.Seller, "number", d.Number, "page", strconv.Itoa(f.PageNo()), "pages", "{nb}")), "C")
	})
	return p
}

// font selects the Go font in a style ("" or "B"), a size in points and a colour.
func (p *pdf) font(style string, size float64, c rgb) {
	p.f.SetFont(fontFamily, style, size)
	p.f.SetTextColor(c.r, c.g, c.b)
}

// fit draws one line of (already cleaned) text in a cell of width w at the current position,
// shrinking the font when the text is wider than the cell, so that long amounts never run into
// the next column. The position moves to the right of the cell.
func (p *pdf) fit(w, h float64, s, align string) {
	size, _ := p.f.GetFontSize()
	avail := w - 2
	if tw := p.f.GetStringWidth(s); tw > avail && tw > 0 {
		p.f.SetFontSize(max(minFont, size*avail/tw))
		defer p.f.SetFontSize(size)
	}
	p.f.CellFormat(w, h, s, "", 0, align, false, 0, "")
}

// block draws wrapped text in a column at x and returns the y below it.
func (p *pdf) block(x, y, w, h float64, s string) float64 {
	p.f.SetXY(x, y)
	p.f.MultiCell(w, h, s, "", "L", false)
	return p.f.GetY()
}

func (p *pdf) draw(in *Input) {
	f, d := p.f, p.d
	tr := d.tr
	f.AddPage()

	// Masthead: logo and tenant name at the left, "Invoice", number and status at the right.
	left := marginTop
	if l, ok := prepareLogo(in.Logo); ok {
		scale := min(logoMaxW/float64(l.w), logoMaxH/float64(l.h))
		w, h := float64(l.w)*scale, float64(l.h)*scale
		opts := fpdf.ImageOptions{ImageType: l.kind}
		f.RegisterImageOptionsReader("logo", opts, bytes.NewReader(l.data))
		f.ImageOptions("logo", marginLeft, marginTop, w, h, false, opts, 0, "")
		left += h + 3
	}
	p.font("B", 15, p.primary)
	left = p.block(marginLeft, left, 100, 7, pdfText(d.Seller))

	const rightX, rightW = marginLeft + 100, contentW - 100
	p.font("B", 20, ink)
	f.SetXY(rightX, marginTop)
	f.CellFormat(rightW, 9, pdfText(tr.T("doc.heading")), "", 2, "R", false, 0, "")
	p.font("", 10, ink)
	f.SetX(rightX)
	f.MultiCell(rightW, 5, pdfText(d.Number), "", "R", false)
	p.font("B", 10, statusRGB[d.Status])
	f.SetX(rightX)
	f.CellFormat(rightW, 6, pdfText(d.StatusLabel), "", 2, "R", false, 0, "")
	right := f.GetY()

	y := max(left, right) + 3
	f.SetDrawColor(p.accent.r, p.accent.g, p.accent.b)
	f.SetLineWidth(0.8)
	f.Line(marginLeft, y, marginLeft+contentW, y)
	y += 6

	// Parties at the left, the invoice's facts at the right.
	label := func(x, y float64, s string) float64 {
		p.font("B", 7.5, muted)
		f.SetXY(x, y)
		f.CellFormat(80, 4, pdfText(strings.ToUpper(s)), "", 2, "L", false, 0, "")
		return f.GetY() + 0.5
	}
	const partyW = 90.0
	ly := label(marginLeft, y, tr.T("doc.from"))
	p.font("", 10, ink)
	ly = p.block(marginLeft, ly, partyW, 5, pdfText(d.Seller)) + 4
	ly = label(marginLeft, ly, tr.T("doc.billTo"))
	p.font("B", 10, ink)
	ly = p.block(marginLeft, ly, partyW, 5, pdfText(d.Buyer.Name))
	p.font("", 9.5, ink)
	for _, a := range d.Buyer.Address {
		ly = p.block(marginLeft, ly, partyW, 4.8, pdfText(a))
	}
	if d.Buyer.TaxID != "" {
		ly = p.block(marginLeft, ly+1, partyW, 4.8, pdfText(tr.T("doc.pdf.taxId", "taxId", d.Buyer.TaxID)))
	}
	if d.Buyer.Email != "" {
		ly = p.block(marginLeft, ly, partyW, 4.8, pdfText(tr.T("doc.pdf.email", "email", d.Buyer.Email)))
	}

	const factX, factLabelW = marginLeft + 100, 32.0
	const factW = contentW - 100 - factLabelW
	ry := y
	fact := func(name, value string) {
		if value == "" {
			return
		}
		p.font("", 9, muted)
		f.SetXY(factX, ry)
		p.fit(factLabelW, 5, pdfText(name), "L")
		p.font("", 9.5, ink)
		ry = p.block(factX+factLabelW, ry, factW, 5, pdfText(value)) + 0.5
	}
	fact(tr.T("doc.number"), d.Number)
	fact(tr.T("doc.status"), d.StatusLabel)
	fact(tr.T("doc.issueDate"), d.IssueDate)
	fact(tr.T("doc.dueDate"), d.DueDate)
	fact(tr.T("doc.paidDate"), d.PaidDate)
	fact(tr.T("doc.currency"), d.Currency)

	y = max(ly, ry) + 8
	p.lines(y)
}

// lines draws the lines table from y, then the totals.
func (p *pdf) lines(y float64) {
	f, d := p.f, p.d
	cols := [...]float64{colDesc, colQty, colUnit, colAmount}
	header := func(y float64) float64 {
		f.SetFillColor(headFill.r, headFill.g, headFill.b)
		f.Rect(marginLeft, y, contentW, 7, "F")
		p.font("B", 8.5, muted)
		f.SetXY(marginLeft, y)
		for i, key := range [...]string{"doc.col.description", "doc.col.quantity", "doc.col.unitPrice", "doc.col.amount"} {
			align := "R"
			if i == 0 {
				align = "L"
			}
			p.fit(cols[i], 7, pdfText(d.tr.T(key)), align+"M")
		}
		return y + 7 + 1
	}
	newPage := func() float64 {
		f.AddPage()
		return header(marginTop)
	}
	if y+7+1+lineH+2*rowPadY > pageLimit { // not even the header and one row fit
		f.AddPage()
		y = marginTop
	}
	y = header(y)
	f.SetLineWidth(0.2)
	f.SetDrawColor(rule.r, rule.g, rule.b)

	if len(d.Lines) == 0 {
		p.font("", 9.5, muted)
		f.SetXY(marginLeft, y+rowPadY)
		f.CellFormat(contentW, lineH, pdfText(d.tr.T("doc.noLines")), "", 0, "L", false, 0, "")
		y += lineH + 2*rowPadY
	}
	for _, l := range d.Lines {
		p.font("", 9.5, ink)
		text := f.SplitText(pdfText(l.Description), colDesc)
		if len(text) == 0 {
			text = []string{""}
		}
		rowH := float64(len(text))*lineH + 2*rowPadY
		if y+rowH > pageLimit && rowH <= pageLimit-marginTop-8 {
			y = newPage() // keep a row on one page when it fits on one
		}
		y += rowPadY
		for i, t := range text {
			if y+lineH > pageLimit-rowPadY { // a description longer than a page continues
				y = newPage() + rowPadY
			}
			p.font("", 9.5, ink) // again: a new page's table header changed it
			f.SetXY(marginLeft, y)
			f.CellFormat(colDesc, lineH, t, "", 0, "L", false, 0, "")
			if i == 0 {
				p.fit(colQty, lineH, pdfText(l.Quantity), "R")
				p.fit(colUnit, lineH, pdfText(l.UnitPrice), "R")
				p.fit(colAmount, lineH, pdfText(l.Amount), "R")
			}
			y += lineH
		}
		y += rowPadY
		f.Line(marginLeft, y, marginLeft+contentW, y)
	}

	// Totals, kept together under the table.
	const rowTotal = 6.5
	if y+4+5*rowTotal > pageLimit {
		f.AddPage()
		y = marginTop
	}
	y += 4
	const labelW, valueW = 55.0, colUnit + colAmount - 4
	labelX := marginLeft + contentW - valueW - labelW
	total := func(name, value string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		p.font(style, 10, ink)
		f.SetXY(labelX, y)
		p.fit(labelW, rowTotal, pdfText(name), "R")
		p.fit(valueW, rowTotal, pdfText(value), "R")
		y += rowTotal
	}
	total(d.tr.T("doc.subtotal"), d.Subtotal, false)
	total(d.tr.T("doc.tax"), d.Tax, false)
	f.SetDrawColor(ink.r, ink.g, ink.b)
	f.SetLineWidth(0.3)
	f.Line(labelX, y, marginLeft+contentW, y)
	total(d.tr.T("doc.total"), d.Total, true)
	total(d.tr.T("doc.paid"), d.Paid, false)
	total(d.tr.T("doc.remaining"), d.Remaining, true)
}
