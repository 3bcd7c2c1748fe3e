package plugins_test

import (
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
)

func TestFormErrors(t *testing.T) {
	t.Parallel()
	var e plugins.FormErrors
	if e.Of("a") != "" {
		t.Fatal("a nil FormErrors has a problem")
	}
	e.Add("b", "first of b")
	e.Add("a", "a's")
	e.Add("b", "second of b")
	if want := (plugins.FormErrors{{"b", "first of b"}, {"a", "a's"}}); len(e) != 2 || e[0] != want[0] || e[1] != want[1] {
		t.Errorf("FormErrors = %v, want %v (in order, a field's first problem)", e, want)
	}
	if e.Of("a") != "a's" || e.Of("c") != "" {
		t.Errorf("Of: %q, %q", e.Of("a"), e.Of("c"))
	}
}

// TestFormErrorsTemplate renders the shared summary in two languages: a focusable alert that
// links each problem to its field, escaped, and nothing without problems.
func TestFormErrorsTemplate(t *testing.T) {
	t.Parallel()
	ts := i18n.NewTemplates(plugins.ParseTemplate("page", `{{define "p"}}<h1>x</h1>{{template "form-errors" .}}{{end}}`))
	for _, tc := range []struct {
		locale string
		errs   plugins.FormErrors
		want   []string
	}{
		{"en", nil, []string{"<h1>x</h1>"}},
		{"en", plugins.FormErrors{{"email", "Enter an <email>"}, {"city", "City is required."}}, []string{
			`<div class="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">`,
			`<h2 class="error-summary-title" id="error-summary-title">Please correct the fields marked below.</h2>`,
			`<li><a href="#email">Enter an &lt;email&gt;</a></li><li><a href="#city">City is required.</a></li>`,
		}},
		{"de", plugins.FormErrors{{"reason", "Wählen Sie"}}, []string{"Bitte korrigieren Sie die unten markierten Felder.", `<a href="#reason">Wählen Sie</a>`}},
	} {
		var b strings.Builder
		if err := ts.Execute(&b, i18n.ForLocale(tc.locale), "p", tc.errs); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s %v: output lacks %q:\n%s", tc.locale, tc.errs, w, out)
			}
		}
		if got := strings.Contains(out, "error-summary"); got != (len(tc.errs) > 0) {
			t.Errorf("%s %v: summary shown = %v", tc.locale, tc.errs, got)
		}
	}
}
