package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/portico-billing/portico/internal/browsertest"
)

// TestPortalPause pauses Globex's Team subscription for two periods and resumes it, then answers
// the retention offer before a cancellation for the price twice (declined: the cancellation goes
// on; accepted: the subscription stays), with the keyboard, through the demo's example backend,
// in English and German. Every page passes axe-core at 360 and 1280 px, with screenshots in
// test-artifacts/portal/pause/<locale>/.
func TestPortalPause(t *testing.T) {
	t.Parallel()
	s := startDemoWithBackend(t)
	b := browsertest.Start(t)
	for _, loc := range []string{"en", "de"} {
		t.Run(loc, func(t *testing.T) { pauseTour(startTour(t, s.in(t), b.In(t), "pause", loc)) })
	}
}

const team = "/subscriptions/sub_Team_02"

func pauseTour(k *tour) {
	t, s, b, p := k.t, k.s, k.b, k.p
	teamSub := func() map[string]any { t.Helper(); return s.subscription("sub_Team_02") }

	// Pause: two periods.
	k.tabTo(`a[href="` + team + `/pause"]`)
	k.enter("#periods")
	if got := b.Text("fieldset"); !strings.Contains(got, p.T("plan.pause.legend")) || strings.Count(got, "–") != 3 {
		t.Errorf("the pause page offers %q, want three choices (the demo's policy)", got)
	}
	k.check("pause")
	k.tabTo("#periods")
	b.Do(chromedp.KeyEvent(kb.ArrowDown))
	if got := browsertest.Eval[string](b, `document.querySelector("input[name=periods]:checked").value`); got != "2" {
		t.Fatalf("the arrow key chose %q periods, want 2", got)
	}
	k.tabTo(`form[action="` + team + `/pause"] button[type=submit]`)
	k.enter(".pay-result-succeeded")
	if got := b.Text(".pay-message blockquote"); got != "Your subscription is paused. See you soon!" {
		t.Errorf("the result quotes %q, not the backend's message", got)
	}
	k.check("paused")
	if sub := teamSub(); sub["status"] != "paused" || sub["resumesAt"] == nil {
		t.Errorf("after pausing the subscription is %v", sub)
	}
	k.tabTo(`.pay-result a[href="/"]`)
	k.enter(".section-plan_overview")
	k.reloadUntil("the overview shows the pause", k.overviewSays(p.T("plan.resume")))
	k.check("overview-paused")

	// Resume.
	k.tabTo(`a[href="` + team + `/resume"]`)
	k.enter(`form[action="` + team + `/resume"]`)
	k.check("resume")
	k.tabTo(`form[action="` + team + `/resume"] button[type=submit]`)
	k.enter(".pay-result-succeeded")
	k.check("resumed")
	if sub := teamSub(); sub["status"] != "active" {
		t.Errorf("after resuming the subscription is %v", sub)
	}

	// The offer before cancelling for the price: declined, the cancellation goes on.
	cancelForPrice := func() {
		t.Helper()
		open(b, k.origin+team+"/cancel")
		b.Do(chromedp.Click(chromedp.CSS("#reason-pricing")))
		k.tabTo(`form[action="` + team + `/cancel"] button.button-danger`)
		k.enter("#offer-title")
	}
	cancelForPrice()
	if got, want := b.Text(".offer-lead"), p.T("plan.offer.lead", "name", teamSub()["name"], "percent", 50, "count", 2); got != want {
		t.Errorf("the offer says %q, want %q", got, want)
	}
	k.check("offer")
	k.tabTo(`input[name=offer] ~ button`)
	k.enter(".section-plan_overview")
	if sub := teamSub(); sub["cancelAtPeriodEnd"] != true {
		t.Errorf("after declining the offer the subscription is %v", sub)
	}

	// Again on the account as seeded: accepted, the subscription stays.
	s.resetAccount()
	cancelForPrice()
	k.tabTo(`form[action="` + team + `/offer"] button[type=submit]`)
	k.enter(".pay-result-succeeded")
	k.check("offer-accepted")
	sub := teamSub()
	offer, _ := sub["retentionOffer"].(map[string]any)
	if sub["cancelAtPeriodEnd"] != false || offer == nil || offer["acceptedAt"] == nil || offer["percentOff"] != float64(50) {
		t.Errorf("after accepting the offer the subscription is %v", sub)
	}
}
