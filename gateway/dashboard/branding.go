package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered for image.DecodeConfig / image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/gateway/theme"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
	_ "golang.org/x/image/webp"
)

// Logo limits.
const (
	MinLogoSide = 16
	MaxLogoSide = 4096
)

// contrastCheck is one line of the branding page's contrast report.
type contrastCheck struct {
	What   string
	Ratio  float64
	OK     bool
	Advice string
}

// contrastChecks reports how the brand colours read in the portal, and what the portal paints
// instead when they do not reach WCAG AA (theme.For).
func contrastChecks(primary, accent string) []contrastCheck {
	pal := theme.For(primary, accent)
	ratio := func(r float64) string { return strconv.FormatFloat(r, 'f', 1, 64) + ":1" }
	var out []contrastCheck
	r := theme.ContrastRatio(primary, theme.Background)
	c := contrastCheck{What: "Titles (title colour on the page)", Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = "Titles in this colour are hard to read, so the portal shows them in " + pal.Primary +
			" (" + ratio(theme.ContrastRatio(pal.Primary, theme.Background)) + "); choose a darker colour to keep your own."
	}
	out = append(out, c)
	r = theme.ContrastRatio(accent, theme.Background)
	c = contrastCheck{What: "Links (accent colour on the page)", Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = "Links in this colour are hard to read, so the portal shows them in " + pal.Link +
			" (" + ratio(theme.ContrastRatio(pal.Link, theme.Background)) + "); choose a darker accent to keep your own."
	}
	out = append(out, c)
	r = theme.ContrastRatio(accent, theme.White)
	c = contrastCheck{What: "Button text (white on the accent colour)", Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = "White text is hard to read on this accent, so buttons use dark text instead (" +
			ratio(theme.ContrastRatio(pal.Button, pal.ButtonText)) + ")."
		if pal.Button != accent {
			c.Advice = "Neither white nor dark text reads on this accent, so buttons are filled with " + pal.Button +
				" under white text (" + ratio(theme.ContrastRatio(pal.Button, pal.ButtonText)) + ")."
		}
	}
	return append(out, c)
}

type brandingData struct {
	Primary, Accent string
	LogoURL         string
	Checks          []contrastCheck
	Warnings        int
	PreviewP        string
	PreviewA        string
	MaxLogoKB       int
}

func (d *Dashboard) brandingPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg string) {
	t := r.tenant
	data := &brandingData{Primary: t.Branding.PrimaryColor, Accent: t.Branding.AccentColor, MaxLogoKB: tenants.MaxLogoBytes >> 10}
	data.Checks = contrastChecks(data.Primary, data.Accent)
	for _, c := range data.Checks {
		if !c.OK {
			data.Warnings++
		}
	}
	data.PreviewP, data.PreviewA = strings.TrimPrefix(data.Primary, "#"), strings.TrimPrefix(data.Accent, "#")
	if t.Branding.LogoETag != "" {
		data.LogoURL = "/assets/logo?v=" + t.Branding.LogoETag
	}
	v := r.view("branding", "Branding")
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "branding", v)
}

// previewCSS is the stylesheet of the branding page's portal preview, for the colours in its
// query (so it never lags behind a save). The page may use no inline style.
func (d *Dashboard) previewCSS(ctx *fasthttp.RequestCtx, r *request) {
	color := func(name, def string) string {
		c := "#" + string(ctx.QueryArgs().Peek(name))
		if !tenants.ValidColor(c) {
			return def
		}
		return strings.ToLower(c)
	}
	p, a := color("p", tenants.DefaultPrimaryColor), color("a", tenants.DefaultAccentColor)
	setHeaders(ctx)
	ctx.Response.Header.Set("Cache-Control", "private, max-age=86400")
	ctx.SetContentType("text/css; charset=utf-8")
	ctx.Write(theme.For(p, a).CSS(".preview"))
}

// logoError is a refused upload with the status to answer.
type logoError struct {
	status int
	msg    string
}

func (e *logoError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) error {
	return &logoError{status: status, msg: fmt.Sprintf(format, args...)}
}

// logoFormats are the accepted sniffed types and the image package's name of each.
var logoFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

func sizeText(n int) string {
	if n >= 1<<20 {
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MB"
	}
	return strconv.Itoa((n+1023)>>10) + " KB"
}

// ValidateLogo checks uploaded logo bytes and returns their content type. The type is sniffed
// from the bytes (http.DetectContentType; what the client claims is ignored), SVG is refused
// (it can carry script), and the image must decode completely (image.Decode with the PNG, JPEG,
// GIF and WebP decoders) with each side between MinLogoSide and MaxLogoSide pixels; the
// dimensions are checked first, so a decompression bomb is refused before it is decoded.
func ValidateLogo(data []byte) (string, error) {
	if len(data) == 0 {
		return "", refuse(fasthttp.StatusBadRequest, "Choose an image file to upload.")
	}
	if len(data) > tenants.MaxLogoBytes {
		return "", refuse(fasthttp.StatusRequestEntityTooLarge, "The logo is %s; it may be at most %d KB.", sizeText(len(data)), tenants.MaxLogoBytes>>10)
	}
	ct := http.DetectContentType(data)
	head := bytes.ToLower(data[:min(len(data), 1024)])
	if bytes.Contains(head, []byte("<svg")) || strings.HasPrefix(ct, "image/svg") {
		return "", refuse(fasthttp.StatusUnsupportedMediaType, "SVG images are not accepted because they can contain scripts. Upload a PNG, JPEG, GIF or WebP image.")
	}
	format, ok := logoFormats[ct]
	if !ok {
		kind, _, _ := strings.Cut(ct, ";")
		return "", refuse(fasthttp.StatusUnsupportedMediaType, "This file is not a PNG, JPEG, GIF or WebP image (it looks like %s).", kind)
	}
	name := strings.ToUpper(format)
	if format == "webp" {
		name = "WebP"
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format {
		return "", refuse(fasthttp.StatusBadRequest, "The file starts like a %s image but is not a valid one; it may be damaged.", name)
	}
	if cfg.Width < MinLogoSide || cfg.Height < MinLogoSide || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return "", refuse(fasthttp.StatusBadRequest, "The image is %d×%d pixels; each side must be between %d and %d pixels.",
			cfg.Width, cfg.Height, MinLogoSide, MaxLogoSide)
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", refuse(fasthttp.StatusBadRequest, "The %s image is damaged and cannot be shown: its data ends early or is corrupt.", name)
	}
	return ct, nil
}

// saveBranding stores the colours and, when one was chosen, the logo, in one Txn; a refused
// upload stores nothing.
func (d *Dashboard) saveBranding(ctx *fasthttp.RequestCtx, r *request) {
	// Refuse a large upload on its Content-Length, before the body is looked at.
	if cl := ctx.Request.Header.ContentLength(); cl > MaxUploadBody {
		d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "",
			fmt.Sprintf("The upload is %s; a logo may be at most %d KB. Nothing was saved.", sizeText(cl), tenants.MaxLogoBytes>>10))
		return
	}
	if len(ctx.Request.Body()) > MaxUploadBody {
		d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "",
			fmt.Sprintf("The upload is larger than %d KB. Nothing was saved.", tenants.MaxLogoBytes>>10))
		return
	}
	form, err := ctx.MultipartFormWithLimit(MaxUploadBody)
	if err != nil {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", "The form could not be read; please try again. Nothing was saved.")
		return
	}
	defer ctx.Request.RemoveMultipartFormFiles()
	value := func(name string) string {
		if v := form.Value[name]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	if !d.checkCSRF(ctx, r, value("csrf"), r.s.CSRF) {
		return
	}
	primary, accent := strings.ToLower(value("primary_color")), strings.ToLower(value("accent_color"))
	if !tenants.ValidColor(primary) || !tenants.ValidColor(accent) {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", "Colours must be written as #rrggbb, e.g. #1f2937. Nothing was saved.")
		return
	}
	var logo *tenants.LogoUpdate
	if files := form.File["logo"]; len(files) > 0 && files[0].Size > 0 {
		fh := files[0]
		if fh.Size > tenants.MaxLogoBytes {
			d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "",
				fmt.Sprintf("The logo is %s; it may be at most %d KB. Nothing was saved.", sizeText(int(fh.Size)), tenants.MaxLogoBytes>>10))
			return
		}
		f, err := fh.Open()
		if err != nil {
			d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", "The uploaded file could not be read. Nothing was saved.")
			return
		}
		data, err := io.ReadAll(io.LimitReader(f, tenants.MaxLogoBytes+1))
		f.Close()
		if err != nil {
			d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", "The uploaded file could not be read. Nothing was saved.")
			return
		}
		ct, err := ValidateLogo(data)
		var le *logoError
		if errors.As(err, &le) {
			d.log.Info("dashboard: logo refused", "tenant", r.tenant.Slug, "reason", le.msg)
			d.brandingPage(ctx, r, le.status, "", le.msg+" Nothing was saved.")
			return
		}
		logo = &tenants.LogoUpdate{Data: data, ContentType: ct}
	} else if value("remove_logo") == "on" {
		logo = &tenants.LogoUpdate{Remove: true}
	}
	t, err := d.store.UpdateTenant(ctx, r.tenant.ID, func(t *tenants.Tenant) error {
		t.Branding.PrimaryColor, t.Branding.AccentColor = primary, accent
		return nil
	}, logo)
	if errors.Is(err, tenants.ErrInvalidTenant) {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", strings.TrimPrefix(err.Error(), tenants.ErrInvalidTenant.Error()+": ")+". Nothing was saved.")
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: branding saved", "tenant", t.Slug, "by", r.s.Email, "logo", logo != nil)
	r.tenant = t
	msg := "Branding saved. The portal shows it from now on."
	if logo != nil && logo.Remove {
		msg = "Branding saved and the logo removed."
	}
	d.brandingPage(ctx, r, fasthttp.StatusOK, msg, "")
}
