package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
)

// sumPreviewJS adds up the amounts of the preview's first table (credit lines negative) in minor
// units, reading them as the page prints them, and returns the sum and the "Charged now" total.
const sumPreviewJS = `(() => {
	const minor = s => { const neg = /[-−]/.test(s); const d = s.replace(/[^0-9]/g, ""); return (neg ? -1 : 1) * parseInt(d || "0", 10); };
	const t = document.querySelector(".preview-table");
	if (!t || !t.tFoot) return [0, -1];
	const rows = [...t.tBodies[0].rows].map(r => minor(r.cells[r.cells.length - 1].innerText));
	return [rows.reduce((a, b) => a + b, 0), minor(t.tFoot.rows[0].cells[1].innerText)];
})()`

// TestPortalChange changes Globex's Team subscription to Business and then its seats, with the
// keyboard alone, through the demo's example backend (subscription.preview answered with none, so
// Portico's preview shows; subscription.change answered with the updated document), in English
// and German: the plans side by side with the current one marked, the preview whose lines add up
// to what is charged now, the result, the overview on Business; then Change seats with a number
// outside the limits refused with the focused error summary, a valid one previewed and carried
// out. Every page passes axe-core at 360 and 1280 px, with screenshots in
// test-artifacts/portal/change/<locale>/.
func TestPortalChange(t *testing.T) {
	t.Parallel()
	s := startDemoWithBackend(t)
	b := browsertest.Start(t)
	for _, loc := range []string{"en", "de"} {
		t.Run(loc, func(t *testing.T) { changeTour(startTour(t, s.in(t), b.In(t), "change", loc)) })
	}
}

func changeTour(k *tour) {
	t, b, p, loc := k.t, k.b, k.p, k.loc
	checkAddsUp := func(where string) {
		t.Helper()
		got := browsertest.Eval[[]int64](b, sumPreviewJS)
		if len(got) != 2 || got[0] != got[1] || got[1] <= 0 {
			t.Errorf("%s: the lines add up to %v, want the amount charged now", where, got)
		}
	}

	// Change plan: the plans side by side.
	k.tabTo(`a[href="/subscriptions/sub_Team_02/change"]`)
	k.enter(".plan-choices")
	if got, want := b.Text(".plan-current .plan-choice-price"), p.T("change.pricePer", "amount", i18n.Money(12100, "EUR", loc), "interval", p.T("change.interval.month")); got != want {
		t.Errorf("the current plan costs %q, want %q (its own 8 seats)", got, want)
	}
	if got := b.Text(".plan-current .plan-choice-name"); !strings.Contains(got, "Team") || !strings.Contains(got, p.T("change.current")) {
		t.Errorf("the current plan is %q", got)
	}
	if got := b.Text("main"); !strings.Contains(got, p.T("change.pricePer", "amount", i18n.Money(20500, "EUR", loc), "interval", p.T("change.interval.month"))) {
		t.Errorf("the plans page lacks Business's price per month with the 8 seats carried (not its default 10):\n%s", got)
	}
	k.check("plans")

	// Choose Business: the preview.
	k.tabTo(`a[href="/subscriptions/sub_Team_02/change/preview?plan=business"]`)
	k.enter("#preview-numbers")
	if got, want := b.Text("#preview-title"), p.T("change.preview.planHeading", "plan", "Business"); got != want {
		t.Errorf("preview title %q, want %q", got, want)
	}
	checkAddsUp("plan preview")
	k.check("preview-plan")
	k.tabTo(`form[action="/subscriptions/sub_Team_02/change"] button[type=submit]`)
	k.enter(".pay-result-succeeded")
	if got := b.Text(".pay-message blockquote"); got != "Your subscription has been changed." {
		t.Errorf("the result quotes %q, not the backend's message", got)
	}
	k.check("changed")
	k.tabTo(`.pay-result a[href="/"]`)
	k.enter(".section-plan_overview")
	k.reloadUntil("the overview shows Business", k.overviewSays("Business"))

	// Change seats: out of the limits, refused; then 12.
	k.tabTo(`a[href="/subscriptions/sub_Team_02/seats"]`)
	k.enter("#quantity-1")
	k.check("seats")
	k.tabTo("#quantity-1")
	b.Do(chromedp.KeyEvent("\b\b\b\b"), chromedp.KeyEvent("300"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(`.error-summary[role="alert"]`)))
	checkFormError(t, b, "seats-errors", "#quantity-1", ".field.has-error", "border-left-color")
	k.check("seats-errors")
	k.tabTo("#quantity-1")
	b.Do(chromedp.KeyEvent("\b\b\b\b"), chromedp.KeyEvent("12"), chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS("#preview-numbers")))
	checkAddsUp("seats preview")
	k.check("preview-seats")
	k.tabTo(`form[action="/subscriptions/sub_Team_02/seats"] button[type=submit]`)
	k.enter(".pay-result-succeeded")
	sub := k.s.subscription("sub_Team_02")
	items := sub["items"].([]any)
	if sub["planId"] != "business" || items[1].(map[string]any)["quantity"] != float64(12) {
		t.Errorf("after the tour the subscription is %v", sub)
	}
}
