package usage

import (
	_ "embed"
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Usage alerts (tenants.UsageAlerts): GET /usage/alerts lists the account's alerts, each with a
// Delete button, and a form to set one: a meter, and "at N % of my tier", "at a quantity" or
// "when the cost is above an amount"; its POST adds it (at most tenants.MaxUsageAlerts) and
// POST /usage/alerts/{id}/delete removes one; both answer the page again (303). The gateway
// checks them when the tenant pushes the account and emails each crossing once per threshold and
// period to the billing email. Any session that sees the section may set them.

//go:embed alerts.html
var alertsHTML string

var alertsTmpl = i18n.NewTemplates(plugins.ParseTemplate("alerts", alertsHTML))

const alertsPath = "/usage/alerts"

func alertActions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: alertsPath, Needs: ShowSection, Refusal: "usage.alerts.forbidden", Handle: alertsPage},
		{Method: "POST", Path: alertsPath, Needs: ShowSection, Refusal: "usage.alerts.forbidden", Handle: alertsAdd},
		{Method: "POST", Path: alertsPath + "/{id}/delete", Needs: ShowSection, Refusal: "usage.alerts.forbidden", Handle: alertsDelete},
	}
}

type alertsData struct {
	Email   string
	Alerts  []alertRow
	Meters  []meterOption
	Kind    string
	Value   string
	Full    bool
	Max     int
	Errors  plugins.FormErrors
	HasTier bool
}

type alertRow struct{ ID, Text string }

type meterOption struct {
	Value, Label string
	Selected     bool
}

// meterRef is a metered item: "<subscriptionId>:<item index>".
func meterRef(sid string, item int) string { return sid + ":" + strconv.Itoa(item) }

func parseMeterRef(s string) (string, int, bool) {
	sid, idx, ok := strings.Cut(s, ":")
	n, err := strconv.Atoi(idx)
	return sid, n, ok && err == nil && account.ValidID(sid)
}

// describe is an alert as the list says it.
func describe(c plugins.ActionContext, al tenants.UsageAlert) string {
	a, tr, loc := c.Account(), c.Printer(), c.Locale()
	meter := "?"
	unit := ""
	if s := a.Subscription(al.SubscriptionID); s != nil && al.Item >= 0 && al.Item < len(s.Items) && s.Items[al.Item].Meter != nil {
		meter, unit = s.Items[al.Item].Meter.Name, s.Items[al.Item].MeterUnit()
	}
	switch al.Kind {
	case tenants.AlertTier:
		return tr.T("usage.alerts.tier", "meter", meter, "percent", strconv.Itoa(al.Percent))
	case tenants.AlertCost:
		return tr.T("usage.alerts.cost", "meter", meter, "amount", i18n.Money(al.Amount, al.Currency, loc))
	}
	return tr.T("usage.alerts.quantity", "meter", meter, "quantity", i18n.Quantity(al.Quantity, unit, loc))
}

func newAlertsData(c plugins.ActionContext, list *tenants.UsageAlerts, chosen, kind, value string, errs plugins.FormErrors) *alertsData {
	a := c.Account()
	d := &alertsData{Email: a.Email, Kind: kind, Value: value, Errors: errs, Max: tenants.MaxUsageAlerts}
	if d.Kind == "" {
		d.Kind = tenants.AlertQuantity
	}
	for _, al := range list.Alerts {
		d.Alerts = append(d.Alerts, alertRow{ID: al.ID, Text: describe(c, al)})
	}
	d.Full = len(list.Alerts) >= tenants.MaxUsageAlerts
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		if s.Ended() {
			continue
		}
		for j := range s.Items {
			if m := s.Items[j].Meter; m != nil {
				ref := meterRef(s.ID, j)
				d.Meters = append(d.Meters, meterOption{Value: ref, Label: m.Name + " (" + s.Name + ")", Selected: ref == chosen})
				d.HasTier = d.HasTier || len(s.Items[j].Tiers) > 0
			}
		}
	}
	return d
}

func renderAlerts(c plugins.ActionContext, status int, d *alertsData) {
	plugins.Render(c, alertsTmpl, status, c.Printer().T("usage.alerts.title"), "alerts", d)
}

func alertsPage(c plugins.ActionContext) {
	list, err := c.UsageAlerts().List()
	if err != nil {
		c.Fail(err)
		return
	}
	renderAlerts(c, 200, newAlertsData(c, list, "", "", "", nil))
}

// valueRE is a whole number or an amount, as typed (grouping left out).
var valueRE = regexp.MustCompile(`^[0-9]{1,13}([.,][0-9]{1,3})?$`)

// alertsAdd sets the posted alert.
func alertsAdd(c plugins.ActionContext) {
	a, tr := c.Account(), c.Printer()
	ref, kind, value := c.FormValue("meter"), c.FormValue("kind"), strings.TrimSpace(c.FormValue("value"))
	var errs plugins.FormErrors
	al := tenants.UsageAlert{Kind: kind}
	sid, item, ok := parseMeterRef(ref)
	if s := a.Subscription(sid); !ok || s == nil || item < 0 || item >= len(s.Items) || s.Items[item].Meter == nil {
		errs.Add("meter", tr.T("usage.alerts.chooseMeter"))
	} else {
		al.SubscriptionID, al.Item = sid, item
		if kind == tenants.AlertTier && len(s.Items[item].Tiers) == 0 {
			errs.Add("kind", tr.T("usage.alerts.noTiers"))
		}
	}
	plain := strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(value)
	switch kind {
	case tenants.AlertTier:
		n, err := strconv.Atoi(plain)
		if err != nil || n < 1 || n > 100 {
			errs.Add("value", tr.T("usage.alerts.badPercent"))
		}
		al.Percent = n
	case tenants.AlertQuantity:
		n, err := strconv.ParseInt(plain, 10, 64)
		if err != nil || n < 1 || n > account.MaxQuantity {
			errs.Add("value", tr.T("usage.alerts.badQuantity"))
		}
		al.Quantity = n
	case tenants.AlertCost:
		n, ok := parseMoney(plain, a.Currency)
		if !ok {
			errs.Add("value", tr.T("usage.alerts.badAmount", "currency", a.Currency))
		}
		al.Amount, al.Currency = n, a.Currency
	default:
		errs.Add("kind", tr.T("usage.alerts.chooseKind"))
	}
	if a.Email == "" {
		errs.Add("meter", tr.T("usage.alerts.noEmail"))
	}
	if len(errs) == 0 {
		_, err := c.UsageAlerts().Add(al)
		switch {
		case errors.Is(err, tenants.ErrTooManyAlerts):
			errs.Add("meter", tr.T("usage.alerts.full", "max", tenants.MaxUsageAlerts))
		case errors.Is(err, tenants.ErrInvalidAlert):
			errs.Add("meter", tr.T("usage.alerts.chooseMeter"))
		case err != nil:
			c.Fail(err)
			return
		default:
			c.Redirect(alertsPath)
			return
		}
	}
	list, err := c.UsageAlerts().List()
	if err != nil {
		c.Fail(err)
		return
	}
	renderAlerts(c, 422, newAlertsData(c, list, ref, kind, value, errs))
}

// parseMoney reads an amount in major units with up to the currency's decimals, as minor units
// (at most 10^12 units).
func parseMoney(s, cur string) (int64, bool) {
	if !valueRE.MatchString(s) {
		return 0, false
	}
	digits := i18n.MinorUnits(cur)
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", "."), ".")
	if len(frac) > digits {
		return 0, false
	}
	v, err := strconv.ParseInt(whole+frac+strings.Repeat("0", digits-len(frac)), 10, 64)
	return v, err == nil && v > 0
}

func alertsDelete(c plugins.ActionContext) {
	err := c.UsageAlerts().Delete(c.Arg())
	if err != nil && !errors.Is(err, tenants.ErrAlertNotFound) {
		c.Fail(err)
		return
	}
	c.Redirect(alertsPath)
}
