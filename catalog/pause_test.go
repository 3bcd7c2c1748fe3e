package catalog

import (
	"errors"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

func TestResumeDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		start, end account.Date
		periods    int
		want       account.Date
	}{
		{"month, one period", "2026-12-01", "2026-12-31", 1, "2027-02-01"},
		{"month, two periods", "2026-12-01", "2026-12-31", 2, "2027-03-01"},
		{"mid-month anchor", "2026-11-15", "2026-12-14", 3, "2027-03-15"},
		{"anchor 31 over February", "2027-01-31", "2027-02-27", 1, "2027-03-31"},
		{"anchor 31, two periods clamps to 30 April", "2027-01-31", "2027-02-27", 2, "2027-04-30"},
		{"anchor 31 after a clamped February", "2027-02-28", "2027-03-30", 1, "2027-04-30"},
		{"anchor 30 into February", "2026-12-30", "2027-01-29", 1, "2027-02-28"},
		{"anchor 30 into a leap February", "2027-12-30", "2028-01-29", 1, "2028-02-29"},
		{"anchor 29 Feb, yearly", "2028-02-29", "2029-02-27", 1, "2030-02-28"},
		{"yearly", "2026-06-01", "2027-05-31", 2, "2029-06-01"},
		{"quarterly", "2026-01-01", "2026-03-31", 1, "2026-07-01"},
		{"year end", "2026-11-01", "2026-11-30", 2, "2027-02-01"},
		{"weekly", "2026-12-07", "2026-12-13", 3, "2027-01-04"},
		{"irregular days", "2026-12-01", "2026-12-10", 2, "2026-12-31"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &account.Subscription{ID: "s", CurrentPeriodStart: tt.start, CurrentPeriodEnd: tt.end}
			got, err := ResumeDate(s, nil, tt.periods)
			if err != nil || got != tt.want {
				t.Errorf("ResumeDate(%s – %s, %d) = %q, %v; want %q", tt.start, tt.end, tt.periods, got, err, tt.want)
			}
		})
	}
}

// TestResumeDateOfPlan: with the subscription's plan known, the paused periods are the plan's,
// counted from the day after the current period, whatever that period's length (a first period
// shorter or longer than the plan's).
func TestResumeDateOfPlan(t *testing.T) {
	t.Parallel()
	plan := func(interval string, count int) *Plan {
		return &Plan{ID: "p", Interval: interval, IntervalCount: count}
	}
	tests := []struct {
		name       string
		plan       *Plan
		start, end account.Date
		periods    int
		want       account.Date
	}{
		// Read from the 17-day period alone, one period would resume on 18 April.
		{"monthly plan, short first period", plan(IntervalMonth, 1), "2026-03-15", "2026-03-31", 1, "2026-05-01"},
		{"monthly plan, short first period, three periods", plan(IntervalMonth, 0), "2026-03-15", "2026-03-31", 3, "2026-07-01"},
		// A first period of 1 Jan – 14 Feb then monthly from the 15th.
		{"monthly plan, long first period", plan(IntervalMonth, 1), "2026-01-01", "2026-02-14", 2, "2026-04-15"},
		{"monthly plan anchored on the 31st", plan(IntervalMonth, 1), "2027-01-31", "2027-02-27", 2, "2027-04-30"},
		{"monthly plan anchored on the 30th into February", plan(IntervalMonth, 1), "2026-12-30", "2027-01-29", 1, "2027-02-28"},
		{"quarterly plan", plan(IntervalMonth, 3), "2026-02-10", "2026-03-31", 1, "2026-07-01"},
		{"yearly plan, short first period", plan(IntervalYear, 1), "2026-11-10", "2026-12-31", 1, "2028-01-01"},
		{"two-weekly plan, three-day first period", plan(IntervalWeek, 2), "2026-12-01", "2026-12-03", 1, "2026-12-18"},
		{"daily plan", plan(IntervalDay, 10), "2026-12-01", "2026-12-03", 2, "2026-12-24"},
		// An interval no plan may have: the period's, as without a plan.
		{"unusable interval", plan("quarter", 1), "2026-12-01", "2026-12-31", 1, "2027-02-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &account.Subscription{ID: "s", CurrentPeriodStart: tt.start, CurrentPeriodEnd: tt.end}
			got, err := ResumeDate(s, tt.plan, tt.periods)
			if err != nil || got != tt.want {
				t.Errorf("ResumeDate(%s – %s, %s, %d) = %q, %v; want %q", tt.start, tt.end, tt.name, tt.periods, got, err, tt.want)
			}
		})
	}
}

func TestResumeDateRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		start, end account.Date
		periods    int
	}{
		{"no period", "", "", 1},
		{"no start", "", "2026-12-31", 1},
		{"end before start", "2026-12-31", "2026-12-01", 1},
		{"zero periods", "2026-12-01", "2026-12-31", 0},
		{"too many periods", "2026-12-01", "2026-12-31", MaxPausePeriods + 1},
		{"beyond 9999", "9999-01-01", "9999-12-31", 1},
	}
	for _, tt := range tests {
		s := &account.Subscription{ID: "s", CurrentPeriodStart: tt.start, CurrentPeriodEnd: tt.end}
		if got, err := ResumeDate(s, nil, tt.periods); err == nil {
			t.Errorf("%s: ResumeDate = %q, want an error", tt.name, got)
		} else if tt.name != "beyond 9999" && !errors.Is(err, ErrPause) {
			t.Errorf("%s: err = %v, want ErrPause", tt.name, err)
		}
	}
}

func TestPolicyPauseAndOffer(t *testing.T) {
	t.Parallel()
	if n := (&Policy{}).MaxPause(); n != 0 {
		t.Errorf("zero policy MaxPause = %d", n)
	}
	if n := (&Policy{Pause: true}).MaxPause(); n != 1 {
		t.Errorf("pause without a maximum: MaxPause = %d, want 1", n)
	}
	if n := (&Policy{Pause: true, PauseMaxPeriods: 3}).MaxPause(); n != 3 {
		t.Errorf("MaxPause = %d, want 3", n)
	}
	po := &Policy{Offers: []Offer{{Reason: "", PercentOff: 10, Periods: 1}, {Reason: "pricing", PercentOff: 50, Periods: 2}}}
	if o := po.Offer("pricing"); o == nil || o.PercentOff != 50 {
		t.Errorf("Offer(pricing) = %+v", o)
	}
	if o := po.Offer("features"); o == nil || o.PercentOff != 10 {
		t.Errorf("Offer(features) = %+v, want the catch-all", o)
	}
	if o := (&Policy{Offers: po.Offers[1:]}).Offer("features"); o != nil {
		t.Errorf("Offer without a catch-all = %+v", o)
	}
}
