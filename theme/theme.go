// Package theme makes a tenant's brand colours readable. Tenants pick any primary and accent
// colour; the portal must still meet WCAG 2.1 AA, so text in a brand colour is darkened as little
// as needed to reach 4.5:1 against the page, and buttons get whichever of white or dark text
// reads on the accent (darkening the button when neither does). It owns the contrast arithmetic
// and the per-tenant stylesheet of the portal; the dashboard's branding page reports with it what
// the portal will show.
package theme

import (
	"fmt"
	"math"
	"strconv"
)

// Colours the portal draws brand colours against, and its dark text.
const (
	// Background is the portal's page background (portal.css --bg), the lightest surface brand
	// text sits on after the white cards, and so the one it must contrast with.
	Background = "#f6f7f9"
	White      = "#ffffff"
	Ink        = "#111827"
	// MinContrast is WCAG 2 AA's minimum contrast for normal text.
	MinContrast = 4.5
)

// parse reads "#rrggbb"; ok is false for anything else.
func parse(hex string) (r, g, b float64, ok bool) {
	if len(hex) != 7 || hex[0] != '#' {
		return 0, 0, 0, false
	}
	v, err := strconv.ParseUint(hex[1:], 16, 32)
	if err != nil {
		return 0, 0, 0, false
	}
	return float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff), true
}

func format(r, g, b float64) string {
	c := func(v float64) int { return int(math.Max(0, math.Min(255, math.Round(v)))) }
	return fmt.Sprintf("#%02x%02x%02x", c(r), c(g), c(b))
}

// Luminance is the WCAG 2 relative luminance of a "#rrggbb" colour (0 for anything else).
func Luminance(hex string) float64 {
	r, g, b, ok := parse(hex)
	if !ok {
		return 0
	}
	ch := func(c float64) float64 {
		s := c / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(b)
}

// ContrastRatio is the WCAG 2 contrast ratio of two "#rrggbb" colours, from 1 to 21.
func ContrastRatio(a, b string) float64 {
	la, lb := Luminance(a), Luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Darken returns fg mixed with black as little as needed (to 1/256) for a contrast of at least
// min against the light colour bg, or fg itself when it already reads. An invalid fg gives Ink.
func Darken(fg, bg string, min float64) string {
	r, g, b, ok := parse(fg)
	if !ok {
		return Ink
	}
	if ContrastRatio(fg, bg) >= min {
		return fg
	}
	// Contrast grows as the factor shrinks: find the largest factor that reaches min.
	lo, hi := 0.0, 1.0 // lo reaches min (black does on any light bg), hi does not
	for range 12 {
		mid := (lo + hi) / 2
		if ContrastRatio(format(r*mid, g*mid, b*mid), bg) >= min {
			lo = mid
		} else {
			hi = mid
		}
	}
	return format(math.Floor(r*lo), math.Floor(g*lo), math.Floor(b*lo))
}

// Button is the fill and text colour of a button in the accent colour: white text when it reads
// (4.5:1), else dark ink when that reads, else white on the accent darkened until it does.
func Button(accent string) (fill, text string) {
	if _, _, _, ok := parse(accent); !ok {
		return Ink, White
	}
	if ContrastRatio(accent, White) >= MinContrast {
		return accent, White
	}
	if ContrastRatio(accent, Ink) >= MinContrast {
		return accent, Ink
	}
	return Darken(accent, White, MinContrast), White
}

// Palette is what the portal paints with, from a tenant's two brand colours.
type Palette struct {
	// Primary is the colour of titles and the tenant's name: the brand primary, darkened when it
	// contrasts less than 4.5:1 with the page.
	Primary string
	// Link is the colour of links, link buttons and the focus ring: the accent, darkened likewise.
	Link string
	// Button and ButtonText are the primary buttons' fill and text.
	Button, ButtonText string
}

// For returns the palette of brand colours primary and accent ("#rrggbb").
func For(primary, accent string) Palette {
	p := Palette{Primary: Darken(primary, Background, MinContrast), Link: Darken(accent, Background, MinContrast)}
	p.Button, p.ButtonText = Button(accent)
	return p
}

// Readable reports whether text in the "#rrggbb" colour c reads on the portal's page as it is
// (MinContrast against Background), so that the portal shows it undarkened.
func Readable(c string) bool {
	_, _, _, ok := parse(c)
	return ok && ContrastRatio(c, Background) >= MinContrast
}

// AccentTitles returns p with titles and the tenant's name in the link colour, for a tenant that
// chose its accent for titles (a choice allowed only while the accent is Readable, so the titles
// show the accent itself).
func (p Palette) AccentTitles() Palette {
	p.Primary = p.Link
	return p
}

// CSS is a rule for selector setting the custom properties the portal's stylesheet paints with:
// --p (titles), --a (links, focus ring), --button and --accent-contrast (primary buttons).
func (p Palette) CSS(selector string) []byte {
	return []byte(selector + "{--p:" + p.Primary + ";--a:" + p.Link + ";--button:" + p.Button +
		";--accent-contrast:" + p.ButtonText + "}\n")
}
