package plugins

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Flower is implemented by sections that own deep-link flows: steps of the section a session
// request may land the customer on instead of the overview ("flow": "cancel_subscription"). The
// section checks the flow when the session is created and names the page a redeemed link opens;
// the issuer of sessions (package links) and the portal know no flow by name.
type Flower interface {
	Section
	// Flows declares the section's flows. It is called once, by Register.
	Flows() []Flow
}

// Flow is a deep-link flow of a section. A link stores it as its Name, or "<Name>:<arg>" when
// Check returns an argument ("pay_invoice:inv_1"); its Landing gets the argument back when the
// link is redeemed.
type Flow struct {
	// Name is the flow's value of "flow" in the session request: a lower-case identifier
	// ("cancel_subscription"), unique among all registered flows. It is public API and never
	// changes once released.
	Name string
	// Params are the session request's string fields the flow takes ("subscriptionId"),
	// camelCase. A request gives them only with a flow that declares them (else 400 "<param> is
	// only used with flow <name>"); flows may share one, meaning the same thing.
	Params []string
	// Check validates a session request for the flow, when the session is created, against the
	// session's settings, the request's params and the account, and returns the argument the
	// link stores with the flow's name ("" for none). A refusal is an error wrapping ErrBadFlow,
	// best BadFlow's; other errors (loading the account) are returned as they are.
	Check func(ctx context.Context, r *FlowRequest) (arg string, err error)
	// Landing is the portal path a redeemed link of the flow redirects to, given the stored
	// argument; "" for the overview ("/"). It runs when the link is redeemed, maybe long after
	// Check, so it must cope with a tenant that changed since.
	Landing func(t *tenants.Tenant, arg string) string
}

// FlowRequest is what a flow's Check gets of a session request.
type FlowRequest struct {
	// Tenant is the tenant's configuration; it must not be modified.
	Tenant *tenants.Tenant
	// Settings are the session's resolved switches by Key ("invoiceListSettings.allowPayment"),
	// as Resolve returns them: the request's values, else the tenant's defaults.
	Settings map[string]bool
	// Params are the request's values of the flow's Params that it gave (not empty).
	Params map[string]string
	// Account loads the session's account document; it is shared and must not be modified.
	Account func(ctx context.Context) (*account.Account, error)
	// Catalog loads the tenant's catalog of plans and change policy; it is shared and must not
	// be modified.
	Catalog func(ctx context.Context) (*tenants.CatalogSnapshot, error)
}

// On reports whether the session has the switch on.
func (r *FlowRequest) On(sw *Switch) bool { return sw != nil && r.Settings[sw.Key()] }

// Param is the request's value of the param, "" when not given.
func (r *FlowRequest) Param(name string) string { return r.Params[name] }

// ErrBadFlow is wrapped by the refusals of flows: an unknown flow, a flow the session's settings
// forbid, a param it does not take, or an argument (a subscription, an invoice) that does not fit.
var ErrBadFlow = errors.New("plugins: invalid flow")

// FlowError is a flow's refusal of a session request; it matches ErrBadFlow. Detail, without
// the package prefix, is meant as the session API's detail.
type FlowError struct{ Detail string }

func (e *FlowError) Error() string { return "plugins: " + e.Detail }

// Is reports whether target is ErrBadFlow.
func (e *FlowError) Is(target error) bool { return target == ErrBadFlow }

// BadFlow is a FlowError with the formatted detail, for Check:
// BadFlow("flow %s needs %s", name, AllowCancel.Key()).
func BadFlow(format string, args ...any) error {
	return &FlowError{Detail: fmt.Sprintf(format, args...)}
}

// flowRE is the form of a flow name: a lower-case identifier.
var flowRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// LookupFlow returns the registered flow of the name.
func LookupFlow(name string) (Flow, bool) { return defaultRegistry.lookupFlow(name) }

// FlowNames returns the names of the registered flows, sorted.
func FlowNames() []string { return defaultRegistry.flowNames() }

// FlowParam reports whether name is a param of a registered flow, and the flows that take it,
// sorted.
func FlowParam(name string) (flows []string, ok bool) { return defaultRegistry.flowParam(name) }

func (r *registry) lookupFlow(name string) (Flow, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	f, ok := r.flows[name]
	return f.Flow, ok
}

func (r *registry) flowNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.flows))
	for name := range r.flows {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (r *registry) flowParam(name string) ([]string, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for _, f := range r.flows {
		if slices.Contains(f.Params, name) {
			out = append(out, f.Name)
		}
	}
	slices.Sort(out)
	return out, len(out) > 0
}

// sectionFlow is a registered flow and its section.
type sectionFlow struct {
	Flow
	section string
}

// registerFlows checks a section's flows and adds them. The caller holds r.mu.
func (r *registry) registerFlows(name string, flows []Flow) {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("plugins: Register section %s: ", name) + fmt.Sprintf(format, args...))
	}
	seen := map[string]bool{}
	for _, f := range flows {
		switch {
		case f.Name == "":
			fail("flow with empty name")
		case !flowRE.MatchString(f.Name):
			fail("invalid flow name %q (want a lower-case identifier: a-z, 0-9 and _)", f.Name)
		case seen[f.Name]:
			fail("flow %s is declared twice", f.Name)
		case f.Check == nil || f.Landing == nil:
			fail("flow %s needs Check and Landing", f.Name)
		}
		if other, dup := r.flows[f.Name]; dup {
			fail("flow %s is declared by section %s too", f.Name, other.section)
		}
		seen[f.Name] = true
		for i, p := range f.Params {
			switch {
			case !fieldRE.MatchString(p) || strings.HasSuffix(p, "Settings"):
				fail("param %q of flow %s must be camelCase and not end in \"Settings\"", p, f.Name)
			case reservedFields[p]:
				fail("param %q of flow %s is a field of the session request", p, f.Name)
			case slices.Contains(f.Params[:i], p):
				fail("param %q of flow %s is declared twice", p, f.Name)
			}
		}
	}
	if r.flows == nil {
		r.flows = make(map[string]sectionFlow)
	}
	for _, f := range flows {
		f.Params = slices.Clone(f.Params)
		r.flows[f.Name] = sectionFlow{f, name}
	}
}
