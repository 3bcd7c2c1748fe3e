package invoicedoc

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// now is the render time of the tests: after the due date of inv_2026_0007 and before that of
// inv_2026_0006.
var now = time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)

// example returns a fresh copy of the example account document.
func example(t testing.TB) *account.Account {
	t.Helper()
	data, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.Decode(data)
	if err != nil {
		t.Fatalf("example document: %v", err)
	}
	return a
}

func tenant() *tenants.Tenant {
	return &tenants.Tenant{
		ID: "ten_test", Slug: "acme", Name: "Acme Cloud Ltd",
		Branding: tenants.Branding{PrimaryColor: "#0b5394", AccentColor: "#e69138"},
	}
}

// input renders the example account's invoice id in locale.
func input(t testing.TB, id, locale string) *Input {
	t.Helper()
	a := example(t)
	inv := a.Invoice(id)
	if inv == nil {
		t.Fatalf("example has no invoice %q", id)
	}
	return &Input{Tenant: tenant(), Account: a, Invoice: inv, Locale: locale, Now: now}
}

func renderHTML(t testing.TB, in *Input) string {
	t.Helper()
	var b strings.Builder
	if err := RenderHTML(&b, in); err != nil {
		t.Fatalf("RenderHTML: %v", err)
	}
	return b.String()
}

// htmlText is the text of an HTML fragment as a reader sees it: text nodes joined by single spaces.
func htmlText(t testing.TB, fragment string) string {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(fragment), &html.Node{Type: html.ElementNode, Data: "main", DataAtom: atom.Main})
	if err != nil {
		t.Fatalf("parsing HTML: %v", err)
	}
	var parts []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			// Only HTML's own white space: the no-break spaces of amounts stay.
			f := strings.FieldsFunc(n.Data, func(r rune) bool { return strings.ContainsRune(" \t\n\r\f", r) })
			if s := strings.Join(f, " "); s != "" {
				parts = append(parts, s)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return strings.Join(parts, " ")
}

func TestRenderHTMLExample(t *testing.T) {
	t.Parallel()
	tests := []struct {
		locale string
		total  string // as a literal, and it must equal i18n.Money's
		want   []string
	}{
		{"de-DE", "1.190,00\u00a0€", []string{
			"Rechnung GLX-2026-0007 Überfällig",
			"Von Acme Cloud Ltd",
			"Rechnung an Globex Corporation GmbH Hauptstraße 12 3. OG 10115 Berlin Deutschland",
			"USt-IdNr. DE123456789", "E-Mail für Rechnungen billing@globex.example",
			"Rechnungsnummer GLX-2026-0007",
			"Rechnungsdatum 1. Okt. 2026", "Fälligkeitsdatum 31. Okt. 2026", "Währung EUR",
			"Beschreibung Menge Einzelpreis Betrag",
			"Seats (Oct 2026) 10 100,00\u00a0€ 1.000,00\u00a0€",
			"Zwischensumme 1.000,00\u00a0€", "Steuer (19\u00a0%) 190,00\u00a0€", "Gesamtbetrag 1.190,00\u00a0€",
			"Bezahlter Betrag 0,00\u00a0€", "Offener Betrag 1.190,00\u00a0€",
			"PDF herunterladen", "Zurück zur Abrechnung",
		}},
		{"en", "€1,190.00", []string{
			"Invoice GLX-2026-0007 Overdue",
			"Bill to Globex Corporation GmbH Hauptstraße 12 3. OG 10115 Berlin Germany",
			"Tax ID DE123456789", "Billing email billing@globex.example",
			"Invoice number GLX-2026-0007", "Currency EUR", "Description Quantity Unit price Amount",
			"Issue date Oct 1, 2026", "Due date Oct 31, 2026",
			"Seats (Oct 2026) 10 €100.00 €1,000.00", "Subtotal €1,000.00", "Tax (19%) €190.00",
			"Total €1,190.00", "Amount paid €0.00", "Amount remaining €1,190.00",
			"Download PDF", "Back to billing",
		}},
		{"fr", "1\u202f190,00\u00a0€", []string{
			"Facture GLX-2026-0007 En retard", "Facturer à Globex Corporation GmbH", "Allemagne",
			"Date d’émission 1 oct. 2026", "Montant restant dû 1\u202f190,00\u00a0€", "Télécharger le PDF",
		}},
		{"pt-BR", "€\u00a01.190,00", []string{
			"Fatura GLX-2026-0007 Vencida", "Cobrar de Globex Corporation GmbH", "Alemanha",
			"Data de emissão 1 de out. de 2026", "Valor em aberto €\u00a01.190,00", "Baixar PDF",
		}},
		{"es", "1190,00\u00a0€", []string{
			"Factura GLX-2026-0007 Vencida", "Facturar a Globex Corporation GmbH", "Alemania",
			"Fecha de emisión 1 oct 2026", "Importe pendiente 1190,00\u00a0€", "Descargar PDF",
		}},
		{"ja", "€1,190.00", []string{
			"請求書 GLX-2026-0007 期限超過", "請求先 Globex Corporation GmbH", "ドイツ",
			"発行日 2026年10月1日", "残額 €1,190.00", "PDF をダウンロード",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.locale, func(t *testing.T) {
			t.Parallel()
			if got := i18n.Money(119000, "EUR", tt.locale); got != tt.total {
				t.Fatalf("i18n.Money = %q, the test expects %q", got, tt.total)
			}
			out := renderHTML(t, input(t, "inv_2026_0007", tt.locale))
			text := htmlText(t, out)
			for _, w := range append(tt.want, " "+tt.total) {
				if !strings.Contains(text, w) {
					t.Errorf("text lacks %q:\n%s", w, text)
				}
			}
			for _, w := range []string{
				`<article class="card invoice-doc"`, `<th scope="col"`, `<th scope="row">Seats (Oct 2026)</th>`,
				`<dl class="facts invoice-facts">`, `<tfoot>`, `<address>`,
				`href="/invoices/inv_2026_0007.pdf"`, `href="/"`, `class="actions no-print"`,
				`class="badge status-overdue"`,
			} {
				if !strings.Contains(out, w) {
					t.Errorf("markup lacks %s", w)
				}
			}
			if strings.Contains(text, "Paid date") || strings.Contains(text, "Bezahlt am") {
				t.Errorf("unpaid invoice shows a paid date:\n%s", text)
			}
		})
	}
}

// discounted gives the overdue example invoice a metered line with a fractional unit price and a
// discount of the same amount, so its subtotal, tax and total are unchanged; the document still
// adds up.
func discounted(in *Input) {
	in.Invoice.Lines = append(in.Invoice.Lines, account.Line{Description: "Storage", Quantity: 250, UnitAmountDecimal: "2.5", Amount: 625})
	in.Invoice.Discount = 625
}

// TestRenderHTMLDiscountAndRates: the document shows what makes its sums add up: a line's
// fractional unit price, the discount taken off the lines, and the tax rate when the invoice gives
// one.
func TestRenderHTMLDiscountAndRates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		locale, rate string
		want         []string
	}{
		{"en", "19", []string{"Storage 250 €0.025 €6.25", "Discount -€6.25 Subtotal €1,000.00 Tax (19%) €190.00 Total €1,190.00"}},
		{"de-DE", "19", []string{"Storage 250 0,025\u00a0€ 6,25\u00a0€", "Rabatt -6,25\u00a0€ Zwischensumme 1.000,00\u00a0€ Steuer (19\u00a0%) 190,00\u00a0€"}},
		{"fr", "19", []string{"Remise -6,25\u00a0€", "TVA (19\u202f%) 190,00\u00a0€"}},
		{"en", "", []string{"Discount -€6.25 Subtotal €1,000.00 Tax €190.00"}},
	}
	for _, tt := range tests {
		in := input(t, "inv_2026_0007", tt.locale)
		in.Invoice.TaxRate = tt.rate
		discounted(in)
		if err := in.Account.Validate(); err != nil {
			t.Fatalf("discounted example does not add up: %v", err)
		}
		text := htmlText(t, renderHTML(t, in))
		for _, w := range tt.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s, rate %q: text lacks %q:\n%s", tt.locale, tt.rate, w, text)
			}
		}
	}
	// Without a discount there is no discount row.
	if text := htmlText(t, renderHTML(t, input(t, "inv_2026_0007", "en"))); strings.Contains(text, "Discount") {
		t.Errorf("invoice without a discount shows one:\n%s", text)
	}
}

// TestStatus covers what the customer sees as status and remaining amount.
func TestStatus(t *testing.T) {
	t.Parallel()
	plus5 := time.FixedZone("+05", 5*3600)
	tests := []struct {
		name       string
		status     string
		due        account.Date
		total      int64
		paid       int64
		now        time.Time
		wantStatus string
		wantLabel  string
		remaining  int64
	}{
		{"paid", account.InvPaid, "2026-10-01", 59500, 59500, now, "paid", "Paid", 0},
		{"paid without amount paid", account.InvPaid, "2026-10-01", 59500, 0, now, "paid", "Paid", 0},
		{"issued before due", account.InvIssued, "2026-12-01", 59500, 0, now, "issued", "Issued", 59500},
		{"issued on due date", account.InvIssued, "2026-11-15", 59500, 0, now, "issued", "Issued", 59500},
		{"issued past due", account.InvIssued, "2026-11-14", 59500, 0, now, "overdue", "Overdue", 59500},
		{"issued past due partly paid", account.InvIssued, "2026-11-14", 59500, 500, now, "overdue", "Overdue", 59000},
		{"issued past due fully paid", account.InvIssued, "2026-11-14", 59500, 59500, now, "issued", "Issued", 0},
		{"issued past due, no clock", account.InvIssued, "2026-11-14", 59500, 0, time.Time{}, "issued", "Issued", 59500},
		{"issued without due date", account.InvIssued, "", 59500, 0, now, "issued", "Issued", 59500},
		// 01:00 at +05 is still the 14th in UTC: due on the 14th is not overdue yet.
		{"due date compared in UTC", account.InvIssued, "2026-11-14", 59500, 0, time.Date(2026, 11, 15, 1, 0, 0, 0, plus5), "issued", "Issued", 59500},
		{"overdue from the billing system", account.InvOverdue, "2026-12-01", 59500, 0, now, "overdue", "Overdue", 59500},
		{"void", account.InvVoid, "2026-10-01", 59500, 0, now, "void", "Void", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0006", "en")
			in.Invoice.Status, in.Invoice.DueDate = tt.status, tt.due
			in.Invoice.Total, in.Invoice.AmountPaid = tt.total, tt.paid
			in.Now = tt.now
			d, err := build(in, false)
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != tt.wantStatus || d.StatusLabel != tt.wantLabel {
				t.Errorf("status = %q %q, want %q %q", d.Status, d.StatusLabel, tt.wantStatus, tt.wantLabel)
			}
			if want := i18n.Money(tt.remaining, "EUR", "en"); d.Remaining != want {
				t.Errorf("remaining = %q, want %q", d.Remaining, want)
			}
			text := htmlText(t, renderHTML(t, in))
			if !strings.Contains(text, "Invoice GLX-2026-0006 "+tt.wantLabel+" ") {
				t.Errorf("page lacks status %q:\n%s", tt.wantLabel, text)
			}
		})
	}
}

func TestBuyer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		company *account.Company
		want    string
		notWant string
	}{
		{"legal name", &account.Company{LegalName: "Globex Corporation GmbH"}, "Bill to Globex Corporation GmbH", "Tax ID"},
		{"no company", nil, "Bill to Globex Corporation Billing email billing@globex.example", "Tax ID"},
		{"blank legal name", &account.Company{LegalName: "  ", TaxID: "GB123"}, "Bill to Globex Corporation Tax ID GB123", "Germany"},
		{"US address", &account.Company{LegalName: "Initech Inc.", Address: &account.Address{
			Line1: "1 Main St", City: "Springfield", Region: "IL", PostalCode: "62701", Country: "US"}},
			"Bill to Initech Inc. 1 Main St Springfield, IL 62701 United States", ""},
		{"unknown country code", &account.Company{LegalName: "X", Address: &account.Address{City: "Nowhere", Country: "ZZ"}},
			"Bill to X Nowhere ZZ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", "en")
			in.Account.Company = tt.company
			text := htmlText(t, renderHTML(t, in))
			if !strings.Contains(text, tt.want) {
				t.Errorf("text lacks %q:\n%s", tt.want, text)
			}
			if tt.notWant != "" && strings.Contains(text, tt.notWant) {
				t.Errorf("text has %q:\n%s", tt.notWant, text)
			}
		})
	}
}

func TestRenderHTMLPaidAndLocaleFallback(t *testing.T) {
	t.Parallel()
	in := input(t, "inv_2026_0005", "")
	in.Invoice.PaidDate = "2026-09-20"
	text := htmlText(t, renderHTML(t, in))
	// No Input.Locale: the account's de-DE applies, to the labels as to the formats.
	for _, w := range []string{"Rechnung GLX-2026-0005 Bezahlt", "Bezahlt am 20. Sept. 2026", "Bezahlter Betrag 595,00\u00a0€", "Offener Betrag 0,00\u00a0€"} {
		if !strings.Contains(text, w) {
			t.Errorf("text lacks %q:\n%s", w, text)
		}
	}
}

// payloads would run script if they reached the page unescaped.
var payloads = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	`</article><script src=//evil.example/x.js></script>`,
}

func TestRenderHTMLEscapes(t *testing.T) {
	t.Parallel()
	for _, p := range payloads {
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			in := input(t, "inv_2026_0007", "en")
			in.Tenant.Name = p
			in.Account.Name, in.Account.Email = p, p
			in.Account.Company.LegalName, in.Account.Company.TaxID = p, p
			in.Account.Company.Address.Line1, in.Account.Company.Address.Country = p, p
			in.Invoice.ID, in.Invoice.Number, in.Invoice.Currency = p, p, p
			in.Invoice.Lines[0].Description = p
			out := renderHTML(t, in)
			lower := strings.ToLower(out)
			for _, bad := range []string{"<script", "<img", "<svg", "</article><"} {
				if strings.Contains(lower, bad) {
					t.Errorf("output contains %q:\n%s", bad, out)
				}
			}
			// The payload is still shown, as text, in each place.
			if n := strings.Count(htmlText(t, out), p); n < 6 {
				t.Errorf("payload shown %d times as text, want at least 6:\n%s", n, out)
			}
		})
	}
}

func TestRenderHTMLLinkEscapesID(t *testing.T) {
	t.Parallel()
	in := input(t, "inv_2026_0007", "en")
	in.Invoice.ID = "a/../b c?d#e"
	out := renderHTML(t, in)
	if want := `href="/invoices/a%2F..%2Fb%20c%3Fd%23e.pdf"`; !strings.Contains(out, want) {
		t.Errorf("output lacks %s:\n%s", want, out)
	}
}

func TestRenderHTMLNoLines(t *testing.T) {
	t.Parallel()
	in := input(t, "inv_2026_0007", "en")
	in.Invoice.Lines = nil
	if text := htmlText(t, renderHTML(t, in)); !strings.Contains(text, "Amount No lines Subtotal") {
		t.Errorf("text:\n%s", text)
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	renders := map[string]func(*bytes.Buffer, *Input) error{
		"HTML": func(b *bytes.Buffer, in *Input) error { return RenderHTML(b, in) },
		"PDF":  func(b *bytes.Buffer, in *Input) error { return RenderPDF(b, in) },
	}
	tests := []struct {
		name   string
		modify func(*Input) *Input
		want   error
	}{
		{"nil input", func(*Input) *Input { return nil }, ErrInvalidInput},
		{"nil tenant", func(in *Input) *Input { in.Tenant = nil; return in }, ErrInvalidInput},
		{"nil account", func(in *Input) *Input { in.Account = nil; return in }, ErrInvalidInput},
		{"nil invoice", func(in *Input) *Input { in.Invoice = nil; return in }, ErrInvalidInput},
		{"draft", func(in *Input) *Input { in.Invoice = in.Account.Invoice("inv_2026_0008"); return in }, ErrNotVisible},
		{"canceled", func(in *Input) *Input { in.Invoice.Status = account.InvCanceled; return in }, ErrNotVisible},
	}
	for kind, render := range renders {
		for _, tt := range tests {
			t.Run(kind+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				var b bytes.Buffer
				err := render(&b, tt.modify(input(t, "inv_2026_0007", "en")))
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				if !strings.HasPrefix(err.Error(), "invoicedoc: rendering "+kind+": ") {
					t.Errorf("err = %q", err)
				}
				if b.Len() != 0 {
					t.Errorf("wrote %d bytes on error", b.Len())
				}
			})
		}
	}
}

type failingWriter struct{}

var errDisk = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestRenderWriteError(t *testing.T) {
	t.Parallel()
	for kind, render := range map[string]func(*Input) error{
		"HTML": func(in *Input) error { return RenderHTML(failingWriter{}, in) },
		"PDF":  func(in *Input) error { return RenderPDF(failingWriter{}, in) },
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			err := render(input(t, "inv_2026_0007", "en"))
			if !errors.Is(err, errDisk) || !strings.HasPrefix(err.Error(), "invoicedoc: writing "+kind+": ") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("A", 150)
	tests := []struct {
		number, id string
		want       string
	}{
		{"GLX-2026-0007", "inv_1", "GLX-2026-0007.pdf"},
		{"", "inv_2026_0007", "inv_2026_0007.pdf"},
		{"", "", "invoice.pdf"},
		{"../etc/passwd", "", "_._etc_passwd.pdf"},
		{"..", "", "_..pdf"},
		{".hidden", "", "_hidden.pdf"},
		{"INV 2026/07", "", "INV_2026_07.pdf"},
		{"Rechnung Nr. 7 für Zoë", "", "Rechnung_Nr._7_f_r_Zo_.pdf"},
		{"請求書-7", "", "___-7.pdf"},
		{`a"b;c\d` + "\r\n", "", "a_b_c_d__.pdf"},
		{"bad\xffutf8", "", "bad_utf8.pdf"},
		{"v1.2_final", "", "v1.2_final.pdf"},
		{long, "", strings.Repeat("A", 100) + ".pdf"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if got := FileName(&account.Invoice{Number: tt.number, ID: tt.id}); got != tt.want {
				t.Errorf("FileName(%q, %q) = %q, want %q", tt.number, tt.id, got, tt.want)
			}
		})
	}
	if got := FileName(nil); got != "invoice.pdf" {
		t.Errorf("FileName(nil) = %q", got)
	}
}

func TestPDFText(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"GLX-2026-0007", "GLX-2026-0007"},
		{"Hauptstraße 12, Zoë, Łódź, Ærø", "Hauptstraße 12, Zoë, Łódź, Ærø"},
		{"Zoe\u0308 Mu\u0308ller", "Zoë Müller"}, // decomposed accents are composed
		{"Αθήνα, Москва", "Αθήνα, Москва"},
		{"€ £ ¥", "€ £ ¥"},
		{"line\nbreak\ttab\x00nul", "line break tab nul"},
		{"a\u202eevil\u202c b\u200bc", "aevil bc"}, // bidi override and zero-width space
		{"12\u202f490,00\u00a0€", "12\u00a0490,00\u00a0€"},
		{"￥12,490", "¥12,490"},
		{"請求書", "???"},
		{"ok 😀", "ok ?"},
		{"\U00010000", "?"},
		{"bad\xffutf8", "bad\ufffdutf8"},
		{"x\u0308", "?"}, // composed to U+1E8D, which the fonts lack
		{"q\u0308", "q"}, // no precomposed letter: the accent is dropped
	}
	for _, tt := range tests {
		if got := pdfText(tt.in); got != tt.want {
			t.Errorf("pdfText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestRenderHTMLSaysEachOnce: the invoice's heading names the invoice and its status once, the
// seller once (the page's top bar already shows the tenant), and the number is kept on one line.
func TestRenderHTMLSaysEachOnce(t *testing.T) {
	t.Parallel()
	for _, locale := range []string{"en", "de-DE", "ja"} {
		in := input(t, "inv_2026_0007", locale)
		out := renderHTML(t, in)
		text := htmlText(t, out)
		label := i18n.ForLocale(locale).T("invoices.status.overdue")
		for what, n := range map[string]int{
			in.Tenant.Name: strings.Count(text, in.Tenant.Name),
			label:          strings.Count(text, label),
		} {
			if n != 1 {
				t.Errorf("%s: %q shown %d times, want once:\n%s", locale, what, n, text)
			}
		}
		if !strings.Contains(out, `<span class="invoice-number">GLX-2026-0007</span>`) {
			t.Errorf("%s: the heading does not keep the number together:\n%s", locale, out)
		}
	}
}
