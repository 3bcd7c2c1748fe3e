package theme

import (
	"fmt"
	"testing"
)

func TestDarken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fg, want string
	}{
		{"#1f2937", "#1f2937"}, // already reads: unchanged
		{"#2563eb", "#2563eb"},
		{"#000000", "#000000"},
		{"#nothex", Ink},
		{"", Ink},
	} {
		if got := Darken(tc.fg, Background, MinContrast); got != tc.want {
			t.Errorf("Darken(%q) = %q, want %q", tc.fg, got, tc.want)
		}
	}
	// Too light: darkened just enough, keeping the hue (channels scale together).
	for _, fg := range []string{"#0d8a7d", "#ffeb3b", "#ffffff", "#14b8a6", "#f97316"} {
		got := Darken(fg, Background, MinContrast)
		r := ContrastRatio(got, Background)
		if r < MinContrast || r > MinContrast+0.15 {
			t.Errorf("Darken(%q) = %q with contrast %.2f, want just above %.1f", fg, got, r, MinContrast)
		}
		r0, g0, b0, _ := parse(fg)
		r1, g1, b1, _ := parse(got)
		if r1 > r0 || g1 > g0 || b1 > b0 {
			t.Errorf("Darken(%q) = %q is not darker in every channel", fg, got)
		}
	}
}

func TestButton(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accent, fill, text string
	}{
		{"#2563eb", "#2563eb", White}, // white reads
		{"#ffeb3b", "#ffeb3b", Ink},   // light: dark text
		{"#bad", Ink, White},          // invalid
	} {
		fill, text := Button(tc.accent)
		if fill != tc.fill || text != tc.text {
			t.Errorf("Button(%q) = %q, %q; want %q, %q", tc.accent, fill, text, tc.fill, tc.text)
		}
	}
	// Mid-grey: neither white (3.95:1) nor ink reads, so the fill darkens under white text.
	fill, text := Button("#808080")
	if text != White || fill == "#808080" || ContrastRatio(fill, White) < MinContrast {
		t.Errorf("Button(#808080) = %q, %q", fill, text)
	}
}

// TestPaletteAlwaysReadable checks every colour of a 16-step RGB grid as both brand colours:
// titles and links reach 4.5:1 on the page and on white cards, button text on its fill.
func TestPaletteAlwaysReadable(t *testing.T) {
	t.Parallel()
	for r := 0; r < 256; r += 17 {
		for g := 0; g < 256; g += 17 {
			for b := 0; b < 256; b += 17 {
				c := fmt.Sprintf("#%02x%02x%02x", r, g, b)
				p := For(c, c)
				for _, bg := range []string{Background, White} {
					if x := ContrastRatio(p.Primary, bg); x < MinContrast {
						t.Fatalf("%s: title %s on %s is %.2f:1", c, p.Primary, bg, x)
					}
					if x := ContrastRatio(p.Link, bg); x < MinContrast {
						t.Fatalf("%s: link %s on %s is %.2f:1", c, p.Link, bg, x)
					}
				}
				if x := ContrastRatio(p.ButtonText, p.Button); x < MinContrast {
					t.Fatalf("%s: button text %s on %s is %.2f:1", c, p.ButtonText, p.Button, x)
				}
			}
		}
	}
}

func TestContrastRatio(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#000000", 21},
		{"#777777", "#777777", 1},
		{"#767676", "#ffffff", 4.54}, // the lightest grey that passes AA on white
	} {
		if got := ContrastRatio(tc.a, tc.b); got < tc.want-0.01 || got > tc.want+0.01 {
			t.Errorf("ContrastRatio(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCSS(t *testing.T) {
	t.Parallel()
	got := string(For("#0f3d91", "#2563eb").CSS(":root"))
	want := ":root{--p:#0f3d91;--a:#2563eb;--button:#2563eb;--accent-contrast:#ffffff}\n"
	if got != want {
		t.Errorf("CSS = %q, want %q", got, want)
	}
}

// TestReadableAndAccentTitles: a colour is Readable when it reaches 4.5:1 on the page as it is;
// titles in the accent take the link colour, and the rest of the palette stays.
func TestReadableAndAccentTitles(t *testing.T) {
	t.Parallel()
	for c, want := range map[string]bool{"#0f766e": true, "#4f46e5": true, "#000000": true, "#14b8a6": false, "#ffeb3b": false,
		"#767676": false /* 4.5:1 on white, not on the page */, "teal": false, "": false} {
		if got := Readable(c); got != want {
			t.Errorf("Readable(%q) = %v, want %v", c, got, want)
		}
	}
	p := For("#ffeb3b", "#0f766e")
	if p.Primary != "#7d731c" {
		t.Errorf("a yellow title colour is painted %s, want the olive #7d731c", p.Primary)
	}
	a := p.AccentTitles()
	if a.Primary != "#0f766e" || a.Link != p.Link || a.Button != p.Button || a.ButtonText != p.ButtonText {
		t.Errorf("AccentTitles() = %+v from %+v", a, p)
	}
}
