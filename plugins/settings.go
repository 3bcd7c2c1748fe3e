package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"regexp"
	"slices"
	"strings"

	"github.com/portico-billing/portico/tenants"
)

// Configurable is implemented by sections that have a settings object in the session request
// (POST /portal/customer-session/customer-portal): "planOverviewSettings":
// {"showSection":false,"allowSubscriptionCancel":true}. Its switches become bits of the session,
// sealed into the session cookie; one of them may show the section (SettingsObject.Show) and
// others may be the permissions the section's actions need (Action.Needs).
type Configurable interface {
	Section
	// Settings declares the section's settings object. It is called once, by Register; the
	// registry assigns each switch its bit then, so the switches must not be shared.
	Settings() SettingsObject
}

// SettingsObject is a section's settings object in the session request.
type SettingsObject struct {
	// Name is the object's field in the session request: camelCase, ending in "Settings"
	// ("planOverviewSettings"). It is public API and never changes once released.
	Name string
	// Show, when not nil, is the switch that shows the section ("showSection"); it must be one of
	// Switches. A section without one is always shown.
	Show *Switch
	// Switches are the object's fields, all booleans. A field the request does not give takes
	// its Default; a field the object does not have is refused (400).
	Switches []*Switch
	// Validate, when not nil, checks the object's resolved values (request, else defaults) before
	// a session is issued: an error refuses the request with 400 and the error's text as detail.
	Validate func(on func(*Switch) bool) error
}

// Switch is one boolean field of a settings object, carried by the session as one bit of its
// sealed cookie. Declare each as a package variable of the section, so that the section's render
// and actions can ask View.On, ActionContext.On or Action.Needs for it.
type Switch struct {
	// Field is the switch's name in the settings object: camelCase ("allowDetailsEdit").
	Field string
	// Default gives the value of a session whose request leaves the field out, from the tenant's
	// portal defaults; nil means false.
	Default func(tenants.PortalDefaults) bool
	// Role is the lowest role whose sessions may have the switch on: the host turns it off in the
	// session of a member with a lower role (ForRole), so the section renders no control the
	// member cannot use, and an action that Needs it refuses the member. The zero value,
	// RoleViewer, lets every session have it.
	Role Role

	key string // "<object>.<field>", the switch's name in a stored link
	bit uint8  // 1 + the switch's bit in Switches, 0 until registered
}

// Key is the switch's name in a stored link, "<settings object>.<field>"
// ("planOverviewSettings.allowSubscriptionCancel"); empty until the section is registered.
func (s *Switch) Key() string { return s.key }

// MaxSwitches is the number of switches all registered sections may declare together: the session
// cookie has a fixed 32-bit field for them. The standard sections use 12.
const MaxSwitches = 32

// Switches is a session's set of switches, one bit each, as sealed in its cookie.
type Switches uint32

// On reports whether sw is on in the set. A switch that is not registered is off.
func (s Switches) On(sw *Switch) bool { return sw != nil && sw.bit != 0 && s&(1<<(sw.bit-1)) != 0 }

// With returns the set with the switches on, for tests and hosts building a session.
func (s Switches) With(sw ...*Switch) Switches {
	for _, w := range sw {
		if w == nil || w.bit == 0 {
			panic(fmt.Sprintf("plugins: Switches.With of a switch that is not registered (%v)", w))
		}
		s |= 1 << (w.bit - 1)
	}
	return s
}

// Role is what a portal session may do: the role of the account's member whose session it is
// (tenants.Member.Role), owner for the account's holder and for sessions a tenant issued. Roles
// are ordered: each may do what the roles below it may.
type Role uint8

// The roles, in increasing order. Sessions carry them (session.Session.Role) by these values.
const (
	RoleViewer  Role = iota // sees the portal and downloads invoices
	RoleBilling             // also pays invoices, edits the billing details and auto-pay
	RoleOwner               // also changes, pauses or cancels the plan, manages the team, sees the Activity
)

// RoleOf returns the role of a tenants role name (tenants.RoleViewer, RoleBilling, RoleOwner).
func RoleOf(name string) (Role, bool) {
	r := tenants.RoleRank(name)
	return Role(max(r, 0)), r >= 0
}

// String is the role's tenants name ("viewer", "billing", "owner").
func (r Role) String() string {
	if int(r) < len(tenants.Roles) {
		return tenants.Roles[r]
	}
	return "role(" + fmt.Sprint(uint8(r)) + ")"
}

// ForRole returns the switches sw without those a session of role r may not have (Switch.Role).
func ForRole(sw Switches, r Role) Switches { return defaultRegistry.forRole(sw, r) }

func (r *registry) forRole(sw Switches, role Role) Switches {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, o := range r.settings {
		for _, s := range o.Switches {
			if s.Role > role && s.bit != 0 {
				sw &^= 1 << (s.bit - 1)
			}
		}
	}
	return sw
}

// Len is the number of switches on.
func (s Switches) Len() int { return bits.OnesCount32(uint32(s)) }

var (
	objectRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9]{0,62}Settings$`)
	fieldRE  = regexp.MustCompile(`^[a-z][a-zA-Z0-9]{0,63}$`)
)

// reservedFields are the session request's own fields, which no settings object and no flow
// param (Flow.Params) may be named.
var reservedFields = map[string]bool{
	"accountId": true, "accountAlias": true, "locale": true, "flow": true, "returnUrl": true,
}

// registerSettings checks a section's settings object and assigns its switches their bits. The
// caller holds r.mu.
func (r *registry) registerSettings(name string, o SettingsObject) {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("plugins: Register section %s: ", name) + fmt.Sprintf(format, args...))
	}
	if !objectRE.MatchString(o.Name) || reservedFields[o.Name] {
		fail("settings object name %q must be camelCase and end in \"Settings\"", o.Name)
	}
	if other, dup := r.objects[o.Name]; dup {
		fail("settings object %q is already the object of section %s", o.Name, other)
	}
	if len(o.Switches) == 0 {
		fail("settings object %q has no switches", o.Name)
	}
	if r.nswitch+len(o.Switches) > MaxSwitches {
		fail("%d switches with the registered ones, more than the session cookie's %d", r.nswitch+len(o.Switches), MaxSwitches)
	}
	fields := map[string]bool{}
	showFound := o.Show == nil
	for _, sw := range o.Switches {
		switch {
		case sw == nil:
			fail("settings object %q has a nil switch", o.Name)
		case !fieldRE.MatchString(sw.Field):
			fail("switch %q of %q must be camelCase", sw.Field, o.Name)
		case fields[sw.Field]:
			fail("switch %q is declared twice in %q", sw.Field, o.Name)
		case sw.bit != 0:
			fail("switch %q of %q is already registered (%s)", sw.Field, o.Name, sw.key)
		}
		fields[sw.Field] = true
		showFound = showFound || sw == o.Show
	}
	if !showFound {
		fail("the Show switch of %q is not one of its Switches", o.Name)
	}
	for _, sw := range o.Switches {
		r.nswitch++
		sw.bit = uint8(r.nswitch)
		sw.key = o.Name + "." + sw.Field
	}
	r.objects[o.Name] = name
}

// ErrInvalidSettings is wrapped by the errors of Resolve: a settings object's Validate refused the
// request's values.
var ErrInvalidSettings = errors.New("plugins: invalid settings")

// Object returns the registered settings object of the name ("planOverviewSettings").
func Object(name string) (SettingsObject, bool) { return defaultRegistry.object(name) }

// Objects returns the registered settings objects, sorted by name.
func Objects() []SettingsObject { return defaultRegistry.objectList() }

// Resolve resolves the settings objects of a session request (object name → field → value; the
// request's decoder has refused unknown objects and fields) against the tenant's portal defaults.
// The result holds every registered switch by Key, for the session's link.
func Resolve(req map[string]map[string]bool, def tenants.PortalDefaults) (map[string]bool, error) {
	return defaultRegistry.resolve(req, def)
}

// SessionSwitches turns the switches stored in a link (Resolve's result) into a session's set. A
// switch the link does not name — the link was stored before its section was registered, or
// before links stored switches by name — takes its Default of legacy, the portal settings such
// links stored.
func SessionSwitches(stored map[string]bool, legacy tenants.PortalDefaults) Switches {
	return defaultRegistry.sessionSwitches(stored, legacy)
}

// Shown reports whether the section is shown to a session with the switches: always, unless its
// settings object has a Show switch that is off.
func Shown(s Section, on Switches) bool {
	o, ok := defaultRegistry.settingsOf(s.Name())
	return !ok || o.Show == nil || on.On(o.Show)
}

func (r *registry) object(name string) (SettingsObject, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sec, ok := r.objects[name]
	if !ok {
		return SettingsObject{}, false
	}
	return r.settings[sec], true
}

func (r *registry) settingsOf(section string) (SettingsObject, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	o, ok := r.settings[section]
	return o, ok
}

func (r *registry) objectList() []SettingsObject {
	r.mu.RLock()
	list := make([]SettingsObject, 0, len(r.settings))
	for _, o := range r.settings {
		list = append(list, o)
	}
	r.mu.RUnlock()
	slices.SortFunc(list, func(a, b SettingsObject) int { return strings.Compare(a.Name, b.Name) })
	return list
}

func (r *registry) resolve(req map[string]map[string]bool, def tenants.PortalDefaults) (map[string]bool, error) {
	out := make(map[string]bool)
	for _, o := range r.objectList() {
		given := req[o.Name]
		value := func(sw *Switch) bool {
			if v, ok := given[sw.Field]; ok {
				return v
			}
			return sw.Default != nil && sw.Default(def)
		}
		for _, sw := range o.Switches {
			out[sw.key] = value(sw)
		}
		if o.Validate != nil {
			if err := o.Validate(value); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalidSettings, o.Name, err)
			}
		}
	}
	return out, nil
}

func (r *registry) sessionSwitches(stored map[string]bool, legacy tenants.PortalDefaults) Switches {
	var s Switches
	for _, o := range r.objectList() {
		for _, sw := range o.Switches {
			v, ok := stored[sw.key]
			if !ok {
				v = sw.Default != nil && sw.Default(legacy)
			}
			if v {
				s |= 1 << (sw.bit - 1)
			}
		}
	}
	return s
}

// Messenger is implemented by sections that bring their own message catalogs instead of adding
// to the central ones of package i18n. Register merges them (i18n.AddCatalog) and panics when a
// catalog does not load or one of its keys is already taken.
type Messenger interface {
	Section
	// Messages is the section's catalogs: one JSON file per language, named and written as
	// i18n's own ("en.json", required; "de.json", "fr.json", "es.json", "pt-BR.json", "ja.json"
	// as translated). Keys start with the section's name by convention ("example_language.title").
	Messages() fs.FS
}
