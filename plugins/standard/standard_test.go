package standard_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/billingdetails"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	"github.com/portico-billing/portico/plugins/planoverview"
	_ "github.com/portico-billing/portico/plugins/standard"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

func TestRegistersStandardSections(t *testing.T) {
	t.Parallel()
	if got, want := plugins.Names(), []string{"billing_details", "invoices", "plan_overview", "team", "usage"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	var order, titles []string
	for _, s := range plugins.Ordered() {
		order = append(order, s.Name())
		titles = append(titles, s.(plugins.Titler).Title("en"))
	}
	if want := []string{"plan_overview", "usage", "invoices", "billing_details", "team"}; !slices.Equal(order, want) {
		t.Errorf("Ordered() = %v, want %v", order, want)
	}
	if want := []string{"Plan overview", "Usage", "Invoices", "Billing information", "Team and activity"}; !slices.Equal(titles, want) {
		t.Errorf("titles = %v, want %v", titles, want)
	}
}

// TestPage renders every section into one page, as the host does, and checks that element ids
// are unique across sections and that every form carries the CSRF placeholder.
func TestPage(t *testing.T) {
	t.Parallel()
	a := sectiontest.Example(t)
	a.Subscriptions = append(a.Subscriptions, a.Subscriptions[0])
	a.Subscriptions[1].ID = "sub_2"
	a.Subscriptions[1].CancelAtPeriodEnd = true
	v := &plugins.View{
		Account:  a,
		Locale:   "en",
		Switches: plugins.Switches(0).With(planoverview.AllowCancel, billingdetails.AllowDetailsEdit, billingdetails.AllowAutopayEdit),
		Now:      time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC),
	}
	var page strings.Builder
	for _, s := range plugins.Ordered() {
		if err := s.Render(&page, v); err != nil {
			t.Fatalf("%s: %v", s.Name(), err)
		}
	}
	out := page.String()
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(` id="([^"]*)"`).FindAllStringSubmatch(out, -1) {
		if seen[m[1]] {
			t.Errorf("id %q is used twice on the page", m[1])
		}
		seen[m[1]] = true
	}
	forms := strings.Count(out, "<form")
	if forms != 4 { // reactivate sub_2, make SEPA the default, remove each of the two methods
		t.Errorf("page has %d forms, want 4", forms)
	}
	if n := strings.Count(out, string(plugins.CSRFInput)); n != forms {
		t.Errorf("page has %d CSRF inputs for %d forms", n, forms)
	}
}

// texts returns every text node and every attribute value of a rendered page, trimmed.
func texts(t *testing.T, out string) map[string]bool {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "main", DataAtom: atom.Main})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			seen[strings.TrimSpace(n.Data)] = true
		}
		for _, a := range n.Attr {
			seen[strings.TrimSpace(a.Val)] = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return seen
}

// TestEveryLanguage renders every section in every supported language, in a state that shows
// (nearly) every control and label, and fails on any text the page shows in English where the
// language has its own: a template or section that bypasses the catalogs.
func TestEveryLanguage(t *testing.T) {
	t.Parallel()
	full := sectiontest.Example(t)
	full.Subscriptions = append(full.Subscriptions, full.Subscriptions[0])
	full.Subscriptions[1].ID = "sub_2"
	full.Subscriptions[1].CancelAtPeriodEnd = true
	full.Invoices[1].AmountPaid = 100 // part-paid: "… remaining"
	full.PaymentMethods[0].ExpYear = 2020
	empty := sectiontest.Example(t)
	empty.Subscriptions, empty.Invoices, empty.PaymentMethods, empty.AutoPay = nil, nil, nil, nil
	settings := plugins.Switches(0).With(planoverview.AllowCancel, billingdetails.AllowDetailsEdit, billingdetails.AllowAutopayEdit)
	tenant := &tenants.Tenant{PaymentSetupURL: "https://billing.example.com/add"} // shows "Add payment method"
	render := func(a *account.Account, locale string) string {
		var b strings.Builder
		v := &plugins.View{Account: a, Locale: locale, Switches: settings, Tenant: tenant, TenantName: "ACME", Now: time.Date(2026, 12, 15, 0, 0, 0, 0, time.UTC)}
		for _, s := range plugins.Ordered() {
			if err := s.Render(&b, v); err != nil {
				t.Fatalf("%s: %v", s.Name(), err)
			}
		}
		return b.String()
	}
	want := map[string][]string{
		"de-DE": {"Tarifübersicht", "Rechnungen", "Rechnungsinformationen", "Kündigung vorgemerkt zum 31. Dez. 2026", "Reaktivieren", "PDF herunterladen", "SEPA-Lastschrift, Deutsche Bank •••• 3000", "abgelaufen 08/2020", "Deutschland", "Ein — Abbuchung am Fälligkeitsdatum von Visa •••• 4242", "12.490,00\u00a0€"},
		"fr":    {"Aperçu de l’offre", "Factures", "Informations de facturation", "Résiliation programmée le 31 déc. 2026", "Télécharger le PDF", "Prélèvement SEPA, Deutsche Bank •••• 3000", "Allemagne", "12\u202f490,00\u00a0€"},
		"es":    {"Resumen del plan", "Facturas", "Información de facturación", "Cancelación programada para el 31 dic 2026", "Descargar PDF", "Adeudo directo SEPA, Deutsche Bank •••• 3000", "Alemania", "12.490,00\u00a0€"},
		"pt-BR": {"Resumo do plano", "Faturas", "Informações de cobrança", "Cancelamento agendado para 31 de dez. de 2026", "Baixar PDF", "Débito direto SEPA, Deutsche Bank •••• 3000", "Alemanha", "€\u00a012.490,00"},
		"ja":    {"プランの概要", "請求書", "請求先情報", "2026年12月31日 に解約予定", "PDF をダウンロード", "SEPA ダイレクトデビット, Deutsche Bank •••• 3000", "ドイツ", "€12,490.00"},
	}
	for locale, wants := range want {
		t.Run(locale, func(t *testing.T) {
			t.Parallel()
			p := i18n.ForLocale(locale)
			out := render(full, locale)
			for _, w := range wants {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			emptyOut := render(empty, locale)
			for _, key := range []string{"plan.empty", "invoices.empty", "details.noMethods"} {
				if w := p.T(key, "tenant", "ACME"); !strings.Contains(emptyOut, w) {
					t.Errorf("empty page lacks %q", w)
				}
			}
			shown := texts(t, out+emptyOut)
			for _, key := range i18n.Keys() {
				if strings.HasPrefix(key, "dash.") {
					continue // the dashboard's messages: its sample plan "Pro (annual)" is this account's plan
				}
				en := i18n.T(i18n.English, key)
				if strings.Contains(en, "{") || en == p.T(key) || len(en) < 3 {
					continue // placeholders, or the same word in both languages ("Status", "PayPal")
				}
				if shown[en] {
					t.Errorf("%s: %q is shown in English", locale, en)
				}
			}
			if shown["Plan overview"] || shown["Invoices"] || shown["Billing information"] {
				t.Errorf("%s: an English section title is shown", locale)
			}
		})
	}
}

// TestForRole: a member's switches keep only what its role may do: viewers no payment, no
// editing and no plan changes; billing also pays and edits billing details and auto-pay; owners
// everything. Show switches are every role's.
func TestForRole(t *testing.T) {
	t.Parallel()
	var all plugins.Switches
	var names []string
	for _, o := range plugins.Objects() {
		for _, sw := range o.Switches {
			all = all.With(sw)
			names = append(names, sw.Key())
		}
	}
	billing := []string{"billingDetailsSettings.allowAutopayEdit", "billingDetailsSettings.allowDetailsEdit", "invoiceListSettings.allowPayment", "usageSettings.allowTopUp"}
	owner := []string{"teamSettings.allowTeamManagement", "teamSettings.showActivity", "planOverviewSettings.allowPause", "planOverviewSettings.allowPlanChange", "planOverviewSettings.allowQuantityChange", "planOverviewSettings.allowSubscriptionCancel"}
	for _, c := range []struct {
		role plugins.Role
		off  []string
	}{
		{plugins.RoleViewer, append(slices.Clone(billing), owner...)},
		{plugins.RoleBilling, owner},
		{plugins.RoleOwner, nil},
	} {
		got := plugins.ForRole(all, c.role)
		var off []string
		for _, o := range plugins.Objects() {
			for _, sw := range o.Switches {
				if !got.On(sw) {
					off = append(off, sw.Key())
				}
			}
		}
		slices.Sort(off)
		want := slices.Clone(c.off)
		slices.Sort(want)
		if !slices.Equal(off, want) {
			t.Errorf("ForRole(%s) turns off %v, want %v (of %v)", c.role, off, want, names)
		}
	}
	if r, ok := plugins.RoleOf("billing"); !ok || r != plugins.RoleBilling || r.String() != "billing" {
		t.Errorf("RoleOf(billing) = %v %v", r, ok)
	}
	if _, ok := plugins.RoleOf("admin"); ok {
		t.Error("RoleOf(admin) is a role")
	}
}
