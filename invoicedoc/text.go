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

// coverage is a set of runes of the Basic Multilingual Plane that a face has glyphs for. The PDF
// library reads only the BMP cmap of a font and indexes its glyph widths by rune up to U+FFFF.
type coverage [0x10000 / 64]uint64

func (c *coverage) has(r rune) bool {
	return r >= 0 && r < 0x10000 && c[r/64]&(1<<(r%64)) != 0
}

// fontCoverage is the set of runes both Go fonts embedded in the PDF have a glyph for: Latin (with
// Latin-1 and Latin Extended-A/B), Greek, Cyrillic, the currency signs and the usual punctuation.
var fontCoverage = sync.OnceValue(func() *coverage {
	var fonts []*sfnt.Font
	for _, ttf := range [][]byte{goregular.TTF, gobold.TTF} {
		f, err := sfnt.Parse(ttf)
		if err != nil {
			panic("invoicedoc: parsing embedded Go font: " + err.Error()) // cannot happen: fixed bytes
		}
		fonts = append(fonts, f)
	}
	return coverageOf(fonts...)
})

// coverageOf returns the runes from U+0020 to U+FFFF that all fonts have a glyph for.
func coverageOf(fonts ...*sfnt.Font) *coverage {
	var c coverage
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
}

// pdfText makes s safe to draw with the embedded Go fonts and to pass to the PDF library; see
// clean.
func pdfText(s string) string {
	s, _ = clean(s, fontCoverage())
	return s
}

// clean makes s safe to draw with a face of coverage cov and to pass to the PDF library, which
// indexes glyph widths by rune and handles neither invalid UTF-8 nor runes outside the Basic
// Multilingual Plane. It composes decomposed accents (NFC: "Zoe\u0308" → "Zoë"), turns control
// characters and line breaks into spaces, drops invisible format characters (bidi overrides,
// zero-width spaces), writes spaces the face lacks as no-break spaces (the narrow no-break space of
// French digit grouping), folds full-width forms the face lacks to their narrow equivalents ("￥" →
// "¥") and shows any other character the face cannot draw (CJK in the Go fonts, emoji, …) as "?".
// It also returns how many characters it showed as "?".
func clean(s string, cov *coverage) (string, int) {
	if isPlain(s, cov) {
		return s, 0
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	missing := 0
	for _, r := range s {
		switch {
		case cov.has(r):
		case unicode.IsControl(r):
			r = ' '
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Mn, r):
			continue // invisible, or an accent NFC could not compose with its letter
		case unicode.Is(unicode.Zs, r):
			r = '\u00a0'
			if !cov.has(r) {
				r = ' '
			}
		default:
			if r = fold(r, cov); r == '?' {
				missing++
			}
		}
		b.WriteRune(r)
	}
	return b.String(), missing
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
