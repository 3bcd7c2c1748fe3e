package planoverview

import (
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Changing a subscription's plan or seats (issue 16).
//
// "Change plan" (GET /subscriptions/{id}/change) shows the plans the customer may move to side by
// side, the current one marked: the catalog's plans named by the current plan's movesTo, else
// the other plans of its family, never archived ones, only in the account's currency. Each
// leads to the preview (GET …/change/preview?plan=P): what is credited for unused time, what is
// charged now, the next invoice's estimate and date, and when the change takes effect, every
// number from catalog.Change.Preview under the tenant's policy, or from the tenant's backend
// when it answers subscription.preview with one (shown as given). "Change seats" (GET
// /subscriptions/{id}/seats) asks for a new quantity of a per_unit item within the plan's
// minQuantity and maxQuantity, then shows the same preview (…/seats/preview?item=I&quantity=Q).
//
// Confirming posts the preview's revision, effective date and amount due: a document that moved
// since, or a preview that came out otherwise, shows the preview again (409) without changing
// anything. With a backend the change is a subscription.change request whose idempotency key
// names the confirmation (session, subscription, target, revision, preview), so a double
// click, a reload, two tabs or two instances make one call; its answer is handled like
// invoice.pay's (the returned document stored with subscription.change_succeeded or
// …change_failed in one Txn). Without one the change is recorded as the subscription's
// pendingChange with subscription.change_requested in one Txn, and the overview shows it as
// requested until the tenant pushes the document with the change made.

//go:embed change.html
var changeHTML string

// Audit entry types of change attempts that write no event.
const (
	AuditChangeRequiresAction = "subscription.change_requires_action"
	AuditChangePending        = "subscription.change_pending"
	AuditChangeError          = "subscription.change_error"
)

// changeActions are the change plan and change seats pages.
func changeActions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: "/subscriptions/{id}/change", Needs: AllowPlanChange, Refusal: "change.forbidden.plan", Handle: choosePlan},
		{Method: "GET", Path: "/subscriptions/{id}/change/preview", Needs: AllowPlanChange, Refusal: "change.forbidden.plan", Handle: previewPlan},
		{Method: "POST", Path: "/subscriptions/{id}/change", Needs: AllowPlanChange, Refusal: "change.forbidden.plan", Handle: confirmPlan},
		{Method: "GET", Path: "/subscriptions/{id}/seats", Needs: AllowQuantityChange, Refusal: "change.forbidden.seats", Handle: seatsForm},
		{Method: "GET", Path: "/subscriptions/{id}/seats/preview", Needs: AllowQuantityChange, Refusal: "change.forbidden.seats", Handle: previewSeats},
		{Method: "POST", Path: "/subscriptions/{id}/seats", Needs: AllowQuantityChange, Refusal: "change.forbidden.seats", Handle: confirmSeats},
		{Method: "GET", Path: "/subscriptions/{id}/change/return", Handle: returned("change-return")},
	}
}

// Changeable reports whether the customer may change the subscription's plan or seats now: it is
// on a catalog plan, bills, has no cancellation scheduled and no change pending.
func Changeable(s *account.Subscription) bool {
	return s.PlanID != "" && s.Bills() && !s.CancelAtPeriodEnd && s.PendingChange == nil
}

// Offered returns the plans of the catalog a subscription on plan cur may move to: those cur's
// MovesTo names, else the other plans of its family; never cur itself, an archived plan or one
// in another currency than the account's. A plan the catalog does not hold offers nothing.
func Offered(snap *tenants.CatalogSnapshot, cur *catalog.Plan, currency string) []*catalog.Plan {
	if cur == nil {
		return nil
	}
	var out []*catalog.Plan
	ok := func(p *catalog.Plan) bool { return p.ID != cur.ID && !p.Archived && p.Currency == currency }
	if len(cur.MovesTo) > 0 {
		for _, id := range cur.MovesTo {
			if sp, found := snap.Plan(id); found && ok(sp.Plan) {
				out = append(out, sp.Plan)
			}
		}
		return out
	}
	if cur.Family == "" {
		return nil
	}
	for _, sp := range snap.Plans {
		if sp.Plan.Family == cur.Family && ok(sp.Plan) {
			out = append(out, sp.Plan)
		}
	}
	return out
}

// target is what a customer asks to change to: a plan, with the subscription's seats carried
// over to its items (catalog.Plan.ItemsFor), or a quantity of an item.
type target struct {
	Plan     *catalog.Plan
	Items    []account.Item
	Item     int
	Quantity int64
}

func (t *target) seats() bool { return t.Plan == nil }

// change is the target as a pending change and the backend's requests carry it: the plan with
// the quantities of its per_unit items (the seats the move carries), or the item and quantity.
func (t *target) change() account.ChangeTarget {
	if t.seats() {
		i, q := t.Item, t.Quantity
		return account.ChangeTarget{Item: &i, Quantity: &q}
	}
	return account.ChangeTarget{PlanID: t.Plan.ID, Quantities: catalog.Quantities(t.Items)}
}

// changeState is what every change page starts from: the subscription, the catalog, the plan it
// is on.
type changeState struct {
	sub  *account.Subscription
	snap *tenants.CatalogSnapshot
	cur  *catalog.Plan
}

// loadChange finds the path's subscription and the catalog, answering the page itself (and
// returning nil) when there is nothing to change.
func loadChange(c plugins.ActionContext) *changeState {
	sub := findSubscription(c)
	if sub == nil {
		return nil
	}
	if !Changeable(sub) {
		c.Done() // the overview says why (ended, scheduled, a change requested)
		return nil
	}
	snap, err := c.Catalog()
	if err != nil {
		c.Fail(err)
		return nil
	}
	st := &changeState{sub: sub, snap: snap}
	if sp, ok := snap.Plan(sub.PlanID); ok {
		st.cur = sp.Plan
	}
	return st
}

// planTarget is the offered plan of the form or query, or nil after answering 404.
func (st *changeState) planTarget(c plugins.ActionContext, id string) *target {
	for _, p := range Offered(st.snap, st.cur, c.Account().Currency) {
		if p.ID == id {
			return &target{Plan: p, Items: p.ItemsFor(st.sub)}
		}
	}
	c.Message(404, "change.unavailable.title", "change.unavailable.body")
	return nil
}

// seatItem is a per_unit item of the subscription whose plan item sets the seats a customer may
// choose.
type seatItem struct {
	Index              int
	Product, Unit      string
	Current, Min, Max  int64
	Label, Hint, Value string
	Error              string
}

// seatItems are the subscription's per_unit items the current plan gives limits to.
func (st *changeState) seatItems(c plugins.ActionContext) []seatItem {
	if st.cur == nil {
		return nil
	}
	tr, loc := c.Printer(), c.Locale()
	var out []seatItem
	for i := range st.sub.Items {
		it := &st.sub.Items[i]
		if it.PricingModel != account.PricingPerUnit {
			continue
		}
		if lo, hi, ok := st.cur.SeatLimits(it.Product); ok && lo < hi {
			out = append(out, seatItem{Index: i, Product: it.Product, Unit: it.Unit, Current: it.Quantity, Min: lo, Max: hi,
				Label: tr.T("change.seats.label", "product", it.Product, "current", quantity(it.Quantity, it.Unit, loc)),
				Hint:  tr.T("change.seats.hint", "min", i18n.Number(lo, loc), "max", i18n.Number(hi, loc)),
				Value: strconv.FormatInt(it.Quantity, 10)})
		}
	}
	return out
}

// preview computes the change's preview: the backend's when it answers one, else Portico's.
// It answers the page itself and returns nil when the change cannot be previewed.
func (st *changeState) preview(c plugins.ActionContext, t *target) (*catalog.Preview, bool) {
	date := today(c.Now())
	if be := c.Backend(); be.Registered() {
		data := backend.SubscriptionPreviewData{AccountID: c.Account().ID, SubscriptionID: st.sub.ID, ChangeTarget: t.change(), Date: date,
			SessionID: c.SessionID()}
		key := changeKey("pv_", c.SessionID(), st.sub.ID, t, c.Revision(), string(date))
		resp, err := be.Call(backend.Request{Type: backend.TypeSubscriptionPreview, IdempotencyKey: key, Data: data})
		switch {
		case err == nil && resp.Preview != nil:
			return resp.Preview, true
		case err != nil && !errors.Is(err, backend.ErrNoBackend):
			slog.Warn("planoverview: the backend gave no preview; showing Portico's", "subscription", st.sub.ID, "err", err)
		}
	}
	ch := catalog.Change{Subscription: st.sub, Currency: c.Account().Currency, Current: st.cur, Date: date}
	if t.seats() {
		ch.Seats = &catalog.Seats{Item: t.Item, Quantity: t.Quantity}
	} else {
		ch.Target = t.Plan
	}
	p, err := ch.Preview(&st.snap.Policy)
	if err != nil {
		slog.Info("planoverview: a change cannot be previewed", "subscription", st.sub.ID, "err", err)
		c.Message(409, "change.cannotPreview.title", "change.cannotPreview.body")
		return nil, false
	}
	return p, false
}

// changeKey names one preview or confirmation: the same inputs, the same key, on any instance.
func changeKey(prefix, session, sub string, t *target, rev int64, extra string) string {
	tgt := "seats:" + strconv.Itoa(t.Item) + ":" + strconv.FormatInt(t.Quantity, 10)
	if !t.seats() {
		tgt = "plan:" + t.Plan.ID
	}
	return backend.IdempotencyKey(prefix, session, sub, tgt, strconv.FormatInt(rev, 10), extra)
}

// planCard is a plan of the chooser.
type planCard struct {
	ID, Name, Description string
	Price                 string // per interval
	Fees                  string // "plus €… one-off", ""
	Features              []string
	Current               bool
	Choose                string // the preview's URL; "" for the current plan
	ChooseLabel           string
}

type choosePage struct {
	Sub      *account.Subscription
	Plans    []planCard
	Offered  bool
	Seats    string // the seats page, when the plan has seats to change
	Heading  string
	Interval string
}

// interval says a plan's period: "month", "3 months".
func intervalText(tr *i18n.Printer, p *catalog.Plan) string {
	if n := p.IntervalCount; n > 1 {
		return tr.T("change.intervalN."+p.Interval, "count", n)
	}
	return tr.T("change.interval." + p.Interval)
}

func card(c plugins.ActionContext, p *catalog.Plan, current bool, sub *account.Subscription) planCard {
	subID := sub.ID
	tr, loc := c.Printer(), c.Locale()
	out := planCard{ID: p.ID, Name: p.Name, Description: p.Description, Features: p.Features, Current: current}
	var recurring, fees []account.Item
	for _, it := range p.ItemsFor(sub) { // the seats the customer has, carried over
		if it.PricingModel == account.PricingFee {
			fees = append(fees, it)
		} else {
			recurring = append(recurring, it)
		}
	}
	if current { // what the customer pays now, their own quantities
		recurring = recurring[:0]
		for i := range sub.Items {
			if sub.Items[i].PricingModel != account.PricingFee {
				recurring = append(recurring, sub.Items[i])
			}
		}
	}
	if n, err := account.ItemsTotal(recurring); err == nil {
		out.Price = tr.T("change.pricePer", "amount", i18n.Money(n, p.Currency, loc), "interval", intervalText(tr, p))
	} else {
		out.Price = tr.T("common.notAvailable")
	}
	if len(fees) > 0 {
		if n, err := account.ItemsTotal(fees); err == nil && n > 0 {
			out.Fees = tr.T("change.oneOff", "amount", i18n.Money(n, p.Currency, loc))
		}
	}
	if !current {
		out.Choose = "/subscriptions/" + url.PathEscape(subID) + "/change/preview?" + url.Values{"plan": {p.ID}}.Encode()
		out.ChooseLabel = tr.T("change.choose", "plan", p.Name)
	}
	return out
}

// choosePlan shows the plans side by side.
func choosePlan(c plugins.ActionContext) {
	st := loadChange(c)
	if st == nil {
		return
	}
	tr := c.Printer()
	p := &choosePage{Sub: st.sub, Heading: tr.T("change.heading", "name", st.sub.Name)}
	if st.cur != nil {
		p.Plans = append(p.Plans, card(c, st.cur, true, st.sub))
	}
	for _, pl := range Offered(st.snap, st.cur, c.Account().Currency) {
		p.Plans = append(p.Plans, card(c, pl, false, st.sub))
		p.Offered = true
	}
	if c.On(AllowQuantityChange) && len(st.seatItems(c)) > 0 {
		p.Seats = "/subscriptions/" + url.PathEscape(st.sub.ID) + "/seats"
	}
	render(c, 200, tr.T("change.pageTitle"), "choose", p)
}

// fact is a term of the preview's facts and its value, formatted.
type fact struct{ Label, Value string }

// previewLine is a line of the preview's tables, formatted.
type previewLine struct {
	Label, Detail, Amount string
}

type previewPage struct {
	Sub             *account.Subscription
	Heading         string
	Action          string // the confirm form's action
	Back, BackLabel string
	Revision        int64
	PlanID          string
	Item            int
	Quantity        int64
	Seats           bool
	Effective       string
	EffectiveDate   string
	Quantities      []fact // a plan move's per_unit items, with the seats carried
	AmountDueMinor  int64
	Now             bool // something is credited or charged now
	NowLines        []previewLine
	DueLabel, Due   string
	Carried         string // credit carried to the next invoice, ""
	NextHeading     string
	NextLines       []previewLine
	NextCredit      string
	NextTotal       string
	Summary         string // one sentence: when, and what is charged now
	ByBackend       bool
	Tenant          string
	Confirm         string
	Errors          plugins.FormErrors
}

func lineLabel(tr *i18n.Printer, l *catalog.Line, loc string) (label, detail string) {
	label = l.Product
	switch l.Kind {
	case catalog.LineCredit, catalog.LineProrated:
		if l.PeriodDays > 0 { // a backend's preview may leave the days out
			detail = tr.T("change.line."+l.Kind, "days", i18n.Number(l.Days, loc), "of", i18n.Number(l.PeriodDays, loc))
		}
	case catalog.LinePeriod:
		detail = tr.T("change.line.period")
	case catalog.LineFee:
		detail = tr.T("change.line.fee")
	case catalog.LineBalance:
		label, detail = tr.T("change.line.balance"), ""
	}
	if l.Quantity > 1 && l.PricingModel == account.PricingPerUnit {
		label = tr.T("change.line.quantity", "product", l.Product, "quantity", i18n.Number(l.Quantity, loc))
	}
	return label, detail
}

func newPreviewPage(c plugins.ActionContext, st *changeState, t *target, pv *catalog.Preview, byBackend bool, errs plugins.FormErrors) *previewPage {
	tr, loc, cur := c.Printer(), c.Locale(), pv.Currency
	money := func(n int64) string { return i18n.Money(n, cur, loc) }
	p := &previewPage{Sub: st.sub, Revision: c.Revision(), ByBackend: byBackend, Tenant: c.Tenant().Name, Errors: errs,
		AmountDueMinor: pv.AmountDue, EffectiveDate: string(pv.EffectiveDate)}
	p.Effective = i18n.Date(pv.EffectiveDate.Civil(), loc)
	esc := url.PathEscape(st.sub.ID)
	if t.seats() {
		it := &st.sub.Items[t.Item]
		p.Seats, p.Item, p.Quantity = true, t.Item, t.Quantity
		p.Heading = tr.T("change.preview.seatsHeading", "product", it.Product, "quantity", quantity(t.Quantity, it.Unit, loc))
		p.Action, p.Back, p.BackLabel = "/subscriptions/"+esc+"/seats", "/subscriptions/"+esc+"/seats", tr.T("change.backSeats")
	} else {
		p.PlanID = t.Plan.ID
		p.Heading = tr.T("change.preview.planHeading", "plan", t.Plan.Name)
		for _, it := range perUnit(t.Items) {
			p.Quantities = append(p.Quantities, fact{tr.T("change.preview.quantityOn", "product", it.Product, "plan", t.Plan.Name),
				quantity(it.Quantity, it.Unit, loc)})
		}
		p.Action, p.Back, p.BackLabel = "/subscriptions/"+esc+"/change", "/subscriptions/"+esc+"/change", tr.T("change.backPlans")
	}
	for i := range pv.CreditLines {
		l, d := lineLabel(tr, &pv.CreditLines[i], loc)
		p.NowLines = append(p.NowLines, previewLine{l, d, money(-pv.CreditLines[i].Amount)})
	}
	for i := range pv.ChargeLines {
		l, d := lineLabel(tr, &pv.ChargeLines[i], loc)
		p.NowLines = append(p.NowLines, previewLine{l, d, money(pv.ChargeLines[i].Amount)})
	}
	p.Now = len(p.NowLines) > 0
	p.DueLabel, p.Due = tr.T("change.preview.dueNow"), money(pv.AmountDue)
	if pv.CreditCarried > 0 {
		p.Carried = money(pv.CreditCarried)
	}
	p.NextHeading = tr.T("change.preview.next", "date", i18n.Date(pv.Next.Date.Civil(), loc))
	for i := range pv.Next.Lines {
		l := &pv.Next.Lines[i]
		label, d := lineLabel(tr, l, loc)
		amt := money(l.Amount)
		if l.Kind == catalog.LineBalance {
			amt = money(-l.Amount)
		}
		p.NextLines = append(p.NextLines, previewLine{label, d, amt})
	}
	p.NextTotal = money(pv.Next.Amount)
	switch {
	case pv.Timing == catalog.PeriodEnd:
		p.Summary = tr.T("change.preview.atPeriodEnd", "date", p.Effective)
	case pv.AmountDue > 0:
		p.Summary = tr.T("change.preview.nowCharged", "date", p.Effective, "amount", p.Due)
	case pv.CreditCarried > 0:
		p.Summary = tr.T("change.preview.nowCredited", "date", p.Effective, "amount", p.Carried)
	default:
		p.Summary = tr.T("change.preview.nowNothing", "date", p.Effective)
	}
	if pv.AmountDue > 0 {
		p.Confirm = tr.T("change.confirmPay", "amount", p.Due)
	} else {
		p.Confirm = tr.T("change.confirm")
	}
	return p
}

func showPreview(c plugins.ActionContext, status int, st *changeState, t *target, errs plugins.FormErrors) {
	pv, byBackend := st.preview(c, t)
	if pv == nil {
		return
	}
	p := newPreviewPage(c, st, t, pv, byBackend, errs)
	render(c, status, p.Heading, "preview", p)
}

func previewPlan(c plugins.ActionContext) {
	st := loadChange(c)
	if st == nil {
		return
	}
	if t := st.planTarget(c, c.QueryValue("plan")); t != nil {
		showPreview(c, 200, st, t, nil)
	}
}

// seatsPage is the seats form.
type seatsPage struct {
	Sub     *account.Subscription
	Heading string
	Items   []seatItem
	Errors  plugins.FormErrors
	Back    string
}

func seatsPageOf(c plugins.ActionContext, st *changeState, status int, items []seatItem, errs plugins.FormErrors) {
	tr := c.Printer()
	if len(items) == 0 {
		c.Message(404, "change.noSeats.title", "change.noSeats.body")
		return
	}
	p := &seatsPage{Sub: st.sub, Heading: tr.T("change.seats.heading", "name", st.sub.Name), Items: items, Errors: errs}
	if c.On(AllowPlanChange) {
		p.Back = "/subscriptions/" + url.PathEscape(st.sub.ID) + "/change"
	}
	render(c, status, tr.T("change.seats.pageTitle"), "seats", p)
}

func seatsForm(c plugins.ActionContext) {
	if st := loadChange(c); st != nil {
		seatsPageOf(c, st, 200, st.seatItems(c), nil)
	}
}

// seatTarget reads item and quantity (query or form) against the plan's limits; on a problem
// it answers the seats form with the error (422) and returns nil.
func (st *changeState) seatTarget(c plugins.ActionContext, itemS, qtyS string) *target {
	items := st.seatItems(c)
	idx, err := strconv.Atoi(itemS)
	var si *seatItem
	for k := range items {
		if err == nil && items[k].Index == idx {
			si = &items[k]
		}
	}
	if si == nil {
		c.Message(404, "change.noSeats.title", "change.noSeats.body")
		return nil
	}
	tr, loc := c.Printer(), c.Locale()
	q, err := strconv.ParseInt(strings.TrimSpace(qtyS), 10, 64)
	var msg string
	switch {
	case err != nil || q < si.Min || q > si.Max:
		msg = tr.T("change.seats.error.range", "min", i18n.Number(si.Min, loc), "max", i18n.Number(si.Max, loc))
	case q == si.Current:
		msg = tr.T("change.seats.error.same", "current", i18n.Number(si.Current, loc))
	}
	if msg != "" {
		var errs plugins.FormErrors
		field := "quantity-" + strconv.Itoa(si.Index)
		errs.Add(field, msg)
		si.Error, si.Value = msg, qtyS
		seatsPageOf(c, st, 422, items, errs)
		return nil
	}
	return &target{Item: si.Index, Quantity: q}
}

func previewSeats(c plugins.ActionContext) {
	st := loadChange(c)
	if st == nil {
		return
	}
	if t := st.seatTarget(c, c.QueryValue("item"), c.QueryValue("quantity")); t != nil {
		showPreview(c, 200, st, t, nil)
	}
}

func confirmPlan(c plugins.ActionContext) {
	st := loadConfirm(c)
	if st == nil {
		return
	}
	if t := st.planTarget(c, c.FormValue("plan")); t != nil {
		confirm(c, st, t)
	}
}

func confirmSeats(c plugins.ActionContext) {
	st := loadConfirm(c)
	if st == nil {
		return
	}
	if t := st.seatTarget(c, c.FormValue("item"), c.FormValue("quantity")); t != nil {
		confirm(c, st, t)
	}
}

// loadConfirm is loadChange for a confirmation: a change already made or already requested by
// an earlier submit of the same form (a double click, a reload) shows that state instead.
func loadConfirm(c plugins.ActionContext) *changeState {
	id := c.Arg()
	if account.ValidID(id) {
		if sub := c.Account().Subscription(id); sub != nil && sub.PendingChange != nil && sameRequest(sub.PendingChange, c) {
			c.Done()
			return nil
		}
		if sub := c.Account().Subscription(id); sub != nil && inEffect(sub, c) {
			doneResult(c, sub)
			return nil
		}
	}
	return loadChange(c)
}

// sameRequest reports whether the pending change is the one the form asks for.
func sameRequest(pc *account.PendingChange, c plugins.ActionContext) bool {
	if plan := c.FormValue("plan"); plan != "" {
		return pc.PlanID == plan
	}
	return pc.Item != nil && pc.Quantity != nil && strconv.Itoa(*pc.Item) == c.FormValue("item") &&
		strconv.FormatInt(*pc.Quantity, 10) == strings.TrimSpace(c.FormValue("quantity"))
}

// inEffect reports whether the subscription already is as the form asks, after the document
// moved (the backend carried out this confirmation's first submit).
func inEffect(s *account.Subscription, c plugins.ActionContext) bool {
	rev, _ := strconv.ParseInt(c.FormValue("rev"), 10, 64)
	if rev == c.Revision() {
		return false
	}
	if plan := c.FormValue("plan"); plan != "" {
		return s.PlanID == plan
	}
	i, err := strconv.Atoi(c.FormValue("item"))
	q, err2 := strconv.ParseInt(strings.TrimSpace(c.FormValue("quantity")), 10, 64)
	return err == nil && err2 == nil && i >= 0 && i < len(s.Items) && s.Items[i].Quantity == q
}

// confirm carries out a confirmed change: checked against what the preview page showed, then
// through the backend, or recorded as pending without one.
func confirm(c plugins.ActionContext, st *changeState, t *target) {
	tr := c.Printer()
	rev, _ := strconv.ParseInt(c.FormValue("rev"), 10, 64)
	pv, byBackend := st.preview(c, t)
	if pv == nil {
		return
	}
	due, _ := strconv.ParseInt(c.FormValue("due"), 10, 64)
	if rev != c.Revision() || due != pv.AmountDue || c.FormValue("effective") != string(pv.EffectiveDate) {
		var errs plugins.FormErrors
		errs.Add("preview-numbers", tr.T("change.changed"))
		p := newPreviewPage(c, st, t, pv, byBackend, errs)
		render(c, 409, p.Heading, "preview", p)
		return
	}
	if c.Backend().Registered() {
		changeThroughBackend(c, st, t, pv)
		return
	}
	pc := &account.PendingChange{ChangeTarget: t.change(), EffectiveDate: pv.EffectiveDate, RequestedAt: today(c.Now())}
	if !t.seats() {
		pc.PlanName = t.Plan.Name
	}
	data := eventData(st.sub.ID, t, pv)
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		sub := a.Subscription(st.sub.ID)
		if sub == nil {
			return plugins.Event{}, notFound()
		}
		if sub.PendingChange != nil {
			return plugins.Event{}, tenants.ErrNoChange // the first of a double submit recorded it
		}
		if t.seats() && (t.Item >= len(sub.Items) || sub.Items[t.Item].PricingModel != account.PricingPerUnit) {
			return plugins.Event{}, tenants.ErrNoChange
		}
		sub.PendingChange = pc
		return plugins.Event{Type: EventChangeRequested, Data: data}, nil
	})
	finish(c, err)
}

// eventData is the data of a change's events.
func eventData(subID string, t *target, pv *catalog.Preview) map[string]any {
	d := map[string]any{"subscriptionId": subID, "effectiveDate": pv.EffectiveDate, "currency": pv.Currency,
		"amountDue": pv.AmountDue, "creditCarried": pv.CreditCarried, "preview": pv}
	if t.seats() {
		d["item"], d["quantity"] = t.Item, t.Quantity
	} else {
		d["planId"] = t.Plan.ID
		if q := t.change().Quantities; len(q) > 0 {
			d["quantities"] = q
		}
	}
	return d
}

// changeThroughBackend sends subscription.change once per confirmation and answers its result.
func changeThroughBackend(c plugins.ActionContext, st *changeState, t *target, pv *catalog.Preview) {
	fp, _ := json.Marshal(pv)
	key := changeKey("chg_", c.SessionID(), st.sub.ID, t, c.Revision(), string(fp))
	data := backend.SubscriptionChangeData{AccountID: c.Account().ID, SubscriptionID: st.sub.ID, ChangeTarget: t.change(), Preview: pv,
		SessionID: c.SessionID()}
	req := backend.Request{Type: backend.TypeSubscriptionChange, IdempotencyKey: key, Data: data}
	out := outcome{Effective: pv.EffectiveDate}
	if t.seats() {
		it := st.sub.Items[t.Item]
		it.Quantity = t.Quantity
		out.Plan, out.Seats, out.SeatChange = st.sub.Name, []account.Item{it}, true
		if st.cur != nil {
			out.Plan = st.cur.Name
		}
	} else {
		out.Plan, out.Seats = t.Plan.Name, perUnit(t.Items)
	}
	changeRequests.carry(c, st.sub, req, EventChangeSucceeded, eventData(st.sub.ID, t, pv), func() (string, string) {
		return changedPage(c, &out)
	})
}

// outcome is what a change carried out made of the subscription, for its result page: the plan
// it is on and the per_unit items' quantities from the day it takes effect (a seat change: the
// item changed).
type outcome struct {
	Plan       string
	Seats      []account.Item
	SeatChange bool
	Effective  account.Date
}

// perUnit are the per_unit items of items.
func perUnit(items []account.Item) []account.Item {
	var out []account.Item
	for _, it := range items {
		if it.PricingModel == account.PricingPerUnit {
			out = append(out, it)
		}
	}
	return out
}

// changedPage is the title and paragraph of a change carried out: what the subscription is on
// and from when ("You are on Business with 8 seats from Dec 16, 2026."; "You will be on … from
// Jan 1, 2027." for a change at the period end; "You have 12 seats on Team from …").
func changedPage(c plugins.ActionContext, o *outcome) (title, body string) {
	tr, loc := c.Printer(), c.Locale()
	when := ".now"
	if o.Effective > today(c.Now()) {
		when = ".later"
	}
	date := i18n.Date(o.Effective.Civil(), loc)
	if date == "" { // not a date: the change is in effect
		date, when = i18n.Date(today(c.Now()).Civil(), loc), ".now"
	}
	seats := make([]string, len(o.Seats))
	for i := range o.Seats {
		seats[i] = seatCount(c, &o.Seats[i])
	}
	list := strings.Join(seats, tr.T("change.result.listSeparator"))
	key := "change.result.plan"
	switch {
	case o.SeatChange:
		key = "change.result.seats"
	case len(seats) > 0:
		key = "change.result.planSeats"
	}
	return tr.T("change.result.succeeded.title"), tr.T(key+when, "plan", o.Plan, "seats", list, "date", date)
}

// seatCount is an item's quantity as the result page says it: "8 seats" with its unit, else
// with its product ("8 Seats").
func seatCount(c plugins.ActionContext, it *account.Item) string {
	if it.Unit != "" {
		return quantity(it.Quantity, it.Unit, c.Locale())
	}
	return c.Printer().T("change.result.count", "count", i18n.Number(it.Quantity, c.Locale()), "product", it.Product)
}

// doneResult shows a change already in effect (a later submit of a confirmation the backend
// carried out): the subscription as it is, from the day the confirmation said.
func doneResult(c plugins.ActionContext, s *account.Subscription) {
	o := outcome{Plan: s.Name, Seats: perUnit(s.Items), Effective: account.Date(c.FormValue("effective"))}
	if snap, err := c.Catalog(); err == nil {
		if sp, ok := snap.Plan(s.PlanID); ok {
			o.Plan = sp.Plan.Name
		}
	}
	if c.FormValue("plan") == "" {
		o.SeatChange = true
		if i, err := strconv.Atoi(c.FormValue("item")); err == nil && i >= 0 && i < len(s.Items) {
			o.Seats = []account.Item{s.Items[i]}
		}
	}
	title, body := changedPage(c, &o)
	changeRequests.result(c, 200, "succeeded", title, body, "")
}
