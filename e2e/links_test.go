package e2e_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/browsertest"
	"github.com/portico-billing/portico/mail/mailtest"
)

// TestEmailedLinkInBrowser: the link POST /v1/accounts/{id}/portal-link emails is fetched like a
// mail scanner does (GET and HEAD, several times, by a plain HTTP client) and is still unused:
// Chromium opens it on the Continue page (axe-core clean at 360 and 1280 px), clicks "Continue to
// billing" and lands in the portal. The link is then used, for the HTTP client and for Chromium.
func TestEmailedLinkInBrowser(t *testing.T) {
	t.Parallel()
	s := startStack(t)
	b := browsertest.Start(t)
	en := i18n.ForLocale("en")
	s.api("POST", "/v1/accounts/"+globex+"/portal-link", map[string]any{"locale": "en"}, 202, nil)
	email, err := mailtest.Parse(s.smtp.Next(t).Data)
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`http://[a-z0-9.-]+:\d+/s/[A-Za-z0-9_-]{43}`).FindString(email.Text)
	if link == "" {
		t.Fatalf("no link in the email:\n%s", email.Text)
	}
	portal := link[:strings.Index(link, "/s/")]

	// scan fetches the link as a mail scanner does and returns the status and the body.
	scan := func(method string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, link, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; link scanner)")
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, link, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		for _, c := range resp.Cookies() {
			if c.Name == "portico_session" {
				t.Fatalf("%s of the emailed link set the session cookie", method)
			}
		}
		return resp.StatusCode, string(body)
	}
	for i := range 3 {
		if st, body := scan("GET"); st != 200 || !strings.Contains(body, en.T("info.continue.button")) {
			t.Fatalf("scanner GET %d: %d, want the Continue page:\n%s", i+1, st, body)
		}
		if st, _ := scan("HEAD"); st != 200 {
			t.Fatalf("scanner HEAD %d: %d, want 200", i+1, st)
		}
	}

	b.AcceptLanguage("en")
	open(b, link)
	if got, want := b.Text("#message-title"), en.T("info.continue.title"); got != want {
		t.Errorf("Continue page title %q, want %q", got, want)
	}
	check(t, b, "links", "continue", "en")
	b.Do(chromedp.Click(chromedp.CSS(`main form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".page-title")))
	if got, want := b.Text(".page-title"), en.T("page.billing"); got != want {
		t.Errorf("after Continue the page title is %q, want %q", got, want)
	}
	if got := b.Location(); got != portal+"/" {
		t.Errorf("after Continue the browser is at %s, want %s/", got, portal)
	}
	if got := b.Text("main"); !strings.Contains(got, "Pro (annual)") {
		t.Errorf("the portal lacks the account's plan:\n%s", got)
	}

	// Used: the scanner and the browser are told so.
	if st, _ := scan("GET"); st != 410 {
		t.Errorf("GET of the used link: %d, want 410", st)
	}
	if st, _ := scan("HEAD"); st != 410 {
		t.Errorf("HEAD of the used link: %d, want 410", st)
	}
	b.Do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("message-title")))
	if got, want := b.Text("#message-title"), en.T("error.linkUsed.title"); got != want {
		t.Errorf("the used link in the browser says %q, want %q", got, want)
	}
}
