// Package account owns the account document that tenant backends push to Portico: its JSON shape,
// its validation rules and the arithmetic that prices a subscription. It has no I/O: the tenants
// package stores documents in etcd, the plugins render them, and both import this package.
//
// Money is always an integer number of minor units of the account's ISO 4217 currency (cents for
// EUR, yen for JPY, fils for KWD). Fractional per-unit prices, common for metered usage, are given as
// decimal strings of minor units ("0.3" = three tenths of a cent) and priced exactly with math/big.
package account

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/portico-billing/portico/i18n"
)

// Account is the document of one customer account of a tenant.
type Account struct {
	// ID is the tenant's identifier of the account; unique per tenant.
	ID string `json:"id"`
	// Alias is an optional second identifier (a CRM id); unique per tenant when set.
	Alias string `json:"alias,omitempty"`
	// Name is the customer's display name.
	Name string `json:"name"`
	// Email is the billing email, where portal links are sent.
	Email string `json:"email,omitempty"`
	// Currency is the ISO 4217 code all amounts of the account are in, unless an invoice says otherwise.
	Currency string `json:"currency"`
	// Locale is a BCP 47 tag used to format money and dates; empty means the tenant's default.
	Locale         string          `json:"locale,omitempty"`
	Company        *Company        `json:"company,omitempty"`
	PaymentMethods []PaymentMethod `json:"paymentMethods,omitempty"`
	AutoPay        *AutoPay        `json:"autoPay,omitempty"`
	Subscriptions  []Subscription  `json:"subscriptions,omitempty"`
	Invoices       []Invoice       `json:"invoices,omitempty"`
	// CreditNotes correct invoices of the account: the portal lists each with its invoice.
	CreditNotes []CreditNote `json:"creditNotes,omitempty"`
	// Wallet is the account's prepaid credit balance, when it has one (see Wallet).
	Wallet *Wallet `json:"wallet,omitempty"`
}

// Company holds the billing details shown in the Billing Information section and on invoices.
type Company struct {
	LegalName string   `json:"legalName,omitempty"`
	TaxID     string   `json:"taxId,omitempty"`
	Address   *Address `json:"address,omitempty"`
}

// Address is a postal address; Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Region     string `json:"region,omitempty"`
	Country    string `json:"country,omitempty"`
}

// Postal is the address as i18n writes it (i18n.Printer.AddressLines).
func (a *Address) Postal() i18n.Address { return i18n.Address(*a) }

// Payment method types.
const (
	PaymentCard      = "card"
	PaymentSEPADebit = "sepa_debit"
	PaymentACH       = "us_bank_account"
	PaymentBACS      = "bacs_debit"
	PaymentPayPal    = "paypal"
)

// PaymentMethod is a saved payment method. Portico never sees card numbers, only what identifies a
// method to a person: brand, last four digits, expiry, bank name.
type PaymentMethod struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Brand    string `json:"brand,omitempty"`
	Last4    string `json:"last4,omitempty"`
	ExpMonth int    `json:"expMonth,omitempty"`
	ExpYear  int    `json:"expYear,omitempty"`
	BankName string `json:"bankName,omitempty"`
	Email    string `json:"email,omitempty"`
	Default  bool   `json:"default"`
}

// Auto-pay timings.
const (
	AutoPayOnIssue   = "on_issue"
	AutoPayOnDueDate = "on_due_date"
)

// AutoPay says whether invoices are charged automatically to a saved payment method, and when.
type AutoPay struct {
	Enabled         bool   `json:"enabled"`
	PaymentMethodID string `json:"paymentMethodId,omitempty"`
	Timing          string `json:"timing,omitempty"`
}

// Subscription statuses.
const (
	SubActive   = "active"
	SubTrialing = "trialing"
	SubPastDue  = "past_due"
	SubPaused   = "paused"
	SubCanceled = "canceled"
	SubEnded    = "ended"
	SubPending  = "pending"
)

// CancelReasons are the cancellation reasons a customer picks from in the portal's cancel form,
// in the order shown (package planoverview labels each by the message "cancel.reason.<value>");
// the catalog's retention offers are made per reason.
var CancelReasons = []string{"no_longer_required", "moving_provider", "pricing", "support", "features", "upgraded", "other"}

// Subscription is a plan the account is on, with its priced items.
type Subscription struct {
	ID                 string `json:"id"`
	Name               string `json:"name"`
	Status             string `json:"status"`
	CurrentPeriodStart Date   `json:"currentPeriodStart,omitempty"`
	CurrentPeriodEnd   Date   `json:"currentPeriodEnd,omitempty"`
	NextChargeDate     Date   `json:"nextChargeDate,omitempty"`
	// EstimatedNextCharge in minor units; when absent Portico computes it from the items.
	EstimatedNextCharge *int64 `json:"estimatedNextCharge,omitempty"`
	// CancelAtPeriodEnd is true when a cancellation is scheduled for CurrentPeriodEnd.
	CancelAtPeriodEnd bool `json:"cancelAtPeriodEnd"`
	// CanceledAt is the date a cancellation took or takes effect, when known.
	CanceledAt Date   `json:"canceledAt,omitempty"`
	Items      []Item `json:"items,omitempty"`
	// PlanID is the id of the tenant's catalog plan the subscription is on (package catalog),
	// when it is on one: the portal offers the plans the catalog lets it move to.
	PlanID string `json:"planId,omitempty"`
	// PendingChange is a change the customer asked for in the portal that the tenant has not
	// carried out yet (a tenant without a backend): Portico records it and shows it until the
	// tenant pushes the document with the change made (and without PendingChange).
	PendingChange *PendingChange `json:"pendingChange,omitempty"`
	// ResumesAt is the day billing resumes of a paused subscription, when known.
	ResumesAt Date `json:"resumesAt,omitempty"`
	// PauseRequest is a pause or resume the customer asked for in the portal that the tenant has
	// not carried out yet (no backend carried it out): the portal shows it as requested until the
	// tenant pushes the document without it.
	PauseRequest *PauseRequest `json:"pauseRequest,omitempty"`
	// RetentionOffer is the offer the portal showed before a cancellation (once per
	// subscription), and whether the customer accepted it.
	RetentionOffer *RetentionOffer `json:"retentionOffer,omitempty"`
	// Discounts are the discounts and credits of the subscription: those that apply on
	// NextChargeDate are taken off the estimated next charge (Breakdown).
	Discounts []Discount `json:"discounts,omitempty"`
}

// Actions of a PauseRequest.
const (
	PauseActionPause  = "pause"
	PauseActionResume = "resume"
)

// MaxPauseRequestPeriods bounds PauseRequest.Periods (the catalog's policies allow fewer).
const MaxPauseRequestPeriods = 12

// PauseRequest is a pause or resume asked for in the portal and not carried out yet.
type PauseRequest struct {
	// Action is "pause" or "resume".
	Action string `json:"action"`
	// Periods is the number of billing periods paused (pause only).
	Periods int `json:"periods,omitempty"`
	// ResumesAt is the day billing resumes: the end of the pause, or for a resume the day asked.
	ResumesAt Date `json:"resumesAt,omitempty"`
	// RequestedAt is the day the customer asked.
	RequestedAt Date `json:"requestedAt"`
}

// MaxOfferPeriods bounds RetentionOffer.Periods (the catalog's MaxOfferPeriods).
const MaxOfferPeriods = 24

// RetentionOffer is a retention offer shown to the customer before a cancellation: PercentOff
// off the next Periods periods, for the cancellation reason Reason.
type RetentionOffer struct {
	Reason     string `json:"reason"`
	PercentOff int    `json:"percentOff"`
	Periods    int    `json:"periods"`
	// ShownAt is the day the portal showed it; an offer is shown once per subscription.
	ShownAt Date `json:"shownAt"`
	// AcceptedAt is the day the customer accepted it, "" when not (yet) accepted.
	AcceptedAt Date `json:"acceptedAt,omitempty"`
	// Pending is true when the acceptance was recorded without a backend carrying it out: the
	// tenant applies the discount and pushes the document with pending false (or without it).
	Pending bool `json:"pending,omitempty"`
}

// ChangeTarget is what a plan or seat change moves a subscription to: either PlanID (the
// catalog plan) with Quantities, or Item and Quantity (the new quantity of the per_unit item at
// that index of the subscription's items). A pending change and the backend's subscription.change
// and subscription.preview requests carry it, with these JSON names.
type ChangeTarget struct {
	PlanID string `json:"planId,omitempty"`
	// Quantities are, with PlanID, the quantities of the plan's per_unit items the subscription
	// moves with: the seats it has now, carried over (catalog.Plan.ItemsFor).
	Quantities []ItemQuantity `json:"quantities,omitempty"`
	Item       *int           `json:"item,omitempty"`
	Quantity   *int64         `json:"quantity,omitempty"`
}

// PendingChange is a plan or seat change asked for and not carried out yet.
type PendingChange struct {
	ChangeTarget
	// PlanName is the plan's name when it was asked for, for the portal's notice ("Change to
	// Team on 1 Jan 2027 requested"); without it the notice names PlanID.
	PlanName string `json:"planName,omitempty"`
	// EffectiveDate is the day the change is to take effect; RequestedAt the day it was asked
	// for.
	EffectiveDate Date `json:"effectiveDate"`
	RequestedAt   Date `json:"requestedAt"`
}

// MaxQuantity bounds an item's quantity in a pending change.
const MaxQuantity = 1 << 40

// MaxPendingQuantities bounds PendingChange.Quantities (a plan has at most 20 items).
const MaxPendingQuantities = 20

// ItemQuantity is the Quantity of the per_unit item of Product of a plan.
type ItemQuantity struct {
	Product  string `json:"product"`
	Quantity int64  `json:"quantity"`
}

// Pricing models of an item.
const (
	PricingFlat    = "flat"     // one amount per period, quantity ignored
	PricingPerUnit = "per_unit" // quantity × unit price
	PricingTiered  = "tiered"   // graduated: each tier's units at that tier's price
	PricingVolume  = "volume"   // all units at the price of the tier the quantity falls in
	PricingFee     = "fee"      // one-off fee: quantity × unit price, charged once
)

// Item is one priced line of a subscription.
type Item struct {
	Product      string `json:"product"`
	PricingModel string `json:"pricingModel"`
	Quantity     int64  `json:"quantity"`
	Unit         string `json:"unit,omitempty"`
	// UnitAmount is the price of one unit (or the flat amount) in minor units.
	UnitAmount *int64 `json:"unitAmount,omitempty"`
	// UnitAmountDecimal is a fractional unit price in minor units, e.g. "0.3"; exclusive with UnitAmount.
	UnitAmountDecimal string `json:"unitAmountDecimal,omitempty"`
	Tiers             []Tier `json:"tiers,omitempty"`
	// Meter is the usage this period of an item priced by usage (per_unit, tiered, volume),
	// shown in the Usage section (see Meter).
	Meter *Meter `json:"meter,omitempty"`
}

// Tier is one band of a tiered or volume price. UpTo nil means "and above"; only the last tier may
// leave it nil.
type Tier struct {
	UpTo              *int64 `json:"upTo"`
	UnitAmount        *int64 `json:"unitAmount,omitempty"`
	UnitAmountDecimal string `json:"unitAmountDecimal,omitempty"`
	// FlatAmount is added once when any unit falls into this tier.
	FlatAmount *int64 `json:"flatAmount,omitempty"`
}

// Invoice statuses, as a billing system reports them. The portal shows only Paid, Issued and
// Overdue (plus Void for voided invoices); drafts and statuses before issue are never shown.
const (
	InvDraft           = "draft"
	InvUpcoming        = "upcoming"
	InvPendingApproval = "pending_approval"
	InvScheduled       = "scheduled"
	InvProcessing      = "processing"
	InvIssuing         = "issuing"
	InvIssued          = "issued"
	InvVoid            = "void"
	InvPaid            = "paid"
	InvCanceled        = "canceled"
	InvOverdue         = "overdue"
)

// Invoice is an issued (or not yet issued) invoice of the account. Its amounts must add up (see
// Validate): each line's amount is its quantity × unit price, subtotal = Σ line amounts − Discount
// (when the invoice has lines), total = subtotal + tax, amountPaid ≤ total; what remains due is
// total − amountPaid.
type Invoice struct {
	ID        string `json:"id"`
	Number    string `json:"number,omitempty"`
	Status    string `json:"status"`
	IssueDate Date   `json:"issueDate,omitempty"`
	DueDate   Date   `json:"dueDate,omitempty"`
	PaidDate  Date   `json:"paidDate,omitempty"`
	Currency  string `json:"currency,omitempty"`
	// Discount is taken off the sum of the lines, in minor units: discounts and credits applied to
	// the invoice before tax. It needs lines to be taken off; zero when absent.
	Discount int64 `json:"discount,omitempty"`
	Subtotal int64 `json:"subtotal"`
	Tax      int64 `json:"tax"`
	// TaxRate is the optional tax rate in percent as a decimal string ("19", "8.25"); when set, tax
	// must be subtotal × taxRate / 100 rounded half up to a minor unit, and the invoice shows it.
	TaxRate    string `json:"taxRate,omitempty"`
	Total      int64  `json:"total"`
	AmountPaid int64  `json:"amountPaid"`
	Lines      []Line `json:"lines,omitempty"`
	// Discounts describe what Discount and the lines' discounts are: when given, what they take
	// off (each PercentOff or AmountOff of the lines of its product, or of all lines) must add up
	// to Discount + Σ line discounts.
	Discounts []Discount `json:"discounts,omitempty"`
	// SubscriptionID links the invoice to the subscription it bills, when there is one.
	SubscriptionID string `json:"subscriptionId,omitempty"`
	// PaymentURL is the tenant's hosted page where the customer pays this invoice: an absolute
	// https URL without credentials, at most MaxPaymentURL bytes. The portal's "Pay now" links
	// there when the tenant has no backend to pay through.
	PaymentURL string `json:"paymentUrl,omitempty"`
}

// CreditNote credits part or all of an invoice of the account (InvoiceID), in the invoice's
// currency: its lines (when given) less their discounts add up to Total, and the credit notes of
// an invoice together credit at most its total.
type CreditNote struct {
	ID        string `json:"id"`
	Number    string `json:"number,omitempty"`
	InvoiceID string `json:"invoiceId"`
	IssueDate Date   `json:"issueDate"`
	// Reason says why, for the customer ("Seats removed on 13 Nov"); at most 500 characters.
	Reason string `json:"reason,omitempty"`
	Total  int64  `json:"total"`
	Lines  []Line `json:"lines,omitempty"`
	// PDFURL is the tenant's own copy of the credit note (an https URL like Invoice.PaymentURL);
	// the portal renders its own PDF either way and links the tenant's as the original.
	PDFURL string `json:"pdfUrl,omitempty"`
}

// CreditNote returns the credit note with the id, or nil.
func (a *Account) CreditNote(id string) *CreditNote {
	for i := range a.CreditNotes {
		if a.CreditNotes[i].ID == id {
			return &a.CreditNotes[i]
		}
	}
	return nil
}

// CreditNotesOf returns the credit notes of the invoice with the id, in the document's order.
func (a *Account) CreditNotesOf(invoiceID string) []*CreditNote {
	var out []*CreditNote
	for i := range a.CreditNotes {
		if a.CreditNotes[i].InvoiceID == invoiceID {
			out = append(out, &a.CreditNotes[i])
		}
	}
	return out
}

// MaxPaymentURL is the longest Invoice.PaymentURL accepted, in bytes.
const MaxPaymentURL = 2000

// Open reports whether the customer still has the invoice to pay: issued (overdue included)
// with an amount due.
func (inv *Invoice) Open() bool {
	return (inv.Status == InvIssued || inv.Status == InvOverdue) && inv.AmountDue() > 0
}

// Line is one line of an invoice: Amount must be Quantity × the unit price, rounded half up to a
// minor unit when the price is fractional, and prorated when the line says so (Proration).
type Line struct {
	Description string `json:"description"`
	// Product names what the line bills (an item's product): the invoice's discounts apply to
	// lines by it, and the portal compares invoices by it.
	Product  string `json:"product,omitempty"`
	Quantity int64  `json:"quantity"`
	// UnitAmount is the price of one unit in minor units.
	UnitAmount int64 `json:"unitAmount"`
	// UnitAmountDecimal is a fractional unit price in minor units ("2.5"), for metered usage; when
	// set, UnitAmount must be zero.
	UnitAmountDecimal string `json:"unitAmountDecimal,omitempty"`
	Amount            int64  `json:"amount"`
	// Discount is taken off this line's Amount (at most Amount), in minor units.
	Discount int64 `json:"discount,omitempty"`
	// Period is the service period the line bills.
	Period *Period `json:"period,omitempty"`
	// Proration makes the line bill part of a period: Amount is then quantity × unit price ×
	// Days ÷ PeriodDays (Line.Charge).
	Proration *Proration `json:"proration,omitempty"`
}

// UnitPrice is the line's price per unit, from whichever field gives it.
func (l *Line) UnitPrice() (Price, error) {
	if l.UnitAmountDecimal == "" {
		return parsePrice(&l.UnitAmount, "")
	}
	if l.UnitAmount != 0 {
		return Price{}, fmt.Errorf("%w: both unitAmount and unitAmountDecimal are set", ErrPricing)
	}
	return parsePrice(nil, l.UnitAmountDecimal)
}

// Charge is what the line should amount to: its quantity × its unit price, rounded half up, and
// for a prorated line that × Days ÷ PeriodDays, rounded half up again.
func (l *Line) Charge() (int64, error) {
	amount, err := l.unprorated()
	if err != nil || l.Proration == nil {
		return amount, err
	}
	v, ok := prorate(amount, l.Proration)
	if !ok {
		return 0, fmt.Errorf("%w: proration of %d of %d days cannot be computed", ErrPricing, l.Proration.Days, l.Proration.PeriodDays)
	}
	return v, nil
}

// unprorated is the line's quantity × unit price, rounded half up.
func (l *Line) unprorated() (int64, error) {
	if l.Quantity < 0 {
		return 0, fmt.Errorf("%w: negative quantity", ErrPricing)
	}
	p, err := l.UnitPrice()
	if err != nil {
		return 0, err
	}
	amount, ok := roundHalfUp(mulQty(p, l.Quantity))
	if !ok {
		field := "unitAmount"
		if l.UnitAmountDecimal != "" {
			field = "unitAmountDecimal"
		}
		return 0, overflow("quantity × %s", field)
	}
	return amount, nil
}

// Date is a calendar date in the form YYYY-MM-DD. The zero value is "no date".
type Date string

// Time parses the date; ok is false for the empty date.
func (d Date) Time() (t time.Time, ok bool) {
	if d == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, string(d))
	return t, err == nil
}

// Civil is the date as i18n formats it (i18n.Date); the empty or a malformed date is the zero
// i18n.CivilDate, which formats as "".
func (d Date) Civil() i18n.CivilDate {
	t, ok := d.Time()
	if !ok {
		return i18n.CivilDate{}
	}
	return i18n.DateOf(t)
}

// InvoiceCurrency is the invoice's currency, falling back to the account's.
func (a *Account) InvoiceCurrency(inv *Invoice) string {
	if inv.Currency != "" {
		return inv.Currency
	}
	return a.Currency
}

// DefaultPaymentMethod returns the method marked default, or nil.
func (a *Account) DefaultPaymentMethod() *PaymentMethod {
	for i := range a.PaymentMethods {
		if a.PaymentMethods[i].Default {
			return &a.PaymentMethods[i]
		}
	}
	return nil
}

// PaymentMethod returns the method with the id, or nil.
func (a *Account) PaymentMethod(id string) *PaymentMethod {
	for i := range a.PaymentMethods {
		if a.PaymentMethods[i].ID == id {
			return &a.PaymentMethods[i]
		}
	}
	return nil
}

// Invoice returns the invoice with the id, or nil.
func (a *Account) Invoice(id string) *Invoice {
	for i := range a.Invoices {
		if a.Invoices[i].ID == id {
			return &a.Invoices[i]
		}
	}
	return nil
}

// Subscription returns the subscription with the id, or nil.
func (a *Account) Subscription(id string) *Subscription {
	for i := range a.Subscriptions {
		if a.Subscriptions[i].ID == id {
			return &a.Subscriptions[i]
		}
	}
	return nil
}

// Billing reports whether any subscription of the account still bills (Subscription.Bills): such
// an account must keep a payment method.
func (a *Account) Billing() bool {
	for i := range a.Subscriptions {
		if a.Subscriptions[i].Bills() {
			return true
		}
	}
	return false
}

// PaymentMethodRemovable reports whether the customer may remove a payment method: there is one,
// and it is not the last one while a subscription still bills.
func (a *Account) PaymentMethodRemovable() bool {
	return len(a.PaymentMethods) > 1 || len(a.PaymentMethods) == 1 && !a.Billing()
}

// AutoPayChangeable reports whether the customer may change auto-pay: with a payment method to
// charge, or, without one, to turn an enabled auto-pay off.
func (a *Account) AutoPayChangeable() bool {
	return len(a.PaymentMethods) > 0 || a.AutoPay != nil && a.AutoPay.Enabled
}

// Subscription rules: the portal's controls, its actions, the session API's cancel flow and the
// dashboard decide with these, so they agree.

// Bills reports whether the subscription still bills: active, trialing or past due.
func (s *Subscription) Bills() bool {
	switch s.Status {
	case SubActive, SubTrialing, SubPastDue:
		return true
	}
	return false
}

// Ended reports whether the subscription is over: canceled or ended.
func (s *Subscription) Ended() bool { return s.Status == SubCanceled || s.Status == SubEnded }

// Cancellable reports whether the customer may cancel the subscription: it still bills and no
// cancellation is scheduled yet.
func (s *Subscription) Cancellable() bool { return s.Bills() && !s.CancelAtPeriodEnd }

// CancelScheduled reports whether a cancellation is scheduled and still to come (the
// subscription has not ended); the customer may then reactivate it.
func (s *Subscription) CancelScheduled() bool { return s.CancelAtPeriodEnd && !s.Ended() }

// Visible reports whether the portal shows the invoice to the customer: drafts and invoices that
// are not yet issued are internal to the tenant.
func (inv *Invoice) Visible() bool {
	switch inv.Status {
	case InvIssued, InvPaid, InvOverdue, InvVoid:
		return true
	}
	return false
}

// DisplayStatus is the status the customer and the tenant's admins are shown, decided here once
// for the portal, the invoice page and PDF, and the dashboard: the invoice's own, except that an
// issued invoice past its due date (compared as dates in UTC) with an amount still due is
// overdue. A zero now disables that check.
func (inv *Invoice) DisplayStatus(now time.Time) string {
	if inv.Status == InvIssued && !now.IsZero() && inv.DueDate != "" && inv.AmountDue() > 0 &&
		string(inv.DueDate) < now.UTC().Format(time.DateOnly) {
		return InvOverdue
	}
	return inv.Status
}

// InvoicesNewestFirst returns the account's invoices by issue date, newest first; invoices without
// an issue date come last, and equal dates keep the document's order. Every list of invoices
// (portal, dashboard) shows them in this order.
func (a *Account) InvoicesNewestFirst() []*Invoice {
	out := make([]*Invoice, len(a.Invoices))
	for i := range a.Invoices {
		out[i] = &a.Invoices[i]
	}
	slices.SortStableFunc(out, func(x, y *Invoice) int {
		switch {
		case x.IssueDate == y.IssueDate:
			return 0
		case x.IssueDate == "":
			return 1
		case y.IssueDate == "":
			return -1
		}
		return -cmp.Compare(x.IssueDate, y.IssueDate)
	})
	return out
}

// AmountDue is what remains to be paid.
func (inv *Invoice) AmountDue() int64 {
	if d := inv.Total - inv.AmountPaid; d > 0 {
		return d
	}
	return 0
}
