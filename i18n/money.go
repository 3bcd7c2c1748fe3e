package i18n

// This file turns the numbers of an account document into text for a person: money in integer
// minor units of an ISO 4217 currency, fractional unit prices, grouped integers and percentages,
// each in the conventions of a locale (dates.go writes calendar dates).
//
// It owns a deliberately small table of conventions per base language (en, de, fr, es, pt, ja):
// separators, where the currency symbol goes and (dates.go) the abbreviated month names. A locale is matched by
// its base language only (pt-BR → pt, de-AT → de); English regions that write the day first (en-GB,
// en-AU, en-IN, …) get "1 Jan 2027", the United States and Canada "Jan 1, 2027". Any other or
// unparseable locale is formatted as English. Currency symbols come from the CLDR data of
// golang.org/x/text/currency for the base language; a currency without a symbol is written with its
// ISO code ("KWD 1.234").
//
// All arithmetic is done on decimal digit strings: there are no floating-point numbers anywhere,
// so every amount is shown exactly. None of it does I/O and all of it is safe for concurrent use.

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Separators used by the tables.
const (
	nbsp       = "\u00a0" // no-break space: between an amount and its symbol
	narrowNBSP = "\u202f" // narrow no-break space: French digit grouping
)

// style is how one base language writes numbers and amounts.
type style struct {
	group   string // digit group separator
	decimal string // decimal separator
	// minGroup is the smallest number of digits left of the first separator: 1 groups "1,234";
	// 2 leaves four-digit numbers alone ("1234", "12.345"), as Spanish does.
	minGroup int
	// symbolFirst puts the currency symbol before the number.
	symbolFirst bool
	// symbolSep separates the symbol and the number. When it is empty and the symbol is a word
	// ("KWD", "CHF"), a no-break space is used so that letters and digits do not run together.
	symbolSep string
}

// lang is a supported base language; its value indexes the tables below.
type lang uint8

const (
	langEN lang = iota
	langDE
	langFR
	langES
	langPT
	langJA
	numLangs
)

var langCodes = [numLangs]string{"en", "de", "fr", "es", "pt", "ja"}

var styles = [numLangs]style{
	langEN: {group: ",", decimal: ".", minGroup: 1, symbolFirst: true},                  // €12,490.00
	langDE: {group: ".", decimal: ",", minGroup: 1, symbolSep: nbsp},                    // 12.490,00 €
	langFR: {group: narrowNBSP, decimal: ",", minGroup: 1, symbolSep: nbsp},             // 12 490,00 €
	langES: {group: ".", decimal: ",", minGroup: 2, symbolSep: nbsp},                    // 12.490,00 €
	langPT: {group: ".", decimal: ",", minGroup: 1, symbolFirst: true, symbolSep: nbsp}, // R$ 1.234,56
	langJA: {group: ",", decimal: ".", minGroup: 1, symbolFirst: true},                  // ￥12,490
}

var langTags = [numLangs]language.Tag{
	language.English, language.German, language.French, language.Spanish, language.Portuguese, language.Japanese,
}

// monthFirstRegions are the English-speaking regions that write "Jan 1, 2027"; every other English
// region writes "1 Jan 2027" (CLDR's en-001).
var monthFirstRegions = map[string]bool{
	"US": true, "CA": true, "PH": true, "PR": true, "GU": true, "AS": true, "VI": true, "MP": true, "UM": true,
}

// loc is a resolved locale.
type loc struct {
	lang     lang
	dayFirst bool // English only: "1 Jan 2027"
}

// common holds the locales a portal sees most, resolved without parsing.
var common = map[string]loc{
	"": {langEN, false}, "en": {langEN, false}, "en-US": {langEN, false}, "en-GB": {langEN, true},
	"de": {langDE, false}, "de-DE": {langDE, false}, "de-AT": {langDE, false}, "de-CH": {langDE, false},
	"fr": {langFR, false}, "fr-FR": {langFR, false}, "es": {langES, false}, "es-ES": {langES, false},
	"pt": {langPT, false}, "pt-BR": {langPT, false}, "pt-PT": {langPT, false},
	"ja": {langJA, false}, "ja-JP": {langJA, false},
}

// resolve matches a BCP 47 tag to a supported base language; anything else is English.
func resolve(locale string) loc {
	if l, ok := common[locale]; ok {
		return l
	}
	tag, err := language.Parse(locale)
	if err != nil {
		return loc{lang: langEN}
	}
	base, conf := tag.Base()
	if conf == language.No {
		return loc{lang: langEN}
	}
	b := base.String()
	for i, c := range langCodes {
		if c != b {
			continue
		}
		l := loc{lang: lang(i)}
		if l.lang == langEN {
			if r, rc := tag.Region(); rc != language.No && !monthFirstRegions[r.String()] {
				l.dayFirst = true
			}
		}
		return l
	}
	return loc{lang: langEN}
}

// Language returns the base language whose conventions Money, Number, Percent and Date use for
// locale: one of "en", "de", "fr", "es", "pt" or "ja". Sections key their own translation tables by it.
func Language(locale string) string { return langCodes[resolve(locale).lang] }

// isoExponents corrects golang.org/x/text's currency data where it differs from ISO 4217. The x/text
// table is CLDR's number of digits to *display* (CLDR 32 rounds IDR, COP or IQD to whole units), but
// amounts arrive in ISO 4217 minor units, so the ISO exponent is what counts. It also covers codes the
// CLDR 32 table does not know.
var isoExponents = map[string]int{
	"AFN": 2, "ALL": 2, "AMD": 2, "COP": 2, "GYD": 2, "IDR": 2, "IQD": 3, "IRR": 2, "KPW": 2,
	"LAK": 2, "LBP": 2, "MGA": 2, "MMK": 2, "MNT": 2, "MUR": 2, "PKR": 2, "RSD": 2, "SLL": 2,
	"SOS": 2, "SYP": 2, "TZS": 2, "UZS": 2, "YER": 2,
	"MRU": 2, "SLE": 2, "STN": 2, "VED": 2, "VES": 2, "XCG": 2, "ZWG": 2, "UYW": 4,
}

// MinorUnits returns the ISO 4217 exponent of a currency: how many decimal digits its minor unit
// has (EUR 2, JPY 0, KWD 3, CLF 4). The code is matched case-insensitively. An unknown code gets 2,
// the exponent of most currencies, so that an amount is still shown.
func MinorUnits(code string) int {
	if len(code) != 3 {
		return 2
	}
	upper := strings.ToUpper(code)
	if n, ok := isoExponents[upper]; ok {
		return n
	}
	u, err := currency.ParseISO(upper)
	if err != nil {
		return 2
	}
	scale, _ := currency.Standard.Rounding(u)
	return scale
}

type symKey struct {
	lang lang
	code string
}

// symbols caches the symbol of each (language, known currency); it holds at most 6 × 300 entries.
var symbols sync.Map

// symbol returns how the language writes the currency: "€", "$", "R$", "￥", or the upper-case ISO
// code when CLDR has no symbol. A code that is not three ASCII letters is written as "¤".
func symbol(code string, l lang) string {
	if len(code) != 3 || strings.IndexFunc(code, func(r rune) bool { return !isASCIILetter(r) }) >= 0 {
		return "¤"
	}
	upper := strings.ToUpper(code)
	u, err := currency.ParseISO(upper)
	if err != nil {
		return upper
	}
	k := symKey{l, upper}
	if s, ok := symbols.Load(k); ok {
		return s.(string)
	}
	s := message.NewPrinter(langTags[l]).Sprint(currency.Symbol(u))
	if s == "" {
		s = upper
	}
	symbols.Store(k, s)
	return s
}

func isASCIILetter(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }

// Money formats amount, an integer number of minor units of currency, for the locale: 1249000 EUR is
// "€12,490.00" in en, "12.490,00 €" in de, "12 490,00 €" in fr, "€ 12.490,00" in pt; 12490 JPY
// is "¥12,490" in en and "￥12,490" in ja; 1234 KWD is "KWD 1.234" in en. Negative amounts get a
// leading minus sign ("-€5.00", "-5,00 €").
func Money(amount int64, currency, locale string) string {
	neg := amount < 0
	abs := uint64(amount)
	if neg {
		abs = -abs // two's complement: also right for math.MinInt64
	}
	digits := strconv.FormatUint(abs, 10)
	scale := MinorUnits(currency)
	if len(digits) <= scale {
		digits = strings.Repeat("0", scale-len(digits)+1) + digits
	}
	cut := len(digits) - scale
	return money(neg, digits[:cut], digits[cut:], currency, resolve(locale))
}

// Decimal formats a fractional price given as a decimal string of minor units ("0.3" is three tenths
// of a cent) as an amount of the currency: "0.3" EUR is "€0.003" in en and "0,003 €" in de; "1250"
// EUR is "€12.50". At least the currency's usual number of decimals is shown and trailing zeros
// beyond it are trimmed. The string must be digits with an optional leading "-" and an optional
// fractional part ("12", "0.3", "-1.25"); anything else returns "".
func Decimal(minorUnitsDecimal, currency, locale string) string {
	s := minorUnitsDecimal
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, fracPart, hasPoint := strings.Cut(s, ".")
	if !allDigits(intPart) || (hasPoint && !allDigits(fracPart)) {
		return ""
	}
	scale := MinorUnits(currency)
	// Move the decimal point scale places to the left.
	all := intPart + fracPart
	point := len(intPart) - scale
	if point < 1 {
		all = strings.Repeat("0", 1-point) + all
		point = 1
	}
	whole := strings.TrimLeft(all[:point], "0")
	if whole == "" {
		whole = "0"
	}
	frac := all[point:]
	for len(frac) > scale && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if neg && whole == "0" && strings.Trim(frac, "0") == "" {
		neg = false // no "-0.00"
	}
	return money(neg, whole, frac, currency, resolve(locale))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// money assembles sign, symbol and number; whole and frac are ASCII digit strings.
func money(neg bool, whole, frac, code string, l loc) string {
	st := &styles[l.lang]
	sym := symbol(code, l.lang)
	var b strings.Builder
	b.Grow(len(whole) + len(whole)/3*len(st.group) + len(frac) + len(sym) + 8)
	if neg {
		b.WriteByte('-')
	}
	if st.symbolFirst {
		b.WriteString(sym)
		sep := st.symbolSep
		if sep == "" {
			if r, _ := utf8.DecodeLastRuneInString(sym); unicode.IsLetter(r) {
				sep = nbsp
			}
		}
		b.WriteString(sep)
	}
	writeGrouped(&b, whole, st)
	if frac != "" {
		b.WriteString(st.decimal)
		b.WriteString(frac)
	}
	if !st.symbolFirst {
		sep := st.symbolSep
		if sep == "" {
			if r, _ := utf8.DecodeRuneInString(sym); unicode.IsLetter(r) {
				sep = nbsp
			}
		}
		b.WriteString(sep)
		b.WriteString(sym)
	}
	return b.String()
}

// writeGrouped writes the digits with the style's group separator every three digits.
func writeGrouped(b *strings.Builder, digits string, st *style) {
	n := len(digits)
	if n <= 3 || n < 3+st.minGroup {
		b.WriteString(digits)
		return
	}
	first := n % 3
	if first == 0 {
		first = 3
	}
	b.WriteString(digits[:first])
	for i := first; i < n; i += 3 {
		b.WriteString(st.group)
		b.WriteString(digits[i : i+3])
	}
}

// Number formats an integer with the locale's digit grouping: 1800000 is "1,800,000" in en,
// "1.800.000" in de and "1 800 000" (narrow no-break spaces) in fr.
func Number(n int64, locale string) string {
	abs := uint64(n)
	if n < 0 {
		abs = -abs
	}
	digits := strconv.FormatUint(abs, 10)
	var b strings.Builder
	st := &styles[resolve(locale).lang]
	b.Grow(len(digits) + len(digits)/3*len(st.group) + 1)
	if n < 0 {
		b.WriteByte('-')
	}
	writeGrouped(&b, digits, st)
	return b.String()
}

// percentSep is what separates a number from the percent sign, per base language (CLDR): nothing in
// English, Portuguese and Japanese, a no-break space in German and Spanish, a narrow no-break space
// in French.
var percentSep = [numLangs]string{langDE: nbsp, langES: nbsp, langFR: narrowNBSP}

// Percent formats a rate given as a decimal string of percent ("19", "8.25") in the locale: "8.25%"
// in en, "8,25 %" in de and "8,25 %" (narrow no-break space) in fr. The string must be digits with
// an optional fractional part; anything else returns "".
func Percent(rate, locale string) string {
	whole, frac, hasPoint := strings.Cut(rate, ".")
	if !allDigits(whole) || (hasPoint && !allDigits(frac)) {
		return ""
	}
	l := resolve(locale)
	st := &styles[l.lang]
	var b strings.Builder
	writeGrouped(&b, whole, st)
	if frac != "" {
		b.WriteString(st.decimal)
		b.WriteString(frac)
	}
	b.WriteString(percentSep[l.lang])
	b.WriteByte('%')
	return b.String()
}
