package account

import "testing"

// TestSubscriptionRules: one table for what the customer may do with a subscription; the portal's
// controls and actions, the session API's cancel flow and the dashboard all ask these.
func TestSubscriptionRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status                                     string
		scheduled                                  bool
		bills, ended, cancellable, cancelScheduled bool
	}{
		{status: SubActive, bills: true, cancellable: true},
		{status: SubTrialing, bills: true, cancellable: true},
		{status: SubPastDue, bills: true, cancellable: true},
		{status: SubActive, scheduled: true, bills: true, cancelScheduled: true},
		{status: SubTrialing, scheduled: true, bills: true, cancelScheduled: true},
		{status: SubPastDue, scheduled: true, bills: true, cancelScheduled: true},
		{status: SubPaused},
		{status: SubPaused, scheduled: true, cancelScheduled: true},
		{status: SubPending},
		{status: SubCanceled, ended: true},
		{status: SubCanceled, scheduled: true, ended: true},
		{status: SubEnded, ended: true},
		{status: SubEnded, scheduled: true, ended: true},
		{status: "unknown"},
	} {
		s := &Subscription{Status: tc.status, CancelAtPeriodEnd: tc.scheduled}
		got := [4]bool{s.Bills(), s.Ended(), s.Cancellable(), s.CancelScheduled()}
		if want := [4]bool{tc.bills, tc.ended, tc.cancellable, tc.cancelScheduled}; got != want {
			t.Errorf("%s (cancelAtPeriodEnd %v): Bills, Ended, Cancellable, CancelScheduled = %v, want %v", tc.status, tc.scheduled, got, want)
		}
	}
}

// TestAccountRules: the last payment method stays while a subscription bills; auto-pay can be
// changed with a method to charge, and without one only turned off.
func TestAccountRules(t *testing.T) {
	t.Parallel()
	active, canceled := Subscription{ID: "s1", Status: SubActive}, Subscription{ID: "s2", Status: SubCanceled}
	card, sepa := PaymentMethod{ID: "pm1", Type: PaymentCard, Default: true}, PaymentMethod{ID: "pm2", Type: PaymentSEPADebit}
	for _, tc := range []struct {
		name                          string
		subs                          []Subscription
		methods                       []PaymentMethod
		autoPay                       *AutoPay
		billing, removable, autoPayOK bool
	}{
		{name: "nothing"},
		{name: "billing, no method", subs: []Subscription{active}, billing: true},
		{name: "billing, one method", subs: []Subscription{active}, methods: []PaymentMethod{card}, billing: true, autoPayOK: true},
		{name: "billing, two methods", subs: []Subscription{active}, methods: []PaymentMethod{card, sepa}, billing: true, removable: true, autoPayOK: true},
		{name: "only ended subscriptions, one method", subs: []Subscription{canceled}, methods: []PaymentMethod{card}, removable: true, autoPayOK: true},
		{name: "no method, auto-pay on", autoPay: &AutoPay{Enabled: true}, autoPayOK: true},
		{name: "no method, auto-pay off", autoPay: &AutoPay{}},
	} {
		a := &Account{Subscriptions: tc.subs, PaymentMethods: tc.methods, AutoPay: tc.autoPay}
		got := [3]bool{a.Billing(), a.PaymentMethodRemovable(), a.AutoPayChangeable()}
		if want := [3]bool{tc.billing, tc.removable, tc.autoPayOK}; got != want {
			t.Errorf("%s: Billing, PaymentMethodRemovable, AutoPayChangeable = %v, want %v", tc.name, got, want)
		}
	}
}
