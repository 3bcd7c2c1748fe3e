package dashboard

import (
	"bytes"
	"errors"
	"image"
	_ "image/gif" // registered for image.DecodeConfig / image.Decode
	_ "image/jpeg"
	_ "image/png"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/theme"
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

// contrastChecks reports, in the admin's language, how the brand colours read in the portal, and
// what the portal paints instead when they do not reach WCAG AA (theme.For). Titles are in the
// accent when accentTitles is set.
func contrastChecks(l lang, primary, accent string, accentTitles bool) []contrastCheck {
	pal := palette(primary, accent, accentTitles)
	ratio := func(r float64) string { return decimal(r, l.locale) + ":1" }
	var out []contrastCheck
	title := primary
	if accentTitles {
		title = accent
	}
	r := theme.ContrastRatio(title, theme.Background)
	c := contrastCheck{What: l.T("dash.contrast.titles"), Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = l.T("dash.contrast.titlesAdvice", "colour", pal.Primary, "ratio", ratio(theme.ContrastRatio(pal.Primary, theme.Background)))
	}
	out = append(out, c)
	r = theme.ContrastRatio(accent, theme.Background)
	c = contrastCheck{What: l.T("dash.contrast.links"), Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = l.T("dash.contrast.linksAdvice", "colour", pal.Link, "ratio", ratio(theme.ContrastRatio(pal.Link, theme.Background)))
	}
	out = append(out, c)
	r = theme.ContrastRatio(accent, theme.White)
	c = contrastCheck{What: l.T("dash.contrast.buttons"), Ratio: r, OK: r >= theme.MinContrast}
	if !c.OK {
		c.Advice = l.T("dash.contrast.buttonsDark", "ratio", ratio(theme.ContrastRatio(pal.Button, pal.ButtonText)))
		if pal.Button != accent {
			c.Advice = l.T("dash.contrast.buttonsFill", "colour", pal.Button, "ratio", ratio(theme.ContrastRatio(pal.Button, pal.ButtonText)))
		}
	}
	return append(out, c)
}

// palette is what the portal paints with for the brand colours and the title choice, as the
// portal's theme.css (gateway) computes it.
func palette(primary, accent string, accentTitles bool) theme.Palette {
	p := theme.For(primary, accent)
	if accentTitles {
		p = p.AccentTitles()
	}
	return p
}

type brandingData struct {
	Primary, Accent string
	LogoURL         string
	Checks          []contrastCheck
	Warnings        int
	// PreviewP and PreviewA are the colours of the preview's stylesheet, without "#".
	PreviewP, PreviewA string
	MaxLogo            string // "800 KB"
	MinSide            string
	MaxSide            string
	PreviewCharge      string // the preview's sample amount
	// AccentTitles is the tenant's choice of the accent for titles.
	AccentTitles bool
	// TitleShade is the colour the portal paints titles in; TitleNote says why it is not the
	// colour chosen, when it is not.
	TitleShade, TitleNote string
	// AccentUnreadable says why the accent cannot be used for titles, when it cannot.
	AccentUnreadable string
}

func (d *Dashboard) brandingPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg string) {
	t := r.tenant
	data := &brandingData{Primary: t.Branding.PrimaryColor, Accent: t.Branding.AccentColor, MaxLogo: sizeText(tenants.MaxLogoBytes, r.l),
		MinSide: strconv.Itoa(MinLogoSide), MaxSide: strconv.Itoa(MaxLogoSide), PreviewCharge: i18n.Money(1249000, "EUR", r.l.locale)}
	data.AccentTitles = t.Branding.AccentTitles
	data.Checks = contrastChecks(r.l, data.Primary, data.Accent, data.AccentTitles)
	for _, c := range data.Checks {
		if !c.OK {
			data.Warnings++
		}
	}
	ratio := func(c string) string { return decimal(theme.ContrastRatio(c, theme.Background), r.l.locale) + ":1" }
	data.TitleShade = palette(data.Primary, data.Accent, data.AccentTitles).Primary
	if chosen := data.Primary; !data.AccentTitles && data.TitleShade != chosen {
		data.TitleNote = r.T("dash.branding.titleShadeNote", "colour", chosen, "ratio", ratio(chosen))
	}
	if !theme.Readable(data.Accent) {
		data.AccentUnreadable = r.T("dash.branding.accentTitlesUnreadable", "colour", data.Accent, "ratio", ratio(data.Accent))
	}
	data.PreviewP, data.PreviewA = strings.TrimPrefix(data.Primary, "#"), strings.TrimPrefix(data.Accent, "#")
	if t.Branding.LogoETag != "" {
		data.LogoURL = "/assets/logo?v=" + t.Branding.LogoETag
	}
	v := r.view("branding", r.T("dash.branding.title"))
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
	// The preview and the title swatch of the form, in the portal's palette.
	ctx.Write(palette(p, a, string(ctx.QueryArgs().Peek("t")) == "accent").CSS(".preview,.title-shade"))
}

// logoError is a refused upload with the status to answer and its reason, which it says in any
// language; Error is the English.
type logoError struct {
	status int
	text   func(l lang) string
}

func (e *logoError) Error() string { return e.text(lang{i18n.NewPrinter(i18n.English), "en"}) }

// refuse is a logoError of the message key with args; an argument that is a byteSize is written
// in the language's units ("850 KB", "5,0 Mo").
func refuse(status int, key string, args ...any) error {
	return &logoError{status: status, text: func(l lang) string {
		a := make([]any, len(args))
		for i, v := range args {
			if n, ok := v.(byteSize); ok {
				v = sizeText(int(n), l)
			}
			a[i] = v
		}
		return l.T(key, a...)
	}}
}

// byteSize is a number of bytes, an argument of refuse.
type byteSize int

// logoFormats are the accepted sniffed types and the image package's name of each.
var logoFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp"}

// ValidateLogo checks uploaded logo bytes and returns their content type. The type is sniffed
// from the bytes (http.DetectContentType; what the client claims is ignored), SVG is refused
// (it can carry script), and the image must decode completely (image.Decode with the PNG, JPEG,
// GIF and WebP decoders) with each side between MinLogoSide and MaxLogoSide pixels; the
// dimensions are checked first, so a decompression bomb is refused before it is decoded. The
// error's text is English; the branding page says it in the admin's language.
func ValidateLogo(data []byte) (string, error) {
	if len(data) == 0 {
		return "", refuse(fasthttp.StatusBadRequest, "dash.logo.error.empty")
	}
	if len(data) > tenants.MaxLogoBytes {
		return "", refuse(fasthttp.StatusRequestEntityTooLarge, "dash.logo.error.tooLarge", "size", byteSize(len(data)), "max", byteSize(tenants.MaxLogoBytes))
	}
	ct := http.DetectContentType(data)
	head := bytes.ToLower(data[:min(len(data), 1024)])
	if bytes.Contains(head, []byte("<svg")) || strings.HasPrefix(ct, "image/svg") {
		return "", refuse(fasthttp.StatusUnsupportedMediaType, "dash.logo.error.svg")
	}
	format, ok := logoFormats[ct]
	if !ok {
		kind, _, _ := strings.Cut(ct, ";")
		return "", refuse(fasthttp.StatusUnsupportedMediaType, "dash.logo.error.type", "type", kind)
	}
	name := strings.ToUpper(format)
	if format == "webp" {
		name = "WebP"
	}
	cfg, got, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil || got != format {
		return "", refuse(fasthttp.StatusBadRequest, "dash.logo.error.invalid", "format", name)
	}
	if cfg.Width < MinLogoSide || cfg.Height < MinLogoSide || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		// Integers as strings: pixel counts are written without digit grouping.
		return "", refuse(fasthttp.StatusBadRequest, "dash.logo.error.dimensions", "width", strconv.Itoa(cfg.Width), "height", strconv.Itoa(cfg.Height),
			"min", strconv.Itoa(MinLogoSide), "max", strconv.Itoa(MaxLogoSide))
	}
	if _, _, err := image.Decode(bytes.NewReader(data)); err != nil {
		return "", refuse(fasthttp.StatusBadRequest, "dash.logo.error.damaged", "format", name)
	}
	return ct, nil
}

// saveBranding stores the colours and, when one was chosen, the logo, in one Txn; a refused
// upload stores nothing.
func (d *Dashboard) saveBranding(ctx *fasthttp.RequestCtx, r *request) {
	// Refuse a large upload on its Content-Length, before the body is looked at.
	if cl := ctx.Request.Header.ContentLength(); cl > MaxUploadBody {
		d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "",
			r.T("dash.branding.error.uploadTooLarge", "size", sizeText(cl, r.l), "max", sizeText(tenants.MaxLogoBytes, r.l)))
		return
	}
	if len(ctx.Request.Body()) > MaxUploadBody {
		d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "",
			r.T("dash.branding.error.bodyTooLarge", "max", sizeText(tenants.MaxLogoBytes, r.l)))
		return
	}
	form, err := ctx.MultipartFormWithLimit(MaxUploadBody)
	if err != nil {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.form"))
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
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.colours"))
		return
	}
	accentTitles := value("accent_titles") == "on"
	if accentTitles && !theme.Readable(accent) {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.accentTitles",
			"colour", accent, "ratio", decimal(theme.ContrastRatio(accent, theme.Background), r.l.locale)+":1"))
		return
	}
	var logo *tenants.LogoUpdate
	if files := form.File["logo"]; len(files) > 0 && files[0].Size > 0 {
		fh := files[0]
		if fh.Size > tenants.MaxLogoBytes {
			d.brandingPage(ctx, r, fasthttp.StatusRequestEntityTooLarge, "", r.T("dash.branding.error.notSaved",
				"error", r.T("dash.logo.error.tooLarge", "size", sizeText(int(fh.Size), r.l), "max", sizeText(tenants.MaxLogoBytes, r.l))))
			return
		}
		f, err := fh.Open()
		if err != nil {
			d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.unreadable"))
			return
		}
		data, err := io.ReadAll(io.LimitReader(f, tenants.MaxLogoBytes+1))
		f.Close()
		if err != nil {
			d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.unreadable"))
			return
		}
		ct, err := ValidateLogo(data)
		var le *logoError
		if errors.As(err, &le) {
			d.log.Info("dashboard: logo refused", "tenant", r.tenant.Slug, "reason", le.Error())
			d.brandingPage(ctx, r, le.status, "", r.T("dash.branding.error.notSaved", "error", le.text(r.l)))
			return
		}
		logo = &tenants.LogoUpdate{Data: data, ContentType: ct}
	} else if value("remove_logo") == "on" {
		logo = &tenants.LogoUpdate{Remove: true}
	}
	t, err := d.store.UpdateTenant(web.Detach(ctx), r.tenant.ID, func(t *tenants.Tenant) error {
		t.Branding.PrimaryColor, t.Branding.AccentColor, t.Branding.AccentTitles = primary, accent, accentTitles
		return nil
	}, logo)
	if errors.Is(err, tenants.ErrInvalidTenant) {
		d.brandingPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.branding.error.notSaved",
			"error", strings.TrimPrefix(err.Error(), tenants.ErrInvalidTenant.Error()+": ")+"."))
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: branding saved", "tenant", t.Slug, "by", r.s.Email, "logo", logo != nil)
	r.tenant = t
	msg := r.T("dash.branding.saved")
	if logo != nil && logo.Remove {
		msg = r.T("dash.branding.savedLogoRemoved")
	}
	d.brandingPage(ctx, r, fasthttp.StatusOK, msg, "")
}
