package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// ErrPause is wrapped by the errors of a pause the policy or the subscription does not allow.
var ErrPause = errors.New("catalog: pause not possible")

// MaxPause is the longest pause the policy allows, in periods: 0 when it allows none.
func (po *Policy) MaxPause() int {
	if !po.Pause {
		return 0
	}
	if po.PauseMaxPeriods == 0 {
		return 1
	}
	return po.PauseMaxPeriods
}

// Offer returns the policy's retention offer for a cancellation reason: the reason's own, else
// the one for any reason (Reason ""), else nil.
func (po *Policy) Offer(reason string) *Offer {
	var any *Offer
	for i := range po.Offers {
		switch po.Offers[i].Reason {
		case reason:
			return &po.Offers[i]
		case "":
			any = &po.Offers[i]
		}
	}
	return any
}

// ResumeDate is the day billing resumes when the subscription pauses for periods billing
// periods from the end of its current period: the periods after the current one are not billed,
// and the one after them starts on the returned day.
//
// The periods are the plan's (Plan.Interval and IntervalCount) when the subscription's plan is
// known (plan not nil): counted from the day after the current period, a month's day anchored on
// that day's (or, when that day is a month's last and the period started on a later day, on the
// period's: 31 Jan – 27 Feb is anchored on the 31st), so that a first period shorter than the
// plan's (15 – 31 March on a monthly plan) does not shorten the pause (one period resumes on
// 1 May, not after another 17 days). Without the plan, or with an interval no plan may have, the
// interval is read from the current period (CurrentPeriodStart to CurrentPeriodEnd, both days
// included): a whole number of months when the day after the period is that many months after
// its start, a month's day clamped to the month's last (31 Jan – 27 Feb is a month anchored on
// the 31st; 28 Feb – 30 Mar one too), else a number of days (weeks are 7 days). Month periods
// keep their anchor day: from the period 31 Jan – 27 Feb, a pause of one period resumes on
// 31 Mar, of two on 30 Apr.
func ResumeDate(s *account.Subscription, plan *Plan, periods int) (account.Date, error) {
	if periods < 1 || periods > MaxPausePeriods {
		return "", fmt.Errorf("%w: %d periods is not from 1 to %d", ErrPause, periods, MaxPausePeriods)
	}
	start, ok1 := s.CurrentPeriodStart.Time()
	end, ok2 := s.CurrentPeriodEnd.Time()
	if !ok1 || !ok2 || end.Before(start) {
		return "", fmt.Errorf("%w: subscription %q has no current period", ErrPause, s.ID)
	}
	next := end.AddDate(0, 0, 1)
	anchor := max(start.Day(), next.Day())
	if plan != nil {
		if unit, n, err := normInterval(plan); err == nil {
			if unit == IntervalDay {
				return dateOf(next.AddDate(0, 0, n*periods))
			}
			anchor = next.Day()
			if next.AddDate(0, 0, 1).Day() == 1 && start.Day() > anchor {
				anchor = start.Day()
			}
			return dateOf(addMonths(next, n*periods, anchor))
		}
	}
	months := (next.Year()-start.Year())*12 + int(next.Month()) - int(start.Month())
	var resume time.Time
	if months >= 1 && addMonths(start, months, anchor).Equal(next) {
		resume = addMonths(start, months*(periods+1), anchor)
	} else {
		resume = next.AddDate(0, 0, int(days(start, next))*periods)
	}
	return dateOf(resume)
}

// addMonths is n months after t on the anchor day, clamped to the month's last day.
func addMonths(t time.Time, n, anchor int) time.Time {
	idx := int(t.Month()) - 1 + n
	y, m := t.Year()+idx/12, time.Month(idx%12+1)
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return time.Date(y, m, min(anchor, last), 0, 0, 0, 0, time.UTC)
}
