package gateway

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
)

const (
	nbsp   = "\u00a0"
	narrow = "\u202f"
)

// langAttr returns the page's html lang attribute.
func langAttr(page string) string {
	_, rest, ok := strings.Cut(page, `<html lang="`)
	if !ok {
		return ""
	}
	lang, _, _ := strings.Cut(rest, `"`)
	return lang
}

func wantAll(t *testing.T, what, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func wantNone(t *testing.T, what, page string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(page, w) {
			t.Errorf("%s has %q", what, w)
		}
	}
}

// putDoc puts the example account document, changed by r, as account id.
func putDoc(t *testing.T, h *harness, key, id string, r *strings.Replacer) {
	t.Helper()
	body, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	resp := h.do("PUT", "api."+base, "/v1/accounts/"+id, []byte(r.Replace(string(body))), "Authorization", "Bearer "+key)
	if resp.StatusCode() != 201 && resp.StatusCode() != 200 {
		t.Fatalf("PUT %s: %d %s", id, resp.StatusCode(), resp.Body())
	}
}

// TestPortalInGerman: a de-DE session shows the whole portal in German, with German formats.
func TestPortalInGerman(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("i18n-de", `{"accountId":"acc_7Hq2LmX9","locale":"de-DE"}`)
	page := ps.get("/")
	if got := langAttr(page); got != "de" {
		t.Errorf("lang = %q, want de", got)
	}
	wantAll(t, "German page", page,
		"<title>Abrechnung · Tenant I18N-DE</title>", "Zum Inhalt springen", "Abmelden",
		"Tarifübersicht", "Aktiv", "Voraussichtliche nächste Abbuchung", "12.490,00"+nbsp+"€", "1. Jan. 2027",
		"Preisaufschlüsselung", "Pauschale", "Gestaffelt", "ab 5.000.001", "Abonnement kündigen",
		"Rechnungen", "Überfällig", "Bezahlt", "1.190,00"+nbsp+"€", "PDF herunterladen",
		"Rechnungsinformationen", "Firmendaten", "Deutschland", "SEPA-Lastschrift, Deutsche Bank •••• 3000",
		"Ein — Abbuchung am Fälligkeitsdatum von Visa •••• 4242", "Abrechnungsportal von Tenant I18N-DE")
	wantNone(t, "German page", page, "Plan overview", "Estimated next charge", "Billing information", "Sign out", "Download PDF", "Germany")

	// The action pages: labels, the effect with a German date, validation messages, countries.
	form := ps.get("/subscriptions/sub_Pro_01/cancel")
	wantAll(t, "cancel form", form, `<html lang="de">`, "Pro (annual) kündigen", "Warum kündigen Sie?", "(Pflichtfeld)",
		"Ich brauche es nicht mehr", "31. Dez. 2026", "Möchten Sie Tenant I18N-DE noch etwas mitteilen?", "Abonnement behalten")
	st, body := ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"comment": {"zu teuer"}})
	if st != 422 {
		t.Fatalf("cancel without reason: %d", st)
	}
	wantAll(t, "cancel errors", body, "Wählen Sie den Grund, der am besten passt.", "zu teuer")
	st, body = ps.post("/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}, "comment": {strings.Repeat("x", 1001)}})
	if st != 422 {
		t.Fatalf("long comment: %d", st)
	}
	wantAll(t, "cancel errors", body, "Der Kommentar darf höchstens 1.000 Zeichen lang sein.")

	edit := ps.get("/billing/edit")
	wantAll(t, "billing form", edit, "Rechnungsdaten bearbeiten", "Firmenname", "Postleitzahl", "Bitte wählen…",
		`<option value="DE" selected>Deutschland</option>`, `<option value="AT">Österreich</option>`, "Rechnungsdaten speichern")
	if strings.Index(edit, ">Österreich<") < strings.Index(edit, ">Deutschland<") {
		t.Error("countries are not in German order")
	}
	st, body = ps.post("/billing/edit", url.Values{"legalName": {""}, "email": {"nope"}, "line1": {"x"}, "city": {"Berlin"}, "country": {"XX"}})
	if st != 422 {
		t.Fatalf("invalid billing details: %d", st)
	}
	wantAll(t, "billing errors", body, "Bitte korrigieren Sie die unten markierten Felder.", "Firmenname ist erforderlich.",
		"Geben Sie eine E-Mail-Adresse wie billing@example.com ein.", "Wählen Sie ein Land.")

	wantAll(t, "auto-pay form", ps.get("/billing/autopay"), "Rechnungen automatisch bezahlen", "Ein, belastet wird Visa •••• 4242", "Am Fälligkeitsdatum")

	// Refusals and not-found pages of a session are German too.
	if r := h.do("GET", ps.host, "/payment-methods/add", nil, "Cookie", ps.cookie); r.StatusCode() != 403 ||
		!strings.Contains(string(r.Body()), "Nicht verfügbar") || !strings.Contains(string(r.Body()), "Bitte wenden Sie sich an Tenant I18N-DE.") {
		t.Errorf("403 page: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("GET", ps.host, "/invoices/inv_nope", nil, "Cookie", ps.cookie); r.StatusCode() != 404 || !strings.Contains(string(r.Body()), "Rechnung nicht gefunden") {
		t.Errorf("404 page: %d", r.StatusCode())
	}
	if r := h.do("GET", ps.host, "/nowhere", nil, "Cookie", ps.cookie, "Accept-Language", "de"); r.StatusCode() != 404 || !strings.Contains(string(r.Body()), "Seite nicht gefunden") {
		t.Errorf("unknown page: %d", r.StatusCode())
	}

	// The invoice page.
	inv := ps.get("/invoices/inv_2026_0007")
	wantAll(t, "invoice page", inv, `<html lang="de">`, "<title>Rechnung GLX-2026-0007 · Tenant I18N-DE</title>", "Rechnung an",
		"Fälligkeitsdatum", "31. Okt. 2026", "Gesamtbetrag", "1.190,00"+nbsp+"€", "Zurück zur Abrechnung")

	// Signing out.
	st, body = ps.post("/logout", nil)
	if st != 200 || !strings.Contains(body, "Sie haben sich abgemeldet") {
		t.Errorf("sign-out page: %d %s", st, body)
	}
}

// TestPortalInBrazilianPortuguese: pt-BR is Brazilian Portuguese (lang="pt-BR"), with "€ 12.490,00"
// for euros and "R$ 1.234,56" for reais.
func TestPortalInBrazilianPortuguese(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("i18n-pt", `{"accountId":"acc_7Hq2LmX9","locale":"pt-BR"}`)
	page := ps.get("/")
	if got := langAttr(page); got != "pt-BR" {
		t.Errorf("lang = %q, want pt-BR", got)
	}
	wantAll(t, "Portuguese page", page, "Pular para o conteúdo", "Sair", "Resumo do plano", "Ativa", "Próxima cobrança estimada",
		"€"+nbsp+"12.490,00", "1 de jan. de 2027", "Faturas", "Vencida", "Paga", "Baixar PDF", "Informações de cobrança",
		"Alemanha", "Débito direto SEPA, Deutsche Bank •••• 3000", "Portal de cobrança de Tenant I18N-PT")
	wantNone(t, "Portuguese page", page, "Plan overview", "Invoices<", "Billing information")

	// An account billed in reais.
	putDoc(t, h, ps.key, "acc_brl", strings.NewReplacer(`"EUR"`, `"BRL"`, `"id": "acc_7Hq2LmX9"`, `"id": "acc_brl"`,
		`"alias": "crm-001234"`, `"alias": "crm-brl"`, `"locale": "de-DE"`, `"locale": "pt-BR"`))
	st, res, raw := h.createSession(ps.key, `{"accountId":"acc_brl"}`) // no locale: the account's pt-BR
	if st != 201 {
		t.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	brl := string(h.do("GET", ps.host, "/", nil, "Cookie", cookie).Body())
	wantAll(t, "BRL page", brl, `<html lang="pt-BR">`, "R$"+nbsp+"12.490,00", "R$"+nbsp+"1.190,00", "Resumo do plano")
}

// TestPortalInJapanese: ja shows Japanese texts and dates.
func TestPortalInJapanese(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("i18n-ja", `{"accountId":"acc_7Hq2LmX9","locale":"ja"}`)
	page := ps.get("/")
	if got := langAttr(page); got != "ja" {
		t.Errorf("lang = %q, want ja", got)
	}
	wantAll(t, "Japanese page", page, "本文へスキップ", "ログアウト", "プランの概要", "有効", "次回請求額（見込み）", "€12,490.00",
		"2027年1月1日", "請求書", "期限超過", "支払済み", "PDF をダウンロード", "請求先情報", "ドイツ", "Tenant I18N-JA の請求ポータル")
	wantAll(t, "Japanese cancel form", ps.get("/subscriptions/sub_Pro_01/cancel"), "解約の理由をお聞かせください", "2026年12月31日")
	wantNone(t, "Japanese page", page, "Plan overview", "Billing information", "Sign out")
}

// TestPortalInFrenchAndSpanish checks the other two languages' pages and their formats.
func TestPortalInFrenchAndSpanish(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	fr := h.customer("i18n-fr", `{"accountId":"acc_7Hq2LmX9","locale":"fr-FR"}`).get("/")
	wantAll(t, "French page", fr, `<html lang="fr">`, "Aperçu de l’offre", "12"+narrow+"490,00"+nbsp+"€", "1 janv. 2027", "Factures", "En retard", "Allemagne")
	es := h.customer("i18n-es", `{"accountId":"acc_7Hq2LmX9","locale":"es-419"}`).get("/")
	wantAll(t, "Spanish page", es, `<html lang="es">`, "Resumen del plan", "12.490,00"+nbsp+"€", "1 ene 2027", "Facturas", "Vencida", "Alemania")
}

// TestLocaleFallbackChain: an unknown or unsupported locale falls back to the account's locale;
// a regional variant to its language; an account without locale to the tenant's default.
func TestLocaleFallbackChain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("i18n-fb")
	for _, tt := range []struct{ locale, lang, text string }{
		{"xx-YY", "de", "Tarifübersicht"}, // unknown language: the account's de-DE
		{"zh-Hant", "de", "Tarifübersicht"},
		{"de-AT", "de", "Tarifübersicht"},
		{"pt-PT", "pt-BR", "Resumo do plano"}, // its language: Portuguese
		{"en-GB", "en", "Plan overview"},
	} {
		st, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","locale":"`+tt.locale+`"}`)
		if st != 201 {
			t.Fatalf("%s: create session: %d %s", tt.locale, st, raw)
		}
		_, cookie, _ := h.open(res["sessionUrl"].(string))
		page := string(h.do("GET", "i18n-fb."+base, "/", nil, "Cookie", cookie).Body())
		if langAttr(page) != tt.lang || !strings.Contains(page, tt.text) {
			t.Errorf("locale %s: lang %q, want %q with %q", tt.locale, langAttr(page), tt.lang, tt.text)
		}
	}
	// en-GB keeps its regional date format while reading English.
	st, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","locale":"en-GB"}`)
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	if page := string(h.do("GET", "i18n-fb."+base, "/", nil, "Cookie", cookie).Body()); st != 201 || !strings.Contains(page, "1 Jan 2027") {
		t.Errorf("en-GB date format not kept")
	}

	// Without the account's locale, the tenant's default applies.
	putDoc(t, h, key, "acc_7Hq2LmX9", strings.NewReplacer(`"locale": "de-DE",`, ``))
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { t.DefaultLocale = "fr"; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	waitTenant(t, h, tn.ID, func(t *tenants.Tenant) bool { return t.DefaultLocale == "fr" })
	st, res, raw := h.createSession(key, `{"accountId":"acc_7Hq2LmX9","locale":"zh"}`)
	if st != 201 {
		t.Fatalf("create session: %d %s", st, raw)
	}
	_, cookie, _ = h.open(res["sessionUrl"].(string))
	if page := string(h.do("GET", "i18n-fb."+base, "/", nil, "Cookie", cookie).Body()); langAttr(page) != "fr" || !strings.Contains(page, "Aperçu de l’offre") {
		t.Errorf("tenant default: lang %q", langAttr(page))
	}
}

// TestErrorPagesFollowAcceptLanguage: pages shown before a session exists use the browser's
// Accept-Language (through the same matcher), else the tenant's default, else English.
func TestErrorPagesFollowAcceptLanguage(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("i18n-err")
	host := "i18n-err." + base
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	link := res["sessionUrl"].(string)
	h.open(link)
	_, path := sessionPath(t, link)
	for _, tt := range []struct {
		accept, lang string
		want         []string
	}{
		{"de-DE,de;q=0.9,en;q=0.8", "de", []string{"Dieser Link wurde bereits verwendet", "bitten Sie Tenant I18N-ERR um einen neuen Link"}},
		{"pt-BR", "pt-BR", []string{"Este link já foi usado", "peça um novo link a Tenant I18N-ERR"}},
		{"ja,en;q=0.5", "ja", []string{"このリンクは使用済みです"}},
		{"zh-CN,fr;q=0.7", "fr", []string{"Ce lien a déjà été utilisé"}},
		{"es-MX", "es", []string{"Este enlace ya se ha usado"}},
		{"zh-CN", "en", []string{"This link has already been used"}},
		{"", "en", []string{"This link has already been used"}},
	} {
		r := h.do("GET", host, path, nil, "Accept-Language", tt.accept)
		page := string(r.Body())
		if r.StatusCode() != 410 || langAttr(page) != tt.lang {
			t.Errorf("Accept-Language %q: %d lang %q, want 410 %q", tt.accept, r.StatusCode(), langAttr(page), tt.lang)
		}
		wantAll(t, "used-link page ("+tt.accept+")", page, tt.want...)
	}
	checks := []struct {
		path, accept string
		status       int
		want         string
	}{
		{"/s/" + strings.Repeat("A", 43), "fr", 404, "Ce lien n’est pas valide"},
		{"/", "de", 401, "Ihre Sitzung ist beendet"},
		{"/billing/edit", "ja", 401, "セッションが終了しました"},
		{"/nowhere", "es", 404, "Página no encontrada"},
	}
	for _, c := range checks {
		r := h.do("GET", host, c.path, nil, "Accept-Language", c.accept)
		if r.StatusCode() != c.status || !strings.Contains(string(r.Body()), c.want) {
			t.Errorf("GET %s (%s): %d, want %d with %q", c.path, c.accept, r.StatusCode(), c.status, c.want)
		}
	}
	// A session's pages keep the session's language whatever the browser says.
	ps := h.customer("i18n-err2", `{"accountId":"acc_7Hq2LmX9","locale":"es"}`)
	if r := h.do("GET", ps.host, "/", nil, "Cookie", ps.cookie, "Accept-Language", "de"); !strings.Contains(string(r.Body()), "Resumen del plan") {
		t.Error("Accept-Language overrode the session's locale")
	}
}

// pdfText extracts the text of a PDF with pdftotext (poppler-utils), runs of spaces as one.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext not found: the PDF tests need poppler-utils (apt-get install poppler-utils; make installs it)")
	}
	file := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(tool, "-layout", "-enc", "UTF-8", file, "-")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("pdftotext: %v\n%s", err, stderr.String())
	}
	s := strings.NewReplacer(nbsp, " ", narrow, " ").Replace(string(out))
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

// invoicePDFText downloads the PDF of invoice inv_2026_0007 in a session of a new tenant (slug) in
// a locale, and returns the session and the PDF's text.
func invoicePDFText(t *testing.T, slug, locale string) (*portalSession, string) {
	t.Helper()
	h := newHarness(t)
	ps := h.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"`+locale+`"}`)
	r := h.do("GET", ps.host, "/invoices/inv_2026_0007.pdf", nil, "Cookie", ps.cookie)
	if r.StatusCode() != 200 || string(r.Header.ContentType()) != "application/pdf" {
		t.Fatalf("PDF: %d %q", r.StatusCode(), r.Header.ContentType())
	}
	return ps, pdfText(t, r.Body())
}

// TestInvoicePDFInFrench: the PDF of a fr session has French labels and formats.
func TestInvoicePDFInFrench(t *testing.T) {
	t.Parallel()
	ps, text := invoicePDFText(t, "i18n-pdf", "fr")
	wantAll(t, "French PDF", text, "Facture", "En retard", "FACTURER À", "Allemagne", "N° de TVA : DE123456789",
		"Numéro de facture GLX-2026-0007", "Date d’émission 1 oct. 2026", "Date d’échéance 31 oct. 2026",
		"Description Quantité Prix unitaire Montant", "Sous-total 1 000,00 €", "TVA (19 %) 190,00 €", "Total 1 190,00 €",
		"Montant payé 0,00 €", "Montant restant dû 1 190,00 €", "Page 1 sur 1")
	wantNone(t, "French PDF", text, "Invoice number", "Amount remaining", "BILL TO")
	page := ps.get("/invoices/inv_2026_0007")
	wantAll(t, "French invoice page", page, `<html lang="fr">`, "<title>Facture GLX-2026-0007 · Tenant I18N-PDF</title>", "Télécharger le PDF", "Retour à la facturation")
}

// TestInvoicePDFInJapanese: the PDF of a ja session, downloaded from the portal, is set in the
// CJK font with Japanese labels, dates and the country name (the Go fonts have no Japanese glyphs).
func TestInvoicePDFInJapanese(t *testing.T) {
	t.Parallel()
	_, text := invoicePDFText(t, "i18n-pdf-ja", "ja")
	ja := i18n.ForLocale("ja")
	wantAll(t, "Japanese PDF", text, ja.T("doc.heading"), ja.T("doc.billTo"), ja.T("doc.total"),
		ja.T("invoices.status.overdue"), "2026年10月1日", "ドイツ", "GLX-2026-0007")
	wantNone(t, "Japanese PDF", text, "Invoice number", "BILL TO", "Total", "Germany", "?")
}
