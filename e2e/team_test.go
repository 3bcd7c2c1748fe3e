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

// signInByCode signs email in on the portal's front page with the code of the email the demo's
// SMTP server gets, and waits for the portal page.
func (s *stack) signInByCode(b *browsertest.Browser, portal, email string) {
	s.t.Helper()
	open(b, portal+"/")
	b.Do(chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`#code`)))
	msg, err := mailtest.Parse(s.smtp.Next(s.t).Data)
	if err != nil {
		s.t.Fatal(err)
	}
	m := regexp.MustCompile(`\b([0-9]{6})\b`).FindStringSubmatch(msg.Text)
	if m == nil {
		s.t.Fatalf("no code in the email to %s:\n%s", email, msg.Text)
	}
	b.Do(chromedp.SendKeys(chromedp.CSS(`#code`), m[1]),
		chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".page-title")))
}

// TestTeamInBrowser: on the demo (sign in by email and team management on), the account holder
// signs in by code, opens Team from the overview's card and invites a colleague as viewer; the
// invitation arrives over SMTP; the colleague signs in by code and sees the invoices but no Pay
// button and no Team card. The Team page, the Activity page and the colleague's portal are
// axe-core clean at 360 and 1280 px, in English and German (test-artifacts/team/<locale>/).
func TestTeamInBrowser(t *testing.T) {
	t.Parallel()
	s := startDemoWithBackend(t)
	b := browsertest.Start(t)
	portal := s.demo.PortalLink[:strings.Index(s.demo.PortalLink, "/s/")]
	for _, lang := range []string{"en", "de"} {
		p := i18n.ForLocale(lang)
		dir := "team/" + lang
		b.AcceptLanguage(lang)
		s.signInByCode(b, portal, "billing@globex.example")
		if n := browsertest.Eval[int](b, `document.querySelectorAll('a[href^="/pay/"]').length`); n == 0 {
			t.Fatalf("%s: the holder has no Pay button", lang)
		}
		b.Do(chromedp.Click(chromedp.CSS(`a[href="/team"]`)), chromedp.WaitVisible(chromedp.ID("team-title")))
		check(t, b, dir, "team", lang)
		colleague := "colleague." + lang + "@globex.example"
		b.Do(chromedp.SendKeys(chromedp.CSS(`#email`), colleague),
			chromedp.SetValue(chromedp.CSS(`#role`), "viewer"),
			chromedp.Click(chromedp.CSS(`form[action="/team/invite"] button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(`.notice`)))
		if got := b.Text("main"); !strings.Contains(got, colleague) || !strings.Contains(got, p.T("role.viewer")) {
			t.Fatalf("%s: the team page after the invitation:\n%s", lang, got)
		}
		check(t, b, dir, "team-invited", lang)
		invitation, err := mailtest.Parse(s.smtp.Next(t).Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(invitation.Text, portal+"/sign-in") || strings.Contains(invitation.Text, "/sign-in/l/") {
			t.Fatalf("%s: the invitation:\n%s", lang, invitation.Text)
		}
		open(b, portal+"/activity")
		if got := b.Text("main"); !strings.Contains(got, p.T("team.what.member.invited")) {
			t.Errorf("%s: the activity lacks the invitation:\n%s", lang, got)
		}
		check(t, b, dir, "activity", lang)
		open(b, portal+"/")
		b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("message-title")))

		s.signInByCode(b, portal, colleague)
		if n := browsertest.Eval[int](b, `document.querySelectorAll('a[href^="/invoices/"]').length`); n == 0 {
			t.Errorf("%s: the colleague sees no invoices", lang)
		}
		if n := browsertest.Eval[int](b, `document.querySelectorAll('a[href^="/pay"], a[href="/team"], a[href="/activity"]').length`); n != 0 {
			t.Errorf("%s: the viewer's page has %d Pay or Team links", lang, n)
		}
		check(t, b, dir, "viewer", lang)
		b.Do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.ID("message-title")))
	}
}
