// Package invoices is the Invoices section of the portal: the outstanding balance (what open
// invoices leave to pay, per currency, with the overdue part said in words), then the account's
// issued invoices, newest first, with number, issue and due dates, amount, what remains to be
// paid and a status of Paid, Issued, Overdue or Void, each with links to open the invoice and
// download its PDF. Drafts and other invoices that are not issued yet never appear
// (account.Invoice.Visible).
//
// Paying: with invoiceListSettings.allowPayment on (the tenant's default, itself on unless
// turned off), each open invoice (issued or overdue, an amount due) has "Pay now": to the
// portal's pay page when the tenant registered a backend (the tenant backend protocol, package
// backend), else to the invoice's paymentUrl (the tenant's hosted payment page), else none. The
// pay pages are this section's actions (pay.go); "Pay all overdue" walks the overdue invoices
// one pay page after another. The deep-link flow pay_invoice lands on the pay page of an open
// invoice (flows.go).
//
// It registers itself as "invoices" when imported. Like every section it renders from the
// plugins.View alone and performs no I/O; the invoice page and PDF are served by the gateway at
// the URLs the links point to.
package invoices

import (
	"cmp"
	"embed"
	"io/fs"
	"slices"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "invoices"

//go:embed invoices.html
var source string

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 20, "invoices.title", source, newPage)})
}

// The switches of invoiceListSettings.
var (
	// ShowSection shows the section (tenant default: PortalDefaults.ShowInvoices).
	ShowSection = &plugins.Switch{Field: "showSection", Default: func(p tenants.PortalDefaults) bool { return p.ShowInvoices }}
	// AllowPayment offers "Pay now" for open invoices and permits the pay pages (tenant default:
	// PortalDefaults.AllowInvoicePayment, true unless the tenant turned it off).
	AllowPayment = &plugins.Switch{Field: "allowPayment", Role: plugins.RoleBilling, Default: func(p tenants.PortalDefaults) bool { return p.AllowInvoicePayment }}
)

// section is the Invoices section: a template section with its settings object.
type section struct{ *plugins.TemplateSection }

var (
	_ plugins.Configurable = section{}
	_ plugins.Messenger    = section{}
	_ plugins.Actor        = section{}
)

// Settings declares invoiceListSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "invoiceListSettings", Show: ShowSection, Switches: []*plugins.Switch{ShowSection, AllowPayment}}
}

//go:embed locales/*.json
var locales embed.FS

// Messages are the section's catalogs of the balance and the pay pages, in the six languages.
func (section) Messages() fs.FS {
	sub, _ := fs.Sub(locales, "locales")
	return sub
}

// page is what the template renders: every value is already formatted text.
type page struct {
	Name     string
	Title    string
	Caption  string // "3 invoices, newest first"
	Prefix   string
	Invoices []row
	// Balance is the outstanding balance, one line per currency; empty without invoices.
	Balance []balance
	// Settled says no visible invoice has anything to pay.
	Settled bool
	// PayOverdue offers "Pay all overdue" (several overdue invoices payable through the backend).
	PayOverdue bool
}

// balance is what is due in one currency, and the part of it that is overdue.
type balance struct {
	Due, Overdue string
}

type row struct {
	ID          string
	Number      string
	IssueDate   string
	DueDate     string
	Amount      string
	Remaining   string // set when part of the invoice is paid and the rest is due
	Status      string // paid, issued, overdue, void: the CSS class is "status-" + Status
	StatusLabel string
	OfInvoice   string // "of invoice <number>", completing "Download PDF" for screen readers
	// Pay is the portal's pay page of an open invoice (through the tenant's backend); PayURL
	// the tenant's hosted payment page instead (Invoice.PaymentURL, no backend). Neither: no
	// button.
	Pay    bool
	PayURL string
	// Credits are the invoice's credit notes, listed under it.
	Credits []credit
}

// credit is a credit note in the list, under its invoice.
type credit struct {
	ID, Number, Label, For, IssueDate, Amount, OfNote string
}

// statusKeys are the messages of the statuses the list shows.
var statusKeys = map[string]string{
	account.InvPaid: "invoices.status.paid", account.InvIssued: "invoices.status.issued",
	account.InvOverdue: "invoices.status.overdue", account.InvVoid: "invoices.status.void",
}

// newPage builds the page data of v.
func newPage(v *plugins.View) page {
	tr := v.Printer()
	p := page{Name: Name, Title: tr.T("invoices.title"), Prefix: v.PathPrefix}
	a := v.Account
	if a == nil {
		return p
	}
	visible := slices.DeleteFunc(a.InvoicesNewestFirst(), func(inv *account.Invoice) bool { return !inv.Visible() })
	p.Invoices = make([]row, 0, len(visible))
	canPay := v.On(AllowPayment)
	overdue := 0
	type sums struct{ due, overdue int64 }
	var currencies []string
	totals := map[string]*sums{}
	for _, inv := range visible {
		cur := a.InvoiceCurrency(inv)
		r := row{
			ID:        inv.ID,
			Number:    cmp.Or(inv.Number, inv.ID),
			IssueDate: i18n.Date(inv.IssueDate.Civil(), v.Locale),
			DueDate:   i18n.Date(inv.DueDate.Civil(), v.Locale),
			Amount:    i18n.Money(inv.Total, cur, v.Locale),
			Status:    inv.DisplayStatus(v.Now),
		}
		r.StatusLabel = tr.T(statusKeys[r.Status])
		r.OfInvoice = tr.T("invoices.ofInvoice", "number", r.Number)
		if r.Status != account.InvVoid && r.Status != account.InvPaid && inv.AmountPaid > 0 && inv.AmountDue() > 0 {
			r.Remaining = i18n.Money(inv.AmountDue(), cur, v.Locale)
		}
		if inv.Open() {
			s := totals[cur]
			if s == nil {
				s = &sums{}
				totals[cur] = s
				currencies = append(currencies, cur)
			}
			s.due += inv.AmountDue()
			if r.Status == account.InvOverdue {
				s.overdue += inv.AmountDue()
			}
			switch {
			case !canPay:
			case v.Backend:
				r.Pay = true
				if r.Status == account.InvOverdue {
					overdue++
				}
			case inv.PaymentURL != "":
				r.PayURL = inv.PaymentURL
			}
		}
		for _, cn := range a.CreditNotesOf(inv.ID) {
			number := cmp.Or(cn.Number, cn.ID)
			r.Credits = append(r.Credits, credit{ID: cn.ID, Number: number, Label: tr.T("invoices.credit.label", "number", number), For: tr.T("invoices.credit.for", "number", r.Number),
				IssueDate: i18n.Date(cn.IssueDate.Civil(), v.Locale), Amount: i18n.Money(-cn.Total, cur, v.Locale), OfNote: tr.T("invoices.credit.ofNote", "number", number)})
		}
		p.Invoices = append(p.Invoices, r)
	}
	for _, cur := range currencies {
		b := balance{Due: i18n.Money(totals[cur].due, cur, v.Locale)}
		if totals[cur].overdue > 0 {
			b.Overdue = i18n.Money(totals[cur].overdue, cur, v.Locale)
		}
		p.Balance = append(p.Balance, b)
	}
	p.Settled = len(visible) > 0 && len(currencies) == 0
	p.PayOverdue = overdue > 1
	p.Caption = tr.T("invoices.caption", "count", len(p.Invoices))
	return p
}
