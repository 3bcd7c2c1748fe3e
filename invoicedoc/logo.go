package invoicedoc

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"

	"golang.org/x/image/webp"
)

// maxLogoPixels bounds the decoded size of a logo: a small file can declare a huge image, and
// decoding it would take gigabytes. A logo printed 50 mm wide needs far fewer pixels.
const maxLogoPixels = 4096 * 4096

// logo is a logo ready for the PDF library: JPEG bytes as they came, anything else re-encoded
// as an 8-bit, non-interlaced PNG, the one form of PNG the library reads without surprises.
type logo struct {
	kind string // "JPEG" or "PNG", as fpdf.ImageOptions.ImageType
	data []byte
	w, h int // pixels
}

// decoder is a format's DecodeConfig and Decode.
type decoder struct {
	config func([]byte) (image.Config, error)
	decode func([]byte) (image.Image, error)
}

func wrap(cfg func(r *bytes.Reader) (image.Config, error), dec func(r *bytes.Reader) (image.Image, error)) decoder {
	return decoder{
		config: func(b []byte) (image.Config, error) { return cfg(bytes.NewReader(b)) },
		decode: func(b []byte) (image.Image, error) { return dec(bytes.NewReader(b)) },
	}
}

var (
	pngDecoder = wrap(func(r *bytes.Reader) (image.Config, error) { return png.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return png.Decode(r) })
	jpegDecoder = wrap(func(r *bytes.Reader) (image.Config, error) { return jpeg.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return jpeg.Decode(r) })
	gifDecoder = wrap(func(r *bytes.Reader) (image.Config, error) { return gif.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return gif.Decode(r) })
	webpDecoder = wrap(func(r *bytes.Reader) (image.Config, error) { return webp.DecodeConfig(r) },
		func(r *bytes.Reader) (image.Image, error) { return webp.Decode(r) })
)

// sniff recognises the logo formats the tenant API accepts by their signatures. The stored content
// type is not trusted: a logo is decoded as what its bytes are.
func sniff(b []byte) (kind string, d decoder, ok bool) {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "PNG", pngDecoder, true
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "JPEG", jpegDecoder, true
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "GIF", gifDecoder, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "WEBP", webpDecoder, true
	}
	return "", decoder{}, false
}

// prepareLogo decodes the logo completely, so that a truncated or corrupt file is found here and
// not inside the PDF library (where an error would fail the whole document). ok is false for a
// logo that is empty, of another format, corrupt or too large; the PDF is then drawn without it.
func prepareLogo(b []byte) (l logo, ok bool) {
	kind, dec, ok := sniff(b)
	if !ok {
		return logo{}, false
	}
	cfg, err := dec.config(b)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > maxLogoPixels/cfg.Height {
		return logo{}, false
	}
	img, err := dec.decode(b)
	if err != nil {
		return logo{}, false
	}
	r := img.Bounds()
	if r.Dx() <= 0 || r.Dy() <= 0 {
		return logo{}, false
	}
	if kind == "JPEG" && (cfg.ColorModel == color.YCbCrModel || cfg.ColorModel == color.GrayModel) {
		// PDF embeds baseline and progressive JPEG as it is (DCTDecode). CMYK JPEGs are
		// re-encoded: their Adobe inversion flag is not carried into the PDF.
		return logo{kind: "JPEG", data: b, w: r.Dx(), h: r.Dy()}, true
	}
	// Paletted, 16-bit, grey-alpha, interlaced PNGs, GIFs and WebP all become 8-bit NRGBA; the
	// encoder writes RGB without alpha when every pixel is opaque.
	var nrgba *image.NRGBA
	if n, isNRGBA := img.(*image.NRGBA); isNRGBA {
		nrgba = n
	} else {
		nrgba = image.NewNRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(nrgba, nrgba.Bounds(), img, r.Min, draw.Src)
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&out, nrgba); err != nil {
		return logo{}, false
	}
	return logo{kind: "PNG", data: out.Bytes(), w: r.Dx(), h: r.Dy()}, true
}
