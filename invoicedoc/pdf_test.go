package invoicedoc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/image/font/gofont/goregular"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants/account"
)

func renderPDF(t testing.TB, in *Input) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := RenderPDF(&b, in); err != nil {
		t.Fatalf("RenderPDF: %v", err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
		t.Fatalf("output does not start with %%PDF-: %q", b.Bytes()[:min(b.Len(), 16)])
	}
	return b.Bytes()
}

// poppler runs a poppler-utils tool (pdftotext, pdfinfo) on the PDF and returns its output.
func poppler(t testing.TB, tool string, pdf []byte, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: the PDF tests need poppler-utils (apt-get install poppler-utils; make installs it)", tool)
	}
	file := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(path, append(args, file)...)
	if tool == "pdftotext" {
		cmd.Args = append(cmd.Args, "-")
	}
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("%s: %v\n%s", tool, err, stderr.String())
	}
	return string(out)
}

// pdfString is the text of the PDF as pdftotext -layout extracts it, with runs of spaces (and
// the no-break spaces of amounts, which pdftotext writes as plain spaces) as one space.
func pdfString(t testing.TB, pdf []byte) string {
	t.Helper()
	return squeeze(poppler(t, "pdftotext", pdf, "-layout", "-enc", "UTF-8"))
}

func squeeze(s string) string {
	s = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s)
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestRenderPDFText(t *testing.T) {
	t.Parallel()
	requireCJKFont(t)
	accents := func(in *Input) {
		in.Account.Company.LegalName = "Zoë Müller-Łódź GmbH"
		in.Account.Company.Address.City = "Ærø"
		in.Invoice.Lines[0].Description = "Überweisung für Straße & Co. – Ærø"
	}
	currency := func(code string, total int64) func(*Input) {
		return func(in *Input) {
			in.Invoice.Currency = code
			in.Invoice.Total = total
		}
	}
	tests := []struct {
		name   string
		locale string
		modify func(*Input)
		want   []string
	}{
		{name: "example de", locale: "de-DE", want: []string{
			"Rechnung", "GLX-2026-0007", "Überfällig", "Acme Cloud Ltd", "VON", "RECHNUNG AN",
			"Globex Corporation GmbH", "Hauptstraße 12", "3. OG", "10115 Berlin", "Deutschland",
			"USt-IdNr.: DE123456789", "E-Mail: billing@globex.example",
			"Rechnungsnummer GLX-2026-0007", "Rechnungsdatum 1. Okt. 2026", "Fälligkeitsdatum 31. Okt. 2026",
			"Beschreibung Menge Einzelpreis Betrag",
			"Seats (Oct 2026) 10 100,00 € 1.000,00 €",
			"Zwischensumme 1.000,00 €", "Steuer (19 %) 190,00 €", "Gesamtbetrag 1.190,00 €", "Bezahlter Betrag 0,00 €",
			"Offener Betrag 1.190,00 €", "Acme Cloud Ltd · Rechnung GLX-2026-0007 · Seite 1 von 1",
		}},
		{name: "example en", locale: "en", want: []string{
			"Invoice", "GLX-2026-0007", "Overdue", "FROM", "BILL TO", "Globex Corporation GmbH", "Hauptstraße 12", "Germany",
			"Tax ID: DE123456789", "Email: billing@globex.example", "Invoice number GLX-2026-0007",
			"Description Quantity Unit price Amount", "Subtotal €1,000.00", "Tax (19%) €190.00", "Amount paid €0.00",
			"Issue date Oct 1, 2026", "Total €1,190.00", "Amount remaining €1,190.00", "Page 1 of 1",
		}},
		{name: "example fr", locale: "fr", want: []string{
			"Facture", "En retard", "DE", "FACTURER À", "Allemagne", "N° de TVA : DE123456789",
			"Numéro de facture GLX-2026-0007", "Date d’émission 1 oct. 2026", "Date d’échéance 31 oct. 2026",
			"Description Quantité Prix unitaire Montant", "Sous-total 1 000,00 €", "Montant restant dû 1 190,00 €",
			"Page 1 sur 1",
		}},
		{name: "example pt-BR", locale: "pt-BR", want: []string{
			"Fatura", "Vencida", "COBRAR DE", "Alemanha", "Número da fatura GLX-2026-0007",
			"Data de emissão 1 de out. de 2026", "Valor em aberto € 1.190,00", "Página 1 de 1",
		}},
		// Japanese is set in the CJK font (see TestRenderPDFJapanese).
		{name: "example ja", locale: "ja", want: []string{
			"請求書", "期限超過", "請求先", "ドイツ", "発行日 2026年10月1日", "残額 €1,190.00", "1 / 1 ページ",
		}},
		{name: "accents", locale: "de-DE", modify: accents, want: []string{
			"Zoë Müller-Łódź GmbH", "Hauptstraße 12", "10115 Ærø", "Überweisung für Straße & Co. – Ærø",
		}},
		{name: "discount and fractional price", locale: "en", modify: discounted, want: []string{
			"Storage 250 €0.025 €6.25", "Discount -€6.25", "Subtotal €1,000.00", "Tax (19%) €190.00",
		}},
		{name: "period, proration and discounts", locale: "en", modify: func(in *Input) { in.Invoice = in.Account.Invoice("inv_2026_0006") }, want: []string{
			"Seats added on 13 Nov 2 €120.00 €144.00", "Nov 13, 2026 – Nov 30, 2026", "2 × €120.00 = €240.00",
			"18 of 30 days × €240.00 = €144.00", "Discount: -€144.00", "Discount: Seats promotion -€144.00", "Subtotal €500.00",
		}},
		{name: "JPY", locale: "en", modify: currency("JPY", 123456), want: []string{"Total ¥123,456", "Currency JPY"}},
		{name: "KWD", locale: "en", modify: currency("KWD", 1234567), want: []string{"Total KWD 1,234.567"}},
		{name: "EUR fr", locale: "fr", modify: currency("EUR", 1249000), want: []string{"Total 12 490,00 €"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", tt.locale)
			if tt.modify != nil {
				tt.modify(in)
			}
			// Every total must be i18n.Money's text, so the list, the page and the PDF agree.
			cur := in.Account.InvoiceCurrency(in.Invoice)
			money := i18n.Money(in.Invoice.Total, cur, tt.locale)
			switch cur {
			case "JPY":
				if money != "¥123,456" {
					t.Fatalf("i18n.Money(JPY) = %q", money)
				}
			case "KWD":
				if !strings.Contains(money, "1,234.567") {
					t.Fatalf("i18n.Money(KWD) = %q, want three decimals", money)
				}
			}
			text := pdfString(t, renderPDF(t, in))
			for _, w := range append(tt.want, " "+squeeze(money)) {
				if !strings.Contains(text, w) {
					t.Errorf("PDF text lacks %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "?") {
				t.Errorf("PDF text has characters the fonts could not draw:\n%s", text)
			}
		})
	}
}

func TestRenderPDFMetadata(t *testing.T) {
	t.Parallel()
	in := input(t, "inv_2026_0007", "de-DE")
	pdf := renderPDF(t, in)
	info := poppler(t, "pdfinfo", pdf)
	for _, w := range []string{"Title:           GLX-2026-0007\n", "Author:          Acme Cloud Ltd\n", "Pages:           1\n", "Page size:       595.28 x 841.89 pts (A4)"} {
		if !strings.Contains(info, w) {
			t.Errorf("pdfinfo lacks %q:\n%s", w, info)
		}
	}
	// Deterministic: the same input gives the same bytes, dated Now, compressed.
	if again := renderPDF(t, in); !bytes.Equal(pdf, again) {
		t.Errorf("two renders differ (%d and %d bytes)", len(pdf), len(again))
	}
	for _, w := range []string{"/CreationDate (D:20261115120000)", "/ModDate (D:20261115120000)", "/Filter /FlateDecode"} {
		if !bytes.Contains(pdf, []byte(w)) {
			t.Errorf("PDF lacks %s", w)
		}
	}
	if bytes.Contains(pdf, []byte("Hauptstra")) {
		t.Error("page content is not compressed")
	}
}

func TestRenderPDFLongInvoice(t *testing.T) {
	t.Parallel()
	in := input(t, "inv_2026_0007", "en")
	lines := make([]account.Line, 120)
	var sum int64
	for i := range lines {
		lines[i] = account.Line{Description: fmt.Sprintf("Line item %03d", i+1), Quantity: int64(i + 1), UnitAmount: 100, Amount: int64(i+1) * 100}
		sum += lines[i].Amount
	}
	// One description longer than a page continues on the next.
	lines[60].Description = strings.Repeat("Very long description of usage. ", 400)
	in.Invoice.Lines = lines
	in.Invoice.Subtotal, in.Invoice.Tax, in.Invoice.Total = sum, 0, sum
	pdf := renderPDF(t, in)
	raw := poppler(t, "pdftotext", pdf, "-layout", "-enc", "UTF-8")
	pages := strings.Count(raw, "\f")
	if pages < 3 {
		t.Fatalf("%d pages, want at least 3 for 120 lines and a page-long description", pages)
	}
	text := squeeze(raw)
	for _, w := range []string{
		"Line item 001 1 €1.00 €1.00", "Line item 120 120 €1.00 €120.00",
		"Total " + i18n.Money(sum, "EUR", "en"),
		fmt.Sprintf("Page 1 of %d", pages), fmt.Sprintf("Page %d of %d", pages, pages),
	} {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text lacks %q", w)
		}
	}
	// The table header is repeated on every page.
	if n := strings.Count(text, "Description Quantity Unit price Amount"); n != pages {
		t.Errorf("table header on %d pages, want %d", n, pages)
	}
	// Every line's description is set in the same type, also the first row of a new page.
	words := regexp.MustCompile(`<word xMin="[0-9.]+" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">Line</word>`).
		FindAllStringSubmatch(poppler(t, "pdftotext", pdf, "-bbox", "-enc", "UTF-8"), -1)
	if len(words) != 119 {
		t.Fatalf("found %d words \"Line\", want 119", len(words))
	}
	for i, w := range words {
		if words[0][2] != w[2] || height(t, w) != height(t, words[0]) {
			t.Errorf("description %d is %s wide and %.2f high, the first %s and %.2f", i+1, w[2], height(t, w), words[0][2], height(t, words[0]))
		}
	}
	// Every line appears, in order.
	last := -1
	for i := range 120 {
		if i == 60 {
			continue
		}
		at := strings.Index(text, fmt.Sprintf("Line item %03d ", i+1))
		if at <= last {
			t.Fatalf("line %d at %d, after %d", i+1, at, last)
		}
		last = at
	}
}

// height is yMax - yMin of a word box matched in TestRenderPDFLongInvoice.
func height(t testing.TB, m []string) float64 {
	t.Helper()
	y0, err0 := strconv.ParseFloat(m[1], 64)
	y1, err1 := strconv.ParseFloat(m[3], 64)
	if err0 != nil || err1 != nil {
		t.Fatalf("word box %q", m[0])
	}
	return math.Round((y1-y0)*100) / 100
}

// logos returns test logos by name, each with whether it decodes.
func logos(t testing.TB) map[string]struct {
	data []byte
	ok   bool
} {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 120, 40))
	for y := range 40 {
		for x := range 120 {
			img.Set(x, y, color.NRGBA{uint8(x * 2), 80, uint8(y * 6), uint8(255 - y)})
		}
	}
	var pngBuf, jpegBuf, gifBuf, png16Buf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpegBuf, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gifBuf, img, nil); err != nil {
		t.Fatal(err)
	}
	deep := image.NewRGBA64(image.Rect(0, 0, 30, 10)) // encoded as 16-bit PNG, which fpdf refuses
	if err := png.Encode(&png16Buf, deep); err != nil {
		t.Fatal(err)
	}
	webpData, err := os.ReadFile("testdata/logo.webp") // from golang.org/x/image's test data
	if err != nil {
		t.Fatal(err)
	}
	p := pngBuf.Bytes()
	// A PNG that says it is 100000 × 100000 pixels.
	bomb := bytes.Clone(p)
	copy(bomb[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
	type logo = struct {
		data []byte
		ok   bool
	}
	return map[string]logo{
		"png":          {p, true},
		"png 16-bit":   {png16Buf.Bytes(), true},
		"jpeg":         {jpegBuf.Bytes(), true},
		"gif":          {gifBuf.Bytes(), true},
		"webp":         {webpData, true},
		"truncated":    {p[:len(p)/2], false},
		"corrupt":      {append(bytes.Clone(p[:33]), bytes.Repeat([]byte{0xAB}, 200)...), false},
		"corrupt jpeg": {append(bytes.Clone(jpegBuf.Bytes()[:20]), bytes.Repeat([]byte{0xff}, 300)...), false},
		"huge":         {bomb, false},
		"svg":          {[]byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), false},
		"empty":        {nil, false},
	}
}

func TestRenderPDFLogo(t *testing.T) {
	t.Parallel()
	for name, l := range logos(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", "en")
			in.Logo, in.LogoType = l.data, "image/png" // the stored type is not trusted
			pdf := renderPDF(t, in)
			if text := pdfString(t, pdf); !strings.Contains(text, "GLX-2026-0007") || !strings.Contains(text, "Total €1,190.00") {
				t.Errorf("PDF text:\n%s", text)
			}
			if got := bytes.Contains(pdf, []byte("/Subtype /Image")); got != l.ok {
				t.Errorf("logo embedded = %v, want %v", got, l.ok)
			}
		})
	}
}

func TestRenderPDFBranding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		primary, accent string
		wantText        string // the tenant name's fill colour operator
		wantRule        string // the accent rule's stroke colour operator
	}{
		{"#0b5394", "#e69138", "0.043 0.325 0.580 rg", "0.902 0.569 0.220 RG"},
		{"", "", "0.122 0.161 0.216 rg", "0.310 0.275 0.898 RG"},          // defaults #1f2937, #4f46e5
		{"red", "#12345", "0.122 0.161 0.216 rg", "0.310 0.275 0.898 RG"}, // invalid: defaults
		{"#00FF00", "#0000fF", "0.000 1.000 0.000 rg", "0.000 0.000 1.000 RG"},
	}
	for _, tt := range tests {
		t.Run(tt.primary+tt.accent, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", "en")
			in.Tenant.Branding.PrimaryColor, in.Tenant.Branding.AccentColor = tt.primary, tt.accent
			// Read the colours from the drawing.
			raw := uncompressed(t, in)
			for _, w := range []string{tt.wantText, tt.wantRule} {
				if !bytes.Contains(raw.Bytes(), []byte(w)) {
					t.Errorf("PDF lacks colour operator %q", w)
				}
			}
		})
	}
}

func mustBuild(t testing.TB, in *Input) *doc {
	t.Helper()
	d, err := build(in, true)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requireCJKFont returns the CJK font file RenderPDF finds by default; the Japanese PDF tests need
// one.
func requireCJKFont(t testing.TB) string {
	t.Helper()
	file, err := LoadCJKFont("")
	if err != nil {
		t.Fatalf("the Japanese PDF tests need a CJK TrueType font (apt-get install fonts-ipaexfont-gothic; make deps installs it): %v", err)
	}
	return file
}

// japaneseBuyer gives the example invoice a Japanese buyer and line.
func japaneseBuyer(in *Input) {
	in.Account.Company.LegalName = "株式会社グローベックス"
	in.Account.Company.Address.Line1 = "丸の内一丁目1番1号"
	in.Account.Company.Address.City = "千代田区"
	in.Invoice.Lines[0].Description = "シート利用料（2026年10月）"
}

// pdfFonts lists the fonts embedded in the PDF, as pdffonts names them.
func pdfFonts(t testing.TB, pdf []byte) []string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(poppler(t, "pdffonts", pdf), "\n")[2:] {
		if f := strings.Fields(l); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	slices.Sort(names)
	return names
}

func TestRenderPDFJapanese(t *testing.T) {
	t.Parallel()
	requireCJKFont(t)
	in := input(t, "inv_2026_0007", "ja")
	japaneseBuyer(in)
	pdf := renderPDF(t, in)
	text := pdfString(t, pdf)
	ja := i18n.ForLocale("ja")
	var want []string
	for _, key := range []string{
		"doc.heading", "doc.from", "doc.billTo", "doc.number", "doc.issueDate", "doc.dueDate",
		"doc.currency", "doc.col.description", "doc.col.quantity", "doc.col.unitPrice", "doc.col.amount",
		"doc.subtotal", "doc.tax", "doc.total", "doc.paid", "doc.remaining", "invoices.status.overdue",
	} {
		want = append(want, ja.T(key))
	}
	want = append(want,
		ja.T("doc.total")+" €1,190.00", ja.T("doc.remaining")+" €1,190.00",
		ja.T("doc.issueDate")+" "+i18n.Date(account.Date("2026-10-01").Civil(), "ja"), // 2026年10月1日
		"株式会社グローベックス", "丸の内一丁目1番1号", "10115 千代田区", ja.CountryName("DE"),
		ja.T("doc.pdf.taxId", "taxId", "DE123456789"), "シート利用料（2026年10月） 10 €100.00 €1,000.00",
		ja.T("doc.pdf.footer", "seller", "Acme Cloud Ltd", "number", "GLX-2026-0007", "page", "1", "pages", "1"),
	)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("PDF text lacks %q:\n%s", w, text)
		}
	}
	for _, w := range []string{"Invoice", "BILL TO", "Total", "Amount remaining", "Overdue", "Germany", "Page 1", "?"} {
		if strings.Contains(text, w) {
			t.Errorf("PDF text has %q:\n%s", w, text)
		}
	}
	if !strings.Contains(poppler(t, "pdfinfo", pdf), "Subject:         請求書 GLX-2026-0007\n") {
		t.Error("pdfinfo lacks the Japanese subject")
	}
	// Only the CJK font is embedded: the Go fonts draw nothing of this document.
	if got := pdfFonts(t, pdf); !slices.Equal(got, []string{"utf8cjk"}) {
		t.Errorf("fonts %q, want only the CJK font", got)
	}
	if again := renderPDF(t, in); !bytes.Equal(pdf, again) {
		t.Errorf("two renders differ (%d and %d bytes)", len(pdf), len(again))
	}
	// The CJK font has no bold style: bold text is filled and stroked.
	raw := uncompressed(t, in)
	if !bytes.Contains(raw.Bytes(), []byte("2 Tr")) || !bytes.Contains(raw.Bytes(), []byte("0 Tr")) {
		t.Error("PDF lacks the text rendering modes of the CJK font's bold")
	}
	t.Logf("Japanese PDF: %d bytes", len(pdf))
}

// TestRenderPDFMixedScripts checks that a text is set in the face that can draw it: Japanese in
// an English document, Turkish in a Japanese one.
func TestRenderPDFMixedScripts(t *testing.T) {
	t.Parallel()
	requireCJKFont(t)
	tests := []struct {
		name, locale string
		modify       func(*Input)
		want         []string
		fonts        []string
	}{
		{name: "en", locale: "en", want: []string{"Invoice", "BILL TO"}, fonts: []string{"utf8go", "utf8goB"}},
		{name: "en with Japanese buyer", locale: "en", modify: japaneseBuyer, want: []string{
			"Invoice", "BILL TO", "株式会社グローベックス", "丸の内一丁目1番1号", "10115 千代田区", "Germany",
			"シート利用料（2026年10月） 10 €100.00 €1,000.00", "Amount remaining €1,190.00", "Page 1 of 1",
		}, fonts: []string{"utf8cjk", "utf8go", "utf8goB"}},
		{name: "ja with Turkish buyer", locale: "ja", modify: func(in *Input) {
			in.Account.Company.LegalName = "Güneş Yazılım A.Ş." // ş, ı: not in IPAex Gothic
			in.Invoice.Lines[0].Description = "İzmir µ-service"
		}, want: []string{
			"請求書", "請求先", "Güneş Yazılım A.Ş.", "İzmir µ-service 10 €100.00 €1,000.00", "残額 €1,190.00",
		}, fonts: []string{"utf8cjk", "utf8go", "utf8goB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", tt.locale)
			if tt.modify != nil {
				tt.modify(in)
			}
			pdf := renderPDF(t, in)
			text := pdfString(t, pdf)
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("PDF text lacks %q:\n%s", w, text)
				}
			}
			if strings.Contains(text, "?") {
				t.Errorf("PDF text has characters the fonts could not draw:\n%s", text)
			}
			if got := pdfFonts(t, pdf); !slices.Equal(got, tt.fonts) {
				t.Errorf("fonts %q, want %q", got, tt.fonts)
			}
		})
	}
}

// TestRenderPDFWithoutCJKFont checks the degradation without a usable CJK font: a Japanese
// document is written in English, CJK text as "?", and the render does not fail.
func TestRenderPDFWithoutCJKFont(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	random := make([]byte, 200_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	// The CJK font with glyph offsets (its loca table) that the PDF library, not the font parser,
	// trips over.
	corrupt, err := os.ReadFile(requireCJKFont(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int(binary.BigEndian.Uint16(corrupt[4:])) {
		if rec := corrupt[12+16*i:]; string(rec[:4]) == "loca" {
			off, n := binary.BigEndian.Uint32(rec[8:]), binary.BigEndian.Uint32(rec[12:])
			copy(corrupt[off:off+n], bytes.Repeat([]byte{0xff}, int(n)))
		}
	}
	fonts := map[string]struct {
		path string
		err  string // of LoadCJKFont
	}{
		"missing":         {filepath.Join(dir, "nonexistent.ttf"), "no such file or directory"},
		"directory":       {dir, "not a regular file"},
		"empty":           {write("empty.ttf", nil), "not a TrueType font"},
		"random":          {write("random.ttf", random), "not a TrueType font"},
		"TrueType header": {write("header.ttf", append([]byte{0, 1, 0, 0}, random...)), "sfnt"},
		"OpenType CFF":    {write("cff.otf", append([]byte("OTTO"), random...)), "CFF outlines"},
		"collection":      {write("cjk.ttc", append([]byte("ttcf"), random...)), "font collection"},
		"truncated":       {write("truncated.ttf", goregular.TTF[:len(goregular.TTF)/3]), "sfnt"},
		"corrupt":         {write("corrupt.ttf", corrupt), "the PDF library cannot use the font"},
		"no CJK glyphs":   {write("goregular.ttf", goregular.TTF), "no glyphs for the Japanese labels"},
	}
	for name, font := range fonts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := LoadCJKFont(font.path); err == nil || !strings.Contains(err.Error(), font.err) {
				t.Errorf("LoadCJKFont: %v, want an error with %q", err, font.err)
			}
			in := input(t, "inv_2026_0007", "ja")
			japaneseBuyer(in)
			in.CJKFont = font.path
			pdf := renderPDF(t, in)
			text := pdfString(t, pdf)
			for _, w := range []string{
				"Invoice", "Overdue", "BILL TO", "Germany", "Issue date Oct 1, 2026", "Amount remaining €1,190.00",
				"Page 1 of 1", "???????????", // 株式会社グローベックス
			} {
				if !strings.Contains(text, w) {
					t.Errorf("PDF text lacks %q:\n%s", w, text)
				}
			}
			if got := pdfFonts(t, pdf); !slices.Equal(got, []string{"utf8go", "utf8goB"}) {
				t.Errorf("fonts %q, want the Go fonts", got)
			}
		})
	}
}

func TestFirstFont(t *testing.T) {
	t.Parallel()
	want := requireCJKFont(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.ttf")
	if err := os.WriteFile(bad, []byte("not a font"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, file, err := firstFont([]string{filepath.Join(dir, "missing.ttf"), bad, want})
	if err != nil || file != want || f == nil || !f.cov.has('請') || f.bold != nil {
		t.Errorf("firstFont = %v, %q, %v; want %q", f, file, err, want)
	}
	_, _, err = firstFont([]string{filepath.Join(dir, "missing.ttf")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("firstFont(missing) = %v, want fs.ErrNotExist", err)
	}
	if _, _, err = firstFont([]string{bad}); err == nil || !strings.Contains(err.Error(), "not a TrueType font") {
		t.Errorf("firstFont(bad) = %v", err)
	}
	if got, err := LoadCJKFont(""); got != want || err != nil {
		t.Errorf("LoadCJKFont(\"\") = %q, %v", got, err)
	}
}

// BenchmarkRenderPDF renders a German invoice with the tenant's logo, then compares an English
// document with Japanese ones: set in the CJK font (parsed and subset for every document), with
// Japanese text in an English document, and without a CJK font.
func BenchmarkRenderPDF(b *testing.B) {
	requireCJKFont(b)
	withLogo := func(in *Input) { in.Logo = logos(b)["png"].data }
	for _, bm := range []struct {
		name, locale, font string
		modify             func(*Input)
	}{
		{name: "de-DE/logo", locale: "de-DE", modify: withLogo},
		{name: "en", locale: "en"},
		{name: "ja", locale: "ja", modify: japaneseBuyer},
		{name: "en/japanese-buyer", locale: "en", modify: japaneseBuyer},
		{name: "ja/no-cjk-font", locale: "ja", modify: japaneseBuyer, font: "/nonexistent/cjk.ttf"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			in := input(b, "inv_2026_0007", bm.locale)
			if bm.modify != nil {
				bm.modify(in)
			}
			in.CJKFont = bm.font
			var out bytes.Buffer
			b.ReportAllocs()
			for b.Loop() {
				out.Reset()
				if err := RenderPDF(&out, in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.Len()), "bytes/pdf")
		})
	}
}

func BenchmarkLoadCJKFont(b *testing.B) {
	file := requireCJKFont(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readFont(file); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzRenderPDF checks that RenderPDF never panics and never fails for a visible invoice, whatever
// its texts and amounts: no input other than those of ErrInvalidInput and ErrNotVisible is refused.
func FuzzRenderPDF(f *testing.F) {
	f.Add("Seats (Oct 2026)", "Globex Corporation GmbH", "GLX-2026-0007", int64(119000), int64(10), int64(10000), "EUR")
	f.Add("Zoë Müller-Łódź – Ærø", "Hauptstraße 12", "Rechnung/7", int64(-1), int64(0), int64(-9223372036854775808), "KWD")
	f.Add("請求書 😀 \u202e\u200b\x00\n\t", "\xff\xfe", "", int64(9223372036854775807), int64(-9223372036854775808), int64(1), "JPY")
	f.Add(strings.Repeat("x", 3000), strings.Repeat("W", 500), strings.Repeat("9", 200), int64(1), int64(1), int64(1), "???")
	f.Add("Zoe\u0308\U00010000\uffff\ufffd", "<script>alert(1)</script>", "\u0308", int64(0), int64(0), int64(0), "")
	in0 := input(f, "inv_2026_0007", "en")
	f.Fuzz(func(t *testing.T, desc, legal, number string, total, qty, unit int64, cur string) {
		a := *in0.Account
		c := *a.Company
		c.LegalName = legal
		a.Company = &c
		inv := *in0.Invoice
		inv.Number, inv.Currency = number, cur
		inv.Total, inv.Subtotal, inv.Tax, inv.AmountPaid = total, unit, qty, total/3
		inv.Lines = []account.Line{{Description: desc, Quantity: qty, UnitAmount: unit, Amount: total}, {Description: legal}}
		in := *in0
		in.Account, in.Invoice = &a, &inv
		if qty%2 != 0 {
			in.Locale = "ja" // set in the CJK font, when there is one
		}
		var b bytes.Buffer
		if err := RenderPDF(&b, &in); err != nil {
			t.Fatalf("RenderPDF: %v", err)
		}
		if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) {
			t.Fatal("not a PDF")
		}
	})
}

// uncompressed renders in as RenderPDF does but without compressing the page streams, so that a
// test can read the drawing operators.
func uncompressed(t *testing.T, in *Input) *bytes.Buffer {
	t.Helper()
	p := newPDF(in, mustBuild(t, in))
	p.f.SetCompression(false)
	p.draw(in)
	var raw bytes.Buffer
	if err := p.f.Output(&raw); err != nil {
		t.Fatal(err)
	}
	return &raw
}
