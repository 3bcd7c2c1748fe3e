package billingdetails

import (
	"testing"

	"github.com/portico-billing/portico/i18n"
)

// TestCountryOptions checks the billing form's country list: each name once, in every language,
// with current codes only.
func TestCountryOptions(t *testing.T) {
	t.Parallel()
	for _, loc := range []string{"en", "de", "fr", "es", "pt-BR", "ja"} {
		l := i18n.ForLocale(loc)
		seen := map[string]string{}
		codes := map[string]bool{}
		for _, o := range countries(l) {
			if prev, ok := seen[o.Label]; ok {
				t.Errorf("%s: %q is offered as both %s and %s", loc, o.Label, prev, o.Value)
			}
			if o.Label == o.Value {
				t.Errorf("%s: %s has no name", loc, o.Value)
			}
			seen[o.Label], codes[o.Value] = o.Value, true
		}
		for _, want := range []string{"DE", "GB", "TL", "JP", "BR", "UM"} {
			if !codes[want] {
				t.Errorf("%s: %s is missing", loc, want)
			}
		}
		for _, gone := range []string{"DD", "UK", "TP", "YU", "UN", "EZ"} {
			if codes[gone] {
				t.Errorf("%s: %s is offered", loc, gone)
			}
		}
	}
}
