package e2e_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
)

// TestBillsExplainThemselves opens the arithmetic of the demo's Globex bills in Chromium, in
// English and German: on the overview the tiered API calls (each tier crossed) and the partner
// discount, on the open invoice GLX-0007 the prorated seats line, and the credit note of GLX-0006;
// each page axe-core clean with the arithmetic open, at 360 and 1280 px, and screenshotted into
// test-artifacts/portal/bills/<locale>/.
func TestBillsExplainThemselves(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	nbsp := "\u00a0"
	for _, c := range []struct {
		loc                                 string
		tier, discount, prorated, crediting string
	}{
		{"en", "800,000 calls in tier 2 × €0.003 = €2,400.00", "2% of €5,000.00 = -€100.00", "15 of 30 days × €240.00 = €120.00",
			"15 of 30 days × €200.00 = €100.00"},
		{"de", "800.000 Aufrufe in Stufe 2 × 0,003" + nbsp + "€ = 2.400,00" + nbsp + "€", "2" + nbsp + "% von 5.000,00" + nbsp + "€ = -100,00" + nbsp + "€",
			"15 von 30 Tagen × 240,00" + nbsp + "€ = 120,00" + nbsp + "€", "15 von 30 Tagen × 200,00" + nbsp + "€ = 100,00" + nbsp + "€"},
	} {
		t.Run(c.loc, func(t *testing.T) {
			s, b := s.in(t), b.In(t)
			p := i18n.ForLocale(c.loc)
			dir := "portal/bills/" + c.loc
			s.resetAccount()
			b.AcceptLanguage(c.loc)
			portal := s.openPortal(b, c.loc)

			// Every <details> of the overview opened, by its summary, as a customer would.
			b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".section-plan_overview details.arith summary").forEach(e => e.click())`))
			steps := browsertest.Eval[string](b, `[...document.querySelectorAll(".section-plan_overview details.arith[open] li")].map(e => e.innerText).join("\n")`)
			for _, want := range []string{c.tier, c.discount} {
				if !strings.Contains(steps, want) {
					t.Errorf("overview arithmetic lacks %q:\n%s", want, steps)
				}
			}
			if got := b.Text(".section-plan_overview .fact-amount"); got != i18n.Money(1249000, "EUR", c.loc) {
				t.Errorf("estimated next charge %q", got)
			}
			check(t, b, dir, "overview-arithmetic", p.Lang())

			open(b, portal+"/invoices/inv_glx_0007")
			b.Do(chromedp.Click(chromedp.CSS(`.invoice-lines tbody tr.arith-row:nth-of-type(4) summary`)))
			steps = browsertest.Eval[string](b, `[...document.querySelectorAll(".invoice-lines details.arith[open] li")].map(e => e.innerText).join("\n")`)
			if !strings.Contains(steps, c.prorated) {
				t.Errorf("invoice arithmetic lacks %q:\n%s", c.prorated, steps)
			}
			check(t, b, dir, "invoice-arithmetic", p.Lang())
			checkInvoiceFits(t, b, "GLX-0007")

			open(b, portal+"/credit-notes/cn_glx_0001")
			b.Do(chromedp.Click(chromedp.CSS(`.invoice-lines details.arith summary`)))
			if got := b.Text("main"); !strings.Contains(got, "GLX-CN-0001") || !strings.Contains(got, "GLX-0006") || !strings.Contains(got, c.crediting) {
				t.Errorf("credit note page lacks its number, its invoice or %q:\n%s", c.crediting, got)
			}
			check(t, b, dir, "credit-note", p.Lang())
			checkInvoiceFits(t, b, "GLX-CN-0001")
		})
	}
}
