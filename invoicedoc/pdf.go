package invoicedoc

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/go-pdf/fpdf"
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
	noteH   = 4.0 // height of one line of a line's period and arithmetic

	fontFamily = "go"
	minFont    = 5.0 // the smallest size a number is shrunk to so that it fits its column
	// fakeBold is the width, relative to the font size, of the outline stroked around the glyphs
	// of a face without a bold style (the CJK font) where the document is bold.
	fakeBold = 0.035
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
// seller (legal name, address, tax ID), buyer, number, status, dates, the lines table (continued on further pages with its
// header repeated) and subtotal, tax, total, amount paid and amount remaining. Text is set in the
// Go fonts, which cover Latin, Greek and Cyrillic, and a text they cannot draw (a Japanese name or
// address) in the CJK font of Input.CJKFont; a Japanese document is set in the CJK font, with the
// Go fonts for a text it cannot draw (Turkish "ğ", "µ"). The fonts are embedded as subsets of the
// glyphs used. The CJK font has no bold style: its bold text is drawn with a stroked outline.
// Without a usable CJK font, a Japanese document is written in English and CJK text is shown as
// "?"; so is a character no font can draw (emoji). The document's title is the invoice number.
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
		// The PDF library indexes its tables by rune and byte; clean keeps it within bounds,
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

	// The type of the text drawn next, set by font, applied to a face by text and apply.
	style   string
	size    float64
	color   rgb
	added   map[*face]bool // the faces registered with f
	stroked bool           // the page's text rendering mode is fill and stroke (fake bold)
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
	meta := func(s string) string { s, _ = p.choose(s); return s }
	f.SetTitle(meta(d.Number), true)
	f.SetSubject(meta(d.tr.T(d.Keys.Title, "number", d.Number)), true)
	f.SetAuthor(meta(d.Seller.Name), true)
	f.SetCreator("Portico", false)
	if tag, err := language.Parse(d.locale); err == nil && tag != language.Und {
		f.SetLang(tag.String()) // canonical: letters, digits and '-' only
	}
	f.AliasNbPages("{nb}")
	p.add(d.face) // the other face is added when a text needs it
	f.SetMargins(marginLeft, marginTop, marginLeft)
	f.SetCellMargin(1)
	// Rows are placed by hand and break pages themselves; the automatic break stays on, with the
	// same limit, for the wrapped text blocks of the header.
	f.SetAutoPageBreak(true, marginBottom)
	f.SetFooterFunc(func() {
		f.SetXY(marginLeft, pageH-14)
		p.font("", 8, muted)
		p.fit(contentW, 5, p.text(d.tr.T(d.Keys.Footer, "seller", d.Seller.Name, "number", d.Number, "page", strconv.Itoa(f.PageNo()), "pages", "{nb}")), "C")
	})
	return p
}

// font sets the style ("" or "B"), the size in points and the colour of the text drawn next; text
// selects the face for it.
func (p *pdf) font(style string, size float64, c rgb) {
	p.style, p.size, p.color = style, size, c
	p.f.SetTextColor(c.r, c.g, c.b)
}

// text selects the face for s in the type set by font and returns s cleaned for it (see clean).
func (p *pdf) text(s string) string {
	s, fc := p.choose(s)
	p.apply(fc)
	return s
}

// choose returns the face s is drawn in — the document's, or the other one when that draws more of
// the characters of s — and s cleaned for it.
func (p *pdf) choose(s string) (string, *face) {
	fc := p.d.face
	t, missing := clean(s, fc.cov)
	if missing > 0 {
		if alt := p.d.alt(); alt != nil {
			if u, n := clean(s, alt.cov); n < missing {
				return u, alt
			}
		}
	}
	return t, fc
}

// add registers the styles of a face with the PDF library.
func (p *pdf) add(fc *face) {
	if p.added[fc] {
		return
	}
	if p.added == nil {
		p.added = make(map[*face]bool, 2)
	}
	p.added[fc] = true
	p.f.AddUTF8FontFromBytes(fc.family, "", fc.regular)
	if fc.bold != nil {
		p.f.AddUTF8FontFromBytes(fc.family, "B", fc.bold)
	}
}

// apply selects a face in the type set by font. Bold in a face without a bold style is its regular
// style, filled and stroked with an outline in the text's colour.
func (p *pdf) apply(fc *face) {
	p.add(fc)
	if p.style == "B" && fc.bold == nil {
		p.f.SetFont(fc.family, "", p.size)
		p.f.SetDrawColor(p.color.r, p.color.g, p.color.b)
		p.f.SetLineWidth(p.f.PointConvert(p.size * fakeBold))
		p.f.SetTextRenderingMode(2)
		p.stroked = true
		return
	}
	p.f.SetFont(fc.family, p.style, p.size)
	if p.stroked {
		p.f.SetTextRenderingMode(0)
		p.stroked = false
	}
}

// line draws a line in a colour and a width in millimetres (text drawn in fake bold changes both).
func (p *pdf) line(x1, y1, x2, y2 float64, c rgb, w float64) {
	if r, g, b := p.f.GetDrawColor(); (rgb{r, g, b}) != c {
		p.f.SetDrawColor(c.r, c.g, c.b)
	}
	if p.f.GetLineWidth() != w {
		p.f.SetLineWidth(w)
	}
	p.f.Line(x1, y1, x2, y2)
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
	left = p.block(marginLeft, left, 100, 7, p.text(d.Brand))

	const rightX, rightW = marginLeft + 100, contentW - 100
	p.font("B", 20, ink)
	f.SetXY(rightX, marginTop)
	f.CellFormat(rightW, 9, p.text(tr.T(d.Keys.Heading)), "", 2, "R", false, 0, "")
	p.font("", 10, ink)
	f.SetX(rightX)
	f.MultiCell(rightW, 5, p.text(d.Number), "", "R", false)
	p.font("B", 10, statusRGB[d.Status])
	f.SetX(rightX)
	f.CellFormat(rightW, 6, p.text(d.StatusLabel), "", 2, "R", false, 0, "")
	right := f.GetY()

	y := max(left, right) + 3
	p.line(marginLeft, y, marginLeft+contentW, y, p.accent, 0.8)
	y += 6

	// Parties at the left, the invoice's facts at the right (the status is in the masthead only).
	label := func(x, y float64, s string) float64 {
		p.font("B", 7.5, muted)
		f.SetXY(x, y)
		f.CellFormat(80, 4, p.text(strings.ToUpper(s)), "", 2, "L", false, 0, "")
		return f.GetY() + 0.5
	}
	const partyW = 90.0
	// party draws a party's name, address, tax ID and email from y and returns the y below it.
	party := func(y float64, pt *party) float64 {
		p.font("B", 10, ink)
		y = p.block(marginLeft, y, partyW, 5, p.text(pt.Name))
		p.font("", 9.5, ink)
		for _, a := range pt.Address {
			y = p.block(marginLeft, y, partyW, 4.8, p.text(a))
		}
		if pt.TaxID != "" {
			y = p.block(marginLeft, y+1, partyW, 4.8, p.text(tr.T("doc.pdf.taxId", "taxId", pt.TaxID)))
		}
		if pt.Email != "" {
			y = p.block(marginLeft, y, partyW, 4.8, p.text(tr.T("doc.pdf.email", "email", pt.Email)))
		}
		return y
	}
	ly := party(label(marginLeft, y, tr.T("doc.from")), &d.Seller) + 4
	ly = party(label(marginLeft, ly, tr.T("doc.billTo")), &d.Buyer)

	const factX, factLabelW = marginLeft + 100, 32.0
	const factW = contentW - 100 - factLabelW
	ry := y
	fact := func(name, value string) {
		if value == "" {
			return
		}
		p.font("", 9, muted)
		f.SetXY(factX, ry)
		p.fit(factLabelW, 5, p.text(name), "L")
		p.font("", 9.5, ink)
		ry = p.block(factX+factLabelW, ry, factW, 5, p.text(value)) + 0.5
	}
	fact(tr.T(d.Keys.Number), d.Number)
	fact(tr.T("doc.credit.invoice"), d.InvoiceNumber)
	fact(tr.T("doc.credit.reason"), d.Reason)
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
			p.fit(cols[i], 7, p.text(d.tr.T(key)), align+"M")
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

	if len(d.Lines) == 0 {
		p.font("", 9.5, muted)
		f.SetXY(marginLeft, y+rowPadY)
		f.CellFormat(contentW, lineH, p.text(d.tr.T("doc.noLines")), "", 0, "L", false, 0, "")
		y += lineH + 2*rowPadY
	}
	for _, l := range d.Lines {
		p.font("", 9.5, ink)
		desc, descFace := p.choose(l.Description)
		p.apply(descFace)
		text := f.SplitText(desc, colDesc)
		if len(text) == 0 {
			text = []string{""}
		}
		// Under the description, smaller: the line's period and its arithmetic.
		p.font("", 8, muted)
		var notes []string
		for _, n := range append([]string{l.Period}, l.Steps...) {
			if n != "" {
				notes = append(notes, f.SplitText(p.text(n), colDesc)...)
			}
		}
		p.font("", 9.5, ink)
		p.apply(descFace)
		rowH := float64(len(text))*lineH + float64(len(notes))*noteH + 2*rowPadY
		if y+rowH > pageLimit && rowH <= pageLimit-marginTop-8 {
			y = newPage() // keep a row on one page when it fits on one
		}
		y += rowPadY
		for i, t := range text {
			if y+lineH > pageLimit-rowPadY { // a description longer than a page continues
				y = newPage() + rowPadY
			}
			p.font("", 9.5, ink) // again: a new page's table header changed it
			p.apply(descFace)
			f.SetXY(marginLeft, y)
			f.CellFormat(colDesc, lineH, t, "", 0, "L", false, 0, "")
			if i == 0 {
				p.fit(colQty, lineH, p.text(l.Quantity), "R")
				p.fit(colUnit, lineH, p.text(l.UnitPrice), "R")
				p.fit(colAmount, lineH, p.text(l.Amount), "R")
			}
			y += lineH
		}
		for _, n := range notes {
			if y+noteH > pageLimit-rowPadY {
				y = newPage() + rowPadY
			}
			p.font("", 8, muted)
			f.SetXY(marginLeft, y)
			f.CellFormat(colDesc, noteH, p.text(n), "", 0, "L", false, 0, "")
			y += noteH
		}
		y += rowPadY
		p.line(marginLeft, y, marginLeft+contentW, y, rule, 0.2)
	}

	// Totals, kept together under the table.
	const rowTotal = 6.5
	rows := 5.0
	rows += float64(len(d.Discounts))
	if d.Credit {
		rows = 1 + float64(len(d.Discounts))
	}
	if y+4+rows*rowTotal > pageLimit {
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
		p.fit(labelW, rowTotal, p.text(name), "R")
		p.fit(valueW, rowTotal, p.text(value), "R")
		y += rowTotal
	}
	for _, r := range d.Discounts {
		total(r.Label, r.Amount, false)
	}
	if d.Credit {
		p.line(labelX, y, marginLeft+contentW, y, ink, 0.3)
		total(d.tr.T("doc.credit.total"), d.Total, true)
		return
	}
	total(d.tr.T("doc.subtotal"), d.Subtotal, false)
	total(d.TaxLabel, d.Tax, false)
	p.line(labelX, y, marginLeft+contentW, y, ink, 0.3)
	total(d.tr.T("doc.total"), d.Total, true)
	total(d.tr.T("doc.paid"), d.Paid, false)
	total(d.tr.T("doc.remaining"), d.Remaining, true)
}
