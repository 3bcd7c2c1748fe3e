package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/internal/etcdtest"
)

// TestPortalPause pauses Globex's Team subscription for two periods and resumes it, then answers
// the retention offer before a cancellation for the price twice (declined: the cancellation goes
// on; accepted: the subscription stays), with the keyboard, through the demo's example backend,
// in English and German. Every page passes axe-core at 360 and 1280 px, with screenshots in
// test-artifacts/portal/pause/<locale>/.
func TestPortalPause(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	etcdtest.Wait(t, "the demo's example backend registered", func() bool {
		status, _ := s.call("GET", "/v1/backend", nil, nil)
		return status == 200
	})
	b := browsertest.Start(t)
	for _, loc := range []string{"en", "de"} {
		t.Run(loc, func(t *testing.T) { pauseTour(t, s.in(t), b.In(t), loc) })
	}
}

const team = "/subscriptions/sub_Team_02"

func pauseTour(t *testing.T, s *stack, b *browsertest.Browser, loc string) {
	p := i18n.ForLocale(loc)
	lang, dir := p.Lang(), "portal/pause/"+loc
	s.resetAccount()
	b.AcceptLanguage(loc)
	open(b, s.session(map[string]any{"locale": loc}))
	tabTo := func(sel string) {
		t.Helper()
		b.TabTo(sel, 80)
		if !b.FocusVisible() {
			t.Errorf("%s has the focus but no visible focus indicator", b.Focused())
		}
	}
	enter := func(wait string) {
		t.Helper()
		b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(wait)))
	}
	teamSub := func() map[string]any {
		t.Helper()
		return s.account()["subscriptions"].([]any)[1].(map[string]any)
	}
	reloadUntil := func(what, text string) {
		t.Helper()
		etcdtest.Wait(t, what, func() bool {
			if strings.Contains(b.Text(".section-plan_overview"), text) {
				return true
			}
			b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("main")))
			return false
		})
	}

	// Pause: two periods.
	tabTo(`a[href="` + team + `/pause"]`)
	enter("#periods")
	if got := b.Text("fieldset"); !strings.Contains(got, p.T("plan.pause.legend")) || strings.Count(got, "–") != 3 {
		t.Errorf("the pause page offers %q, want three choices (the demo's policy)", got)
	}
	check(t, b, dir, "pause", lang)
	tabTo("#periods")
	b.Do(chromedp.KeyEvent(kb.ArrowDown))
	if got := browsertest.Eval[string](b, `document.querySelector("input[name=periods]:checked").value`); got != "2" {
		t.Fatalf("the arrow key chose %q periods, want 2", got)
	}
	tabTo(`form[action="` + team + `/pause"] button[type=submit]`)
	enter(".pay-result-succeeded")
	if got := b.Text(".pay-message blockquote"); got != "Your subscription is paused. See you soon!" {
		t.Errorf("the result quotes %q, not the backend's message", got)
	}
	check(t, b, dir, "paused", lang)
	if sub := teamSub(); sub["status"] != "paused" || sub["resumesAt"] == nil {
		t.Errorf("after pausing the subscription is %v", sub)
	}
	tabTo(`.pay-result a[href="/"]`)
	enter(".section-plan_overview")
	reloadUntil("the overview shows the pause", p.T("plan.resume"))
	check(t, b, dir, "overview-paused", lang)

	// Resume.
	tabTo(`a[href="` + team + `/resume"]`)
	enter(`form[action="` + team + `/resume"]`)
	check(t, b, dir, "resume", lang)
	tabTo(`form[action="` + team + `/resume"] button[type=submit]`)
	enter(".pay-result-succeeded")
	check(t, b, dir, "resumed", lang)
	if sub := teamSub(); sub["status"] != "active" {
		t.Errorf("after resuming the subscription is %v", sub)
	}

	// The offer before cancelling for the price: declined, the cancellation goes on.
	cancelForPrice := func() {
		t.Helper()
		open(b, strings.TrimSuffix(browsertest.Eval[string](b, `location.origin`), "/")+team+"/cancel")
		b.Do(chromedp.Click(chromedp.CSS("#reason-pricing")))
		tabTo(`form[action="` + team + `/cancel"] button.button-danger`)
		enter("#offer-title")
	}
	cancelForPrice()
	if got, want := b.Text(".offer-lead"), p.T("plan.offer.lead", "name", teamSub()["name"], "percent", 50, "count", 2); got != want {
		t.Errorf("the offer says %q, want %q", got, want)
	}
	check(t, b, dir, "offer", lang)
	tabTo(`input[name=offer] ~ button`)
	enter(".section-plan_overview")
	if sub := teamSub(); sub["cancelAtPeriodEnd"] != true {
		t.Errorf("after declining the offer the subscription is %v", sub)
	}

	// Again on the account as seeded: accepted, the subscription stays.
	s.resetAccount()
	cancelForPrice()
	tabTo(`form[action="` + team + `/offer"] button[type=submit]`)
	enter(".pay-result-succeeded")
	check(t, b, dir, "offer-accepted", lang)
	sub := teamSub()
	offer, _ := sub["retentionOffer"].(map[string]any)
	if sub["cancelAtPeriodEnd"] != false || offer == nil || offer["acceptedAt"] == nil || offer["percentOff"] != float64(50) {
		t.Errorf("after accepting the offer the subscription is %v", sub)
	}
}
