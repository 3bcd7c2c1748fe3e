package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

// validPlan is a plan every rule accepts: a flat base fee and seats from 1 to 50.
const validPlan = `{"id":"team-monthly","name":"Team","description":"For small teams",
 "features":["Unlimited projects","Priority support"],"currency":"EUR","interval":"month",
 "items":[{"product":"Team plan","pricingModel":"flat","quantity":1,"unitAmount":4900},
          {"product":"Seats","pricingModel":"per_unit","quantity":5,"unit":"seat","unitAmount":1200,"minQuantity":1,"maxQuantity":50}],
 "family":"team","movesTo":["business-monthly"]}`

// withPlan returns validPlan with field set to the JSON value v (or removed when v is "").
func withPlan(t *testing.T, field, v string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(validPlan), &m); err != nil {
		t.Fatal(err)
	}
	if v == "" {
		delete(m, field)
	} else {
		m[field] = json.RawMessage(v)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("%s=%s: %v", field, v, err)
	}
	return string(b)
}

func TestDecodePlanValid(t *testing.T) {
	t.Parallel()
	pl, err := DecodePlan([]byte(validPlan))
	if err != nil {
		t.Fatal(err)
	}
	if pl.ID != "team-monthly" || len(pl.Items) != 2 || *pl.Items[1].MaxQuantity != 50 || pl.Items[1].UnitAmount == nil {
		t.Fatalf("decoded %+v", pl)
	}
	for _, tc := range []struct{ field, v string }{
		{"intervalCount", "3"}, {"intervalCount", "0"}, {"interval", `"year"`}, {"family", ""}, {"movesTo", ""},
		{"features", ""}, {"description", ""}, {"archived", "true"}, {"currency", `"JPY"`}, {"currency", `"VES"`},
		{"name", `"` + strings.Repeat("é", MaxNameLen) + `"`},
	} {
		if _, err := DecodePlan([]byte(withPlan(t, tc.field, tc.v))); err != nil {
			t.Errorf("%s=%s refused: %v", tc.field, tc.v, err)
		}
	}
}

// TestPlanRules: every rule of a plan refuses what it must, naming the field by its JSON path.
func TestPlanRules(t *testing.T) {
	t.Parallel()
	item := func(extra string) string {
		return `[{"product":"Seats","pricingModel":"per_unit","quantity":5,"unitAmount":1200` + extra + `}]`
	}
	many := func(n int, v string) string { return "[" + strings.TrimSuffix(strings.Repeat(v+",", n), ",") + "]" }
	tests := []struct {
		name, field, v, want string
	}{
		{"missing id", "id", "", "id: is required"},
		{"id with slash", "id", `"a/b"`, "id: is required and must be"},
		{"long id", "id", `"` + strings.Repeat("a", 129) + `"`, "id: is required and must be"},
		{"missing name", "name", "", "name: is required"},
		{"blank name", "name", `"  "`, "name: is required"},
		{"long name", "name", `"` + strings.Repeat("a", MaxNameLen+1) + `"`, "name: is longer than 100 characters"},
		{"control in name", "name", `"a\u0007b"`, "name: contains control characters"},
		{"long description", "description", `"` + strings.Repeat("a", MaxDescriptionLen+1) + `"`, "description: is longer than 500"},
		{"too many features", "features", many(MaxFeatures+1, `"x"`), "features: has 21 entries, the limit is 20"},
		{"empty feature", "features", `["a",""]`, "features[1]: is required"},
		{"long feature", "features", `["` + strings.Repeat("a", MaxFeatureLen+1) + `"]`, "features[0]: is longer than 120"},
		{"missing currency", "currency", "", `currency: "" is not an ISO 4217`},
		{"lower currency", "currency", `"eur"`, `currency: "eur" is not an ISO 4217`},
		{"unknown currency", "currency", `"EURO"`, `currency: "EURO"`},
		{"missing interval", "interval", "", `interval: "" is not one of day, week, month, year`},
		{"bad interval", "interval", `"fortnight"`, `interval: "fortnight"`},
		{"negative count", "intervalCount", "-1", "intervalCount: must be from 1 to 36 months"},
		{"long count", "intervalCount", "37", "intervalCount: must be from 1 to 36 months"},
		{"no items", "items", "[]", "items: a plan needs at least one priced item"},
		{"missing items", "items", "", "items: a plan needs at least one priced item"},
		{"too many items", "items", many(MaxPlanItems+1, `{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":1}`), "items: has 21 entries, the limit is 20"},
		{"item without product", "items", `[{"pricingModel":"flat","quantity":1,"unitAmount":1}]`, "items[0].product: is required"},
		{"item model", "items", `[{"product":"p","pricingModel":"free","quantity":1}]`, `items[0].pricingModel: "free" is not one of`},
		{"item quantity", "items", `[{"product":"p","pricingModel":"per_unit","quantity":-1,"unitAmount":1}]`, "items[0].quantity: must not be negative"},
		{"item tiers on flat", "items", `[{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":1,"tiers":[{"upTo":null,"unitAmount":1}]}]`, "items[0].tiers: are only allowed with tiered"},
		{"item beyond tiers", "items", `[{"product":"p","pricingModel":"tiered","quantity":5,"tiers":[{"upTo":2,"unitAmount":1}]}]`, "items[0]: " /* the pricing engine's words */},
		{"limits on flat", "items", `[{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":1,"maxQuantity":3}]`, "items[0].minQuantity: seat limits are only allowed on per_unit items"},
		{"negative min", "items", item(`,"minQuantity":-1`), "items[0].minQuantity: must not be negative"},
		{"min above max", "items", item(`,"minQuantity":6,"maxQuantity":4`), "items[0].maxQuantity: is 4, less than minQuantity 6"},
		{"quantity below min", "items", item(`,"minQuantity":6`), "items[0].maxQuantity: is 5, less than minQuantity 6"},
		{"quantity above max", "items", item(`,"minQuantity":1,"maxQuantity":4`), "items[0].quantity: is 5, outside minQuantity 1 – maxQuantity 4"},
		{"max overflows", "items", item(`,"maxQuantity":9000000000000000`), "items[0].maxQuantity: "},
		{"sum overflows", "items", `[{"product":"a","pricingModel":"flat","quantity":1,"unitAmount":5000000000000000000},{"product":"b","pricingModel":"flat","quantity":1,"unitAmount":5000000000000000000}]`, "items: "},
		{"bad family", "family", `"a b"`, "family: must be"},
		{"bad move", "movesTo", `["ok","a b"]`, "movesTo[1]: must be a plan id"},
		{"move to itself", "movesTo", `["team-monthly"]`, "movesTo[0]: names the plan itself"},
		{"move twice", "movesTo", `["x","x"]`, `movesTo[1]: "x" is named twice`},
		{"too many moves", "movesTo", many(MaxMovesTo+1, `"x"`), "movesTo: has 51 entries, the limit is 50"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodePlan([]byte(withPlan(t, tt.field, tt.v)))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestPlanItemsLikeAccounts: a plan's items are refused exactly as a subscription's items with
// the same content are (the rules are the account document's, not a copy).
func TestPlanItemsLikeAccounts(t *testing.T) {
	t.Parallel()
	for _, it := range []account.Item{
		{Product: "", PricingModel: account.PricingFlat, Quantity: 1},
		{Product: "p", PricingModel: "gratis", Quantity: 1},
		{Product: "p", PricingModel: account.PricingVolume, Quantity: 3, Tiers: []account.Tier{{UpTo: new(int64(1)), UnitAmount: new(int64(5))}}},
		{Product: "p", PricingModel: account.PricingPerUnit, Quantity: 3, UnitAmountDecimal: "0.3x"},
	} {
		pl := Plan{ID: "p", Name: "P", Currency: "EUR", Interval: IntervalMonth, Items: []Item{{Item: it}}}
		a := account.Account{ID: "a", Name: "A", Currency: "EUR", Subscriptions: []account.Subscription{{ID: "s", Name: "S", Status: account.SubActive, Items: []account.Item{it}}}}
		perr, aerr := pl.Validate(), a.Validate()
		if perr == nil || aerr == nil {
			t.Fatalf("item %+v: plan error %v, account error %v", it, perr, aerr)
		}
		want := strings.Join(account.ItemProblems("items[0]", &it), "; ")
		if want == "" || !strings.Contains(perr.Error(), want) {
			t.Errorf("plan error %q does not hold the item's problems %q", perr, want)
		}
		if !strings.Contains(aerr.Error(), "subscriptions[0]."+strings.Split(want, ";")[0]) {
			t.Errorf("account error %q does not name the same problem %q", aerr, want)
		}
	}
}

// TestDecodeRefuses: what the JSON decoder refuses, and the size limits.
func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
		policy          bool
	}{
		{"empty", ``, "body is empty", false},
		{"malformed", `{"id":`, "ends in the middle", false},
		{"unknown field", withPlan(t, "colour", `"red"`), `unknown field "colour"`, false},
		{"unknown item field", withPlan(t, "items", `[{"product":"p","pricingModel":"flat","quantity":1,"unitAmount":1,"seats":2}]`), `unknown field "seats"`, false},
		{"wrong type", withPlan(t, "intervalCount", `"2"`), `field "intervalCount" must be an integer`, false},
		{"trailing", validPlan + ` {}`, "unexpected data", false},
		{"oversize plan", withPlan(t, "description", `"`+strings.Repeat("a", MaxPlanSize)+`"`), "plan is 65", false},
		{"policy unknown field", `{"refunds":true}`, `unknown field "refunds"`, true},
		{"policy trailing", `{} []`, "unexpected data", true},
		{"policy oversize", `{"offers":[{"message":"` + strings.Repeat("a", MaxPolicySize) + `"}]}`, "policy is 16", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tt.policy {
				_, err = DecodePolicy([]byte(tt.doc))
			} else {
				_, err = DecodePlan([]byte(tt.doc))
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

// TestPlanProblemsAll: a plan with several problems names each of them, up to twenty.
func TestPlanProblemsAll(t *testing.T) {
	t.Parallel()
	pl := Plan{ID: "a b", Currency: "eur", Interval: "eon"}
	err := pl.Validate()
	for _, want := range []string{"id: ", "name: ", "currency: ", "interval: ", "items: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	pl = Plan{ID: "p", Name: "P", Currency: "EUR", Interval: IntervalMonth, Items: []Item{{Item: account.Item{Product: "p", PricingModel: account.PricingFlat, Quantity: 1, UnitAmount: new(int64(1))}}}}
	for range 30 {
		pl.Features = append(pl.Features, "")
	}
	pl.Features = pl.Features[:MaxFeatures]
	if err := pl.Validate(); err == nil || strings.Count(err.Error(), "; ") != 19 {
		t.Fatalf("20 empty features: %v, want twenty problems", err)
	}
}

func TestPolicyRules(t *testing.T) {
	t.Parallel()
	valid := []string{
		`{}`,
		`{"upgrades":"now","downgrades":"period_end","seats":"now_without_proration","pause":true,"pauseMaxPeriods":3,
		  "offers":[{"reason":"pricing","percentOff":50,"periods":2,"message":"Stay with us"},{"reason":"","percentOff":10,"periods":1}]}`,
		`{"pause":true}`,
		`{"pause":true,"pauseMaxPeriods":12}`,
		`{"offers":[{"reason":"other","percentOff":100,"periods":24}]}`,
	}
	for _, doc := range valid {
		if _, err := DecodePolicy([]byte(doc)); err != nil {
			t.Errorf("%s refused: %v", doc, err)
		}
	}
	var all []string
	for _, r := range account.CancelReasons {
		all = append(all, fmt.Sprintf(`{"reason":%q,"percentOff":5,"periods":1}`, r))
	}
	all = append(all, `{"reason":"","percentOff":5,"periods":1}`)
	if _, err := DecodePolicy([]byte(`{"offers":[` + strings.Join(all, ",") + `]}`)); err != nil {
		t.Errorf("an offer per reason and one for any reason refused: %v", err)
	}
	tests := []struct{ name, doc, want string }{
		{"upgrades", `{"upgrades":"later"}`, `upgrades: "later" is not one of now, now_without_proration, period_end`},
		{"downgrades", `{"downgrades":"Now"}`, `downgrades: "Now"`},
		{"seats", `{"seats":"renewal"}`, `seats: "renewal"`},
		{"negative pause", `{"pause":true,"pauseMaxPeriods":-1}`, "pauseMaxPeriods: must be from 1 to 12"},
		{"long pause", `{"pause":true,"pauseMaxPeriods":13}`, "pauseMaxPeriods: must be from 1 to 12"},
		{"periods without pause", `{"pauseMaxPeriods":2}`, "pauseMaxPeriods: is only used when pause is true"},
		{"unknown reason", `{"offers":[{"reason":"price","percentOff":5,"periods":1}]}`, `offers[0].reason: "price" is not one of no_longer_required, moving_provider, pricing`},
		{"reason twice", `{"offers":[{"reason":"pricing","percentOff":5,"periods":1},{"reason":"pricing","percentOff":6,"periods":1}]}`, `offers[1].reason: "pricing" has an offer already`},
		{"any twice", `{"offers":[{"reason":"","percentOff":5,"periods":1},{"percentOff":6,"periods":1}]}`, `offers[1].reason: "" has an offer already`},
		{"zero percent", `{"offers":[{"reason":"pricing","percentOff":0,"periods":1}]}`, "offers[0].percentOff: must be from 1 to 100"},
		{"over 100 percent", `{"offers":[{"reason":"pricing","percentOff":101,"periods":1}]}`, "offers[0].percentOff: must be from 1 to 100"},
		{"zero periods", `{"offers":[{"reason":"pricing","percentOff":5}]}`, "offers[0].periods: must be from 1 to 24"},
		{"long offer", `{"offers":[{"reason":"pricing","percentOff":5,"periods":25}]}`, "offers[0].periods: must be from 1 to 24"},
		{"long message", `{"offers":[{"reason":"pricing","percentOff":5,"periods":1,"message":"` + strings.Repeat("a", MaxMessageLen+1) + `"}]}`, "offers[0].message: is longer than 500"},
		{"control in message", `{"offers":[{"reason":"pricing","percentOff":5,"periods":1,"message":"a\nb"}]}`, "offers[0].message: contains control characters"},
		{"too many offers", `{"offers":[` + strings.Join(append(all, all[0]), ",") + `]}`, "offers: has 9 entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodePolicy([]byte(tt.doc))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}
