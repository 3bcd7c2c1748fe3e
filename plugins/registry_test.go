package plugins

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

type fake struct{ name string }

func (f fake) Name() string                  { return f.name }
func (f fake) Render(io.Writer, *View) error { return nil }

type positioned struct {
	fake
	pos int
}

func (p positioned) Position() int { return p.pos }

var _ Positioner = positioned{}

func newRegistry() *registry { return &registry{sections: make(map[string]Section)} }

// panicMessage runs f and returns what it panicked with, or "" when it did not panic.
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "non-string panic"
			}
		}
	}()
	f()
	return ""
}

func TestRegisterPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		section Section
		want    string
	}{
		{"nil", nil, "plugins: Register section is nil"},
		{"empty name", fake{""}, "plugins: Register section with empty name"},
		{"not snake case", fake{"Plan-Overview"}, `plugins: Register section with invalid name "Plan-Overview"`},
		{"space", fake{"plan overview"}, `invalid name "plan overview"`},
		{"duplicate", fake{"invoices"}, "plugins: Register called twice for section invoices"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry()
			r.register(fake{"invoices"})
			got := panicMessage(func() { r.register(tt.section) })
			if got == "" || !strings.Contains(got, tt.want) {
				t.Fatalf("register(%v) panicked with %q, want %q", tt.section, got, tt.want)
			}
		})
	}
}

func TestRegisterAcceptsSnakeCase(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	for _, name := range []string{"plan_overview", "invoices", "billing_details", "usage2"} {
		if msg := panicMessage(func() { r.register(fake{name}) }); msg != "" {
			t.Errorf("register(%q) panicked: %s", name, msg)
		}
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	r.register(fake{"invoices"})
	s, err := r.lookup("invoices")
	if err != nil || s.Name() != "invoices" {
		t.Fatalf("lookup(invoices) = %v, %v", s, err)
	}
	s, err = r.lookup("usage")
	if s != nil || !errors.Is(err, ErrUnknownSection) {
		t.Fatalf("lookup(usage) = %v, %v; want ErrUnknownSection", s, err)
	}
	if want := `plugins: unknown section "usage" (forgotten import?)`; err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestNamesAndOrdered(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	for _, s := range []Section{
		fake{"zeta"},
		positioned{fake{"invoices"}, 20},
		fake{"alpha"},
		positioned{fake{"billing_details"}, 30},
		positioned{fake{"plan_overview"}, 10},
		positioned{fake{"late"}, 5000},
		positioned{fake{"b_tie"}, 20},
	} {
		r.register(s)
	}
	if got, want := r.names(), []string{"alpha", "b_tie", "billing_details", "invoices", "late", "plan_overview", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	var got []string
	for _, s := range r.ordered() {
		got = append(got, s.Name())
	}
	if want := []string{"plan_overview", "b_tie", "invoices", "billing_details", "alpha", "zeta", "late"}; !slices.Equal(got, want) {
		t.Errorf("ordered = %v, want %v", got, want)
	}
}

func TestEmptyRegistry(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	if n := r.names(); len(n) != 0 {
		t.Errorf("names = %v", n)
	}
	if o := r.ordered(); len(o) != 0 {
		t.Errorf("ordered = %v", o)
	}
}

// registrations counts TestPackageRegistry's runs, so that -count=N registers new names each time.
var registrations atomic.Int32

// TestPackageRegistry exercises the package-level functions with names no real section uses.
func TestPackageRegistry(t *testing.T) {
	n := registrations.Add(1)
	name := fmt.Sprintf("test_registry_%d", n)
	Register(positioned{fake{name}, -int(n)})
	if s, err := Lookup(name); err != nil || s.Name() != name {
		t.Fatalf("Lookup = %v, %v", s, err)
	}
	if _, err := Lookup("test_registry_missing"); !errors.Is(err, ErrUnknownSection) {
		t.Fatalf("Lookup(missing) error = %v", err)
	}
	if !slices.Contains(Names(), name) {
		t.Fatalf("Names() = %v", Names())
	}
	if o := Ordered(); len(o) == 0 || o[0].Name() != name {
		t.Fatalf("Ordered()[0] is not the section at position %d: %v", -n, o)
	}
	if msg := panicMessage(func() { Register(fake{name}) }); msg != "plugins: Register called twice for section "+name {
		t.Fatalf("second Register panicked with %q", msg)
	}
}

type eventer struct {
	fake
	types []string
}

func (e eventer) EventTypes() []string { return e.types }

var _ Eventer = eventer{}

// TestSectionEventTypes: a section's declared event types are listed, sorted, for webhook
// subscriptions; a malformed name, one of Portico's own and one another section declared panic.
func TestSectionEventTypes(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	r.register(eventer{fake{"usage"}, []string{"usage.threshold_reached", "usage.alert_set"}})
	r.register(eventer{fake{"language"}, []string{"account.locale.updated"}})
	if got, want := r.eventTypes(), []string{"account.locale.updated", "usage.alert_set", "usage.threshold_reached"}; !slices.Equal(got, want) {
		t.Fatalf("event types %q, want %q", got, want)
	}
	for _, tt := range []struct{ typ, want string }{
		{"Usage.Alert", `invalid event type "Usage.Alert"`},
		{"usage", `invalid event type "usage"`},
		{"usage..alert", `invalid event type "usage..alert"`},
		{"subscription.canceled", `event type "subscription.canceled" is Portico's own`},
		{"account.locale.updated", `event type "account.locale.updated" is declared by section language too`},
	} {
		msg := panicMessage(func() { r.register(eventer{fake{"other"}, []string{tt.typ}}) })
		if !strings.Contains(msg, tt.want) {
			t.Errorf("declaring %q: panic %q, want %q", tt.typ, msg, tt.want)
		}
	}
}
