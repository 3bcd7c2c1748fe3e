package planoverview

import (
	_ "embed"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

//go:embed cancel.html
var cancelHTML string

// pagesTmpl are the section's pages (cancel.html, change.html, pause.html); their texts are
// translated per language ("t").
var pagesTmpl = i18n.NewTemplates(plugins.ParseTemplate("pages", cancelHTML+changeHTML+pauseHTML))

// render answers a page of pagesTmpl's template name.
func render(c plugins.ActionContext, status int, title, name string, data any) {
	plugins.Render(c, pagesTmpl, status, title, name, data)
}

// CancelReasons are the cancellation reasons a customer picks from, in the order shown; each is
// labelled by the message "cancel.reason.<value>". The list is the account document's
// (account.CancelReasons), which the catalog's retention offers name too.
var CancelReasons = account.CancelReasons

// MaxCommentLen bounds a cancellation comment, in characters.
const MaxCommentLen = 1000

var _ plugins.Actor = section{}

// Actions are the cancel form and post, the reactivate post and the retention offer's accept
// (offers.go), permitted by AllowCancel, the change plan and change seats pages (change.go), and
// the pause and resume pages (pause.go), permitted by AllowPause.
func (section) Actions() []plugins.Action {
	return slices.Concat([]plugins.Action{
		{Method: "GET", Path: "/subscriptions/{id}/cancel", Needs: AllowCancel, Refusal: "error.forbidden.cancel", Handle: cancelForm},
		{Method: "POST", Path: "/subscriptions/{id}/cancel", Needs: AllowCancel, Refusal: "error.forbidden.cancel", Handle: cancelSave},
		{Method: "POST", Path: "/subscriptions/{id}/reactivate", Needs: AllowCancel, Refusal: "error.forbidden.subscription", Handle: reactivate},
	}, changeActions(), offerActions(), pauseActions())
}

type option struct{ Value, Label string }

type cancelPage struct {
	Sub             *account.Subscription
	Effect          string
	TenantName      string
	Reasons         []option
	Reason, Comment string
	Errors          plugins.FormErrors
}

// cancelEffect says what cancelling does under the tenant's policy, and when.
func cancelEffect(t *tenants.Tenant, s *account.Subscription) (immediate bool, date account.Date) {
	if t.Portal.CancelMode == tenants.CancelImmediate || s.CurrentPeriodEnd == "" {
		return true, ""
	}
	return false, s.CurrentPeriodEnd
}

// notFound refuses a change to a subscription that is gone.
func notFound() error {
	return &plugins.Refusal{Status: 404, TitleKey: "error.subscriptionNotFound.title", BodyKey: "error.removed.body"}
}

func cancelForm(c plugins.ActionContext) { cancelPageOf(c, 200, "", "", nil) }

func cancelPageOf(c plugins.ActionContext, status int, reason, comment string, errs plugins.FormErrors) {
	l := c.Printer()
	sub := findSubscription(c)
	if sub == nil {
		return
	}
	if !sub.Cancellable() {
		c.Done() // already cancelled or scheduled: the overview says so
		return
	}
	p := &cancelPage{Sub: sub, TenantName: c.Tenant().Name, Reason: reason, Comment: comment, Errors: errs}
	for _, r := range CancelReasons {
		p.Reasons = append(p.Reasons, option{r, l.T("cancel.reason." + r)})
	}
	if imm, date := cancelEffect(c.Tenant(), sub); imm {
		p.Effect = l.T("cancel.effectImmediate")
	} else {
		p.Effect = l.T("cancel.effectEndOfTerm", "date", i18n.Date(date.Civil(), c.Locale()))
	}
	render(c, status, l.T("cancel.pageTitle"), "cancel", p)
}

func today(now time.Time) account.Date { return account.Date(now.UTC().Format(time.DateOnly)) }

func cancelSave(c plugins.ActionContext) {
	id := c.Arg()
	reason, comment := c.FormValue("reason"), strings.TrimSpace(c.FormValue("comment"))
	var errs plugins.FormErrors
	l := c.Printer()
	if !slices.Contains(CancelReasons, reason) {
		errs.Add("reason", l.T("cancel.error.reason"))
	}
	if !utf8.ValidString(comment) || utf8.RuneCountInString(comment) > MaxCommentLen {
		errs.Add("comment", l.T("cancel.error.comment", "max", MaxCommentLen))
	}
	if len(errs) > 0 {
		cancelPageOf(c, 422, reason, comment, errs)
		return
	}
	if s := c.Account().Subscription(id); s != nil && s.Cancellable() && offerBeforeCancel(c, s, reason, comment) {
		return
	}
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return plugins.Event{}, notFound()
		}
		if !sub.Cancellable() {
			return plugins.Event{}, tenants.ErrNoChange // a double submit, or cancelled meanwhile
		}
		data := map[string]any{"subscriptionId": sub.ID, "reason": reason, "comment": comment}
		if o := sub.RetentionOffer; o != nil && o.AcceptedAt == "" {
			data["retentionOffer"] = "declined"
		}
		if imm, date := cancelEffect(c.Tenant(), sub); imm {
			sub.Status, sub.CanceledAt, sub.CancelAtPeriodEnd, sub.NextChargeDate = account.SubCanceled, today(c.Now()), false, ""
			data["canceledAt"] = sub.CanceledAt
			return plugins.Event{Type: tenants.EventSubscriptionCanceled, Data: data}, nil
		} else {
			sub.CancelAtPeriodEnd, sub.CanceledAt = true, date
			data["effectiveDate"] = date
			return plugins.Event{Type: tenants.EventSubscriptionCancelationScheduled, Data: data}, nil
		}
	})
	finish(c, err)
}

func reactivate(c plugins.ActionContext) {
	id := c.Arg()
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		sub := a.Subscription(id)
		if sub == nil {
			return plugins.Event{}, notFound()
		}
		if !sub.CancelScheduled() {
			return plugins.Event{}, tenants.ErrNoChange
		}
		sub.CancelAtPeriodEnd, sub.CanceledAt = false, ""
		return plugins.Event{Type: tenants.EventSubscriptionReactivated, Data: map[string]any{"subscriptionId": sub.ID}}, nil
	})
	finish(c, err)
}

// finish answers an action after its Update: the overview, or the page of the failure.
func finish(c plugins.ActionContext, err error) {
	if err != nil {
		c.Fail(err)
		return
	}
	c.Done()
}
