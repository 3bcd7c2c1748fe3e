package i18n

import "testing"

// TestQuantity: a known unit takes the plural form of its count by the language's CLDR rules and
// the locale's digit grouping (the German and Japanese pages used to say "1.800.000 call"); an
// unknown unit is shown as given, made plural in English only.
func TestQuantity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n            int64
		unit, locale string
		want         string
	}{
		{1800000, "call", "en", "1,800,000 calls"},
		{1, "call", "en", "1 call"},
		{0, "call", "en", "0 calls"},
		{1800000, "call", "de-DE", "1.800.000 Aufrufe"},
		{1, "call", "de", "1 Aufruf"},
		{1800000, "call", "ja", "1,800,000回"},
		{1, "call", "ja", "1回"},
		{0, "call", "fr", "0 appel"}, // French: 0 and 1 are "one"
		{1, "call", "fr", "1 appel"},
		{2, "call", "fr", "2 appels"},
		{1800000, "call", "fr", "1\u202f800\u202f000 appels"},
		{2, "request", "es", "2 solicitudes"},
		{1, "request", "pt-BR", "1 requisição"},
		{0, "request", "pt-BR", "0 requisição"}, // pt: 0 and 1 are "one"
		{3, "hour", "de", "3 Stunden"},
		{12, "GB", "fr", "12 Go"},
		{12, "GB", "de", "12 GB"},
		{5, "Calls", "de", "5 Aufrufe"}, // matched in lower case without the plural s
		{5, "seat", "ja", "5席"},
		{5, "inbox", "en", "5 inboxes"},
		{5, "inbox", "de", "5 inbox"},
		{5, "query", "en", "5 queries"},
		{1, "query", "en", "1 query"},
		{5, "m²", "en", "5 m²"},
		{1234, "", "de", "1.234"},
	}
	for _, tt := range tests {
		if got := Quantity(tt.n, tt.unit, tt.locale); got != tt.want {
			t.Errorf("Quantity(%d, %q, %q) = %q, want %q", tt.n, tt.unit, tt.locale, got, tt.want)
		}
	}
}

// TestUnitKey: units are found as given, in lower case and without a plural s.
func TestUnitKey(t *testing.T) {
	t.Parallel()
	for unit, want := range map[string]string{"call": "unit.call", "GB": "unit.GB", "gb": "", "requests": "unit.request", "widget": "", "": ""} {
		if got := UnitKey(unit); got != want {
			t.Errorf("UnitKey(%q) = %q, want %q", unit, got, want)
		}
	}
}
