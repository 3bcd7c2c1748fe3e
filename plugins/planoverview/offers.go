package planoverview

import (
	"log/slog"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Retention offers, permitted by AllowCancel.
//
// When the customer submits the cancel form with a reason for which the tenant's change policy
// has an offer (catalog.Policy.Offer: the reason's own, else the one for any reason), the offer
// is shown instead of cancelling: "Stay and get 50 % off your next 2 billing periods", with
// Accept and "No thanks, cancel". It is shown once per subscription: showing it records it on
// the subscription in the stored document (retentionOffer with shownAt, no event), and a cancel
// form submitted after that cancels. Two submits of one form racing each other (a double click)
// both show it: the second finds it recorded by the first after its page was read. A tenant push
// of the document without retentionOffer makes the offer showable again.
//
// Accept carries the offer out like a change: with a backend through "subscription.offer_accept"
// (the document it returns stored with subscription.offer_accepted), without one recorded on the
// subscription (retentionOffer.acceptedAt, pending) with subscription.offer_accept_requested,
// shown on the overview as requested. Decline posts the cancel form again, which cancels.

func offerActions() []plugins.Action {
	return []plugins.Action{
		{Method: "POST", Path: "/subscriptions/{id}/offer", Needs: AllowCancel, Refusal: "error.forbidden.cancel", Handle: offerAccept},
	}
}

// offerPage is the data of the offer page.
type offerPage struct {
	ID, Name, Reason, Comment string
	PercentOff, Periods       int
	Message                   string // the tenant's words for the offer
}

// offerBeforeCancel shows the policy's offer for the reason when the subscription was never
// shown one, and reports whether it answered. A catalog that cannot be read shows none: the
// cancellation goes on.
func offerBeforeCancel(c plugins.ActionContext, s *account.Subscription, reason, comment string) bool {
	if s.RetentionOffer != nil || c.FormValue("offer") == "declined" {
		return false
	}
	cat, err := c.Catalog()
	if err != nil {
		slog.Warn("planoverview: cancelling without looking for a retention offer", "err", err)
		return false
	}
	o := policyOf(cat).Offer(reason)
	if o == nil {
		return false
	}
	shown := &account.RetentionOffer{Reason: reason, PercentOff: o.PercentOff, Periods: o.Periods, ShownAt: today(c.Now())}
	raced := false
	err = c.Update(func(a *account.Account) (plugins.Event, error) {
		sub := a.Subscription(s.ID)
		if sub == nil {
			return plugins.Event{}, notFound()
		}
		if sub.RetentionOffer != nil {
			// Recorded by a submit racing this one (its page was read before): show it too.
			shown, raced = sub.RetentionOffer, true
			return plugins.Event{}, tenants.ErrNoChange
		}
		if !sub.Cancellable() {
			return plugins.Event{}, tenants.ErrNoChange
		}
		sub.RetentionOffer = shown
		return plugins.Event{}, nil
	})
	if err != nil {
		c.Fail(err)
		return true
	}
	if raced && shown.AcceptedAt != "" {
		c.Done()
		return true
	}
	p := &offerPage{ID: s.ID, Name: s.Name, Reason: reason, Comment: comment, PercentOff: shown.PercentOff, Periods: shown.Periods, Message: o.Message}
	render(c, 200, c.Printer().T("plan.offer.title"), "offer", p)
	return true
}

// offerAccept accepts the offer shown: through the backend, or recorded as requested.
func offerAccept(c plugins.ActionContext) {
	s := findSubscription(c)
	if s == nil {
		return
	}
	o := s.RetentionOffer
	if o == nil || o.AcceptedAt != "" || !s.Cancellable() {
		c.Done() // no offer shown (a forged post), accepted already, or cancelled meanwhile
		return
	}
	tr := c.Printer()
	detail := map[string]any{"subscriptionId": s.ID, "reason": o.Reason, "percentOff": o.PercentOff, "periods": o.Periods}
	if !c.Backend().Registered() {
		err := c.Update(func(a *account.Account) (plugins.Event, error) {
			sub := a.Subscription(s.ID)
			if sub == nil {
				return plugins.Event{}, notFound()
			}
			if sub.RetentionOffer == nil || sub.RetentionOffer.AcceptedAt != "" || !sub.Cancellable() {
				return plugins.Event{}, tenants.ErrNoChange
			}
			sub.RetentionOffer.AcceptedAt, sub.RetentionOffer.Pending = today(c.Now()), true
			return plugins.Event{Type: EventOfferAcceptRequested, Data: detail}, nil
		})
		finish(c, err)
		return
	}
	req := backend.Request{
		Type:           backend.TypeSubscriptionOfferAccept,
		IdempotencyKey: backend.IdempotencyKey("offer_", c.SessionID(), s.ID, o.Reason, string(o.ShownAt)),
		Data: backend.SubscriptionOfferAcceptData{AccountID: c.Account().ID, SubscriptionID: s.ID, Reason: o.Reason,
			PercentOff: o.PercentOff, Periods: o.Periods, SessionID: c.SessionID()},
	}
	subscriptionRequests.carry(c, s, req, EventOfferAccepted, detail, func() (string, string) {
		return tr.T("plan.offer.done.title"), tr.T("plan.offer.done.body", "name", s.Name, "percent", o.PercentOff, "count", o.Periods)
	})
}
