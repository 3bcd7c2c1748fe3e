// Package i18n holds the message catalogs of everything Portico shows a customer — the portal
// pages, the action forms, the error pages, the invoice page and PDF, and the portal-link email —
// and decides which language a page is shown in.
//
// # Languages
//
// Six languages are supported: English (the source), German, French, Spanish, Brazilian
// Portuguese and Japanese (Supported). Language matching is golang.org/x/text/language's Matcher:
// a tag matches a supported language when the matcher is at least High confident and both have the
// same base language, so de-AT and de-CH are German, pt-PT and pt are (Brazilian) Portuguese, es-419
// is Spanish and en-GB is English, while zh, it or an unparseable tag match nothing. Resolve walks
// the fallback chain of a portal page: the requested locale (the session's), then the account's
// locale, then the tenant's default, then English. Before a session exists the Accept-Language
// header is the requested locale (ResolveAccept).
//
// # Messages
//
// A message is looked up by key ("layout.signOut", "error.linkUsed.title") in the catalog of a
// language, an embedded JSON file per locale (locales/*.json). Messages have named placeholders in
// braces, "Back to {tenant}", filled from name/value pairs: T(tag, "layout.backTo", "tenant", name).
// Integer values are written with the language's digit grouping. A plural message is an object of
// CLDR plural forms ("one", "other", …) chosen by golang.org/x/text/feature/plural for the value of
// its "count" argument: "1 invoice", "2 invoices"; "0 facture", "2 factures". A key missing in a
// language falls back to English; a key missing in English is returned as it is (the catalog test
// keeps both from happening: every catalog has every English key with the same placeholders).
//
// Templates get the same messages through a "t" function (Funcs at parse time, Templates binds it
// to a language per render). The package has no I/O after start-up and is safe for concurrent use.
//
// # Emails
//
// The portal-link email's texts are the "email.portalLink.*" messages, in every language:
//
//	tag := i18n.Resolve(sessionLocale, account.Locale, tenant.DefaultLocale)
//	p := i18n.NewPrinter(tag)
//	subject := p.T("email.portalLink.subject", "tenant", tenant.Name)
//	expires := p.T("email.portalLink.expiresIn", "duration", p.Duration(ttl), "time", at, "tenant", tenant.Name)
//
// with p.Lang() for the email's html lang attribute.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"
)

// The supported languages, in the order of Supported.
var (
	English             = language.English
	German              = language.German
	French              = language.French
	Spanish             = language.Spanish
	BrazilianPortuguese = language.BrazilianPortuguese
	Japanese            = language.Japanese
)

// Supported are the languages with a catalog; English, the first, is the source and the last
// fallback. The slice must not be modified.
var Supported = []language.Tag{English, German, French, Spanish, BrazilianPortuguese, Japanese}

// files names each supported language's catalog in locales/.
var files = []string{"en.json", "de.json", "fr.json", "es.json", "pt-BR.json", "ja.json"}

//go:embed locales/*.json
var localeFS embed.FS

var matcher = language.NewMatcher(Supported)

// message is one catalog entry: a plain text, or plural forms by CLDR category.
type msg struct {
	text  string
	forms map[plural.Form]string // nil for a plain message
}

// formNames are the CLDR plural categories as written in the catalogs.
var formNames = map[string]plural.Form{
	"zero": plural.Zero, "one": plural.One, "two": plural.Two, "few": plural.Few, "many": plural.Many, "other": plural.Other,
}

// Catalog is the messages of one language.
type catalog struct {
	tag  language.Tag
	msgs map[string]msg
}

var catalogs = func() []*catalog {
	out := make([]*catalog, len(Supported))
	for i, tag := range Supported {
		c, err := loadCatalog(tag, files[i])
		if err != nil {
			panic(err) // embedded files: a broken catalog fails every test at start-up
		}
		out[i] = c
	}
	return out
}()

func loadCatalog(tag language.Tag, file string) (*catalog, error) {
	data, err := localeFS.ReadFile(path.Join("locales", file))
	if err != nil {
		return nil, fmt.Errorf("i18n: reading catalog %s: %w", file, err)
	}
	return parseCatalog(tag, file, data)
}

// parseCatalog decodes a catalog file's data; file names it in errors.
func parseCatalog(tag language.Tag, file string, data []byte) (*catalog, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("i18n: catalog %s: %w", file, err)
	}
	c := &catalog{tag: tag, msgs: make(map[string]msg, len(raw))}
	for key, v := range raw {
		var text string
		if err := json.Unmarshal(v, &text); err == nil {
			c.msgs[key] = msg{text: text}
			continue
		}
		var forms map[string]string
		if err := json.Unmarshal(v, &forms); err != nil {
			return nil, fmt.Errorf("i18n: catalog %s: message %q is neither a string nor an object of plural forms", file, key)
		}
		m := msg{forms: make(map[plural.Form]string, len(forms))}
		for name, text := range forms {
			f, ok := formNames[name]
			if !ok {
				return nil, fmt.Errorf("i18n: catalog %s: message %q has unknown plural form %q", file, key, name)
			}
			m.forms[f] = text
		}
		if _, ok := m.forms[plural.Other]; !ok {
			return nil, fmt.Errorf("i18n: catalog %s: plural message %q lacks the form \"other\"", file, key)
		}
		c.msgs[key] = m
	}
	return c, nil
}

// index returns the position of a supported tag in Supported; anything else is English (0).
func index(tag language.Tag) int {
	for i, s := range Supported {
		if s == tag {
			return i
		}
	}
	return 0
}

// Printer translates messages into one supported language.
type Printer struct {
	tag  language.Tag
	idx  int
	cat  *catalog
	nums *message.Printer
}

var printers = func() []*Printer {
	out := make([]*Printer, len(Supported))
	for i, tag := range Supported {
		out[i] = &Printer{tag: tag, idx: i, cat: catalogs[i], nums: message.NewPrinter(tag)}
	}
	return out
}()

// NewPrinter returns the printer of a language: the supported language the tag matches (see
// Match), else English. Printers are shared; the result must not be modified.
func NewPrinter(tag language.Tag) *Printer {
	if i := index(tag); i != 0 || tag == English {
		return printers[i]
	}
	if m, ok := match(tag); ok {
		return printers[index(m)]
	}
	return printers[0]
}

// ForLocale returns the printer of a BCP 47 locale string ("de-AT", "pt-BR"); an empty, invalid
// or unsupported locale gives English.
func ForLocale(locale string) *Printer {
	if tag, ok := Match(locale); ok {
		return printers[index(tag)]
	}
	return printers[0]
}

// Tag is the printer's language, one of Supported.
func (p *Printer) Tag() language.Tag { return p.tag }

// Lang is the language's BCP 47 tag for an html lang attribute: "en", "de", "pt-BR", "ja".
func (p *Printer) Lang() string { return p.tag.String() }

// T returns the message of key in the printer's language with its placeholders filled from args,
// which are name/value pairs: T("layout.backTo", "tenant", "ACME"). Values are written with
// fmt.Sprint, integers with the language's digit grouping; a plural message picks its form by the
// "count" argument. A key missing in the language falls back to English, one missing in English
// comes back as the key itself, and a placeholder without a value stays as written.
func (p *Printer) T(key string, args ...any) string {
	m, ok := p.cat.msgs[key]
	if !ok {
		if m, ok = catalogs[0].msgs[key]; !ok {
			return key
		}
	}
	text := m.text
	if m.forms != nil {
		text = m.forms[plural.Other]
		if n, ok := countArg(args); ok {
			if s, ok := m.forms[pluralForm(p.tag, n)]; ok {
				text = s
			}
		}
	}
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	return p.fill(text, args)
}

// Has reports whether key is a message of the catalogs (of English, which every language has).
func Has(key string) bool { _, ok := catalogs[0].msgs[key]; return ok }

// T translates key into the language of tag (see Printer.T and NewPrinter).
func T(tag language.Tag, key string, args ...any) string { return NewPrinter(tag).T(key, args...) }

// pluralForm is the CLDR cardinal plural category of an integer in a language.
func pluralForm(tag language.Tag, n int64) plural.Form {
	if n < 0 {
		n = -n
	}
	// MatchPlural takes the integer digits as an int; only the last digits matter for every rule,
	// so a huge count is reduced keeping its six last digits and its magnitude above a million.
	if n > 1_000_000_000 {
		n = n%1_000_000 + 1_000_000_000
	}
	return plural.Cardinal.MatchPlural(tag, int(n), 0, 0, 0, 0)
}

// countArg finds the integer value of the "count" argument.
func countArg(args []any) (int64, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if name, _ := args[i].(string); name == "count" {
			return toInt(args[i+1])
		}
	}
	return 0, false
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int8:
		return int64(n), true
	case int16:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint:
		return int64(n), true
	case uint8:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint64:
		return int64(n), true
	}
	return 0, false
}

// fill replaces each {name} of text with its argument.
func (p *Printer) fill(text string, args []any) string {
	var b strings.Builder
	b.Grow(len(text) + 32)
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			break
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			break
		}
		name := text[open+1 : open+end]
		b.WriteString(text[:open])
		if v, ok := lookupArg(args, name); ok {
			b.WriteString(p.value(v))
		} else {
			b.WriteString(text[open : open+end+1])
		}
		text = text[open+end+1:]
	}
	b.WriteString(text)
	return b.String()
}

func lookupArg(args []any, name string) (any, bool) {
	for i := 0; i+1 < len(args); i += 2 {
		if n, _ := args[i].(string); n == name {
			return args[i+1], true
		}
	}
	return nil, false
}

func (p *Printer) value(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	if n, ok := toInt(v); ok {
		if n > -1000 && n < 1000 {
			return strconv.FormatInt(n, 10)
		}
		return p.nums.Sprint(number.Decimal(n))
	}
	return fmt.Sprint(v)
}

// Placeholders returns the names of the placeholders of a text, in order of appearance, each
// once: "{seller} · Invoice {number}" gives seller and number.
func Placeholders(text string) []string {
	var out []string
	for {
		open := strings.IndexByte(text, '{')
		if open < 0 {
			return out
		}
		end := strings.IndexByte(text[open:], '}')
		if end < 0 {
			return out
		}
		name := text[open+1 : open+end]
		dup := false
		for _, n := range out {
			dup = dup || n == name
		}
		if !dup {
			out = append(out, name)
		}
		text = text[open+end+1:]
	}
}

// Keys returns every message key of the English catalog, unsorted.
func Keys() []string {
	out := make([]string, 0, len(catalogs[0].msgs))
	for k := range catalogs[0].msgs {
		out = append(out, k)
	}
	return out
}

// cache of Match for the locale strings a portal sees; it is bounded, and anything beyond it is
// matched again each time.
var (
	matchCache   sync.Map // string → matchResult
	matchCacheN  int
	matchCacheMu sync.Mutex
)

const maxMatchCache = 512

type matchResult struct {
	tag language.Tag
	ok  bool
}
