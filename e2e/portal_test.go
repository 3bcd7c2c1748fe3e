package e2e_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/internal/etcdtest"
)

// locales are the shipped languages, as a tenant backend passes them.
var locales = []string{"en", "de", "fr", "es", "pt-BR", "ja"}

// widths are the viewports every page is checked at: a small phone and a desktop.
var widths = []int{360, 1280}

// check runs the page checks at both widths: the document's language, no horizontal scrolling at
// 360 px, zero axe-core violations, and a full-page screenshot saved as
// test-artifacts/<dir>/<name>-<width>.png.
func check(t *testing.T, b *browsertest.Browser, dir, name, lang string) {
	t.Helper()
	if got := browsertest.Eval[string](b, `document.documentElement.lang`); got != lang {
		t.Errorf("%s/%s: <html lang=%q>, want %q", dir, name, got, lang)
	}
	// Status is never colour alone: every badge has words.
	if n := browsertest.Eval[int](b, `[...document.querySelectorAll(".badge")].filter(e => !e.innerText.trim()).length`); n > 0 {
		t.Errorf("%s/%s: %d badges without text", dir, name, n)
	}
	for _, w := range widths {
		b.Viewport(w)
		if sw := browsertest.Eval[int](b, `document.documentElement.scrollWidth`); sw > w {
			t.Errorf("%s/%s at %d px: the page is %d px wide and scrolls sideways", dir, name, w, sw)
		}
		b.CheckA11y(fmt.Sprintf("%s/%s at %d px", dir, name, w))
		b.Screenshot(fmt.Sprintf("%s/%s-%d.png", dir, name, w))
	}
	b.Viewport(browsertest.DefaultWidth)
}

// invoiceFitsJS lists what a reader of the invoice page cannot see whole at the current viewport:
// a text element of the invoice whose content is wider than its box (clipped or scrolled), a
// label or amount of the totals reaching outside the viewport or outside the invoice's card
// (whose lines table would then have to be scrolled sideways), and an occurrence of the invoice
// number (%q) broken over two lines.
const invoiceFitsJS = `(() => {
	const number = %q, problems = [];
	const doc = document.querySelector(".invoice-doc");
	if (!doc) return ["no .invoice-doc on the page"];
	// Text kept for screen readers only (.visually-hidden, a stacked table's head) is clipped on purpose.
	const srOnly = e => { for (; e && e !== doc.parentElement; e = e.parentElement) if (getComputedStyle(e).clip !== "auto") return true; return false; };
	const name = e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().split(/\s+/).join(".") : "") + " '" + e.textContent.trim().slice(0, 40) + "'";
	for (const e of [doc, ...doc.querySelectorAll("*")]) {
		if (e.clientWidth === 0 || srOnly(e)) continue;
		if (e.scrollWidth > e.clientWidth) problems.push(name(e) + ": content " + e.scrollWidth + " px wide in a box of " + e.clientWidth + " px");
	}
	const card = doc.getBoundingClientRect(), vw = document.documentElement.clientWidth;
	const totals = doc.querySelectorAll(".invoice-lines tfoot tr > *");
	if (totals.length === 0) problems.push("no totals in the invoice's table footer");
	for (const e of totals) {
		const r = e.getBoundingClientRect();
		if (r.width === 0 || r.left < Math.max(0, card.left) - 0.5 || r.right > Math.min(vw, card.right) + 0.5)
			problems.push("total " + name(e) + " spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px, outside the card (" + Math.round(card.left) + "–" + Math.round(card.right) + ") or the viewport (0–" + vw + ")");
	}
	const walker = document.createTreeWalker(doc, NodeFilter.SHOW_TEXT);
	let seen = 0;
	for (let n = walker.nextNode(); n; n = walker.nextNode()) {
		if (srOnly(n.parentElement)) continue;
		for (let i = n.data.indexOf(number); i >= 0; i = n.data.indexOf(number, i + 1)) {
			const range = document.createRange();
			range.setStart(n, i);
			range.setEnd(n, i + number.length);
			const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
			seen++;
			if (tops.size > 1) problems.push("the invoice number in " + name(n.parentElement) + " is broken over " + tops.size + " lines");
		}
	}
	if (seen === 0) problems.push("the invoice number " + number + " is not shown");
	return problems;
})()`

// checkInvoiceFits checks the invoice page the browser shows at 360 px, as a phone shows it:
// every text of the invoice whole, every total's label and amount inside the viewport and the
// card, the invoice number on one line (see invoiceFitsJS); it checks the same at 1280 px.
func checkInvoiceFits(t *testing.T, b *browsertest.Browser, number string) {
	t.Helper()
	for _, w := range widths {
		b.Viewport(w)
		for _, p := range browsertest.Eval[[]string](b, fmt.Sprintf(invoiceFitsJS, number)) {
			t.Errorf("invoice %s at %d px: %s", number, w, p)
		}
	}
	b.Viewport(browsertest.DefaultWidth)
}

// openPortal opens a new link to the Globex portal in a language and returns the portal's origin.
func (s *stack) openPortal(b *browsertest.Browser, locale string) string {
	s.t.Helper()
	link := s.session(map[string]any{"locale": locale})
	open(b, link)
	return link[:strings.Index(link, "/s/")]
}

// open navigates to a URL and waits for the page's main landmark.
func open(b *browsertest.Browser, url string) {
	b.Do(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")))
}

// startDemoWithBackend starts the demo once its example tenant backend is registered (the
// portal then offers what needs a backend: Pay now, changes carried out, pauses, offers).
func startDemoWithBackend(t *testing.T) *stack {
	t.Helper()
	s := startStack(t)
	etcdtest.Wait(t, "the demo's example backend registered", func() bool {
		status, _ := s.call("GET", "/v1/backend", nil, nil)
		return status == 200
	})
	return s
}

// tour is a customer's tour of the portal in one language, on a new link to the account as
// seeded; its pages are checked into test-artifacts/portal/<name>/<locale>/.
type tour struct {
	t           *testing.T
	s           *stack
	b           *browsertest.Browser
	p           *i18n.Printer
	lang, dir   string
	loc, origin string
}

func startTour(t *testing.T, s *stack, b *browsertest.Browser, name, loc string) *tour {
	t.Helper()
	p := i18n.ForLocale(loc)
	s.resetAccount()
	b.AcceptLanguage(loc)
	link := s.session(map[string]any{"locale": loc})
	open(b, link)
	return &tour{t: t, s: s, b: b, p: p, lang: p.Lang(), dir: "portal/" + name + "/" + loc, loc: loc, origin: link[:strings.Index(link, "/s/")]}
}

// check runs the page checks (see check) on the page, saved as name.
func (k *tour) check(name string) { k.t.Helper(); check(k.t, k.b, k.dir, name, k.lang) }

// tabTo moves the focus with Tab to sel, which must show it.
func (k *tour) tabTo(sel string) {
	k.t.Helper()
	k.b.TabTo(sel, 80)
	if !k.b.FocusVisible() {
		k.t.Errorf("%s has the focus but no visible focus indicator", k.b.Focused())
	}
}

// enter presses Enter on a form's button, waits for the page the form leads to, and for wait to
// show on it.
func (k *tour) enter(wait string) {
	k.t.Helper()
	k.b.Navigate(chromedp.KeyEvent("\r"))
	k.b.Do(chromedp.WaitVisible(chromedp.CSS(wait)))
}

// reloadUntil reloads the page until ok: the portal learns of the store's changes through its
// watch.
func (k *tour) reloadUntil(what string, ok func() bool) {
	k.t.Helper()
	etcdtest.Wait(k.t, what, func() bool {
		if ok() {
			return true
		}
		k.b.Do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("main")))
		return false
	})
}

// overviewSays is whether the Plan overview's text contains text.
func (k *tour) overviewSays(text string) func() bool {
	return func() bool { return strings.Contains(k.b.Text(".section-plan_overview"), text) }
}

// TestPortalTour walks every portal page and state in each shipped language: the overview, an
// invoice, the billing-details, auto-pay and cancel forms with and without validation errors, the
// page of a link that was already used, and the overview of a customer with nothing yet.
func TestPortalTour(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	s.api("PUT", "/v1/accounts/acc_new", map[string]any{"id": "acc_new", "name": "Initech Labs", "currency": "EUR",
		"email": "ap@initech.example"}, 201, nil)
	for _, loc := range locales {
		t.Run(loc, func(t *testing.T) {
			s, b := s.in(t), b.In(t)
			p := i18n.ForLocale(loc)
			lang := p.Lang()
			dir := "portal/" + loc
			s.resetAccount()
			link := s.session(map[string]any{"locale": loc})
			portal := link[:strings.Index(link, "/s/")]
			b.AcceptLanguage(loc)

			open(b, link)
			if got, want := b.Text(".page-title"), p.T("page.billing"); got != want {
				t.Errorf("overview title %q, want %q", got, want)
			}
			check(t, b, dir, "overview", lang)

			open(b, portal+"/invoices/inv_glx_0006")
			if got := b.Text("main"); !strings.Contains(got, "GLX-0006") || !strings.Contains(got, "Acme Cloud GmbH") || !strings.Contains(got, "DE312456789") {
				t.Errorf("invoice page lacks its number or its seller:\n%s", got)
			}
			check(t, b, dir, "invoice", lang)
			checkInvoiceFits(t, b, "GLX-0006")

			open(b, portal+"/billing/edit")
			check(t, b, dir, "billing-edit", lang)
			// A required field left empty: the error is announced and tied to its field.
			b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById("legalName").value = ""`),
				chromedp.Click(chromedp.CSS(`form[action="/billing/edit"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS(`.error-summary[role="alert"]`)))
			if got := browsertest.Eval[string](b, `document.getElementById("legalName").getAttribute("aria-describedby")`); got != "legalName-error" {
				t.Errorf("the invalid field is described by %q, want legalName-error", got)
			}
			checkFormError(t, b, "billing-edit-errors", "#legalName", "#legalName", "border-top-color")
			check(t, b, dir, "billing-edit-errors", lang)

			open(b, portal+"/billing/autopay")
			check(t, b, dir, "autopay", lang)
			checkChoices(t, b, "autopay")

			open(b, portal+"/subscriptions/sub_Pro_01/cancel")
			check(t, b, dir, "cancel", lang)
			checkChoices(t, b, "cancel")
			b.Do(chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("reason-error")))
			checkFormError(t, b, "cancel-errors", "input[name=reason]", "fieldset.has-error", "border-left-color")
			checkChoices(t, b, "cancel-errors")
			check(t, b, dir, "cancel-errors", lang)
			// A comment too long (typed past maxlength by a script): the text area is outlined.
			b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector("input[name=reason]").checked = true; document.getElementById("comment").value = "x".repeat(1001)`),
				chromedp.Click(chromedp.CSS(`form[action$="/cancel"] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("comment-error")))
			checkFormError(t, b, "cancel-comment-error", "#comment", "#comment", "border-top-color")
			check(t, b, dir, "cancel-comment-error", lang)

			// The used link, in the browser's language (no session cookie decides it).
			b.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("message-title")))
			check(t, b, dir, "link-used", lang)

			// A new customer: no subscription, invoice or payment method yet.
			link = s.session(map[string]any{"accountId": "acc_new", "locale": loc})
			open(b, link)
			if got, want := b.Text(".section-invoices .empty"), p.T("invoices.empty"); got != want {
				t.Errorf("empty invoice list says %q, want %q", got, want)
			}
			check(t, b, dir, "overview-empty", lang)
		})
	}
}

// TestPortalKeyboard cancels a subscription and edits the billing details with the keyboard
// alone (Tab, Space, typing, Enter), checking that the skip link appears and that every control
// reached shows where the focus is.
func TestPortalKeyboard(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	en := i18n.ForLocale("en")
	s.openPortal(b, "en")

	// The first Tab shows the skip link.
	if got := b.Tab(false); !strings.HasPrefix(got, "a.skip-link") {
		t.Fatalf("the first Tab focuses %s, want the skip link", got)
	}
	if w := browsertest.Eval[float64](b, `document.activeElement.getBoundingClientRect().width`); w < 20 || !b.FocusVisible() {
		t.Errorf("the focused skip link is %v px wide or has no focus ring", w)
	}
	// tabTo moves the focus to sel and checks its focus ring.
	tabTo := func(sel string) {
		t.Helper()
		b.TabTo(sel, 60)
		if !b.FocusVisible() {
			t.Errorf("%s has the focus but no visible focus indicator", b.Focused())
		}
	}

	tabTo(`a[href="/subscriptions/sub_Pro_01/cancel"]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("comment")))
	tabTo(`input[name=reason]`) // the first reason; Space chooses it
	b.Do(chromedp.KeyEvent(" "))
	reason := browsertest.Eval[string](b, `document.querySelector("input[name=reason]:checked")?.value ?? ""`)
	if reason == "" {
		t.Fatal("Space did not choose a cancellation reason")
	}
	tabTo(`#comment`)
	b.Do(chromedp.KeyEvent("Too many seats for us"))
	tabTo(`form[action$="/cancel"] button[type=submit]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(`form[action$="/reactivate"]`)))
	if got := b.Text("main"); !strings.Contains(got, en.T("plan.reactivate")) {
		t.Errorf("after cancelling, the overview lacks %q:\n%s", en.T("plan.reactivate"), got)
	}
	b.CheckA11y("overview with a cancelled subscription")
	sub := s.account()["subscriptions"].([]any)[0].(map[string]any)
	if sub["cancelAtPeriodEnd"] != true {
		t.Errorf("after the keyboard cancel the subscription is %v", sub)
	}

	tabTo(`a[href="/billing/edit"]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("legalName")))
	tabTo(`#city`) // Tab into a text field selects its text: typing replaces it
	b.Do(chromedp.KeyEvent("Hamburg"))
	tabTo(`form[action="/billing/edit"] button[type=submit]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(`a[href="/billing/edit"]`)))
	addr := s.account()["company"].(map[string]any)["address"].(map[string]any)
	if addr["city"] != "Hamburg" || addr["line1"] != "Hauptstraße 12" {
		t.Errorf("after the keyboard edit the address is %v", addr)
	}
	if got := b.Text("main"); !strings.Contains(got, "Hamburg") {
		t.Errorf("the overview does not show the new city:\n%s", got)
	}
}

// TestInvoicePrints prints the invoice page as a browser would: one A4 page with the invoice and
// none of the portal's navigation or buttons.
func TestInvoicePrints(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	en := i18n.ForLocale("en")
	portal := s.openPortal(b, "en")
	open(b, portal+"/invoices/inv_glx_0006")
	pdf := b.Print()
	text := pdfText(t, pdf)
	for _, want := range []string{"GLX-0006", "Acme Cloud GmbH", "Torstraße 49", "DE312456789", "Globex Corporation GmbH", "€1,190.00", en.T("doc.total")} {
		if !strings.Contains(text, want) {
			t.Errorf("the printed invoice lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{en.T("layout.signOut"), en.T("layout.skipLink"), "Powered by", en.T("invoices.download")} {
		if strings.Contains(text, unwanted) {
			t.Errorf("the printed invoice shows %q:\n%s", unwanted, text)
		}
	}
	if n := pdfPages(t, pdf); n != 1 {
		t.Errorf("the invoice prints on %d pages", n)
	}
}

// TestPortalDeepLinks opens links that land on one step (flow) with a way back to the tenant's
// app (returnUrl, on a host the tenant allows), in English and Japanese: the step's page, the
// translated "Back to <tenant>" link on it and on the overview, and axe-core on both.
func TestPortalDeepLinks(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	s.cli("tenant", "update", "demo", "--frame-ancestor", "https://app.acme-cloud.example")
	b := browsertest.Start(t)
	const back = "https://app.acme-cloud.example/settings/billing?tab=portal"
	for _, tc := range []struct{ locale, flow, landing, wait string }{
		{"en", "billing_details", "/billing/edit", "#legalName"},
		{"ja", "cancel_subscription", "/subscriptions/sub_Pro_01/cancel", "#comment"},
		{"ja", "update_payment_method", "/", ".section-billing_details"},
	} {
		t.Run(tc.locale+"/"+tc.flow, func(t *testing.T) {
			s, b := s.in(t), b.In(t)
			p := i18n.ForLocale(tc.locale)
			s.resetAccount()
			var link string
			// The tenant's allow-list reaches the API through the watch: retry until it has.
			etcdtest.Wait(t, "the returnUrl host allowed", func() bool {
				var res struct {
					SessionURL string `json:"sessionUrl"`
				}
				status, _ := s.call("POST", "/portal/customer-session/customer-portal",
					map[string]any{"accountId": globex, "locale": tc.locale, "flow": tc.flow, "returnUrl": back}, &res)
				link = res.SessionURL
				return status == 201
			})
			b.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(tc.wait)))
			if loc := b.Location(); !strings.HasSuffix(loc, tc.landing) && !strings.Contains(loc, tc.landing+"#") {
				t.Errorf("the %s link landed on %s, want %s", tc.flow, loc, tc.landing)
			}
			want := p.T("layout.backTo", "tenant", "Acme Cloud")
			if got := b.Text(".back-link a"); got != want {
				t.Errorf("back link %q, want %q", got, want)
			}
			if href := browsertest.Eval[string](b, `document.querySelector(".back-link a").href`); href != back {
				t.Errorf("back link to %q, want %q", href, back)
			}
			check(t, b, "portal/deep-links/"+tc.locale, strings.ReplaceAll(tc.flow, "_", "-"), p.Lang())
		})
	}
}
