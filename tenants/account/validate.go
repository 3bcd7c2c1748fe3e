package account

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/portico-billing/portico/i18n"
	"golang.org/x/text/currency"
	"golang.org/x/text/language"
)

// MaxDocumentSize is the largest account document accepted, in bytes of JSON: 128 KiB. A customer
// with 24 months of six-line invoices, three subscriptions and three payment methods is about
// 34 KB, so the limit leaves more than three times that; etcd keeps every revision of a document
// until it compacts, so the limit also bounds what rewrites of one document can hold.
const MaxDocumentSize = 128 << 10

// Limits on the number of entries of a document; each keeps one document well inside etcd's 1.5 MiB
// request limit and one page render bounded.
const (
	MaxPaymentMethods = 50
	MaxSubscriptions  = 100
	MaxItems          = 200
	MaxTiers          = 50
	MaxInvoices       = 2000
	MaxLines          = 500
	MaxCreditNotes    = 500
)

// ErrInvalid is wrapped by every validation and decoding error of a document.
var ErrInvalid = errors.New("invalid account document")

// idRE is the form of every identifier inside a document and of account ids and aliases: they
// appear in etcd keys and URL paths, so they are restricted to characters that need no escaping.
var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$`)

// ValidID reports whether s may be used as an account id, alias or an id inside a document.
func ValidID(s string) bool { return idRE.MatchString(s) }

var (
	subStatuses = set(SubActive, SubTrialing, SubPastDue, SubPaused, SubCanceled, SubEnded, SubPending)
	invStatuses = set(InvDraft, InvUpcoming, InvPendingApproval, InvScheduled, InvProcessing, InvIssuing,
		InvIssued, InvVoid, InvPaid, InvCanceled, InvOverdue)
	pmTypes        = set(PaymentCard, PaymentSEPADebit, PaymentACH, PaymentBACS, PaymentPayPal)
	pricingModels  = set(PricingFlat, PricingPerUnit, PricingTiered, PricingVolume, PricingFee)
	autoPayTimings = set(AutoPayOnIssue, AutoPayOnDueDate)
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// Decode reads one account document: unknown fields, trailing data, wrong types and documents over
// MaxDocumentSize are refused with an error that names the problem. The document is validated.
func Decode(data []byte) (*Account, error) {
	if len(data) > MaxDocumentSize {
		return nil, fmt.Errorf("%w: document is %d bytes, the limit is %d", ErrInvalid, len(data), MaxDocumentSize)
	}
	var a Account
	if err := UnmarshalStrict(data, &a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

// UnmarshalStrict decodes one JSON value into v as Decode reads a document: unknown fields,
// wrong types and data after the value are refused, with an error whose text describes the
// problem for the sender (DescribeJSONError) and that wraps no sentinel: callers wrap their own.
func UnmarshalStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New(DescribeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON document")
	}
	return nil
}

// DescribeJSONError turns an encoding/json error into a sentence for an API client.
func DescribeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "body is empty; a JSON object is required"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "body ends in the middle of the JSON document"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "document"
		}
		return fmt.Sprintf("field %q must be %s, not JSON %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON: " + err.Error()
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") {
		return "an integer"
	}
	if strings.HasPrefix(k, "float") {
		return "a number"
	}
	return "a " + k
}

// problems collects validation failures by field path.
type problems struct{ list []string }

func (p *problems) add(field, format string, args ...any) {
	if len(p.list) < 20 {
		p.list = append(p.list, field+": "+fmt.Sprintf(format, args...))
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(p.list, "; "))
}

func (p *problems) text(field, v string, required bool, max int) {
	if msg := TextProblem(v, required, max); msg != "" {
		p.add(field, "%s", msg)
	}
}

// TextProblem is what is wrong with a text field of at most max characters by the document's
// rules ("is required" when required and empty, invalid UTF-8, too long, control characters),
// "" when nothing is; other documents (package catalog) check their texts by it.
func TextProblem(v string, required bool, max int) string {
	switch {
	case v == "" && required:
		return "is required"
	case !utf8.ValidString(v):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(v) > max:
		return fmt.Sprintf("is longer than %d characters", max)
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains control characters"
	}
	return ""
}

func (p *problems) date(field string, d Date) {
	if d == "" {
		return
	}
	if _, ok := d.Time(); !ok {
		p.add(field, "%q is not a date in the form YYYY-MM-DD", string(d))
	}
}

func (p *problems) requiredDate(field string, d Date) {
	if d == "" {
		p.add(field, "is required")
		return
	}
	p.date(field, d)
}

func (p *problems) amount(field string, v int64) {
	if v < 0 {
		p.add(field, "must be a non-negative integer number of minor units")
	}
}

// newerCurrencies are ISO 4217 codes introduced after golang.org/x/text's table was generated.
var newerCurrencies = set("VES", "VED", "MRU", "STN", "SLE", "ZWG", "UYW", "XCG")

// ValidCurrency reports whether code is an ISO 4217 currency code (upper case).
func ValidCurrency(code string) bool {
	if len(code) != 3 || strings.ToUpper(code) != code {
		return false
	}
	if newerCurrencies[code] {
		return true
	}
	_, err := currency.ParseISO(code)
	return err == nil
}

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 country code (upper case).
// The list of countries lives with their names in package i18n.
func ValidCountry(code string) bool { return i18n.ValidCountry(code) }

// ValidEmail reports whether s is a single plain email address.
func ValidEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// Validate checks the whole document and returns every problem found (up to twenty), each
// prefixed with the JSON path of the field.
func (a *Account) Validate() error {
	var p problems
	if !ValidID(a.ID) {
		p.add("id", "is required and must be 1-128 letters, digits or _.:@+- starting with a letter or digit")
	}
	if a.Alias != "" && !ValidID(a.Alias) {
		p.add("alias", "must be 1-128 letters, digits or _.:@+- starting with a letter or digit")
	}
	p.text("name", a.Name, true, 200)
	if a.Email != "" && !ValidEmail(a.Email) {
		p.add("email", "%q is not an email address", a.Email)
	}
	if !ValidCurrency(a.Currency) {
		p.add("currency", "%q is not an ISO 4217 currency code", a.Currency)
	}
	if a.Locale != "" {
		if _, err := language.Parse(a.Locale); err != nil {
			p.add("locale", "%q is not a BCP 47 language tag", a.Locale)
		}
	}
	if c := a.Company; c != nil {
		p.text("company.legalName", c.LegalName, false, 200)
		p.text("company.taxId", c.TaxID, false, 64)
		if ad := c.Address; ad != nil {
			p.text("company.address.line1", ad.Line1, false, 200)
			p.text("company.address.line2", ad.Line2, false, 200)
			p.text("company.address.city", ad.City, false, 100)
			p.text("company.address.postalCode", ad.PostalCode, false, 20)
			p.text("company.address.region", ad.Region, false, 100)
			if ad.Country != "" && !ValidCountry(ad.Country) {
				p.add("company.address.country", "%q is not an ISO 3166-1 alpha-2 country code", ad.Country)
			}
		}
	}
	a.validatePaymentMethods(&p)
	a.validateSubscriptions(&p)
	a.validateMeters(&p)
	a.validateInvoices(&p)
	a.validateCreditNotes(&p)
	a.validateWallet(&p)
	return p.err()
}

func (a *Account) validatePaymentMethods(p *problems) {
	if len(a.PaymentMethods) > MaxPaymentMethods {
		p.add("paymentMethods", "has %d entries, the limit is %d", len(a.PaymentMethods), MaxPaymentMethods)
		return
	}
	ids := map[string]bool{}
	defaults := 0
	for i, m := range a.PaymentMethods {
		f := fmt.Sprintf("paymentMethods[%d]", i)
		if !ValidID(m.ID) {
			p.add(f+".id", "is required and must be an identifier")
		} else if ids[m.ID] {
			p.add(f+".id", "%q is used twice", m.ID)
		}
		ids[m.ID] = true
		if !pmTypes[m.Type] {
			p.add(f+".type", "%q is not one of card, sepa_debit, us_bank_account, bacs_debit, paypal", m.Type)
		}
		p.text(f+".brand", m.Brand, false, 40)
		p.text(f+".bankName", m.BankName, false, 100)
		if m.Last4 != "" && (len(m.Last4) != 4 || strings.Trim(m.Last4, "0123456789") != "") {
			p.add(f+".last4", "must be four digits")
		}
		if m.ExpMonth != 0 && (m.ExpMonth < 1 || m.ExpMonth > 12) {
			p.add(f+".expMonth", "must be 1-12")
		}
		if m.ExpYear != 0 && (m.ExpYear < 2000 || m.ExpYear > 2200) {
			p.add(f+".expYear", "must be a four-digit year")
		}
		if m.Email != "" && !ValidEmail(m.Email) {
			p.add(f+".email", "is not an email address")
		}
		if m.Default {
			defaults++
		}
	}
	if defaults > 1 {
		p.add("paymentMethods", "%d methods are marked default; at most one may be", defaults)
	}
	if ap := a.AutoPay; ap != nil {
		if ap.Timing != "" && !autoPayTimings[ap.Timing] {
			p.add("autoPay.timing", "%q is not one of on_issue, on_due_date", ap.Timing)
		}
		if ap.PaymentMethodID != "" && !ids[ap.PaymentMethodID] {
			p.add("autoPay.paymentMethodId", "%q is not one of the account's payment methods", ap.PaymentMethodID)
		}
		if ap.Enabled && ap.PaymentMethodID == "" && defaults == 0 {
			p.add("autoPay.enabled", "auto-pay needs a payment method: set paymentMethodId or a default method")
		}
	}
}

func (a *Account) validateSubscriptions(p *problems) {
	if len(a.Subscriptions) > MaxSubscriptions {
		p.add("subscriptions", "has %d entries, the limit is %d", len(a.Subscriptions), MaxSubscriptions)
		return
	}
	ids := map[string]bool{}
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		f := fmt.Sprintf("subscriptions[%d]", i)
		if !ValidID(s.ID) {
			p.add(f+".id", "is required and must be an identifier")
		} else if ids[s.ID] {
			p.add(f+".id", "%q is used twice", s.ID)
		}
		ids[s.ID] = true
		p.text(f+".name", s.Name, true, 200)
		if !subStatuses[s.Status] {
			p.add(f+".status", "%q is not one of active, trialing, past_due, paused, canceled, ended, pending", s.Status)
		}
		p.date(f+".currentPeriodStart", s.CurrentPeriodStart)
		p.date(f+".currentPeriodEnd", s.CurrentPeriodEnd)
		p.date(f+".nextChargeDate", s.NextChargeDate)
		p.date(f+".canceledAt", s.CanceledAt)
		if s.EstimatedNextCharge != nil {
			p.amount(f+".estimatedNextCharge", *s.EstimatedNextCharge)
		}
		if s.PlanID != "" && !ValidID(s.PlanID) {
			p.add(f+".planId", "must be an identifier")
		}
		if pc := s.PendingChange; pc != nil {
			p.pendingChange(f+".pendingChange", pc, s.Items)
		}
		p.date(f+".resumesAt", s.ResumesAt)
		if r := s.PauseRequest; r != nil {
			switch r.Action {
			case PauseActionPause:
				if r.Periods < 1 || r.Periods > MaxPauseRequestPeriods {
					p.add(f+".pauseRequest.periods", "must be from 1 to %d", MaxPauseRequestPeriods)
				}
			case PauseActionResume:
				if r.Periods != 0 {
					p.add(f+".pauseRequest.periods", "is only for action pause")
				}
			default:
				p.add(f+".pauseRequest.action", "%q is not one of pause, resume", r.Action)
			}
			p.date(f+".pauseRequest.resumesAt", r.ResumesAt)
			p.requiredDate(f+".pauseRequest.requestedAt", r.RequestedAt)
		}
		if o := s.RetentionOffer; o != nil {
			if o.Reason != "" && !slices.Contains(CancelReasons, o.Reason) {
				p.add(f+".retentionOffer.reason", "%q is not one of %s, or \"\" for any reason", o.Reason, strings.Join(CancelReasons, ", "))
			}
			if o.PercentOff < 1 || o.PercentOff > 100 {
				p.add(f+".retentionOffer.percentOff", "must be from 1 to 100")
			}
			if o.Periods < 1 || o.Periods > MaxOfferPeriods {
				p.add(f+".retentionOffer.periods", "must be from 1 to %d", MaxOfferPeriods)
			}
			p.requiredDate(f+".retentionOffer.shownAt", o.ShownAt)
			p.date(f+".retentionOffer.acceptedAt", o.AcceptedAt)
			if o.Pending && o.AcceptedAt == "" {
				p.add(f+".retentionOffer.pending", "is only for an accepted offer (acceptedAt)")
			}
		}
		if len(s.Items) > MaxItems {
			p.add(f+".items", "has %d entries, the limit is %d", len(s.Items), MaxItems)
			continue
		}
		// A discount of a product the subscription has no item of (after a plan change) takes
		// nothing off; it is not refused, as the items change without the discounts.
		p.discounts(f+".discounts", s.Discounts)
		priced := true
		for j := range s.Items {
			if !p.item(fmt.Sprintf("%s.items[%d]", f, j), &s.Items[j]) {
				priced = false
			}
		}
		// The items' sum is the estimate the portal shows when the document gives none; it must
		// fit even when an estimate is given, as the items are shown too.
		if _, err := s.ItemsTotal(); priced && err != nil {
			p.add(f+".items", "%s", strings.TrimPrefix(err.Error(), ErrPricing.Error()+": "))
		}
	}
}

// pendingChange adds the problems of a subscription's pending change: a plan, or an item of the
// subscription's priced per unit and its new quantity, and both dates.
func (p *problems) pendingChange(f string, pc *PendingChange, items []Item) {
	switch {
	case pc.PlanID != "" && (pc.Item != nil || pc.Quantity != nil):
		p.add(f, "is either a planId or an item and a quantity, not both")
	case pc.PlanID != "":
		if !ValidID(pc.PlanID) {
			p.add(f+".planId", "must be an identifier")
		}
		p.text(f+".planName", pc.PlanName, false, 100)
		if len(pc.Quantities) > MaxPendingQuantities {
			p.add(f+".quantities", "has %d entries, the limit is %d", len(pc.Quantities), MaxPendingQuantities)
			break
		}
		for i, q := range pc.Quantities {
			qf := fmt.Sprintf("%s.quantities[%d]", f, i)
			p.text(qf+".product", q.Product, true, 200)
			if q.Quantity < 0 || q.Quantity > MaxQuantity {
				p.add(qf+".quantity", "must be between 0 and %d", int64(MaxQuantity))
			}
		}
	case len(pc.Quantities) > 0:
		p.add(f+".quantities", "go with a planId only")
	case pc.Item == nil || pc.Quantity == nil:
		p.add(f, "needs a planId, or an item and a quantity")
	default:
		if i := *pc.Item; i < 0 || i >= len(items) {
			p.add(f+".item", "%d is not the index of one of the subscription's items", i)
		} else if items[i].PricingModel != PricingPerUnit {
			p.add(f+".item", "item %d is priced %s; only per_unit items change quantity", i, items[i].PricingModel)
		}
		if q := *pc.Quantity; q < 0 || q > MaxQuantity {
			p.add(f+".quantity", "must be between 0 and %d", int64(MaxQuantity))
		}
	}
	if pc.EffectiveDate == "" {
		p.add(f+".effectiveDate", "is required")
	}
	p.date(f+".effectiveDate", pc.EffectiveDate)
	if pc.RequestedAt == "" {
		p.add(f+".requestedAt", "is required")
	}
	p.date(f+".requestedAt", pc.RequestedAt)
}

// ItemProblems checks one priced item by the rules Validate applies to the items of a
// subscription (product and unit texts, pricing model, quantity, tiers, a price that can be
// computed), for other documents that hold such items (the catalog's plans). Each problem is
// "<path>.<field>: <what is wrong>", path naming the item ("items[0]"); none means the item is
// valid and Charge prices it.
func ItemProblems(path string, it *Item) []string {
	var p problems
	p.item(path, it)
	if it.Meter != nil {
		p.add(path+".meter", "is only for the items of an account's subscriptions")
	}
	return p.list
}

// item adds the problems of the item at path fi; it returns false when the item's price cannot
// be computed (its other problems leave it priced: the sum of the items reports them no more).
func (p *problems) item(fi string, it *Item) (priced bool) {
	p.text(fi+".product", it.Product, true, 200)
	p.text(fi+".unit", it.Unit, false, 40)
	if !pricingModels[it.PricingModel] {
		p.add(fi+".pricingModel", "%q is not one of flat, per_unit, tiered, volume, fee", it.PricingModel)
		return true
	}
	if it.Quantity < 0 {
		p.add(fi+".quantity", "must not be negative")
		return true
	}
	if len(it.Tiers) > MaxTiers {
		p.add(fi+".tiers", "has %d entries, the limit is %d", len(it.Tiers), MaxTiers)
		return true
	}
	tiered := it.PricingModel == PricingTiered || it.PricingModel == PricingVolume
	if !tiered && len(it.Tiers) > 0 {
		p.add(fi+".tiers", "are only allowed with tiered or volume pricing")
		return true
	}
	if tiered && (it.UnitAmount != nil || it.UnitAmountDecimal != "") {
		p.add(fi+".unitAmount", "is not used with %s pricing; give the price per tier", it.PricingModel)
		return true
	}
	if _, err := it.Charge(); err != nil {
		p.add(fi, "%s", strings.TrimPrefix(err.Error(), ErrPricing.Error()+": "))
		return false
	}
	return true
}

func (a *Account) validateInvoices(p *problems) {
	if len(a.Invoices) > MaxInvoices {
		p.add("invoices", "has %d entries, the limit is %d", len(a.Invoices), MaxInvoices)
		return
	}
	ids := map[string]bool{}
	for i := range a.Invoices {
		inv := &a.Invoices[i]
		f := fmt.Sprintf("invoices[%d]", i)
		if !ValidID(inv.ID) {
			p.add(f+".id", "is required and must be an identifier")
		} else if ids[inv.ID] {
			p.add(f+".id", "%q is used twice", inv.ID)
		}
		ids[inv.ID] = true
		p.text(f+".number", inv.Number, false, 64)
		if !invStatuses[inv.Status] {
			p.add(f+".status", "%q is not a known invoice status", inv.Status)
		}
		if inv.Currency != "" && !ValidCurrency(inv.Currency) {
			p.add(f+".currency", "%q is not an ISO 4217 currency code", inv.Currency)
		}
		p.date(f+".issueDate", inv.IssueDate)
		p.date(f+".dueDate", inv.DueDate)
		p.date(f+".paidDate", inv.PaidDate)
		p.amount(f+".subtotal", inv.Subtotal)
		p.amount(f+".tax", inv.Tax)
		p.amount(f+".total", inv.Total)
		p.amount(f+".amountPaid", inv.AmountPaid)
		if inv.PaymentURL != "" && !validPaymentURL(inv.PaymentURL) {
			p.add(f+".paymentUrl", "must be an absolute https URL without user info, of at most %d bytes of printable ASCII", MaxPaymentURL)
		}
		if inv.SubscriptionID != "" && !ValidID(inv.SubscriptionID) {
			p.add(f+".subscriptionId", "must be an identifier")
		}
		if len(inv.Lines) > MaxLines {
			p.add(f+".lines", "has %d entries, the limit is %d", len(inv.Lines), MaxLines)
			continue
		}
		p.amount(f+".discount", inv.Discount)
		if inv.TaxRate != "" && !validTaxRate(inv.TaxRate) {
			p.add(f+".taxRate", "%q is not a percentage from 0 to 100 with at most four decimals, such as \"19\" or \"8.25\"", inv.TaxRate)
		}
		before := len(p.list)
		for j := range inv.Lines {
			p.line(fmt.Sprintf("%s.lines[%d]", f, j), &inv.Lines[j])
		}
		p.discounts(f+".discounts", inv.Discounts)
		for j := range inv.Discounts {
			if d := &inv.Discounts[j]; d.AppliesTo != "" && !slices.ContainsFunc(inv.Lines, func(l Line) bool { return l.Product == d.AppliesTo }) {
				p.add(fmt.Sprintf("%s.discounts[%d].appliesTo", f, j), "%q is not the product of one of the invoice's lines", d.AppliesTo)
			}
		}
		if len(p.list) == before {
			inv.validateArithmetic(p, f)
		}
	}
}

// taxRateRE is the form of a tax rate in percent: at most three integer digits and four decimals.
var taxRateRE = regexp.MustCompile(`^[0-9]{1,3}(\.[0-9]{1,4})?$`)

func validTaxRate(s string) bool {
	if !taxRateRE.MatchString(s) {
		return false
	}
	r, ok := new(big.Rat).SetString(s)
	return ok && r.Cmp(big.NewRat(100, 1)) <= 0
}

// validateArithmetic checks that the invoice adds up: every line is quantity × unit price
// (prorated when it says so), the lines less their discounts and the invoice's discount are the
// subtotal, the invoice's discounts take off what its discount and the lines' discounts do, subtotal + tax is the total (and tax is subtotal ×
// taxRate when a rate is given), and no more than the total is paid. Errors name the invoice by
// its path and number and give both sides of the mismatch in minor units.
func (inv *Invoice) validateArithmetic(p *problems, f string) {
	name := f + " (" + cmp.Or(inv.Number, inv.ID) + ")"
	if inv.Subtotal < 0 || inv.Tax < 0 || inv.Total < 0 || inv.AmountPaid < 0 || inv.Discount < 0 {
		return // already reported
	}
	if len(inv.Lines) > 0 {
		var sum, lineDiscounts int64
		linesOK := true
		for j := range inv.Lines {
			l := &inv.Lines[j]
			fl := fmt.Sprintf("%s.lines[%d] (%s)", f, j, cmp.Or(inv.Number, inv.ID))
			if !p.lineCharge(fl, l) {
				linesOK = false
				continue
			}
			var ok bool
			if sum, ok = addAmounts(sum, l.Net()); !ok {
				p.add(name, "the lines add up to more than %d minor units", int64(MaxAmount))
				return
			}
			if lineDiscounts, ok = addAmounts(lineDiscounts, l.Discount); !ok {
				p.add(name, "the lines' discounts add up to more than %d minor units", int64(MaxAmount))
				return
			}
		}
		if !linesOK {
			return
		}
		switch net, _ := subAmounts(sum, inv.Discount); {
		case inv.Discount == 0 && sum != inv.Subtotal:
			p.add(name, "lines add up to %d, subtotal is %d", sum, inv.Subtotal)
		case inv.Discount != 0 && net != inv.Subtotal:
			p.add(name, "lines add up to %d, less the discount of %d that is %d, subtotal is %d", sum, inv.Discount, net, inv.Subtotal)
		}
		if len(inv.Discounts) > 0 {
			if want := inv.DiscountsTotal(); want != inv.Discount+lineDiscounts {
				p.add(name, "discounts take off %d, discount %d and the lines' discounts %d are %d", want, inv.Discount, lineDiscounts, inv.Discount+lineDiscounts)
			}
		}
	} else if inv.Discount != 0 {
		p.add(f+".discount", "needs lines to be taken off; the invoice has none")
	}
	if inv.TaxRate != "" && validTaxRate(inv.TaxRate) { // an invalid rate is already reported
		r, _ := new(big.Rat).SetString(inv.TaxRate)
		r.Mul(r, new(big.Rat).SetInt64(inv.Subtotal))
		r.Quo(r, big.NewRat(100, 1))
		if want, _ := roundHalfUp(r); want != inv.Tax { // ≤ subtotal: fits
			p.add(name, "tax is %d, subtotal %d × taxRate %s%% is %d (rounded half up to a minor unit)", inv.Tax, inv.Subtotal, inv.TaxRate, want)
		}
	}
	if total, ok := addAmounts(inv.Subtotal, inv.Tax); !ok {
		p.add(name, "subtotal + tax overflows (more than %d minor units)", int64(MaxAmount))
	} else if total != inv.Total {
		p.add(name, "subtotal %d + tax %d is %d, total is %d", inv.Subtotal, inv.Tax, total, inv.Total)
	}
	if inv.AmountPaid > inv.Total {
		p.add(name, "amountPaid %d is more than the total %d", inv.AmountPaid, inv.Total)
	}
}

// validPaymentURL reports whether s is an acceptable Invoice.PaymentURL.
func validPaymentURL(s string) bool {
	if len(s) > MaxPaymentURL {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "https" && u.Host != "" && u.User == nil && u.Opaque == "" && u.Hostname() != ""
}
