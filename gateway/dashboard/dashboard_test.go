package dashboard_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

func TestSignIn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.agent()

	// Signed out, pages send to the sign-in form; forms are refused.
	if r := a.get("/customers"); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/login" {
		t.Fatalf("signed-out GET: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	expect(t, a.post("/settings/portal", url.Values{"csrf": {"x"}}), 403, "Your session has ended")
	// The workspace field's hint names a whole portal address, on this installation's domain.
	body := expect(t, a.get("/login"), 200, `action="/login"`, `name="password"`, `type="password"`,
		`<label for="tenant">Workspace</label>`, "<em>acme</em> for <em>acme.portal.test</em>")
	if strings.Contains(body, "Sign out") {
		t.Fatal("the sign-in page offers to sign out")
	}
	// The icon before sign-in is the neutral one, and /favicon.ico answers it (no 404 per page).
	if !strings.Contains(body, `<link rel="icon" href="/favicon.ico">`) {
		t.Error("the sign-in page links no icon")
	}
	if r := a.get("/favicon.ico"); r.StatusCode() != 200 || string(r.Header.Peek("Content-Type")) != "image/png" || !bytes.Equal(r.Body(), web.Icon) {
		t.Errorf("/favicon.ico: %d %s", r.StatusCode(), r.Header.Peek("Content-Type"))
	}

	// Wrong password, unknown email and unknown workspace get the same answer.
	for _, c := range [][3]string{{"acme", "ops@acme.example", "wrong password"}, {"acme", "nobody@acme.example", password}, {"nope", "ops@acme.example", password}} {
		r := a.login(c[0], c[1], c[2])
		expect(t, r, 401, "The workspace, email or password is not right.")
		if _, ok := a.jar[dashHost]["__Host-portico_admin"]; ok {
			t.Fatal("a failed sign-in set a session cookie")
		}
	}
	// The form needs its token (double-submit cookie) and the dashboard's Origin.
	expect(t, a.post("/login", url.Values{"tenant": {"acme"}, "email": {"ops@acme.example"}, "password": {password}}), 403, "security token")
	tok := a.csrf("/login")
	expect(t, a.do("POST", dashHost, "/login", []byte(url.Values{"csrf": {tok}, "tenant": {"acme"}, "email": {"ops@acme.example"}, "password": {password}}.Encode()),
		"Origin", "https://evil.example", "Content-Type", "application/x-www-form-urlencoded"), 403, "not sent from the Portico dashboard")

	// Success: a sealed, host-only, Secure, HttpOnly, SameSite=Strict cookie for 8 hours.
	r := a.login("ACME", "Ops@Acme.Example", password)
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/customers" {
		t.Fatalf("sign-in: %d %q %s", r.StatusCode(), r.Header.Peek("Location"), r.Body())
	}
	var setCookie string
	r.Header.VisitAllCookie(func(k, v []byte) {
		if string(k) == "__Host-portico_admin" {
			setCookie = strings.ToLower(string(v))
		}
	})
	for _, want := range []string{"path=/", "httponly", "secure", "samesite=strict", "max-age=28800"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("session cookie %q lacks %q", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "domain=") || strings.Contains(setCookie, "ops@acme") {
		t.Errorf("session cookie %q has a domain or the email in clear", setCookie)
	}
	body = expect(t, a.get("/customers"), 200, "Globex Corporation", "ops@acme.example", "Sign out")
	if strings.Contains(body, "Initech") {
		t.Fatal("the customer list shows another tenant")
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
	} {
		if got := string(a.get("/customers").Header.Peek(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// The stylesheet is served with the pages' look.
	css := a.get("/assets/dashboard.css")
	if css.StatusCode() != 200 || !strings.Contains(string(css.Body()), ".topbar") {
		t.Fatalf("dashboard.css: %d", css.StatusCode())
	}

	// Signing out needs the token too, and ends the session.
	expect(t, a.post("/logout", url.Values{}), 403)
	if r := a.form("/customers", "x", "y"); r.StatusCode() == 303 {
		t.Fatal("a form to /customers was accepted")
	}
	r = a.post("/logout", url.Values{"csrf": {a.csrf("/customers")}})
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/login" {
		t.Fatalf("sign out: %d", r.StatusCode())
	}
	if r := a.get("/customers"); r.StatusCode() != 303 {
		t.Fatal("still signed in after signing out")
	}
}

// Signing out ends the session everywhere: a copy of the cookie taken before POST /logout reads
// no customers afterwards, on this instance or on another one of the cluster.
func TestSignOutRevokesCopiedCookie(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	other := a.from("")
	other.client = h.secondInstance()
	expect(t, other.get("/customers"), 200, "Globex Corporation")
	stolen := a.from("")
	expect(t, stolen.get("/customers"), 200, "Globex Corporation")

	if r := a.post("/logout", url.Values{"csrf": {a.csrf("/customers")}}); r.StatusCode() != 303 {
		t.Fatalf("sign out: %d %s", r.StatusCode(), r.Body())
	}
	if r := stolen.get("/customers"); r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/login" {
		t.Fatalf("the copied cookie after sign-out: %d %s", r.StatusCode(), r.Body())
	}
	expect(t, stolen.get("/login"), 200, `name="password"`)
	etcdtest.Wait(t, "the other instance refuses the copied cookie", func() bool {
		return other.get("/customers").StatusCode() == 303
	})
	// A sign-in afterwards gets a new session.
	expect(t, h.signedIn().get("/customers"), 200, "Globex Corporation")
}

// Failed sign-ins are throttled by client address and by account, never by a lock on the admin
// that a stranger could trigger; a known and an unknown email are answered alike.
func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	h.frozen.Store(time.Now().UnixNano()) // the answers say how long to wait
	// The same failures for a real and an unknown email, each from an address of its own.
	answers := map[string][]string{}
	agents := map[string]*agent{"ops@acme.example": h.agent().from("192.0.2.10"), "nobody@acme.example": h.agent().from("192.0.2.20")}
	for range tenants.MaxFailuresPerAccountAddress + 1 {
		for email, a := range agents {
			r := a.login("acme", email, "wrong password")
			body := strings.ReplaceAll(string(r.Body()), email, "EMAIL")
			body = csrfRE.ReplaceAllString(body, "CSRF")
			answers[email] = append(answers[email], fmt.Sprintf("%d %s %s", r.StatusCode(), r.Header.Peek("Retry-After"), body))
		}
	}
	known, unknown := answers["ops@acme.example"], answers["nobody@acme.example"]
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("attempt %d: a real and an unknown email are answered differently:\n%s\n---\n%s", i+1, known[i], unknown[i])
		}
	}
	if !strings.HasPrefix(known[0], "401 ") || !strings.HasPrefix(known[len(known)-1], "429 ") ||
		!strings.Contains(known[len(known)-1], "Too many failed sign-ins. Try again at") {
		t.Fatalf("first answer %.60q, last %.200q", known[0], known[len(known)-1])
	}
	// The stranger's address is refused even the right password …
	expect(t, h.agent().from("192.0.2.10").login("acme", "ops@acme.example", password), 429, "Too many failed sign-ins")
	// … while the owner, from another address, signs in.
	owner := h.agent().from("198.51.100.7")
	if r := owner.login("acme", "ops@acme.example", password); r.StatusCode() != 303 {
		t.Fatalf("the owner from another address: %d %s", r.StatusCode(), r.Body())
	}
	// An address that hammers many accounts gets 429 for all of them.
	hammer := h.agent().from("203.0.113.9")
	for i := range tenants.MaxFailuresPerAddress {
		expect(t, hammer.login("acme", fmt.Sprintf("guess%d@acme.example", i), "wrong password"), 401)
	}
	r := hammer.login("initech", "boss@initech.example", password+" 2")
	expect(t, r, 429, "Too many failed sign-ins")
	if len(r.Header.Peek("Retry-After")) == 0 {
		t.Fatal("429 without Retry-After")
	}
	// Many addresses against one account: only a browser that signed in as the admin before
	// still gets through (its device cookie); a new browser waits for the window to end.
	for i := range tenants.MaxFailuresPerAccount - tenants.MaxFailuresPerAccountAddress {
		expect(t, h.agent().from(fmt.Sprintf("198.18.%d.%d", i/4, i%4)).login("acme", "ops@acme.example", "wrong password"), 401)
	}
	expect(t, h.agent().from("198.51.100.8").login("acme", "ops@acme.example", password), 429)
	browser := owner.from("198.51.100.8")
	delete(browser.jar[dashHost], "__Host-portico_admin") // signed out, the device cookie kept
	if r := browser.login("acme", "ops@acme.example", password); r.StatusCode() != 303 {
		t.Fatalf("the owner's known browser: %d %s", r.StatusCode(), r.Body())
	}
	h.offset.Store(int64(tenants.SignInWindow / time.Second))
	if r := h.agent().from("198.51.100.8").login("acme", "ops@acme.example", password); r.StatusCode() != 303 {
		t.Fatalf("a new browser in the next window: %d", r.StatusCode())
	}
	if strings.Contains(h.logs.String(), password) || strings.Contains(h.logs.String(), "wrong password") {
		t.Fatal("a password reached the log")
	}
}

func TestSessionBoundToTenantAndAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()

	// Another tenant's customer, by id in the URL: not found, and nothing of it shown or made.
	for _, path := range []string{"/customers/acc_initech1"} {
		body := expect(t, a.get(path), 404, "Customer not found")
		if strings.Contains(body, "Initech Secret Customer") {
			t.Fatal("another tenant's customer is shown")
		}
	}
	expect(t, a.form("/customers/acc_7Hq2LmX9"), 404) // no such action on a GET-only page
	csrf := a.csrf("/customers")
	for _, action := range []string{"copy-link", "send-link"} {
		body := expect(t, a.post("/customers/acc_initech1/"+action, url.Values{"csrf": {csrf}}), 404, "Customer not found")
		if strings.Contains(body, "/s/") {
			t.Fatalf("%s made a link for another tenant's customer", action)
		}
	}
	if h.smtp.Pending() != 0 {
		t.Fatal("an email was sent for another tenant's customer")
	}
	expect(t, a.get("/customers/..%2f..%2fetc"), 404)
	// A search never reaches another tenant's customers.
	if body := expect(t, a.get("/customers?q=initech"), 200, "No customer matches"); strings.Contains(body, "acc_initech1") {
		t.Fatal("search found another tenant's customer")
	}

	// The session cookie is "<tenantID>.<sealed>": pointing it at another tenant does not open it.
	cookie := a.jar[dashHost]["__Host-portico_admin"]
	_, sealed, _ := strings.Cut(cookie, ".")
	forged := h.agent()
	forged.jar[dashHost] = map[string]string{"__Host-portico_admin": h.initech.ID + "." + sealed}
	if r := forged.get("/customers"); r.StatusCode() != 303 {
		t.Fatalf("a cookie relabelled for another tenant opened: %d", r.StatusCode())
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed)
	raw[len(raw)-1] ^= 1
	forged.jar[dashHost] = map[string]string{"__Host-portico_admin": h.acme.ID + "." + base64.RawURLEncoding.EncodeToString(raw)}
	if r := forged.get("/customers"); r.StatusCode() != 303 {
		t.Fatal("a tampered cookie opened")
	}

	// Sessions end after 8 hours, and when the admin is deleted.
	h.offset.Store(8*3600 + 1)
	if r := a.get("/customers"); r.StatusCode() != 303 {
		t.Fatal("a session outlived 8 hours")
	}
	h.offset.Store(0)
	if r := a.get("/customers"); r.StatusCode() != 200 {
		t.Fatal("session lost")
	}
	if err := h.store.DeleteAdmin(context.Background(), h.acme.ID, "ops@acme.example"); err != nil {
		t.Fatal(err)
	}
	if r := a.get("/customers"); r.StatusCode() != 303 {
		t.Fatal("a deleted admin's session still works")
	}
}

func TestCustomerSearchAndPagination(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	ctx := context.Background()
	// 2,000 customers through the store (PutAccount); the index lists them with one stream.
	docs := make([]*account.Account, 0, 2000)
	for i := range 2000 {
		a := &account.Account{ID: "cus_" + pad(i), Alias: "ali-" + pad(i), Name: names[i%len(names)] + " " + pad(i),
			Email: "billing+" + pad(i) + "@example.com", Currency: "USD"}
		docs = append(docs, a)
	}
	putAll(t, h.store, h.acme.ID, docs)
	a := h.signedIn()

	start := time.Now()
	body := expect(t, a.get("/customers"), 200, "2,001 customers", "showing 1–25", "Page 1 of 81")
	t.Logf("first customer page (index built for 2,001 accounts): %v", time.Since(start))
	if n := strings.Count(body, `<tr><th scope="row">`); n != 25 {
		t.Fatalf("%d rows on a page", n)
	}
	start = time.Now()
	body = expect(t, a.get("/customers?q=ZETA"), 200, "customers match", "Zeta Logistics")
	t.Logf("search over 2,001 accounts through HTTP: %v", time.Since(start))
	if strings.Contains(body, "Acme Widgets") {
		t.Fatal("search shows non-matching customers")
	}
	expect(t, a.get("/customers?q=ALI-001234"), 200, "1 customer matches", `href="/customers/cus_001234"`)
	expect(t, a.get("/customers?q=billing%2B000042%40EXAMPLE.com"), 200, "1 customer matches", "cus_000042")
	expect(t, a.get("/customers?q=cus_0019"), 200, "100 customers match", "Page 1 of 4", `href="/customers?page=2&amp;q=cus_0019"`)
	body = expect(t, a.get("/customers?q=cus_0019&page=4"), 200, "showing 76–100", "Page 4 of 4", "rel=\"prev\"")
	if strings.Contains(body, `rel="next"`) {
		t.Fatal("the last page links a next page")
	}
	expect(t, a.get("/customers?q=no+such+customer"), 200, "No customer matches")
	expect(t, a.get("/customers?page=999"), 200, "There are no customers on this page")
	// Hostile input is escaped.
	body = expect(t, a.get("/customers?q=%3Cscript%3Ealert(1)%3C/script%3E"), 200)
	if strings.Contains(body, "<script>") {
		t.Fatal("the query is reflected unescaped")
	}

	// Changes reach the index through its watch.
	docs[7].Name = "Renamed Quokka Ltd"
	if _, _, err := h.store.PutAccount(ctx, h.acme.ID, docs[7], 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "rename searchable", func() bool {
		return strings.Contains(string(a.get("/customers?q=quokka").Body()), "cus_000007")
	})
	if err := h.store.DeleteAccount(ctx, h.acme.ID, "cus_000007", 0); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "deletion applied", func() bool {
		return strings.Contains(string(a.get("/customers?q=quokka").Body()), "No customer matches")
	})
}

var names = []string{"Acme Widgets", "Zeta Logistics", "Northwind Traders", "Contoso Pharma", "Fabrikam Foods"}

func pad(i int) string { s := "000000" + itoa(i); return s[len(s)-6:] }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// putAll stores accounts with PutAccount, a few at a time.
func putAll(t *testing.T, s *tenants.Store, tid string, docs []*account.Account) {
	t.Helper()
	sem := make(chan struct{}, 16)
	errs := make(chan error, len(docs))
	for _, d := range docs {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, _, err := s.PutAccount(context.Background(), tid, d, 0)
			errs <- err
		}()
	}
	for range docs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

var linkRE = regexp.MustCompile(`https://acme\.portal\.test/s/[A-Za-z0-9_-]{43}`)

var continueNonce = regexp.MustCompile(`name="confirm" value="([A-Za-z0-9_-]{43})"`)

// redeem opens a portal link like a browser: links made for people (emailed or copied) show a
// Continue page, whose button posts back to the link; that (or the GET of any other link) answers
// 303 to / with a session cookie, then the page.
func (a *agent) redeem(link string) string {
	a.h.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		a.h.t.Fatal(err)
	}
	r := a.do("GET", u.Host, u.Path, nil)
	if m := continueNonce.FindSubmatch(r.Body()); r.StatusCode() == 200 && m != nil {
		r = a.do("POST", u.Host, u.Path, []byte("confirm="+string(m[1])), "Content-Type", "application/x-www-form-urlencoded",
			"Origin", "null", "Sec-Fetch-Site", "same-origin")
	}
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/" {
		a.h.t.Fatalf("redeeming the link: %d %q\n%s", r.StatusCode(), r.Header.Peek("Location"), r.Body())
	}
	page := a.do("GET", u.Host, "/", nil)
	if page.StatusCode() != 200 {
		a.h.t.Fatalf("portal page: %d\n%s", page.StatusCode(), page.Body())
	}
	return string(page.Body())
}

func TestSendPortalLink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{maxLinks: 2})
	a := h.signedIn()
	body := expect(t, a.get("/customers/acc_7Hq2LmX9"), 200, "Globex Corporation", "Send Portal Link", "Copy link",
		"Pro (annual)", "€12,490.00", "GLX-2026-0007", "Overdue", "Emails the link to billing@globex.example")
	// Invoices newest first, each with the status the portal shows: GLX-2026-0006 (issued, due
	// 2026-12-01, unpaid) is Overdue here as in the portal once its due date has passed.
	rows := regexp.MustCompile(`<tr><th scope="row"[^>]*>(GLX-2026-\d+)</th><td[^>]*><span class="badge [^"]*">([^<]+)</span>`).FindAllStringSubmatch(body, -1)
	var order []string
	for _, r := range rows {
		order = append(order, r[1])
		if r[1] == "GLX-2026-0006" && h.now().UTC().Format(time.DateOnly) > "2026-12-01" && r[2] != "Overdue" {
			t.Errorf("GLX-2026-0006 is %q on the dashboard; the portal shows Overdue", r[2])
		}
	}
	if want := []string{"GLX-2026-0008", "GLX-2026-0006", "GLX-2026-0007", "GLX-2026-0005"}; !slices.Equal(order, want) {
		t.Errorf("invoices in the order %v, want newest first %v", order, want)
	}
	if strings.Contains(body, "disabled") {
		t.Fatal("the Send button is disabled with email configured")
	}

	// Without the CSRF token nothing is sent.
	expect(t, a.post("/customers/acc_7Hq2LmX9/send-link", url.Values{}), 403, "security token")
	if h.smtp.Pending() != 0 {
		t.Fatal("a link was emailed without a CSRF token")
	}

	body = expect(t, a.form("/customers/acc_7Hq2LmX9/send-link"), 200, "Portal link sent to billing@globex.example", "expires in 1 hour")
	if linkRE.MatchString(body) {
		t.Fatal("the emailed link is shown on the page")
	}
	m := h.smtp.Next(t)
	if len(m.To) != 1 || m.To[0] != "billing@globex.example" {
		t.Fatalf("mail to %v", m.To)
	}
	p, err := mailtest.Parse(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "Ihr Link zum Abrechnungsportal von Acme Cloud" { // the account's locale is de-DE
		t.Fatalf("subject %q", p.Subject)
	}
	link := linkRE.FindString(p.Text)
	if link == "" || !strings.Contains(p.HTML, `href="`+link+`"`) || !strings.Contains(p.Text, "läuft in 1 Stunde ab") {
		t.Fatalf("the mail lacks the link or its expiry:\n%s", p.Text)
	}
	// A mail scanner opens the link first: it gets the Continue page and the link stays unused.
	u, _ := url.Parse(link)
	for range 2 {
		if body := expect(t, h.agent().do("GET", u.Host, u.Path, nil), 200, `name="confirm"`); strings.Contains(body, "Pro (annual)") {
			t.Fatal("the emailed link's GET opened the portal")
		}
	}
	// The customer follows the link, presses Continue and lands in the portal.
	customer := h.agent()
	page := customer.redeem(link)
	for _, want := range []string{"Globex Corporation", "Acme Cloud", "Pro (annual)"} {
		if !strings.Contains(page, want) {
			t.Fatalf("portal page lacks %q", want)
		}
	}
	// Used once: a second click is told so.
	if r := h.agent().do("GET", u.Host, u.Path, nil); r.StatusCode() != 410 {
		t.Fatalf("second redemption: %d", r.StatusCode())
	}

	// The per-customer limit (2 per hour here): the second passes, the third is refused.
	expect(t, a.form("/customers/acc_7Hq2LmX9/send-link"), 200, "Portal link sent")
	h.smtp.Next(t)
	expect(t, a.form("/customers/acc_7Hq2LmX9/send-link"), 429, "already sent 2 portal links this hour", "The next one can be sent at")
	if h.smtp.Pending() != 0 {
		t.Fatal("a link was emailed past the limit")
	}

	// An SMTP server that refuses: the admin sees why; the log has no link.
	a2 := h.putAccount(h.acme, func(x *account.Account) { x.ID, x.Alias, x.Email = "acc_second", "", "second@globex.example" })
	h.smtp.Reject(errors.New("mailbox unavailable"))
	body = expect(t, a.form("/customers/"+a2.ID+"/send-link"), 502, "could not be sent", "554", "mailbox unavailable")
	if linkRE.MatchString(body) {
		t.Fatal("the failure page shows a link")
	}
	h.smtp.Reject(nil)

	// Copy link shows a fresh link in a read-only field; it works too.
	body = expect(t, a.form("/customers/acc_7Hq2LmX9/copy-link"), 200, `readonly value="https://acme.portal.test/s/`)
	copied := linkRE.FindString(body)
	// It is passed on in a message too: its GET shows the Continue page.
	cu, _ := url.Parse(copied)
	expect(t, h.agent().do("GET", cu.Host, cu.Path, nil), 200, `name="confirm"`)
	if !strings.Contains(h.agent().redeem(copied), "Globex Corporation") {
		t.Fatal("the copied link does not open the portal")
	}

	// A customer without an email cannot be sent a link.
	h.putAccount(h.acme, func(x *account.Account) { x.ID, x.Alias, x.Email = "acc_noemail", "", "" })
	expect(t, a.get("/customers/acc_noemail"), 200, "has no billing email", "disabled")
	expect(t, a.form("/customers/acc_noemail/send-link"), 409, "no billing email")

	logs := h.logs.String()
	for _, secret := range []string{strings.TrimPrefix(link, "https://acme.portal.test/s/"), strings.TrimPrefix(copied, "https://acme.portal.test/s/")} {
		if strings.Contains(logs, secret) {
			t.Fatal("a link token reached the log")
		}
	}
	if !strings.Contains(logs, "portal link emailed") || !strings.Contains(logs, "sending a portal link failed") {
		t.Fatalf("the sends were not logged:\n%s", logs)
	}
}

func TestWithoutMail(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{noMail: true})
	a := h.signedIn()
	expect(t, a.get("/customers/acc_7Hq2LmX9"), 200, "Email is not configured", "disabled")
	expect(t, a.form("/customers/acc_7Hq2LmX9/send-link"), 503, "Email is not configured")
	body := expect(t, a.form("/customers/acc_7Hq2LmX9/copy-link"), 200, "Portal link (works once")
	if !strings.Contains(h.agent().redeem(linkRE.FindString(body)), "Globex Corporation") {
		t.Fatal("copied link does not open the portal")
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	other := h.signedIn()
	h.offset.Store(2) // the change is later than both sessions
	expect(t, a.form("/settings/password", "current", "wrong one", "new", "a new secret pass", "confirm", "a new secret pass"), 401, "current password is not right")
	expect(t, a.form("/settings/password", "current", password, "new", "short", "confirm", "short"), 400, "at least 12 characters")
	expect(t, a.form("/settings/password", "current", password, "new", "a new secret pass", "confirm", "another"), 400, "differ")
	expect(t, a.form("/settings/password", "current", password, "new", "a new secret pass", "confirm", "a new secret pass"), 200, "Your password was changed")
	if r := a.get("/customers"); r.StatusCode() != 200 {
		t.Fatal("the session that changed the password ended")
	}
	if r := other.get("/customers"); r.StatusCode() != 303 {
		t.Fatal("another session survived the password change")
	}
	if r := h.agent().login("acme", "ops@acme.example", "a new secret pass"); r.StatusCode() != 303 {
		t.Fatal("the new password does not sign in")
	}
}

// TestSignInBehindProxy: sign-ins are throttled and logged by the client's address, behind a
// trusted proxy the one it forwards: failures of one client leave another client behind the same
// proxy free to try. A peer that is not a trusted proxy is itself, whatever it forwards.
func TestSignInBehindProxy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{noMail: true, trustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	signIn := func(peer, forwarded, pw string) int {
		a := h.agent().from(peer)
		body := url.Values{"csrf": {a.csrf("/login")}, "tenant": {"acme"}, "email": {"ops@acme.example"}, "password": {pw}}.Encode()
		return a.do("POST", dashHost, "/login", []byte(body), "Origin", origin, "Content-Type", "application/x-www-form-urlencoded", "X-Forwarded-For", forwarded).StatusCode()
	}
	for i := range tenants.MaxFailuresPerAccountAddress {
		if st := signIn("10.0.0.2", "198.51.100.7", "wrong password"); st != 401 {
			t.Fatalf("client A's failure %d: %d", i+1, st)
		}
	}
	if st := signIn("10.0.0.2", "198.51.100.7", "wrong password"); st != 429 {
		t.Fatalf("client A after %d failures: %d, want 429", tenants.MaxFailuresPerAccountAddress, st)
	}
	if st := signIn("10.0.0.3", "198.51.100.9", "wrong password"); st != 401 {
		t.Fatalf("client B behind the same proxies: %d, want 401", st)
	}
	if st := signIn("203.0.113.5", "198.51.100.8", "wrong password"); st != 401 {
		t.Fatalf("stranger: %d", st)
	}
	if st := signIn("10.0.0.2", "198.51.100.9", password); st != 303 {
		t.Fatalf("client B's sign-in: %d", st)
	}
	logs := h.logs.String()
	for _, want := range []string{
		`msg="dashboard: failed sign-in" tenant=acme email=ops@acme.example addr=198.51.100.7`,
		`msg="dashboard: failed sign-in" tenant=acme email=ops@acme.example addr=203.0.113.5`,
		`msg="dashboard: admin passed the password" tenant=acme email=ops@acme.example addr=198.51.100.9`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %s in the log:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "198.51.100.8") {
		t.Error("an untrusted peer's X-Forwarded-For reached the log")
	}
}
