package dashboard

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// ---- Settings → Plans

// catalogStore is what Settings → Plans needs of the data layer; *tenants.Store is one.
type catalogStore interface {
	Catalog(ctx context.Context, tenantID string) (*tenants.CatalogSnapshot, error)
	PutPlanPolicy(ctx context.Context, tenantID string, p *catalog.Policy, ifMatch int64) (int64, error)
}

var _ catalogStore = (*tenants.Store)(nil)

// plansPage is Settings → Plans: the catalog and the change-policy form.
type plansPage struct {
	Plans    []planRow
	Policy   policyForm
	Timings  []timingChoice
	MaxPause int
}

// planRow is a plan as the list shows it.
type planRow struct {
	ID, Name, Family, Price string
	Archived                bool
}

// timingChoice is one radio of the timing fieldsets.
type timingChoice struct{ Value, Label string }

// policyForm is the change policy as typed, with its problems.
type policyForm struct {
	Upgrades, Downgrades, Seats string
	Pause                       bool
	PauseMax                    string
	Offers                      []offerField
	Revision                    int64
	Errors                      plugins.FormErrors
}

// offerField is the retention offer of one cancellation reason ("any": any other reason).
type offerField struct {
	Key, Label                string
	Percent, Periods, Message string
}

// offerKeys are the form's offer rows: every cancellation reason, then any other reason.
func offerKeys() []string { return append(append([]string{}, account.CancelReasons...), "any") }

// offerReason is the cancellation reason of an offer row: "" (catalog.Offer's catch-all) for
// "any".
func offerReason(key string) string {
	if key == "any" {
		return ""
	}
	return key
}

func offerLabel(r *request, key string) string {
	if key == "any" {
		return r.T("dash.plans.offer.any")
	}
	return r.T("cancel.reason." + key)
}

// policyFormOf is the stored policy as the form shows it.
func policyFormOf(r *request, c *tenants.CatalogSnapshot) policyForm {
	p := c.Policy
	or := func(s string) string {
		if s == "" {
			return catalog.PeriodEnd
		}
		return s
	}
	f := policyForm{Upgrades: or(p.Upgrades), Downgrades: or(p.Downgrades), Seats: or(p.Seats), Pause: p.Pause, Revision: c.PolicyRevision}
	switch {
	case p.PauseMaxPeriods > 0:
		f.PauseMax = strconv.Itoa(p.PauseMaxPeriods)
	case p.Pause:
		f.PauseMax = "1"
	}
	for _, k := range offerKeys() {
		o := offerField{Key: k, Label: offerLabel(r, k)}
		for _, of := range p.Offers {
			if of.Reason == offerReason(k) {
				o.Percent, o.Periods, o.Message = strconv.Itoa(of.PercentOff), strconv.Itoa(of.Periods), of.Message
			}
		}
		f.Offers = append(f.Offers, o)
	}
	return f
}

// planPrice is the plan's price for one period at its items' quantities, with the period in
// words: "€49.00 per month", "¥4,900 every 3 months".
func planPrice(r *request, p *catalog.Plan) string {
	sum, err := p.Total()
	if err != nil {
		return "—"
	}
	price := i18n.Money(sum, p.Currency, r.l.locale)
	if n := p.IntervalCount; n > 1 {
		return r.T("dash.plans.everyN."+p.Interval, "price", price, "count", n)
	}
	return r.T("dash.plans.every."+p.Interval, "price", price)
}

func (d *Dashboard) plansPage(ctx *fasthttp.RequestCtx, r *request, status int, form *policyForm, flash string) {
	c, err := d.catalog.Catalog(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	page := &plansPage{MaxPause: catalog.MaxPausePeriods}
	for _, sp := range c.Plans {
		p := sp.Plan
		page.Plans = append(page.Plans, planRow{ID: p.ID, Name: p.Name, Family: p.Family, Price: planPrice(r, p), Archived: p.Archived})
	}
	for _, t := range catalog.Timings {
		page.Timings = append(page.Timings, timingChoice{t, r.T("dash.plans.timing." + t)})
	}
	if form == nil {
		f := policyFormOf(r, c)
		form = &f
	}
	page.Policy = *form
	v := r.view("plans", r.T("dash.plans.title"))
	v.Flash, v.Data = flash, page
	d.render(ctx, status, "plans", v)
}

// savePolicy validates the change-policy form and stores it, guarded by the revision the form
// was rendered from.
func (d *Dashboard) savePolicy(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	get := func(name string) string { return strings.TrimSpace(string(args.Peek(name))) }
	f := policyForm{Upgrades: get("upgrades"), Downgrades: get("downgrades"), Seats: get("seats"), Pause: get("pause") == "on", PauseMax: get("pause_max")}
	f.Revision, _ = strconv.ParseInt(get("revision"), 10, 64)
	po := catalog.Policy{Upgrades: f.Upgrades, Downgrades: f.Downgrades, Seats: f.Seats, Pause: f.Pause}
	for _, name := range []string{"upgrades", "downgrades", "seats"} {
		if v := get(name); v == "" || !catalog.ValidTiming(v) {
			f.Errors.Add(name, r.T("dash.plans.error.timing"))
		}
	}
	whole := func(s string, lo, hi int) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= lo && n <= hi
	}
	if f.Pause {
		n, ok := whole(f.PauseMax, 1, catalog.MaxPausePeriods)
		if !ok {
			f.Errors.Add("pause_max", r.T("dash.plans.error.pauseMax", "max", catalog.MaxPausePeriods))
		}
		po.PauseMaxPeriods = n
	}
	for _, k := range offerKeys() {
		o := offerField{Key: k, Label: offerLabel(r, k), Percent: get("offer_" + k + "_percent"), Periods: get("offer_" + k + "_periods"), Message: get("offer_" + k + "_message")}
		f.Offers = append(f.Offers, o)
		if o.Percent == "" && o.Periods == "" && o.Message == "" {
			continue
		}
		pct, ok := whole(o.Percent, 1, 100)
		if !ok {
			f.Errors.Add("offer_"+k+"_percent", r.T("dash.plans.error.percent"))
		}
		periods, ok := whole(o.Periods, 1, catalog.MaxOfferPeriods)
		if !ok {
			f.Errors.Add("offer_"+k+"_periods", r.T("dash.plans.error.periods", "max", catalog.MaxOfferPeriods))
		}
		if !tenants.ValidText(o.Message, catalog.MaxMessageLen) {
			f.Errors.Add("offer_"+k+"_message", r.T("dash.plans.error.message", "max", catalog.MaxMessageLen))
		}
		po.Offers = append(po.Offers, catalog.Offer{Reason: offerReason(k), PercentOff: pct, Periods: periods, Message: o.Message})
	}
	if len(f.Errors) > 0 {
		d.plansPage(ctx, r, fasthttp.StatusBadRequest, &f, "")
		return
	}
	_, err := d.catalog.PutPlanPolicy(web.Detach(ctx), r.tenant.ID, &po, f.Revision)
	switch {
	case errors.Is(err, tenants.ErrRevisionMismatch):
		f.Errors.Add("upgrades", r.T("dash.plans.error.changed"))
		d.plansPage(ctx, r, fasthttp.StatusConflict, &f, "")
		return
	case errors.Is(err, catalog.ErrInvalid):
		// The form's checks are the policy's rules; a refusal here is a bug, said plainly.
		d.log.Error("dashboard: the store refused a checked change policy", "tenant", r.tenant.Slug, "err", err)
		f.Errors.Add("upgrades", err.Error())
		d.plansPage(ctx, r, fasthttp.StatusBadRequest, &f, "")
		return
	case err != nil:
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: change policy saved", "tenant", r.tenant.Slug, "by", r.s.Email)
	d.plansPage(ctx, r, fasthttp.StatusOK, nil, r.T("dash.plans.saved"))
}
