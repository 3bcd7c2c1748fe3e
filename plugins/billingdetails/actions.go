package billingdetails

import (
	_ "embed"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

//go:embed forms.html
var formsHTML string

// formsTmpl holds the billing details and auto-pay form pages, translated per language ("t").
var formsTmpl = i18n.NewTemplates(plugins.ParseTemplate("forms", formsHTML))

var _ plugins.Actor = section{}

// Actions are the billing details and auto-pay forms, the default and remove posts of payment
// methods, and the round trip through the tenant's page that adds a payment method.
func (section) Actions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: "/billing/edit", Needs: AllowDetailsEdit, Refusal: "error.forbidden.billing", Handle: billingForm},
		{Method: "POST", Path: "/billing/edit", Needs: AllowDetailsEdit, Refusal: "error.forbidden.billing", Handle: billingSave},
		{Method: "GET", Path: "/billing/autopay", Needs: AllowAutopayEdit, Refusal: "error.forbidden.autopay", Handle: autopayForm},
		{Method: "POST", Path: "/billing/autopay", Needs: AllowAutopayEdit, Refusal: "error.forbidden.autopay", Handle: autopaySave},
		{Method: "GET", Path: "/payment-methods/add", Needs: AllowDetailsEdit, Refusal: "error.forbidden.addPaymentMethod", Handle: paymentMethodAdd},
		{Method: "GET", Path: "/payment-methods/return", Handle: paymentMethodReturn},
		{Method: "POST", Path: "/payment-methods/{id}/default", Needs: AllowDetailsEdit, Refusal: "error.forbidden.paymentMethods", Handle: paymentMethodDefault},
		{Method: "POST", Path: "/payment-methods/{id}/remove", Needs: AllowDetailsEdit, Refusal: "error.forbidden.paymentMethods", Handle: paymentMethodRemove},
	}
}

// finish answers an action after its Update: the overview, or the page of the failure.
func finish(c plugins.ActionContext, err error) {
	if err != nil {
		c.Fail(err)
		return
	}
	c.Done()
}

// formPage answers one of the form pages.
func formPage(c plugins.ActionContext, status int, titleKey, name string, data any) {
	plugins.Render(c, formsTmpl, status, c.Printer().T(titleKey), name, data)
}

// ---- billing details ----

type formField struct {
	Name, Label, Type, Value, Error, Autocomplete string
	Max                                           int
	Required                                      bool
	Options                                       []option
}

type option struct{ Value, Label string }

// countryOptions caches, per language (an i18n.Printer), the countries with their names in
// that language, sorted as the language sorts: the options of the country field.
var countryOptions sync.Map

func countries(l *i18n.Printer) []option {
	if v, ok := countryOptions.Load(l); ok {
		return v.([]option)
	}
	var out []option
	for _, c := range l.AddressCountries() {
		out = append(out, option{c.Code, c.Name})
	}
	countryOptions.Store(l, out)
	return out
}

type billingPage struct {
	Fields []formField
	Errors plugins.FormErrors
}

// billingValues are the editable billing details, as typed.
type billingValues struct {
	LegalName, Email, TaxID, Line1, Line2, City, PostalCode, Region, Country string
}

func currentBilling(a *account.Account) billingValues {
	v := billingValues{LegalName: a.Name, Email: a.Email}
	if c := a.Company; c != nil {
		if c.LegalName != "" {
			v.LegalName = c.LegalName
		}
		v.TaxID = c.TaxID
		if ad := c.Address; ad != nil {
			v.Line1, v.Line2, v.City, v.PostalCode, v.Region, v.Country = ad.Line1, ad.Line2, ad.City, ad.PostalCode, ad.Region, ad.Country
		}
	}
	return v
}

func (v billingValues) fields(l *i18n.Printer, errs map[string]string) []formField {
	label := func(name string) string { return l.T("billing.field." + name) }
	return []formField{
		{Name: "legalName", Label: label("legalName"), Type: "text", Value: v.LegalName, Autocomplete: "organization", Max: 200, Required: true, Error: errs["legalName"]},
		{Name: "email", Label: label("email"), Type: "email", Value: v.Email, Autocomplete: "email", Max: 254, Required: true, Error: errs["email"]},
		{Name: "line1", Label: label("line1"), Type: "text", Value: v.Line1, Autocomplete: "address-line1", Max: 200, Required: true, Error: errs["line1"]},
		{Name: "line2", Label: label("line2"), Type: "text", Value: v.Line2, Autocomplete: "address-line2", Max: 200, Error: errs["line2"]},
		{Name: "postalCode", Label: label("postalCode"), Type: "text", Value: v.PostalCode, Autocomplete: "postal-code", Max: 20, Error: errs["postalCode"]},
		{Name: "city", Label: label("city"), Type: "text", Value: v.City, Autocomplete: "address-level2", Max: 100, Required: true, Error: errs["city"]},
		{Name: "region", Label: label("region"), Type: "text", Value: v.Region, Autocomplete: "address-level1", Max: 100, Error: errs["region"]},
		{Name: "country", Label: label("country"), Value: v.Country, Required: true, Options: countries(l), Error: errs["country"]},
		{Name: "taxId", Label: label("taxId"), Type: "text", Value: v.TaxID, Autocomplete: "off", Max: 64, Error: errs["taxId"]},
	}
}

// validate checks typed billing details and returns the problems by field, in language l.
func (v *billingValues) validate(l *i18n.Printer) map[string]string {
	errs := map[string]string{}
	text := func(name, val string, required bool, max int) {
		label := l.T("billing.field." + name)
		switch {
		case required && val == "":
			errs[name] = l.T("billing.error.required", "field", label)
		case !utf8.ValidString(val) || strings.ContainsFunc(val, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			errs[name] = l.T("billing.error.characters", "field", label)
		case utf8.RuneCountInString(val) > max:
			errs[name] = l.T("billing.error.tooLong", "field", label)
		}
	}
	text("legalName", v.LegalName, true, 200)
	text("line1", v.Line1, true, 200)
	text("line2", v.Line2, false, 200)
	text("city", v.City, true, 100)
	text("postalCode", v.PostalCode, false, 20)
	text("region", v.Region, false, 100)
	text("taxId", v.TaxID, false, 64)
	if v.Email == "" {
		errs["email"] = l.T("billing.error.required", "field", l.T("billing.field.email"))
	} else if !account.ValidEmail(v.Email) {
		errs["email"] = l.T("billing.error.email")
	}
	if !account.ValidCountry(v.Country) {
		errs["country"] = l.T("billing.error.country")
	}
	return errs
}

func billingForm(c plugins.ActionContext) {
	formPage(c, 200, "billing.pageTitle", "billing-edit", &billingPage{Fields: currentBilling(c.Account()).fields(c.Printer(), nil)})
}

func billingSave(c plugins.ActionContext) {
	get := func(k string) string { return strings.TrimSpace(c.FormValue(k)) }
	v := billingValues{
		LegalName: get("legalName"), Email: get("email"), TaxID: get("taxId"), Line1: get("line1"), Line2: get("line2"),
		City: get("city"), PostalCode: get("postalCode"), Region: get("region"), Country: strings.ToUpper(get("country")),
	}
	l := c.Printer()
	if errs := v.validate(l); len(errs) > 0 {
		p := &billingPage{Fields: v.fields(l, errs)}
		for _, f := range p.Fields {
			if f.Error != "" {
				p.Errors.Add(f.Name, f.Error)
			}
		}
		formPage(c, 422, "billing.pageTitle", "billing-edit", p)
		return
	}
	err := c.Update(func(acc *account.Account) (plugins.Event, error) {
		if currentBilling(acc) == v {
			return plugins.Event{}, tenants.ErrNoChange
		}
		if acc.Company == nil {
			acc.Company = &account.Company{}
		}
		acc.Email = v.Email
		acc.Company.LegalName, acc.Company.TaxID = v.LegalName, v.TaxID
		acc.Company.Address = &account.Address{Line1: v.Line1, Line2: v.Line2, City: v.City, PostalCode: v.PostalCode, Region: v.Region, Country: v.Country}
		return plugins.Event{Type: tenants.EventBillingDetailsUpdated, Data: map[string]any{"email": acc.Email, "company": acc.Company}}, nil
	})
	finish(c, err)
}

// ---- payment methods ----

func methodNotFound() error {
	return &plugins.Refusal{Status: 404, TitleKey: "error.paymentMethodNotFound.title", BodyKey: "error.removed.body"}
}

func paymentMethodDefault(c plugins.ActionContext) {
	id := c.Arg()
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		pm := a.PaymentMethod(id)
		if pm == nil {
			return plugins.Event{}, methodNotFound()
		}
		if pm.Default {
			return plugins.Event{}, tenants.ErrNoChange
		}
		var previous string
		if old := a.DefaultPaymentMethod(); old != nil {
			previous, old.Default = old.ID, false
		}
		pm.Default = true
		// Auto-pay that charged the old default follows the new one.
		if ap := a.AutoPay; ap != nil && (ap.PaymentMethodID == previous) {
			ap.PaymentMethodID = pm.ID
		}
		return plugins.Event{Type: tenants.EventPaymentMethodDefaultChanged, Data: map[string]any{"paymentMethodId": pm.ID, "previousPaymentMethodId": previous}}, nil
	})
	finish(c, err)
}

func paymentMethodRemove(c plugins.ActionContext) {
	id := c.Arg()
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		i := slices.IndexFunc(a.PaymentMethods, func(pm account.PaymentMethod) bool { return pm.ID == id })
		if i < 0 {
			return plugins.Event{}, tenants.ErrNoChange // removed already: a double submit
		}
		if !a.PaymentMethodRemovable() {
			return plugins.Event{}, &plugins.Refusal{Status: 409, TitleKey: "error.keepOneMethod.title", BodyKey: "error.keepOneMethod.body"}
		}
		wasDefault := a.PaymentMethods[i].Default
		a.PaymentMethods = slices.Delete(a.PaymentMethods, i, i+1)
		if wasDefault && len(a.PaymentMethods) > 0 {
			a.PaymentMethods[0].Default = true
		}
		if ap := a.AutoPay; ap != nil && ap.PaymentMethodID == id {
			ap.PaymentMethodID = ""
			if def := a.DefaultPaymentMethod(); def != nil {
				ap.PaymentMethodID = def.ID
			} else {
				ap.Enabled = false
			}
		}
		return plugins.Event{Type: tenants.EventPaymentMethodRemoved, Data: map[string]any{"paymentMethodId": id}}, nil
	})
	finish(c, err)
}

// paymentMethodAdd sends the customer to the tenant's own setup page (Portico never sees card
// numbers) with a return URL back to the portal that Portico signs, so that only a return it
// issued for this session is honoured.
func paymentMethodAdd(c plugins.ActionContext) {
	t := c.Tenant()
	if t.PaymentSetupURL == "" {
		c.Message(403, "error.forbidden.title", "error.forbidden.addPaymentMethod")
		return
	}
	plugins.RedirectWithReturn(c, t.PaymentSetupURL, url.Values{"account_id": {c.Account().ID}, "session_id": {c.SessionID()}},
		"return", "/payment-methods/return")
}

// paymentMethodReturn is where the tenant's setup page sends the customer back.
func paymentMethodReturn(c plugins.ActionContext) {
	if !plugins.CheckReturn(c, "return") {
		c.Message(400, "error.returnInvalid.title", "error.returnInvalid.body")
		return
	}
	c.Done()
}

// ---- auto-pay ----

type autopayPage struct {
	Method, Timing string
	Enabled        bool
	Errors         plugins.FormErrors
}

// autopayMethod names the payment method auto-pay charges when on: its own, else the default.
func autopayMethod(a *account.Account, l *i18n.Printer) string {
	if ap := a.AutoPay; ap != nil {
		if pm := a.PaymentMethod(ap.PaymentMethodID); pm != nil {
			return pm.Describe(l)
		}
	}
	if pm := a.DefaultPaymentMethod(); pm != nil {
		return pm.Describe(l)
	}
	return ""
}

func autopayForm(c plugins.ActionContext) {
	a := c.Account()
	p := &autopayPage{Timing: account.AutoPayOnDueDate, Method: autopayMethod(a, c.Printer())}
	if ap := a.AutoPay; ap != nil {
		p.Enabled = ap.Enabled
		if ap.Timing != "" {
			p.Timing = ap.Timing
		}
	}
	formPage(c, 200, "autopay.pageTitle", "autopay", p)
}

// errNoDefaultMethod is raised inside the change when auto-pay is turned on without a method.
var errNoDefaultMethod = errors.New("billingdetails: auto-pay needs a default payment method")

func autopaySave(c plugins.ActionContext) {
	l := c.Printer()
	enabled, timing := c.FormValue("enabled"), c.FormValue("timing")
	p := &autopayPage{Enabled: enabled == "on", Timing: timing, Method: autopayMethod(c.Account(), l)}
	if enabled != "on" && enabled != "off" {
		p.Errors.Add("enabled", l.T("autopay.error.enabled"))
	}
	if timing != account.AutoPayOnIssue && timing != account.AutoPayOnDueDate {
		p.Errors.Add("timing", l.T("autopay.error.timing"))
	}
	if len(p.Errors) > 0 {
		formPage(c, 422, "autopay.pageTitle", "autopay", p)
		return
	}
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		next := account.AutoPay{Enabled: enabled == "on", Timing: timing}
		if a.AutoPay != nil {
			next.PaymentMethodID = a.AutoPay.PaymentMethodID
		}
		if next.Enabled && a.PaymentMethod(next.PaymentMethodID) == nil {
			def := a.DefaultPaymentMethod()
			if def == nil {
				return plugins.Event{}, errNoDefaultMethod
			}
			next.PaymentMethodID = def.ID
		}
		if a.AutoPay != nil && *a.AutoPay == next {
			return plugins.Event{}, tenants.ErrNoChange
		}
		a.AutoPay = &next
		return plugins.Event{Type: tenants.EventAutopayUpdated, Data: map[string]any{"enabled": next.Enabled, "timing": next.Timing, "paymentMethodId": next.PaymentMethodID}}, nil
	})
	if errors.Is(err, errNoDefaultMethod) {
		p.Errors.Add("enabled", l.T("autopay.error.noMethod"))
		formPage(c, 422, "autopay.pageTitle", "autopay", p)
		return
	}
	finish(c, err)
}
