package plugins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants"
)

type flower struct {
	fake
	flows []Flow
}

func (f flower) Flows() []Flow { return f.flows }

var _ Flower = flower{}

// flow is a flow of the name whose Check accepts anything and whose Landing is "/<name>".
func flow(name string, params ...string) Flow {
	return Flow{
		Name:    name,
		Params:  params,
		Check:   func(context.Context, *FlowRequest) (string, error) { return "", nil },
		Landing: func(*tenants.Tenant, string) string { return "/" + name },
	}
}

// TestSectionFlows: sections' flows are listed by name, sorted, and found by name; a param names
// the flows that take it, sorted.
func TestSectionFlows(t *testing.T) {
	t.Parallel()
	r := newRegistry()
	r.register(flower{fake{"plans"}, []Flow{flow("cancel_plan", "planId"), flow("change_plan", "planId", "seats")}})
	r.register(flower{fake{"usage"}, []Flow{flow("set_alert")}})
	r.register(fake{"quiet"})
	if got, want := r.flowNames(), []string{"cancel_plan", "change_plan", "set_alert"}; !slices.Equal(got, want) {
		t.Fatalf("flow names %q, want %q", got, want)
	}
	f, ok := r.lookupFlow("set_alert")
	if !ok || f.Name != "set_alert" || f.Landing(nil, "") != "/set_alert" {
		t.Fatalf("lookupFlow(set_alert) = %+v, %v", f, ok)
	}
	for _, name := range []string{"", "Set_Alert", "quiet"} {
		if _, ok := r.lookupFlow(name); ok {
			t.Errorf("lookupFlow(%q) found a flow", name)
		}
	}
	for _, tt := range []struct {
		param string
		want  []string
	}{
		{"planId", []string{"cancel_plan", "change_plan"}},
		{"seats", []string{"change_plan"}},
		{"alertId", nil},
	} {
		if got, ok := r.flowParam(tt.param); !slices.Equal(got, tt.want) || ok != (tt.want != nil) {
			t.Errorf("flowParam(%q) = %q, %v; want %q", tt.param, got, ok, tt.want)
		}
	}
}

// TestRegisterFlowPanics: a flow without a name, with a name that is not a lower-case
// identifier, declared twice or by another section, without Check or Landing, or with a param
// that is not a camelCase field of its own panics at Register.
func TestRegisterFlowPanics(t *testing.T) {
	t.Parallel()
	noCheck := flow("no_check")
	noCheck.Check = nil
	noLanding := flow("no_landing")
	noLanding.Landing = nil
	for _, tt := range []struct {
		name  string
		flows []Flow
		want  string
	}{
		{"empty name", []Flow{flow("")}, "plugins: Register section other: flow with empty name"},
		{"upper case", []Flow{flow("Cancel_Plan")}, `invalid flow name "Cancel_Plan"`},
		{"dash", []Flow{flow("cancel-plan")}, `invalid flow name "cancel-plan"`},
		{"leading digit", []Flow{flow("1cancel")}, `invalid flow name "1cancel"`},
		{"colon", []Flow{flow("pay:all")}, `invalid flow name "pay:all"`},
		{"twice", []Flow{flow("pay_all"), flow("pay_all")}, "flow pay_all is declared twice"},
		{"another section's", []Flow{flow("cancel_plan")}, "flow cancel_plan is declared by section plans too"},
		{"no check", []Flow{noCheck}, "flow no_check needs Check and Landing"},
		{"no landing", []Flow{noLanding}, "flow no_landing needs Check and Landing"},
		{"param not camelCase", []Flow{flow("pay_all", "invoice_id")}, `param "invoice_id" of flow pay_all must be camelCase`},
		{"param a settings object", []Flow{flow("pay_all", "paySettings")}, `param "paySettings" of flow pay_all must be camelCase and not end in "Settings"`},
		{"param a request field", []Flow{flow("pay_all", "accountId")}, `param "accountId" of flow pay_all is a field of the session request`},
		{"param flow", []Flow{flow("pay_all", "flow")}, `param "flow" of flow pay_all is a field of the session request`},
		{"param twice", []Flow{flow("pay_all", "invoiceId", "invoiceId")}, `param "invoiceId" of flow pay_all is declared twice`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRegistry()
			r.register(flower{fake{"plans"}, []Flow{flow("cancel_plan", "planId")}})
			msg := panicMessage(func() { r.register(flower{fake{"other"}, tt.flows}) })
			if !strings.Contains(msg, tt.want) {
				t.Fatalf("panic %q, want %q", msg, tt.want)
			}
			if got := r.flowNames(); !slices.Equal(got, []string{"cancel_plan"}) {
				t.Errorf("after the panic the flows are %q: a refused section added some", got)
			}
		})
	}
}

// TestFlowError: BadFlow's errors match ErrBadFlow, also wrapped, and say their detail after the
// package prefix; FlowRequest answers its settings by switch and its params by name.
func TestFlowError(t *testing.T) {
	t.Parallel()
	err := BadFlow("flow %s needs %s", "pay_invoice", "invoiceId")
	if !errors.Is(err, ErrBadFlow) || !errors.Is(fmt.Errorf("checking: %w", err), ErrBadFlow) {
		t.Fatalf("%v does not match ErrBadFlow", err)
	}
	if got, want := err.Error(), "plugins: flow pay_invoice needs invoiceId"; got != want {
		t.Fatalf("error %q, want %q", got, want)
	}
	var fe *FlowError
	if !errors.As(err, &fe) || fe.Detail != "flow pay_invoice needs invoiceId" {
		t.Fatalf("errors.As: %+v", fe)
	}
	if errors.Is(errors.New("plugins: invalid flow"), ErrBadFlow) {
		t.Fatal("another error with the same text matches ErrBadFlow")
	}
	on := &Switch{Field: "allowPayment", key: "invoiceListSettings.allowPayment", bit: 1}
	off := &Switch{Field: "showSection", key: "invoiceListSettings.showSection", bit: 2}
	r := &FlowRequest{Settings: map[string]bool{on.Key(): true, off.Key(): false}, Params: map[string]string{"invoiceId": "inv_1"}}
	if !r.On(on) || r.On(off) || r.On(nil) || r.On(&Switch{Field: "unregistered"}) {
		t.Errorf("On: %v %v %v", r.On(on), r.On(off), r.On(nil))
	}
	if r.Param("invoiceId") != "inv_1" || r.Param("subscriptionId") != "" {
		t.Errorf("Param: %q %q", r.Param("invoiceId"), r.Param("subscriptionId"))
	}
}
