package standard_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/plugins/internal/sectiontest"
	_ "github.com/portico-billing/portico/plugins/standard"
)

func TestRegistersStandardSections(t *testing.T) {
	t.Parallel()
	if got, want := plugins.Names(), []string{"billing_details", "invoices", "plan_overview"}; !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	var order, titles []string
	for _, s := range plugins.Ordered() {
		order = append(order, s.Name())
		titles = append(titles, s.(plugins.Titler).Title("en"))
	}
	if want := []string{"plan_overview", "invoices", "billing_details"}; !slices.Equal(order, want) {
		t.Errorf("Ordered() = %v, want %v", order, want)
	}
	if want := []string{"Plan overview", "Invoices", "Billing information"}; !slices.Equal(titles, want) {
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
		Settings: plugins.Settings{AllowSubscriptionCancel: true, AllowDetailsEdit: true, AllowAutopayEdit: true},
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
