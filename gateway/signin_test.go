package gateway

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants"
)

// signInTenant creates a tenant with the example account (billing@globex.example) and sign in by
// email on, and gives the gateway a sign-in mailer over a real SMTP server.
func (h *harness) signInTenant(slug string) (*tenants.Tenant, string, *mailtest.Server) {
	h.t.Helper()
	smtp := mailtest.Start(h.t, mailtest.Options{TLS: "none"})
	sender, err := mail.New(mail.Config{Addr: smtp.Addr, TLS: "none", From: "Billing <billing@acme.example>"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.gw.cfg.SignInMail = sender // before the first request
	tn, key := h.tenant(slug)
	h.setEmailSignIn(tn, true)
	return tn, key, smtp
}

func (h *harness) setEmailSignIn(tn *tenants.Tenant, on bool) {
	h.t.Helper()
	if _, err := h.store.UpdateTenant(context.Background(), tn.ID, func(t *tenants.Tenant) error { t.EmailSignIn = on; return nil }, nil); err != nil {
		h.t.Fatal(err)
	}
	etcdtest.Wait(h.t, "setting watched", func() bool { t, ok := h.store.TenantByID(tn.ID); return ok && t.EmailSignIn == on })
}

// signInForm GETs the front page without a session and returns the continue cookie and the form's
// nonce.
func (h *harness) signInForm(host string) (cookie, nonce string) {
	h.t.Helper()
	r := h.do("GET", host, "/", nil)
	m := nonceField.FindStringSubmatch(string(r.Body()))
	if r.StatusCode() != 200 || m == nil || !strings.Contains(string(r.Body()), "Sign in with your billing email") ||
		!strings.Contains(string(r.Body()), `action="/sign-in"`) {
		h.t.Fatalf("front page without a session: %d\n%s", r.StatusCode(), r.Body())
	}
	return "__Host-portico_continue=" + m[1], m[1]
}

// post sends a form of the portal page as a browser does (Origin of the portal).
func (h *harness) post(host, path, cookie string, form url.Values) (status int, body string, session string) {
	h.t.Helper()
	r := h.do("POST", host, path, []byte(form.Encode()), "Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded",
		"Origin", "https://"+host, "Sec-Fetch-Site", "same-origin")
	if v, ok := cookies(r)["__Host-portico_session"]; ok {
		session = strings.SplitN(v, ";", 2)[0]
	}
	if loc := r.Header.Peek("Location"); len(loc) > 0 {
		body = "Location: " + string(loc)
	} else {
		body = string(r.Body())
	}
	return r.StatusCode(), body, session
}

func (h *harness) askEmail(host, email string) (status int, body, cookie, nonce string) {
	h.t.Helper()
	cookie, nonce = h.signInForm(host)
	status, body, _ = h.post(host, "/sign-in", cookie, url.Values{"confirm": {nonce}, "email": {email}})
	return status, body, cookie, nonce
}

var (
	signInLinkRE = regexp.MustCompile(`https://[a-z0-9.-]+/sign-in/l/[A-Za-z0-9_-]{43}`)
	signInCodeRE = regexp.MustCompile(`Or type this code: ([0-9]{6})`)
)

func signInMail(t testing.TB, smtp *mailtest.Server) (link, code string, msg mailtest.Message) {
	t.Helper()
	msg = smtp.Next(t)
	data := strings.ReplaceAll(string(msg.Data), "=\r\n", "")
	link = signInLinkRE.FindString(data)
	m := signInCodeRE.FindStringSubmatch(data)
	if link == "" || m == nil {
		t.Fatalf("the sign-in email holds no link or code:\n%s", msg.Data)
	}
	return link, m[1], msg
}

// TestSignInByEmailLink: the front page asks for the billing email; a known and an unknown email
// get the same page, only the known one an email; its link shows a Continue page to any number
// of GETs (mail scanners), its POST opens a session with the trail's signed_in_by_email, once.
func TestSignInByEmailLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key, smtp := h.signInTenant("esl")
	host := "esl." + base

	st1, unknown, _, _ := h.askEmail(host, "nobody@globex.example")
	st2, known, _, _ := h.askEmail(host, "Billing@Globex.example")
	if st1 != 200 || st2 != 200 || !strings.Contains(known, "If this email belongs to an account, we&#39;ve sent a link") {
		t.Fatalf("answers %d %d:\n%s", st1, st2, known)
	}
	same := func(page, email string) string {
		return nonceField.ReplaceAllString(strings.ReplaceAll(page, email, "X"), "")
	}
	if same(unknown, "nobody@globex.example") != same(known, "Billing@Globex.example") {
		t.Fatalf("the answers differ:\n%s\n---\n%s", unknown, known)
	}
	// The queue is worked in order: the known email's message comes after whatever the unknown
	// one would have sent, and nothing else is there.
	link, _, msg := signInMail(t, smtp)
	if msg.To[0] != "billing@globex.example" || smtp.Pending() != 0 {
		t.Fatalf("mail to %v, %d more", msg.To, smtp.Pending())
	}
	if !strings.HasPrefix(link, "https://"+host+"/sign-in/l/") {
		t.Fatalf("link %s", link)
	}
	// Scanners GET the link: it stays usable.
	for range 2 {
		st, _, r := h.open(link)
		if _, ok := cookies(r)["__Host-portico_session"]; st != 200 || ok || !strings.Contains(string(r.Body()), "Continue to billing") {
			t.Fatalf("GET of the link: %d, session cookie %v", st, ok)
		}
	}
	st, session, _ := h.continueLink(link)
	if st != 303 || session == "" {
		t.Fatalf("Continue: %d %q", st, session)
	}
	if r := h.do("GET", host, "/", nil, "Cookie", session); r.StatusCode() != 200 || !strings.Contains(string(r.Body()), "Globex Corporation") {
		t.Fatalf("portal after sign-in: %d", r.StatusCode())
	}
	if st, _, r := h.open(link); st != 410 || !strings.Contains(string(r.Body()), `href="/sign-in"`) {
		t.Fatalf("the link again: %d, want 410 offering sign-in", st)
	}
	// An ended session's 401 page offers the sign-in too.
	if r := h.do("GET", host, "/sign-in/choose", nil); r.StatusCode() != 401 || !strings.Contains(string(r.Body()), `href="/sign-in"`) {
		t.Fatalf("401 page: %d", r.StatusCode())
	}
	r := h.do("GET", "api."+base, "/v1/portal-sessions?accountId=acc_7Hq2LmX9", nil, "Authorization", "Bearer "+key)
	if !strings.Contains(string(r.Body()), `"type":"signed_in_by_email"`) || !strings.Contains(string(r.Body()), `"by":"email-sign-in"`) {
		t.Fatalf("audit trail: %s", r.Body())
	}
}

// TestSignInByEmailCode: the code of the email, typed where the email was asked for, signs in
// once; four wrong codes leave it working, the fifth voids it (and its link); after 15 minutes
// the code and the link no longer work.
func TestSignInByEmailCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, smtp := h.signInTenant("esc")
	host := "esc." + base
	try := func(cookie, nonce, code string) (int, string, string) {
		return h.post(host, "/sign-in/code", cookie, url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}, "code": {code}})
	}
	wrong := func(code string) string {
		if code == "000000" {
			return "111111"
		}
		return "000000"
	}

	_, page, cookie, nonce := h.askEmail(host, "billing@globex.example")
	if !strings.Contains(page, `action="/sign-in/code"`) || !strings.Contains(page, `autocomplete="one-time-code"`) {
		t.Fatalf("the answer has no code form:\n%s", page)
	}
	link, code, _ := signInMail(t, smtp)
	for i := range tenants.MaxSignInCodeTries - 1 {
		if st, body, s := try(cookie, nonce, wrong(code)); st != 400 || s != "" || !strings.Contains(body, "wrong or no longer valid") {
			t.Fatalf("wrong code %d: %d %q", i+1, st, s)
		}
	}
	st, body, session := try(cookie, nonce, code)
	if st != 303 || session == "" || body != "Location: /" {
		t.Fatalf("right code: %d %q %q", st, body, session)
	}
	if st, _, _ := try(cookie, nonce, code); st != 400 {
		t.Fatalf("the code twice: %d", st)
	}
	if st, _, _ := h.open(link); st != 410 {
		t.Fatalf("the link after the code: %d", st)
	}

	// Five wrong tries void the code and the link.
	_, _, cookie, nonce = h.askEmail(host, "billing@globex.example")
	link, code, _ = signInMail(t, smtp)
	for range tenants.MaxSignInCodeTries {
		try(cookie, nonce, wrong(code))
	}
	if st, _, s := try(cookie, nonce, code); st != 400 || s != "" {
		t.Fatalf("right code after %d wrong: %d", tenants.MaxSignInCodeTries, st)
	}
	if st, _, _ := h.open(link); st != 410 {
		t.Fatalf("the link of a voided code: %d", st)
	}

	// Expiry after 15 minutes, on the gateway's clock.
	_, _, cookie, nonce = h.askEmail(host, "billing@globex.example")
	link, code, _ = signInMail(t, smtp)
	h.now.Add(int64(tenants.SignInCodeTTL / time.Second))
	if st, _, _ := h.open(link); st != 410 {
		t.Fatalf("the link after 15 minutes: %d", st)
	}
	if st, _, s := try(cookie, nonce, code); st != 400 || s != "" {
		t.Fatalf("the code after 15 minutes: %d", st)
	}
}

// TestSignInByEmailChooser: an email of several accounts chooses among them, and only them; a
// forged choice of another account is refused and opens nothing.
func TestSignInByEmailChooser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key, smtp := h.signInTenant("esch")
	host := "esch." + base
	body := `{"id":"acc_second","name":"Globex Labs","email":"BILLING@globex.example","currency":"EUR"}`
	h.putAccountAs(key, "acc_second", body, 201)
	other := `{"id":"acc_other","name":"Initech","email":"ap@initech.example","currency":"EUR"}`
	h.putAccountAs(key, "acc_other", other, 201)
	_, _, cookie, nonce := h.askEmail(host, "billing@globex.example")
	_, code, msg := signInMail(t, smtp)
	if strings.Contains(string(msg.Data), "Hello Globex") {
		t.Fatal("an email of two accounts greets one of them")
	}
	r := h.do("POST", host, "/sign-in/code", []byte(url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}, "code": {code}}.Encode()),
		"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+host)
	choice, ok := cookies(r)["__Host-portico_signin"]
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/sign-in/choose" || !ok ||
		!strings.Contains(choice, "SameSite=Strict") || !strings.Contains(choice, "HttpOnly") {
		t.Fatalf("sign-in of two accounts: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	cookie += "; " + strings.SplitN(choice, ";", 2)[0]
	page := string(h.do("GET", host, "/sign-in/choose", nil, "Cookie", cookie).Body())
	for _, want := range []string{"Open Globex Corporation", "Open Globex Labs", `value="acc_7Hq2LmX9"`, `value="acc_second"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("chooser lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Initech") {
		t.Fatal("the chooser lists another account")
	}
	if st, _, s := h.post(host, "/sign-in/choose", cookie, url.Values{"confirm": {nonce}, "account": {"acc_other"}}); st != 403 || s != "" {
		t.Fatalf("forged choice: %d %q", st, s)
	}
	st, _, session := h.post(host, "/sign-in/choose", cookie, url.Values{"confirm": {nonce}, "account": {"acc_second"}})
	if st != 303 || session == "" {
		t.Fatalf("choice: %d", st)
	}
	if p := string(h.do("GET", host, "/", nil, "Cookie", session).Body()); !strings.Contains(p, "Globex Labs") {
		t.Fatal("the session is not the chosen account's")
	}
	if st, _, _ := h.post(host, "/sign-in/choose", cookie, url.Values{"confirm": {nonce}, "account": {"acc_7Hq2LmX9"}}); st != 401 {
		t.Fatalf("a second choice: %d, want 401", st)
	}
}

// TestSignInByEmailOff: without the setting the front page has no form, the sign-in paths are 404
// and the 410 page offers nothing; forms without the nonce are refused.
func TestSignInByEmailOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key, smtp := h.signInTenant("esoff")
	host := "esoff." + base
	// Forms without the continue cookie's nonce, or from another origin, are refused.
	cookie, nonce := h.signInForm(host)
	if st, _, _ := h.post(host, "/sign-in", cookie, url.Values{"confirm": {"x"}, "email": {"billing@globex.example"}}); st != 403 {
		t.Fatalf("without the nonce: %d", st)
	}
	r := h.do("POST", host, "/sign-in", []byte(url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}}.Encode()),
		"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if r.StatusCode() != 403 {
		t.Fatalf("from another origin: %d", r.StatusCode())
	}
	if st, body, _ := h.post(host, "/sign-in", cookie, url.Values{"confirm": {nonce}, "email": {"not an email"}}); st != 400 || !strings.Contains(body, "name@example.com") {
		t.Fatalf("a malformed email: %d", st)
	}

	h.setEmailSignIn(tn, false)
	if r := h.do("GET", host, "/", nil); r.StatusCode() != 401 || strings.Contains(string(r.Body()), "/sign-in") {
		t.Fatalf("front page with the setting off: %d", r.StatusCode())
	}
	for _, p := range []string{"/sign-in", "/sign-in/code", "/sign-in/choose"} {
		if st, _, _ := h.post(host, p, cookie, url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}}); st != 404 {
			t.Fatalf("POST %s with the setting off: %d", p, st)
		}
	}
	_, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	h.open(res["sessionUrl"].(string))
	if st, _, r := h.open(res["sessionUrl"].(string)); st != 410 || strings.Contains(string(r.Body()), "/sign-in") {
		t.Fatalf("410 with the setting off: %d", st)
	}
	if smtp.Pending() != 0 {
		t.Fatal("an email was sent")
	}
}

// TestSignInByEmailLimits: the sixth email asked for one address in an hour is 429, for a known
// and an unknown email alike.
func TestSignInByEmailLimits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, _, smtp := h.signInTenant("eslim")
	host := "eslim." + base
	for _, email := range []string{"billing@globex.example", "nobody@globex.example"} {
		for i := range tenants.MaxSignInMailsPerEmail {
			if st, _, _, _ := h.askEmail(host, email); st != 200 {
				t.Fatalf("%s request %d: %d", email, i+1, st)
			}
		}
		cookie, nonce := h.signInForm(host)
		r := h.do("POST", host, "/sign-in", []byte(url.Values{"confirm": {nonce}, "email": {email}}.Encode()),
			"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+host)
		if r.StatusCode() != 429 || len(r.Header.Peek("Retry-After")) == 0 {
			t.Fatalf("%s over its limit: %d", email, r.StatusCode())
		}
	}
	for range tenants.MaxSignInMailsPerEmail {
		smtp.Next(t)
	}
}

// TestSignInQueueBounded: the sign-in queue holds signInQueueSize emails; one more is refused
// (and the request answered as any other) rather than waited for.
func TestSignInQueueBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.gw.signIns.once.Do(func() { h.gw.signIns.jobs = make(chan signInJob, signInQueueSize) }) // no worker
	for i := range signInQueueSize {
		if !h.gw.enqueueSignIn(signInJob{}) {
			t.Fatalf("job %d refused", i+1)
		}
	}
	if h.gw.enqueueSignIn(signInJob{}) {
		t.Fatal("a full queue took another job")
	}
}

// TestSignInWrongCodesThrottled: wrong codes count against the client's failed-token budget; over
// it, the code form answers 429 without trying the code.
func TestSignInWrongCodesThrottled(t *testing.T) {
	t.Parallel()
	h := newHarnessOn(t, etcdtest.Prefix(t), Limits{RedeemsPerMinute: -1, FailedTokensPerHour: 1, APIPerSecond: -1})
	_, _, smtp := h.signInTenant("esthr")
	host := "esthr." + base
	_, _, cookie, nonce := h.askEmail(host, "billing@globex.example")
	_, code, _ := signInMail(t, smtp)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	st := 0
	for i := 0; i < 20 && st != 429; i++ {
		st, _, _ = h.post(host, "/sign-in/code", cookie, url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}, "code": {wrong}})
		if st != 400 && st != 429 {
			t.Fatalf("wrong code: %d", st)
		}
	}
	if st != 429 {
		t.Fatal("wrong codes were never throttled")
	}
	if st, _, s := h.post(host, "/sign-in/code", cookie, url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}, "code": {code}}); st != 429 || s != "" {
		t.Fatalf("the right code over the budget: %d", st)
	}
}
