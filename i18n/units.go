package i18n

import (
	"strings"

	"golang.org/x/text/feature/plural"
)

// Units.
//
// A quantity with a unit ("1,800,000 calls", "1.800.000 Aufrufe", "1,800,000回") is written by
// Quantity. The common units of metered billing have a plural message "unit.<unit>" in every
// catalog (call, request, event, message, email, seat, user, token, hour, minute, credit, MB, GB,
// TB), whose form follows the language's CLDR plural rules for the count; a unit without one is
// shown as given after the number, made plural by English spelling rules in English only.

// UnitKey is the message key of a unit's plural forms, "" when the catalogs have none. The unit
// is matched as given, then in lower case, then without a plural "s" ("Calls" → "call").
func UnitKey(unit string) string {
	for _, u := range []string{unit, strings.ToLower(unit), strings.TrimSuffix(strings.ToLower(unit), "s")} {
		if u == "" {
			continue
		}
		if _, ok := catalogs[0].msgs["unit."+u]; ok {
			return "unit." + u
		}
	}
	return ""
}

// Quantity writes n with the locale's digit grouping (Number) followed by the unit, in the
// language of the locale (ForLocale): the unit's message when it has one, else the unit as given.
// Without a unit it is the number alone.
func Quantity(n int64, unit, locale string) string {
	q := Number(n, locale)
	if unit == "" {
		return q
	}
	p := ForLocale(locale)
	key := UnitKey(unit)
	if key == "" {
		if p.idx == 0 && n != 1 {
			unit = englishPlural(unit)
		}
		return q + " " + unit
	}
	m, ok := p.cat.msgs[key]
	if !ok {
		m = catalogs[0].msgs[key]
	}
	text := m.text
	if m.forms != nil {
		text = m.forms[plural.Other]
		if s, ok := m.forms[pluralForm(p.tag, n)]; ok {
			text = s
		}
	}
	return strings.ReplaceAll(text, "{count}", q)
}

// englishPlural makes a lower-case English unit name plural ("inbox" → "inboxes", "query" →
// "queries", "seat" → "seats"). Names that already end in s, or do not end in a lower-case letter
// ("m²", "kWh"), are left alone.
func englishPlural(unit string) string {
	last := unit[len(unit)-1]
	switch {
	case last < 'a' || last > 'z', last == 's':
		return unit
	case last == 'x' || last == 'z' || strings.HasSuffix(unit, "ch") || strings.HasSuffix(unit, "sh"):
		return unit + "es"
	case last == 'y' && len(unit) > 1 && !strings.ContainsRune("aeiou", rune(unit[len(unit)-2])):
		return unit[:len(unit)-1] + "ies"
	}
	return unit + "s"
}
