// Package planoverview is the Plan overview section of the portal: every subscription of the
// account with its status, estimated next charge and date, current period and a pricing breakdown
// by item (tier by tier for tiered and volume prices), plus the cancel and reactivate controls when
// the session allows them.
//
// It registers itself as "plan_overview" when imported. Like every section it renders from the
// plugins.View alone and performs no I/O. The cancel form and the cancel and reactivate posts are
// its actions (actions.go), permitted by planOverviewSettings.allowSubscriptionCancel; the deep-link
// flow cancel_subscription lands on the cancel form (flows.go).
package planoverview

import (
	"cmp"
	_ "embed"
	"net/url"
	"slices"
	"strings"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "plan_overview"

//go:embed planoverview.html
var source string

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 10, "plan.title", source, newPage)})
}

// The switches of planOverviewSettings.
var (
	// ShowSection shows the section (tenant default: PortalDefaults.ShowPlanOverview).
	ShowSection = &plugins.Switch{Field: "showSection", Default: func(p tenants.PortalDefaults) bool { return p.ShowPlanOverview }}
	// AllowCancel shows the cancel and reactivate controls and permits their actions (tenant
	// default: PortalDefaults.AllowSubscriptionCancel).
	AllowCancel = &plugins.Switch{Field: "allowSubscriptionCancel", Role: plugins.RoleOwner, Default: func(p tenants.PortalDefaults) bool { return p.AllowSubscriptionCancel }}
	// AllowPlanChange shows "Change plan" on subscriptions that are on a catalog plan and
	// permits its pages (tenant default: PortalDefaults.AllowPlanChange).
	AllowPlanChange = &plugins.Switch{Field: "allowPlanChange", Role: plugins.RoleOwner, Default: func(p tenants.PortalDefaults) bool { return p.AllowPlanChange }}
	// AllowQuantityChange shows "Change seats" on the per_unit items of subscriptions on a
	// catalog plan and permits its pages (tenant default: PortalDefaults.AllowQuantityChange).
	AllowQuantityChange = &plugins.Switch{Field: "allowQuantityChange", Role: plugins.RoleOwner, Default: func(p tenants.PortalDefaults) bool { return p.AllowQuantityChange }}
	// AllowPause shows "Pause" where the tenant's change policy allows pausing, and "Resume" on
	// a paused subscription, and permits their actions (tenant default: PortalDefaults.AllowPause).
	AllowPause = &plugins.Switch{Field: "allowPause", Role: plugins.RoleOwner, Default: func(p tenants.PortalDefaults) bool { return p.AllowPause }}
)

// section is the Plan overview: a template section with its settings object.
type section struct{ *plugins.TemplateSection }

var _ plugins.Configurable = section{}

// Settings declares planOverviewSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "planOverviewSettings", Show: ShowSection, Switches: []*plugins.Switch{ShowSection, AllowCancel,
		AllowPlanChange, AllowQuantityChange, AllowPause}}
}

// Webhook event types of the section's changes (plugins.Eventer), beside Portico's own
// subscription.* events of cancelling.
const (
	// EventChangeRequested: a plan or seat change was recorded as pending on the subscription
	// (the tenant has no backend): the tenant carries it out and pushes the updated document.
	EventChangeRequested = "subscription.change_requested"
	// EventChangeSucceeded and EventChangeFailed: the tenant's backend answered a
	// subscription.change request succeeded or declined.
	EventChangeSucceeded = "subscription.change_succeeded"
	EventChangeFailed    = "subscription.change_failed"
)

var _ plugins.Eventer = section{}

// EventTypes declares the section's event types.
func (section) EventTypes() []string {
	return append([]string{EventChangeRequested, EventChangeSucceeded, EventChangeFailed}, pauseEvents...)
}

// page is what the template renders: every value is already formatted text.
type page struct {
	Name       string
	Title      string
	Prefix     string
	TenantName string
	Subs       []sub
}

type badge struct{ Label, Class string }

type sub struct {
	Index          int
	ID, Name       string
	Badges         []badge
	NextCharge     string
	NextChargeDate string
	Period         string
	EndedLabel     string // "Canceled on" or "Ended on"
	EndedOn        string
	Items          []item
	// Discounts, Adjustment and Total close the pricing breakdown when the next charge is shown:
	// the items less the discounts plus the adjustment are Total, the estimated next charge
	// (account.Breakdown).
	Discounts  []adjust
	Adjustment *adjust
	Total      string
	// ChangesTitle and Changes say what changed since the subscription's last invoice, by
	// product ("+€240.00: Seats from 40 seats to 42 seats since Nov 1, 2026").
	ChangesTitle  string
	Changes       []string
	CanCancel     bool
	Scheduled     bool
	ScheduledOn   string // date the scheduled cancellation takes effect (period end), may be ""
	CanReactivate bool
	// ChangePlan and ChangeSeats are the change pages' paths, "" when not offered; Pending
	// says the change requested and not carried out yet.
	ChangePlan, ChangeSeats string
	Pending                 string
	// Pause and offers (pause.go, offers.go).
	CanPause, CanResume bool
	Notices             []string // a requested pause or resume, the pause's end, an accepted offer
}

type item struct {
	Product   string
	Model     string
	Quantity  string // "" when it does not apply
	UnitPrice string // "" for tiered and volume items: see Tiers
	Amount    string
	Tiers     []tier
	TierOf    string // "Tier of <product>", for screen readers on the tier rows
	// Steps is the item's arithmetic ("42 × €120.00 = €5,040.00"), opened on demand.
	Steps []string
}

// adjust is a row of the breakdown's foot: a discount, or what the document's estimate differs by.
type adjust struct {
	Label  string
	Amount string
	Steps  []string
}

type tier struct {
	Range     string
	Quantity  string
	UnitPrice string
	Amount    string
	Applied   bool
}

// statusKeys and modelKeys are the messages of the subscription statuses and pricing models.
var (
	statusKeys = messageKeys("plan.status.", account.SubActive, account.SubTrialing, account.SubPastDue,
		account.SubPaused, account.SubCanceled, account.SubEnded, account.SubPending)
	modelKeys = messageKeys("plan.model.", account.PricingFlat, account.PricingPerUnit, account.PricingTiered,
		account.PricingVolume, account.PricingFee)
)

func messageKeys(prefix string, values ...string) map[string]string {
	m := make(map[string]string, len(values))
	for _, v := range values {
		m[v] = prefix + v
	}
	return m
}

// label is the message of a value in keys (a status, a pricing model), or the value as it is.
func label(p *i18n.Printer, keys map[string]string, value string) string {
	if key, ok := keys[value]; ok {
		return p.T(key)
	}
	return value
}

// newPage builds the page data of v.
func newPage(v *plugins.View) page {
	p := page{Name: Name, Title: v.Printer().T("plan.title"), Prefix: v.PathPrefix, TenantName: v.TenantName}
	a := v.Account
	if a == nil {
		return p
	}
	p.Subs = make([]sub, 0, len(a.Subscriptions))
	for i := range a.Subscriptions {
		p.Subs = append(p.Subs, subscription(&a.Subscriptions[i], i+1, a.Currency, v))
	}
	return p
}

func subscription(s *account.Subscription, index int, cur string, v *plugins.View) sub {
	loc, tr := v.Locale, v.Printer()
	out := sub{Index: index, ID: s.ID, Name: s.Name}
	ended := s.Ended()
	out.Scheduled = s.CancelScheduled()
	out.ScheduledOn = i18n.Date(cmp.Or(s.CurrentPeriodEnd, s.CanceledAt).Civil(), loc)

	statusBadge := badge{label(tr, statusKeys, s.Status), "status-" + strings.ReplaceAll(s.Status, "_", "-")}
	if out.Scheduled {
		label := tr.T("plan.scheduled")
		if out.ScheduledOn != "" {
			label = tr.T("plan.scheduledOn", "date", out.ScheduledOn)
		}
		scheduled := badge{label, "status-scheduled"}
		if s.Status == account.SubActive || s.Status == account.SubTrialing {
			out.Badges = []badge{scheduled}
		} else {
			out.Badges = []badge{statusBadge, scheduled}
		}
	} else {
		out.Badges = []badge{statusBadge}
	}

	b, berr := s.Breakdown()
	switch {
	case ended, out.Scheduled:
	case s.Status == account.SubPaused && s.NextChargeDate == "":
	default:
		if berr == nil {
			out.NextCharge = i18n.Money(b.Total, cur, loc)
			breakdownFoot(&out, b, cur, v)
			if last := v.Account.LastInvoice(s); last != nil {
				since := i18n.Date(last.IssueDate.Civil(), loc)
				out.ChangesTitle = tr.T("changes.title", "date", since)
				if out.Changes = account.ChangeTexts(b.ChangesSince(last), tr, cur, loc, since); len(out.Changes) == 0 {
					out.Changes = []string{tr.T("changes.none", "date", since)}
				}
			}
		} else {
			out.NextCharge = tr.T("common.notAvailable")
		}
		out.NextChargeDate = i18n.Date(s.NextChargeDate.Civil(), loc)
	}

	start, end := i18n.Date(s.CurrentPeriodStart.Civil(), loc), i18n.Date(s.CurrentPeriodEnd.Civil(), loc)
	switch {
	case start != "" && end != "":
		out.Period = start + " – " + end
	case start != "":
		out.Period = tr.T("plan.since", "date", start)
	case end != "":
		out.Period = tr.T("plan.until", "date", end)
	}
	if ended && s.CanceledAt != "" {
		out.EndedLabel = tr.T("plan.canceledOn")
		if s.Status == account.SubEnded {
			out.EndedLabel = tr.T("plan.endedOn")
		}
		out.EndedOn = i18n.Date(s.CanceledAt.Civil(), loc)
	}

	out.CanCancel = v.On(AllowCancel) && s.Cancellable()
	out.CanReactivate = v.On(AllowCancel) && out.Scheduled
	if Changeable(s) {
		esc := v.PathPrefix + "/subscriptions/" + url.PathEscape(s.ID)
		if v.On(AllowPlanChange) {
			out.ChangePlan = esc + "/change"
		}
		if v.On(AllowQuantityChange) && slices.ContainsFunc(s.Items, func(it account.Item) bool { return it.PricingModel == account.PricingPerUnit }) {
			out.ChangeSeats = esc + "/seats"
		}
	}
	if pc := s.PendingChange; pc != nil && s.Bills() {
		date := i18n.Date(pc.EffectiveDate.Civil(), loc)
		switch {
		case pc.PlanID != "":
			out.Pending = tr.T("plan.pendingPlan", "plan", cmp.Or(pc.PlanName, pc.PlanID), "date", date)
		case pc.Item != nil && pc.Quantity != nil && *pc.Item >= 0 && *pc.Item < len(s.Items):
			it := &s.Items[*pc.Item]
			out.Pending = tr.T("plan.pendingSeats", "product", it.Product, "quantity", quantity(*pc.Quantity, it.Unit, loc), "date", date)
		}
	}
	pauseState(&out, s, v)

	out.Items = make([]item, 0, len(s.Items))
	for i := range s.Items {
		it := &s.Items[i]
		if berr == nil {
			r := &b.Items[i]
			out.Items = append(out.Items, priceItem(it, r.Charge, nil, r.Steps, cur, loc, tr))
		} else {
			c, err := it.Charge()
			out.Items = append(out.Items, priceItem(it, c, err, it.Steps(c), cur, loc, tr))
		}
	}
	return out
}

// breakdownFoot fills the rows under the items: each discount that applies with its arithmetic,
// what the document's own estimate differs by, and the estimate.
func breakdownFoot(out *sub, b *account.Breakdown, cur string, v *plugins.View) {
	loc, tr := v.Locale, v.Printer()
	for _, d := range b.Discounts {
		out.Discounts = append(out.Discounts, adjust{
			Label:  tr.T("plan.discount", "name", d.Discount.Description),
			Amount: i18n.Money(-d.Amount, cur, loc),
			Steps:  account.StepTexts(d.Steps, tr, cur, loc, nil),
		})
	}
	if b.Difference != 0 {
		out.Adjustment = &adjust{
			Label:  tr.T("plan.adjustment"),
			Amount: i18n.Money(b.Difference, cur, loc),
			Steps: []string{tr.T("plan.adjustment.note", "tenant", cmp.Or(v.TenantName, tr.T("plan.adjustment.yourProvider")),
				"estimate", i18n.Money(b.Total, cur, loc), "computed", i18n.Money(b.Computed, cur, loc))},
		}
	}
	if len(out.Discounts) > 0 || out.Adjustment != nil || len(b.Items) > 1 {
		out.Total = i18n.Money(b.Total, cur, loc)
	}
}

// priceItem formats an item priced c (or err) with its arithmetic steps.
func priceItem(it *account.Item, c account.ItemCharge, err error, steps []account.Step, cur, loc string, tr *i18n.Printer) item {
	out := item{Product: it.Product, Model: label(tr, modelKeys, it.PricingModel)}
	if it.PricingModel != account.PricingFlat {
		out.Quantity = quantity(it.Quantity, it.Unit, loc)
	}
	if err != nil {
		out.Amount = tr.T("common.notAvailable")
		return out
	}
	out.Amount = i18n.Money(c.Amount, cur, loc)
	out.Steps = account.StepTexts(steps, tr, cur, loc, func(n int64) string { return quantity(n, it.Unit, loc) })
	if it.PricingModel != account.PricingTiered && it.PricingModel != account.PricingVolume {
		out.UnitPrice = c.UnitPrice.Format(cur, loc)
		return out
	}
	out.TierOf = tr.T("plan.tierOf", "product", it.Product)
	out.Tiers = make([]tier, 0, len(c.Tiers))
	for _, tc := range c.Tiers {
		t := tier{Applied: tc.Units > 0}
		switch {
		case tc.To < 0:
			t.Range = tr.T("plan.tierAbove", "from", i18n.Number(tc.From, loc))
		case tc.To == tc.From:
			t.Range = i18n.Number(tc.From, loc)
		default:
			t.Range = i18n.Number(tc.From, loc) + " – " + i18n.Number(tc.To, loc)
		}
		switch {
		case tc.Flat > 0 && tc.UnitPrice.IsZero():
			t.UnitPrice = tr.T("plan.tierFlat", "amount", i18n.Money(tc.Flat, cur, loc))
		case tc.Flat > 0:
			t.UnitPrice = tr.T("plan.tierUnitFlat", "price", tc.UnitPrice.Format(cur, loc), "amount", i18n.Money(tc.Flat, cur, loc))
		default:
			t.UnitPrice = tc.UnitPrice.Format(cur, loc)
		}
		if t.Applied {
			t.Quantity = quantity(tc.Units, it.Unit, loc)
			t.Amount = i18n.Money(tc.Amount, cur, loc)
		}
		out.Tiers = append(out.Tiers, t)
	}
	return out
}

// quantity writes n with its unit in the locale's language (i18n.Quantity).
func quantity(n int64, unit, loc string) string { return i18n.Quantity(n, unit, loc) }
