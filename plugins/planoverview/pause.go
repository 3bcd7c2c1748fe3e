package planoverview

import (
	_ "embed"
	"errors"
	"html/template"
	"log/slog"
	"net/url"
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
// day billing resumes (catalog.ResumeDate: the end of the current period plus the periods), and
// confirms. "Resume" shows on a paused subscription and confirms too. With a backend the
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

// text is s as HTML, escaped.
func text(s string) template.HTML { return template.HTML(template.HTMLEscapeString(s)) }

// subscriptionOf is the session account's subscription of the path, or nil (answered 404).
func subscriptionOf(c plugins.ActionContext) *account.Subscription {
	id := c.Arg()
	if !account.ValidID(id) {
		return nil
	}
	return c.Account().Subscription(id)
}

func subscriptionNotFound(c plugins.ActionContext) {
	c.Message(404, "error.subscriptionNotFound.title", "error.subscriptionNotFound.body")
}

// maxPause is the policy's longest pause, or the refusal page when the catalog cannot be read
// (ok false: answered).
func maxPause(c plugins.ActionContext) (int, bool) {
	cat, err := c.Catalog()
	if err != nil {
		c.Fail(err)
		return 0, false
	}
	return policyOf(cat).MaxPause(), true
}

func newPausePage(c plugins.ActionContext, s *account.Subscription, most, chosen int, errs plugins.FormErrors) *pausePage {
	tr, loc := c.Printer(), c.Locale()
	p := &pausePage{ID: s.ID, Name: s.Name, Tenant: c.Tenant().Name, Revision: c.Revision(), Errors: errs,
		PeriodEnd: i18n.Date(s.CurrentPeriodEnd.Civil(), loc)}
	for n := 1; n <= most; n++ {
		d, err := catalog.ResumeDate(s, n)
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
	s := subscriptionOf(c)
	if s == nil {
		subscriptionNotFound(c)
		return
	}
	most, ok := maxPause(c)
	if !ok {
		return
	}
	if most == 0 {
		c.Message(403, "plan.pause.notAllowed.title", "plan.pause.notAllowed.body")
		return
	}
	if !pausable(s) {
		c.Done() // paused, requested or cancelled meanwhile: the overview says so
		return
	}
	p := newPausePage(c, s, most, 0, nil)
	render(c, 200, c.Printer().T("plan.pause.title", "name", s.Name), "pause", p)
}

// pauseSubmit confirms a pause: checks the periods and the revision the page showed, then
// carries it out through the backend, or records it as requested without one.
func pauseSubmit(c plugins.ActionContext) {
	s := subscriptionOf(c)
	if s == nil {
		subscriptionNotFound(c)
		return
	}
	most, ok := maxPause(c)
	if !ok {
		return
	}
	if most == 0 {
		c.Message(403, "plan.pause.notAllowed.title", "plan.pause.notAllowed.body")
		return
	}
	if !pausable(s) {
		c.Done() // a double submit whose first request went through, or changed meanwhile
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
		if resumes, err = catalog.ResumeDate(s, periods); err != nil {
			errs.Add("periods", tr.T("plan.pause.error.periods", "max", most))
		}
	}
	if len(errs) > 0 {
		render(c, status, tr.T("plan.pause.title", "name", s.Name), "pause", newPausePage(c, s, most, periods, errs))
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
	carry(c, s, req, EventPaused, detail, func() (string, string) {
		return tr.T("plan.pause.done.title"), tr.T("plan.pause.done.body", "name", s.Name, "date", i18n.Date(resumes.Civil(), c.Locale()))
	})
}

// resumeForm is the resume page.
func resumeForm(c plugins.ActionContext) {
	s := subscriptionOf(c)
	if s == nil {
		subscriptionNotFound(c)
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
	s := subscriptionOf(c)
	if s == nil {
		subscriptionNotFound(c)
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
	carry(c, s, req, EventResumed, detail, func() (string, string) {
		return tr.T("plan.resume.done.title"), tr.T("plan.resume.done.body", "name", s.Name)
	})
}

// subscriptionResult is a result page of a pause, a resume or an offer: its kind and title, a
// paragraph, the backend's message.
func subscriptionResult(c plugins.ActionContext, kind, title, body, message string) *plugins.Result {
	return &plugins.Result{Kind: kind, Title: title, Paragraphs: []template.HTML{text(body)}, Message: message,
		MessageLabel: tmsg(c, "plan.result.message"), Back: tmsg(c, "plan.result.back")}
}

// carry calls the backend with req and answers the result page: succeeded (with the document it
// returned stored with the event of type succeeded), declined (its message), requires_action (a
// redirect to its page, which sends the customer back to the overview through a sealed return
// URL), pending, or the page of a failure class. done gives the title and the paragraph of a
// success.
func carry(c plugins.ActionContext, s *account.Subscription, req backend.Request, succeeded string, detail map[string]any, done func() (title, body string)) {
	tr := c.Printer()
	be := c.Backend()
	resp, err := be.Call(req)
	detail["request"], detail["requestId"] = req.Type, resp.RequestID
	audit := func(typ string) {
		if aerr := be.Audit(typ, detail); aerr != nil {
			slog.Warn("planoverview: recording a backend request", "type", req.Type, "err", aerr)
		}
	}
	if err != nil {
		if !resp.Replayed && !errors.Is(err, backend.ErrNoBackend) {
			detail["failure"] = backend.FailureOf(err).Audit
			audit(AuditSubscriptionError)
		}
		failure(c, s, err)
		return
	}
	if !resp.Replayed {
		var ev plugins.Event
		if resp.Result == backend.Succeeded {
			ev = plugins.Event{Type: succeeded, Data: detail}
		}
		if err := be.Store(resp.Account, ev); errors.Is(err, backend.ErrInvalidAccount) {
			detail["failure"], detail["result"] = "invalid_account", string(resp.Result)
			audit(AuditSubscriptionError)
			failure(c, s, err)
			return
		} else if err != nil && !errors.Is(err, tenants.ErrRevisionMismatch) {
			slog.Error("planoverview: storing a backend's answer", "type", req.Type, "subscription", s.ID, "err", err)
		}
		switch resp.Result {
		case backend.Declined:
			detail["message"] = resp.Message
			audit(AuditSubscriptionDeclined)
		case backend.Pending, backend.RequiresAction:
			detail["result"] = string(resp.Result)
			audit(AuditSubscriptionPending)
		}
	}
	var kind, title, body string
	switch resp.Result {
	case backend.Succeeded:
		kind = "succeeded"
		title, body = done()
	case backend.Declined:
		kind, title, body = "declined", tr.T("plan.result.declined.title"), tr.T("plan.result.declined.body", "name", s.Name, "tenant", c.Tenant().Name)
	case backend.RequiresAction:
		plugins.RedirectWithReturn(c, resp.RedirectURL, nil, "return", "/subscriptions/"+url.PathEscape(s.ID)+"/return")
		return
	default:
		kind, title, body = "pending", tr.T("plan.result.pending.title"), tr.T("plan.result.pending.body", "name", s.Name, "tenant", c.Tenant().Name)
	}
	plugins.ShowResult(c, 200, subscriptionResult(c, kind, title, body, resp.Message))
}

// failure answers the page of a failure class: nothing was changed.
func failure(c plugins.ActionContext, s *account.Subscription, err error) {
	tr := c.Printer()
	f := backend.FailureOf(err)
	if f.Unexpected() {
		slog.Error("planoverview: calling the backend", "subscription", s.ID, "err", err)
	}
	page := f.Page
	switch page {
	case "status", "invalid":
		page = "unreachable"
	case "noBackend":
		page = "unavailable"
	}
	key := "plan.fail." + page
	plugins.ShowResult(c, f.Status, subscriptionResult(c, "failure", tr.T(key+".title"), tr.T(key+".body", "name", s.Name, "tenant", c.Tenant().Name), ""))
}
