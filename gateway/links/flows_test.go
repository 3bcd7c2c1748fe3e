package links_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
)

// probe is a section outside the standard set with a flow of its own, open_probe, which takes the
// param probeId: "refuse" is refused, "fail" fails as a backend would, anything else is accepted
// and stored as "<probeId>.<account id>.<allowPayment>", which says what Check was given.
type probe struct{}

func (probe) Name() string                          { return "links_probe" }
func (probe) Render(io.Writer, *plugins.View) error { return nil }

var _ plugins.Flower = probe{}

var errProbeDown = errors.New("probe: backend down")

func (probe) Flows() []plugins.Flow {
	return []plugins.Flow{{
		Name:   "open_probe",
		Params: []string{"probeId"},
		Check: func(ctx context.Context, r *plugins.FlowRequest) (string, error) {
			switch id := r.Param("probeId"); id {
			case "refuse":
				return "", plugins.BadFlow("flow open_probe refuses probe %q", id)
			case "fail":
				return "", errProbeDown
			}
			a, err := r.Account(ctx)
			if err != nil {
				return "", err
			}
			allow := "deny"
			if r.Settings["invoiceListSettings.allowPayment"] {
				allow = "allow"
			}
			return r.Param("probeId") + "." + a.ID + "." + allow, nil
		},
		Landing: func(t *tenants.Tenant, arg string) string {
			if arg == "" {
				return ""
			}
			return "/probe/" + t.Slug + "/" + arg
		},
	}}
}

func init() { plugins.Register(probe{}) }

// TestRequestFlowParams: the params the registered flows declare are decoded into FlowParams (a
// null or empty value is not given), a wrong type names the field, a field no flow declares is
// unknown, and MarshalJSON writes them back.
func TestRequestFlowParams(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body string
		want map[string]string
		err  string
	}{
		{`{"accountId":"a","flow":"pay_invoice","invoiceId":"inv_1"}`, map[string]string{"invoiceId": "inv_1"}, ""},
		{`{"accountId":"a","flow":"open_probe","probeId":"p","subscriptionId":"sub_1"}`, map[string]string{"probeId": "p", "subscriptionId": "sub_1"}, ""},
		{`{"accountId":"a","invoiceId":null,"subscriptionId":""}`, nil, ""},
		{`{"accountId":"a","invoiceId":7}`, nil, "json: cannot unmarshal number into Go struct field .invoiceId of type string"},
		{`{"accountId":"a","probeId":{"x":1}}`, nil, "json: cannot unmarshal object into Go struct field .probeId of type string"},
		{`{"accountId":"a","probeIds":"p"}`, nil, `json: unknown field "probeIds"`},
	} {
		var r links.Request
		err := json.Unmarshal([]byte(tt.body), &r)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || !maps.Equal(r.FlowParams, tt.want) || (tt.want == nil) != (r.FlowParams == nil) {
			t.Errorf("%s: FlowParams %v, %v; want %v", tt.body, r.FlowParams, err, tt.want)
			continue
		}
		b, err := json.Marshal(r)
		var back links.Request
		if err != nil || json.Unmarshal(b, &back) != nil || !maps.Equal(back.FlowParams, r.FlowParams) || back.Flow != r.Flow {
			t.Errorf("%s: round trip %s, %v", tt.body, b, err)
		}
	}
}

// TestFlowsFromSections: Create checks a flow with the check of the section that declares it,
// given the session's resolved settings, the flow's params and the account; the link stores the
// flow with the argument the check returned, and Landing asks the flow where it lands. Unknown
// flows, params without their flow and the flows' refusals are client errors matching ErrBadFlow
// (links' and plugins'); a check's own failure is not.
func TestFlowsFromSections(t *testing.T) {
	t.Parallel()
	f := newEmailFixture(t, false)
	ctx := context.Background()
	create := func(r *links.Request) (string, error) {
		r.AccountID = "acc_7Hq2LmX9"
		res, _, err := f.e.Issuer.Create(ctx, f.tenant, r, links.Options{CreatedBy: "test"})
		if err != nil {
			return "", err
		}
		_, tok, _ := strings.Cut(res.SessionURL, "/s/")
		l, err := f.store.PeekLink(ctx, f.tenant.ID, tok, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return l.Flow, nil
	}

	for _, tt := range []struct {
		name    string
		r       links.Request
		stored  string
		landing string
	}{
		{"no flow", links.Request{}, "", "/"},
		{"section outside the standard set", links.Request{Flow: "open_probe", FlowParams: map[string]string{"probeId": "p1"}},
			"open_probe:p1.acc_7Hq2LmX9.allow", "/probe/acme/p1.acc_7Hq2LmX9.allow"},
		{"with the request's settings", links.Request{Flow: "open_probe", FlowParams: map[string]string{"probeId": "p2"},
			Sections: map[string]map[string]bool{"invoiceListSettings": {"allowPayment": false}}},
			"open_probe:p2.acc_7Hq2LmX9.deny", "/probe/acme/p2.acc_7Hq2LmX9.deny"},
		{"standard with argument", links.Request{Flow: "pay_invoice", FlowParams: map[string]string{"invoiceId": "inv_2026_0007"}},
			"pay_invoice:inv_2026_0007", "/pay/inv_2026_0007"},
		{"standard without argument", links.Request{Flow: "billing_details"}, "billing_details", "/billing/edit"},
		{"an empty param is not given", links.Request{Flow: "cancel_subscription", FlowParams: map[string]string{"invoiceId": ""}},
			"cancel_subscription:sub_Pro_01", "/subscriptions/sub_Pro_01/cancel"},
	} {
		stored, err := create(&tt.r)
		if err != nil || stored != tt.stored {
			t.Errorf("%s: stored %q, %v; want %q", tt.name, stored, err, tt.stored)
			continue
		}
		if got := links.Landing(f.tenant, stored); got != tt.landing {
			t.Errorf("%s: Landing(%q) = %q, want %q", tt.name, stored, got, tt.landing)
		}
	}

	for _, tt := range []struct {
		name string
		r    links.Request
		want string
	}{
		{"unknown flow", links.Request{Flow: "delete_account"},
			`links: flow "delete_account" is not one of billing_details, cancel_subscription, open_probe, pay_invoice, subscription_update, subscription_update_confirm, update_payment_method`},
		{"not a lower-case name", links.Request{Flow: "Pay_Invoice"}, `links: flow "Pay_Invoice" is not one of billing_details,`},
		{"param without flow", links.Request{FlowParams: map[string]string{"subscriptionId": "sub_Pro_01"}},
			"links: subscriptionId is only used with flow cancel_subscription"},
		{"param of another flow", links.Request{Flow: "pay_invoice", FlowParams: map[string]string{"invoiceId": "inv_2026_0007", "probeId": "p"}},
			"links: probeId is only used with flow open_probe"},
		{"param of no flow", links.Request{FlowParams: map[string]string{"priceId": "p"}}, "links: priceId is not a param of any flow"},
		{"refused by the section", links.Request{Flow: "open_probe", FlowParams: map[string]string{"probeId": "refuse"}},
			`links: flow open_probe refuses probe "refuse"`},
		{"refused by a standard section", links.Request{Flow: "pay_invoice", FlowParams: map[string]string{"invoiceId": "inv_2026_0005"}},
			`links: invoice "inv_2026_0005" has nothing to pay (status paid)`},
	} {
		_, err := create(&tt.r)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
			continue
		}
		if !errors.Is(err, links.ErrBadFlow) || !errors.Is(err, plugins.ErrBadFlow) || !links.IsClientError(err) {
			t.Errorf("%s: %v is not a client error matching ErrBadFlow", tt.name, err)
		}
	}

	_, err := create(&links.Request{Flow: "open_probe", FlowParams: map[string]string{"probeId": "fail"}})
	if !errors.Is(err, errProbeDown) || errors.Is(err, links.ErrBadFlow) || links.IsClientError(err) ||
		err.Error() != "links: checking flow open_probe: probe: backend down" {
		t.Errorf("failing check: %v, want it wrapped as Portico's error", err)
	}
	// A flow this build does not know (any more) and one stored without its argument land on
	// the overview.
	for _, stored := range []string{"", "retired_flow:x", "open_probe", "pay_invoice", ":x"} {
		if got := links.Landing(f.tenant, stored); got != "/" {
			t.Errorf("Landing(%q) = %q, want /", stored, got)
		}
	}
}
