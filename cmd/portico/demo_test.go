package main

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// seedingDays are days the demo may be seeded on: mid-month, month and year ends, a leap day.
var seedingDays = []time.Time{
	time.Date(2026, 12, 4, 14, 30, 0, 0, time.UTC),
	time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC),
	time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC),
	time.Date(2029, 7, 31, 8, 0, 0, 0, time.UTC),
}

// checkDemoStory fails t unless the demo accounts tell their story as of now: every billing period
// contains today and the next charge is after it, the cards are not expired, Globex has an overdue
// invoice past its due date, an open one not yet due, a paid one and a draft (which the portal
// never shows), and Initech's open invoice is not overdue. Decoding already checked that every
// invoice's lines add up to its subtotal and total.
func checkDemoStory(t *testing.T, accounts []*account.Account, now time.Time) {
	t.Helper()
	today := account.Date(now.UTC().Format(time.DateOnly))
	if len(accounts) != 2 || accounts[0].Name != "Globex Corporation" || accounts[1].Name != "Initech LLC" {
		t.Fatalf("demo accounts: %d", len(accounts))
	}
	for _, a := range accounts {
		for _, s := range a.Subscriptions {
			if !(s.CurrentPeriodStart <= today && today <= s.CurrentPeriodEnd) {
				t.Errorf("%s %s: period %s – %s does not contain %s", a.Name, s.Name, s.CurrentPeriodStart, s.CurrentPeriodEnd, today)
			}
			// The overview shows the estimate above the pricing breakdown: they must agree, its
			// items less its discounts with no difference left to list.
			if b, err := s.Breakdown(); err != nil {
				t.Errorf("%s %s: %v", a.Name, s.Name, err)
			} else if est, _ := s.NextCharge(); b.Difference != 0 || est != b.Computed {
				t.Errorf("%s %s: estimated next charge %d, but its items less its discounts add up to %d", a.Name, s.Name, est, b.Computed)
			}
			if s.NextChargeDate <= today || s.NextChargeDate <= s.CurrentPeriodEnd {
				t.Errorf("%s %s: next charge %s is not after %s and the period end %s", a.Name, s.Name, s.NextChargeDate, today, s.CurrentPeriodEnd)
			}
		}
		for _, pm := range a.PaymentMethods {
			if pm.ExpYear != 0 && (pm.ExpYear < now.Year() || pm.ExpYear == now.Year() && pm.ExpMonth < int(now.Month())) {
				t.Errorf("%s: card %s expired %d/%d", a.Name, pm.ID, pm.ExpMonth, pm.ExpYear)
			}
		}
		for _, inv := range a.Invoices {
			if inv.IssueDate > inv.DueDate {
				t.Errorf("%s %s: issued %s after its due date %s", a.Name, inv.Number, inv.IssueDate, inv.DueDate)
			}
		}
		// Invoice numbers follow their issue dates, as a customer expects of a numbering.
		byDate := slices.Clone(a.Invoices)
		slices.SortFunc(byDate, func(x, y account.Invoice) int { return strings.Compare(string(x.IssueDate), string(y.IssueDate)) })
		for i := 1; i < len(byDate); i++ {
			if byDate[i-1].Number >= byDate[i].Number {
				t.Errorf("%s: %s (issued %s) is numbered after %s (issued %s)", a.Name, byDate[i-1].Number, byDate[i-1].IssueDate, byDate[i].Number, byDate[i].IssueDate)
			}
		}
	}
	shown := map[string][]*account.Invoice{}
	for i := range accounts[0].Invoices {
		inv := &accounts[0].Invoices[i]
		shown[inv.DisplayStatus(now)] = append(shown[inv.DisplayStatus(now)], inv)
	}
	if o := shown[account.InvOverdue]; len(o) != 1 || o[0].DueDate >= today || o[0].AmountDue() <= 0 {
		t.Errorf("Globex: want one overdue invoice past its due date as of %s, got %+v", today, o)
	}
	if o := shown[account.InvIssued]; len(o) != 1 || o[0].DueDate < today || o[0].IssueDate > today || o[0].AmountDue() <= 0 {
		t.Errorf("Globex: want one open invoice issued by and due after %s, got %+v", today, o)
	}
	if len(shown[account.InvPaid]) != 1 || len(shown[account.InvDraft]) != 1 {
		t.Errorf("Globex: want one paid invoice and one draft, got %d and %d", len(shown[account.InvPaid]), len(shown[account.InvDraft]))
	}
	// The overview says what changed since a subscription's last invoice: Team's next charge has
	// 2 seats more than the month GLX-0005 billed (8 × €9 against 6 × €9).
	if team := accounts[0].Subscription("sub_Team_02"); team == nil {
		t.Error("Globex: no Team subscription")
	} else if last := accounts[0].LastInvoice(team); last == nil || last.Number != "GLX-0005" {
		t.Errorf("Globex Team: last invoice %+v, want GLX-0005", last)
	} else if b, err := team.Breakdown(); err != nil {
		t.Error(err)
	} else if cs := b.ChangesSince(last); len(cs) != 1 || cs[0].Product != "Seats" || cs[0].Delta() != 1800 || cs[0].QtyBefore != 6 || cs[0].QtyAfter != 8 {
		t.Errorf("Globex Team: changes since %s = %+v, want Seats 6 → 8 (+€18.00)", last.Number, cs)
	}
	if inv := accounts[1].Invoice("inv_it_0011"); inv == nil || inv.DisplayStatus(now) != account.InvIssued || inv.AmountPaid == 0 {
		t.Errorf("Initech: want INI-0011 open and partly paid as of %s, got %+v", today, inv)
	}
}

// TestDemoAccountsAddUp: on any day the demo may be seeded, the demo accounts are valid documents
// (their invoices' lines add up to their subtotals and totals: the demo is what a prospective
// customer sees first) and tell the same story relative to that day.
func TestDemoAccountsAddUp(t *testing.T) {
	t.Parallel()
	for _, now := range seedingDays {
		t.Run(now.Format(time.DateOnly), func(t *testing.T) {
			accounts, err := demoAccounts(now)
			if err != nil {
				t.Fatal(err)
			}
			checkDemoStory(t, accounts, now)
		})
	}
}

// TestSeedDemoDatesFollowTheDay seeds the demo on two days a month and a half apart, into etcd:
// what is stored is dated relative to each day (a demo seeded in December shows December's
// period, not the one the data was written in).
func TestSeedDemoDatesFollowTheDay(t *testing.T) {
	t.Parallel()
	p := etcdtest.Prefix(t)
	ctx := context.Background()
	g := &globals{prefix: p, stdout: io.Discard, stderr: io.Discard, etcdRequestTimeout: time.Minute}
	s, done, err := g.connect(ctx, []string{srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := s.EnsureSealKey(ctx); err != nil {
		t.Fatal(err)
	}
	urls, err := publicURLs(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		now                    time.Time
		periodStart, periodEnd account.Date // Initech's monthly plan
		overdueDue, openDue    account.Date // Globex's invoices
		overdueLine            string
		annualNext             account.Date
	}{
		{time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), "2026-12-01", "2026-12-31", "2026-11-30", "2027-01-01", "Seats (Nov 2026)", "2027-02-01"},
		{time.Date(2027, 1, 20, 9, 0, 0, 0, time.UTC), "2027-01-01", "2027-01-31", "2026-12-31", "2027-02-01", "Seats (Dec 2026)", "2027-03-01"},
	} {
		if err := seedDemo(ctx, g, s, urls, false, c.now); err != nil {
			t.Fatal(err)
		}
		tn, err := s.Tenant(ctx, demoSlug)
		if err != nil {
			t.Fatal(err)
		}
		if cat, err := s.Catalog(ctx, tn.ID); err != nil || cat.Policy.MaxPause() != 3 || cat.Policy.Offer("pricing") == nil || cat.Policy.Offer("pricing").PercentOff != 50 || cat.Policy.Offer("pricing").Periods != 2 {
			t.Errorf("seeded on %s: the demo's change policy is %+v (%v), want pauses up to 3 periods and 50 %% off 2 periods for pricing", c.now, cat, err)
		}
		if !tn.EmailSignIn {
			t.Errorf("seeded on %s: the demo tenant does not allow sign in by email", c.now)
		}
		if tn.Seller != demoSeller {
			t.Errorf("seeded on %s: the demo's seller is %+v, want %+v", c.now, tn.Seller, demoSeller)
		}
		var stored []*account.Account
		for _, id := range []string{"acc_7Hq2LmX9", "acc_initech01"} {
			snap, err := s.Account(ctx, tn.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, snap.Account)
		}
		checkDemoStory(t, stored, c.now)
		globex, initech := stored[0], stored[1]
		if sub := initech.Subscriptions[0]; sub.CurrentPeriodStart != c.periodStart || sub.CurrentPeriodEnd != c.periodEnd {
			t.Errorf("seeded on %s: Initech's period is %s – %s, want %s – %s", c.now, sub.CurrentPeriodStart, sub.CurrentPeriodEnd, c.periodStart, c.periodEnd)
		}
		if got := globex.Subscriptions[0].NextChargeDate; got != c.annualNext {
			t.Errorf("seeded on %s: Globex's next charge is %s, want %s", c.now, got, c.annualNext)
		}
		overdue, open := globex.Invoice("inv_glx_0006"), globex.Invoice("inv_glx_0007")
		if overdue.DueDate != c.overdueDue || overdue.Lines[0].Description != c.overdueLine || open.DueDate != c.openDue {
			t.Errorf("seeded on %s: overdue invoice due %s (%q), open one due %s; want %s (%q), %s",
				c.now, overdue.DueDate, overdue.Lines[0].Description, open.DueDate, c.overdueDue, c.overdueLine, c.openDue)
		}
	}
	// Seeding again keeps a seller the admin set.
	mine := tenants.Seller{LegalName: "Demo Holdings Ltd"}
	if _, err := s.UpdateTenant(ctx, demoSlug, func(t *tenants.Tenant) error { t.Seller = mine; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	if err := seedDemo(ctx, g, s, urls, false, seedingDays[0]); err != nil {
		t.Fatal(err)
	}
	if tn, err := s.Tenant(ctx, demoSlug); err != nil || tn.Seller != mine {
		t.Errorf("seeding again replaced the admin's seller: %+v, %v", tn, err)
	}
}

// TestDemoCatalog: the demo's plans and policy are valid, Globex's Team subscription is on the
// Team plan with its items, and on any seeding day an upgrade to Business is charged now and a
// move to Starter waits for the end of the month, each with a preview.
func TestDemoCatalog(t *testing.T) {
	t.Parallel()
	byID := map[string]*catalog.Plan{}
	for _, p := range demoPlans() {
		if err := p.Validate(); err != nil {
			t.Fatal(err)
		}
		byID[p.ID] = p
	}
	po := &catalog.Policy{Upgrades: catalog.Now, Downgrades: catalog.PeriodEnd, Seats: catalog.Now}
	for _, now := range seedingDays {
		accounts, err := demoAccounts(now)
		if err != nil {
			t.Fatal(err)
		}
		s := accounts[0].Subscription("sub_Team_02")
		if s == nil || byID[s.PlanID] == nil || s.Items[1].Quantity < *byID["team"].Items[1].MinQuantity {
			t.Fatalf("Globex's Team subscription: %+v", s)
		}
		date := account.Date(now.UTC().Format(time.DateOnly))
		up, err := (&catalog.Change{Subscription: s, Currency: "EUR", Current: byID["team"], Target: byID["business"], Date: date}).Preview(po)
		if err != nil || up.Timing != catalog.Now || up.Kind != catalog.ChangeUpgrade || up.AmountDue <= 0 {
			t.Errorf("%s: upgrade %+v, %v", date, up, err)
		}
		down, err := (&catalog.Change{Subscription: s, Currency: "EUR", Current: byID["team"], Target: byID["starter"], Date: date}).Preview(po)
		if err != nil || down.Timing != catalog.PeriodEnd || down.EffectiveDate <= date {
			t.Errorf("%s: downgrade %+v, %v", date, down, err)
		}
	}
}
