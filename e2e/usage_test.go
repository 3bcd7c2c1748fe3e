package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/internal/browsertest"
)

// TestPortalUsage opens the demo's Usage section (Globex's API-call meter and its wallet) in each
// shipped language, with the daily table of the chart opened, then its usage alerts page (with an
// alert set) and the top-up page: each axe-core clean at 360 and 1280 px (check), the chart drawn
// within its card at both widths, one marker per reported day, the section's texts in the page's
// language. In English it tops the wallet up by €50 through the demo's example backend
// (`portico backend-example`), and the overview shows the new balance. Screenshots in
// test-artifacts/portal/usage/<locale>/.
func TestPortalUsage(t *testing.T) {
	t.Parallel()
	s := startDemoWithBackend(t)
	b := browsertest.Start(t)
	meter := s.subscription("sub_Pro_01")["items"].([]any)[2].(map[string]any)["meter"].(map[string]any)
	days := len(meter["daily"].([]any))
	for _, loc := range []string{"en", "de", "fr", "es", "pt-BR", "ja"} {
		t.Run(loc, func(t *testing.T) {
			k := startTour(t, s.in(t), b.In(t), "usage", loc)
			if got := k.b.Text(".section-usage h2"); got != k.p.T("usage.title") {
				t.Fatalf("the Usage section's heading is %q, want %q", got, k.p.T("usage.title"))
			}
			if got := k.b.Text(".section-usage"); !strings.Contains(got, k.p.T("usage.wallet.title")) || !strings.Contains(got, k.p.T("usage.toDate")) {
				t.Errorf("the section says %q", got)
			}
			if n := browsertest.Eval[int](k.b, `document.querySelectorAll(".usage-current-markers circle").length`); n != days {
				t.Errorf("%d markers, want %d (the days reported)", n, days)
			}
			browsertest.Eval[bool](k.b, `document.querySelector(".usage-data").open = true`)
			for _, w := range widths {
				k.b.Viewport(w)
				js := `(() => { const s = document.querySelector(".usage-chart-svg").getBoundingClientRect(), c = document.querySelector(".section-usage").getBoundingClientRect(); return s.width > 0 && s.left >= c.left && s.right <= c.right; })()`
				if !browsertest.Eval[bool](k.b, js) {
					t.Errorf("at %d px the chart is not within its card", w)
				}
			}
			k.b.Viewport(browsertest.DefaultWidth)
			k.check(fmt.Sprintf("usage-%s", "overview"))

			// The alerts page, with an alert set.
			open(k.b, k.origin+"/usage/alerts")
			k.b.Do(chromedp.SendKeys(chromedp.CSS(`#value`), "2500000"))
			k.tabTo(`form[action="/usage/alerts"] button[type=submit]`)
			k.enter(`form[action^="/usage/alerts/ua_"]`)
			k.check("alerts")

			// The top-up page.
			open(k.b, k.origin+"/wallet/top-up")
			k.check("top-up")
			if loc != "en" {
				return
			}
			k.b.Do(chromedp.SendKeys(chromedp.CSS(`#amount`), "50"))
			k.tabTo(`form[action="/wallet/top-up"] button[type=submit]`)
			k.enter(".pay-result-succeeded")
			if got := k.b.Text(".pay-result"); !strings.Contains(got, "Your balance is now €375.00.") {
				t.Errorf("the top-up result says %q", got)
			}
			k.check("topped-up")
			k.reloadUntilAt(k.origin+"/", "the overview shows the new balance", func() bool { return strings.Contains(k.b.Text(".usage-wallet"), "€375.00") })
		})
	}
}

// reloadUntilAt opens url and reloads it until ok.
func (k *tour) reloadUntilAt(url, what string, ok func() bool) {
	k.t.Helper()
	open(k.b, url)
	k.reloadUntil(what, ok)
}
