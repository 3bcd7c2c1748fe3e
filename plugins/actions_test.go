package plugins

import (
	"strings"
	"testing"
)

type actor struct {
	fake
	actions []Action
}

func (a actor) Actions() []Action { return a.actions }

var _ Actor = actor{}

func handle(ActionContext) {}

func TestActionMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, path, arg string
		ok                 bool
	}{
		{"/billing/edit", "/billing/edit", "", true},
		{"/billing/edit", "/billing/edit/x", "", false},
		{"/subscriptions/{id}/cancel", "/subscriptions/sub_1/cancel", "sub_1", true},
		{"/subscriptions/{id}/cancel", "/subscriptions/a/b/cancel", "", false},
		{"/subscriptions/{id}/cancel", "/subscriptions/sub_1/reactivate", "", false},
		{"/payment-methods/{id}", "/payment-methods/pm_1", "pm_1", true},
	}
	for _, tt := range tests {
		a := Action{Path: tt.pattern}
		arg, ok := a.Match(tt.path)
		if ok != tt.ok || (ok && arg != tt.arg) {
			t.Errorf("%s matching %s = %q, %v; want %q, %v", tt.pattern, tt.path, arg, ok, tt.arg, tt.ok)
		}
	}
}

func TestRegisterActionsPanics(t *testing.T) {
	t.Parallel()
	sw := &Switch{Field: "x"}
	tests := []struct {
		name   string
		action Action
		want   string
	}{
		{"method", Action{Method: "PUT", Path: "/a", Handle: handle}, "method must be GET or POST"},
		{"relative", Action{Method: "GET", Path: "a", Handle: handle}, "path must be absolute"},
		{"two args", Action{Method: "GET", Path: "/a/{id}/{id}", Handle: handle}, `one segment "{id}"`},
		{"no handler", Action{Method: "GET", Path: "/a"}, "Handle is nil"},
		{"needs without refusal", Action{Method: "GET", Path: "/a", Needs: sw, Handle: handle}, "Needs without a Refusal"},
		{"taken route", Action{Method: "POST", Path: "/taken/{id}", Handle: handle}, "the route is already section taken's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry()
			r.register(actor{fake{"taken"}, []Action{{Method: "POST", Path: "/taken/{id}", Handle: handle}}})
			got := panicMessage(func() { r.register(actor{fake{"usage"}, []Action{tt.action}}) })
			if !strings.Contains(got, tt.want) {
				t.Fatalf("panic %q, want %q", got, tt.want)
			}
		})
	}
}
