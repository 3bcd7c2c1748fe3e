package invoicedoc

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"

	"github.com/portico-billing/portico/i18n"
)

// face is a typeface the PDF can set text in.
type face struct {
	family  string    // the fpdf family name
	regular []byte    // TrueType bytes
	bold    []byte    // TrueType bytes of the bold style; nil: regular, stroked (see pdf.apply)
	cov     *coverage // the runes every style of the face has a glyph for
}

// goFace is the Go fonts, embedded in the binary: Latin, Greek, Cyrillic.
var goFace = sync.OnceValue(func() *face {
	return &face{family: fontFamily, regular: goregular.TTF, bold: gobold.TTF, cov: fontCoverage()}
})

// cjkFontPaths are the files RenderPDF looks for, in this order, when Input.CJKFont is empty: IPAex
// Gothic (Debian and Ubuntu package fonts-ipaexfont-gothic, installed by `make run` and `make test`), IPA Gothic
// (fonts-ipafont-gothic), and the Japanese Gothic font the Debian alternatives system points to.
var cjkFontPaths = []string{
	"/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
	"/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
	"/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
	"/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
}

// maxFontFile bounds the size of a CJK font file (IPAex Gothic is 6 MB).
const maxFontFile = 64 << 20

// cjkFamily is the fpdf family name of the CJK font.
const cjkFamily = "cjk"

// cjkLoad is the outcome of loading the CJK font for one Input.CJKFont value.
type cjkLoad struct {
	once sync.Once
	face *face
	file string
	err  error
}

// cjkFonts caches a *cjkLoad per Input.CJKFont value ("" for the lookup of cjkFontPaths): each
// font file is read, parsed and checked once per process, when a document first needs it.
var cjkFonts sync.Map

// LoadCJKFont loads the CJK font RenderPDF uses for an Input.CJKFont of path, as RenderPDF does
// for its first document with Japanese labels or CJK text, and returns the file it uses: path
// itself or, when path is empty, the first usable one of the well-known files (see
// Input.CJKFont). The outcome, also a failure, is cached for the life of the process, so a host
// calls it at startup to report a missing or unusable font and to spare the first such request
// the loading (about 12 ms and 19 MB of garbage for IPAex Gothic; the 6 MB font stays in memory).
// Without a CJK font, RenderPDF writes Japanese PDFs in English and CJK text as "?".
func LoadCJKFont(path string) (file string, err error) {
	l := loadCJK(path)
	return l.file, l.err
}

func loadCJK(path string) *cjkLoad {
	v, ok := cjkFonts.Load(path)
	if !ok {
		v, _ = cjkFonts.LoadOrStore(path, new(cjkLoad))
	}
	l := v.(*cjkLoad)
	l.once.Do(func() {
		if path == "" {
			l.face, l.file, l.err = firstFont(cjkFontPaths)
			return
		}
		if l.face, l.err = readFont(path); l.err == nil {
			l.file = path
		}
	})
	return l
}

// firstFont returns the first usable font of paths and its path.
func firstFont(paths []string) (*face, string, error) {
	var errs []error
	for _, p := range paths {
		f, err := readFont(p)
		if err == nil {
			return f, p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return nil, "", fmt.Errorf("invoicedoc: no usable CJK font in %s (install fonts-ipaexfont-gothic): %w",
		strings.Join(paths, ", "), cmpErr(errors.Join(errs...), fs.ErrNotExist))
}

// cmpErr returns err, or def when err is nil.
func cmpErr(err, def error) error {
	if err == nil {
		return def
	}
	return err
}

// readFont reads and checks the TrueType font file at path.
func readFont(path string) (*face, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("invoicedoc: CJK font: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("invoicedoc: CJK font %s is not a regular file", path)
	}
	if fi.Size() > maxFontFile {
		return nil, fmt.Errorf("invoicedoc: CJK font %s is larger than %d MB", path, maxFontFile>>20)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("invoicedoc: CJK font: %w", err)
	}
	f, err := parseCJKFont(data)
	if err != nil {
		return nil, fmt.Errorf("invoicedoc: CJK font %s: %w", path, err)
	}
	return f, nil
}

// parseCJKFont checks that ttf is a TrueType font with glyphs for the Japanese labels that the PDF
// library can embed, and returns it as the face of family cjkFamily, without a bold style.
func parseCJKFont(ttf []byte) (*face, error) {
	// The PDF library reads TrueType outlines (glyf) only; it prints to stdout, instead of failing,
	// on anything else, so the other kinds are refused here first.
	if len(ttf) < 12 {
		return nil, errors.New("not a TrueType font: too short")
	}
	switch string(ttf[:4]) {
	case "\x00\x01\x00\x00", "true":
	case "OTTO":
		return nil, errors.New("OpenType font with CFF outlines: the PDF library needs TrueType (glyf) outlines")
	case "ttcf":
		return nil, errors.New("font collection (.ttc): the PDF library needs a single TrueType font (.ttf)")
	default:
		return nil, errors.New("not a TrueType font")
	}
	sf, err := sfnt.Parse(ttf)
	if err != nil {
		return nil, err
	}
	f := &face{family: cjkFamily, regular: ttf, cov: coverageOf(sf)}
	if !drawable(i18n.NewPrinter(i18n.Japanese), f.cov) {
		return nil, errors.New("the font has no glyphs for the Japanese labels of the invoice")
	}
	if err := tryFace(f); err != nil {
		return nil, err
	}
	return f, nil
}

// tryFace embeds a sample of the face's glyphs in a PDF: the PDF library checks little and may
// panic on a font it cannot handle.
func tryFace(f *face) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the PDF library cannot use the font: %v", r)
		}
	}()
	var sample []rune
	for _, r := range "請求書 ご請求金額 Invoice 0123456789 ¥€" {
		if f.cov.has(r) {
			sample = append(sample, r)
		}
	}
	doc := fpdf.New("P", "mm", "A4", "")
	doc.AddUTF8FontFromBytes(f.family, "", f.regular)
	doc.AddPage()
	doc.SetFont(f.family, "", 10)
	doc.Cell(0, 5, string(sample))
	if err := doc.Output(io.Discard); err != nil {
		return fmt.Errorf("the PDF library cannot use the font: %w", err)
	}
	return nil
}
