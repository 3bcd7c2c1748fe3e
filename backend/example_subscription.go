package backend

import (
	"context"
	"encoding/json"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// subscription answers the example's subscription requests from the account document: a pause
// pauses an active subscription at once until the day asked (status paused, resumesAt and the
// next charge on it), a resume makes a paused one active again with its next charge today, and
// an accepted offer records it (retentionOffer accepted, not pending) and takes its percentage
// off the estimated next charge. A request the subscription's state does not allow is declined
// with a message.
func (e *Example) subscription(ctx context.Context, typ string, raw json.RawMessage, now time.Time) exampleAnswer {
	var d struct {
		AccountID      string `json:"accountId"`
		SubscriptionID string `json:"subscriptionId"`
		ResumesAt      string `json:"resumesAt"`
		Reason         string `json:"reason"`
		PercentOff     int    `json:"percentOff"`
		Periods        int    `json:"periods"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		return exampleAnswer{Result: Declined, Message: "The request could not be read."}
	}
	a, err := e.Account(ctx, d.AccountID)
	if err != nil {
		return exampleAnswer{Result: Declined, Message: "The account could not be found."}
	}
	s := a.Subscription(d.SubscriptionID)
	if s == nil {
		return exampleAnswer{Result: Declined, Message: "The subscription could not be found."}
	}
	today := account.Date(now.UTC().Format(time.DateOnly))
	switch typ {
	case TypeSubscriptionPause:
		resumes := account.Date(d.ResumesAt)
		if _, ok := resumes.Time(); !ok || s.Status != account.SubActive || s.CancelAtPeriodEnd {
			return exampleAnswer{Result: Declined, Message: "This subscription cannot be paused right now."}
		}
		s.Status, s.ResumesAt, s.NextChargeDate, s.PauseRequest = account.SubPaused, resumes, resumes, nil
		return exampleAnswer{Result: Succeeded, Message: "Your subscription is paused. See you soon!", Account: a}
	case TypeSubscriptionResume:
		if s.Status != account.SubPaused {
			return exampleAnswer{Result: Declined, Message: "This subscription is not paused."}
		}
		s.Status, s.ResumesAt, s.NextChargeDate, s.PauseRequest = account.SubActive, "", today, nil
		return exampleAnswer{Result: Succeeded, Message: "Welcome back!", Account: a}
	default: // TypeSubscriptionOfferAccept
		if !s.Cancellable() || d.PercentOff < 1 || d.PercentOff > 100 || d.Periods < 1 || d.Periods > account.MaxOfferPeriods {
			return exampleAnswer{Result: Declined, Message: "This offer cannot be applied to this subscription."}
		}
		if s.RetentionOffer == nil {
			s.RetentionOffer = &account.RetentionOffer{Reason: d.Reason, PercentOff: d.PercentOff, Periods: d.Periods, ShownAt: today}
		}
		s.RetentionOffer.AcceptedAt, s.RetentionOffer.Pending = today, false
		if n, err := s.NextCharge(); err == nil {
			discounted := n - n*int64(d.PercentOff)/100
			s.EstimatedNextCharge = &discounted
		}
		return exampleAnswer{Result: Succeeded, Message: "Thank you for staying with us.", Account: a}
	}
}
