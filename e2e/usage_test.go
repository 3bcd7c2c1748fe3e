package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/browsertest"
)

// TestPortalUsage opens the demo's Usage section (Globex's API-call meter and its wallet) in each
// shipped language, with the daily table of the chart opened: axe-core clean at 360 and 1280 px
// (check), the chart drawn within its card at both widths, one marker per reported day, and
// the section's texts in the page's language. Screenshots in test-artifacts/portal/usage/<locale>/.
func TestPortalUsage(t *testing.T) {
	t.Parallel()
	s := startStack(t)
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
		})
	}
}
