package plugins

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Actor is implemented by sections that answer requests of their own under the portal: the form
// pages their controls open and the form posts that change the account. The host routes them; it
// never knows a section's actions by name.
type Actor interface {
	Section
	// Actions declares the section's routes. It is called once, by Register.
	Actions() []Action
}

// Action is one route of a section.
type Action struct {
	// Method is "GET" (a page, answered for HEAD too) or "POST" (a form post: the host checks its
	// size, Origin and CSRF token before the handler runs, and answers 413 or 403 itself).
	Method string
	// Path is the route under the portal: "/billing/edit", "/subscriptions/{id}/cancel". One
	// segment may be "{id}", which matches any one segment and is the handler's ActionContext.Arg.
	// The host's own paths ("/", "/s/…", "/logout", "/assets/…", "/invoices/…") come first.
	Path string
	// Needs is the switch that permits the action, nil for any session. A session without it is
	// answered 403 with the message Refusal, and nothing runs.
	Needs *Switch
	// Refusal is the message key of the 403 page's text when the session lacks Needs.
	Refusal string
	// Handle answers the request through c, calling exactly one of its answers (Page, Message,
	// Done, Redirect, Fail). It runs with an open session, after the checks above.
	Handle func(c ActionContext)
}

// ActionContext is what an action handler gets: the session's account and language, the checked
// form, one transactional account write with its event, and the answers it may give. The host
// implements it; it is valid only during the handler's call.
type ActionContext interface {
	// Account is the session's account snapshot, read when the request came in. It is shared
	// and must not be modified: changes go through Update.
	Account() *account.Account
	// Revision is the revision of Account's document (it changes with every write).
	Revision() int64
	// Tenant is the tenant's configuration; it must not be modified.
	Tenant() *tenants.Tenant
	// Locale is the page's resolved BCP 47 locale for formats ("de-AT"); Printer translates into
	// its language.
	Locale() string
	Printer() *i18n.Printer
	// On reports whether the session has the switch on.
	On(sw *Switch) bool
	// SessionID is the session's id ("ps_…").
	SessionID() string
	// Now is the request's time.
	Now() time.Time
	// Arg is the path's "{id}" segment, "" without one.
	Arg() string
	// FormValue is a field of the POST form (CSRF- and Origin-checked), "" when absent.
	FormValue(name string) string
	// QueryValue is a query parameter of the URL.
	QueryValue(name string) string
	// Origin is the portal's public origin as the browser sees it ("https://billing.acme.com").
	Origin() string
	// Seal encrypts data under the gateway's sealing keys, bound to the tenant, the section and
	// purpose; Unseal opens what Seal sealed for the same purpose (for signed round trips).
	Seal(purpose string, data []byte) ([]byte, error)
	Unseal(purpose string, sealed []byte) ([]byte, error)

	// Catalog is the tenant's catalog of plans and its change policy (package catalog), as
	// tenants.Store.Catalog reads it (cached; shared and read-only); a tenant without one has
	// no plans and the zero policy. Errors are tenants.ErrUnavailable's (answer with Fail).
	Catalog() (*tenants.CatalogSnapshot, error)

	// Team reaches the account's team (its members) and its audit trail; it is never nil.
	Team() Team

	// UsageAlerts reaches the session account's usage alerts (tenants.UsageAlerts); never nil.
	UsageAlerts() AlertStore

	// Backend reaches the tenant's backend for the session's account; it is never nil (without
	// a registered backend, or a host without the protocol, its Call returns
	// backend.ErrNoBackend).
	Backend() Backend

	// Update applies change to the session's account in one etcd transaction together with the
	// event it returns (Event.Type "" writes none), which the outbox delivers to the tenant's
	// webhooks with "accountId" and "sessionId" added to its data. change runs on a fresh copy
	// and may run more than once (on a concurrent write); returning tenants.ErrNoChange writes
	// nothing and Update returns nil. Errors of change come back unwrapped enough for errors.As.
	Update(change func(a *account.Account) (Event, error)) error

	// Page answers a page in the portal's chrome: title, and body (HTML, one card) rendered by
	// the section. A form in the body carries CSRFInput, which the host fills with the session's
	// token. Form pages are never cached.
	Page(status int, title string, body template.HTML)
	// Message answers a message page of the messages titleKey and bodyKey.
	Message(status int, titleKey, bodyKey string)
	// Done redirects to the portal's overview (303, post/redirect/get).
	Done()
	// Redirect sends the browser to url (303).
	Redirect(url string)
	// Fail answers the page for an error of Update: a Refusal's page, 404 for an account that is
	// gone, 409 for a change that would leave the account invalid, else 503.
	Fail(err error)
}

// Backend is what an action reaches of the tenant backend protocol (package backend), bound to
// the session's tenant, account and session: a call, the store of the document the backend
// returned, and the session's audit trail. It is valid only during the handler's call.
type Backend interface {
	// Registered reports whether the tenant has a backend to call (from memory, as
	// View.Backend).
	Registered() bool
	// Call is backend.Service.Call for the session's tenant: at most one call per idempotency
	// key in flight across instances, its outcome kept for repeated calls, a sentinel error per
	// failure class (backend.ErrNoBackend, ErrTimeout, ErrUnreachable, ErrForbiddenAddress,
	// ErrStatus, ErrInvalidResponse, ErrInvalidAccount).
	Call(req backend.Request) (backend.Response, error)
	// Store stores the account document the backend returned (nil: none) for the session's
	// account together with the event (Type "": none), in one transaction (backend.Service.StoreAccount), as of
	// the revision the handler read (Account): a document that moved since is not overwritten,
	// and only the event is written then. "accountId" and "sessionId" are added to the event's
	// data, which also records it in the session's audit trail.
	Store(doc *account.Account, ev Event) error
	// Audit records an entry of the type in the session's audit trail without an event (an
	// attempt that changed nothing).
	Audit(typ string, detail map[string]any) error
}

// Team is the session account's team as an action reaches it: the account's holder (its billing
// email), its members (tenants.Member) and the account's audit trail. Changes are made as the
// session (its member's email or the holder's), each with its event and audit entry, and fail with
// the tenants.ErrMember… sentinels. It is valid only during the handler's call.
type Team interface {
	// Role is the session's role; Member the session's member, nil for the account's holder and
	// sessions a tenant issued.
	Role() Role
	Member() *tenants.Member
	// Members lists the account's members, sorted by email.
	Members() ([]tenants.Member, error)
	// Invite invites email with the role (or gives the member with that email the role) and,
	// for a new member, sends the invitation email when the host can; created says it was new.
	Invite(email, role string) (m tenants.Member, created bool, err error)
	// SetRole gives the member the role; Remove removes it. Both end the member's sessions when
	// it loses rights.
	SetRole(memberID, role string) error
	Remove(memberID string) error
	// Activity is the account's audit trails (tenants.Store.SessionAudits), newest first.
	Activity() ([]tenants.SessionAudit, error)
}

// AlertStore is the session account's usage alerts as an action reaches them: each change is one
// etcd Txn (tenants.Store.UpdateUsageAlerts). Errors are tenants' (ErrInvalidAlert,
// ErrTooManyAlerts, ErrAlertNotFound, ErrUnavailable …).
type AlertStore interface {
	List() (*tenants.UsageAlerts, error)
	// Add sets a new alert (its ID and CreatedAt are given) and returns it.
	Add(al tenants.UsageAlert) (tenants.UsageAlert, error)
	Delete(id string) error
}

// Event is the webhook event of an account change (tenants.Event* types).
type Event struct {
	Type string
	Data map[string]any
}

// Refusal is an error a change returns to refuse the action with a page of two messages.
type Refusal struct {
	Status            int
	TitleKey, BodyKey string
}

func (e *Refusal) Error() string { return "plugins: action refused: " + e.TitleKey }

// validAction checks an action of a section; the caller holds r.mu.
func (r *registry) registerActions(name string, actions []Action) {
	if r.routes == nil {
		r.routes = make(map[string]string)
	}
	seen := map[string]bool{}
	for _, a := range actions {
		fail := func(format string, args ...any) {
			panic(fmt.Sprintf("plugins: Register section %s: action %s %s: ", name, a.Method, a.Path) + fmt.Sprintf(format, args...))
		}
		switch {
		case a.Method != "GET" && a.Method != "POST":
			fail("method must be GET or POST")
		case !strings.HasPrefix(a.Path, "/") || len(a.Path) < 2 || strings.Contains(a.Path, "//") || strings.HasSuffix(a.Path, "/"):
			fail("path must be absolute, without an empty segment")
		case strings.Count(a.Path, "{") > 1 || strings.Contains(a.Path, "{") && !strings.Contains(a.Path, "/{id}"):
			fail("path may have one segment \"{id}\"")
		case a.Handle == nil:
			fail("Handle is nil")
		case a.Needs != nil && a.Refusal == "":
			fail("Needs without a Refusal message")
		}
		key := a.Method + " " + routePattern(a.Path)
		if other, dup := r.routes[key]; dup || seen[key] {
			fail("the route is already section %s's", other)
		}
		seen[key] = true
	}
	for k := range seen {
		r.routes[k] = name
	}
}

// routePattern is a path with its argument segment written "*", so that "/a/{id}" and "/a/{x}"
// collide.
func routePattern(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "*"
		}
	}
	return strings.Join(segs, "/")
}

// Match reports whether path matches the action's Path, and the "{id}" segment's value.
func (a *Action) Match(path string) (arg string, ok bool) {
	p := a.Path
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			return arg, p == path
		}
		if !strings.HasPrefix(path, p[:i]) {
			return "", false
		}
		path, p = path[i:], p[strings.IndexByte(p, '}')+1:]
		j := strings.IndexByte(path, '/')
		if j < 0 {
			j = len(path)
		}
		arg, path = path[:j], path[j:]
	}
}

// Route is an action with the section that declared it.
type Route struct {
	Section string
	Action
}

// Routes returns the actions of the registered sections (Actor), in page order. The slice is new
// on every call; the host calls it once at start-up.
func Routes() []Route {
	var out []Route
	for _, s := range Ordered() {
		if a, ok := s.(Actor); ok {
			for _, act := range a.Actions() {
				out = append(out, Route{s.Name(), act})
			}
		}
	}
	return out
}
