package gateway

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants/account"
)

// Pausing, resuming and retention offers of the Plan overview over HTTP, with a real HTTP backend
// and without one.

// putPolicy stores the tenant's change policy through the API.
func (ps *portalSession) putPolicy(policy string) {
	ps.h.t.Helper()
	if r := ps.h.do("PUT", "api."+base, "/v1/plan-policy", []byte(policy), "Authorization", "Bearer "+ps.key); r.StatusCode() != 200 {
		ps.h.t.Fatalf("PUT /v1/plan-policy: %d %s", r.StatusCode(), r.Body())
	}
}

var revRE = regexp.MustCompile(`<input type="hidden" name="rev" value="(\d+)">`)

// formOf opens a page and returns its form's revision field.
func (ps *portalSession) formOf(path string) (url.Values, string) {
	ps.h.t.Helper()
	page := ps.get(path)
	m := revRE.FindStringSubmatch(page)
	if m == nil {
		ps.h.t.Fatalf("%s has no revision field:\n%s", path, page)
	}
	return url.Values{"rev": {m[1]}}, page
}

const (
	subPath     = "/subscriptions/sub_Pro_01"
	pausePolicy = `{"pause":true,"pauseMaxPeriods":3,"offers":[{"reason":"pricing","percentOff":50,"periods":2,"message":"We would hate to see you go."}]}`
)

func TestPauseAndResumeWithBackend(t *testing.T) {
	t.Parallel()
	_, ps, b := backendPortal(t, "pause-backend", "en", map[string]backendAnswer{
		backend.TypeSubscriptionPause: answerSucceeded("Enjoy the break.", func(data map[string]any) string {
			return exampleDoc(t, func(a *account.Account) {
				s := a.Subscription("sub_Pro_01")
				s.Status, s.ResumesAt, s.NextChargeDate = account.SubPaused, account.Date(str(data, "resumesAt")), ""
			})
		}),
		backend.TypeSubscriptionResume: answerSucceeded("", func(map[string]any) string { return exampleDoc(t, nil) }),
	})
	if page := ps.get("/"); strings.Contains(page, subPath+"/pause") {
		t.Fatal("Pause offered although the policy allows no pause")
	}
	ps.putPolicy(pausePolicy)
	etcdtest.Wait(t, "the overview offers Pause", func() bool { return strings.Contains(ps.get("/"), `href="`+subPath+`/pause"`) })

	form, page := ps.formOf(subPath + "/pause")
	for _, w := range []string{"Pause Pro (annual)", "until the end of the current period (Dec 31, 2026)",
		"1 billing period – billing resumes on Jan 1, 2028", "2 billing periods – billing resumes on Jan 1, 2029",
		"3 billing periods – billing resumes on Jan 1, 2030", `value="1" checked`} {
		if !strings.Contains(page, w) {
			t.Errorf("pause page lacks %q", w)
		}
	}
	if strings.Contains(page, `value="4"`) {
		t.Error("pause page offers more than the policy's 3 periods")
	}
	form.Set("periods", "2")
	st, body := ps.post(subPath+"/pause", form)
	if st != 200 || !strings.Contains(body, "Subscription paused") || !strings.Contains(body, "Billing resumes on Jan 1, 2029") || !strings.Contains(body, "Enjoy the break.") {
		t.Fatalf("pause: %d\n%s", st, body)
	}
	key, data := b.lastOf(backend.TypeSubscriptionPause)
	if !strings.HasPrefix(key, "pause_") || data["accountId"] != "acc_7Hq2LmX9" || data["subscriptionId"] != "sub_Pro_01" ||
		data["periods"] != float64(2) || data["resumesAt"] != "2029-01-01" || data["sessionId"] != ps.id {
		t.Errorf("pause request: key %q data %v", key, data)
	}
	if s := ps.account().Subscription("sub_Pro_01"); s.Status != account.SubPaused || s.ResumesAt != "2029-01-01" {
		t.Errorf("stored subscription: %+v", s)
	}
	if evs := ps.events(EventPaused); len(evs) != 1 || evs[0]["periods"] != float64(2) || evs[0]["resumesAt"] != "2029-01-01" || evs[0]["sessionId"] != ps.id {
		t.Errorf("subscription.paused events: %v", evs)
	}
	// The same confirmation again (a reload): the subscription is paused, nothing is called.
	if st, _ := ps.post(subPath+"/pause", form); st != 303 {
		t.Errorf("second pause: %d", st)
	}
	if n := b.count(backend.TypeSubscriptionPause); n != 1 {
		t.Errorf("pause calls = %d, want 1", n)
	}
	page = ps.get("/")
	if !strings.Contains(page, "Paused: billing resumes on Jan 1, 2029.") || !strings.Contains(page, `href="`+subPath+`/resume"`) || strings.Contains(page, subPath+"/pause\"") {
		t.Errorf("overview of the paused subscription:\n%s", page)
	}

	form, _ = ps.formOf(subPath + "/resume")
	st, body = ps.post(subPath+"/resume", form)
	if st != 200 || !strings.Contains(body, "Subscription resumed") || !strings.Contains(body, "Pro (annual) is active again.") {
		t.Fatalf("resume: %d\n%s", st, body)
	}
	if s := ps.account().Subscription("sub_Pro_01"); s.Status != account.SubActive {
		t.Errorf("resumed subscription: %+v", s)
	}
	if evs := ps.events(EventResumed); len(evs) != 1 {
		t.Errorf("subscription.resumed events: %v", evs)
	}
}

// Event names as the section declares them (kept here to assert the public names).
const (
	EventPaused               = "subscription.paused"
	EventResumed              = "subscription.resumed"
	EventOfferAccepted        = "subscription.offer_accepted"
	EventPauseRequested       = "subscription.pause_requested"
	EventResumeRequested      = "subscription.resume_requested"
	EventOfferAcceptRequested = "subscription.offer_accept_requested"
)

func TestPauseResultsFromBackend(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		answer backendAnswer
		status int
		want   []string
	}{
		{"declined", answerJSON(`{"result":"declined","message":"Annual plans <b>cannot</b> pause."}`), 200, []string{"Not carried out", "Annual plans &lt;b&gt;cannot&lt;/b&gt; pause.", "Nothing was changed"}},
		{"pending", answerJSON(`{"result":"pending"}`), 200, []string{"Request received", "is processing your request for Pro (annual)"}},
		{"500", answerStatus(500), 502, []string{"The billing service is not available", "Nothing was changed"}},
		{"invalid document", answerJSON(`{"result":"succeeded","account":{"id":"acc_7Hq2LmX9","name":"X","currency":"EURO"}}`), 502, []string{"Your request was received"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, ps, _ := backendPortal(t, "pause-"+strings.ReplaceAll(c.name, " ", "-"), "en", map[string]backendAnswer{anyRequest: c.answer})
			ps.putPolicy(pausePolicy)
			before := ps.account()
			form, _ := ps.formOf(subPath + "/pause")
			form.Set("periods", "1")
			st, body := ps.post(subPath+"/pause", form)
			if st != c.status {
				t.Fatalf("status %d, want %d\n%s", st, c.status, body)
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("result lacks %q:\n%s", w, body)
				}
			}
			if !equalJSON(t, before, ps.account()) {
				t.Error("the account changed")
			}
			if n := len(ps.events(EventPaused)); n != 0 {
				t.Errorf("%d subscription.paused events", n)
			}
		})
	}
}

func TestPauseConcurrentConfirms(t *testing.T) {
	t.Parallel()
	r := newTwoInstances(t, "pause-twice", backend.TypeSubscriptionPause, answerSucceeded("", func(data map[string]any) string {
		return exampleDoc(t, func(a *account.Account) {
			s := a.Subscription("sub_Pro_01")
			s.Status, s.ResumesAt = account.SubPaused, account.Date(str(data, "resumesAt"))
		})
	}))
	ps := r.ps
	ps.putPolicy(pausePolicy)
	form, _ := ps.formOf(subPath + "/pause")
	form.Set("periods", "3")
	statuses, bodies := r.confirm(t, subPath+"/pause", form, 10)
	results := 0
	for i := range statuses {
		// Each confirm shows the result, or (read after the first stored the paused document)
		// the overview.
		if statuses[i] == 200 && strings.Contains(bodies[i], "Subscription paused") {
			results++
		} else if statuses[i] != 303 {
			t.Errorf("confirm %d: %d\n%s", i, statuses[i], bodies[i])
		}
	}
	if results == 0 {
		t.Error("no confirm showed the result: the customer who paused was sent to the overview without it")
	}
	if got := r.be.count(backend.TypeSubscriptionPause); got != 1 {
		t.Fatalf("backend calls = %d, want 1", got)
	}
	if got := len(ps.events(EventPaused)); got != 1 {
		t.Fatalf("subscription.paused events = %d, want 1", got)
	}
}

func TestPauseWithoutBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("pause-pending", `{"accountId":"acc_7Hq2LmX9","locale":"de"}`)
	ps.putPolicy(pausePolicy)
	form, page := ps.formOf(subPath + "/pause")
	if !strings.Contains(page, "2 Abrechnungszeiträume – Abrechnung ab 1. Jan. 2029") {
		t.Errorf("German pause page:\n%s", page)
	}
	form.Set("periods", "2")
	if st, body := ps.post(subPath+"/pause", form); st != 303 {
		t.Fatalf("pause: %d\n%s", st, body)
	}
	// A double submit of the same form records nothing more.
	if st, _ := ps.post(subPath+"/pause", form); st != 303 {
		t.Errorf("second pause: %d", st)
	}
	s := ps.account().Subscription("sub_Pro_01")
	if r := s.PauseRequest; s.Status != account.SubActive || r == nil || r.Action != "pause" || r.Periods != 2 || r.ResumesAt != "2029-01-01" || r.RequestedAt == "" {
		t.Errorf("stored subscription: %+v %+v", s, r)
	}
	if evs := ps.events(EventPauseRequested); len(evs) != 1 || evs[0]["periods"] != float64(2) || evs[0]["resumesAt"] != "2029-01-01" {
		t.Errorf("pause_requested events: %v", evs)
	}
	page = ps.get("/")
	if !strings.Contains(page, "Pause bis 1. Jan. 2029 beantragt") || strings.Contains(page, subPath+"/pause\"") {
		t.Errorf("overview with the requested pause:\n%s", page)
	}

	// The tenant pauses it and pushes the document; the customer asks to resume.
	ps.putAccount(exampleDoc(t, func(a *account.Account) {
		s := a.Subscription("sub_Pro_01")
		s.Status, s.ResumesAt = account.SubPaused, "2029-01-01"
	}))
	form, _ = ps.formOf(subPath + "/resume")
	if st, body := ps.post(subPath+"/resume", form); st != 303 {
		t.Fatalf("resume: %d\n%s", st, body)
	}
	if r := ps.account().Subscription("sub_Pro_01").PauseRequest; r == nil || r.Action != "resume" {
		t.Errorf("resume request: %+v", r)
	}
	if evs := ps.events(EventResumeRequested); len(evs) != 1 {
		t.Errorf("resume_requested events: %v", evs)
	}
	if page := ps.get("/"); !strings.Contains(page, "Fortsetzung am") || strings.Contains(page, subPath+"/resume\"") {
		t.Errorf("overview with the requested resume:\n%s", page)
	}
}

// TestPausePlanInterval: a subscription on a catalog plan pauses for the plan's periods, counted
// from the end of its current period, even when that period is shorter than the plan's (a first
// period 15 – 31 December on the monthly Team plan: one period resumes on 1 February, not 17
// days after 1 January); the page, the stored request and its event agree.
func TestPausePlanInterval(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("pause-plan", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	changeCatalog(t, ps)
	ps.putPolicy(pausePolicy)
	ps.putAccount(teamDoc(t, h.gw.cfg.Now(), func(s *account.Subscription) {
		s.CurrentPeriodStart, s.CurrentPeriodEnd, s.NextChargeDate = "2026-12-15", "2026-12-31", "2027-01-01"
	}))
	form, page := ps.formOf(subPath + "/pause")
	for _, w := range []string{"1 billing period – billing resumes on Feb 1, 2027", "2 billing periods – billing resumes on Mar 1, 2027",
		"3 billing periods – billing resumes on Apr 1, 2027"} {
		if !strings.Contains(page, w) {
			t.Errorf("pause page lacks %q:\n%s", w, page)
		}
	}
	form.Set("periods", "2")
	if st, body := ps.post(subPath+"/pause", form); st != 303 {
		t.Fatalf("pause: %d\n%s", st, body)
	}
	if r := ps.account().Subscription("sub_Pro_01").PauseRequest; r == nil || r.ResumesAt != "2027-03-01" {
		t.Errorf("pause request: %+v", r)
	}
	if evs := ps.events(EventPauseRequested); len(evs) != 1 || evs[0]["resumesAt"] != "2027-03-01" {
		t.Errorf("pause_requested events: %v", evs)
	}
}

func TestPauseRefusals(t *testing.T) {
	t.Parallel()
	h, ps, b := backendPortal(t, "pause-refused", "en", nil)

	// The policy allows no pause: no button, the page and the post are refused.
	if r := h.do("GET", ps.host, subPath+"/pause", nil, "Cookie", ps.cookie); r.StatusCode() != 403 || !strings.Contains(string(r.Body()), "does not offer pausing") {
		t.Errorf("pause page without the policy: %d", r.StatusCode())
	}
	if st, _ := ps.post(subPath+"/pause", url.Values{"periods": {"1"}, "rev": {"1"}}); st != 403 {
		t.Errorf("pause without the policy: %d", st)
	}
	ps.putPolicy(pausePolicy)
	form, _ := ps.formOf(subPath + "/pause")
	for _, c := range []struct {
		name, periods string
		status        int
		want          string
	}{
		{"too many periods", "4", 422, "Choose a pause of 1 to 3 billing periods."},
		{"zero periods", "0", 422, "Choose a pause of 1 to 3 billing periods."},
		{"not a number", "two", 422, "Choose a pause of 1 to 3 billing periods."},
	} {
		f := url.Values{"rev": form["rev"], "periods": {c.periods}}
		st, body := ps.post(subPath+"/pause", f)
		if st != c.status || !strings.Contains(body, c.want) || !strings.Contains(body, `aria-invalid="true"`) {
			t.Errorf("%s: %d\n%s", c.name, st, body)
		}
	}
	// A form of an older revision is asked again.
	if st, body := ps.post(subPath+"/pause", url.Values{"rev": {"1"}, "periods": {"1"}}); st != 409 || !strings.Contains(body, "changed since this page was shown") {
		t.Errorf("stale revision: %d\n%s", st, body)
	}
	// Forged: no CSRF token, another origin.
	f := url.Values{"rev": form["rev"], "periods": {"1"}, "csrf": {"forged-token-forged-token-forged"}}
	if st, _, _ := ps.submit(subPath+"/pause", f, "https://"+ps.host); st != 403 {
		t.Errorf("forged token: %d", st)
	}
	f = url.Values{"rev": form["rev"], "periods": {"1"}}
	if st, _, _ := ps.submit(subPath+"/pause", f, "https://evil.example"); st != 403 {
		t.Errorf("another origin: %d", st)
	}
	// Another subscription id (another account's, or none).
	if r := h.do("GET", ps.host, "/subscriptions/sub_other/pause", nil, "Cookie", ps.cookie); r.StatusCode() != 404 {
		t.Errorf("unknown subscription: %d", r.StatusCode())
	}
	// A session without allowPause.
	off := h.customerOf(ps.key, `{"accountId":"acc_7Hq2LmX9","locale":"en","planOverviewSettings":{"allowPause":false}}`)
	if page := ps.pageOf(off, "/"); !strings.Contains(page, "Pro (annual)") || strings.Contains(page, subPath+"/pause") {
		t.Error("Pause offered to a session without allowPause, or the subscription not shown")
	}
	if r := h.do("GET", ps.host, subPath+"/pause", nil, "Cookie", off); r.StatusCode() != 403 || !strings.Contains(string(r.Body()), "Pausing subscriptions online is not available") {
		t.Errorf("pause page without allowPause: %d", r.StatusCode())
	}
	// Resume of a subscription that is not paused: the overview.
	if r := h.do("GET", ps.host, subPath+"/resume", nil, "Cookie", ps.cookie); r.StatusCode() != 303 {
		t.Errorf("resume of an active subscription: %d", r.StatusCode())
	}
	if n := b.count(backend.TypeSubscriptionPause) + b.count(backend.TypeSubscriptionResume); n != 0 {
		t.Errorf("backend called %d times", n)
	}
	if s := ps.account().Subscription("sub_Pro_01"); s.Status != account.SubActive || s.PauseRequest != nil {
		t.Errorf("subscription changed: %+v", s)
	}
}

// cancelPricing posts the cancel form with the reason pricing.
func (ps *portalSession) cancelPricing(extra ...string) (int, string) {
	ps.h.t.Helper()
	f := url.Values{"reason": {"pricing"}, "comment": {"too dear"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return ps.post(subPath+"/cancel", f)
}

func TestRetentionOffer(t *testing.T) {
	t.Parallel()
	t.Run("shown once, then cancelling cancels", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-once", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		ps.putPolicy(pausePolicy)
		st, body := ps.cancelPricing()
		if st != 200 || !strings.Contains(body, "Before you go") || !strings.Contains(body, "Stay with Pro (annual) and get 50% off your next 2 billing periods.") ||
			!strings.Contains(body, "We would hate to see you go.") || !strings.Contains(body, `action="`+subPath+`/offer"`) {
			t.Fatalf("offer: %d\n%s", st, body)
		}
		s := ps.account().Subscription("sub_Pro_01")
		if o := s.RetentionOffer; s.CancelAtPeriodEnd || o == nil || o.Reason != "pricing" || o.PercentOff != 50 || o.Periods != 2 || o.ShownAt == "" {
			t.Fatalf("after the offer: %+v %+v", s, o)
		}
		// The cancel form again (a reload): no offer this time, it cancels.
		ps.get(subPath + "/cancel")
		if st, body := ps.cancelPricing(); st != 303 {
			t.Fatalf("second cancel: %d\n%s", st, body)
		}
		if s := ps.account().Subscription("sub_Pro_01"); !s.CancelAtPeriodEnd {
			t.Error("not cancelled")
		}
		if evs := ps.events("subscription.cancelation_scheduled"); len(evs) != 1 || evs[0]["retentionOffer"] != "declined" {
			t.Errorf("cancel events: %v", evs)
		}
	})
	t.Run("declined", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-declined", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		ps.putPolicy(pausePolicy)
		if st, _ := ps.cancelPricing(); st != 200 {
			t.Fatal("no offer")
		}
		if st, _ := ps.cancelPricing("offer", "declined"); st != 303 {
			t.Fatal("decline did not cancel")
		}
		if s := ps.account().Subscription("sub_Pro_01"); !s.CancelAtPeriodEnd || s.RetentionOffer == nil || s.RetentionOffer.AcceptedAt != "" {
			t.Errorf("after declining: %+v", s)
		}
	})
	t.Run("no offer for the reason", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-none", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		ps.putPolicy(pausePolicy)
		if st, _ := ps.post(subPath+"/cancel", url.Values{"reason": {"features"}}); st != 303 {
			t.Fatal("a reason without an offer did not cancel")
		}
		if s := ps.account().Subscription("sub_Pro_01"); !s.CancelAtPeriodEnd || s.RetentionOffer != nil {
			t.Errorf("after cancelling for a reason without an offer: %+v", s)
		}
	})
	t.Run("catch-all", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-any", `{"accountId":"acc_7Hq2LmX9","locale":"de"}`)
		ps.putPolicy(`{"offers":[{"reason":"","percentOff":20,"periods":1}]}`)
		st, body := ps.post(subPath+"/cancel", url.Values{"reason": {"features"}})
		if st != 200 || !strings.Contains(body, "20 % Rabatt für 1 Abrechnungszeitraum") {
			t.Fatalf("catch-all offer: %d\n%s", st, body)
		}
	})
	t.Run("accepted without backend", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-pending", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		ps.putPolicy(pausePolicy)
		ps.cancelPricing()
		if st, body := ps.post(subPath+"/offer", nil); st != 303 {
			t.Fatalf("accept: %d\n%s", st, body)
		}
		ps.post(subPath+"/offer", nil) // a double submit
		s := ps.account().Subscription("sub_Pro_01")
		if o := s.RetentionOffer; s.CancelAtPeriodEnd || o.AcceptedAt == "" || !o.Pending {
			t.Errorf("after accepting: %+v %+v", s, o)
		}
		if evs := ps.events(EventOfferAcceptRequested); len(evs) != 1 || evs[0]["percentOff"] != float64(50) || evs[0]["periods"] != float64(2) || evs[0]["reason"] != "pricing" {
			t.Errorf("offer_accept_requested events: %v", evs)
		}
		if page := ps.get("/"); !strings.Contains(page, "50% off your next 2 billing periods requested") {
			t.Errorf("overview lacks the requested offer")
		}
	})
	t.Run("accepted through the backend", func(t *testing.T) {
		t.Parallel()
		_, ps, b := backendPortal(t, "offer-backend", "en", map[string]backendAnswer{
			backend.TypeSubscriptionOfferAccept: answerSucceeded("See you next year.", func(map[string]any) string {
				return exampleDoc(t, func(a *account.Account) {
					a.Subscription("sub_Pro_01").RetentionOffer = &account.RetentionOffer{Reason: "pricing", PercentOff: 50, Periods: 2, ShownAt: "2026-12-01", AcceptedAt: "2026-12-01"}
				})
			}),
		})
		ps.putPolicy(pausePolicy)
		ps.cancelPricing()
		st, body := ps.post(subPath+"/offer", nil)
		if st != 200 || !strings.Contains(body, "Thank you for staying") || !strings.Contains(body, "Pro (annual) continues with 50% off your next 2 billing periods.") || !strings.Contains(body, "See you next year.") {
			t.Fatalf("accept: %d\n%s", st, body)
		}
		_, data := b.lastOf(backend.TypeSubscriptionOfferAccept)
		if n := b.count(backend.TypeSubscriptionOfferAccept); n != 1 || data["reason"] != "pricing" || data["percentOff"] != float64(50) || data["periods"] != float64(2) || data["subscriptionId"] != "sub_Pro_01" {
			t.Errorf("%d offer_accept requests, the last %v", n, data)
		}
		if evs := ps.events(EventOfferAccepted); len(evs) != 1 {
			t.Errorf("offer_accepted events: %v", evs)
		}
		if o := ps.account().Subscription("sub_Pro_01").RetentionOffer; o == nil || o.AcceptedAt == "" {
			t.Errorf("stored offer: %+v", o)
		}
		if st, _ := ps.post(subPath+"/offer", nil); st != 303 || b.count(backend.TypeSubscriptionOfferAccept) != 1 {
			t.Errorf("second accept: %d, calls %d", st, b.count(backend.TypeSubscriptionOfferAccept))
		}
	})
	t.Run("forged accept", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ps := h.customer("offer-forged", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
		ps.putPolicy(pausePolicy)
		// No offer was shown: accepting one changes nothing.
		if st, _ := ps.post(subPath+"/offer", nil); st != 303 {
			t.Errorf("accept without an offer: %d", st)
		}
		if s := ps.account().Subscription("sub_Pro_01"); s.RetentionOffer != nil {
			t.Errorf("offer recorded: %+v", s.RetentionOffer)
		}
		if n := len(ps.events(EventOfferAcceptRequested)); n != 0 {
			t.Errorf("%d events", n)
		}
	})
}
