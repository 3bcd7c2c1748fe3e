package e2e_test

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"

	// The sections' catalogs (the Invoices section's pay pages), as the binary has them.
	_ "github.com/portico-billing/portico/plugins/standard"
)

// The demo's Globex invoices the pay tour pays: GLX-0006 is overdue (€1,190.00), GLX-0007 is
// issued and due next month (€595.00); Globex's cards are a Visa ending 4242 (the default) and a
// Mastercard ending 0002, which the example backend declines.
const (
	overdueID, overdueNumber = "inv_glx_0006", "GLX-0006"
	issuedID, issuedNumber   = "inv_glx_0007", "GLX-0007"
	overdueDue, issuedDue    = 119000, 59500
	declinedCard             = "pm_card_2"
)

// TestPortalPay pays as a customer would, through the demo's tenant backend: the example backend
// of `portico backend-example`, which `serve --demo` registers and serves over HTTP on loopback
// (it verifies each request's signature, declines the card ending in 0002 with a message and
// answers a paid invoice with the whole updated account). In English and German, each a new
// portal link: the outstanding balance with its overdue part; Pay now on the overdue invoice; a
// confirmation the page could not have sent (forged amount and method) refused with the form
// error summary, focused; the card ending in 0002 declined with the backend's message; back to
// the pay page, the default card paid; the invoice list then shows the invoice paid and the
// balance less its amount. Then, with a second invoice overdue, Pay all overdue pays both, one
// after the other, down to nothing to pay. Every pay and result page passes axe-core at 360 and
// 1280 px, with screenshots in test-artifacts/portal/pay/<locale>/.
func TestPortalPay(t *testing.T) {
	t.Parallel()
	s := startDemoWithBackend(t)
	b := browsertest.Start(t)
	for _, loc := range []string{"en", "de"} {
		t.Run(loc, func(t *testing.T) { payTour(startTour(t, s.in(t), b.In(t), "pay", loc)) })
	}
}

func payTour(k *tour) {
	t, s, b, p, loc := k.t, k.s, k.b, k.p, k.loc
	money := func(minor int64) string { return i18n.Money(minor, "EUR", loc) }
	submit := func() {
		t.Helper()
		b.Do(chromedp.Click(chromedp.CSS(`form[action^="/pay/"] button[type=submit]`)))
	}
	// The portal learns of the backend through its watch of the store: until then no Pay now.
	k.reloadUntil("Pay now offered", func() bool {
		return browsertest.Eval[bool](b, `!!document.querySelector('a[href="/pay/`+overdueID+`"]')`)
	})

	// The balance: what is due, and the overdue part in words.
	due, overdue := balance(t, b)
	if due != money(overdueDue+issuedDue) || overdue != p.T("invoices.balance.overdue", "amount", money(overdueDue)) {
		t.Errorf("balance %q, %q; want %q, %q", due, overdue, money(overdueDue+issuedDue), p.T("invoices.balance.overdue", "amount", money(overdueDue)))
	}
	before := minorUnits(t, due)
	if n := browsertest.Eval[int](b, `document.querySelectorAll('a[href="/pay-overdue"]').length`); n != 0 {
		t.Errorf("Pay all overdue offered with one overdue invoice (%d links)", n)
	}
	k.check("overview")
	checkPayFits(t, b, "overview")

	// Pay now on the overdue invoice: its pay page, the default card chosen.
	b.Do(chromedp.Click(chromedp.CSS(`a[href="/pay/`+overdueID+`"]`)), chromedp.WaitVisible(chromedp.ID("pay-title")))
	if got, want := b.Text("#pay-title"), p.T("invoices.pay.title", "number", overdueNumber); got != want {
		t.Errorf("pay page title %q, want %q", got, want)
	}
	amountText := b.Text("#amount strong")
	amount := minorUnits(t, amountText)
	if amountText != money(overdueDue) {
		t.Errorf("the pay page asks for %q, want %q", amountText, money(overdueDue))
	}
	if got := browsertest.Eval[string](b, `document.querySelector("input[name=method]:checked")?.value ?? ""`); got != "pm_card_1" {
		t.Errorf("the pay page has %q chosen, want the default pm_card_1", got)
	}
	if got, want := b.Text(`form[action^="/pay/"] button[type=submit]`), p.T("invoices.pay.confirm", "amount", money(overdueDue)); got != want {
		t.Errorf("the confirm button says %q, want %q", got, want)
	}
	k.check("pay")
	checkPayFits(t, b, "pay")
	checkChoices(t, b, "pay")

	// A confirmation the page could not have sent (an amount and a method that are not the
	// account's): the summary, focused, links both; the choice is outlined; nothing is paid.
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("input[name=amount]").value = "1"; document.querySelector("input[name=method]:checked").value = "pm_forged"`))
	submit()
	b.Do(chromedp.WaitVisible(chromedp.CSS(`.error-summary[role="alert"]`)))
	checkFormError(t, b, "pay-errors", "#method", "fieldset.has-error", "border-left-color")
	if got := browsertest.Eval[string](b, `[...document.querySelectorAll(".error-summary a")].map(a => a.hash).join(" ")`); got != "#amount #method" {
		t.Errorf("the summary links %q, want #amount #method", got)
	}
	if pr := browsertest.Eval[string](b, fmt.Sprintf(redJS, "#amount", "border-left-color")); pr != "" {
		t.Errorf("the changed amount is not marked in red: %s", pr)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('[role="alert"]').length`); n != 1 {
		t.Errorf("%d alerts on the refused pay page, want the summary alone", n)
	}
	k.check("pay-errors")
	checkChoices(t, b, "pay-errors")

	// The card ending in 0002: declined, with the backend's own message.
	b.Do(chromedp.Click(chromedp.CSS(`input[name=method][value="` + declinedCard + `"]`)))
	submit()
	b.Do(chromedp.WaitVisible(chromedp.CSS(".pay-result-declined")))
	if got, want := b.Text("#result-title"), p.T("invoices.result.declined.title"); got != want {
		t.Errorf("declined page title %q, want %q", got, want)
	}
	if got := b.Text(".pay-message blockquote"); !strings.Contains(got, "declined the card ending in "+backend.DeclinedLast4) {
		t.Errorf("the declined page quotes %q, not the backend's message", got)
	}
	if got := b.Text("main"); !strings.Contains(got, "Mastercard •••• 0002") {
		t.Errorf("the declined page does not name the card:\n%s", got)
	}
	k.check("declined")
	checkPayFits(t, b, "declined")

	// Back to the pay page, through "Use another payment method", and the default card pays.
	b.Do(chromedp.Click(chromedp.CSS(`.pay-result a[href="/pay/`+overdueID+`"]`)), chromedp.WaitVisible(chromedp.ID("pay-title")))
	if got := browsertest.Eval[string](b, `document.querySelector("input[name=method]:checked")?.value ?? ""`); got != "pm_card_1" {
		t.Errorf("back on the pay page, %q is chosen, want the default pm_card_1", got)
	}
	submit()
	b.Do(chromedp.WaitVisible(chromedp.CSS(".pay-result-paid")))
	if got, want := b.Text("#result-title"), p.T("invoices.result.paid.title"); got != want {
		t.Errorf("paid page title %q, want %q", got, want)
	}
	if got := b.Text("main"); !strings.Contains(got, "Thank you for your payment.") || !strings.Contains(got, "Visa •••• 4242") {
		t.Errorf("the paid page lacks the backend's message or the card:\n%s", got)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('.pay-result a[href="/invoices/`+overdueID+`"], .pay-result a[href="/invoices/`+overdueID+`.pdf"]').length`); n != 2 {
		t.Errorf("the paid page has %d receipt links, want the page and the PDF", n)
	}
	k.check("paid")
	checkPayFits(t, b, "paid")

	// The invoice list: the invoice paid, no Pay now for it, and the balance less its amount.
	b.Do(chromedp.Click(chromedp.CSS(`.pay-result a[href="/"]`)), chromedp.WaitVisible(chromedp.CSS(".section-invoices")))
	if got, want := invoiceStatus(b, overdueNumber), p.T("invoices.status.paid"); got != want {
		t.Errorf("after paying, %s is %q, want %q", overdueNumber, got, want)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll('a[href="/pay/`+overdueID+`"]').length`); n != 0 {
		t.Errorf("Pay now still offered for the paid %s", overdueNumber)
	}
	due, overdue = balance(t, b)
	if after := minorUnits(t, due); before-amount != after || due != money(issuedDue) || overdue != "" {
		t.Errorf("balance %q (%d) and overdue %q after paying %d of %d; want %d, nothing overdue", due, after, overdue, amount, before, before-amount)
	}
	if inv := s.invoice(overdueID); inv["status"] != "paid" || inv["amountPaid"] != float64(overdueDue) {
		t.Errorf("the stored invoice after paying: %v", inv)
	}
	k.check("overview-paid")
	checkPayFits(t, b, "overview-paid")

	// Two invoices overdue: Pay all overdue pays the oldest, then offers the next.
	doc := maps.Clone(s.seeded)
	var invs []any
	for _, v := range s.seeded["invoices"].([]any) {
		inv := maps.Clone(v.(map[string]any))
		if inv["id"] == issuedID {
			inv["status"], inv["dueDate"] = "overdue", s.invoiceOf(s.seeded, overdueID)["dueDate"]
		}
		invs = append(invs, inv)
	}
	doc["invoices"] = invs
	s.api("PUT", "/v1/accounts/"+globex, doc, 200, nil)
	open(b, k.origin+"/")
	due, overdue = balance(t, b)
	if due != money(overdueDue+issuedDue) || overdue != p.T("invoices.balance.overdue", "amount", money(overdueDue+issuedDue)) {
		t.Errorf("balance with two overdue %q, %q", due, overdue)
	}
	b.Do(chromedp.Click(chromedp.CSS(`a[href="/pay-overdue"]`)), chromedp.WaitVisible(chromedp.ID("pay-title")))
	if got, want := b.Text("#pay-title"), p.T("invoices.pay.title", "number", overdueNumber); got != want {
		t.Errorf("Pay all overdue opened %q, want %q (the oldest)", got, want)
	}
	submit()
	b.Do(chromedp.WaitVisible(chromedp.CSS(".pay-result-paid")))
	next := p.T("invoices.result.next", "number", issuedNumber)
	if got := b.Text(`.pay-result a[href="/pay/` + issuedID + `"]`); got != next {
		t.Errorf("the paid page offers %q, want %q", got, next)
	}
	k.check("paid-next")
	checkPayFits(t, b, "paid-next")
	b.Do(chromedp.Click(chromedp.CSS(`.pay-result a[href="/pay/`+issuedID+`"]`)), chromedp.WaitVisible(chromedp.ID("pay-title")))
	submit()
	b.Do(chromedp.WaitVisible(chromedp.CSS(".pay-result-paid")))
	if n := browsertest.Eval[int](b, `document.querySelectorAll('.pay-result a[href^="/pay/"]').length`); n != 0 {
		t.Errorf("the last paid page still offers a next invoice")
	}
	b.Do(chromedp.Click(chromedp.CSS(`.pay-result a[href="/"]`)), chromedp.WaitVisible(chromedp.CSS(".section-invoices")))
	if got, want := b.Text(".balance-settled"), p.T("invoices.balance.settled"); got != want {
		t.Errorf("after paying all overdue the balance says %q, want %q", got, want)
	}
	for _, n := range []string{overdueNumber, issuedNumber} {
		if got, want := invoiceStatus(b, n), p.T("invoices.status.paid"); got != want {
			t.Errorf("after paying all overdue, %s is %q, want %q", n, got, want)
		}
	}
}

// payFitsJS lists what a customer paying cannot see whole at the current viewport: the invoice
// list scrolling sideways inside its card (Pay now once sat out of view in German at 1280 px), a
// Pay now outside the card, an invoice number or date of the list broken over two lines, and a
// demo invoice number (GLX-…) of a pay or result page broken over two lines (GLX-|0006 at 360 px).
const payFitsJS = `(() => {
	const problems = [];
	const lines = e => {
		const r = document.createRange();
		r.selectNodeContents(e);
		return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size;
	};
	const section = document.querySelector(".section-invoices");
	if (section) {
		const card = section.getBoundingClientRect();
		for (const w of section.querySelectorAll(".table-wrap"))
			if (w.scrollWidth > w.clientWidth) problems.push("the invoice list is " + w.scrollWidth + " px wide in a box of " + w.clientWidth + " px: it scrolls sideways");
		for (const a of section.querySelectorAll('a[href^="/pay/"]')) {
			const r = a.getBoundingClientRect();
			if (r.left < card.left || r.right > card.right) problems.push("Pay now spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px, outside its card (" + Math.round(card.left) + "–" + Math.round(card.right) + ")");
		}
		// A credit note's row says which invoice it credits on a line of its own; its number
		// and date stay whole.
		for (const c of section.querySelectorAll(".credit-row .nowrap, .credit-row td:nth-child(2)"))
			if (lines(c) > 1) problems.push("'" + c.innerText.trim() + "' of a credit note in the invoice list is broken over " + lines(c) + " lines");
		for (const c of section.querySelectorAll("tbody tr:not(.credit-row) th[scope=row], tbody tr:not(.credit-row) td:nth-child(2), tbody tr:not(.credit-row) td:nth-child(3)"))
			if (lines(c) > 1) problems.push("'" + c.innerText.trim() + "' of the invoice list is broken over " + lines(c) + " lines");
	}
	for (const page of document.querySelectorAll(".pay-result, .pay-summary")) {
		const walker = document.createTreeWalker(page, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode())
			for (const m of n.data.matchAll(/GLX-\d+/g)) {
				const r = document.createRange();
				r.setStart(n, m.index);
				r.setEnd(n, m.index + m[0].length);
				const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size;
				if (tops > 1) problems.push("the invoice number " + m[0] + " in '" + n.data.trim().slice(0, 60) + "' is broken over " + tops + " lines");
			}
	}
	return problems;
})()`

// checkPayFits checks the page at both widths (see payFitsJS).
func checkPayFits(t *testing.T, b *browsertest.Browser, where string) {
	t.Helper()
	for _, w := range widths {
		b.Viewport(w)
		for _, p := range browsertest.Eval[[]string](b, payFitsJS) {
			t.Errorf("%s at %d px: %s", where, w, p)
		}
	}
	b.Viewport(browsertest.DefaultWidth)
}

// balance reads the Invoices section's outstanding balance: the amount due and the words of its
// overdue part ("" when nothing is overdue). The demo's invoices are all in euros: one line.
func balance(t *testing.T, b *browsertest.Browser) (due, overdue string) {
	t.Helper()
	lines := browsertest.Eval[[][2]string](b, `[...document.querySelectorAll(".section-invoices .balance-due")].map(p => [
		p.querySelector(".balance-amount").innerText.trim(),
		(p.querySelector(".balance-overdue")?.innerText ?? "").replace(p.querySelector(".balance-overdue .badge")?.innerText ?? "", "").trim()])`)
	if len(lines) != 1 {
		t.Fatalf("the balance has %d lines, want one (euros)", len(lines))
	}
	return lines[0][0], lines[0][1]
}

// minorUnits reads an amount in euros as the page writes it ("€1,785.00", "1.785,00 €") in cents.
func minorUnits(t *testing.T, s string) int64 {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || !strings.Contains(s, "€") {
		t.Fatalf("%q is not an amount in euros", s)
	}
	return n
}

// invoiceStatus is the status badge of the invoice list's row of an invoice number.
func invoiceStatus(b *browsertest.Browser, number string) string {
	return browsertest.Eval[string](b, `[...document.querySelectorAll(".section-invoices tbody tr")].find(r => r.querySelector("th").innerText.trim() === `+jsString(number)+`)?.querySelector(".badge")?.innerText.trim() ?? "no row"`)
}

// invoice reads one of Globex's invoices through the API.
func (s *stack) invoice(id string) map[string]any { return s.invoiceOf(s.account(), id) }

// invoiceOf is the invoice of an account document.
func (s *stack) invoiceOf(doc map[string]any, id string) map[string]any {
	for _, v := range doc["invoices"].([]any) {
		if inv := v.(map[string]any); inv["id"] == id {
			return inv
		}
	}
	s.t.Fatalf("no invoice %s", id)
	return nil
}
