package invoicedoc

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// coverage is the set of runes of the Basic Multilingual Plane that both Go fonts embedded in the
// PDF have a glyph for: Latin (with Latin-1 and Latin Extended-A/B), Greek, Cyrillic, the currency
// signs and the usual punctuation.
type coverage [0x10000 / 64]uint64

func (c *coverage) has(r rune) bool {
	return r >= 0 && r < 0x10000 && c[r/64]&(1<<(r%64)) != 0
}

var fontCoverage = sync.OnceValue(func() *coverage {
	var c coverage
	var fonts []*sfnt.Font
	for _, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := sfnt.Parse(ttf)
		if err != nil {
			panic("invoicedoc: parsing embedded Go font: " + err.Error()) // cannot happen: fixed bytes
		}
		fonts = append(fonts, f)
	}
	var buf sfnt.Buffer
	for r := rune(0x20); r < 0x10000; r++ {
		ok := true
		for _, f := range fonts {
			if g, err := f.GlyphIndex(&buf, r); err != nil || g == 0 {
				ok = false
				break
			}
		}
		if ok {
			c[r/64] |= 1 << (r % 64)
		}
	}
	return &c
})

// pdfText makes s safe to draw with the embedded fonts and to pass to the PDF library, which
// indexes glyph widths by rune and handles neither invalid UTF-8 nor runes outside the Basic
// Multilingual Plane. It composes decomposed accents (NFC: "Zoe\u0308" → "Zoë"), turns control
// characters and line breaks into spaces, drops invisible format characters (bidi overrides,
// zero-width spaces), writes spaces the fonts lack as no-break spaces (the narrow no-break space of
// French digit grouping), folds full-width forms to their narrow equivalents ("￥" → "¥") and shows
// any other character the fonts cannot draw (CJK, emoji, …) as "?".
func pdfText(s string) string {
	cov := fontCoverage()
	if isPlain(s, cov) {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case cov.has(r):
		case unicode.IsControl(r):
			r = ' '
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Mn, r):
			continue // invisible, or an accent NFC could not compose with its letter
		case unicode.Is(unicode.Zs, r):
			r = '\u00a0'
		default:
			r = fold(r, cov)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isPlain reports whether s needs no change: valid UTF-8 of covered runes that NFC leaves alone.
// Text below U+0300 (where the combining marks start) is always in NFC, so the common case is one
// scan without normalisation.
func isPlain(s string, cov *coverage) bool {
	for _, r := range s {
		if r >= 0x300 || !cov.has(r) { // also U+FFFD, which ranging yields for invalid UTF-8
			return utf8.ValidString(s) && norm.NFC.IsNormalString(s) && allCovered(s, cov)
		}
	}
	return true
}

func allCovered(s string, cov *coverage) bool {
	for _, r := range s {
		if !cov.has(r) {
			return false
		}
	}
	return true
}

// fold maps a rune the fonts lack to one they have, or to '?'.
func fold(r rune, cov *coverage) rune {
	if p := width.LookupRune(r); p.Kind() == width.EastAsianFullwidth {
		if n := p.Narrow(); n != 0 && cov.has(n) {
			return n
		}
	}
	return '?'
}
