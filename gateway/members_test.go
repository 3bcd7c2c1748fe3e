package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/race"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/mail/mailtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// teamPortal is the example account's holder in a portal session of a new tenant (slug) with sign
// in by email on, a tenant backend answering answers, and sign-in emails over a real SMTP server.
func teamPortal(t *testing.T, slug string, answers map[string]backendAnswer) (*harness, *portalSession, *tenantBackend, *mailtest.Server) {
	t.Helper()
	h := newHarness(t)
	smtp := mailtest.Start(t, mailtest.Options{TLS: "none"})
	sender, err := mail.New(mail.Config{Addr: smtp.Addr, TLS: "none", From: "Billing <billing@acme.example>"})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.cfg.SignInMail = sender // before the first request
	h.withBackend(0, false)
	b := newTenantBackend(t, answers)
	ps := h.customer(slug, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	registerBackend(t, h, ps.t.ID, b.srv.URL)
	h.setEmailSignIn(ps.t, true)
	return h, ps, b, smtp
}

// invite makes email a member of the example account with the role, as the CLI would.
func (ps *portalSession) invite(email, role string) tenants.Member {
	ps.h.t.Helper()
	m, _, _, err := ps.h.store.UpsertMember(context.Background(), ps.t.ID, "acc_7Hq2LmX9", email, role, tenants.MemberChange{By: "cli", At: time.Now()})
	if err != nil {
		ps.h.t.Fatal(err)
	}
	return m
}

// signInAs signs email in by the code of its email and returns its session on ps's portal.
func (ps *portalSession) signInAs(smtp *mailtest.Server, email string) *portalSession {
	ps.h.t.Helper()
	h := ps.h
	_, _, cookie, nonce := h.askEmail(ps.host, email)
	_, code, msg := signInMail(h.t, smtp)
	if msg.To[0] != email {
		h.t.Fatalf("sign-in email to %v, want %s", msg.To, email)
	}
	st, body, session := h.post(ps.host, "/sign-in/code", cookie, url.Values{"confirm": {nonce}, "email": {email}, "code": {code}})
	if st != 303 || session == "" {
		h.t.Fatalf("sign in as %s: %d %s", email, st, body)
	}
	m := &portalSession{h: h, t: ps.t, key: ps.key, host: ps.host, cookie: session}
	page := m.get("/")
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		h.t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	m.csrf = page[i+19 : i+19+32]
	return m
}

// status is the status of a GET of path in the session.
func (ps *portalSession) status(path string) int {
	return ps.h.do("GET", ps.host, path, nil, "Cookie", ps.cookie).StatusCode()
}

// TestMemberRoles: colleagues invited with a role sign in by email's code. A viewer sees the
// invoices and downloads a PDF, but has no Pay button, and its pay page and a forged pay post
// (with its own session's valid CSRF token) are refused 403 with no backend call and no event. A
// billing member pays, but its forged cancel is refused. Every entry of a member's session names
// the member's email. Removing a member or lowering its role ends its open session at once.
func TestMemberRoles(t *testing.T) {
	t.Parallel()
	const inv = "inv_2026_0007"
	h, holder, b, smtp := teamPortal(t, "roles", map[string]backendAnswer{
		backend.TypeInvoicePay: answerSucceeded("Thanks!", func(d map[string]any) string { return paidDoc(t, str(d, "invoiceId")) }),
	})
	if page := holder.get("/"); !strings.Contains(page, `href="/pay/`+inv+`"`) || !strings.Contains(page, `/subscriptions/sub_Pro_01/cancel`) {
		t.Fatal("the holder's page lacks Pay now or Cancel")
	}
	vera := holder.invite("vera@globex.example", tenants.RoleViewer)
	holder.invite("bill@globex.example", tenants.RoleBilling)

	viewer := holder.signInAs(smtp, "vera@globex.example")
	page := viewer.get("/")
	if !strings.Contains(page, "GLX-2026-0007") || strings.Contains(page, `href="/pay/`) || strings.Contains(page, "/cancel") || strings.Contains(page, `href="/billing/edit"`) {
		t.Fatalf("the viewer's page:\n%s", page)
	}
	if r := h.do("GET", viewer.host, "/invoices/"+inv+".pdf", nil, "Cookie", viewer.cookie); r.StatusCode() != 200 || !strings.HasPrefix(string(r.Body()), "%PDF") {
		t.Fatalf("the viewer's PDF: %d", r.StatusCode())
	}
	if st := viewer.status("/pay/" + inv); st != 403 {
		t.Fatalf("the viewer's pay page: %d", st)
	}
	before := holder.account()
	forged := url.Values{"method": {"pm_card_1"}, "amount": {"119000"}, "currency": {"EUR"}, "rev": {"1"}}
	if st, body := viewer.post("/pay/"+inv, forged); st != 403 || !strings.Contains(body, "Your role on this account is Viewer") || !strings.Contains(body, "change your role to Billing") {
		t.Fatalf("the viewer's forged pay: %d, want 403 saying the role and the one needed\n%s", st, body)
	}
	for _, p := range []string{"/subscriptions/sub_Pro_01/cancel", "/billing/edit", "/billing/autopay"} {
		if st, _ := viewer.post(p, url.Values{"reason": {"pricing"}}); st != 403 {
			t.Errorf("the viewer's forged POST %s: %d", p, st)
		}
	}
	if n := b.count(backend.TypeInvoicePay); n != 0 || len(holder.events(tenants.EventInvoicePaymentSucceeded)) != 0 || !equalJSON(t, before, holder.account()) {
		t.Fatalf("the viewer's forged posts changed something: %d backend calls", n)
	}
	if e := findAudit(t, h, holder.t.ID, "acc_7Hq2LmX9", AuditSignedInByEmail); e == nil || e.Member != "vera@globex.example" {
		t.Fatalf("the viewer's sign-in entry: %+v", e)
	}

	billing := holder.signInAs(smtp, "bill@globex.example")
	if page := billing.get("/"); !strings.Contains(page, `href="/pay/`+inv+`"`) || strings.Contains(page, "/cancel") {
		t.Fatalf("the billing member's page:\n%s", page)
	}
	if st := billing.status("/subscriptions/sub_Pro_01/cancel"); st != 403 {
		t.Fatalf("the billing member's cancel page: %d", st)
	}
	if st, _ := billing.post("/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}}); st != 403 {
		t.Fatalf("the billing member's forged cancel: %d", st)
	}
	if st, body, _ := billing.submit("/pay/"+inv, billing.payForm(inv, "pm_card_1"), "https://"+billing.host); st != 200 || !strings.Contains(body, "Payment received") {
		t.Fatalf("the billing member pays: %d\n%s", st, body)
	}
	if e := findAudit(t, h, holder.t.ID, "acc_7Hq2LmX9", tenants.EventInvoicePaymentSucceeded); e == nil || e.Member != "bill@globex.example" {
		t.Fatalf("the payment's entry: %+v", e)
	}
	if a := holder.account(); len(holder.events(tenants.EventSubscriptionCancelationScheduled)) != 0 || a.Subscriptions[0].CancelAtPeriodEnd {
		t.Fatal("the billing member's forged cancel changed something")
	}

	// Removing the viewer ends its session on the next request; lowering the billing member's
	// role ends its session too (its cookie still says billing).
	if err := h.store.RemoveMember(context.Background(), holder.t.ID, "acc_7Hq2LmX9", vera.ID, tenants.MemberChange{By: "cli", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// (Without a session the front page asks for an email: the invoice page answers 401.)
	etcdtest.Wait(t, "the removed viewer's session refused", func() bool { return viewer.status("/invoices/"+inv) == 401 })
	if r := h.do("GET", viewer.host, "/", nil, "Cookie", viewer.cookie); !strings.Contains(string(r.Body()), `action="/sign-in"`) {
		t.Fatalf("the removed viewer's front page: %d\n%s", r.StatusCode(), r.Body())
	}
	bill := holder.invite("bill@globex.example", tenants.RoleViewer)
	if bill.Role != tenants.RoleViewer {
		t.Fatal(bill)
	}
	etcdtest.Wait(t, "the demoted member's session refused", func() bool { return billing.status("/invoices/"+inv) == 401 })
	if st, _, _ := billing.submit("/pay/"+inv, url.Values{"method": {"pm_card_1"}}, "https://"+billing.host); st != 401 {
		t.Fatalf("the demoted member's pay: %d", st)
	}
	if holder.status("/invoices/"+inv) != 200 {
		t.Fatal("the holder's session ended with its members'")
	}
}

// TestMembersAPI: GET, POST and DELETE /v1/accounts/{id}/members. The invitation reaches the
// colleague over SMTP with the portal's sign-in page (no token), and the colleague signs in by the
// code of sign in by email; a change of role answers 200; bad input 400 with a detail; another
// tenant's account and member 404; removing a member ends its session.
func TestMembersAPI(t *testing.T) {
	t.Parallel()
	h, holder, _, smtp := teamPortal(t, "team-api", nil)
	api := func(key, method, path, body string) (int, map[string]any) {
		t.Helper()
		r := h.do(method, "api."+base, path, []byte(body), "Authorization", "Bearer "+key, "Content-Type", "application/json")
		var v map[string]any
		_ = json.Unmarshal(r.Body(), &v)
		return r.StatusCode(), v
	}
	const members = "/v1/accounts/acc_7Hq2LmX9/members"
	st, res := api(holder.key, "POST", members, `{"email":"Vera@Globex.example","role":"viewer","sendInvite":true}`)
	if st != 201 || res["role"] != "viewer" || res["inviteSent"] != true || !strings.HasPrefix(str(res, "id"), "mb_") {
		t.Fatalf("invite: %d %v", st, res)
	}
	vid := str(res, "id")
	msg := smtp.Next(t)
	data := strings.ReplaceAll(string(msg.Data), "=\r\n", "")
	if msg.To[0] != "Vera@Globex.example" || !strings.Contains(data, "https://team-api."+base+"/sign-in") || strings.Contains(data, "/sign-in/l/") ||
		!strings.Contains(data, "Globex Corporation eingeladen, mit der Rolle Betrachter.") { // the account's language
		t.Fatalf("the invitation:\n%s", data)
	}
	vera := holder.signInAs(smtp, "Vera@Globex.example")
	if page := vera.get("/"); !strings.Contains(page, "GLX-2026-0007") || strings.Contains(page, `href="/pay/`) {
		t.Fatal("the invited viewer's page")
	}

	if st, res := api(holder.key, "POST", members, `{"email":"vera@globex.example","role":"billing"}`); st != 200 || res["role"] != "billing" || res["id"] != vid || res["inviteSent"] != false {
		t.Fatalf("change of role: %d %v", st, res)
	}
	if st, res := api(holder.key, "GET", members, ""); st != 200 || res["holder"] != "billing@globex.example" || len(res["members"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, res)
	}
	for _, c := range []struct {
		name, body string
		status     int
		detail     string
	}{
		{"bad email", `{"email":"vera","role":"viewer"}`, 400, `"vera" is not an email address`},
		{"bad role", `{"email":"x@globex.example","role":"admin"}`, 400, `role "admin" is not one of viewer, billing, owner`},
		{"no role", `{"email":"x@globex.example"}`, 400, `role "" is not one of`},
		{"unknown field", `{"email":"x@globex.example","role":"viewer","admin":true}`, 400, `unknown field "admin"`},
		{"not JSON", `{"email":`, 400, ""},
		{"holder", `{"email":"BILLING@globex.example","role":"viewer"}`, 409, "billing email"},
	} {
		st, res := api(holder.key, "POST", members, c.body)
		if st != c.status || !strings.Contains(str(res, "detail"), c.detail) || str(res, "detail") == "" {
			t.Errorf("%s: %d %v", c.name, st, res)
		}
	}
	if st, _ := api(holder.key, "POST", "/v1/accounts/acc_nobody/members", `{"email":"x@globex.example","role":"viewer"}`); st != 404 {
		t.Errorf("unknown account: %d", st)
	}

	// Another tenant (with its own acc_7Hq2LmX9) sees neither the account's members nor the member.
	_, otherKey := h.tenant("team-api-other")
	if st, res := api(otherKey, "GET", members, ""); st != 200 || len(res["members"].([]any)) != 0 {
		t.Fatalf("the other tenant's own account: %d %v", st, res)
	}
	h.putAccountAs(holder.key, "acc_only_a", `{"id":"acc_only_a","name":"A only","email":"a@globex.example","currency":"EUR"}`, 201)
	if st, res := api(otherKey, "GET", "/v1/accounts/acc_only_a/members", ""); st != 404 || str(res, "detail") == "" {
		t.Errorf("another tenant's account: %d %v", st, res)
	}
	if st, _ := api(otherKey, "DELETE", members+"/"+vid, ""); st != 404 {
		t.Errorf("another tenant's member: %d", st)
	}
	if st, _ := api(holder.key, "DELETE", members+"/mb_nobody", ""); st != 404 {
		t.Errorf("unknown member: %d", st)
	}
	if st, _ := api(holder.key, "DELETE", members+"/"+vid, ""); st != 204 {
		t.Fatalf("remove: %d", st)
	}
	etcdtest.Wait(t, "the removed member's session refused", func() bool { return vera.status("/invoices/inv_2026_0007") == 401 })
	if e := findAudit(t, h, holder.t.ID, "acc_7Hq2LmX9", tenants.EventMemberRemoved); e == nil || !strings.HasPrefix(e.By, "apikey:") {
		t.Fatalf("the removal's entry: %+v", e)
	}
	for i := range tenants.MaxMembers {
		holder.invite(fmt.Sprintf("m%02d@globex.example", i), tenants.RoleViewer)
	}
	if st, res := api(holder.key, "POST", members, `{"email":"one-more@globex.example","role":"viewer"}`); st != 409 || !strings.Contains(str(res, "detail"), "at most 50 members") {
		t.Fatalf("the 51st member: %d %v", st, res)
	}
}

// TestTeamPages: an owner of a tenant that allows team management invites a colleague from the
// Team page (the invitation over SMTP), the colleague signs in by code as a viewer and sees no
// Team card, no forms on /team, and gets 403 for a forged invite and for /activity; a second
// owner changes the viewer's role and removes it behind a confirm page, which ends its session.
// The Activity page lists who did what with coarse addresses only.
func TestTeamPages(t *testing.T) {
	t.Parallel()
	h, ps, _, smtp := teamPortal(t, "team-pages", nil)
	if _, err := h.store.UpdateTenant(context.Background(), ps.t.ID, func(t *tenants.Tenant) error { t.Portal.AllowTeamManagement = true; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the setting watched", func() bool { tn, _ := h.store.TenantByID(ps.t.ID); return tn.Portal.AllowTeamManagement })
	if page := ps.get("/"); strings.Contains(page, `href="/team"`) || !strings.Contains(page, `href="/activity"`) {
		t.Fatalf("a session issued without team management:\n%s", page)
	}
	holder := &portalSession{h: h, t: ps.t, key: ps.key, host: ps.host, cookie: h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)}
	holder.csrf = ps.csrf
	page := holder.get("/")
	if !strings.Contains(page, `href="/team"`) || !strings.Contains(page, `href="/activity"`) {
		t.Fatalf("the owner's page has no Team card:\n%s", page)
	}
	i := strings.Index(page, `name="csrf" value="`)
	holder.csrf = page[i+19 : i+19+32]
	if team := holder.get("/team"); !strings.Contains(team, "billing@globex.example") || !strings.Contains(team, "Account holder") || !strings.Contains(team, `action="/team/invite"`) {
		t.Fatalf("the owner's team page:\n%s", team)
	}
	// A bad email is shown on the form, with the summary.
	if st, body := holder.post("/team/invite", url.Values{"email": {"vera"}, "role": {"viewer"}}); st != 400 || !strings.Contains(body, "error-summary") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("a bad invitation: %d\n%s", st, body)
	}
	invite := func(s *portalSession, email, role string) {
		t.Helper()
		r := h.do("POST", s.host, "/team/invite", []byte(url.Values{"email": {email}, "role": {role}, "csrf": {s.csrf}}.Encode()), "Cookie", s.cookie,
			"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+s.host)
		if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/team?done=invited" {
			t.Fatalf("invite %s: %d %s", email, r.StatusCode(), r.Body())
		}
		msg := smtp.Next(t)
		data := strings.ReplaceAll(string(msg.Data), "=\r\n", "")
		if msg.To[0] != email || !strings.Contains(data, "/sign-in") {
			t.Fatalf("the invitation of %s:\n%s", email, data)
		}
	}
	invite(holder, "vera@globex.example", "viewer")
	viewer := holder.signInAs(smtp, "vera@globex.example")
	if page := viewer.get("/"); strings.Contains(page, `href="/team"`) || strings.Contains(page, `href="/activity"`) {
		t.Fatal("the viewer's page has the Team card")
	}
	if team := viewer.get("/team"); !strings.Contains(team, "vera@globex.example") || strings.Contains(team, "<form") && strings.Contains(team, "/team/invite") {
		t.Fatalf("the viewer's team page:\n%s", team)
	}
	if st, _ := viewer.post("/team/invite", url.Values{"email": {"eve@globex.example"}, "role": {"owner"}}); st != 403 {
		t.Fatalf("the viewer's forged invitation: %d", st)
	}
	if st := viewer.status("/activity"); st != 403 {
		t.Fatalf("the viewer's activity: %d", st)
	}
	if list, _ := h.store.Members(context.Background(), ps.t.ID, "acc_7Hq2LmX9"); len(list) != 1 || smtp.Pending() != 0 {
		t.Fatalf("the forged invitation changed something: %+v", list)
	}

	invite(holder, "otto@globex.example", "owner")
	owner := holder.signInAs(smtp, "otto@globex.example")
	list, _ := h.store.Members(context.Background(), ps.t.ID, "acc_7Hq2LmX9")
	var vid string
	for _, m := range list {
		if m.Email == "vera@globex.example" {
			vid = m.ID
		}
	}
	r := h.do("POST", owner.host, "/team/"+vid+"/role", []byte(url.Values{"role": {"billing"}, "csrf": {owner.csrf}}.Encode()), "Cookie", owner.cookie,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+owner.host)
	if r.StatusCode() != 303 {
		t.Fatalf("change of role: %d %s", r.StatusCode(), r.Body())
	}
	if viewer.status("/invoices/inv_2026_0007") != 200 {
		t.Fatal("a raised role ended the session")
	}
	if confirm := owner.get("/team/" + vid + "/remove"); !strings.Contains(confirm, "vera@globex.example will no longer be able to sign in") {
		t.Fatalf("the confirm page:\n%s", confirm)
	}
	r = h.do("POST", owner.host, "/team/"+vid+"/remove", []byte(url.Values{"csrf": {owner.csrf}}.Encode()), "Cookie", owner.cookie,
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+owner.host)
	if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/team?done=removed" {
		t.Fatalf("remove: %d %s", r.StatusCode(), r.Body())
	}
	etcdtest.Wait(t, "the removed member's session refused", func() bool { return viewer.status("/invoices/inv_2026_0007") == 401 })

	// Addresses the tenant's own changes came from, as the trail keeps them.
	for _, ip := range []string{"203.0.113.77", "2001:db8:1:2::5"} {
		if _, _, _, err := h.store.UpsertMember(context.Background(), ps.t.ID, "acc_7Hq2LmX9", "ip"+strings.ReplaceAll(ip, ":", "")+"@globex.example", "viewer",
			tenants.MemberChange{By: "cli", IP: ip, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	act := owner.get("/activity")
	for _, want := range []string{"vera@globex.example", "otto@globex.example", "Signed in by email", "Colleague invited", "Role changed", "Colleague removed", "Account holder", "203.0.113.x", "2001:db8:1::/48", "Tenant TEAM-PAGES"} {
		if !strings.Contains(act, want) {
			t.Errorf("the activity lacks %q", want)
		}
	}
	if strings.Contains(act, "203.0.113.77") || strings.Contains(act, "2001:db8:1:2::5") {
		t.Errorf("the activity shows a full address:\n%s", act)
	}

	// 200 entries a page, the older ones behind a link.
	base := time.Now().Add(-time.Hour)
	for i := range 210 {
		if err := h.store.RecordAudit(context.Background(), ps.t.ID, tenants.TenantTrail("acc_7Hq2LmX9"),
			tenants.AuditEntry{Type: tenants.AuditRevoked, By: "cli", At: base.Add(-time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	act = owner.get("/activity")
	older := regexp.MustCompile(`href="/activity\?before=([0-9]+)"`).FindStringSubmatch(act)
	if n := strings.Count(act, "<tr><th scope=\"row\">"); n != 200 || older == nil {
		t.Fatalf("the first page has %d entries, older link %v", n, older)
	}
	act = owner.get("/activity?before=" + older[1])
	if n := strings.Count(act, "<tr><th scope=\"row\">"); n == 0 || n >= 200 || strings.Contains(act, "?before=") {
		t.Fatalf("the older page has %d entries:\n%s", n, act)
	}
}

// TestSignInChooserMember: an email that is one account's billing email and another's viewer
// chooses between the two, each named with its role; the member's entry opens a viewer session.
// An email that is both the billing email and a member of one account opens it as the holder.
func TestSignInChooserMember(t *testing.T) {
	t.Parallel()
	h, ps, _, smtp := teamPortal(t, "chooser-member", nil)
	h.putAccountAs(ps.key, "acc_labs", `{"id":"acc_labs","name":"Globex Labs","email":"labs@globex.example","currency":"EUR"}`, 201)
	m, _, _, err := h.store.UpsertMember(context.Background(), ps.t.ID, "acc_labs", "billing@globex.example", tenants.RoleViewer, tenants.MemberChange{By: "cli", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, _, cookie, nonce := h.askEmail(ps.host, "billing@globex.example")
	_, code, _ := signInMail(t, smtp)
	r := h.do("POST", ps.host, "/sign-in/code", []byte(url.Values{"confirm": {nonce}, "email": {"billing@globex.example"}, "code": {code}}.Encode()),
		"Cookie", cookie, "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://"+ps.host)
	choice, ok := cookies(r)["__Host-portico_signin"]
	if r.StatusCode() != 303 || !ok {
		t.Fatalf("sign-in of an account and a membership: %d", r.StatusCode())
	}
	cookie += "; " + strings.SplitN(choice, ";", 2)[0]
	page := string(h.do("GET", ps.host, "/sign-in/choose", nil, "Cookie", cookie).Body())
	for _, want := range []string{"Open Globex Corporation", "Open Globex Labs", `value="acc_7Hq2LmX9"`, `value="acc_labs/` + m.ID + `"`, "Owner", "Viewer"} {
		if !strings.Contains(page, want) {
			t.Fatalf("chooser lacks %q:\n%s", want, page)
		}
	}
	st, _, session := h.post(ps.host, "/sign-in/choose", cookie, url.Values{"confirm": {nonce}, "account": {"acc_labs/" + m.ID}})
	if st != 303 || session == "" {
		t.Fatalf("choice: %d", st)
	}
	labs := &portalSession{h: h, t: ps.t, key: ps.key, host: ps.host, cookie: session}
	if p := labs.get("/"); !strings.Contains(p, "Globex Labs") || strings.Contains(p, `href="/team"`) {
		t.Fatalf("the member's session:\n%s", p)
	}
	if e := findAudit(t, h, ps.t.ID, "acc_labs", AuditSignedInByEmail); e == nil || e.Member != "billing@globex.example" {
		t.Fatalf("the member's sign-in entry: %+v", e)
	}

	// A member whose email becomes the account's billing email: the holder's entry opens it, as
	// an owner.
	if _, _, _, err := h.store.UpsertMember(context.Background(), ps.t.ID, "acc_labs", "later@globex.example", tenants.RoleViewer, tenants.MemberChange{By: "cli", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.putAccountAs(ps.key, "acc_labs", `{"id":"acc_labs","name":"Globex Labs","email":"later@globex.example","currency":"EUR"}`, 200)
	holder := ps.signInAs(smtp, "later@globex.example")
	if p := holder.get("/"); !strings.Contains(p, "Globex Labs") || !strings.Contains(p, `href="/activity"`) {
		t.Fatalf("the holder who is also a member:\n%s", p)
	}
}

// TestMemberPageZeroAllocs: a member's GET / (the member revocation checked beside the session's
// and the account's) allocates nothing, with another member's revocation in the set.
func TestMemberPageZeroAllocs(t *testing.T) {
	if race.Enabled {
		t.Skip("allocation counts are meaningless under -race; `make test` runs this test without it")
	}
	h, ps, _, smtp := teamPortal(t, "member-alloc", nil)
	gone := ps.invite("gone@globex.example", tenants.RoleViewer)
	if err := h.store.RemoveMember(context.Background(), ps.t.ID, "acc_7Hq2LmX9", gone.ID, tenants.MemberChange{By: "cli", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the removal watched", func() bool { return h.store.MemberRevokedAt(ps.t.ID+"/acc_7Hq2LmX9/"+gone.ID) != 0 })
	ps.invite("vera@globex.example", tenants.RoleViewer)
	vera := ps.signInAs(smtp, "vera@globex.example")
	var req fasthttp.Request
	req.SetRequestURI("/")
	req.Header.SetHost(ps.host)
	req.Header.Set("Cookie", vera.cookie)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, nil, nil)
	h.settle()
	h.gw.Handler(&ctx)
	h.store.Wait()
	allocs := testing.AllocsPerRun(1000, func() {
		ctx.Response.Reset()
		h.gw.Handler(&ctx)
	})
	if body := string(ctx.Response.Body()); ctx.Response.StatusCode() != 200 || !strings.Contains(body, "Globex") || strings.Contains(body, `href="/pay/`) {
		t.Fatalf("status %d, not the viewer's page", ctx.Response.StatusCode())
	}
	if allocs != 0 {
		t.Fatalf("a member's GET / allocates %v times per request, want 0", allocs)
	}
}
