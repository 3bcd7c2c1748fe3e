package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/theme"
)

var now = time.Date(2026, 8, 3, 12, 0, 0, 0, time.UTC)

const link = "https://acme.portal.example/s/mXqXlyo-XWMOf7Y5JktoT9v2w_SYQVDefcIb64nIyco"

func message() PortalLinkMessage {
	return PortalLinkMessage{
		To: "billing@globex.example", TenantName: "Acme Cloud", AccountName: "Globex Corporation",
		URL: link, ExpiresAt: now.Add(time.Hour), PrimaryColor: "#112233", AccentColor: "#FFD700",
		LogoURL: "https://acme.portal.example/assets/logo?v=abc",
	}
}

func sender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	if cfg.From == "" {
		cfg.From = "Portico <portal@portico.example>"
	}
	cfg.Now = func() time.Time { return now }
	cfg.Timeout = 5 * time.Second
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received checks the message a server got and returns it parsed.
func received(t *testing.T, srv *mailtest.Server, wantTLS bool) *mailtest.Parsed {
	t.Helper()
	m := srv.Next(t)
	if m.TLS != wantTLS {
		t.Errorf("message came with TLS=%v, want %v", m.TLS, wantTLS)
	}
	if m.From != "portal@portico.example" || len(m.To) != 1 || m.To[0] != "billing@globex.example" {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	p, err := mailtest.Parse(m.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, m.Data)
	}
	if p.Subject != "Your billing portal link from Acme Cloud" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if from := p.Header.Get("From"); !strings.Contains(from, "Acme Cloud") || !strings.Contains(from, "<portal@portico.example>") {
		t.Errorf("From = %q", from)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, "<billing@globex.example>") {
		t.Errorf("To = %q", to)
	}
	if p.Header.Get("Auto-Submitted") != "auto-generated" || p.Header.Get("Message-Id") == "" || p.Header.Get("Date") == "" {
		t.Errorf("headers: %v", p.Header)
	}
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		for _, want := range []string{link, "expires in", "1 hour", "13:00 UTC on Aug 3, 2026", "Globex Corporation"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", name, want, body)
			}
		}
	}
	for _, want := range []string{`href="` + link + `"`, "border-top:4px solid #112233", "background:#ffd700", "color:#111827",
		`src="https://acme.portal.example/assets/logo?v=abc"`} {
		if !strings.Contains(p.HTML, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	return p
}

func TestSendPlain(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	if err := s.SendPortalLink(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	received(t, srv, false)
}

func TestSendStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{TLS: "starttls", User: "portico", Password: "smtp secret"})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSStartTLS, User: "portico", Password: "smtp secret", TLSConfig: srv.ClientTLS()})
	if err := s.SendPortalLink(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	received(t, srv, true)

	bad := sender(t, Config{Addr: srv.Addr, TLS: TLSStartTLS, User: "portico", Password: "wrong", TLSConfig: srv.ClientTLS()})
	err := bad.SendPortalLink(context.Background(), message())
	if err == nil || !strings.Contains(err.Error(), "535") {
		t.Fatalf("wrong SMTP password: %v", err)
	}
	// A certificate the client does not trust fails the handshake.
	untrusting := sender(t, Config{Addr: srv.Addr, TLS: TLSStartTLS})
	if err := untrusting.SendPortalLink(context.Background(), message()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{TLS: "tls"})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSImplicit, TLSConfig: srv.ClientTLS()})
	if err := s.SendPortalLink(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	received(t, srv, true)
}

func TestStartTLSRequired(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{}) // offers no STARTTLS
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSStartTLS})
	err := s.SendPortalLink(context.Background(), message())
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("STARTTLS required against a server without it: %v", err)
	}
	if srv.Pending() != 0 {
		t.Fatal("the message was sent in clear")
	}
}

func TestServerRefusesAndErrorsNeverHoldTheLink(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	// A server that quotes the message back in its refusal must not make the link reach logs.
	srv.Reject(&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "spam detected in " + link})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	err := s.SendPortalLink(context.Background(), message())
	if err == nil {
		t.Fatal("a refused message returned no error")
	}
	msg := err.Error()
	if strings.Contains(msg, link) || strings.Contains(msg, "mXqXlyo") {
		t.Fatalf("the error holds the link: %s", msg)
	}
	if !strings.HasPrefix(msg, "mail: sending the portal link to billing@globex.example via ") || !strings.Contains(msg, "554") ||
		!strings.Contains(msg, "[portal link]") {
		t.Fatalf("error = %s", msg)
	}
	var se *smtp.SMTPError
	_ = errors.As(err, &se) // the chain stays inspectable (go-mail wraps the server's answer its own way)

	// Nobody listening.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	s = sender(t, Config{Addr: addr, TLS: TLSNone})
	if err := s.SendPortalLink(context.Background(), message()); err == nil || !strings.Contains(err.Error(), "dial") {
		t.Fatalf("unreachable server: %v", err)
	}
	// A cancelled context stops before connecting.
	srv.Reject(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s = sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	if err := s.SendPortalLink(ctx, message()); err == nil {
		t.Fatal("a cancelled context sent the message")
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Addr: "smtp.example", From: "a@b.example"},
		{Addr: "smtp.example:0", From: "a@b.example"},
		{Addr: "smtp.example:25", TLS: "ssl", From: "a@b.example"},
		{Addr: "smtp.example:25", TLS: TLSNone, User: "u", Password: "p", From: "a@b.example"},
		{Addr: "smtp.example:587", From: "not an address"},
	} {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	if _, err := New(Config{Addr: "127.0.0.1:1025", TLS: TLSNone, User: "u", Password: "p", From: "a@b.example"}); err != nil {
		t.Errorf("credentials to a loopback catcher: %v", err)
	}
	s, err := New(Config{Addr: "smtp.example:587", From: "Billing <a@b.example>"})
	if err != nil || s.cfg.TLS != TLSStartTLS || s.cfg.Timeout != 15*time.Second {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
}

func TestRenderEscapes(t *testing.T) {
	t.Parallel()
	m := message()
	m.TenantName = `<script>alert(1)</script> "Evil"`
	m.AccountName = "<b>Bob</b>"
	m.PrimaryColor, m.AccentColor = "red;background:url(x)", "javascript:alert(1)"
	m.LogoURL = "javascript:alert(1)"
	r, err := RenderPortalLink(m, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<script>", "<b>Bob", "url(x)", "javascript:"} {
		if strings.Contains(r.HTML, bad) {
			t.Errorf("HTML contains %q", bad)
		}
	}
	if !strings.Contains(r.HTML, "#1f2937") || !strings.Contains(r.HTML, "#4f46e5") {
		t.Error("invalid colours did not fall back to the defaults")
	}
	if strings.ContainsAny(r.Subject, "\r\n") {
		t.Errorf("subject %q spans lines", r.Subject)
	}
	if strings.ContainsAny(r.HTML+r.Text, "\ue000\ue001") {
		t.Error("a placeholder marker was left in the message")
	}
	if !strings.Contains(r.HTML, "ask &lt;script&gt;alert(1)&lt;/script&gt; &#34;Evil&#34; for a new one") {
		t.Errorf("the tenant's name in the expiry sentence is not escaped:\n%s", r.HTML)
	}
	// A light accent is darkened for the link and keeps a readable button, as in the portal.
	m.AccentColor, m.PrimaryColor = "#14b8a6", "#ffeb3b"
	light, err := RenderPortalLink(m, now)
	if err != nil {
		t.Fatal(err)
	}
	pal := theme.For("#ffeb3b", "#14b8a6")
	for _, want := range []string{"border-top:4px solid #ffeb3b", "color:" + pal.Primary, "color:" + pal.Link + ";word-break:break-all",
		"background:" + pal.Button + ";color:" + pal.ButtonText} {
		if !strings.Contains(light.HTML, want) {
			t.Errorf("the light palette's HTML lacks %q", want)
		}
	}
	// A tenant that chose its accent for titles gets its heading in the accent, as in the portal.
	m.AccentColor, m.AccentTitles = "#0f766e", true
	accent, err := RenderPortalLink(m, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := "line-height:1.3;color:#0f766e\""; !strings.Contains(accent.HTML, want) {
		t.Errorf("with accent titles the heading is not in the accent: no %q", want)
	}
}

// TestRenderLocalized renders the message in each language: every text comes from the language's
// catalog, the expiry is said in its words with the time in UTC and the date in its conventions,
// regional and unknown locales resolve, and the HTML declares the language.
func TestRenderLocalized(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		locale, lang string
		// literals are written out from the catalog and the date formats, in the text part.
		literals []string
	}{
		{"", "en", []string{"Your billing portal link from Acme Cloud", "Hello Globex Corporation,", "Open your billing portal:",
			"expires in 1 hour (at 13:00 UTC on Aug 3, 2026)"}},
		{"en-GB", "en", []string{"Your billing portal link from Acme Cloud", "expires in 1 hour (at 13:00 UTC on 3 Aug 2026)"}},
		{"de-DE", "de", []string{"Ihr Link zum Abrechnungsportal von Acme Cloud", "Hallo Globex Corporation,",
			"Öffnen Sie Ihr Abrechnungsportal:", "läuft in 1 Stunde ab (um 13:00 Uhr UTC am 3. Aug. 2026)"}},
		{"de-AT", "de", []string{"Ihr Link zum Abrechnungsportal von Acme Cloud", "läuft in 1 Stunde ab"}},
		{"fr", "fr", []string{"Votre lien vers le portail de facturation de Acme Cloud", "Bonjour Globex Corporation,",
			"Ouvrez votre portail de facturation :", "expire dans 1 heure (à 13:00 UTC le 3 août 2026)"}},
		{"es-ES", "es", []string{"Tu enlace al portal de facturación de Acme Cloud", "Hola, Globex Corporation:",
			"Abre tu portal de facturación:", "caduca en 1 hora (a las 13:00 UTC del 3 ago 2026)"}},
		{"pt-BR", "pt-BR", []string{"Seu link para o portal de cobrança de Acme Cloud", "Olá, Globex Corporation,",
			"Abra seu portal de cobrança:", "expira em 1 hora (às 13:00 UTC do dia 3 de ago. de 2026)"}},
		{"pt", "pt-BR", []string{"Seu link para o portal de cobrança de Acme Cloud"}},
		{"ja", "ja", []string{"Acme Cloud の請求ポータルへのリンク", "Globex Corporation 様", "請求ポータルを開く:",
			"1時間後（2026年8月3日 13:00 UTC）に有効期限が切れます"}},
		{"ja-JP", "ja", []string{"Acme Cloud の請求ポータルへのリンク"}},
		// Unsupported, unknown and malformed locales are English.
		{"zh-CN", "en", []string{"Your billing portal link from Acme Cloud", "13:00 UTC on Aug 3, 2026"}},
		{"xx-YY", "en", []string{"Your billing portal link from Acme Cloud", "Hello Globex Corporation,"}},
		{"not a locale!", "en", []string{"Your billing portal link from Acme Cloud"}},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			m := message()
			m.Locale = tt.locale
			r, err := RenderPortalLink(m, now)
			if err != nil {
				t.Fatal(err)
			}
			p := i18n.ForLocale(tt.locale)
			if p.Lang() != tt.lang {
				t.Fatalf("ForLocale(%q) is %s, want %s", tt.locale, p.Lang(), tt.lang)
			}
			if want := p.T("email.portalLink.subject", "tenant", "Acme Cloud"); r.Subject != want {
				t.Errorf("Subject = %q, want %q", r.Subject, want)
			}
			dur := p.Duration(time.Hour)
			expiry := p.T("email.portalLink.expiresIn", "duration", dur, "time", "\x00", "tenant", "Acme Cloud")
			expiry, _, _ = strings.Cut(expiry, "\x00") // the sentence up to the time, checked by the literals
			htmlBody := html.UnescapeString(r.HTML)
			for _, want := range []string{
				p.T("email.portalLink.greeting", "name", "Globex Corporation"),
				p.T("email.portalLink.intro", "tenant", "Acme Cloud"),
				p.T("email.portalLink.ignore"),
				p.T("email.portalLink.footer", "tenant", "Acme Cloud"),
				expiry, link,
			} {
				if !strings.Contains(r.Text, want) {
					t.Errorf("text part lacks %q:\n%s", want, r.Text)
				}
			}
			if want := p.T("email.portalLink.textOpen") + "\n" + link; !strings.Contains(r.Text, want) {
				t.Errorf("text part lacks %q:\n%s", want, r.Text)
			}
			for _, want := range []string{
				`<html lang="` + tt.lang + `">`,
				"<title>" + r.Subject + "</title>",
				">" + p.T("email.portalLink.heading") + "</h1>",
				p.T("email.portalLink.greeting", "name", "Globex Corporation"),
				p.T("email.portalLink.intro", "tenant", "Acme Cloud"),
				">" + p.T("email.portalLink.button") + "</a>",
				p.T("email.portalLink.copy") + "<br>",
				strings.Replace(expiry, dur, "<strong>"+dur+"</strong>", 1),
				p.T("email.portalLink.footer", "tenant", "Acme Cloud"),
			} {
				if !strings.Contains(htmlBody, want) {
					t.Errorf("HTML part lacks %q:\n%s", want, r.HTML)
				}
			}
			for _, want := range tt.literals {
				if !strings.Contains(r.Subject+"\n"+r.Text, want) {
					t.Errorf("message lacks %q:\n%s\n%s", want, r.Subject, r.Text)
				}
			}
			if tt.lang != "en" {
				for _, english := range []string{"Hello", "billing portal", "expires in", "browser"} {
					if strings.Contains(r.Subject+r.Text+htmlBody, english) {
						t.Errorf("the %s message contains the English %q", tt.lang, english)
					}
				}
			}
		})
	}
	// Without the customer's name the greeting is the language's nameless one.
	m := message()
	m.Locale, m.AccountName = "de", ""
	r, err := RenderPortalLink(m, now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Text, "Hallo,\n") || !strings.Contains(r.HTML, ">Hallo,</p>") {
		t.Errorf("nameless German greeting:\n%s", r.Text)
	}
	// The duration is in the language: two days and three hours in French.
	m.Locale, m.ExpiresAt = "fr-CA", now.Add(51*time.Hour)
	if r, err = RenderPortalLink(m, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "expire dans 2 jours 3 heures (à 15:00 UTC le 5 août 2026)") {
		t.Errorf("French expiry:\n%s", r.Text)
	}
}

// TestSendLocalized sends a German message: the encoded subject and body arrive intact.
func TestSendLocalized(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	m := message()
	m.Locale = "de-DE"
	if err := s.SendPortalLink(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	p, err := mailtest.Parse(srv.Next(t).Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Ihr Link zum Abrechnungsportal von Acme Cloud" {
		t.Errorf("Subject = %q", p.Subject)
	}
	for name, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		for _, want := range []string{link, "Hallo Globex Corporation,", "13:00 Uhr UTC am 3. Aug. 2026"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part lacks %q:\n%s", name, want, body)
			}
		}
	}
	if !strings.Contains(p.Text, "Öffnen Sie Ihr Abrechnungsportal:") || !strings.Contains(p.HTML, ">Abrechnungsportal öffnen</a>") {
		t.Errorf("German open texts:\n%s\n%s", p.Text, p.HTML)
	}
	if !strings.Contains(p.HTML, `<html lang="de">`) || !strings.Contains(p.HTML, "läuft in <strong>1 Stunde</strong> ab") {
		t.Errorf("German HTML part:\n%s", p.HTML)
	}
}

// hostileNames are tenant and account names that broke the headers of a message built by
// formatting them into `"name" <address>` (502 for every portal-link email of the tenant).
var hostileNames = []string{
	`Acme "Billing" <ops@evil.example>`, `"`, `>`, `\`, `Acme\r\nBcc: victim@evil.example`, "Ac\x00me\t\x7f",
	"=?utf-8?q?=41cme?=", "=??B??=", "=?" + strings.Repeat("é", 60) + "?=", "Ünïcödé 請求 Ltd.", "\xff\xfe invalid UTF-8", strings.Repeat("long name ", 40), " ", "a@b.example, c@d.example",
}

// A tenant or account name with quotes, angle brackets, line breaks or control characters still
// gives a valid email, sent through a real SMTP server, whose From shows the name and which has no
// header the name smuggled in.
func TestSendHostileNames(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	for _, name := range hostileNames {
		m := message()
		m.TenantName, m.AccountName = name, name
		if err := s.SendPortalLink(context.Background(), m); err != nil {
			t.Errorf("tenant %q: %v", name, err)
			continue
		}
		got := srv.Next(t)
		if len(got.To) != 1 || got.To[0] != "billing@globex.example" {
			t.Errorf("tenant %q: envelope to %q", name, got.To)
		}
		p, err := mailtest.Parse(got.Data)
		if err != nil {
			t.Errorf("tenant %q: %v\n%s", name, err, got.Data)
			continue
		}
		checkHeaders(t, name, p.Header, "Portico")
	}
}

// checkHeaders asserts the From of a message built for tenant name shows the name (as headerText
// makes it, or fallback) with the sender's address, and that no header but the builder's is there.
func checkHeaders(t *testing.T, name string, h netmail.Header, fallback string) {
	t.Helper()
	want := displayName(headerText(name))
	if want == "" {
		want = fallback
	}
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != want || from[0].Address != "portal@portico.example" {
		t.Errorf("tenant %q: From %q = %v, %v; want name %q", name, h.Get("From"), from, err, want)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != "billing@globex.example" {
		t.Errorf("tenant %q: To %q = %v, %v", name, h.Get("To"), to, err)
	}
	for k := range h {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "Auto-Submitted", "X-Auto-Response-Suppress", "Mime-Version", "Content-Type":
		default:
			t.Errorf("tenant %q: unexpected header %s: %q", name, k, h[k])
		}
	}
}

// FuzzBuildPortalLink: any tenant name, account name and locale give a message that net/mail
// reads, with the sender's address and the tenant's name in From and no extra header.
func FuzzBuildPortalLink(f *testing.F) {
	for _, n := range hostileNames {
		f.Add(n, n, "en")
	}
	f.Add("Acme Cloud", "", "ja")
	from := &netmail.Address{Name: "Portico", Address: "portal@portico.example"}
	f.Fuzz(func(t *testing.T, tenant, account, locale string) {
		m := message()
		m.TenantName, m.AccountName, m.Locale = tenant, account, locale
		msg, err := BuildPortalLink(m, from, now)
		if err != nil {
			t.Fatalf("tenant %q, account %q: %v", tenant, account, err)
		}
		var b bytes.Buffer
		if _, err := msg.WriteTo(&b); err != nil {
			t.Fatalf("tenant %q: writing: %v", tenant, err)
		}
		p, err := mailtest.Parse(b.Bytes())
		if err != nil {
			t.Fatalf("tenant %q: %v\n%s", tenant, err, b.Bytes())
		}
		checkHeaders(t, tenant, p.Header, from.Name)
		if !strings.Contains(p.Text, link) || !strings.Contains(p.HTML, link) {
			t.Fatalf("tenant %q: the link is missing", tenant)
		}
	})
}

// TestPortalLinkWordsIntact sends the portal-link email in each shipped language through a real
// SMTP server and reads it back: the decoded text part has the "open" sentence and the decoded
// HTML part the "copy this address" sentence whole, and Chromium lays the HTML out at 1280 and
// 360 px without breaking a word of that sentence across lines (only the long address may break
// anywhere). Japanese, written without spaces, wraps between characters by its own rules, so its
// sentence is checked to stay on one line at 1280 px only.
func TestPortalLinkWordsIntact(t *testing.T) {
	t.Parallel()
	srv := mailtest.Start(t, mailtest.Options{})
	s := sender(t, Config{Addr: srv.Addr, TLS: TLSNone})
	b := browsertest.Start(t)
	for _, loc := range []string{"en", "de", "fr", "es", "pt-BR", "ja"} {
		m := message()
		m.Locale = loc
		if err := s.SendPortalLink(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		got, err := mailtest.Parse(srv.Next(t).Data)
		if err != nil {
			t.Fatal(err)
		}
		p := i18n.ForLocale(loc)
		if want := p.T("email.portalLink.textOpen") + "\n" + link; !strings.Contains(strings.ReplaceAll(got.Text, "\r\n", "\n"), want) {
			t.Errorf("%s: the decoded text part lacks %q:\n%s", loc, want, got.Text)
		}
		sentence := p.T("email.portalLink.copy")
		if !strings.Contains(html.UnescapeString(got.HTML), sentence) {
			t.Errorf("%s: the decoded HTML part lacks %q:\n%s", loc, sentence, got.HTML)
			continue
		}
		b.Do(chromedp.Navigate("data:text/html;charset=utf-8;base64,"+base64.StdEncoding.EncodeToString([]byte(got.HTML))),
			chromedp.WaitVisible(chromedp.CSS("h1")))
		for _, w := range []int{1280, 360} {
			if loc == "ja" && w == 360 {
				continue
			}
			b.Viewport(w)
			broken := browsertest.Eval[[]string](b, `(() => {
				const sentence = `+strconv.Quote(sentence)+`;
				const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
				let node;
				while ((node = walk.nextNode()) && !node.data.includes(sentence)) {}
				if (!node) return ["(sentence not found)"];
				const at = node.data.indexOf(sentence), broken = [];
				for (const m of sentence.matchAll(/\S+/g)) {
					const r = document.createRange();
					r.setStart(node, at + m.index);
					r.setEnd(node, at + m.index + m[0].length);
					if (new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1) broken.push(m[0]);
				}
				return broken; })()`)
			if len(broken) > 0 {
				t.Errorf("%s at %d px: words broken across lines: %q", loc, w, broken)
			}
			b.Screenshot(fmt.Sprintf("mail/portal-link-%s-%d.png", loc, w))
		}
	}
}

// TestRenderSignIn: a message with a Code is the sign-in email in each language: its own subject
// and texts, the code in both parts, the link and the 15 minutes.
func TestRenderSignIn(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ locale, subject, codeText string }{
		{"en", "Sign in to your billing portal at Acme Cloud", "Or type this code: 472913"},
		{"de", "Anmeldung beim Abrechnungsportal von Acme Cloud", "Oder geben Sie diesen Code ein: 472913"},
		{"fr", "Connexion à votre portail de facturation Acme Cloud", "Ou saisissez ce code : 472913"},
		{"es", "Inicia sesión en tu portal de facturación de Acme Cloud", "O escribe este código: 472913"},
		{"ja", "Acme Cloud の請求ポータルへのサインイン", "または次のコードを入力してください: 472913"},
		{"pt-BR", "Entre no seu portal de cobrança da Acme Cloud", "Ou digite este código: 472913"},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			m := message()
			m.Locale, m.Code, m.ExpiresAt = tt.locale, "472913", now.Add(15*time.Minute)
			r, err := RenderPortalLink(m, now)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.subject {
				t.Fatalf("subject %q, want %q", r.Subject, tt.subject)
			}
			if !strings.Contains(r.Text, tt.codeText) || !strings.Contains(r.Text, link) || !strings.Contains(r.HTML, ">472913</p>") {
				t.Fatalf("the code or the link is missing:\n%s\n%s", r.Text, r.HTML)
			}
			p := i18n.ForLocale(tt.locale)
			if !strings.Contains(r.Text, p.Duration(15*time.Minute)) {
				t.Fatalf("the text does not say %q:\n%s", p.Duration(15*time.Minute), r.Text)
			}
			// Without a code, the same message is the portal-link email.
			m.Code = ""
			if r2, _ := RenderPortalLink(m, now); r2.Subject == r.Subject || strings.Contains(r2.Text, "472913") {
				t.Fatalf("a message without a code is the sign-in email: %q", r2.Subject)
			}
		})
	}
}

// TestRenderInvite: an invitation names who invited, to which account, with which role, in the
// message's language, and links the portal's sign-in page; it says no expiry.
func TestRenderInvite(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ locale, subject, intro string }{
		{"en", "You've been invited to the Acme Cloud billing portal", "ann@globex.example invited you to the Acme Cloud billing portal of Globex as Billing."},
		{"de", "Sie wurden zum Abrechnungsportal von Acme Cloud eingeladen", "ann@globex.example hat Sie zum Abrechnungsportal von Acme Cloud für Globex eingeladen, mit der Rolle Abrechnung."},
		{"fr", "Vous êtes invité au portail de facturation de Acme Cloud", "avec le rôle Facturation."},
		{"es", "Te han invitado al portal de facturación de Acme Cloud", "con el rol Facturación."},
		{"ja", "Acme Cloud の請求ポータルに招待されました", "請求担当としてあなたを招待しました。"},
		{"pt-BR", "Você foi convidado para o portal de faturamento de Acme Cloud", "com a função Faturamento."},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			m := message()
			m.Locale, m.URL, m.AccountName, m.InvitedBy, m.Role = tt.locale, "https://acme.portal.example/sign-in", "Globex", "ann@globex.example", "billing"
			r, err := RenderPortalLink(m, now)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.subject || !strings.Contains(r.Text, tt.intro) || !strings.Contains(r.Text, "https://acme.portal.example/sign-in\n") ||
				!strings.Contains(r.HTML, `href="https://acme.portal.example/sign-in"`) || !strings.Contains(r.Text, m.To) {
				t.Fatalf("subject %q:\n%s", r.Subject, r.Text)
			}
			// The invited colleague is greeted without the account's name (it is not theirs).
			if greeting, _, _ := strings.Cut(r.Text, "\n"); strings.Contains(greeting, "Globex") {
				t.Fatalf("the invitation greets the account: %q", greeting)
			}
		})
	}
}

// TestRenderUsageAlert: a usage alert carries the alert's sentence as given, links the portal's
// sign-in page, says how to sign in and why the email came, in the message's language, and
// says no expiry.
func TestRenderUsageAlert(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ locale, subject, how string }{
		{"en", "Usage alert from Acme Cloud", "Sign in with " + message().To + " to see your usage"},
		{"de", "Nutzungswarnung von Acme Cloud", "Melden Sie sich mit " + message().To + " an"},
		{"fr", "Alerte de consommation de Acme Cloud", "Connectez-vous avec " + message().To},
		{"es", "Alerta de consumo de Acme Cloud", "Inicie sesión con " + message().To},
		{"ja", "Acme Cloudからの利用アラート", message().To + "でサインイン"},
		{"pt-BR", "Alerta de consumo de Acme Cloud", "Entre com " + message().To},
	} {
		t.Run(tt.locale, func(t *testing.T) {
			m := message()
			m.Locale, m.URL, m.Alert = tt.locale, "https://acme.portal.example/sign-in", "API calls <reached> 4,200,000 calls."
			r, err := RenderPortalLink(m, now)
			if err != nil {
				t.Fatal(err)
			}
			if r.Subject != tt.subject || !strings.Contains(r.Text, m.Alert) || !strings.Contains(r.Text, tt.how) || !strings.Contains(r.Text, "https://acme.portal.example/sign-in\n") ||
				!strings.Contains(r.HTML, "API calls &lt;reached&gt; 4,200,000 calls.") || !strings.Contains(r.HTML, `href="https://acme.portal.example/sign-in"`) || strings.Contains(r.Text, "{") {
				t.Fatalf("subject %q:\n%s", r.Subject, r.Text)
			}
		})
	}
}

// TestRenderFillsEveryPlaceholder: every kind of portal email (link, sign-in, invitation, usage
// alert) in every language leaves no "{name}" of its messages unfilled (the sign-in email said
// "nobody from {tenant}").
func TestRenderFillsEveryPlaceholder(t *testing.T) {
	t.Parallel()
	placeholder := regexp.MustCompile(`\{[a-zA-Z]+\}`)
	kinds := map[string]func(*PortalLinkMessage){
		"link":    func(*PortalLinkMessage) {},
		"sign-in": func(m *PortalLinkMessage) { m.Code, m.ExpiresAt = "472913", now.Add(15*time.Minute) },
		"invite": func(m *PortalLinkMessage) {
			m.URL, m.AccountName, m.InvitedBy, m.Role = "https://acme.portal.example/sign-in", "Globex", "ann@globex.example", "viewer"
		},
		"usage alert": func(m *PortalLinkMessage) {
			m.URL, m.Alert = "https://acme.portal.example/sign-in", "API calls reached 80 %."
		},
	}
	for name, set := range kinds {
		for _, locale := range []string{"en", "de", "fr", "es", "ja", "pt-BR"} {
			m := message()
			m.Locale = locale
			set(&m)
			r, err := RenderPortalLink(m, now)
			if err != nil {
				t.Fatal(err)
			}
			for part, s := range map[string]string{"subject": r.Subject, "text": r.Text, "HTML": r.HTML} {
				if p := placeholder.FindString(s); p != "" {
					t.Errorf("%s email in %s: %s leaves %s unfilled", name, locale, part, p)
				}
			}
		}
	}
}
