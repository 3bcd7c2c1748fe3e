package plugins

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants"
)

// configurable is a test section with a settings object.
type configurable struct {
	fake
	obj SettingsObject
}

func (c configurable) Settings() SettingsObject { return c.obj }

var _ Configurable = configurable{}

func sw(field string) *Switch { return &Switch{Field: field} }

func TestRegisterSettingsPanics(t *testing.T) {
	t.Parallel()
	show := sw("showSection")
	many := make([]*Switch, MaxSwitches)
	for i := range many {
		many[i] = sw(fmt.Sprintf("s%d", i))
	}
	tests := []struct {
		name string
		obj  SettingsObject
		want string
	}{
		{"bad object name", SettingsObject{Name: "usage", Switches: []*Switch{sw("a")}}, `settings object name "usage" must be camelCase`},
		{"reserved-looking name", SettingsObject{Name: "Usage Settings", Switches: []*Switch{sw("a")}}, "must be camelCase"},
		{"duplicate object", SettingsObject{Name: "takenSettings", Switches: []*Switch{sw("a")}}, `settings object "takenSettings" is already the object of section taken`},
		{"no switches", SettingsObject{Name: "usageSettings"}, "has no switches"},
		{"nil switch", SettingsObject{Name: "usageSettings", Switches: []*Switch{nil}}, "nil switch"},
		{"bad field", SettingsObject{Name: "usageSettings", Switches: []*Switch{sw("show-section")}}, `switch "show-section" of "usageSettings" must be camelCase`},
		{"duplicate field", SettingsObject{Name: "usageSettings", Switches: []*Switch{sw("a"), sw("a")}}, `switch "a" is declared twice`},
		{"show not a switch", SettingsObject{Name: "usageSettings", Show: show, Switches: []*Switch{sw("a")}}, "Show switch of \"usageSettings\" is not one of its Switches"},
		{"too many", SettingsObject{Name: "usageSettings", Switches: many}, "more than the session cookie's 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry()
			r.register(configurable{fake{"taken"}, SettingsObject{Name: "takenSettings", Switches: []*Switch{sw("a")}}})
			got := panicMessage(func() { r.register(configurable{fake{"usage"}, tt.obj}) })
			if !strings.Contains(got, tt.want) {
				t.Fatalf("register panicked with %q, want %q", got, tt.want)
			}
			if _, err := r.lookup("usage"); err == nil {
				t.Fatal("a refused section was registered")
			}
		})
	}
}

// A switch belongs to one registration: registering it again (another registry, another object)
// panics instead of reassigning the bit live sessions carry.
func TestSwitchRegisteredOnce(t *testing.T) {
	t.Parallel()
	a := sw("a")
	newRegistry().register(configurable{fake{"one"}, SettingsObject{Name: "oneSettings", Switches: []*Switch{a}}})
	got := panicMessage(func() {
		newRegistry().register(configurable{fake{"two"}, SettingsObject{Name: "twoSettings", Switches: []*Switch{a}}})
	})
	if !strings.Contains(got, `switch "a" of "twoSettings" is already registered (oneSettings.a)`) {
		t.Fatalf("panic %q", got)
	}
}

// Switches get distinct bits in registration order; Resolve takes the request's values, else the
// defaults of the tenant's portal settings; SessionSwitches turns stored values (or, for a link
// that does not name a switch, its legacy defaults) into the session's bits; Shown follows the
// section's Show switch.
func TestSwitchesResolveAndSession(t *testing.T) {
	t.Parallel()
	show, edit := sw("showSection"), &Switch{Field: "allowEdit", Default: func(p tenants.PortalDefaults) bool { return p.AllowDetailsEdit }}
	other := &Switch{Field: "showSection", Default: func(tenants.PortalDefaults) bool { return true }}
	r := newRegistry()
	r.register(configurable{fake{"usage"}, SettingsObject{Name: "usageSettings", Show: show, Switches: []*Switch{show, edit}}})
	r.register(configurable{fake{"other"}, SettingsObject{Name: "otherSettings", Show: other, Switches: []*Switch{other}}})
	if show.bit == edit.bit || show.bit == other.bit || edit.bit == other.bit || show.bit == 0 {
		t.Fatalf("bits %d %d %d", show.bit, edit.bit, other.bit)
	}
	if show.Key() != "usageSettings.showSection" || other.Key() != "otherSettings.showSection" {
		t.Fatalf("keys %q %q", show.Key(), other.Key())
	}
	got, err := r.resolve(map[string]map[string]bool{"usageSettings": {"showSection": true}}, tenants.PortalDefaults{AllowDetailsEdit: true})
	want := map[string]bool{"usageSettings.showSection": true, "usageSettings.allowEdit": true, "otherSettings.showSection": true}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("resolve = %v, %v; want %v", got, err, want)
	}
	got, _ = r.resolve(map[string]map[string]bool{"otherSettings": {"showSection": false}}, tenants.PortalDefaults{})
	want = map[string]bool{"usageSettings.showSection": false, "usageSettings.allowEdit": false, "otherSettings.showSection": false}
	if !maps.Equal(got, want) {
		t.Fatalf("resolve = %v; want %v", got, want)
	}
	s := r.sessionSwitches(map[string]bool{"usageSettings.showSection": true, "usageSettings.allowEdit": false}, tenants.PortalDefaults{AllowDetailsEdit: true})
	if !s.On(show) || s.On(edit) || !s.On(other) || s.Len() != 2 {
		t.Fatalf("session switches %b: show %v edit %v other %v", s, s.On(show), s.On(edit), s.On(other))
	}
	legacy := r.sessionSwitches(nil, tenants.PortalDefaults{AllowDetailsEdit: true})
	if legacy.On(show) || !legacy.On(edit) || !legacy.On(other) {
		t.Fatalf("legacy link switches %b", legacy)
	}
	if s.On(sw("unregistered")) {
		t.Fatal("an unregistered switch is on")
	}
}

// Validate sees the resolved values; its error refuses the request as ErrInvalidSettings.
func TestResolveValidate(t *testing.T) {
	t.Parallel()
	show, edit := sw("showSection"), sw("allowEdit")
	r := newRegistry()
	r.register(configurable{fake{"usage"}, SettingsObject{Name: "usageSettings", Show: show, Switches: []*Switch{show, edit},
		Validate: func(on func(*Switch) bool) error {
			if on(edit) && !on(show) {
				return errors.New("allowEdit needs showSection")
			}
			return nil
		}}})
	if _, err := r.resolve(map[string]map[string]bool{"usageSettings": {"allowEdit": true, "showSection": true}}, tenants.PortalDefaults{}); err != nil {
		t.Fatal(err)
	}
	_, err := r.resolve(map[string]map[string]bool{"usageSettings": {"allowEdit": true}}, tenants.PortalDefaults{})
	if !errors.Is(err, ErrInvalidSettings) || !strings.Contains(err.Error(), "usageSettings: allowEdit needs showSection") {
		t.Fatalf("err = %v", err)
	}
}
