package i18n_test

import (
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
)

func TestDate(t *testing.T) {
	t.Parallel()
	day := func(y int, m time.Month, d int) i18n.CivilDate { return i18n.CivilDate{Year: y, Month: m, Day: d} }
	tests := []struct {
		d      i18n.CivilDate
		locale string
		want   string
	}{
		{day(2027, 1, 1), "en", "Jan 1, 2027"},
		{day(2027, 1, 1), "en-US", "Jan 1, 2027"},
		{day(2027, 1, 1), "en-CA", "Jan 1, 2027"},
		{day(2027, 1, 1), "", "Jan 1, 2027"},
		{day(2027, 1, 1), "en-GB", "1 Jan 2027"},
		{day(2027, 1, 1), "en-AU", "1 Jan 2027"},
		{day(2027, 1, 1), "en-IN", "1 Jan 2027"},
		{day(2027, 1, 1), "de", "1. Jan. 2027"},
		{day(2026, 3, 15), "de-DE", "15. März 2026"},
		{day(2026, 5, 2), "de-AT", "2. Mai 2026"},
		{day(2027, 1, 1), "fr", "1 janv. 2027"},
		{day(2026, 8, 31), "fr-FR", "31 août 2026"},
		{day(2027, 1, 1), "es", "1 ene 2027"},
		{day(2026, 12, 24), "es-MX", "24 dic 2026"},
		{day(2027, 1, 1), "pt", "1 de jan. de 2027"},
		{day(2026, 2, 28), "pt-BR", "28 de fev. de 2026"},
		{day(2027, 1, 1), "ja", "2027年1月1日"},
		{day(2026, 12, 31), "ja-JP", "2026年12月31日"},
		{day(2026, 12, 31), "xx-invalid", "Dec 31, 2026"},
		{i18n.CivilDate{}, "en", ""},
		{day(2026, 13, 1), "en", ""},
		{day(2026, 2, 30), "en", ""},
		{day(2026, 0, 1), "de", ""},
		{day(2026, 1, 0), "en", ""},
		{day(-1, 1, 1), "en", ""},
	}
	for _, tt := range tests {
		if got := i18n.Date(tt.d, tt.locale); got != tt.want {
			t.Errorf("Date(%v, %q) = %q, want %q", tt.d, tt.locale, got, tt.want)
		}
	}
}

// TestDateOf: a time's calendar date is the one of its own location.
func TestDateOf(t *testing.T) {
	t.Parallel()
	tokyo := time.FixedZone("JST", 9*3600)
	at := time.Date(2026, 12, 31, 20, 0, 0, 0, time.UTC)
	if got := i18n.Date(i18n.DateOf(at), "en"); got != "Dec 31, 2026" {
		t.Errorf("UTC: %q", got)
	}
	if got := i18n.Date(i18n.DateOf(at.In(tokyo)), "en"); got != "Jan 1, 2027" {
		t.Errorf("Tokyo: %q", got)
	}
}

func BenchmarkDate(b *testing.B) {
	b.ReportAllocs()
	d := i18n.CivilDate{Year: 2027, Month: time.January, Day: 1}
	for b.Loop() {
		_ = i18n.Date(d, "en")
	}
}
