package e2e_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/mail/mailtest"
)

// TestSignInByEmailInBrowser: on the demo (sign in by email on), Chromium opens the portal without
// a session, asks for the demo's billing email, types the code of the email it gets through the
// SMTP server and lands in Globex's portal; the sign-in and code pages are axe-core clean at 360
// and 1280 px, in English and German.
func TestSignInByEmailInBrowser(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	portal := s.demo.PortalLink[:strings.Index(s.demo.PortalLink, "/s/")]
	for _, lang := range []string{"en", "de"} {
		p := i18n.ForLocale(lang)
		b.AcceptLanguage(lang)
		open(b, portal+"/")
		if got, want := b.Text("#message-title"), p.T("signin.title"); got != want {
			t.Fatalf("%s: front page title %q, want %q", lang, got, want)
		}
		check(t, b, "signin/"+lang, "email", lang)
		b.Do(chromedp.SendKeys(chromedp.CSS(`#email`), "Billing@Globex.example"),
			chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#code`)))
		if got, want := b.Text("#message-title"), p.T("signin.sent.title"); got != want {
			t.Errorf("%s: after the email the title is %q, want %q", lang, got, want)
		}
		check(t, b, "signin/"+lang, "code", lang)
		email, err := mailtest.Parse(s.smtp.Next(t).Data)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`\b([0-9]{6})\b`).FindStringSubmatch(email.Text)
		if m == nil || !strings.Contains(email.Text, "/sign-in/l/") {
			t.Fatalf("%s: no code or link in the email:\n%s", lang, email.Text)
		}
		b.Do(chromedp.SendKeys(chromedp.CSS(`#code`), m[1]),
			chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".page-title")))
		if got, want := b.Text(".page-title"), p.T("page.billing"); got != want {
			t.Errorf("%s: after the code the page title is %q, want %q", lang, got, want)
		}
		if got := b.Text("main"); !strings.Contains(got, "Globex") {
			t.Errorf("%s: the portal is not Globex's:\n%s", lang, got)
		}
		b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("message-title")))
	}
}
