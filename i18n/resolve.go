package i18n

import (
	"strings"

	"golang.org/x/text/language"
)

// Match returns the supported language a BCP 47 locale string matches: the x/text matcher's
// choice when it is at least High confident and of the same base language ("de-AT" → de, "pt-PT"
// and "pt" → pt-BR, "es-419" → es). ok is false for an empty, invalid or unsupported locale ("zh",
// "xx-YY"), which the fallback chain skips.
func Match(locale string) (tag language.Tag, ok bool) {
	if locale == "" || len(locale) > 64 {
		return English, false
	}
	if r, hit := matchCache.Load(locale); hit {
		m := r.(matchResult)
		return m.tag, m.ok
	}
	t, err := language.Parse(locale)
	var m matchResult
	if err == nil {
		m.tag, m.ok = match(t)
	}
	if !m.ok {
		m.tag = English
	}
	matchCacheMu.Lock()
	if matchCacheN < maxMatchCache {
		if _, loaded := matchCache.LoadOrStore(locale, m); !loaded {
			matchCacheN++
		}
	}
	matchCacheMu.Unlock()
	return m.tag, m.ok
}

// match matches a parsed tag against the supported languages.
func match(t language.Tag) (language.Tag, bool) {
	if t == language.Und {
		return English, false
	}
	_, i, conf := matcher.Match(t)
	if conf < language.High {
		return English, false
	}
	got := Supported[i]
	want, _ := t.Base()
	have, _ := got.Base()
	if want != have {
		// The matcher also offers related languages (Galician → Spanish, Swiss German → German);
		// the chain prefers the account's or the tenant's language to those.
		return English, false
	}
	return got, true
}

// Resolve returns the language of a portal page: the first of requested (the session's locale),
// account (the account's) and tenantDefault (the tenant's default) that matches a supported
// language, else English. A pt-BR request is Brazilian Portuguese, pt-PT falls back to Portuguese,
// de-AT to German, and zh or xx-YY to the account's language, the tenant's, then English.
func Resolve(requested, account, tenantDefault string) language.Tag {
	tag, _ := ResolveFormat(requested, account, tenantDefault)
	return tag
}

// ResolveFormat is Resolve that also returns the locale to format money, numbers and dates in
// (Money, Date): the candidate that matched, so that de-AT or en-GB keep their regional
// conventions while reading the German or English catalog; "en" when none matched.
func ResolveFormat(requested, account, tenantDefault string) (tag language.Tag, formatLocale string) {
	for _, c := range [...]string{requested, account, tenantDefault} {
		if t, ok := Match(c); ok {
			return t, c
		}
	}
	return English, "en"
}

// ResolveAccept is the language of a page shown before a session exists: the best supported match
// of an Accept-Language header (its tags in order of preference, each matched as by Match), else
// the tenant's default, else English. It also returns the locale to format in, as ResolveFormat.
func ResolveAccept(acceptLanguage, tenantDefault string) (tag language.Tag, formatLocale string) {
	if h := strings.TrimSpace(acceptLanguage); h != "" && len(h) <= 1024 {
		if tags, _, err := language.ParseAcceptLanguage(h); err == nil {
			for _, t := range tags {
				if m, ok := match(t); ok {
					return m, t.String()
				}
			}
		}
	}
	return ResolveFormat("", "", tenantDefault)
}
