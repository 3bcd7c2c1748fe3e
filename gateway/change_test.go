package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants/account"
)

// Changing a subscription's plan or seats from the portal (section plan_overview's change
// pages), with and without a tenant backend.

const sub = "sub_Pro_01"

// changeCatalog stores Starter, Team and Business monthly in EUR in family "main" (Team with
// 1–50 seats, Business with 5–200 at €7.00, 10 by default), an archived Legacy and a USD plan in the same family, and Solo in another family;
// the policy: upgrades now, downgrades at the period end, seats now. The account's subscription
// is on Team with 5 seats for the current month.
func changeCatalog(t *testing.T, ps *portalSession) {
	t.Helper()
	h := ps.h
	put := func(path, body string) {
		t.Helper()
		r := h.do("PUT", "api."+base, path, []byte(body), "Authorization", "Bearer "+ps.key)
		if r.StatusCode() != 200 && r.StatusCode() != 201 {
			t.Fatalf("PUT %s: %d %s", path, r.StatusCode(), r.Body())
		}
	}
	plan := func(id, name, cur, family string, items string) {
		put("/v1/plans/"+id, `{"name":"`+name+`","currency":"`+cur+`","interval":"month","family":"`+family+`","features":["`+name+` feature"],"items":[`+items+`]}`)
	}
	plan("starter", "Starter", "EUR", "main", `{"product":"Starter","pricingModel":"flat","quantity":1,"unitAmount":900}`)
	plan("team", "Team", "EUR", "main", `{"product":"Team","pricingModel":"flat","quantity":1,"unitAmount":2900},
		{"product":"Seats","pricingModel":"per_unit","quantity":5,"unitAmount":1000,"minQuantity":1,"maxQuantity":50}`)
	plan("business", "Business", "EUR", "main", `{"product":"Business","pricingModel":"flat","quantity":1,"unitAmount":9900},
		{"product":"Seats","pricingModel":"per_unit","quantity":10,"unitAmount":700,"minQuantity":5,"maxQuantity":200}`)
	plan("legacy", "Legacy", "EUR", "main", `{"product":"Legacy","pricingModel":"flat","quantity":1,"unitAmount":500}`)
	plan("usd", "Dollar", "USD", "main", `{"product":"Dollar","pricingModel":"flat","quantity":1,"unitAmount":5000}`)
	plan("solo", "Solo", "EUR", "other", `{"product":"Solo","pricingModel":"flat","quantity":1,"unitAmount":300}`)
	if r := h.do("DELETE", "api."+base, "/v1/plans/legacy", nil, "Authorization", "Bearer "+ps.key); r.StatusCode() != 200 {
		t.Fatalf("archive: %d", r.StatusCode())
	}
	put("/v1/plan-policy", `{"upgrades":"now","downgrades":"period_end","seats":"now"}`)
	put("/v1/accounts/acc_7Hq2LmX9", teamDoc(t, ps.h.gw.cfg.Now(), nil))
}

// teamDoc is the example account with its subscription on Team (5 seats) for the current month
// of now, changed by edit.
func teamDoc(t testing.TB, now time.Time, edit func(s *account.Subscription)) string {
	t.Helper()
	return exampleDoc(t, func(a *account.Account) {
		onTeam(a.Subscription(sub), now)
		if edit != nil {
			edit(a.Subscription(sub))
		}
	})
}

// onTeam puts s on Team (5 seats) for the current month of now.
func onTeam(s *account.Subscription, now time.Time) {
	y, m, _ := now.UTC().Date()
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	s.PlanID, s.Name = "team", "Team"
	s.CurrentPeriodStart = account.Date(first.Format(time.DateOnly))
	s.CurrentPeriodEnd = account.Date(first.AddDate(0, 1, -1).Format(time.DateOnly))
	s.NextChargeDate = account.Date(first.AddDate(0, 1, 0).Format(time.DateOnly))
	s.EstimatedNextCharge = nil
	p29, p10 := int64(2900), int64(1000)
	s.Items = []account.Item{{Product: "Team", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: &p29},
		{Product: "Seats", PricingModel: account.PricingPerUnit, Quantity: 5, UnitAmount: &p10}}
}

// expectedPreview is Portico's own preview of the change, as the page must show it.
func expectedPreview(t *testing.T, ps *portalSession, target string, seats int64) *catalog.Preview {
	t.Helper()
	snap, err := ps.h.store.Catalog(context.Background(), ps.t.ID)
	if err != nil {
		t.Fatal(err)
	}
	a := ps.account()
	cur, _ := snap.Plan("team")
	c := catalog.Change{Subscription: a.Subscription(sub), Currency: "EUR", Current: cur.Plan,
		Date: account.Date(ps.h.gw.cfg.Now().UTC().Format(time.DateOnly))}
	if target != "" {
		tp, _ := snap.Plan(target)
		c.Target = tp.Plan
	} else {
		c.Seats = &catalog.Seats{Item: 1, Quantity: seats}
	}
	p, err := c.Preview(&snap.Policy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var changeHiddenRE = regexp.MustCompile(`<input type="hidden" name="(rev|due|effective|plan|item|quantity)" value="([^"]*)">`)

// changeForm opens a preview page and returns its confirmation form and the page.
func (ps *portalSession) changeForm(path string) (url.Values, string) {
	ps.h.t.Helper()
	page := ps.get(path)
	form := url.Values{}
	for _, m := range changeHiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	if form.Get("rev") == "" || form.Get("effective") == "" {
		ps.h.t.Fatalf("preview page lacks its hidden fields:\n%s", page)
	}
	return form, page
}

// checkPreviewShown checks that the page shows each of the preview's amounts and dates.
func checkPreviewShown(t *testing.T, page string, p *catalog.Preview, loc string) {
	t.Helper()
	money := func(n int64) string { return i18n.Money(n, p.Currency, loc) }
	want := []string{money(p.AmountDue), money(p.Next.Amount), i18n.Date(p.EffectiveDate.Civil(), loc), i18n.Date(p.Next.Date.Civil(), loc)}
	for _, l := range p.CreditLines {
		want = append(want, money(-l.Amount))
	}
	for _, l := range p.ChargeLines {
		want = append(want, money(l.Amount))
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("preview page lacks %q:\n%s", w, page)
		}
	}
}

func TestChangePlanWithoutBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("change-nobe", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	changeCatalog(t, ps)
	page := ps.get("/")
	if !strings.Contains(page, `href="/subscriptions/sub_Pro_01/change">Change plan</a>`) || !strings.Contains(page, `href="/subscriptions/sub_Pro_01/seats">Change seats</a>`) {
		t.Fatalf("overview lacks the change buttons:\n%s", page)
	}
	choose := ps.get("/subscriptions/sub_Pro_01/change")
	// Business with the 5 seats carried: €99.00 + 5 × €7.00 (not its default 10).
	for _, w := range []string{"Starter", "€9.00 per month", "Business", "€134.00 per month", "Business feature", "Current plan",
		`href="/subscriptions/sub_Pro_01/change/preview?plan=business"`, `href="/subscriptions/sub_Pro_01/change/preview?plan=starter"`} {
		if !strings.Contains(choose, w) {
			t.Errorf("plans page lacks %q", w)
		}
	}
	for _, bad := range []string{"Legacy", "Dollar", "Solo", "plan=team"} {
		if strings.Contains(choose, bad) {
			t.Errorf("plans page offers %q:\n%s", bad, choose)
		}
	}
	// Upgrade to Business: now, prorated.
	want := expectedPreview(t, ps, "business", 0)
	form, preview := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
	checkPreviewShown(t, preview, want, "en")
	if want.Timing != catalog.Now || !strings.Contains(preview, "Change to Business") {
		t.Fatalf("timing %s; page:\n%s", want.Timing, preview)
	}
	// Confirm twice (a double click): one pending change, one event.
	for range 2 {
		st, body, loc := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host)
		if st != 303 || loc != "/" {
			t.Fatalf("confirm: %d %q\n%s", st, loc, body)
		}
	}
	pc := ps.account().Subscription(sub).PendingChange
	if pc == nil || pc.PlanID != "business" || pc.PlanName != "Business" || pc.EffectiveDate != want.EffectiveDate || pc.Item != nil ||
		!equalJSON(t, pc.Quantities, []account.ItemQuantity{{Product: "Seats", Quantity: 5}}) {
		t.Fatalf("pending change %+v", pc)
	}
	evs := ps.events("subscription.change_requested")
	if len(evs) != 1 || evs[0]["planId"] != "business" || evs[0]["subscriptionId"] != sub || evs[0]["amountDue"] != float64(want.AmountDue) || evs[0]["sessionId"] != ps.id {
		t.Fatalf("events %v", evs)
	}
	page = ps.get("/")
	if !strings.Contains(page, "Change to Business on "+i18n.Date(want.EffectiveDate.Civil(), "en")+" requested") || strings.Contains(page, "/change\">Change plan") {
		t.Fatalf("overview does not show the pending change:\n%s", page)
	}
	// The tenant carries it out: the pending state goes.
	ps.putAccount(teamDoc(t, h.gw.cfg.Now(), func(s *account.Subscription) { s.PlanID, s.Name = "business", "Business" }))
	etcdtest.Wait(t, "the overview shows no pending change", func() bool { return !strings.Contains(ps.get("/"), "requested") })
}

// TestChangePlanCarriesSeats: a move to Business keeps the seats the customer has (8, not
// Business's 10), raised to Business's least (5) from 3: the chooser's price, the preview (its
// facts and lines), the pending change and its event all have them.
func TestChangePlanCarriesSeats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, c := range []struct {
		seats, carried int64
		price          string
	}{{8, 8, "€155.00 per month"}, {3, 5, "€134.00 per month"}} {
		ps := h.customer(fmt.Sprintf("carry-%d", c.seats), `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		changeCatalog(t, ps)
		ps.putAccount(teamDoc(t, h.gw.cfg.Now(), func(s *account.Subscription) { s.Items[1].Quantity = c.seats }))
		if choose := ps.get("/subscriptions/sub_Pro_01/change"); !strings.Contains(choose, c.price) {
			t.Errorf("%d seats: the plans page lacks Business at %q:\n%s", c.seats, c.price, choose)
		}
		want := expectedPreview(t, ps, "business", 0)
		if len(want.ChargeLines) != 2 || want.ChargeLines[1].Quantity != c.carried || want.Next.Lines[1].Quantity != c.carried {
			t.Fatalf("%d seats: preview %+v", c.seats, want)
		}
		form, page := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
		checkPreviewShown(t, page, want, "en")
		if w := fmt.Sprintf(`<dt>Seats on Business</dt><dd class="fact-value">%d</dd>`, c.carried); !strings.Contains(page, w) {
			t.Errorf("%d seats: the preview lacks %q:\n%s", c.seats, w, page)
		}
		if w := fmt.Sprintf("Seats × %d", c.carried); !strings.Contains(page, w) {
			t.Errorf("%d seats: the preview lacks the line %q", c.seats, w)
		}
		if st, body, _ := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host); st != 303 {
			t.Fatalf("%d seats: confirm: %d\n%s", c.seats, st, body)
		}
		carried := []account.ItemQuantity{{Product: "Seats", Quantity: c.carried}}
		if pc := ps.account().Subscription(sub).PendingChange; pc == nil || !equalJSON(t, pc.Quantities, carried) {
			t.Errorf("%d seats: pending change %+v", c.seats, pc)
		}
		if evs := ps.events("subscription.change_requested"); len(evs) != 1 || !equalJSON(t, evs[0]["quantities"], carried) {
			t.Errorf("%d seats: events %v", c.seats, evs)
		}
	}
}

func TestChangeSeatsWithoutBackendGerman(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("seats-nobe", `{"accountId":"acc_7Hq2LmX9","locale":"de"}`)
	changeCatalog(t, ps)
	form := ps.get("/subscriptions/sub_Pro_01/seats")
	for _, w := range []string{`min="1" max="50"`, `value="5"`, "Zwischen 1 und 50."} {
		if !strings.Contains(form, w) {
			t.Errorf("seats form lacks %q:\n%s", w, form)
		}
	}
	want := expectedPreview(t, ps, "", 12)
	f, page := ps.changeForm("/subscriptions/sub_Pro_01/seats/preview?item=1&quantity=12")
	checkPreviewShown(t, page, want, "de")
	if st, body, _ := ps.submit("/subscriptions/sub_Pro_01/seats", f, "https://"+ps.host); st != 303 {
		t.Fatalf("confirm: %d\n%s", st, body)
	}
	pc := ps.account().Subscription(sub).PendingChange
	if pc == nil || pc.Item == nil || *pc.Item != 1 || *pc.Quantity != 12 || pc.PlanID != "" {
		t.Fatalf("pending change %+v", pc)
	}
	if page := ps.get("/"); !strings.Contains(page, "Änderung von Seats auf 12 am "+i18n.Date(want.EffectiveDate.Civil(), "de")+" beantragt") {
		t.Fatalf("overview:\n%s", page)
	}
}

// TestChangeRefusals: a forged plan, a plan of another family, an archived plan, one in another
// currency, seats outside the limits, a stale revision, another origin, a session without the
// permission: nothing changes, no event.
func TestChangeRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("change-refuse", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	changeCatalog(t, ps)
	form, _ := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
	seats, _ := ps.changeForm("/subscriptions/sub_Pro_01/seats/preview?item=1&quantity=6")
	before := ps.account()
	for _, c := range []struct {
		name, path string
		form       url.Values
		origin     string
		status     int
		want       string
	}{
		{"forged plan", "/subscriptions/sub_Pro_01/change", with(form, "plan", "enterprise"), "", 404, "Plan not available"},
		{"another family", "/subscriptions/sub_Pro_01/change", with(form, "plan", "solo"), "", 404, "Plan not available"},
		{"archived", "/subscriptions/sub_Pro_01/change", with(form, "plan", "legacy"), "", 404, "Plan not available"},
		{"another currency", "/subscriptions/sub_Pro_01/change", with(form, "plan", "usd"), "", 404, "Plan not available"},
		{"current plan", "/subscriptions/sub_Pro_01/change", with(form, "plan", "team"), "", 404, "Plan not available"},
		{"stale revision", "/subscriptions/sub_Pro_01/change", with(form, "rev", "1"), "", 409, "The amounts changed since this page was shown"},
		{"other amount", "/subscriptions/sub_Pro_01/change", with(form, "due", "1"), "", 409, `href="#preview-numbers"`},
		{"another subscription", "/subscriptions/sub_other/change", form, "", 404, "Subscription not found"},
		{"other origin", "/subscriptions/sub_Pro_01/change", form, "https://evil.example", 403, ""},
		{"no seats", "/subscriptions/sub_Pro_01/seats", with(seats, "quantity", "0"), "", 422, "Enter a whole number from 1 to 50."},
		{"too many seats", "/subscriptions/sub_Pro_01/seats", with(seats, "quantity", "51"), "", 422, `href="#quantity-1"`},
		{"not a number", "/subscriptions/sub_Pro_01/seats", with(seats, "quantity", "ten"), "", 422, `aria-invalid="true"`},
		{"same seats", "/subscriptions/sub_Pro_01/seats", with(seats, "quantity", "5"), "", 422, "You have 5 already."},
		{"flat item", "/subscriptions/sub_Pro_01/seats", with(seats, "quantity", "3", "item", "0"), "", 404, "No seats to change"},
	} {
		origin := c.origin
		if origin == "" {
			origin = "https://" + ps.host
		}
		st, body, _ := ps.submit(c.path, c.form, origin)
		if st != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d, want %d with %q\n%s", c.name, st, c.status, c.want, body)
		}
	}
	for _, q := range []string{"?plan=solo", "?plan=legacy", "?plan=nope"} {
		if r := h.do("GET", ps.host, "/subscriptions/sub_Pro_01/change/preview"+q, nil, "Cookie", ps.cookie); r.StatusCode() != 404 {
			t.Errorf("preview %s: %d", q, r.StatusCode())
		}
	}
	if r := h.do("GET", ps.host, "/subscriptions/sub_Pro_01/seats/preview?item=1&quantity=99", nil, "Cookie", ps.cookie); r.StatusCode() != 422 {
		t.Errorf("seats preview out of limits: %d", r.StatusCode())
	}
	if !equalJSON(t, before, ps.account()) || len(ps.events("subscription.change_requested")) != 0 {
		t.Fatal("a refused change changed the account or emitted an event")
	}
	// A session without the permissions: no buttons, 403 for the pages and the posts.
	other := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","planOverviewSettings":{"allowPlanChange":false,"allowQuantityChange":false}}`)
	if page := ps.pageOf(other, "/"); !strings.Contains(page, "Team") || strings.Contains(page, "/change\"") || strings.Contains(page, "/seats\"") {
		t.Error("a session without the permissions shows change buttons, or not the subscription")
	}
	for _, p := range []string{"/subscriptions/sub_Pro_01/change", "/subscriptions/sub_Pro_01/seats", "/subscriptions/sub_Pro_01/change/preview?plan=business"} {
		if r := h.do("GET", ps.host, p, nil, "Cookie", other); r.StatusCode() != 403 {
			t.Errorf("GET %s without permission: %d", p, r.StatusCode())
		}
	}
}

func TestChangeThroughBackend(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		answer  backendAnswer
		status  int
		want    string
		event   string
		changed bool
	}{
		{"succeeded", answerSucceeded("Welcome to Business!", func(d map[string]any) string {
			return teamDoc(t, time.Now(), func(s *account.Subscription) { s.PlanID, s.Name = str(d, "planId"), "Business" })
		}), 200, "Welcome to Business!", "subscription.change_succeeded", true},
		{"declined", answerJSON(`{"result":"declined","message":"Business needs a signed contract."}`), 200, "Business needs a signed contract.", "subscription.change_failed", false},
		{"pending", answerJSON(`{"result":"pending"}`), 200, "Change in progress", "", false},
		{"500", answerStatus(500), 502, "The billing service failed", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, ps, b := backendPortal(t, "chg-"+c.name, "en", map[string]backendAnswer{backend.TypeSubscriptionChange: c.answer})
			changeCatalog(t, ps)
			want := expectedPreview(t, ps, "business", 0)
			form, page := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
			checkPreviewShown(t, page, want, "en") // the backend gave no preview: Portico's own
			st, body, _ := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host)
			if st != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("confirm: %d, want %d with %q\n%s", st, c.status, c.want, body)
			}
			if n := b.count(backend.TypeSubscriptionChange); n != 1 {
				t.Fatalf("subscription.change calls: %d", n)
			}
			key, data := b.lastOf(backend.TypeSubscriptionChange)
			pv, _ := data["preview"].(map[string]any)
			if data["planId"] != "business" || data["subscriptionId"] != sub || !strings.HasPrefix(key, "chg_") || pv["amountDue"] != float64(want.AmountDue) ||
				!equalJSON(t, data["quantities"], []map[string]any{{"product": "Seats", "quantity": 5}}) {
				t.Fatalf("request data %v key %q", data, key)
			}
			if got := ps.account().Subscription(sub).PlanID == "business"; got != c.changed {
				t.Fatalf("stored plan changed = %v, want %v", got, c.changed)
			}
			for _, typ := range []string{"subscription.change_succeeded", "subscription.change_failed"} {
				if n := len(ps.events(typ)); n != map[bool]int{true: 1, false: 0}[typ == c.event] {
					t.Errorf("%s events: %d", typ, n)
				}
			}
			if ps.account().Subscription(sub).PendingChange != nil {
				t.Error("a change through the backend was recorded as pending")
			}
		})
	}
}

// TestChangeBackendFailures: a backend that answers subscription.change with requires_action
// (the customer is sent to its page and back to the overview through a sealed return URL), does
// not answer in time, or answers what cannot be used (a document that is not valid, another
// account's, no JSON): the customer sees the page of each, the attempt is in the session's audit
// trail, and nothing is half-written (the account as it was, no pending change, no event).
func TestChangeBackendFailures(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		answer  backendAnswer
		timeout time.Duration
		status  int
		want    []string
		audit   string
	}{
		{name: "requires action", answer: answerJSON(`{"result":"requires_action","redirectUrl":"https://bank.example/mandate?c=7"}`),
			status: 303, audit: "subscription.change_requires_action"},
		{name: "timeout", answer: func(http.ResponseWriter, map[string]any) { time.Sleep(1500 * time.Millisecond) }, timeout: time.Second,
			status: 504, want: []string{"The billing service did not answer", "Nothing was changed here. Tenant CHG-FAIL-TIMEOUT may still carry out the change of Team"},
			audit: "subscription.change_error"},
		{name: "invalid document", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_7Hq2LmX9","name":"X","currency":"EURO"}}`),
			status: 502, want: []string{"The change could not be recorded", "its updated billing data was not valid"}, audit: "subscription.change_error"},
		{name: "another account", answer: answerJSON(`{"result":"succeeded","account":{"id":"acc_other","name":"X","currency":"EUR"}}`),
			status: 502, want: []string{"The change could not be recorded"}, audit: "subscription.change_error"},
		{name: "invalid JSON", answer: answerJSON(`{"result":`),
			status: 502, want: []string{"The billing service failed", "Nothing was changed here."}, audit: "subscription.change_error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.withBackend(c.timeout, false)
			b := newTenantBackend(t, map[string]backendAnswer{backend.TypeSubscriptionChange: c.answer})
			ps := h.customer("chg-fail-"+strings.ToLower(strings.ReplaceAll(c.name, " ", "-")), `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
			registerBackend(t, h, ps.t.ID, b.srv.URL)
			changeCatalog(t, ps)
			before := ps.account()
			form, _ := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
			st, body, loc := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host)
			if st != c.status {
				t.Fatalf("confirm: %d, want %d\n%s", st, c.status, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("result lacks %q:\n%s", w, body)
				}
			}
			if c.status == 303 {
				u, err := url.Parse(loc)
				if err != nil || u.Host != "bank.example" || u.Query().Get("c") != "7" {
					t.Fatalf("redirect to %q", loc)
				}
				ret, err := url.Parse(u.Query().Get("return_url"))
				if err != nil || ret.Host != ps.host || ret.Path != "/subscriptions/sub_Pro_01/change/return" {
					t.Fatalf("return_url %q", u.Query().Get("return_url"))
				}
				// Back from the backend's page: the overview, the change not made (yet).
				r := h.do("GET", ps.host, ret.RequestURI(), nil, "Cookie", ps.cookie)
				if r.StatusCode() != 303 || string(r.Header.Peek("Location")) != "/" {
					t.Errorf("return: %d to %q", r.StatusCode(), r.Header.Peek("Location"))
				}
				if r := h.do("GET", ps.host, "/subscriptions/sub_Pro_01/change/return?r=AAAA", nil, "Cookie", ps.cookie); r.StatusCode() != 400 {
					t.Errorf("forged return: %d", r.StatusCode())
				}
				if d := auditDetail(t, h, ps.t.ID, "acc_7Hq2LmX9", c.audit); d["result"] != "requires_action" ||
					d["redirectUrl"] != "https://bank.example/mandate?c=7" || d["planId"] != "business" || d["subscriptionId"] != sub {
					t.Errorf("audit entry %s: %v", c.audit, d)
				}
			}
			if n := b.count(backend.TypeSubscriptionChange); n != 1 {
				t.Errorf("subscription.change calls: %d", n)
			}
			wantAudit(t, h, ps.t.ID, "acc_7Hq2LmX9", c.audit)
			after := ps.account()
			if !equalJSON(t, before, after) || after.Subscription(sub).PendingChange != nil {
				t.Errorf("the account changed:\n%+v", after.Subscription(sub))
			}
			for _, typ := range []string{"subscription.change_succeeded", "subscription.change_failed", "subscription.change_requested"} {
				if n := len(ps.events(typ)); n != 0 {
					t.Errorf("%s events: %d", typ, n)
				}
			}
			if page := ps.get("/"); !strings.Contains(page, `href="/subscriptions/sub_Pro_01/change">Change plan</a>`) || strings.Contains(page, "requested") {
				t.Errorf("the overview does not offer the change again:\n%s", page)
			}
		})
	}
}

// TestChangeResultSays: the page after a change the backend carried out says what the
// subscription is on and from when, in the customer's language and date format: a move now with
// the seats carried, a downgrade at the period end, a seat change.
func TestChangeResultSays(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	y, m, _ := now.Date()
	today := i18n.DateOf(now)
	next := i18n.DateOf(time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		loc, path, preview, want string
		date                     i18n.CivilDate
	}{
		{"en", "/subscriptions/sub_Pro_01/change", "/subscriptions/sub_Pro_01/change/preview?plan=business", "You are on Business with 5 Seats from %s.", today},
		{"de", "/subscriptions/sub_Pro_01/change", "/subscriptions/sub_Pro_01/change/preview?plan=starter", "Sie nutzen Starter ab dem %s.", next},
		{"fr", "/subscriptions/sub_Pro_01/seats", "/subscriptions/sub_Pro_01/seats/preview?item=1&quantity=12", "Vous disposez de 12 Seats sur l’offre Team à compter du %s.", today},
		{"ja", "/subscriptions/sub_Pro_01/change", "/subscriptions/sub_Pro_01/change/preview?plan=business", "%sからBusiness（Seats 5）をご利用いただけます。", today},
	} {
		t.Run(c.loc, func(t *testing.T) {
			t.Parallel()
			_, ps, _ := backendPortal(t, "chg-says-"+strings.ToLower(c.loc), c.loc, map[string]backendAnswer{
				backend.TypeSubscriptionChange: answerSucceeded("", func(map[string]any) string { return teamDoc(t, time.Now(), nil) })})
			changeCatalog(t, ps)
			form, _ := ps.changeForm(c.preview)
			want := fmt.Sprintf(c.want, i18n.Date(c.date, c.loc))
			if st, body, _ := ps.submit(c.path, form, "https://"+ps.host); st != 200 || !strings.Contains(body, want) {
				t.Fatalf("confirm: %d, want %q\n%s", st, want, body)
			}
		})
	}
}

// TestChangeBackendPreview: a backend's preview is shown as given, and its confirmation sends it
// back (an invalid one: TestChangeBackendPreviewInvalid).
func TestChangeBackendPreview(t *testing.T) {
	t.Parallel()
	day := account.Date(time.Now().UTC().Format(time.DateOnly))
	pv := `{"kind":"upgrade","timing":"now","currency":"EUR","date":"` + string(day) + `","effectiveDate":"` + string(day) + `",
	 "periodStart":"` + string(day) + `","periodEnd":"` + string(day) + `","periodDays":1,"remainingDays":1,"currentAmount":7900,"newAmount":9900,
	 "credit":1234,"creditLines":[{"kind":"credit","product":"Team","amount":1234}],
	 "charge":4321,"chargeLines":[{"kind":"prorated","product":"Business","amount":4321}],"amountDue":3087,"creditCarried":0,
	 "nextInvoice":{"date":"2031-01-01","lines":[{"kind":"period","product":"Business","amount":9900}],"subtotal":9900,"creditApplied":0,"creditLeft":0,"amount":9900}}`
	_, ps, b := backendPortal(t, "chg-bepv", "en", map[string]backendAnswer{
		backend.TypeSubscriptionPreview: answerJSON(`{"result":"succeeded","preview":` + pv + `}`),
		backend.TypeSubscriptionChange:  answerJSON(`{"result":"pending"}`),
	})
	changeCatalog(t, ps)
	form, page := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
	for _, w := range []string{"-€12.34", "€43.21", "€30.87", "Jan 1, 2031", "Amounts as calculated by Tenant CHG-BEPV, before tax.", `name="due" value="3087"`} {
		if !strings.Contains(page, w) {
			t.Errorf("preview lacks %q:\n%s", w, page)
		}
	}
	ps.get("/subscriptions/sub_Pro_01/change/preview?plan=business") // a reload: the answer is kept
	if st, body, _ := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host); st != 200 || !strings.Contains(body, "Change in progress") {
		t.Fatalf("confirm: %d\n%s", st, body)
	}
	_, data := b.lastOf(backend.TypeSubscriptionChange)
	if p, _ := data["preview"].(map[string]any); p["amountDue"] != float64(3087) || p["charge"] != float64(4321) {
		t.Errorf("the change did not carry the backend's preview: %v", data)
	}
	if n := b.count(backend.TypeSubscriptionPreview); n != 1 {
		t.Errorf("subscription.preview calls: %d, want 1 (reload and confirm reuse the answer)", n)
	}
}

// TestChangeBackendPreviewInvalid: a backend's preview that does not add up is not shown; the
// page shows Portico's own, and says nothing of the backend's amounts.
func TestChangeBackendPreviewInvalid(t *testing.T) {
	t.Parallel()
	day := string(time.Now().UTC().Format(time.DateOnly))
	pv := `{"kind":"upgrade","timing":"now","currency":"EUR","date":"` + day + `","effectiveDate":"` + day + `",
	 "periodStart":"` + day + `","periodEnd":"` + day + `","periodDays":1,"remainingDays":1,"currentAmount":7900,"newAmount":9900,
	 "credit":1234,"creditLines":[{"kind":"credit","product":"Team","amount":1234}],
	 "charge":4321,"chargeLines":[{"kind":"prorated","product":"Business","amount":4321}],"amountDue":9999,"creditCarried":0,
	 "nextInvoice":{"date":"2031-01-01","lines":[{"kind":"period","product":"Business","amount":9900}],"subtotal":9900,"creditApplied":0,"creditLeft":0,"amount":9900}}`
	_, ps, b := backendPortal(t, "chg-badpv", "en", map[string]backendAnswer{
		backend.TypeSubscriptionPreview: answerJSON(`{"result":"succeeded","preview":` + pv + `}`)})
	changeCatalog(t, ps)
	want := expectedPreview(t, ps, "business", 0)
	_, page := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
	checkPreviewShown(t, page, want, "en")
	if strings.Contains(page, "Amounts as calculated by") || strings.Contains(page, "€99.99") || b.count(backend.TypeSubscriptionPreview) != 1 {
		t.Errorf("the backend's invalid preview (asked %d times) is shown:\n%s", b.count(backend.TypeSubscriptionPreview), page)
	}
}

// TestChangeConcurrentConfirms: 12 confirms of one change through two gateway instances (double
// clicks, reloads, two tabs) reach the backend once.
func TestChangeConcurrentConfirms(t *testing.T) {
	t.Parallel()
	r := newTwoInstances(t, "chg-twice", backend.TypeSubscriptionChange, answerSucceeded("", func(d map[string]any) string {
		return teamDoc(t, time.Now(), func(s *account.Subscription) { s.PlanID = str(d, "planId") })
	}))
	ps := r.ps
	changeCatalog(t, ps)
	form, _ := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
	statuses, bodies := r.confirm(t, "/subscriptions/sub_Pro_01/change", form, 12)
	for i := range statuses {
		if statuses[i] != 200 || !strings.Contains(bodies[i], "Subscription changed") {
			t.Errorf("confirm %d: %d\n%s", i, statuses[i], bodies[i])
		}
	}
	if c := r.be.count(backend.TypeSubscriptionChange); c != 1 {
		t.Fatalf("subscription.change calls = %d, want 1", c)
	}
	if c := len(ps.events("subscription.change_succeeded")); c != 1 {
		t.Fatalf("change_succeeded events = %d, want 1", c)
	}
	// A later reload of the confirmation shows the change made, and calls nothing.
	made := "You are on Business with 5 Seats from " + i18n.Date(account.Date(form.Get("effective")).Civil(), "en") + "."
	if st, body, _ := ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host); st != 200 || !strings.Contains(body, made) || r.be.count(backend.TypeSubscriptionChange) != 1 {
		t.Fatalf("reload: %d, calls %d\n%s", st, r.be.count(backend.TypeSubscriptionChange), body)
	}
}

// TestChangeDeepLinks: subscription_update lands on the plans, subscription_update_confirm with
// planId on the plan's preview; a plan not offered is refused when the session is created.
func TestChangeDeepLinks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("chg-deep", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	changeCatalog(t, ps)
	for _, c := range []struct{ body, location, page string }{
		{`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update","locale":"en"}`, "/subscriptions/sub_Pro_01/change", "Change the plan of Team"},
		{`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update_confirm","subscriptionId":"sub_Pro_01","planId":"business","locale":"en"}`,
			"/subscriptions/sub_Pro_01/change/preview?plan=business", "Change to Business"},
	} {
		st, res, raw := h.createSession(ps.key, c.body)
		if st != 201 {
			t.Fatalf("create session: %d %s", st, raw)
		}
		r := h.redeemLink(res["sessionUrl"].(string))
		if r.status != 303 || r.location != c.location {
			t.Fatalf("redeem: %d %q, want %q", r.status, r.location, c.location)
		}
		if step := h.do("GET", ps.host, c.location, nil, "Cookie", r.cookies); step.StatusCode() != 200 || !strings.Contains(string(step.Body()), c.page) {
			t.Errorf("step %s: %d, want %q", c.location, step.StatusCode(), c.page)
		}
	}
	for body, detail := range map[string]string{
		`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update_confirm","planId":"solo"}`:                          `planId "solo" is not a plan subscription "sub_Pro_01" may move to`,
		`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update_confirm","planId":"legacy"}`:                        `planId "legacy" is not a plan`,
		`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update_confirm"}`:                                          "flow subscription_update_confirm needs planId",
		`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update","planOverviewSettings":{"allowPlanChange":false}}`: "needs planOverviewSettings.allowPlanChange",
		`{"accountId":"acc_7Hq2LmX9","flow":"subscription_update","subscriptionId":"sub_nope"}`:                      `subscriptionId "sub_nope" is not a subscription of the account`,
	} {
		st, res, raw := h.createSession(ps.key, body)
		if d, _ := res["detail"].(string); st != 400 || !strings.Contains(d, detail) {
			t.Errorf("%s: %d %s, want 400 with %q", body, st, raw, detail)
		}
	}
}
