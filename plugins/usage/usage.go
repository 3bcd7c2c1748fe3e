// Package usage is the Usage section of the portal: per meter of a usage-priced item (the
// account document's items[].meter), the usage to date, its projection to the period's end with
// the method stated, the tier it is in and the next tier's threshold, what it costs so far, and
// a chart of daily usage this period against the previous one (server-rendered SVG with a data
// table behind it, chart.go); and the prepaid wallet: its balance, expiry and recent
// transactions, with "Top up" carried out through the tenant's backend (topup.go).
//
// It registers itself as "usage" when imported (plugins/standard does), with the settings object
// "usageSettings": "showSection" (tenant default: PortalDefaults.ShowUsage) and "allowTopUp"
// (tenant default: PortalDefaults.AllowWalletTopUp). It renders nothing for an account without
// meters or a wallet. Like every section it renders from the plugins.View alone.
package usage

import (
	"cmp"
	"embed"
	_ "embed"
	"fmt"
	"html/template"
	"io/fs"
	"slices"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "usage"

//go:embed usage.html
var source string

//go:embed locales/*.json
var locales embed.FS

// The switches of usageSettings.
var (
	// ShowSection shows the section (tenant default: PortalDefaults.ShowUsage).
	ShowSection = &plugins.Switch{Field: "showSection", Default: func(p tenants.PortalDefaults) bool { return p.ShowUsage }}
	// AllowTopUp offers "Top up" on the wallet and permits its pages (tenant default:
	// PortalDefaults.AllowWalletTopUp); a session of a member below billing never has it.
	AllowTopUp = &plugins.Switch{Field: "allowTopUp", Role: plugins.RoleBilling, Default: func(p tenants.PortalDefaults) bool { return p.AllowWalletTopUp }}
)

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 15, "usage.title", source, newPage)})
}

// section is the Usage section: a template section with settings and messages.
type section struct{ *plugins.TemplateSection }

var (
	_ plugins.Configurable = section{}
	_ plugins.Messenger    = section{}
)

// Settings declares usageSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "usageSettings", Show: ShowSection, Switches: []*plugins.Switch{ShowSection, AllowTopUp}}
}

// Messages are the section's catalogs, in the six languages.
func (section) Messages() fs.FS {
	sub, _ := fs.Sub(locales, "locales")
	return sub
}

// page is what the template renders: every value is already formatted text.
type page struct {
	Name, Prefix string
	Meters       []meter
	Wallet       *wallet
	// AlertsLink is the usage alerts page, offered with meters.
	AlertsLink string
}

// fact is a labelled value with an optional explanation below it.
type fact struct{ Label, Value, Note string }

type meter struct {
	ID, Name, Subscription, Period string
	Facts                          []fact
	Chart                          *chart
}

type wallet struct {
	Balance, Expires string
	Transactions     []transaction
	TopUp            string // the top-up page's path, "" when not offered
}

type transaction struct {
	Date, Description, Amount string
	Credit                    bool
}

func newPage(v *plugins.View) page {
	a, tr, loc := v.Account, v.Printer(), v.Locale
	p := page{Name: Name, Prefix: v.PathPrefix}
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		if s.Ended() {
			continue
		}
		for j := range s.Items {
			if s.Items[j].Meter != nil {
				p.Meters = append(p.Meters, newMeter(tr, loc, a.Currency, s, &s.Items[j], fmt.Sprintf("%s-m%d-%d", Name, i, j)))
			}
		}
	}
	if w := a.Wallet; w != nil {
		p.Wallet = newWallet(v, w)
	}
	if len(p.Meters) > 0 {
		p.AlertsLink = v.PathPrefix + alertsPath
	}
	return p
}

// newMeter formats a meter's figures.
func newMeter(tr *i18n.Printer, loc, cur string, s *account.Subscription, it *account.Item, id string) meter {
	m, unit := it.Meter, it.MeterUnit()
	q := func(n int64) string { return i18n.Quantity(n, unit, loc) }
	date := func(d account.Date) string { return i18n.Date(d.Civil(), loc) }
	out := meter{ID: id, Name: m.Name, Subscription: s.Name,
		Period: tr.T("usage.period", "start", date(s.CurrentPeriodStart), "end", date(s.CurrentPeriodEnd))}
	money := func(n int64) string { return i18n.Money(n, cur, loc) }
	toDate := fact{Label: tr.T("usage.toDate"), Value: q(m.UsageToDate)}
	if c, err := it.ChargeFor(m.UsageToDate); err == nil {
		toDate.Note = tr.T("usage.costToDate", "amount", money(c.Amount))
	}
	out.Facts = append(out.Facts, toDate)
	if pr, ok := it.Project(s); ok {
		f := fact{Label: tr.T("usage.projected", "date", date(s.CurrentPeriodEnd)), Value: q(pr.Projected)}
		rate := q(pr.WindowUsage / int64(pr.WindowDays))
		from := account.Date(mustTime(pr.AsOf).AddDate(0, 0, 1-pr.WindowDays).Format("2006-01-02"))
		f.Note = tr.T("usage.projection.method", "count", pr.WindowDays, "rate", rate, "from", date(from), "to", date(pr.AsOf))
		if c, err := it.ChargeFor(pr.Projected); err == nil {
			f.Note += " " + tr.T("usage.projectedCost", "amount", money(c.Amount))
		}
		out.Facts = append(out.Facts, f)
	} else {
		out.Facts = append(out.Facts, fact{Label: tr.T("usage.projected", "date", date(s.CurrentPeriodEnd)), Value: tr.T("usage.projection.none")})
	}
	if pos, ok := it.Tier(m.UsageToDate); ok {
		rng := q(pos.From) + " – " + q(pos.To)
		if pos.To < 0 {
			rng = tr.T("usage.tier.from", "quantity", q(pos.From))
		}
		f := fact{Label: tr.T("usage.tier"), Value: tr.T("usage.tier.of", "n", pos.Index+1, "total", pos.Count)}
		if pos.Next > 0 {
			f.Note = tr.T("usage.tier.next", "range", rng, "threshold", q(pos.Next), "left", q(pos.Next-m.UsageToDate))
		} else {
			f.Note = tr.T("usage.tier.last", "range", rng)
		}
		out.Facts = append(out.Facts, f)
	}
	out.Chart = newChart(tr, loc, s, it, id)
	return out
}

// newWallet formats the wallet, its transactions newest first.
func newWallet(v *plugins.View, w *account.Wallet) *wallet {
	tr, loc := v.Printer(), v.Locale
	out := &wallet{Balance: i18n.Money(w.Balance, w.Currency, loc)}
	if w.ExpiresAt != "" {
		out.Expires = i18n.Date(w.ExpiresAt.Civil(), loc)
	}
	list := make([]*account.WalletTransaction, len(w.Transactions))
	for i := range w.Transactions {
		list[i] = &w.Transactions[i]
	}
	slices.SortStableFunc(list, func(x, y *account.WalletTransaction) int { return -cmp.Compare(x.Date, y.Date) })
	for _, t := range list {
		desc := tr.T("usage.wallet.type." + t.Type)
		if t.Description != "" {
			desc += ": " + t.Description
		}
		amount := i18n.Money(t.Amount, w.Currency, loc)
		if t.Amount > 0 {
			amount = "+" + amount
		}
		out.Transactions = append(out.Transactions, transaction{Date: i18n.Date(t.Date.Civil(), loc), Description: desc, Amount: amount, Credit: t.Amount > 0})
	}
	if v.On(AllowTopUp) && v.Backend {
		out.TopUp = v.PathPrefix + "/wallet/top-up"
	}
	return out
}

// html marks trusted markup built by this package.
func html(s string) template.HTML { return template.HTML(s) } //nolint:gosec // built from escaped parts only
