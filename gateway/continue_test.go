package gateway

import (
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/valyala/fasthttp"
)

// emailLink sends the account's portal-link email through the API and returns the link in it.
func (h *harness) emailLink(smtp *mailtest.Server, slug, key string, body string) string {
	h.t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	r := h.do("POST", "api."+base, "/v1/accounts/acc_7Hq2LmX9/portal-link", b, "Authorization", "Bearer "+key, "Content-Type", "application/json")
	if r.StatusCode() != 202 {
		h.t.Fatalf("portal-link: %d %s", r.StatusCode(), r.Body())
	}
	link := regexp.MustCompile(`https://` + regexp.QuoteMeta(slug) + `\.portal\.test/s/[A-Za-z0-9_-]{43}`).FindString(string(smtp.Next(h.t).Data))
	if link == "" {
		h.t.Fatal("the email holds no link")
	}
	return link
}

// cookies are the Set-Cookie headers of a response by name.
func cookies(r *fasthttp.Response) map[string]string {
	m := map[string]string{}
	r.Header.VisitAllCookie(func(k, v []byte) { m[string(k)] = string(v) })
	return m
}

var nonceField = regexp.MustCompile(`<input type="hidden" name="confirm" value="([A-Za-z0-9_-]{43})">`)

// showContinue GETs an emailed link as a browser does and returns the continue cookie ("name=value")
// and the nonce of the page's form; it fails the test unless the link shows its Continue page.
func (h *harness) showContinue(link string, headers ...string) (cookie, nonce string) {
	h.t.Helper()
	host, path := sessionPath(h.t, link)
	r := h.do("GET", host, path, nil, headers...)
	m := nonceField.FindStringSubmatch(string(r.Body()))
	if r.StatusCode() != 200 || m == nil {
		h.t.Fatalf("GET %s: %d, want the Continue page:\n%s", path, r.StatusCode(), r.Body())
	}
	var c fasthttp.Cookie
	c.Parse(cookies(r)["__Host-portico_continue"])
	if string(c.Value()) != m[1] {
		h.t.Fatalf("the continue cookie %q does not hold the form's nonce %q", c.Value(), m[1])
	}
	return "__Host-portico_continue=" + m[1], m[1]
}

// continueLink presses the Continue button of an emailed link: GET, then the form's POST as
// Chromium sends it (Origin: null under no-referrer, Sec-Fetch-Site: same-origin). It returns the
// POST's status and the session cookie to send afterwards.
func (h *harness) continueLink(link string) (status int, session string, resp *fasthttp.Response) {
	h.t.Helper()
	cookie, nonce := h.showContinue(link)
	host, path := sessionPath(h.t, link)
	r := h.do("POST", host, path, []byte("confirm="+nonce), "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded",
		"Origin", "null", "Sec-Fetch-Site", "same-origin")
	var c fasthttp.Cookie
	if v, ok := cookies(r)["__Host-portico_session"]; ok && c.Parse(v) == nil && len(c.Value()) > 0 {
		session = "__Host-portico_session=" + string(c.Value())
	}
	return r.StatusCode(), session, r
}

// TestHeadNeverRedeems: HEAD of a link, of either kind, any number of times, answers 200 without
// a cookie and leaves the link as it was; HEAD of a used or unknown link answers 410 or 404.
func TestHeadNeverRedeems(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	smtp := withMailer(h, 0)
	_, key := h.tenant("head")
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	for _, tc := range []struct{ kind, link string }{
		{"session API", res["sessionUrl"].(string)},
		{"emailed", h.emailLink(smtp, "head", key, "")},
	} {
		host, path := sessionPath(t, tc.link)
		for i := range 3 {
			r := h.do("HEAD", host, path, nil)
			if r.StatusCode() != 200 || len(cookies(r)) != 0 || string(r.Header.Peek("Cache-Control")) != "no-store" || string(r.Header.Peek("Referrer-Policy")) != "no-referrer" {
				t.Fatalf("%s link, HEAD %d: %d cookies %v, Cache-Control %q, Referrer-Policy %q", tc.kind, i+1, r.StatusCode(), cookies(r),
					r.Header.Peek("Cache-Control"), r.Header.Peek("Referrer-Policy"))
			}
		}
		var st int
		if tc.kind == "emailed" {
			st, _, _ = h.continueLink(tc.link)
		} else {
			st, _, _ = h.open(tc.link)
		}
		if st != 303 {
			t.Fatalf("%s link after three HEADs: %d, want 303 (still unused)", tc.kind, st)
		}
		if r := h.do("HEAD", host, path, nil); r.StatusCode() != 410 || len(cookies(r)) != 0 {
			t.Fatalf("%s link, HEAD after use: %d %v, want 410 without cookies", tc.kind, r.StatusCode(), cookies(r))
		}
	}
	if r := h.do("HEAD", "head."+base, "/s/"+strings.Repeat("A", 43), nil); r.StatusCode() != 404 {
		t.Fatalf("HEAD of an unknown link: %d, want 404", r.StatusCode())
	}
}

// TestEmailedLinkNeedsContinue: an emailed link survives any number of GETs (mail scanners), each
// showing the branded Continue page (no-store, no-referrer, a form posting to the link, no session
// cookie); POSTs that are cross-site or lack the continue cookie's nonce are refused without
// consuming it; the Continue POST redeems it once, and the link is then used for GET and POST. A
// session-API link still redeems on GET.
func TestEmailedLinkNeedsContinue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	smtp := withMailer(h, 0)
	_, key := h.tenant("cont")
	link := h.emailLink(smtp, "cont", key, `{"locale":"de"}`)
	host, path := sessionPath(t, link)
	de := i18n.ForLocale("de")
	for i := range 5 {
		r := h.do("GET", host, path, nil, "User-Agent", "Safe Links scanner")
		body := string(r.Body())
		if r.StatusCode() != 200 {
			t.Fatalf("GET %d of the emailed link: %d\n%s", i+1, r.StatusCode(), body)
		}
		for _, want := range []string{de.T("info.continue.title"), de.T("info.continue.button"), "Tenant CONT", `<form method="post" class="form">`, `content="no-referrer"`, `<html lang="de"`} {
			if !strings.Contains(body, want) {
				t.Errorf("the Continue page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(body, " action=") || strings.Contains(body, path) {
			t.Error("the Continue page repeats the token (its form has no action: it posts to the page's URL)")
		}
		for name, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Security-Policy": cspFor(nil)} {
			if got := string(r.Header.Peek(name)); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		c := cookies(r)
		if _, ok := c["__Host-portico_session"]; ok || len(c) != 1 {
			t.Fatalf("GET of the emailed link set cookies %v, want only the continue cookie", c)
		}
		for _, want := range []string{"__Host-portico_continue=", "path=/", "HttpOnly", "secure", "SameSite=Strict"} {
			if !strings.Contains(strings.ToLower(c["__Host-portico_continue"]), strings.ToLower(want)) {
				t.Errorf("continue cookie %q lacks %q", c["__Host-portico_continue"], want)
			}
		}
	}
	// A browser that already holds a continue cookie keeps its nonce (two links in two tabs).
	cookie, nonce := h.showContinue(link)
	if _, again := h.showContinue(link, "Cookie", cookie); again != nonce {
		t.Errorf("a second Continue page changed the nonce from %q to %q", nonce, again)
	}

	form := "application/x-www-form-urlencoded"
	refused := []struct {
		name    string
		body    string
		headers []string
	}{
		{"cross-site Origin", "confirm=" + nonce, []string{"Cookie", cookie, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"cross-site Origin, no Sec-Fetch-Site", "confirm=" + nonce, []string{"Cookie", cookie, "Origin", "https://evil.example"}},
		{"cross-site Sec-Fetch-Site", "confirm=" + nonce, []string{"Cookie", cookie, "Origin", "null", "Sec-Fetch-Site", "cross-site"}},
		{"same-site other host", "confirm=" + nonce, []string{"Cookie", cookie, "Origin", "https://other.portal.test", "Sec-Fetch-Site", "same-site"}},
		{"no continue cookie (SameSite=Strict kept it off a cross-site POST)", "confirm=" + nonce, []string{"Origin", "null"}},
		{"no nonce in the form", "", []string{"Cookie", cookie, "Origin", "null", "Sec-Fetch-Site", "same-origin"}},
		{"another nonce", "confirm=" + strings.Repeat("A", 43), []string{"Cookie", cookie, "Origin", "null", "Sec-Fetch-Site", "same-origin"}},
		{"nonce without the cookie's", "confirm=" + strings.Repeat("A", 43), []string{"Cookie", "__Host-portico_continue=" + strings.Repeat("A", 43), "Origin", "https://evil.example"}},
	}
	for _, tc := range refused {
		r := h.do("POST", host, path, []byte(tc.body), append([]string{"Content-Type", form}, tc.headers...)...)
		if r.StatusCode() != 403 || len(cookies(r)) != 0 || !strings.Contains(string(r.Body()), "Tenant CONT") {
			t.Errorf("%s: %d cookies %v, want the 403 page without cookies", tc.name, r.StatusCode(), cookies(r))
		}
	}
	if r := h.do("POST", host, path, []byte("confirm="+nonce+"&pad="+strings.Repeat("x", MaxFormBody)), "Cookie", cookie, "Content-Type", form, "Origin", "null"); r.StatusCode() != 413 {
		t.Errorf("oversized Continue POST: %d, want 413", r.StatusCode())
	}

	// Nothing above consumed the link: the Continue POST redeems it, exactly as GET does a
	// session-API link.
	st, session, r := h.continueLink(link)
	if st != 303 || session == "" || string(r.Header.Peek("Location")) != "/" || string(r.Header.Peek("Referrer-Policy")) != "no-referrer" {
		t.Fatalf("Continue: %d Location %q session %q", st, r.Header.Peek("Location"), session)
	}
	page := h.do("GET", host, "/", nil, "Cookie", session)
	if page.StatusCode() != 200 || !strings.Contains(string(page.Body()), "Globex Corporation") || langAttr(string(page.Body())) != "de" {
		t.Fatalf("portal after Continue: %d lang %q", page.StatusCode(), langAttr(string(page.Body())))
	}
	// Used: a second POST, and any GET, get the used-link page.
	r = h.do("POST", host, path, []byte("confirm="+nonce), "Cookie", cookie, "Content-Type", form, "Origin", "null", "Sec-Fetch-Site", "same-origin")
	if r.StatusCode() != 410 || len(cookies(r)) != 0 || !strings.Contains(string(r.Body()), "already been used") {
		t.Fatalf("second Continue POST: %d %v", r.StatusCode(), cookies(r))
	}
	if r := h.do("GET", host, path, nil); r.StatusCode() != 410 || len(cookies(r)) != 0 {
		t.Fatalf("GET after Continue: %d %v", r.StatusCode(), cookies(r))
	}
	if r := h.do("GET", host, "/s/"+strings.Repeat("B", 43), nil); r.StatusCode() != 404 {
		t.Fatalf("GET of an unknown link: %d", r.StatusCode())
	}

	// A session-API link is for an immediate redirect: GET redeems it.
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	if st, c, _ := h.open(res["sessionUrl"].(string)); st != 303 || c == "" {
		t.Fatalf("session-API link: %d %q, want 303 with the session cookie", st, c)
	}
}
