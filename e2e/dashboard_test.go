package e2e_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/mail/mailtest"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/theme"
)

// TestDashboardTour signs in to the dashboard and walks every page and state a tenant admin
// meets — sign-in and its error, customers, search without results, a customer, a sent portal
// link and the email it sent, branding with colours too light to read, portal settings, a pending
// domain, a new API key, a webhook endpoint with a delivered test event and its log, the demo's
// tenant backend with a test request it answered, the password form and its error, a missing
// page — then opens the portal in those light colours, which must still pass. It does so in English, in German (the longest words) and in Japanese, each with a
// browser asking for that language.
func TestDashboardTour(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	received := make(chan string, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		select {
		case received <- string(body):
		default: // the tour waits for one delivery at a time
		}
	}))
	t.Cleanup(hook.Close)
	for _, lang := range []string{"en", "de", "ja"} {
		t.Run(lang, func(t *testing.T) { dashboardTour(t, s.in(t), lang, hook.URL, received) })
	}
}

func dashboardTour(t *testing.T, s *stack, lang, hookURL string, received <-chan string) {
	b := browsertest.Start(t)
	b.AcceptLanguage(lang)
	dash := s.demo.Dashboard
	dir := "dashboard/" + lang
	page := func(name string) { t.Helper(); check(t, b, dir, name, lang); dashboardLayout(t, b, dir+"/"+name) }
	submit := func(form string) { t.Helper(); b.Do(chromedp.Click(chromedp.CSS(form + ` button[type=submit]`))) }
	set := func(id, value string) {
		t.Helper()
		b.Do(chromedp.Evaluate[chromedp.Void](`document.getElementById(` + jsString(id) + `).value = ` + jsString(value)))
	}

	open(b, dash+"/login")
	page("sign-in")
	set("tenant", s.demo.Tenant)
	set("email", s.demo.Admin)
	set("password", "not the password")
	submit(`form[action="/login"]`)
	b.Do(chromedp.WaitVisible(chromedp.CSS(".alert-error")))
	page("sign-in-error")
	set("password", s.demo.Password)
	submit(`form[action="/login"]`)
	b.Do(chromedp.WaitVisible(chromedp.ID("q")))
	page("customers")

	set("q", "no such customer")
	b.Do(chromedp.Submit(chromedp.ID("q")), chromedp.WaitVisible(chromedp.CSS(".empty")))
	page("customers-no-match")

	open(b, dash+"/customers/"+globex)
	page("customer")
	// Invoice numbers, dates and amounts keep to one line; the status column may wrap.
	oneLine(t, b, dir+"/customer", `section[aria-labelledby="invoices-title"] tbody tr > :not(:nth-child(2))`)
	dashInvoices := invoiceRows(b, `section[aria-labelledby="invoices-title"]`)
	b.Do(chromedp.Click(chromedp.ID("send-link")), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	page("customer-link-sent")
	msg := s.smtp.Next(t)
	if len(msg.To) != 1 || msg.To[0] != "billing@globex.example" {
		t.Errorf("the portal link went to %v", msg.To)
	}
	// The email's HTML part, as a mail client shows it, passes the same checks.
	email, err := mailtest.Parse(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	b.Do(chromedp.Navigate("data:text/html;charset=utf-8;base64,"+base64.StdEncoding.EncodeToString([]byte(email.HTML))),
		chromedp.WaitVisible(chromedp.CSS("a[href*='/s/']")))
	// A mail client, not the message, provides the page's landmarks: WCAG's rules only.
	for _, w := range widths {
		b.Viewport(w)
		b.CheckA11y(fmt.Sprintf("portal-link email at %d px", w), browsertest.WCAGTags...)
		b.Screenshot(fmt.Sprintf("%s/email-portal-link-de-%d.png", dir, w))
	}
	b.Viewport(browsertest.DefaultWidth)

	open(b, dash+"/settings/branding")
	set("primary_color", "#ffeb3b")
	set("accent_color", "#14b8a6")
	b.Do(chromedp.Click(chromedp.ID("save-branding")), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	if got := b.Text("main"); !strings.Contains(got, theme.For("#ffeb3b", "#14b8a6").Primary) {
		t.Errorf("the branding page does not say which colour the portal shows instead:\n%s", got)
	}
	if warn := i18n.ForLocale(lang).T("dash.branding.lowContrast"); !strings.Contains(b.Text("main"), warn) {
		t.Errorf("the branding page does not say %q in words", warn)
	}
	page("branding-light-colours")

	open(b, dash+"/settings/portal")
	page("portal-settings")
	// The demo's seller without its city: refused next to the field, in red, nothing saved.
	if got := browsertest.Eval[string](b, `document.getElementById("legal_name").value`); got != "Acme Cloud GmbH" {
		t.Errorf("the seller form shows the legal name %q, want the demo's", got)
	}
	set("city", "")
	submit(`form[action="/settings/seller"]`)
	b.Do(chromedp.WaitVisible(chromedp.CSS(`#seller .has-error`)))
	if got, want := b.Text(`#seller .has-error .field-error`), i18n.ForLocale(lang).T("dash.seller.error.addressPart"); got != want {
		t.Errorf("the refused seller form says %q next to the city, want %q", got, want)
	}
	page("seller-refused")
	// A link lifetime out of range (submitted past the browser's own check): the field is marked
	// invalid and outlined in red (the dashboard's number inputs once kept their grey border).
	set("link_ttl", "4")
	b.Do(chromedp.Evaluate[chromedp.Void](`document.querySelector('form[action="/settings/portal"]').submit()`), chromedp.WaitVisible(chromedp.ID("link_ttl-error")))
	if got := browsertest.Eval[string](b, `document.getElementById("link_ttl").getAttribute("aria-describedby") + " " + document.getElementById("link_ttl").getAttribute("aria-invalid")`); got != "link_ttl-error true" {
		t.Errorf("the invalid link lifetime has aria-describedby and aria-invalid %q, want link_ttl-error true", got)
	}
	if p := browsertest.Eval[string](b, fmt.Sprintf(redJS, "#link_ttl", "border-top-color")); p != "" {
		t.Errorf("the invalid link lifetime is not outlined in red: %s", p)
	}
	page("portal-settings-error")

	open(b, dash+"/settings/plans")
	page("plans")

	open(b, dash+"/settings/domains")
	set("domain", "billing-"+lang+".globex.example")
	submit(`form[action="/settings/domains"].inline`)
	b.Do(chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	page("domains")

	open(b, dash+"/settings/api-keys")
	set("key-name", "backend "+lang)
	submit(`form[action="/settings/api-keys"].inline`)
	b.Do(chromedp.WaitVisible(chromedp.ID("api-key")))
	page("api-keys-new")

	open(b, dash+"/settings/webhooks")
	set("url", hookURL+"/portico/"+lang)
	set("description", "billing backend")
	submit(`form[action="/settings/webhooks"].form`)
	b.Do(chromedp.WaitVisible(chromedp.ID("secret")))
	page("webhooks-new")
	open(b, dash+"/settings/webhooks")
	b.Do(chromedp.Click(chromedp.CSS(`form input[value="test"] ~ button`)), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	select {
	case body := <-received:
		if !strings.Contains(body, "type") {
			t.Errorf("test event %s", body)
		}
	case <-time.After(testwait.Patience):
		t.Fatal("the test event did not arrive")
	}
	page("webhooks")
	b.Do(chromedp.Click(chromedp.CSS(`a[href^="/settings/webhooks/"]`)), chromedp.WaitVisible(chromedp.CSS(".breadcrumb")))
	page("webhook-deliveries")

	// Settings → Backend: the demo's example backend, which answers a test request.
	etcdtest.Wait(t, "the demo's example backend registered", func() bool {
		status, _ := s.call("GET", "/v1/backend", nil, nil)
		return status == 200
	})
	open(b, dash+"/settings/backend")
	if got := b.Text(".endpoint code"); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("the backend page shows %q, want the demo's example backend", got)
	}
	page("backend")
	b.Do(chromedp.Click(chromedp.CSS(`form input[value="test"] ~ button`)), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	if got, want := b.Text(".alert-ok"), i18n.ForLocale(lang).T("dash.backend.test.answerMessage", "result", "succeeded", "message", "pong"); got != want {
		t.Errorf("the backend's test says %q, want %q", got, want)
	}
	page("backend-tested")

	open(b, dash+"/settings/password")
	page("password")
	set("current", "wrong password")
	set("new", "a brand new passphrase")
	set("confirm", "a brand new passphrase")
	submit(`form[action="/settings/password"]`)
	b.Do(chromedp.WaitVisible(chromedp.CSS(".alert-error")))
	page("password-error")

	open(b, dash+"/settings/security")
	page("security-enrol")

	open(b, dash+"/no-such-page")
	page("not-found")

	// The portal in the light colours: darkened where they would not read, so axe-core passes.
	link := s.session(map[string]any{"locale": "en"})
	open(b, link)
	check(t, b, dir, "portal-light-colours-overview", "en")
	sameInvoiceStatuses(t, lang, dashInvoices, invoiceRows(b, `section#invoices`))
	open(b, link[:strings.Index(link, "/s/")]+"/billing/edit")
	check(t, b, dir, "portal-light-colours-billing-edit", "en")
}

// jsString makes a JavaScript string literal of s.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// TestDashboardKeyboard signs in and moves between dashboard pages with the keyboard alone, with a
// visible focus ring on every control it reaches.
func TestDashboardKeyboard(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	tabTo := func(sel string) {
		t.Helper()
		b.TabTo(sel, 40)
		if !b.FocusVisible() {
			t.Errorf("%s has the focus but no visible focus indicator", b.Focused())
		}
	}
	b.Do(chromedp.Navigate(s.demo.Dashboard+"/login"), chromedp.WaitVisible(chromedp.ID("tenant")))
	if got := b.Tab(false); !strings.HasPrefix(got, "a.skip-link") {
		t.Fatalf("the first Tab focuses %s, want the skip link", got)
	}
	for _, f := range []struct{ id, value string }{{"tenant", s.demo.Tenant}, {"email", s.demo.Admin}, {"password", s.demo.Password}} {
		tabTo("#" + f.id)
		b.Do(chromedp.KeyEvent(f.value))
	}
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("q")))
	tabTo(`nav a[href="/settings/branding"]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("save-branding")))
	if got := browsertest.Eval[string](b, `document.querySelector("nav a[aria-current=page]").getAttribute("href")`); got != "/settings/branding" {
		t.Errorf("after Enter on Branding the current page is %q", got)
	}
	tabTo(`nav a[href="/customers"]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("q")))
	tabTo("#q")
	// The results page: its search field holds the query (the page before lists the same link).
	b.Do(chromedp.KeyEvent("globex\r"), chromedp.WaitVisible(chromedp.CSS(`input#q[value="globex"]`)))
	tabTo(`a[href="/customers/` + globex + `"]`)
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.ID("send-link")))
	tabTo("#send-link")
	b.Do(chromedp.KeyEvent("\r"), chromedp.WaitVisible(chromedp.CSS(".alert-ok")))
	if msg := s.smtp.Next(t); len(msg.To) != 1 || msg.To[0] != "billing@globex.example" {
		t.Errorf("the portal link went to %v", msg.To)
	}
}

// invoiceRow is one invoice as a list shows it: its number, the status badge's class (the
// status itself, whatever the language) and the badge's words.
type invoiceRow struct{ Number, Class, Words string }

// invoiceRows reads the invoice table inside the element matching sel, in page order: the rows
// with a status badge (a credit note's row, under the invoice it corrects, has none).
func invoiceRows(b *browsertest.Browser, sel string) []invoiceRow {
	return browsertest.Eval[[]invoiceRow](b, `[...document.querySelectorAll(`+jsString(sel+` tbody tr`)+`)].filter(r => r.querySelector(".badge")).map(r => {
		const badge = r.querySelector(".badge");
		return {Number: r.querySelector("th").textContent.trim(),
			Class: [...badge.classList].filter(c => c.startsWith("status-")).join(" "),
			Words: badge.textContent.trim()};
	})`)
}

// sameInvoiceStatuses: the portal and the dashboard agree about every invoice the customer sees
// (the same status, in the same words when both are in English) and list them in the same order,
// newest first. The dashboard also lists drafts, which the portal never shows.
func sameInvoiceStatuses(t *testing.T, lang string, dash, portal []invoiceRow) {
	t.Helper()
	if len(portal) == 0 || len(dash) < len(portal) {
		t.Fatalf("the portal lists %d invoices, the dashboard %d", len(portal), len(dash))
	}
	byNumber := map[string]int{}
	for i, r := range dash {
		byNumber[r.Number] = i
	}
	last := -1
	for _, p := range portal {
		i, ok := byNumber[p.Number]
		if !ok {
			t.Errorf("invoice %s is in the portal but not on the dashboard", p.Number)
			continue
		}
		d := dash[i]
		if d.Class != p.Class {
			t.Errorf("invoice %s: the portal says %q, the dashboard %q", p.Number, p.Class, d.Class)
		}
		if lang == "en" && d.Words != p.Words {
			t.Errorf("invoice %s: the portal says %q, the dashboard %q", p.Number, p.Words, d.Words)
		}
		if i < last {
			t.Errorf("invoice %s: the portal and the dashboard list the invoices in different orders", p.Number)
		}
		last = i
	}
}
