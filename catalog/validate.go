package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portico-billing/portico/tenants/account"
)

// Limits of a catalog. A plan is stored as one etcd value and the whole catalog is read for the
// change-plan page, so both are bounded: MaxPlans plans of at most MaxPlanSize bytes each.
const (
	// MaxPlans is the number of plans a tenant's catalog holds, archived ones included (they
	// stay for the subscriptions on them).
	MaxPlans = 500
	// MaxPlanSize is the largest plan accepted, in bytes of JSON: 64 KiB.
	MaxPlanSize = 64 << 10
	// MaxPolicySize is the largest change policy accepted, in bytes of JSON: 16 KiB.
	MaxPolicySize = 16 << 10
	// MaxPlanItems is the number of priced items of one plan.
	MaxPlanItems = 20
	// MaxFeatures is the number of feature lines of one plan.
	MaxFeatures = 20
	// MaxMovesTo is the number of plans one plan may name in MovesTo.
	MaxMovesTo = 50
	// MaxPausePeriods is the longest pause a policy may allow, in periods.
	MaxPausePeriods = 12
	// MaxOfferPeriods is the longest a retention offer may last, in periods.
	MaxOfferPeriods = 24
)

// Text limits, in characters.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 500
	MaxFeatureLen     = 120
	MaxMessageLen     = 500
)

// maxIntervalCount bounds IntervalCount per interval: at most three years.
var maxIntervalCount = map[string]int{IntervalDay: 1095, IntervalWeek: 156, IntervalMonth: 36, IntervalYear: 3}

// Timings are the values of Policy.Upgrades, Downgrades and Seats, in the order the dashboard
// shows them.
var Timings = []string{Now, NowWithoutProration, PeriodEnd}

// ErrInvalid is wrapped by every validation and decoding error of a plan or a policy.
var ErrInvalid = errors.New("invalid catalog")

// problems collects validation failures by JSON path, at most twenty, like the account
// document's.
type problems struct{ list []string }

func (p *problems) add(field, format string, args ...any) {
	if len(p.list) < 20 {
		p.list = append(p.list, field+": "+fmt.Sprintf(format, args...))
	}
}

func (p *problems) addAll(list []string) {
	for _, s := range list {
		if len(p.list) < 20 {
			p.list = append(p.list, s)
		}
	}
}

func (p *problems) err(what string) error {
	if len(p.list) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrInvalid, what, strings.Join(p.list, "; "))
}

// text checks a text field by the account document's rules (account.TextProblem), a required
// one also refused when it is only spaces.
func (p *problems) text(field, v string, required bool, max int) {
	if required && strings.TrimSpace(v) == "" {
		p.add(field, "is required")
	} else if msg := account.TextProblem(v, false, max); msg != "" {
		p.add(field, "%s", msg)
	}
}

// Validate checks the plan and returns every problem found (up to twenty), each prefixed with
// the JSON path of the field. Its items follow the account document's rules for a
// subscription's items (account.ItemProblems).
func (pl *Plan) Validate() error {
	var p problems
	if !account.ValidID(pl.ID) {
		p.add("id", "is required and must be 1-128 letters, digits or _.:@+- starting with a letter or digit")
	}
	p.text("name", pl.Name, true, MaxNameLen)
	p.text("description", pl.Description, false, MaxDescriptionLen)
	if len(pl.Features) > MaxFeatures {
		p.add("features", "has %d entries, the limit is %d", len(pl.Features), MaxFeatures)
	} else {
		for i, f := range pl.Features {
			p.text(fmt.Sprintf("features[%d]", i), f, true, MaxFeatureLen)
		}
	}
	if !account.ValidCurrency(pl.Currency) {
		p.add("currency", "%q is not an ISO 4217 currency code", pl.Currency)
	}
	if maxCount, ok := maxIntervalCount[pl.Interval]; !ok {
		p.add("interval", "%q is not one of day, week, month, year", pl.Interval)
	} else if pl.IntervalCount < 0 || pl.IntervalCount > maxCount {
		p.add("intervalCount", "must be from 1 to %d %ss (0 means 1)", maxCount, pl.Interval)
	}
	pl.validateItems(&p)
	if pl.Family != "" && !account.ValidID(pl.Family) {
		p.add("family", "must be 1-128 letters, digits or _.:@+- starting with a letter or digit")
	}
	if len(pl.MovesTo) > MaxMovesTo {
		p.add("movesTo", "has %d entries, the limit is %d", len(pl.MovesTo), MaxMovesTo)
	} else {
		seen := map[string]bool{}
		for i, id := range pl.MovesTo {
			f := fmt.Sprintf("movesTo[%d]", i)
			switch {
			case !account.ValidID(id):
				p.add(f, "must be a plan id")
			case id == pl.ID:
				p.add(f, "names the plan itself")
			case seen[id]:
				p.add(f, "%q is named twice", id)
			}
			seen[id] = true
		}
	}
	return p.err(fmt.Sprintf("plan %q", pl.ID))
}

func (pl *Plan) validateItems(p *problems) {
	switch {
	case len(pl.Items) == 0:
		p.add("items", "a plan needs at least one priced item")
		return
	case len(pl.Items) > MaxPlanItems:
		p.add("items", "has %d entries, the limit is %d", len(pl.Items), MaxPlanItems)
		return
	}
	priced := true
	for i := range pl.Items {
		it := &pl.Items[i]
		f := fmt.Sprintf("items[%d]", i)
		list := account.ItemProblems(f, &it.Item)
		p.addAll(list)
		if len(list) > 0 {
			priced = false
		}
		if it.MinQuantity == nil && it.MaxQuantity == nil {
			continue
		}
		if it.PricingModel != account.PricingPerUnit {
			p.add(f+".minQuantity", "seat limits are only allowed on per_unit items")
			continue
		}
		lo, hi := it.Limits()
		if it.MinQuantity != nil && lo < 0 {
			p.add(f+".minQuantity", "must not be negative")
			continue
		}
		if lo > hi {
			p.add(f+".maxQuantity", "is %d, less than minQuantity %d", hi, lo)
			continue
		}
		if it.Quantity < lo || it.Quantity > hi {
			p.add(f+".quantity", "is %d, outside minQuantity %d – maxQuantity %d", it.Quantity, lo, hi)
			continue
		}
		// The most a customer may choose must still be priced.
		top := it.Item
		top.Quantity = hi
		if _, err := top.Charge(); err != nil {
			p.add(f+".maxQuantity", "%s", strings.TrimPrefix(err.Error(), account.ErrPricing.Error()+": "))
			priced = false
		}
	}
	if !priced {
		return
	}
	if _, err := pl.Total(); err != nil {
		p.add("items", "%s", strings.TrimPrefix(err.Error(), account.ErrPricing.Error()+": "))
	}
}

// Total is the price of one period of the plan at its items' quantities (account.ItemsTotal:
// account.ErrPricing when it cannot be priced).
func (pl *Plan) Total() (int64, error) { return account.ItemsTotal(pl.accountItems()) }

// accountItems are the plan's items as the account document's.
func (pl *Plan) accountItems() []account.Item {
	items := make([]account.Item, len(pl.Items))
	for i := range pl.Items {
		items[i] = pl.Items[i].Item
	}
	return items
}

// ValidTiming reports whether s is a Policy timing: "" (PeriodEnd), Now, NowWithoutProration
// or PeriodEnd.
func ValidTiming(s string) bool { return s == "" || slices.Contains(Timings, s) }

// Validate checks the policy and returns every problem found, each prefixed with the JSON path
// of the field.
func (po *Policy) Validate() error {
	var p problems
	for _, f := range []struct{ name, v string }{{"upgrades", po.Upgrades}, {"downgrades", po.Downgrades}, {"seats", po.Seats}} {
		if !ValidTiming(f.v) {
			p.add(f.name, "%q is not one of now, now_without_proration, period_end", f.v)
		}
	}
	switch {
	case po.PauseMaxPeriods < 0 || po.PauseMaxPeriods > MaxPausePeriods:
		p.add("pauseMaxPeriods", "must be from 1 to %d (0 means 1)", MaxPausePeriods)
	case !po.Pause && po.PauseMaxPeriods != 0:
		p.add("pauseMaxPeriods", "is only used when pause is true")
	}
	if len(po.Offers) > len(account.CancelReasons)+1 {
		p.add("offers", "has %d entries, the limit is one per reason and one for any reason: %d", len(po.Offers), len(account.CancelReasons)+1)
		return p.err("policy")
	}
	seen := map[string]bool{}
	for i, o := range po.Offers {
		f := fmt.Sprintf("offers[%d]", i)
		switch {
		case o.Reason != "" && !slices.Contains(account.CancelReasons, o.Reason):
			p.add(f+".reason", "%q is not one of %s, or \"\" for any other reason", o.Reason, strings.Join(account.CancelReasons, ", "))
		case seen[o.Reason]:
			p.add(f+".reason", "%q has an offer already", o.Reason)
		}
		seen[o.Reason] = true
		if o.PercentOff < 1 || o.PercentOff > 100 {
			p.add(f+".percentOff", "must be from 1 to 100")
		}
		if o.Periods < 1 || o.Periods > MaxOfferPeriods {
			p.add(f+".periods", "must be from 1 to %d", MaxOfferPeriods)
		}
		p.text(f+".message", o.Message, false, MaxMessageLen)
	}
	return p.err("policy")
}

// DecodePlan reads one plan: unknown fields, trailing data, wrong types and plans over
// MaxPlanSize are refused with an error that names the problem. The plan is validated.
func DecodePlan(data []byte) (*Plan, error) { return decode[Plan](data, MaxPlanSize, "plan") }

// DecodePolicy reads a change policy as DecodePlan reads a plan (MaxPolicySize).
func DecodePolicy(data []byte) (*Policy, error) {
	return decode[Policy](data, MaxPolicySize, "policy")
}

// decode reads what (a plan or a policy) of at most max bytes strictly, as account.Decode reads
// a document (account.UnmarshalStrict), and validates it.
func decode[T any, PT interface {
	*T
	Validate() error
}](data []byte, max int, what string) (*T, error) {
	if len(data) > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d", ErrInvalid, what, len(data), max)
	}
	var v T
	if err := account.UnmarshalStrict(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := PT(&v).Validate(); err != nil {
		return nil, err
	}
	return &v, nil
}
