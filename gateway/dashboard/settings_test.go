package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/webhooks"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/internal/dnstest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/theme"
	"github.com/valyala/fasthttp"
)

// pngImage encodes a w×h PNG.
func pngImage(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x * 4), 80, uint8(y * 4), 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func encoded(enc func(*bytes.Buffer, image.Image) error) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	var b bytes.Buffer
	if err := enc(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// upload posts the branding form as multipart, from the dashboard's origin.
func (a *agent) upload(csrf, primary, accent, filename string, data []byte, extra ...string) *fasthttp.Response {
	a.h.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if csrf != "" {
		w.WriteField("csrf", csrf)
	}
	w.WriteField("primary_color", primary)
	w.WriteField("accent_color", accent)
	for i := 0; i+1 < len(extra); i += 2 {
		w.WriteField(extra[i], extra[i+1])
	}
	if data != nil {
		fw, _ := w.CreateFormFile("logo", filename)
		fw.Write(data)
	}
	w.Close()
	return a.do("POST", dashHost, "/settings/branding", body.Bytes(), "Origin", origin, "Content-Type", w.FormDataContentType())
}

func TestBranding(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{serverBody: 8 << 20}) // the dashboard's own size check, not the server's
	a := h.signedIn()
	csrf := a.csrf("/settings/branding")
	logoPNG := pngImage(64, 32)
	body := expect(t, a.upload(csrf, "#112233", "#0f766e", "logo.png", logoPNG), 200, "Branding saved", `src="/assets/logo?v=`)
	tn := h.tenantNow(h.acme.ID)
	if tn.Branding.LogoType != "image/png" || tn.Branding.PrimaryColor != "#112233" || tn.Branding.AccentColor != "#0f766e" {
		t.Fatalf("stored branding %+v", tn.Branding)
	}
	if !strings.Contains(body, `href="/assets/preview.css?p=112233&a=0f766e"`) {
		t.Fatal("the preview does not use the saved colours")
	}
	css := string(a.get("/assets/preview.css?p=112233&a=0f766e").Body())
	if css != ".preview,.title-shade{--p:#112233;--a:#0f766e;--button:#0f766e;--accent-contrast:#ffffff}\n" {
		t.Fatalf("preview.css = %q", css)
	}
	// Colours too light to read are previewed as the portal paints them: darkened.
	css = string(a.get("/assets/preview.css?p=ffeb3b&a=14b8a6").Body())
	if want := string(theme.For("#ffeb3b", "#14b8a6").CSS(".preview,.title-shade")); css != want || strings.Contains(css, "#ffeb3b") {
		t.Fatalf("preview.css of light colours = %q, want %q", css, want)
	}
	// The dashboard reads the tenant from the watched index: wait for the change to arrive.
	etcdtest.Wait(t, "the dashboard serves the new logo", func() bool {
		got := a.get("/assets/logo")
		return bytes.Equal(got.Body(), logoPNG) && string(got.Header.ContentType()) == "image/png"
	})
	// The portal serves it too.
	etcdtest.Wait(t, "the portal sees the logo", func() bool {
		t, _ := h.store.TenantByID(h.acme.ID)
		return t.Branding.LogoETag == tn.Branding.LogoETag
	})
	if r := h.agent().do("GET", "acme."+base, "/assets/logo", nil); !bytes.Equal(r.Body(), logoPNG) {
		t.Fatal("the portal does not serve the new logo")
	}
	logoBefore := tn.Branding.LogoETag
	unchanged := func(what string) {
		t.Helper()
		now := h.tenantNow(h.acme.ID)
		if now.Branding.LogoETag != logoBefore || now.Branding.PrimaryColor != "#112233" {
			t.Fatalf("%s changed the stored branding: %+v", what, now.Branding)
		}
		l, err := h.store.Logo(context.Background(), now)
		if err != nil || !bytes.Equal(l.Data, logoPNG) {
			t.Fatalf("%s changed the stored logo", what)
		}
	}

	svg := []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><script>alert(document.cookie)</script><rect width="64" height="64"/></svg>`)
	garbage := append(append([]byte{}, logoPNG[:8]...), bytes.Repeat([]byte("garbage!"), 200)...)
	truncated := logoPNG[:len(logoPNG)/2]
	huge := bytes.Repeat([]byte{0}, 5<<20)
	copy(huge, logoPNG)
	big := make([]byte, 850<<10) // a valid PNG header padded past 800 KB
	copy(big, logoPNG)
	for _, c := range []struct {
		name, file string
		data       []byte
		status     int
		msg        string
	}{
		{"SVG with script", "logo.svg", svg, 415, "SVG images are not accepted because they can contain scripts"},
		{"SVG named .png", "logo.png", svg, 415, "SVG images are not accepted"},
		{"HTML", "logo.png", []byte("<html><script>alert(1)</script></html>"), 415, "not a PNG, JPEG, GIF or WebP image (it looks like text/html"},
		{"PNG header on garbage", "logo.png", garbage, 400, "starts like a PNG image but is not a valid one"},
		{"truncated PNG", "logo.png", truncated, 400, "The PNG image is damaged"},
		{"tiny PNG", "logo.png", pngImage(8, 8), 400, "8×8 pixels; each side must be between 16 and 4096"},
		{"5 MB file", "logo.png", huge, 413, "The upload is 5.0 MB; a logo may be at most 800 KB"},
		{"850 KB file", "logo.png", big, 413, "may be at most 800 KB"},
	} {
		body := expect(t, a.upload(csrf, "#000000", "#000000", c.file, c.data), c.status, c.msg, "Nothing was saved")
		if strings.Contains(body, "<script>") {
			t.Fatalf("%s: the page reflects markup", c.name)
		}
		unchanged(c.name)
	}
	// Without the CSRF token or from another origin: refused, nothing stored.
	expect(t, a.upload("", "#000000", "#000000", "logo.png", pngImage(32, 32)), 403, "security token")
	unchanged("a form without CSRF token")
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("csrf", csrf)
	w.WriteField("primary_color", "#000000")
	w.WriteField("accent_color", "#000000")
	w.Close()
	expect(t, a.do("POST", dashHost, "/settings/branding", mp.Bytes(), "Origin", "https://attacker.example", "Content-Type", w.FormDataContentType()), 403)
	unchanged("a cross-origin form")
	expect(t, a.upload(csrf, "red", "#000000", "", nil), 400, "#rrggbb")
	unchanged("an invalid colour")

	// JPEG and GIF are accepted; a low-contrast accent is stored as given, with a warning, and
	// the preview keeps button text readable.
	jpg := encoded(func(b *bytes.Buffer, i image.Image) error { return jpeg.Encode(b, i, nil) })
	expect(t, a.upload(csrf, "#112233", "#0f766e", "logo.jpg", jpg), 200, "Branding saved")
	if h.tenantNow(h.acme.ID).Branding.LogoType != "image/jpeg" {
		t.Fatal("JPEG not stored")
	}
	g := encoded(func(b *bytes.Buffer, i image.Image) error { return gif.Encode(b, i, nil) })
	body = expect(t, a.upload(csrf, "#fde047", "#ffd700", "logo.gif", g), 200, "Branding saved", "Low contrast",
		"Titles in this colour are hard to read", "buttons use dark text instead")
	if tb := h.tenantNow(h.acme.ID).Branding; tb.LogoType != "image/gif" || tb.AccentColor != "#ffd700" {
		t.Fatalf("stored %+v", tb)
	}
	if css := string(a.get("/assets/preview.css?p=fde047&a=ffd700").Body()); !strings.Contains(css, "--accent-contrast:#111827") {
		t.Fatalf("preview.css for a light accent: %q", css)
	}
	_ = body
	// Removing the logo.
	expect(t, a.upload(csrf, "#112233", "#0f766e", "", nil, "remove_logo", "on"), 200, "logo removed")
	if h.tenantNow(h.acme.ID).Branding.LogoType != "" {
		t.Fatal("the logo was not removed")
	}
}

// TestBrandingTitleColour: the branding form shows the shade the portal paints titles in (a yellow
// title colour darkens to olive) and why; the admin can paint titles in the accent instead, which
// the portal, the preview and the form's swatch then show, but only while the accent itself reads
// on the page: a faint accent is refused with the reason, and nothing is saved.
func TestBrandingTitleColour(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	csrf := a.csrf("/settings/branding")
	ratio := func(c string) string {
		return strconv.FormatFloat(theme.ContrastRatio(c, theme.Background), 'f', 1, 64) + ":1"
	}
	olive := theme.For("#ffeb3b", "#0f766e").Primary
	if olive == "#ffeb3b" || !theme.Readable(olive) {
		t.Fatalf("theme darkens #ffeb3b to %s", olive)
	}
	expect(t, a.upload(csrf, "#ffeb3b", "#0f766e", "", nil), 200, "Branding saved",
		`<code id="title-shade">`+olive+`</code>`,
		"Your title colour #ffeb3b reads at only "+ratio("#ffeb3b")+" on the portal’s page, and text needs 4.5:1, so titles are shown in this darker shade of it.",
		`<input type="checkbox" name="accent_titles" value="on"> Use the accent colour for titles instead`)
	if tn := h.tenantNow(h.acme.ID); tn.Branding.AccentTitles {
		t.Fatalf("accent titles without asking: %+v", tn.Branding)
	}

	// Titles in the accent: stored, shown as the shade, previewed, and painted by the portal.
	body := expect(t, a.upload(csrf, "#ffeb3b", "#0f766e", "", nil, "accent_titles", "on"), 200, "Branding saved",
		`<code id="title-shade">#0f766e</code>`, `name="accent_titles" value="on" checked`,
		`href="/assets/preview.css?p=ffeb3b&a=0f766e&t=accent"`)
	if strings.Contains(body, "titles are shown in this darker shade") {
		t.Error("the form explains a darkened title colour the portal no longer uses")
	}
	if tn := h.tenantNow(h.acme.ID); !tn.Branding.AccentTitles || tn.Branding.PrimaryColor != "#ffeb3b" {
		t.Fatalf("stored %+v", tn.Branding)
	}
	if css, want := string(a.get("/assets/preview.css?p=ffeb3b&a=0f766e&t=accent").Body()), ".preview,.title-shade{--p:#0f766e;--a:#0f766e;--button:#0f766e;--accent-contrast:#ffffff}\n"; css != want {
		t.Errorf("preview.css with accent titles = %q, want %q", css, want)
	}
	etcdtest.Wait(t, "the portal sees the choice", func() bool {
		t, _ := h.store.TenantByID(h.acme.ID)
		return t.Branding.AccentTitles
	})
	if css := string(h.agent().do("GET", "acme."+base, "/assets/theme.css", nil).Body()); !strings.Contains(css, "--p:#0f766e;") {
		t.Errorf("the portal's theme.css does not paint titles in the accent: %q", css)
	}

	// A faint accent cannot take the titles: refused with the reason, nothing saved.
	expect(t, a.upload(csrf, "#ffeb3b", "#14b8a6", "", nil, "accent_titles", "on"), 400,
		"Titles can be in the accent colour only when it reads on the page: #14b8a6 has "+ratio("#14b8a6")+", and 4.5:1 is needed. Nothing was saved.")
	if tn := h.tenantNow(h.acme.ID); tn.Branding.AccentColor != "#0f766e" || !tn.Branding.AccentTitles {
		t.Fatalf("a refused form changed the branding: %+v", tn.Branding)
	}
	// With a faint accent saved for links only, the form says why it cannot take the titles.
	expect(t, a.upload(csrf, "#ffeb3b", "#14b8a6", "", nil), 200, "Branding saved",
		`<code id="title-shade">`+theme.For("#ffeb3b", "#14b8a6").Primary+`</code>`,
		`aria-describedby="accent-titles-hint"`,
		"Your accent colour #14b8a6 reads at only "+ratio("#14b8a6")+" on the page, too faint for titles (4.5:1 is needed): choose a darker accent to use it for titles.")
	if tn := h.tenantNow(h.acme.ID); tn.Branding.AccentTitles {
		t.Fatalf("unticking did not turn accent titles off: %+v", tn.Branding)
	}
}

func TestBrandingBehindTheGatewayServerLimit(t *testing.T) {
	t.Parallel()
	// Served by the gateway's own fasthttp server (8 MiB body limit), a 5 MB upload reaches the
	// dashboard, which refuses it on its Content-Length with its own page. Nothing is stored.
	h := newHarness(t, options{})
	a := h.signedIn()
	csrf := a.csrf("/settings/branding")
	huge := make([]byte, 5<<20)
	copy(huge, pngImage(32, 32))
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", csrf)
	w.WriteField("primary_color", "#000000")
	w.WriteField("accent_color", "#000000")
	fw, _ := w.CreateFormFile("logo", "logo.png")
	fw.Write(huge)
	w.Close()
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + dashHost + "/settings/branding")
	req.Header.Set("Origin", origin)
	req.Header.SetContentType(w.FormDataContentType())
	for k, v := range a.jar[dashHost] {
		req.Header.SetCookie(k, v)
	}
	req.SetBody(body.Bytes())
	if err := h.client.DoTimeout(req, resp, testwait.Patience); err != nil || resp.StatusCode() != 413 || !strings.Contains(string(resp.Body()), "800 KB") {
		t.Fatalf("5 MB upload through the gateway server: %d %s", resp.StatusCode(), resp.Body())
	}
	if h.tenantNow(h.acme.ID).Branding.LogoType != "" {
		t.Fatal("a logo was stored")
	}
	expect(t, a.upload(csrf, "#000000", "#000000", "logo.png", pngImage(32, 32)), 200, "Branding saved")
}

func TestValidateLogoAndContrast(t *testing.T) {
	t.Parallel()
	if ct, err := dashboard.ValidateLogo(pngImage(16, 4096)); err != nil || ct != "image/png" {
		t.Fatalf("16×4096 PNG: %q %v", ct, err)
	}
	if _, err := dashboard.ValidateLogo(pngImage(4097, 16)); err == nil {
		t.Fatal("a 4097-pixel-wide PNG was accepted")
	}
	// A PNG header claiming 100000×100000 pixels is refused before decoding.
	bomb := pngImage(16, 16)
	bomb[16], bomb[17], bomb[18], bomb[19] = 0, 1, 0x86, 0xa0
	bomb[20], bomb[21], bomb[22], bomb[23] = 0, 1, 0x86, 0xa0
	if _, err := dashboard.ValidateLogo(bomb); err == nil {
		t.Fatal("an oversized PNG header was accepted")
	}
}

func TestPortalSettings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	expect(t, a.get("/settings/portal"), 200, `name="link_ttl"`, `value="60"`, `value="end_of_term" checked`,
		`name="allow_plan_change" value="on" checked`, `name="allow_quantity_change" value="on" checked`, "Change plan (subscriptions on a catalog plan)",
		`name="show_usage" value="on" checked`, `name="allow_wallet_top_up" value="on" checked`, "Show Usage (meters and prepaid credit)",
		`name="allow_team_management" value="on">`, "Owners invite colleagues and manage their roles on the Team page")
	body := expect(t, a.form("/settings/portal", "show_plan_overview", "on", "show_invoices", "on", "cancel_mode", "immediate",
		"link_ttl", "90", "session_ttl", "30", "payment_setup_url", "https://acme.example/pay", "allow_quantity_change", "on", "show_usage", "on",
		"allow_team_management", "on"), 200, "Portal settings saved", `name="allow_team_management" value="on" checked`)
	if !strings.Contains(body, `value="immediate" checked`) {
		t.Fatal("the saved mode is not shown")
	}
	tn := h.tenantNow(h.acme.ID)
	want := tenants.PortalDefaults{ShowPlanOverview: true, ShowInvoices: true, CancelMode: tenants.CancelImmediate, AllowQuantityChange: true, ShowUsage: true, AllowTeamManagement: true}
	if tn.Portal != want || tn.LinkTTL.D() != 90*time.Minute || tn.SessionTTL.D() != 30*time.Minute || tn.PaymentSetupURL != "https://acme.example/pay" {
		t.Fatalf("stored %+v %v %v %q", tn.Portal, tn.LinkTTL, tn.SessionTTL, tn.PaymentSetupURL)
	}
	for _, c := range [][]string{
		{"link_ttl", "4", "session_ttl", "30", "cancel_mode", "end_of_term"},
		{"link_ttl", "60", "session_ttl", "721", "cancel_mode", "end_of_term"},
		{"link_ttl", "1h", "session_ttl", "30", "cancel_mode", "end_of_term"},
		{"link_ttl", "60", "session_ttl", "30", "cancel_mode", "whenever"},
		{"link_ttl", "60", "session_ttl", "30", "cancel_mode", "end_of_term", "payment_setup_url", "http://acme.example/pay"},
	} {
		expect(t, a.form("/settings/portal", c...), 400, "Nothing was saved")
		if now := h.tenantNow(h.acme.ID); now.Revision != tn.Revision {
			t.Fatalf("invalid form %v changed the tenant", c)
		}
	}
	// Sign in by email: off until ticked, and off again when unticked.
	if tn.EmailSignIn {
		t.Fatal("a form without email_sign_in turned sign in by email on")
	}
	expect(t, a.get("/settings/portal"), 200, `name="email_sign_in" value="on" aria-describedby`, "Customers may sign in with their billing email")
	expect(t, a.form("/settings/portal", "link_ttl", "60", "session_ttl", "30", "cancel_mode", "end_of_term", "email_sign_in", "on"), 200,
		`name="email_sign_in" value="on" checked`)
	if !h.tenantNow(h.acme.ID).EmailSignIn {
		t.Fatal("email_sign_in=on was not stored")
	}
	expect(t, a.form("/settings/portal", "link_ttl", "60", "session_ttl", "30", "cancel_mode", "end_of_term"), 200)
	if h.tenantNow(h.acme.ID).EmailSignIn {
		t.Fatal("unticking email_sign_in was not stored")
	}
	// New links use the new defaults.
	body = expect(t, a.form("/customers/acc_7Hq2LmX9/copy-link"), 200)
	if !strings.Contains(body, "until") {
		t.Fatal("no link")
	}
}

func TestDomainsPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	zone := dnstest.Start(t)
	// A dashboard whose verifier asks the test zone.
	d, err := dashboard.New(dashboard.Config{Store: h.store, Issuer: h.gw.Issuer(), Now: h.now, Logger: h.log,
		Domains: &domains.Verifier{Store: h.store, BaseDomain: base, Resolver: domains.NewResolver(zone.Addr)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	h.dash = d
	a := h.signedIn()
	expect(t, a.get("/settings/domains"), 200, "No custom domains yet")
	expect(t, a.form("/settings/domains", "action", "add", "domain", "not a domain"), 400, "&#34;not a domain&#34; is not a host name")
	body := expect(t, a.form("/settings/domains", "action", "add", "domain", "Billing.Acme.example"), 200,
		"billing.acme.example was added", "CNAME", "acme.portal.test", "_portico-challenge.billing.acme.example", "Pending")
	dm, _, err := h.store.Domain(context.Background(), h.acme.ID, "billing.acme.example")
	if err != nil || !strings.Contains(body, dm.Token) {
		t.Fatalf("the page lacks the TXT token: %v", err)
	}
	expect(t, a.form("/settings/domains", "action", "add", "domain", "billing.acme.example"), 409, "You have already added this domain")
	// Names under the base domain are Portico's own.
	expect(t, a.form("/settings/domains", "action", "add", "domain", "initech."+base), 400, "is under Portico’s own domain")
	// Another tenant's claim on the name blocks nobody, and neither sees the other's.
	b := h.agent()
	if r := b.login("initech", "boss@initech.example", password+" 2"); r.StatusCode() != 303 {
		t.Fatal("initech sign-in")
	}
	bBody := expect(t, b.form("/settings/domains", "action", "add", "domain", "billing.acme.example"), 200, "billing.acme.example was added", "Pending", "Verify before")
	if strings.Contains(bBody, dm.Token) {
		t.Fatal("another tenant sees the first claim's token")
	}

	expect(t, a.form("/settings/domains", "action", "verify", "domain", "billing.acme.example"), 200, "is not verified yet", "TXT record")
	zone.Set("_portico-challenge.billing.acme.example. 60 IN TXT \""+dm.Token+"\"",
		"billing.acme.example. 60 IN CNAME acme.portal.test.", "acme.portal.test. 60 IN A 192.0.2.10")
	expect(t, a.form("/settings/domains", "action", "verify", "domain", "billing.acme.example"), 200, "is verified and active", "Active")
	// The other claim is told.
	expect(t, b.get("/settings/domains"), 200, "Taken", tenants.TakenReason)
	expect(t, b.form("/settings/domains", "action", "remove", "domain", "billing.acme.example"), 200, "was removed")
	expect(t, a.form("/settings/domains", "action", "remove", "domain", "billing.acme.example"), 200, "was removed")
	if _, _, err := h.store.Domain(context.Background(), h.acme.ID, "billing.acme.example"); !errors.Is(err, tenants.ErrDomainNotFound) {
		t.Fatalf("domain still stored: %v", err)
	}
}

func TestAPIKeysPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	body := expect(t, a.form("/settings/api-keys", "action", "create", "name", "backend"), 200, "shown only this once", "backend")
	key := regexp.MustCompile(`pk_[a-z2-7]{12}_[a-z2-7]+`).FindString(body)
	rec, err := h.store.Authenticate(context.Background(), key)
	if key == "" || err != nil || rec.TenantID != h.acme.ID {
		t.Fatalf("the shown key does not authenticate: %q %v", key, err)
	}
	if strings.Contains(string(a.get("/settings/api-keys").Body()), key) {
		t.Fatal("the key is shown again")
	}
	// Another tenant's admin cannot revoke it.
	b := h.agent()
	b.login("initech", "boss@initech.example", password+" 2")
	expect(t, b.form("/settings/api-keys", "action", "revoke", "id", rec.ID), 404)
	expect(t, a.form("/settings/api-keys", "action", "revoke", "id", rec.ID), 200, "was revoked")
	etcdtest.Wait(t, "revocation watched", func() bool {
		_, err := h.store.Authenticate(context.Background(), key)
		return errors.Is(err, tenants.ErrKeyInvalid)
	})
}

// fakeWebhooks is an in-memory WebhookPages, scoped by tenant.
type fakeWebhooks struct {
	mu         sync.Mutex
	n          int
	endpoints  map[string]map[string]dashboard.WebhookEndpoint
	deliveries map[string][]dashboard.WebhookDelivery
}

func (f *fakeWebhooks) ListEndpoints(_ context.Context, tid string) ([]dashboard.WebhookEndpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []dashboard.WebhookEndpoint
	for _, e := range f.endpoints[tid] {
		out = append(out, e)
	}
	return out, nil
}

func (f *fakeWebhooks) CreateEndpoint(_ context.Context, tid, u, desc string) (dashboard.WebhookEndpoint, string, error) {
	if !strings.HasPrefix(u, "https://") {
		return dashboard.WebhookEndpoint{}, "", fmt.Errorf("%w: the URL must be https", dashboard.ErrWebhookInvalid)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	e := dashboard.WebhookEndpoint{ID: fmt.Sprintf("we_%d", f.n), URL: u, Description: desc, CreatedAt: time.Now()}
	if f.endpoints[tid] == nil {
		f.endpoints[tid] = map[string]dashboard.WebhookEndpoint{}
	}
	f.endpoints[tid][e.ID] = e
	return e, "whsec_c2VjcmV0LXNob3duLW9uY2U=", nil
}

func (f *fakeWebhooks) DeleteEndpoint(_ context.Context, tid, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.endpoints[tid][id]; !ok {
		return dashboard.ErrWebhookNotFound
	}
	delete(f.endpoints[tid], id)
	return nil
}

func (f *fakeWebhooks) SendTest(_ context.Context, tid, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.endpoints[tid][id]; !ok {
		return "", dashboard.ErrWebhookNotFound
	}
	f.deliveries[id] = append(f.deliveries[id], dashboard.WebhookDelivery{ID: "wd_1", EventID: "evt_test1", EventType: "webhook.test",
		State: "delivered", Attempts: 1, LastStatus: 204, CreatedAt: time.Now(), UpdatedAt: time.Now()})
	return "evt_test1", nil
}

func (f *fakeWebhooks) ListDeliveries(_ context.Context, tid, id string, limit int) ([]dashboard.WebhookDelivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deliveries[id], nil
}

func TestWebhooksPages(t *testing.T) {
	t.Parallel()
	// Without a webhook service the pages do not exist.
	h0 := newHarness(t, options{})
	a0 := h0.signedIn()
	if strings.Contains(string(a0.get("/customers").Body()), "/settings/webhooks") {
		t.Fatal("webhooks in the navigation without a service")
	}
	expect(t, a0.get("/settings/webhooks"), 404)

	f := &fakeWebhooks{endpoints: map[string]map[string]dashboard.WebhookEndpoint{}, deliveries: map[string][]dashboard.WebhookDelivery{}}
	h := newHarness(t, options{webhooks: f})
	a := h.signedIn()
	expect(t, a.get("/customers"), 200, `href="/settings/webhooks"`)
	expect(t, a.form("/settings/webhooks", "action", "create", "url", "http://insecure.example/hook"), 400, "must be https", "http://insecure.example/hook")
	body := expect(t, a.form("/settings/webhooks", "action", "create", "url", "https://hooks.acme.example/portico", "description", "CRM sync"), 200,
		"shown only this once", "whsec_c2VjcmV0LXNob3duLW9uY2U=", "CRM sync", "Send Test Event", "Message Logs")
	_ = body
	if strings.Contains(string(a.get("/settings/webhooks").Body()), "whsec_") {
		t.Fatal("the secret is shown again")
	}
	expect(t, a.form("/settings/webhooks", "action", "test", "id", "we_1"), 200, "A test event (evt_test1) is on its way")
	expect(t, a.get("/settings/webhooks/we_1"), 200, "Message logs", "webhook.test", "evt_test1", "Delivered", "204")
	// Another tenant's admin cannot see or touch the endpoint.
	b := h.agent()
	b.login("initech", "boss@initech.example", password+" 2")
	expect(t, b.get("/settings/webhooks/we_1"), 404)
	expect(t, b.form("/settings/webhooks", "action", "delete", "id", "we_1"), 404)
	expect(t, a.form("/settings/webhooks", "action", "delete", "id", "we_1"), 200, "was deleted")
	expect(t, a.get("/settings/webhooks"), 200, "No endpoints yet")
}

// TestBackendPage: Settings → Backend against a real backend service and real HTTP backends:
// register (the secret shown once), refused URLs with their reason, "Send test request" showing
// the answer or the failure class, rotate, remove; another tenant's admin sees none of it; every
// post needs the CSRF token; the page reads in every language.
func TestBackendPage(t *testing.T) {
	t.Parallel()
	h0 := newHarness(t, options{})
	if strings.Contains(string(h0.signedIn().get("/customers").Body()), "/settings/backend") {
		t.Fatal("Backend in the navigation without a service")
	}
	expect(t, h0.signedIn().get("/settings/backend"), 404)

	h := newHarness(t, options{backend: true})
	answer := make(chan string, 1)
	answer <- `{"result":"succeeded","message":"pong <b>"}`
	var secret atomic.Pointer[string]
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if s := secret.Load(); s == nil || webhooks.Verify([]string{*s}, r.Header, body, time.Now()) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		a := <-answer
		answer <- a
		if a == "500" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, a)
	}))
	t.Cleanup(rcv.Close)
	a := h.signedIn()
	expect(t, a.get("/customers"), 200, `href="/settings/backend"`)
	expect(t, a.get("/settings/backend"), 200, "No backend is registered yet", "Register your backend")
	expect(t, a.form("/settings/backend", "action", "save", "url", "ftp://billing.example/"), 400, "scheme", "ftp://billing.example/")
	expect(t, a.form("/settings/backend", "action", "save", "url", "https://10.1.2.3/portico"), 400, "blocked range")
	expect(t, a.form("/settings/backend", "action", "test"), 404, "No backend is registered in this workspace")
	body := expect(t, a.form("/settings/backend", "action", "save", "url", rcv.URL+"/portico"), 200, "shown only this once", "whsec_", "Send test request", "Rotate secret", rcv.URL+"/portico")
	m := regexp.MustCompile(`value="(whsec_[^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no secret on the page")
	}
	s := html.UnescapeString(m[1])
	secret.Store(&s)
	if strings.Contains(string(a.get("/settings/backend").Body()), "whsec_") {
		t.Fatal("the secret is shown again")
	}
	// The answer's message is the backend's text: escaped.
	expect(t, a.form("/settings/backend", "action", "test"), 200, "The backend answered “succeeded”: pong &lt;b&gt;")
	<-answer
	answer <- "500"
	expect(t, a.form("/settings/backend", "action", "test"), 200, "HTTP status 500 instead of 200")
	<-answer
	answer <- `{"result":"maybe"}`
	expect(t, a.form("/settings/backend", "action", "test"), 200, "The backend&#39;s answer is not valid: unknown result")
	// Rotating: the test backend knows only the old secret, which still signs.
	<-answer
	answer <- `{"result":"pending"}`
	expect(t, a.form("/settings/backend", "action", "rotate"), 200, "shown only this once", "whsec_", "the previous secret also signs until")
	expect(t, a.form("/settings/backend", "action", "test"), 200, "The backend answered “pending”.")
	// Every language: the page and a test's answer.
	for _, lang := range []string{"en", "de", "fr", "es", "ja", "pt-BR"} {
		p := i18n.ForLocale(lang)
		page(t, lang+" backend page", a.inLang(lang, "GET", "/settings/backend", nil), 200, p, map[string][]any{
			"dash.backend.title": nil, "dash.backend.current": nil, "dash.backend.test": nil, "dash.backend.rotate": nil,
			"dash.backend.delete": nil, "dash.backend.changeTitle": nil, "dash.backend.url": nil, "dash.backend.saveHint": nil,
			"dash.backend.save": nil, "dash.nav.backend": nil,
		})
		page(t, lang+" test answer", a.formIn(lang, "/settings/backend", "action", "test"), 200, p, map[string][]any{
			"dash.backend.test.answer": {"result", "pending"},
		})
	}
	// No CSRF token, no change.
	expect(t, a.post("/settings/backend", url.Values{"action": {"delete"}}), 403)

	// Another tenant's admin sees no backend and cannot remove or rotate this one.
	b := h.agent()
	b.login("initech", "boss@initech.example", password+" 2")
	expect(t, b.get("/settings/backend"), 200, "No backend is registered yet")
	expect(t, b.form("/settings/backend", "action", "delete"), 404)
	expect(t, b.form("/settings/backend", "action", "rotate"), 404)
	expect(t, b.form("/settings/backend", "action", "test"), 404)
	expect(t, a.get("/settings/backend"), 200, rcv.URL+"/portico")

	// Unreachable: the server is gone.
	rcv.Close()
	expect(t, a.form("/settings/backend", "action", "test"), 200, "could not be reached")
	expect(t, a.form("/settings/backend", "action", "delete"), 200, "The backend was removed")
	expect(t, a.get("/settings/backend"), 200, "No backend is registered yet")
}

// TestBackendPageSourceMode: Settings → Backend turns source mode on and off with its TTL, as
// PATCH /v1/portal-settings does: only with a registered backend, a TTL within bounds or a 400
// that changes nothing, CSRF-checked, per tenant, in every language.
func TestBackendPageSourceMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{backend: true})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"result":"succeeded"}`)
	}))
	t.Cleanup(rcv.Close)
	a := h.signedIn()
	acme := h.acme
	if strings.Contains(string(a.get("/settings/backend").Body()), `name="source_ttl"`) {
		t.Fatal("the source-mode form is shown without a backend")
	}
	// A forged post without a backend: refused, nothing stored.
	expect(t, a.form("/settings/backend", "action", "source", "source", "on", "source_ttl", "5m"), 400, "No backend is registered in this workspace")
	if src := h.tenantNow(acme.ID).Source; src.Enabled {
		t.Fatalf("source mode on without a backend: %+v", src)
	}
	expect(t, a.form("/settings/backend", "action", "save", "url", rcv.URL+"/portico"), 200, "shown only this once")
	expect(t, a.get("/settings/backend"), 200, "Source mode", `name="source_ttl" type="text" value="5m"`, "from 10s to 24h")
	for _, bad := range []string{"2s", "25h", "soon", "-5m", "", "5m5m5m5m5m5m5m5m5m"} {
		body := expect(t, a.form("/settings/backend", "action", "source", "source", "on", "source_ttl", bad), 400, "Enter a duration from 10s to 24h", `aria-invalid="true"`)
		if !strings.Contains(body, `value="`+html.EscapeString(bad)+`"`) {
			t.Errorf("TTL %q: the form does not keep what was typed", bad)
		}
		if src := h.tenantNow(acme.ID).Source; src.Enabled || src.TTL != 0 {
			t.Fatalf("TTL %q was refused but stored: %+v", bad, src)
		}
	}
	expect(t, a.form("/settings/backend", "action", "source", "source", "on", "source_ttl", " 90s "), 200, "Source mode is on", "checked for changes after 1m30s")
	if src := h.tenantNow(acme.ID).Source; !src.Enabled || src.TTL.D() != 90*time.Second {
		t.Fatalf("stored %+v, want on with 90s", src)
	}
	// The page reads the tenant from the store's index, which follows etcd's watch.
	etcdtest.Wait(t, "the page shows source mode on", func() bool {
		b := string(a.get("/settings/backend").Body())
		return strings.Contains(b, `name="source" value="on" checked`) && strings.Contains(b, `value="1m30s"`)
	})
	// Another tenant's admin changes only its own workspace.
	b := h.agent()
	b.login("initech", "boss@initech.example", password+" 2")
	expect(t, b.form("/settings/backend", "action", "source", "source", "on", "source_ttl", "1h"), 400, "No backend is registered")
	// No CSRF token, no change.
	expect(t, a.post("/settings/backend", url.Values{"action": {"source"}, "source_ttl": {"1h"}}), 403)
	if src := h.tenantNow(acme.ID).Source; !src.Enabled {
		t.Fatal("a post without a CSRF token turned source mode off")
	}
	expect(t, a.form("/settings/backend", "action", "source", "source_ttl", "1h"), 200, "Source mode is off")
	if src := h.tenantNow(acme.ID).Source; src.Enabled || src.TTL.D() != time.Hour {
		t.Fatalf("stored %+v, want off with 1h", src)
	}
	for _, lang := range []string{"en", "de", "fr", "es", "ja", "pt-BR"} {
		p := i18n.ForLocale(lang)
		page(t, lang+" source mode", a.inLang(lang, "GET", "/settings/backend", nil), 200, p, map[string][]any{
			"dash.backend.source.title": nil, "dash.backend.source.enabled": nil, "dash.backend.source.ttl": nil,
			"dash.backend.source.ttlHint": {"min", "10s", "max", "24h"}, "dash.backend.source.save": nil,
		})
	}
}
