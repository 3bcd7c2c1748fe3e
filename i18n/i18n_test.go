package i18n

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

// TestCatalogsComplete fails when a message of English is missing in a catalog, when a catalog
// has a message English does not, when a message's placeholders differ from English's, when a
// plural message lacks a form its language needs (or has one it never uses), or when braces are
// unbalanced.
func TestCatalogsComplete(t *testing.T) {
	en := catalogs[0]
	if len(en.msgs) < 200 {
		t.Fatalf("English has %d messages; the catalog did not load", len(en.msgs))
	}
	for i, c := range catalogs {
		for _, e := range checkComplete(files[i], c.tag, en.msgs, c.msgs) {
			t.Error(e)
		}
	}
}

// TestCatalogFilesAreObjects guards the catalog format: each file is one JSON object without
// duplicate keys (encoding/json would silently keep the last one).
func TestCatalogFilesAreObjects(t *testing.T) {
	for _, f := range files {
		data, err := localeFS.ReadFile("locales/" + f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("%s: not a JSON object", f)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			key := tok.(string)
			if seen[key] {
				t.Errorf("%s: key %q appears twice", f, key)
			}
			seen[key] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
}

// keyUse finds message keys in Go and template sources: every string literal that starts with the
// name of a message family ("error.linkUsed", "plan.status.").
var keyUse = regexp.MustCompile(`"((?:layout|page|common|error|info|cancel|billing|autopay|plan|invoices|details|method|doc|email|duration)\.[A-Za-z0-9_.]*)"`)

var hostName = regexp.MustCompile(`\.(com|example|test|org|net|localhost|invalid)$`)

// TestUsedKeysExist scans the portal's sources for literal message keys and fails on any that
// English does not have (a typo would show the key to customers). A literal is a key, the
// prefix of keys made by appending a value ("plan.status." + status), or the stem of a
// message page's key+".title" and key+".body".
func TestUsedKeysExist(t *testing.T) {
	roots := []string{"../plugins", "../gateway"}
	found := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || d.Name() == "dashboard" {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, ".html") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range keyUse.FindAllSubmatch(data, -1) {
				key := string(m[1])
				if hostName.MatchString(key) {
					continue // "billing.acme.com" is a host in an example, not a message
				}
				found++
				prefix := strings.HasSuffix(key, ".") && slices.ContainsFunc(Keys(), func(k string) bool { return strings.HasPrefix(k, key) })
				if !Has(key) && !prefix && !(Has(key+".title") && Has(key+".body")) && !ownCatalogHas(path, key) {
					t.Errorf("%s uses message %q, which English does not have", path, key)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 100 {
		t.Fatalf("found only %d message uses; the scan is broken", found)
	}
}

func TestResolveChain(t *testing.T) {
	tests := []struct {
		requested, account, tenant string
		want                       language.Tag
		format                     string
	}{
		{"pt-BR", "", "", BrazilianPortuguese, "pt-BR"},
		{"pt-BR", "de-DE", "fr", BrazilianPortuguese, "pt-BR"},
		{"pt-PT", "de-DE", "", BrazilianPortuguese, "pt-PT"}, // the language: Portuguese
		{"pt", "", "", BrazilianPortuguese, "pt"},
		{"de-AT", "fr", "", German, "de-AT"},
		{"de-CH", "", "", German, "de-CH"},
		{"de-DE", "", "", German, "de-DE"},
		{"en-GB", "de", "", English, "en-GB"},
		{"es-419", "", "", Spanish, "es-419"},
		{"es-MX", "", "", Spanish, "es-MX"},
		{"fr-CA", "", "", French, "fr-CA"},
		{"ja", "", "", Japanese, "ja"},
		{"ja-JP", "", "", Japanese, "ja-JP"},
		{"zh", "de-DE", "fr", German, "de-DE"}, // unsupported: the account's
		{"zh", "", "fr", French, "fr"},         // then the tenant's
		{"zh", "", "", English, "en"},          // then English
		{"zh", "ko", "it", English, "en"},
		{"xx-YY", "de-DE", "", German, "de-DE"}, // unknown language
		{"not a locale!", "es", "", Spanish, "es"},
		{"", "ja-JP", "de", Japanese, "ja-JP"},
		{"", "", "de", German, "de"},
		{"", "", "", English, "en"},
		{"gl", "fr", "", French, "fr"}, // x/text offers Spanish for Galician; the chain prefers the account
	}
	for _, tt := range tests {
		tag, format := ResolveFormat(tt.requested, tt.account, tt.tenant)
		if tag != tt.want || format != tt.format {
			t.Errorf("ResolveFormat(%q, %q, %q) = %v, %q; want %v, %q", tt.requested, tt.account, tt.tenant, tag, format, tt.want, tt.format)
		}
		if got := Resolve(tt.requested, tt.account, tt.tenant); got != tt.want {
			t.Errorf("Resolve(%q, %q, %q) = %v", tt.requested, tt.account, tt.tenant, got)
		}
	}
}

func TestResolveAccept(t *testing.T) {
	tests := []struct {
		header, tenant string
		want           language.Tag
	}{
		{"de-DE,de;q=0.9,en;q=0.8", "en", German},
		{"pt-BR", "en", BrazilianPortuguese},
		{"pt-PT,pt;q=0.9", "", BrazilianPortuguese},
		{"zh-CN,zh;q=0.9,fr;q=0.5", "en", French},
		{"zh-CN", "es", Spanish},
		{"zh-CN", "", English},
		{"", "ja", Japanese},
		{"*", "", English},
		{"ja;q=0.1, es;q=0.9", "", Spanish},
		{"garbage;;;q=x", "de", German},
	}
	for _, tt := range tests {
		if got, _ := ResolveAccept(tt.header, tt.tenant); got != tt.want {
			t.Errorf("ResolveAccept(%q, %q) = %v, want %v", tt.header, tt.tenant, got, tt.want)
		}
	}
}

func TestPrinterLang(t *testing.T) {
	for locale, want := range map[string]string{
		"pt-BR": "pt-BR", "pt-PT": "pt-BR", "de-DE": "de", "de-AT": "de", "en-GB": "en", "ja-JP": "ja", "fr": "fr", "es-419": "es", "zh": "en", "": "en",
	} {
		if got := ForLocale(locale).Lang(); got != want {
			t.Errorf("ForLocale(%q).Lang() = %q, want %q", locale, got, want)
		}
	}
}

func TestPlurals(t *testing.T) {
	want := map[language.Tag][3]string{ // 0, 1, 2 invoices
		English:             {"0 invoices, newest first", "1 invoice, newest first", "2 invoices, newest first"},
		German:              {"0 Rechnungen, neueste zuerst", "1 Rechnung, neueste zuerst", "2 Rechnungen, neueste zuerst"},
		French:              {"0 facture, la plus récente en premier", "1 facture, la plus récente en premier", "2 factures, les plus récentes en premier"},
		Spanish:             {"0 facturas, las más recientes primero", "1 factura, la más reciente primero", "2 facturas, las más recientes primero"},
		BrazilianPortuguese: {"0 fatura, a mais recente primeiro", "1 fatura, a mais recente primeiro", "2 faturas, as mais recentes primeiro"},
		Japanese:            {"請求書 0 件（新しい順）", "請求書 1 件（新しい順）", "請求書 2 件（新しい順）"},
	}
	for _, tag := range Supported {
		for n, w := range want[tag] {
			if got := T(tag, "invoices.caption", "count", n); got != w {
				t.Errorf("%v, %d: %q, want %q", tag, n, got, w)
			}
		}
	}
	// Integers are grouped as the language writes them.
	if got := T(German, "invoices.caption", "count", 1234); got != "1.234 Rechnungen, neueste zuerst" {
		t.Errorf("German 1234: %q", got)
	}
	if got := T(English, "duration.days", "count", int64(1)); got != "1 day" {
		t.Errorf("English 1 day: %q", got)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		tag  language.Tag
		d    time.Duration
		want string
	}{
		{English, time.Hour, "1 hour"},
		{English, 26*time.Hour + 30*time.Second, "1 day 2 hours"},
		{English, 30 * time.Second, "less than a minute"},
		{German, 2 * time.Hour, "2 Stunden"},
		{Spanish, 49 * time.Hour, "2 días y 1 hora"},
		{Japanese, 25 * time.Hour, "1日1時間"},
		{French, 45 * time.Minute, "45 minutes"},
		// Rounded to the minute, at most two units, stopping at the first gap ("1 day 5 minutes"
		// reads oddly).
		{English, time.Minute, "1 minute"},
		{English, 90 * time.Minute, "1 hour 30 minutes"},
		{English, 59*time.Minute + 50*time.Second, "1 hour"},
		{English, 7 * 24 * time.Hour, "7 days"},
		{English, 24*time.Hour + 5*time.Minute, "1 day"},
	}
	for _, tt := range tests {
		if got := NewPrinter(tt.tag).Duration(tt.d); got != tt.want {
			t.Errorf("%v %v: %q, want %q", tt.tag, tt.d, got, tt.want)
		}
	}
}

func TestTFallbacks(t *testing.T) {
	if got := T(German, "layout.backTo", "tenant", "ACME"); got != "Zurück zu ACME" {
		t.Errorf("German back link: %q", got)
	}
	if got := T(language.Chinese, "layout.signOut"); got != "Sign out" {
		t.Errorf("unsupported language: %q", got)
	}
	if got := T(BrazilianPortuguese, "no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
	if got := T(English, "layout.backTo"); got != "Back to {tenant}" {
		t.Errorf("missing argument: %q", got)
	}
	if got := NewPrinter(language.MustParse("de-AT")).Lang(); got != "de" {
		t.Errorf("NewPrinter(de-AT): %q", got)
	}
}

func TestTemplatesBindPerLanguage(t *testing.T) {
	base := template.Must(template.New("x").Funcs(Funcs()).Parse(`<a>{{t "layout.backTo" "tenant" .}}</a>`))
	ts := NewTemplates(base)
	for tag, want := range map[language.Tag]string{
		English: "<a>Back to A&amp;B</a>", German: "<a>Zurück zu A&amp;B</a>", Japanese: "<a>A&amp;B に戻る</a>",
	} {
		var b strings.Builder
		if err := ts.Execute(&b, NewPrinter(tag), "", "A&B"); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%v: %q, want %q", tag, b.String(), want)
		}
	}
}

func TestCountries(t *testing.T) {
	de := NewPrinter(German)
	if got := de.CountryName("DE"); got != "Deutschland" {
		t.Errorf("DE in German: %q", got)
	}
	if got := NewPrinter(Japanese).CountryName("DE"); got != "ドイツ" {
		t.Errorf("DE in Japanese: %q", got)
	}
	if got := de.CountryName("ZZ"); got != "ZZ" {
		t.Errorf("unknown: %q", got)
	}
	list := de.Countries([]string{"AT", "AE", "DE", "AF"})
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if want := []string{"Afghanistan", "Deutschland", "Österreich", "Vereinigte Arabische Emirate"}; !slices.Equal(names, want) {
		t.Errorf("German order %v, want %v", names, want)
	}
}

// TestNoEnglishLeftInTranslations fails when a translated message still carries a phrase of its
// English original (three words in a row, such as "Powered by Portico"): a sentence left
// half-translated.
func TestNoEnglishLeftInTranslations(t *testing.T) {
	phrase := regexp.MustCompile(`[A-Za-z][a-z]+(?:[ -][A-Za-z][a-z]*){1,}`)
	en := catalogs[0]
	for i, c := range catalogs[1:] {
		name := files[i+1]
		for key, want := range en.msgs {
			for form, text := range want.texts() {
				got := c.msgs[key].texts()[form]
				for _, run := range phrase.FindAllString(text, -1) {
					words := strings.Fields(strings.ReplaceAll(run, "-", " "))
					// Every three words in a row (two are often shared: "Link per E-Mail").
					for j := 0; j+3 <= len(words); j++ {
						p := strings.Join(words[j:j+3], " ")
						if regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(p) + `\b`).MatchString(got) {
							t.Errorf("%s: message %q keeps the English %q: %q", name, key, p, got)
						}
					}
				}
			}
		}
	}
}

// ownCatalogHas reports whether the English catalog a section brings (locales/en.json next to
// the source file, merged by AddCatalog when the section registers) has key.
func ownCatalogHas(source, key string) bool {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(source), "locales", "en.json"))
	if err != nil {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	has := func(k string) bool { _, ok := m[k]; return ok }
	if has(key) || has(key+".title") && has(key+".body") {
		return true
	}
	if strings.HasSuffix(key, ".") {
		for k := range m {
			if strings.HasPrefix(k, key) {
				return true
			}
		}
	}
	return false
}

// TestPortalTermsConsistent fails when the portal's messages (not the dashboard's, "dash.…") of
// a language call one thing by two names: Japanese calls a subscription サブスクリプション, not
// 契約 ("contract"), and Brazilian Portuguese the overview "resumo de cobrança", not "visão geral"
// (the change pages did, the pause and offer pages did not).
func TestPortalTermsConsistent(t *testing.T) {
	for _, c := range []struct{ file, avoid, use string }{
		{"ja.json", "契約", "サブスクリプション"},
		{"pt-BR.json", "visão geral", "resumo de cobrança"},
	} {
		i := slices.Index(files, c.file)
		if i < 0 {
			t.Fatalf("no catalog %s among %v", c.file, files)
		}
		for key, m := range catalogs[i].msgs {
			if strings.HasPrefix(key, "dash.") {
				continue
			}
			for _, text := range m.texts() {
				if strings.Contains(text, c.avoid) {
					t.Errorf("%s: message %q says %q; the portal says %q: %q", c.file, key, c.avoid, c.use, text)
				}
			}
		}
	}
}
