package planoverview

import (
	"html/template"
	"log/slog"
	"net/url"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants/account"
)

// The section's requests to the tenant's backend: a change of plan or seats
// ("subscription.change"), and a pause, a resume or an accepted offer ("subscription.pause",
// "subscription.resume", "subscription.offer_accept"). Both kinds are carried out alike (carry)
// and differ in how they are recorded and in the words of their pages.

// requestKind is what differs between the kinds of the section's requests.
type requestKind struct {
	// declined is the event stored with a declined answer's document ("": an audit entry);
	// audits are the audit entry types of the answers without an event, and of a failure ("").
	declined string
	audits   map[backend.Result]string
	// messages prefixes the keys of the pages' messages: <messages>.result.declined|pending.
	// title|body, <messages>.result.message (the backend's message's caption) and
	// <messages>.fail.<page>.title|body (a failure page of backend.FailureOf, renamed by pages);
	// back is the key of the way back to the overview.
	messages, back string
	pages          map[string]string
	// purpose and ret are the requires_action return URL's seal purpose and path after
	// /subscriptions/{id}, where returned answers.
	purpose, ret string
	// typed: the audit entries and events name the request's type ("request"), one of several.
	typed bool
}

// changeRequests are subscription.change's.
var changeRequests = &requestKind{
	declined: EventChangeFailed,
	audits: map[backend.Result]string{backend.RequiresAction: AuditChangeRequiresAction, backend.Pending: AuditChangePending,
		"": AuditChangeError},
	messages: "change", back: "change.back",
	pages:   map[string]string{"status": "failed", "invalid": "failed", "noBackend": "unavailable"},
	purpose: "change-return", ret: "/change/return",
}

// subscriptionRequests are a pause's, a resume's and an offer's.
var subscriptionRequests = &requestKind{
	audits: map[backend.Result]string{backend.Declined: AuditSubscriptionDeclined, backend.RequiresAction: AuditSubscriptionPending,
		backend.Pending: AuditSubscriptionPending, "": AuditSubscriptionError},
	messages: "plan", back: "plan.result.back",
	pages:   map[string]string{"status": "unreachable", "invalid": "unreachable", "noBackend": "unavailable"},
	purpose: "return", ret: "/return", typed: true,
}

// carry sends req about the subscription s and answers its result page: succeeded (the document
// the backend returned stored with the event succeeded; done gives the page's title and
// paragraph), declined (its message), requires_action (a redirect to its page, which sends the
// customer back to the overview through a sealed return URL), pending, or the page of a failure
// class. detail is the data of the events and audit entries.
func (k *requestKind) carry(c plugins.ActionContext, s *account.Subscription, req backend.Request, succeeded string, detail map[string]any, done func() (title, body string)) {
	rec := &plugins.Recording{Events: map[backend.Result]string{backend.Succeeded: succeeded, backend.Declined: k.declined},
		Audits: k.audits, Error: k.audits[""]}
	if k.typed {
		detail["request"] = req.Type
	}
	resp, _, err := plugins.CallBackend(c, req, detail, rec)
	if err != nil {
		k.failure(c, s, err)
		return
	}
	tr := c.Printer()
	var kind, title, body string
	switch resp.Result {
	case backend.Succeeded:
		kind = "succeeded"
		title, body = done()
	case backend.RequiresAction:
		plugins.RedirectWithReturn(c, resp.RedirectURL, nil, k.purpose, "/subscriptions/"+url.PathEscape(s.ID)+k.ret)
		return
	case backend.Declined:
		kind = "declined"
	default:
		kind = "pending"
	}
	if title == "" {
		key := k.messages + ".result." + kind
		title, body = tr.T(key+".title"), tr.T(key+".body", "name", s.Name, "tenant", c.Tenant().Name)
	}
	k.result(c, 200, kind, title, body, resp.Message)
}

// result answers a result page: its kind, title and paragraph, the backend's message.
func (k *requestKind) result(c plugins.ActionContext, status int, kind, title, body, message string) {
	tr := c.Printer()
	plugins.ShowResult(c, status, &plugins.Result{Kind: kind, Title: title, Paragraphs: []template.HTML{text(body)},
		Message: message, MessageLabel: tr.T(k.messages + ".result.message"), Back: tr.T(k.back)})
}

// failure answers the page of a failure class: nothing was changed.
func (k *requestKind) failure(c plugins.ActionContext, s *account.Subscription, err error) {
	f := backend.FailureOf(err)
	if f.Unexpected() {
		slog.Error("planoverview: calling the backend", "subscription", s.ID, "err", err)
	}
	page := f.Page
	if p, ok := k.pages[page]; ok {
		page = p
	}
	key, tr := k.messages+".fail."+page, c.Printer()
	k.result(c, f.Status, "failure", tr.T(key+".title"), tr.T(key+".body", "name", s.Name, "tenant", c.Tenant().Name), "")
}

// returned is where the backend's page sends the customer back, through the return URL of
// purpose that only this session can use, for an hour: the overview, which shows the
// subscription as it stands now.
func returned(purpose string) func(c plugins.ActionContext) {
	return func(c plugins.ActionContext) {
		if !plugins.CheckReturn(c, purpose) {
			c.Message(400, "change.returnInvalid.title", "change.returnInvalid.body")
			return
		}
		c.Done()
	}
}

// findSubscription is the session account's subscription of the path; without one it answers
// 404 and returns nil.
func findSubscription(c plugins.ActionContext) *account.Subscription {
	if id := c.Arg(); account.ValidID(id) {
		if s := c.Account().Subscription(id); s != nil {
			return s
		}
	}
	c.Message(404, "error.subscriptionNotFound.title", "error.subscriptionNotFound.body")
	return nil
}

// text is s as HTML, escaped.
func text(s string) template.HTML { return template.HTML(template.HTMLEscapeString(s)) }
