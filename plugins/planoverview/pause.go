package planoverview

import (
	_ "embed"
	"strconv"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Pausing and resuming a subscription, permitted by AllowPause.
//
// "Pause" shows on an active subscription whose tenant's change policy allows pausing
// (catalog.Policy.Pause): its page offers 1 to Policy.MaxPause billing periods, each with the
// day billing resumes (catalog.ResumeDate: the end of the current period plus the periods, of
// the subscription's catalog plan's interval when the catalog has it), and confirms. "Resume" shows on a paused subscription and confirms too. With a backend the
// confirmation calls it ("subscription.pause", "subscription.resume", answered like
// "invoice.pay") and stores the document it returns with the event subscription.paused or
// subscription.resumed; without one it records the request on the subscription (pauseRequest)
// with the event subscription.pause_requested or subscription.resume_requested, and the
// overview shows it as requested until the tenant pushes the document without it.
//
// The idempotency key of a confirmation is derived from what the customer confirmed (session,
// subscription, action, periods) and the revision of the document the page showed, as for a
// payment: a double submit, a reload, two tabs or two instances call the backend once.

//go:embed pause.html
var pauseHTML string

// Webhook events of the pause and offer actions (declared by EventTypes).
const (
	// EventPaused, EventResumed and EventOfferAccepted: the backend carried it out.
	EventPaused        = "subscription.paused"
	EventResumed       = "subscription.resumed"
	EventOfferAccepted = "subscription.offer_accepted"
	// EventPauseRequested, EventResumeRequested and EventOfferAcceptRequested: recorded as pending
	// on the subscription without a backend, for the tenant to carry out.
	EventPauseRequested       = "subscription.pause_requested"
	EventResumeRequested      = "subscription.resume_requested"
	EventOfferAcceptRequested = "subscription.offer_accept_requested"
)

// Audit entry types of attempts that write no event.
const (
	AuditSubscriptionDeclined = "subscription.request_declined"
	AuditSubscriptionPending  = "subscription.request_pending"
	AuditSubscriptionError    = "subscription.request_error"
)

// pauseEvents are the event types of pauses and offers, declared with the section's others
// (EventTypes).
var pauseEvents = []string{EventPaused, EventResumed, EventOfferAccepted, EventPauseRequested, EventResumeRequested, EventOfferAcceptRequested}

func pauseActions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: "/subscriptions/{id}/pause", Needs: AllowPause, Refusal: "plan.pause.forbidden", Handle: pauseForm},
		{Method: "POST", Path: "/subscriptions/{id}/pause", Needs: AllowPause, Refusal: "plan.pause.forbidden", Handle: pauseSubmit},
		{Method: "GET", Path: "/subscriptions/{id}/resume", Needs: AllowPause, Refusal: "plan.pause.forbidden", Handle: resumeForm},
		{Method: "POST", Path: "/subscriptions/{id}/resume", Needs: AllowPause, Refusal: "plan.pause.forbidden", Handle: resumeSubmit},
		// The return from a backend's page of a pause, a resume or an offer (requires_action).
		{Method: "GET", Path: "/subscriptions/{id}/return", Handle: returned("return")},
	}
}

// pausable reports whether a subscription may be paused now: active, no cancellation scheduled,
// no request pending, and a current period to pause after.
func pausable(s *account.Subscription) bool {
	return s.Status == account.SubActive && !s.CancelAtPeriodEnd && s.PauseRequest == nil &&
		s.CurrentPeriodStart != "" && s.CurrentPeriodEnd != ""
}

// resumable reports whether a paused subscription may be resumed: no resume pending.
func resumable(s *account.Subscription) bool {
	return s.Status == account.SubPaused && (s.PauseRequest == nil || s.PauseRequest.Action != account.PauseActionResume)
}

// policyOf is the catalog's change policy, the zero one without a catalog.
func policyOf(c *tenants.CatalogSnapshot) *catalog.Policy {
	if c == nil {
		return &catalog.Policy{}
	}
	return &c.Policy
}

// pauseState sets the overview's pause controls and notices of a subscription.
func pauseState(out *sub, s *account.Subscription, v *plugins.View) {
	tr, loc := v.Printer(), v.Locale
	on := v.On(AllowPause)
	out.CanPause = on && pausable(s) && policyOf(v.Catalog).MaxPause() > 0
	out.CanResume = on && resumable(s)
	if r := s.PauseRequest; r != nil {
		switch r.Action {
		case account.PauseActionPause:
			out.Notices = append(out.Notices, tr.T("plan.pause.requested", "date", i18n.Date(r.ResumesAt.Civil(), loc)))
		case account.PauseActionResume:
			out.Notices = append(out.Notices, tr.T("plan.resume.requested", "date", i18n.Date(r.RequestedAt.Civil(), loc)))
		}
	} else if s.Status == account.SubPaused && s.ResumesAt != "" {
		out.Notices = append(out.Notices, tr.T("plan.pause.until", "date", i18n.Date(s.ResumesAt.Civil(), loc)))
	}
	if o := s.RetentionOffer; o != nil && o.AcceptedAt != "" && o.Pending && !s.Ended() {
		out.Notices = append(out.Notices, tr.T("plan.offer.requested", "percent", o.PercentOff, "count", o.Periods))
	}
}

// pausePage is the data of the pause and resume forms.
type pausePage struct {
	ID, Name, Tenant string
	PeriodEnd        string
	Revision         int64
	Options          []pauseOption
	Errors           plugins.FormErrors
}

type pauseOption struct {
	Periods int
	Label   string
	Checked bool
}

// pauseTarget is the path's subscription to pause, its catalog plan (nil when the catalog has
// none) and the policy's longest pause; it answers
// the page itself and returns nil when there is nothing to pause: no such subscription, a catalog
// that cannot be read, a policy without pauses (403), or a subscription paused, requested or
// cancelled meanwhile (the overview says so; a double submit whose first request went through).
func pauseTarget(c plugins.ActionContext) (*account.Subscription, *catalog.Plan, int) {
	s := findSubscription(c)
	if s == nil {
		return nil, nil, 0
	}
	cat, err := c.Catalog()
	if err != nil {
		c.Fail(err)
		return nil, nil, 0
	}
	most := policyOf(cat).MaxPause()
	if most == 0 {
		c.Message(403, "plan.pause.notAllowed.title", "plan.pause.notAllowed.body")
		return nil, nil, 0
	}
	if !pausable(s) {
		c.Done()
		return nil, nil, 0
	}
	var plan *catalog.Plan
	if cat != nil && s.PlanID != "" {
		if sp, ok := cat.Plan(s.PlanID); ok {
			plan = sp.Plan
		}
	}
	return s, plan, most
}

func newPausePage(c plugins.ActionContext, s *account.Subscription, plan *catalog.Plan, most, chosen int, errs plugins.FormErrors) *pausePage {
	tr, loc := c.Printer(), c.Locale()
	p := &pausePage{ID: s.ID, Name: s.Name, Tenant: c.Tenant().Name, Revision: c.Revision(), Errors: errs,
		PeriodEnd: i18n.Date(s.CurrentPeriodEnd.Civil(), loc)}
	for n := 1; n <= most; n++ {
		d, err := catalog.ResumeDate(s, plan, n)
		if err != nil {
			break
		}
		p.Options = append(p.Options, pauseOption{Periods: n, Checked: n == chosen,
			Label: tr.T("plan.pause.option", "count", n, "date", i18n.Date(d.Civil(), loc))})
	}
	if chosen == 0 && len(p.Options) > 0 {
		p.Options[0].Checked = true
	}
	return p
}

// pauseForm is the pause page: how many periods, each with the day billing resumes.
func pauseForm(c plugins.ActionContext) {
	s, plan, most := pauseTarget(c)
	if s == nil {
		return
	}
	p := newPausePage(c, s, plan, most, 0, nil)
	render(c, 200, c.Printer().T("plan.pause.title", "name", s.Name), "pause", p)
}

// pauseSubmit confirms a pause: checks the periods and the revision the page showed, then
// carries it out through the backend, or records it as requested without one.
func pauseSubmit(c plugins.ActionContext) {
	s, plan, most := pauseTarget(c)
	if s == nil {
		return
	}
	tr := c.Printer()
	periods, err := strconv.Atoi(c.FormValue("periods"))
	var errs plugins.FormErrors
	status := 422
	if err != nil || periods < 1 || periods > most {
		errs.Add("periods", tr.T("plan.pause.error.periods", "max", most))
		periods = 0
	}
	rev, _ := strconv.ParseInt(c.FormValue("rev"), 10, 64)
	if len(errs) == 0 && rev != c.Revision() {
		errs.Add("periods", tr.T("plan.pause.error.changed"))
		status = 409
	}
	var resumes account.Date
	if len(errs) == 0 {
		if resumes, err = catalog.ResumeDate(s, plan, periods); err != nil {
			errs.Add("periods", tr.T("plan.pause.error.periods", "max", most))
		}
	}
	if len(errs) > 0 {
		render(c, status, tr.T("plan.pause.title", "name", s.Name), "pause", newPausePage(c, s, plan, most, periods, errs))
		return
	}
	a := c.Account()
	detail := map[string]any{"subscriptionId": s.ID, "periods": periods, "resumesAt": resumes}
	if !c.Backend().Registered() {
		err := c.Update(func(a *account.Account) (plugins.Event, error) {
			sub := a.Subscription(s.ID)
			if sub == nil {
				return plugins.Event{}, notFound()
			}
			if !pausable(sub) {
				return plugins.Event{}, tenants.ErrNoChange
			}
			sub.PauseRequest = &account.PauseRequest{Action: account.PauseActionPause, Periods: periods, ResumesAt: resumes, RequestedAt: today(c.Now())}
			return plugins.Event{Type: EventPauseRequested, Data: detail}, nil
		})
		finish(c, err)
		return
	}
	req := backend.Request{
		Type:           backend.TypeSubscriptionPause,
		IdempotencyKey: backend.IdempotencyKey("pause_", c.SessionID(), s.ID, "pause", strconv.Itoa(periods), strconv.FormatInt(rev, 10)),
		Data:           backend.SubscriptionPauseData{AccountID: a.ID, SubscriptionID: s.ID, Periods: periods, ResumesAt: string(resumes), SessionID: c.SessionID()},
	}
	subscriptionRequests.carry(c, s, req, EventPaused, detail, func() (string, string) {
		return tr.T("plan.pause.done.title"), tr.T("plan.pause.done.body", "name", s.Name, "date", i18n.Date(resumes.Civil(), c.Locale()))
	})
}

// resumeForm is the resume page.
func resumeForm(c plugins.ActionContext) {
	s := findSubscription(c)
	if s == nil {
		return
	}
	if !resumable(s) {
		c.Done()
		return
	}
	p := &pausePage{ID: s.ID, Name: s.Name, Tenant: c.Tenant().Name, Revision: c.Revision()}
	render(c, 200, c.Printer().T("plan.resume.title", "name", s.Name), "resume", p)
}

// resumeSubmit confirms a resume, as pauseSubmit a pause.
func resumeSubmit(c plugins.ActionContext) {
	s := findSubscription(c)
	if s == nil {
		return
	}
	if !resumable(s) {
		c.Done()
		return
	}
	tr := c.Printer()
	rev, _ := strconv.ParseInt(c.FormValue("rev"), 10, 64)
	if rev != c.Revision() {
		p := &pausePage{ID: s.ID, Name: s.Name, Tenant: c.Tenant().Name, Revision: c.Revision()}
		p.Errors.Add("confirm", tr.T("plan.pause.error.changed"))
		render(c, 409, tr.T("plan.resume.title", "name", s.Name), "resume", p)
		return
	}
	detail := map[string]any{"subscriptionId": s.ID}
	if !c.Backend().Registered() {
		err := c.Update(func(a *account.Account) (plugins.Event, error) {
			sub := a.Subscription(s.ID)
			if sub == nil {
				return plugins.Event{}, notFound()
			}
			if !resumable(sub) {
				return plugins.Event{}, tenants.ErrNoChange
			}
			sub.PauseRequest = &account.PauseRequest{Action: account.PauseActionResume, RequestedAt: today(c.Now())}
			return plugins.Event{Type: EventResumeRequested, Data: detail}, nil
		})
		finish(c, err)
		return
	}
	req := backend.Request{
		Type:           backend.TypeSubscriptionResume,
		IdempotencyKey: backend.IdempotencyKey("resume_", c.SessionID(), s.ID, "resume", strconv.FormatInt(rev, 10)),
		Data:           backend.SubscriptionResumeData{AccountID: c.Account().ID, SubscriptionID: s.ID, SessionID: c.SessionID()},
	}
	subscriptionRequests.carry(c, s, req, EventResumed, detail, func() (string, string) {
		return tr.T("plan.resume.done.title"), tr.T("plan.resume.done.body", "name", s.Name)
	})
}
