// Package planoverview is the Plan overview section of the portal: every subscription of the
// account with its status, estimated next charge and date, current period and a pricing breakdown
// by item (tier by tier for tiered and volume prices), plus the cancel and reactivate controls when
// the session allows them.
//
// It registers itself as "plan_overview" when imported. Like every section it renders from the
// plugins.View alone and performs no I/O; the cancel and reactivate actions are handled by the
// gateway at the URLs the controls point to.
package planoverview

import (
	"cmp"
	_ "embed"
	"html/template"
	"io"
	"strings"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/format"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "plan_overview"

func init() { plugins.Register(section{}) }

type section struct{}

var (
	_ plugins.Section    = section{}
	_ plugins.Positioner = section{}
	_ plugins.Titler     = section{}
)

//go:embed planoverview.html
var source string

var tmpl = template.Must(template.New(Name).Funcs(plugins.Funcs()).Parse(source))

// titles are the section's heading by base language (see format.Language); English is the fallback.
var titles = map[string]string{
	"en": "Plan overview",
}

func (section) Name() string  { return Name }
func (section) Position() int { return 10 }

func (section) Title(locale string) string {
	if t, ok := titles[format.Language(locale)]; ok {
		return t
	}
	return titles["en"]
}

func (s section) Render(w io.Writer, v *plugins.View) error {
	return tmpl.Execute(w, s.page(v))
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
	CanCancel      bool
	Scheduled      bool
	ScheduledOn    string // date the scheduled cancellation takes effect (period end), may be ""
	CanReactivate  bool
}

type item struct {
	Product   string
	Model     string
	Quantity  string // "" when it does not apply
	UnitPrice string // "" for tiered and volume items: see Tiers
	Amount    string
	Tiers     []tier
}

type tier struct {
	Range     string
	Quantity  string
	UnitPrice string
	Amount    string
	Applied   bool
}

var statusLabels = map[string]string{
	account.SubActive:   "Active",
	account.SubTrialing: "Trialing",
	account.SubPastDue:  "Past due",
	account.SubPaused:   "Paused",
	account.SubCanceled: "Canceled",
	account.SubEnded:    "Ended",
	account.SubPending:  "Pending",
}

var modelLabels = map[string]string{
	account.PricingFlat:    "Flat fee",
	account.PricingPerUnit: "Per unit",
	account.PricingTiered:  "Tiered",
	account.PricingVolume:  "Volume",
	account.PricingFee:     "One-off fee",
}

// notAvailable stands for an amount that cannot be computed from the document.
const notAvailable = "Not available"

func (s section) page(v *plugins.View) page {
	p := page{Name: Name, Title: s.Title(v.Locale), Prefix: v.PathPrefix, TenantName: v.TenantName}
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
	loc := v.Locale
	out := sub{Index: index, ID: s.ID, Name: s.Name}
	ended := s.Status == account.SubCanceled || s.Status == account.SubEnded
	out.Scheduled = s.CancelAtPeriodEnd && !ended
	out.ScheduledOn = format.Date(cmp.Or(s.CurrentPeriodEnd, s.CanceledAt), loc)

	status, ok := statusLabels[s.Status]
	if !ok {
		status = s.Status
	}
	statusBadge := badge{status, "status-" + strings.ReplaceAll(s.Status, "_", "-")}
	if out.Scheduled {
		label := "Scheduled for cancellation"
		if out.ScheduledOn != "" {
			label += " on " + out.ScheduledOn
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

	switch {
	case ended, out.Scheduled:
	case s.Status == account.SubPaused && s.NextChargeDate == "":
	default:
		if n, err := s.NextCharge(); err == nil {
			out.NextCharge = format.Money(n, cur, loc)
		} else {
			out.NextCharge = notAvailable
		}
		out.NextChargeDate = format.Date(s.NextChargeDate, loc)
	}

	start, end := format.Date(s.CurrentPeriodStart, loc), format.Date(s.CurrentPeriodEnd, loc)
	switch {
	case start != "" && end != "":
		out.Period = start + " – " + end
	case start != "":
		out.Period = "Since " + start
	case end != "":
		out.Period = "Until " + end
	}
	if ended && s.CanceledAt != "" {
		out.EndedLabel = "Canceled on"
		if s.Status == account.SubEnded {
			out.EndedLabel = "Ended on"
		}
		out.EndedOn = format.Date(s.CanceledAt, loc)
	}

	cancellable := s.Status == account.SubActive || s.Status == account.SubTrialing || s.Status == account.SubPastDue
	out.CanCancel = v.Settings.AllowSubscriptionCancel && cancellable && !s.CancelAtPeriodEnd
	out.CanReactivate = v.Settings.AllowSubscriptionCancel && out.Scheduled

	out.Items = make([]item, 0, len(s.Items))
	for i := range s.Items {
		out.Items = append(out.Items, priceItem(&s.Items[i], cur, loc))
	}
	return out
}

func priceItem(it *account.Item, cur, loc string) item {
	out := item{Product: it.Product, Model: modelLabels[it.PricingModel]}
	if out.Model == "" {
		out.Model = it.PricingModel
	}
	if it.PricingModel != account.PricingFlat {
		out.Quantity = quantity(it.Quantity, it.Unit, loc)
	}
	c, err := it.Charge()
	if err != nil {
		out.Amount = notAvailable
		return out
	}
	out.Amount = format.Money(c.Amount, cur, loc)
	if it.PricingModel != account.PricingTiered && it.PricingModel != account.PricingVolume {
		out.UnitPrice = price(c.UnitPrice, cur, loc)
		return out
	}
	out.Tiers = make([]tier, 0, len(c.Tiers))
	for _, tc := range c.Tiers {
		t := tier{Applied: tc.Units > 0}
		switch {
		case tc.To < 0:
			t.Range = format.Number(tc.From, loc) + " and above"
		case tc.To == tc.From:
			t.Range = format.Number(tc.From, loc)
		default:
			t.Range = format.Number(tc.From, loc) + " – " + format.Number(tc.To, loc)
		}
		switch {
		case tc.Flat > 0 && tc.UnitPrice.IsZero():
			t.UnitPrice = format.Money(tc.Flat, cur, loc) + " flat"
		case tc.Flat > 0:
			t.UnitPrice = price(tc.UnitPrice, cur, loc) + " + " + format.Money(tc.Flat, cur, loc) + " flat"
		default:
			t.UnitPrice = price(tc.UnitPrice, cur, loc)
		}
		if t.Applied {
			t.Quantity = quantity(tc.Units, it.Unit, loc)
			t.Amount = format.Money(tc.Amount, cur, loc)
		}
		out.Tiers = append(out.Tiers, t)
	}
	return out
}

// price formats a unit price: whole minor units as money, fractions exactly ("€0.003").
func price(p account.Price, cur, loc string) string {
	if n, ok := p.Integral(); ok {
		return format.Money(n, cur, loc)
	}
	return format.Decimal(p.Decimal(), cur, loc)
}

// quantity formats a number of units with the unit's name: "42", "1,800,000 calls".
func quantity(n int64, unit, loc string) string {
	q := format.Number(n, loc)
	if unit == "" {
		return q
	}
	if n != 1 && format.Language(loc) == "en" {
		unit = plural(unit)
	}
	return q + " " + unit
}

// plural makes a lower-case English unit name plural ("call" → "calls", "hour" → "hours",
// "inbox" → "inboxes", "query" → "queries"). Names that already end in s, or do not end in a
// lower-case letter ("GB", "m²"), are left alone.
func plural(unit string) string {
	last := unit[len(unit)-1]
	switch {
	case last < 'a' || last > 'z', last == 's':
		return unit
	case last == 'x' || last == 'z' || strings.HasSuffix(unit, "ch") || strings.HasSuffix(unit, "sh"):
		return unit + "es"
	case last == 'y' && len(unit) > 1 && !strings.ContainsRune("aeiou", rune(unit[len(unit)-2])):
		return unit[:len(unit)-1] + "ies"
	}
	return unit + "s"
}
