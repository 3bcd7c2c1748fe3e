// Package mail sends Portico's emails over SMTP with github.com/wneessen/go-mail: today the
// portal-link email a tenant admin (or a tenant backend) sends a customer, a branded HTML part and
// a plain-text part with the single-use link and when it expires, in the customer's language (the
// "email.portalLink.*" messages of package i18n), and its variants: the sign-in email, the
// invitation and the usage alert.
//
// It owns the SMTP configuration (`--smtp-addr`, `--smtp-tls none|starttls|tls`, `--smtp-user`,
// `--smtp-password`, `--smtp-from`) and the message templates. It does not decide who may send
// what (the per-customer hourly limit is counted by the caller in etcd, see
// tenants.Store.CountLinkEmail) and it never logs: the link in a message is a bearer token, and
// every error it returns has the link redacted.
package mail

import (
	"bytes"
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"net"
	netmail "net/mail"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/portico-billing/portico/theme"
	gomail "github.com/wneessen/go-mail"

	"github.com/portico-billing/portico/i18n"
)

// TLS modes of the SMTP connection.
const (
	TLSNone     = "none"     // plain text; credentials only to a loopback server
	TLSStartTLS = "starttls" // STARTTLS required (the default)
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
)

// ErrConfig wraps every configuration problem.
var ErrConfig = errors.New("mail: invalid SMTP configuration")

// Config configures a Sender.
type Config struct {
	// Addr is the SMTP server, host:port; required.
	Addr string
	// TLS is TLSNone, TLSStartTLS (default) or TLSImplicit.
	TLS string
	// User and Password authenticate to the server when User is set (SMTP AUTH, the strongest
	// mechanism the server offers). Over TLSNone they are only sent to a loopback server.
	User, Password string
	// From is the sender address, "billing@example.com" or "Example Billing <billing@example.com>";
	// required. Portal-link emails show the tenant's name as the display name.
	From string
	// Timeout bounds connecting and each SMTP command (default 15 s).
	Timeout time.Duration
	// TLSConfig overrides the TLS client configuration (default: system roots, the host of Addr
	// as server name). Tests use it to trust their own certificate.
	TLSConfig *tls.Config
	// HELO is the name the client greets with (default: the machine's host name).
	HELO string
	// Now returns the current time (default time.Now); it words the expiry ("in 1 hour").
	Now func() time.Time
}

// Sender sends email. It is safe for concurrent use; each message uses its own connection.
type Sender struct {
	cfg  Config
	host string
	port int
	from *netmail.Address
}

// New checks cfg and returns a Sender. It does not connect.
func New(cfg Config) (*Sender, error) {
	host, ps, err := net.SplitHostPort(cfg.Addr)
	if err != nil || host == "" {
		return nil, fmt.Errorf("%w: address %q must be host:port", ErrConfig, cfg.Addr)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 1 || port > 65535 {
		return nil, fmt.Errorf("%w: port %q of %q is not a port number", ErrConfig, ps, cfg.Addr)
	}
	switch cfg.TLS {
	case "":
		cfg.TLS = TLSStartTLS
	case TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("%w: TLS mode %q is not none, starttls or tls", ErrConfig, cfg.TLS)
	}
	if cfg.TLS == TLSNone && cfg.User != "" && !isLoopback(host) {
		return nil, fmt.Errorf("%w: refusing to send SMTP credentials unencrypted to %s; use --smtp-tls starttls or tls", ErrConfig, host)
	}
	from, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("%w: sender address %q: %w", ErrConfig, cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sender{cfg: cfg, host: host, port: port, from: from}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr returns the server address the sender uses (for logs and the dashboard).
func (s *Sender) Addr() string { return s.cfg.Addr }

// PortalLinkMessage is a portal-link email.
type PortalLinkMessage struct {
	// To is the customer's billing email.
	To string
	// TenantName is shown as the sender's name, in the subject and in the text.
	TenantName string
	// AccountName is the customer's name, for the greeting (optional).
	AccountName string
	// URL is the single-use link. It is a secret: it is never logged or put in an error.
	URL string
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
	// PrimaryColor and AccentColor are the tenant's "#rrggbb" colours (defaults when invalid).
	PrimaryColor, AccentColor string
	// AccentTitles paints the heading in the accent colour, as the tenant chose for the portal.
	AccentTitles bool
	// LogoURL is an absolute https (or, in development, http) URL of the tenant's logo; optional.
	LogoURL string
	// Code, when set, makes the message a sign-in email (Tenant.EmailSignIn, the
	// "email.signIn.*" messages): the link signs in, and the 6-digit code can be typed on the page
	// where the email was asked for instead. Like URL it is a secret.
	Code string
	// InvitedBy, when set, makes the message an invitation to the account's team (the
	// "email.invite.*" messages): who invited (an email, or the tenant's name), to AccountName
	// with Role (tenants.RoleViewer, RoleBilling, RoleOwner); URL is the portal's sign-in page,
	// which holds no token. Code and ExpiresAt are not used.
	InvitedBy, Role string
	// Alert, when set, makes the message a usage alert (the "email.usageAlert.*" messages): what
	// the customer's alert saw, a sentence in the message's language; URL is the portal's
	// sign-in page, which holds no token. Code and ExpiresAt are not used.
	Alert string
	// Locale is the customer's language, a BCP 47 tag ("de-DE", "pt-BR", "ja"); it is matched as
	// by i18n.ForLocale, so an empty, invalid or unsupported locale gives English. The expiry date
	// is formatted in its regional conventions (i18n.Money, i18n.Date).
	Locale string
}

// Rendered is a message's subject and bodies.
type Rendered struct {
	Subject, Text, HTML string
}

var (
	//go:embed portal_link.html
	portalLinkHTML string
	//go:embed portal_link.txt
	portalLinkText string

	htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Parse(portalLinkHTML))
	textTmpl = texttemplate.Must(texttemplate.New("text").Parse(portalLinkText))
	colorRE  = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)
)

// Default colours, as the portal's.
const (
	defaultPrimary = "#1f2937"
	defaultAccent  = "#4f46e5"
)

type linkView struct {
	PortalLinkMessage
	Lang, Subject string
	// Brand is the tenant's primary colour as given (the card's top border); the others are the
	// readable palette of package theme, as the portal paints it.
	Brand, Primary, Link, ButtonFill, ButtonText string
	Logo                                         htmltemplate.URL
	// The texts in the message's language.
	Heading, Greeting, Intro, Button, TextOpen, Copy, Ignore, Footer string
	// CodeText introduces the code of a sign-in email.
	CodeText string
	// Expiry is the expiry sentence; ExpiryHTML the same with the duration in bold.
	Expiry     string
	ExpiryHTML htmltemplate.HTML
}

// RenderPortalLink builds the portal-link message as of now, in the language of m.Locale.
func RenderPortalLink(m PortalLinkMessage, now time.Time) (*Rendered, error) {
	p := i18n.ForLocale(m.Locale)
	v := linkView{PortalLinkMessage: m, Lang: p.Lang()}
	if v.TenantName == "" {
		v.TenantName = "Portico"
	}
	tenant := headerText(v.TenantName)
	k := "email.portalLink."
	switch {
	case m.InvitedBy != "":
		k = "email.invite."
	case m.Alert != "":
		k = "email.usageAlert."
	case m.Code != "":
		k = "email.signIn."
		v.CodeText = p.T("email.signIn.code")
	}
	v.Subject = p.T(k+"subject", "tenant", tenant)
	primary, accent := defaultPrimary, defaultAccent
	if colorRE.MatchString(m.PrimaryColor) {
		primary = strings.ToLower(m.PrimaryColor)
	}
	if colorRE.MatchString(m.AccentColor) {
		accent = strings.ToLower(m.AccentColor)
	}
	// Colours too faint to read on white are darkened as in the portal (package theme).
	pal := theme.For(primary, accent)
	if m.AccentTitles {
		pal = pal.AccentTitles()
	}
	v.Brand, v.Primary, v.Link, v.ButtonFill, v.ButtonText = primary, pal.Primary, pal.Link, pal.Button, pal.ButtonText
	if strings.HasPrefix(m.LogoURL, "https://") || strings.HasPrefix(m.LogoURL, "http://") {
		v.Logo = htmltemplate.URL(m.LogoURL)
	}
	v.Heading = p.T(k + "heading")
	if v.AccountName != "" && m.InvitedBy == "" { // an invitation goes to a person, not to the account
		v.Greeting = p.T("email.portalLink.greeting", "name", v.AccountName)
	} else {
		v.Greeting = p.T("email.portalLink.greetingNoName")
	}
	v.Intro = p.T(k+"intro", "tenant", v.TenantName, "inviter", m.InvitedBy, "account", m.AccountName, "role", p.T("role."+m.Role), "alert", m.Alert)
	v.Button = p.T(k + "button")
	v.TextOpen = p.T(k + "textOpen")
	v.Copy = p.T("email.portalLink.copy")
	v.Ignore = p.T(k+"ignore", "tenant", v.TenantName)
	v.Footer = p.T("email.portalLink.footer", "tenant", v.TenantName)
	if m.InvitedBy != "" || m.Alert != "" {
		v.Expiry = p.T(k+"how", "email", m.To)
		v.ExpiryHTML = htmlMessage(p, k+"how", "email", m.To)
	} else {
		in, at := p.Duration(m.ExpiresAt.Sub(now)), expiryTime(p, m.Locale, m.ExpiresAt)
		v.Expiry = p.T(k+"expiresIn", "duration", in, "time", at, "tenant", v.TenantName)
		v.ExpiryHTML = htmlMessage(p, k+"expiresIn",
			"duration", htmltemplate.HTML("<strong>"+htmltemplate.HTMLEscapeString(in)+"</strong>"), "time", at, "tenant", v.TenantName)
	}
	var text, html bytes.Buffer
	if err := textTmpl.Execute(&text, &v); err != nil {
		return nil, fmt.Errorf("mail: rendering the text part: %w", err)
	}
	if err := htmlTmpl.Execute(&html, &v); err != nil {
		return nil, fmt.Errorf("mail: rendering the HTML part: %w", err)
	}
	return &Rendered{Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// expiryTime says when the link expires, in UTC and saying so, in the printer's language with the
// date in the locale's conventions: "13:00 UTC on Aug 3, 2026", "13:00 Uhr UTC am 3. Aug. 2026",
// "2026年8月3日 13:00 UTC".
func expiryTime(p *i18n.Printer, locale string, at time.Time) string {
	formatLocale := "en"
	if _, ok := i18n.Match(locale); ok {
		formatLocale = locale // de-AT, en-GB keep their regional date conventions
	}
	at = at.UTC()
	date := i18n.Date(i18n.DateOf(at), formatLocale)
	return p.T("email.portalLink.expiryTime", "time", at.Format("15:04"), "date", date)
}

// htmlMessage is the message of key as HTML: its text and string arguments HTML-escaped, arguments
// of type htmltemplate.HTML inserted as they are.
func htmlMessage(p *i18n.Printer, key string, args ...any) htmltemplate.HTML {
	// Fill the placeholders with markers of private-use characters (which neither the catalogs nor
	// HTML escaping produce), escape, then put the escaped values in place of the markers.
	marked := make([]any, 0, len(args))
	values := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		marker := "\ue000" + strconv.Itoa(i/2) + "\ue001"
		marked = append(marked, args[i], marker)
		v, ok := args[i+1].(htmltemplate.HTML)
		if !ok {
			v = htmltemplate.HTML(htmltemplate.HTMLEscapeString(fmt.Sprint(args[i+1])))
		}
		values = append(values, marker, string(v))
	}
	text := htmltemplate.HTMLEscapeString(p.T(key, marked...))
	return htmltemplate.HTML(strings.NewReplacer(values...).Replace(text))
}

// headerText is s fit for a header (a display name, the subject): valid UTF-8, control characters
// (line breaks among them) as spaces, runs of space as one. Quoting and encoding are left to
// net/mail and go-mail, so any string a tenant or account carries gives a valid header.
func headerText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// displayName works around net/mail: it writes a non-ASCII name holding a backslash as a
// Q-encoded word that no reader (net/mail included) parses, so there the backslash is shown as
// the look-alike U+29F5.
func displayName(s string) string {
	for _, r := range s {
		if r >= 0x80 {
			return strings.ReplaceAll(s, `\`, "\u29f5")
		}
	}
	return s
}

// BuildPortalLink builds the portal-link email from the sender address as of now: the tenant's
// name as the sender's display name, the account's name and email as the recipient. Names are
// set as parsed addresses, never formatted into a header and parsed back, so quotes, angle
// brackets or line breaks in them cannot break (or add to) the headers.
func BuildPortalLink(m PortalLinkMessage, from *netmail.Address, now time.Time) (*gomail.Msg, error) {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("mail: parsing recipient %q: %w", m.To, err)
	}
	r, err := RenderPortalLink(m, now)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	name := headerText(m.TenantName)
	if name == "" {
		name = from.Name
	}
	msg.FromMailAddress(&netmail.Address{Name: displayName(name), Address: from.Address})
	msg.ToMailAddress(&netmail.Address{Name: displayName(headerText(m.AccountName)), Address: to.Address})
	msg.Subject(subjectHeader(r.Subject))
	msg.SetDate()
	msg.SetMessageID()
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetGenHeader("X-Auto-Response-Suppress", "All")
	msg.SetBodyString(gomail.TypeTextPlain, r.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, r.HTML)
	return msg, nil
}

// SendPortalLink sends the portal-link email. Errors say what failed (connecting, the server's
// refusal) with the link redacted.
func (s *Sender) SendPortalLink(ctx context.Context, m PortalLinkMessage) error {
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return fmt.Errorf("mail: parsing recipient %q: %w", m.To, err)
	}
	msg, err := BuildPortalLink(m, s.from, s.cfg.Now())
	if err != nil {
		return &redacted{err: err, secret: m.URL, code: m.Code}
	}
	if err := s.send(ctx, msg); err != nil {
		return &redacted{err: fmt.Errorf("mail: sending the portal link to %s via %s: %w", to.Address, s.cfg.Addr, err), secret: m.URL, code: m.Code}
	}
	return nil
}

// send dials the server, sends msg and closes the connection.
func (s *Sender) send(ctx context.Context, msg *gomail.Msg) error {
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.cfg.Timeout)}
	switch s.cfg.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	}
	if s.cfg.TLSConfig != nil {
		opts = append(opts, gomail.WithTLSConfig(s.cfg.TLSConfig))
	} else {
		opts = append(opts, gomail.WithTLSConfig(&tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}))
	}
	if s.cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.cfg.HELO))
	}
	if s.cfg.User != "" {
		auth := gomail.SMTPAuthAutoDiscover
		if s.cfg.TLS == TLSNone {
			auth = gomail.SMTPAuthPlainNoEnc // loopback only, checked in New
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(s.cfg.User), gomail.WithPassword(s.cfg.Password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("configuring the SMTP client: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.cfg.Timeout)
	defer cancel()
	return c.DialAndSendWithContext(ctx, msg)
}

// redacted is an error whose text never contains the secret (the portal link).
type redacted struct {
	err    error
	secret string
	code   string // a sign-in code
}

func (e *redacted) Error() string {
	msg := e.err.Error()
	if e.secret != "" {
		msg = strings.ReplaceAll(msg, e.secret, "[portal link]")
	}
	if e.code != "" {
		msg = strings.ReplaceAll(msg, e.code, "[code]")
	}
	return msg
}

func (e *redacted) Unwrap() error { return e.err }

// subjectHeader is the subject as it goes into the header. A subject that contains "=?" (a
// tenant named "=?B??=") would be read by mail clients as an RFC 2047 encoded word, or refused
// as a broken one, and the encoder leaves ASCII text alone: such a subject is sent as encoded
// words itself, each of at most 75 characters (45 bytes of UTF-8, cut between runes).
func subjectHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	var words []string
	for len(s) > 0 {
		n := min(len(s), 45)
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		words = append(words, "=?UTF-8?b?"+base64.StdEncoding.EncodeToString([]byte(s[:n]))+"?=")
		s = s[n:]
	}
	return strings.Join(words, " ")
}
