// Package plugins owns the registry of portal section renderers and the data they render from.
//
// A section (Plan overview, Invoices, Billing information, …) is a Section registered from the
// init function of its own package, in the style of database/sql drivers; the gateway links the
// compiled-in set by blank-importing plugins/standard and asks the registry for them by name or in
// page order. A section renders server-side HTML from a View: an account snapshot plus the
// already-resolved locale and settings of the session. Sections are pure functions of their View:
// they never touch etcd, the network, the clock or any other I/O, and they must not modify the
// account, which is shared by concurrent renders.
//
// Beyond rendering, a section declares what else it owns through small optional interfaces that
// Register type-asserts (Caddy's style; the section guards each with var _ plugins.Actor =
// section{}): its place and title (Positioner, Titler), its settings object in the session
// request (Configurable), its message catalogs (Messenger), its form pages and posts (Actor),
// the webhook event types those emit (Eventer) and its deep-link flows (Flower). The host knows
// no section, action or flow by name.
//
// Texts come from the message catalogs of package i18n: a section's template calls "t" with a
// message key ({{t "plan.title"}}), and the section executes its template through i18n.Templates
// in the language of View.Locale (Printer), so every text follows the session's language.
//
// Rendered sections are cached by the host per account revision, branding, settings and locale,
// and shared by every session that matches. Nothing secret or specific to one session may therefore
// appear in a View or in a section's output: forms carry CSRFPlaceholder (see CSRFInput) and the
// host replaces it with the session's token after the cache.
package plugins

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Section renders one section of the portal page.
type Section interface {
	// Name is the section's stable snake_case id ("plan_overview", "invoices",
	// "billing_details"). It names the section in settings and appears in the page's markup as the
	// class "section-<name>" and in element ids, so it never changes once released.
	Name() string
	// Render writes the section's HTML — one <section> element — to w. It must be safe for
	// concurrent use and must only read v.
	Render(w io.Writer, v *View) error
}

// Positioner is implemented by sections that choose their place on the page. Sections are shown in
// increasing Position, ties broken by name; a section without a Position comes at DefaultPosition.
type Positioner interface {
	Position() int
}

// DefaultPosition is the position of a section that does not implement Positioner.
const DefaultPosition = 1000

// Titler is implemented by sections that have a human title, used for the section's heading and
// by the host (navigation, page title). Locale is a resolved BCP 47 tag, as in View.Locale.
type Titler interface {
	Title(locale string) string
}

// View is everything a section needs to render: plain data, no I/O. The host builds one per render.
type View struct {
	// Account is the snapshot being rendered. It is shared and must not be modified.
	Account *account.Account
	// Locale is the BCP 47 tag to format money, dates and texts in, already resolved by the host
	// from the session, the account and the tenant (i18n.ResolveFormat: "en", "de-DE", "pt-BR", …).
	// Texts are in the supported language it matches (Printer); formats keep its region.
	Locale string
	// Switches are the session's switches (see Configurable): a section asks On for its own.
	Switches Switches
	// TenantName is the tenant's display name, for texts such as "Contact ACME to …".
	TenantName string
	// Tenant is the tenant's configuration (PaymentSetupURL, Portal, …), or nil. It is shared and
	// must not be modified; the host's cache is keyed by the tenant's revision, so a section may
	// render from it.
	Tenant *tenants.Tenant
	// Backend says the tenant has registered a backend (the tenant backend protocol, package
	// backend): a section may offer actions that call it through ActionContext.Backend. The
	// host's cache is keyed by it.
	Backend bool
	// Catalog is the tenant's catalog: its plans and change policy (package catalog; the zero
	// policy allows no pause and has no offers), or nil when the host has none to give. It is
	// shared and must not be modified; the host's cache is keyed by it.
	Catalog *tenants.CatalogSnapshot
	// PathPrefix is prepended to every link and form action a section renders; it is "" unless
	// the portal is mounted below a path. It must not end with "/".
	PathPrefix string
	// Now is the time of the render, for states relative to today (an issued invoice past its
	// due date is overdue). Output that depends on it changes at most once per day in UTC; the host
	// keys its cache accordingly. The zero time disables relative states.
	Now time.Time
}

// On reports whether the session has the switch sw on.
func (v *View) On(sw *Switch) bool { return v.Switches.On(sw) }

// Printer returns the translator of the View's language: the supported language Locale matches,
// else English.
func (v *View) Printer() *i18n.Printer { return i18n.ForLocale(v.Locale) }

// CSRF protection of the forms that sections render.
//
// A section's output is cached and shared between sessions, so it cannot contain a session's CSRF
// token. Every form a section renders contains CSRFInput instead, a hidden input whose value is
// CSRFPlaceholder, and the host replaces each occurrence of CSRFPlaceholder in the rendered page with
// the session's token (which must be URL-safe base64 or hex, so it needs no escaping) just before
// writing the response.
//
// CSRFPlaceholder contains "<" and ">", which html/template escapes in data in every context (as
// &lt;, %3c, \3c or \u003c), so account data can never produce the placeholder and be replaced with
// a token; the placeholder itself reaches the output only as trusted template text, via CSRFInput.
const (
	// CSRFFieldName is the name of the form field that carries the CSRF token.
	CSRFFieldName = "csrf"
	// CSRFPlaceholder stands for the session's CSRF token in rendered sections.
	CSRFPlaceholder = "<portico-csrf-token>"
	// CSRFInput is the hidden form field to put inside every form a section renders. Emit it in
	// HTML text context, as template.HTML: the "csrfInput" function of Funcs does that.
	CSRFInput template.HTML = `<input type="hidden" name="` + CSRFFieldName + `" value="` + CSRFPlaceholder + `">`
)

// Funcs returns template functions that sections share:
//
//	csrfInput   CSRFInput, for the inside of a <form>
//	pathEscape  url.PathEscape, for an id inside a URL path: href="/invoices/{{pathEscape .ID}}"
//	t           a message of the catalogs, {{t "invoices.remaining" "amount" .Remaining}}; bound to
//	            English here, to the View's language by executing through i18n.Templates
func Funcs() template.FuncMap {
	f := template.FuncMap{
		"csrfInput":  func() template.HTML { return CSRFInput },
		"pathEscape": url.PathEscape,
	}
	for k, v := range i18n.Funcs() {
		f[k] = v
	}
	return f
}

// ErrUnknownSection is wrapped by the error of Lookup for a name that is not registered.
var ErrUnknownSection = errors.New("plugins: unknown section")

// nameRE is the form of a section name: snake_case, as it is used in CSS classes and element ids.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// registry is a set of sections by name. The package-level functions use one; tests make their own.
type registry struct {
	mu       sync.RWMutex
	sections map[string]Section
	// settings are the settings objects by section name; objects names the section of each
	// object; nswitch counts the switches assigned a bit.
	settings map[string]SettingsObject
	objects  map[string]string
	nswitch  int
	// routes names the section of each action route ("POST /billing/edit").
	routes map[string]string
	// events names the section of each event type it declared (Eventer).
	events map[string]string
	// flows are the deep-link flows by name (Flower).
	flows map[string]sectionFlow
}

// Eventer is implemented by a section whose actions emit webhook event types of its own: it
// declares them so that endpoints can subscribe to them by name (webhooks.Config.EventTypes).
type Eventer interface {
	// EventTypes lists the section's event types: lower-case dotted names ("account.locale.updated").
	EventTypes() []string
}

// eventRE is the form of an event type.
var eventRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// EventTypes lists the event types the registered sections declare, sorted.
func EventTypes() []string { return defaultRegistry.eventTypes() }

func (r *registry) eventTypes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.events))
	for e := range r.events {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

func (r *registry) registerEvents(name string, types []string) {
	if r.events == nil {
		r.events = make(map[string]string)
	}
	for _, e := range types {
		if !eventRE.MatchString(e) || len(e) > 64 {
			panic(fmt.Sprintf("plugins: Register section %s: invalid event type %q (want lower-case dotted words, at most 64 bytes)", name, e))
		}
		if slices.Contains(tenants.EventTypes, e) || e == tenants.EventWebhookTest {
			panic(fmt.Sprintf("plugins: Register section %s: event type %q is Portico's own", name, e))
		}
		if other, dup := r.events[e]; dup {
			panic(fmt.Sprintf("plugins: Register section %s: event type %q is declared by section %s too", name, e, other))
		}
		r.events[e] = name
	}
}

var defaultRegistry = &registry{sections: make(map[string]Section)}

// Register makes a section available by its name. It is meant to be called from the init function
// of the section's package, and panics if s is nil, if its name is empty or not snake_case, or if a
// section of the same name is already registered.
func Register(s Section) { defaultRegistry.register(s) }

// Lookup returns the registered section of the name. An unknown name gives an error wrapping
// ErrUnknownSection: usually the package of the section is not imported.
func Lookup(name string) (Section, error) { return defaultRegistry.lookup(name) }

// Names returns the names of the registered sections, sorted alphabetically.
func Names() []string { return defaultRegistry.names() }

// Ordered returns the registered sections in page order: by Position (DefaultPosition when the
// section does not implement Positioner), then by name. The slice is new on every call; the host
// calls it once at start-up.
func Ordered() []Section { return defaultRegistry.ordered() }

func (r *registry) register(s Section) {
	if s == nil {
		panic("plugins: Register section is nil")
	}
	name := s.Name()
	if name == "" {
		panic("plugins: Register section with empty name")
	}
	if !nameRE.MatchString(name) {
		panic(fmt.Sprintf("plugins: Register section with invalid name %q (want snake_case: a-z, 0-9 and _)", name))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.sections[name]; dup {
		panic("plugins: Register called twice for section " + name)
	}
	if r.settings == nil {
		r.settings, r.objects = make(map[string]SettingsObject), make(map[string]string)
	}
	if c, ok := s.(Configurable); ok {
		o := c.Settings()
		r.registerSettings(name, o)
		r.settings[name] = o
	}
	if a, ok := s.(Actor); ok {
		r.registerActions(name, a.Actions())
	}
	if ev, ok := s.(Eventer); ok {
		r.registerEvents(name, ev.EventTypes())
	}
	if f, ok := s.(Flower); ok {
		r.registerFlows(name, f.Flows())
	}
	if m, ok := s.(Messenger); ok {
		if err := i18n.AddCatalog(name, m.Messages()); err != nil {
			panic(fmt.Sprintf("plugins: Register section %s: %v", name, err))
		}
	}
	r.sections[name] = s
}

func (r *registry) lookup(name string) (Section, error) {
	r.mu.RLock()
	s, ok := r.sections[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (forgotten import?)", ErrUnknownSection, name)
	}
	return s, nil
}

func (r *registry) names() []string {
	r.mu.RLock()
	list := make([]string, 0, len(r.sections))
	for name := range r.sections {
		list = append(list, name)
	}
	r.mu.RUnlock()
	slices.Sort(list)
	return list
}

func (r *registry) ordered() []Section {
	r.mu.RLock()
	list := make([]Section, 0, len(r.sections))
	for _, s := range r.sections {
		list = append(list, s)
	}
	r.mu.RUnlock()
	slices.SortFunc(list, func(a, b Section) int {
		return cmp.Or(cmp.Compare(position(a), position(b)), cmp.Compare(a.Name(), b.Name()))
	})
	return list
}

// position returns the section's Position, or DefaultPosition.
func position(s Section) int {
	if p, ok := s.(Positioner); ok {
		return p.Position()
	}
	return DefaultPosition
}
