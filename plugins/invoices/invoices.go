// Package invoices is the Invoices section of the portal: the account's issued invoices, newest
// first, with number, issue and due dates, amount, what remains to be paid and a status of Paid,
// Issued, Overdue or Void, each with links to open the invoice and download its PDF. Drafts and
// other invoices that are not issued yet never appear (account.Invoice.Visible).
//
// It registers itself as "invoices" when imported. Like every section it renders from the
// plugins.View alone and performs no I/O; the invoice page and PDF are served by the gateway at
// the URLs the links point to.
package invoices

import (
	"cmp"
	_ "embed"
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

// ShowSection is invoiceListSettings.showSection, which shows the section (tenant default:
// PortalDefaults.ShowInvoices).
var ShowSection = &plugins.Switch{Field: "showSection", Default: func(p tenants.PortalDefaults) bool { return p.ShowInvoices }}

// section is the Invoices section: a template section with its settings object.
type section struct{ *plugins.TemplateSection }

var _ plugins.Configurable = section{}

// Settings declares invoiceListSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "invoiceListSettings", Show: ShowSection, Switches: []*plugins.Switch{ShowSection}}
}

// page is what the template renders: every value is already formatted text.
type page struct {
	Name     string
	Title    string
	Caption  string // "3 invoices, newest first"
	Prefix   string
	Invoices []row
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
		p.Invoices = append(p.Invoices, r)
	}
	p.Caption = tr.T("invoices.caption", "count", len(p.Invoices))
	return p
}
