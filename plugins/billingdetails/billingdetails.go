// Package billingdetails is the Billing information section of the portal: the company's billing
// details (name, billing email, tax ID, address), the saved payment methods with the default one
// marked, and the auto-pay setting; plus, when the session allows them, the controls to edit the
// details, choose the default payment method and change auto-pay.
//
// It registers itself as "billing_details" when imported. Like every section it renders from the
// plugins.View alone and performs no I/O. The edit forms and posts are its actions (actions.go);
// the deep-link flows billing_details and update_payment_method land on the details form and on
// the tenant's payment-method setup (flows.go).
package billingdetails

import (
	_ "embed"
	"fmt"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "billing_details"

//go:embed billingdetails.html
var source string

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 30, "details.title", source, newPage)})
}

// The switches of billingDetailsSettings.
var (
	// ShowSection shows the section (tenant default: PortalDefaults.ShowBillingDetails).
	ShowSection = &plugins.Switch{Field: "showSection", Default: func(p tenants.PortalDefaults) bool { return p.ShowBillingDetails }}
	// AllowDetailsEdit shows and permits editing the billing details and the payment methods
	// (tenant default: PortalDefaults.AllowDetailsEdit).
	AllowDetailsEdit = &plugins.Switch{Field: "allowDetailsEdit", Role: plugins.RoleBilling, Default: func(p tenants.PortalDefaults) bool { return p.AllowDetailsEdit }}
	// AllowAutopayEdit shows and permits changing auto-pay (tenant default:
	// PortalDefaults.AllowAutopayEdit).
	AllowAutopayEdit = &plugins.Switch{Field: "allowAutopayEdit", Role: plugins.RoleBilling, Default: func(p tenants.PortalDefaults) bool { return p.AllowAutopayEdit }}
)

// section is the Billing information section: a template section with its settings object.
type section struct{ *plugins.TemplateSection }

var _ plugins.Configurable = section{}

// Settings declares billingDetailsSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "billingDetailsSettings", Show: ShowSection,
		Switches: []*plugins.Switch{ShowSection, AllowDetailsEdit, AllowAutopayEdit}}
}

// page is what the template renders: every value is already formatted text.
type page struct {
	Name           string
	Title          string
	Prefix         string
	Company        string
	Email          string
	TaxID          string
	Address        []string
	Methods        []method
	CanMakeDefault bool
	CanRemove      bool
	CanAdd         bool
	AutoPay        string
	CanEdit        bool
	CanEditAutoPay bool
	// AutoPayHint explains why auto-pay cannot be changed: there is no payment method to charge.
	AutoPayHint string
}

type method struct {
	ID          string
	Description string
	Expiry      string // "expires 08/2028" or "expired 08/2020", in the View's language
	Expired     bool
	Default     bool
}

// newPage builds the page data of v.
func newPage(v *plugins.View) page {
	tr := v.Printer()
	p := page{
		Name:           Name,
		Title:          tr.T("details.title"),
		Prefix:         v.PathPrefix,
		CanEdit:        v.On(AllowDetailsEdit),
		CanEditAutoPay: v.On(AllowAutopayEdit),
	}
	a := v.Account
	if a == nil {
		return p
	}
	p.Company, p.Email = a.Name, a.Email
	if c := a.Company; c != nil {
		if c.LegalName != "" {
			p.Company = c.LegalName
		}
		p.TaxID = c.TaxID
		if c.Address != nil {
			p.Address = tr.AddressLines(c.Address.Postal())
		}
	}
	for i := range a.PaymentMethods {
		pm := &a.PaymentMethods[i]
		m := method{ID: pm.ID, Description: pm.Describe(tr), Default: pm.Default}
		if pm.ExpMonth != 0 && pm.ExpYear != 0 {
			date := fmt.Sprintf("%02d/%d", pm.ExpMonth, pm.ExpYear)
			// A card can be used until the end of its expiry month.
			m.Expired = !v.Now.IsZero() && !v.Now.UTC().Before(time.Date(pm.ExpYear, time.Month(pm.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC))
			if m.Expired {
				m.Expiry = tr.T("details.expired", "date", date)
			} else {
				m.Expiry = tr.T("details.expires", "date", date)
			}
		}
		p.Methods = append(p.Methods, m)
	}
	p.CanMakeDefault = v.On(AllowDetailsEdit) && len(p.Methods) > 1
	// The last method cannot go while a subscription still bills.
	p.CanRemove = v.On(AllowDetailsEdit) && a.PaymentMethodRemovable()
	p.CanAdd = v.On(AllowDetailsEdit) && v.Tenant != nil && v.Tenant.PaymentSetupURL != ""
	p.AutoPay = autoPay(a, tr)
	// Without a payment method auto-pay can only be turned off: the button shows only then.
	if p.CanEditAutoPay && !a.AutoPayChangeable() {
		p.CanEditAutoPay = false
		p.AutoPayHint = tr.T("details.autopay.needsMethod")
	}
	return p
}

// autoPay describes the auto-pay setting: "Off", or "On — charged on the due date to Visa •••• 4242".
func autoPay(a *account.Account, tr *i18n.Printer) string {
	ap := a.AutoPay
	if ap == nil || !ap.Enabled {
		return tr.T("details.autopay.off")
	}
	key := "details.autopay.auto"
	switch ap.Timing {
	case account.AutoPayOnDueDate:
		key = "details.autopay.dueDate"
	case account.AutoPayOnIssue:
		key = "details.autopay.onIssue"
	}
	pm := a.PaymentMethod(ap.PaymentMethodID)
	if pm == nil {
		pm = a.DefaultPaymentMethod()
	}
	if pm == nil {
		return tr.T(key + "NoMethod")
	}
	return tr.T(key, "method", pm.Describe(tr))
}
