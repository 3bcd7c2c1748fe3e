package dashboard_test

import (
	"bytes"
	"html/template"
	"mime/multipart"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/i18n"
)

// inLang is a request of the agent from a browser set to the language header (none when empty).
func (a *agent) inLang(header, method, path string, body []byte, extra ...string) *fasthttp.Response {
	a.h.t.Helper()
	if header != "" {
		extra = append(extra, "Accept-Language", header)
	}
	return a.do(method, dashHost, path, body, extra...)
}

// formIn posts a form with the CSRF token of the page at path, in a language.
func (a *agent) formIn(header, path string, values ...string) *fasthttp.Response {
	a.h.t.Helper()
	v := url.Values{"csrf": {a.csrf(path)}}
	for i := 0; i+1 < len(values); i += 2 {
		v.Add(values[i], values[i+1])
	}
	return a.inLang(header, "POST", path, []byte(v.Encode()), "Origin", origin, "Content-Type", "application/x-www-form-urlencoded")
}

// uploadIn posts the branding form with a logo file, in a language.
func (a *agent) uploadIn(header, filename string, data []byte) *fasthttp.Response {
	a.h.t.Helper()
	csrf := a.csrf("/settings/branding")
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", csrf)
	w.WriteField("primary_color", "#112233")
	w.WriteField("accent_color", "#0f766e")
	fw, _ := w.CreateFormFile("logo", filename)
	fw.Write(data)
	w.Close()
	return a.inLang(header, "POST", "/settings/branding", body.Bytes(), "Origin", origin, "Content-Type", w.FormDataContentType())
}

var htmlLangRE = regexp.MustCompile(`<html lang="([^"]*)">`)

// page checks a response: its status, its html lang, that it shows each message (HTML-escaped as
// the page writes it) and, in another language than English, none of those messages' English
// text (where it differs), nor any other multi-word English text of the dashboard's messages.
func page(t *testing.T, what string, r *fasthttp.Response, status int, p *i18n.Printer, msgs map[string][]any, literals ...string) string {
	t.Helper()
	body := string(r.Body())
	if r.StatusCode() != status {
		t.Fatalf("%s: status %d, want %d:\n%s", what, r.StatusCode(), status, body)
	}
	if m := htmlLangRE.FindStringSubmatch(body); m == nil || m[1] != p.Lang() {
		t.Errorf("%s: html lang %v, want %q", what, m, p.Lang())
	}
	en := i18n.NewPrinter(i18n.English)
	for key, args := range msgs {
		if !i18n.Has(key) {
			t.Errorf("%s: no message %q", what, key)
			continue
		}
		want := template.HTMLEscapeString(p.T(key, args...))
		if !strings.Contains(body, want) {
			t.Errorf("%s: lacks %s %q", what, key, want)
		}
		if english := template.HTMLEscapeString(en.T(key, args...)); p.Lang() != "en" && english != want && !strings.Contains(want, english) && strings.Contains(body, english) {
			t.Errorf("%s: shows the English %s %q", what, key, english)
		}
	}
	for _, l := range literals {
		if !strings.Contains(body, l) {
			t.Errorf("%s: lacks %q", what, l)
		}
	}
	if p.Lang() != "en" {
		for _, key := range i18n.Keys() {
			english := en.T(key)
			if !strings.HasPrefix(key, "dash.") || !strings.Contains(english, " ") || strings.Contains(english, "{") || english == p.T(key) {
				continue
			}
			if strings.Contains(body, template.HTMLEscapeString(english)) {
				t.Errorf("%s: shows the English text of %s: %q", what, key, english)
			}
		}
	}
	return body
}

// TestDashboardLanguages: the dashboard speaks the language of the admin's browser
// (Accept-Language): sign-in, customers, branding and a page with a flash message, an error from
// a form and a refused logo; English when the header names no supported language.
func TestDashboardLanguages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	tests := []struct {
		header, lang string
		literal      string // one text of the language, written out
		dateTime     *regexp.Regexp
	}{
		{"", "en", "Sign in to your dashboard", regexp.MustCompile(`[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} UTC`)},
		{"en-US,en;q=0.9", "en", "Sign in to your dashboard", nil},
		{"de", "de", "Anmelden", regexp.MustCompile(`\d{1,2}\. [A-ZÄÖÜ][a-zä]+\.? \d{4}, \d{2}:\d{2} UTC`)},
		{"fr-FR,fr;q=0.9,en;q=0.5", "fr", "Se connecter", regexp.MustCompile(`\d{1,2} [a-zéû]+\.? \d{4} à \d{2}:\d{2} UTC`)},
		{"es", "es", "Iniciar sesión", nil},
		{"pt-BR", "pt-BR", "Entrar", regexp.MustCompile(`\d{1,2} de [a-z]+\. de \d{4} às \d{2}:\d{2} UTC`)},
		{"ja", "ja", "ログイン", regexp.MustCompile(`\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2} UTC`)},
		{"xx", "en", "Sign in to your dashboard", nil},            // unsupported: English
		{"de-AT", "de", "Anmelden", nil},                          // a region of a supported language
		{"zh-CN, pt;q=0.8", "pt-BR", "Entrar", nil},               // the first supported one
		{"*", "en", "Sign in to your dashboard", nil},             // any: English
		{"not;;a=header", "en", "Sign in to your dashboard", nil}, // unreadable: English
	}
	for _, tt := range tests {
		t.Run(tt.header+"→"+tt.lang, func(t *testing.T) {
			p := i18n.ForLocale(tt.lang)
			if p.Lang() != tt.lang {
				t.Fatalf("no printer for %q", tt.lang)
			}
			// Before signing in.
			page(t, "sign-in page", h.agent().inLang(tt.header, "GET", "/login", nil), 200, p, map[string][]any{
				"dash.login.title": nil, "dash.login.workspace": nil, "dash.login.password": nil, "dash.login.submit": nil,
				"dash.login.pageTitle": nil, "dash.layout.skipLink": nil, "dash.layout.footer": nil,
			}, tt.literal)

			// Signed in: the customers page, a search, the branding page.
			page(t, "customers page", a.inLang(tt.header, "GET", "/customers", nil), 200, p, map[string][]any{
				"dash.customers.title": nil, "dash.customers.searchLabel": nil, "dash.customers.search": nil,
				"dash.customers.count": {"count", 1}, "dash.customers.col.name": nil, "dash.layout.signOut": nil,
				"dash.nav.customers": nil, "dash.nav.apiKeys": nil, "dash.nav.password": nil,
			})
			page(t, "search", a.inLang(tt.header, "GET", "/customers?q=nobody", nil), 200, p, map[string][]any{
				"dash.customers.noMatch": {"query", "nobody"}, "dash.customers.clear": nil,
			})
			page(t, "branding page", a.inLang(tt.header, "GET", "/settings/branding", nil), 200, p, map[string][]any{
				"dash.branding.title": nil, "dash.branding.sub": nil, "dash.branding.save": nil, "dash.branding.contrast": nil,
				"dash.branding.readable": nil, "dash.branding.previewTitle": nil, "dash.branding.contrastHint": nil,
				"dash.contrast.titles": nil, "dash.branding.preview.download": nil,
			})
			// A page with a flash message.
			page(t, "saved portal settings", a.formIn(tt.header, "/settings/portal", "show_plan_overview", "on", "show_invoices", "on",
				"cancel_mode", "end_of_term", "link_ttl", "60", "session_ttl", "30"), 200, p, map[string][]any{
				"dash.portal.saved": nil, "dash.portal.title": nil, "dash.portal.save": nil, "dash.portal.endOfTerm": nil,
			}, `class="alert alert-ok"`)
			// Errors said by the Go code: a refused domain, a refused logo.
			page(t, "refused domain", a.formIn(tt.header, "/settings/domains", "action", "add", "domain", "not a domain"), 400, p, map[string][]any{
				"dash.domains.error.notHost": {"domain", "not a domain"}, "dash.domains.title": nil,
			}, `class="alert alert-error"`)
			page(t, "refused logo", a.uploadIn(tt.header, "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)), 415, p, map[string][]any{
				"dash.branding.error.notSaved": {"error", p.T("dash.logo.error.svg")},
			})
			// Times are in the admin's language, in UTC.
			body := page(t, "API keys", a.formIn(tt.header, "/settings/api-keys", "action", "create", "name", "i18n "+tt.lang), 200, p, map[string][]any{
				"dash.apiKeys.title": nil, "dash.apiKeys.copyNow": nil, "dash.apiKeys.col.created": nil,
			}, `id="api-key"`)
			if tt.dateTime != nil && !tt.dateTime.MatchString(body) {
				t.Errorf("API keys: no time like %v", tt.dateTime)
			}
		})
	}
}

// TestDashboardFormatsInLanguage: dates and amounts on a customer's page follow the admin's
// language; English stays as it was.
func TestDashboardFormatsInLanguage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	for header, want := range map[string][]string{
		"":   {"€12,490.00", "Jan 1, 2027", "Overdue", "Estimated next charge", "Emails the link to billing@globex.example. At most 5 links per customer per hour."},
		"de": {"12.490,00\u00a0€", "1. Jan. 2027", "Überfällig", "Voraussichtliche nächste Abbuchung", "Höchstens 5 Links pro Kunde und Stunde."},
		"fr": {"12\u202f490,00\u00a0€", "1 janv. 2027", "En retard", "Au plus 5 liens par client et par heure."},
		"ja": {"2027年1月1日", "期限超過", "次回請求額（見込み）"},
	} {
		body := string(a.inLang(header, "GET", "/customers/acc_7Hq2LmX9", nil).Body())
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%q: the customer page lacks %q", header, w)
			}
		}
	}
	// ValidateLogo's errors stay English for its callers and logs.
	if _, err := dashboard.ValidateLogo(nil); err == nil || err.Error() != "Choose an image file to upload." {
		t.Errorf("ValidateLogo(nil): %v", err)
	}
}

// keyUse finds message keys in the dashboard's sources: string literals of the dashboard's family
// ("dash.") and of the portal's families it reuses.
var keyUse = regexp.MustCompile(`"((?:dash|layout|page|plan|invoices|details|common)\.[A-Za-z0-9_.]*)"`)

// TestDashboardMessagesExist fails on a message key in the dashboard's Go code or templates that
// English does not have (a typo would show the key to admins), and on a "dash." message nothing
// uses. A literal ending in "." is the prefix of keys made by appending a value
// ("dash.domains.status." + status). (The i18n package's own scan skips this directory.)
func TestDashboardMessagesExist(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	html, _ := filepath.Glob("web/*.html")
	var used []string
	for _, f := range append(files, html...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range keyUse.FindAllSubmatch(data, -1) {
			used = append(used, string(m[1]))
		}
	}
	if len(used) < 200 {
		t.Fatalf("found only %d message uses; the scan is broken", len(used))
	}
	keys := i18n.Keys()
	for _, key := range used {
		prefix := strings.HasSuffix(key, ".") && slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, key) })
		if !i18n.Has(key) && !prefix {
			t.Errorf("the dashboard uses message %q, which English does not have", key)
		}
	}
	for _, key := range keys {
		if !strings.HasPrefix(key, "dash.") {
			continue
		}
		if !slices.ContainsFunc(used, func(u string) bool { return u == key || strings.HasSuffix(u, ".") && strings.HasPrefix(key, u) }) {
			t.Errorf("message %q is not used by the dashboard", key)
		}
	}
}

// TestDashboardOneDateStyle: a page writes every date, alone or with a time, in one style per
// language, the portal's (i18n.Date): "Jan 1, 2027" and "Dec 4, 2026, 14:30 UTC" in English,
// "1 Jan 2027" and "4 Dec 2026, 14:30 UTC" in British English; never both on one page.
func TestDashboardOneDateStyle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	monthFirst := regexp.MustCompile(`\b[A-Z][a-z]{2} \d{1,2}, \d{4}\b`)
	dayFirst := regexp.MustCompile(`\b\d{1,2} [A-Z][a-z]{2} \d{4}\b`)
	dateTime := regexp.MustCompile(`\d{4}, \d{2}:\d{2} UTC`)
	for _, tt := range []struct {
		header    string
		want, not *regexp.Regexp
	}{
		{"", monthFirst, dayFirst},
		{"en-US", monthFirst, dayFirst},
		{"en-GB", dayFirst, monthFirst},
	} {
		// The customer page with invoice dates and the expiry time of a copied link.
		csrf := a.csrf("/customers/acc_7Hq2LmX9")
		customer := string(a.inLang(tt.header, "POST", "/customers/acc_7Hq2LmX9/copy-link", []byte(url.Values{"csrf": {csrf}}.Encode()),
			"Origin", origin, "Content-Type", "application/x-www-form-urlencoded").Body())
		// The API keys page with the time a key was created.
		keys := string(a.formIn(tt.header, "/settings/api-keys", "action", "create", "name", "dates "+tt.header).Body())
		for name, body := range map[string]string{"customer": customer, "API keys": keys} {
			if !dateTime.MatchString(body) {
				t.Errorf("%q: the %s page shows no date with a time", tt.header, name)
			}
			if !tt.want.MatchString(body) {
				t.Errorf("%q: the %s page has no date like %v", tt.header, name, tt.want)
			}
			if m := tt.not.FindString(body); m != "" {
				t.Errorf("%q: the %s page mixes in %q", tt.header, name, m)
			}
		}
	}
}
