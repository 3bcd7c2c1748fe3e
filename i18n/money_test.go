package i18n_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
)

const (
	nbsp   = "\u00a0"
	narrow = "\u202f"
)

func TestMinorUnits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want int
	}{
		{"EUR", 2}, {"USD", 2}, {"GBP", 2}, {"BRL", 2}, {"CHF", 2},
		{"JPY", 0}, {"KRW", 0}, {"CLP", 0}, {"ISK", 0}, {"VND", 0},
		{"KWD", 3}, {"BHD", 3}, {"TND", 3}, {"OMR", 3}, {"JOD", 3},
		{"CLF", 4},
		// CLDR displays these with fewer digits than ISO 4217 gives them.
		{"IDR", 2}, {"COP", 2}, {"IQD", 3}, {"PKR", 2},
		// Not in x/text's CLDR 32 table.
		{"VES", 2}, {"UYW", 4},
		{"eur", 2}, {"jpy", 0},
		{"XYZ", 2}, {"", 2}, {"EURO", 2},
	}
	for _, tt := range tests {
		if got := i18n.MinorUnits(tt.code); got != tt.want {
			t.Errorf("MinorUnits(%q) = %d, want %d", tt.code, got, tt.want)
		}
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		amount   int64
		currency string
		locale   string
		want     string
	}{
		{1249000, "EUR", "en", "€12,490.00"},
		{1249000, "EUR", "en-US", "€12,490.00"},
		{1249000, "EUR", "en-GB", "€12,490.00"},
		{1249000, "EUR", "de", "12.490,00" + nbsp + "€"},
		{1249000, "EUR", "de-DE", "12.490,00" + nbsp + "€"},
		{1249000, "EUR", "de-AT", "12.490,00" + nbsp + "€"},
		{1249000, "EUR", "fr", "12" + narrow + "490,00" + nbsp + "€"},
		{1249000, "EUR", "fr-CA", "12" + narrow + "490,00" + nbsp + "€"},
		{1249000, "EUR", "es", "12.490,00" + nbsp + "€"},
		{123456, "EUR", "es", "1234,56" + nbsp + "€"}, // Spanish leaves four-digit numbers ungrouped
		{1249000, "EUR", "pt-BR", "€" + nbsp + "12.490,00"},
		{123456, "BRL", "pt-BR", "R$" + nbsp + "1.234,56"},
		{1249000, "EUR", "ja", "€12,490.00"},
		{12490, "JPY", "ja", "￥12,490"},
		{12490, "JPY", "en", "¥12,490"},
		{12490, "JPY", "de", "12.490" + nbsp + "¥"},
		{1234, "KWD", "en", "KWD" + nbsp + "1.234"},
		{1234567, "KWD", "de", "1.234,567" + nbsp + "KWD"},
		{1234, "CHF", "ja", "CHF" + nbsp + "12.34"},
		{1099, "USD", "en", "$10.99"},
		{1099, "GBP", "en-GB", "£10.99"},
		{1000, "CLP", "en", "CLP" + nbsp + "1,000"},
		{12345, "CLF", "en", "CLF" + nbsp + "1.2345"},
		{150000, "IDR", "en", "IDR" + nbsp + "1,500.00"},
		{0, "EUR", "en", "€0.00"},
		{0, "JPY", "en", "¥0"},
		{5, "EUR", "en", "€0.05"},
		{5, "KWD", "en", "KWD" + nbsp + "0.005"},
		{-500, "EUR", "en", "-€5.00"},
		{-500, "EUR", "de", "-5,00" + nbsp + "€"},
		{-123456, "BRL", "pt", "-R$" + nbsp + "1.234,56"},
		{math.MaxInt64, "EUR", "en", "€92,233,720,368,547,758.07"},
		{math.MinInt64, "EUR", "en", "-€92,233,720,368,547,758.08"},
		{math.MaxInt64, "JPY", "fr", "9" + strings.Repeat(narrow+"223", 1) + narrow + "372" + narrow + "036" + narrow + "854" + narrow + "775" + narrow + "807" + nbsp + "JPY"},
		{1000, "eur", "en", "€10.00"},
		{1000, "XYZ", "en", "XYZ" + nbsp + "10.00"},
		{1000, "E1", "en", "¤10.00"},
		{1000, "<b>", "en", "¤10.00"},
		// Unknown or unparseable locales are English.
		{1249000, "EUR", "", "€12,490.00"},
		{1249000, "EUR", "zz", "€12,490.00"},
		{1249000, "EUR", "not a locale!", "€12,490.00"},
		{1249000, "EUR", "sv-SE", "€12,490.00"},
		{1249000, "EUR", "DE_de", "12.490,00" + nbsp + "€"},
	}
	for _, tt := range tests {
		if got := i18n.Money(tt.amount, tt.currency, tt.locale); got != tt.want {
			t.Errorf("Money(%d, %q, %q) = %q, want %q", tt.amount, tt.currency, tt.locale, got, tt.want)
		}
	}
}

func TestDecimal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dec, currency, locale, want string
	}{
		{"0.3", "EUR", "en", "€0.003"},
		{"0.3", "EUR", "de", "0,003" + nbsp + "€"},
		{"0.30", "EUR", "en", "€0.003"},
		{"0.1", "EUR", "en", "€0.001"},
		{"12", "EUR", "en", "€0.12"},
		{"1250", "EUR", "en", "€12.50"},
		{"1250.5", "EUR", "en", "€12.505"},
		{"123456789.25", "EUR", "en", "€1,234,567.8925"},
		{"0", "EUR", "en", "€0.00"},
		{"0.000", "EUR", "en", "€0.00"},
		{"007", "EUR", "en", "€0.07"},
		{"0.5", "JPY", "en", "¥0.5"},
		{"12490", "JPY", "ja", "￥12,490"},
		{"1.5", "KWD", "en", "KWD" + nbsp + "0.0015"},
		{"-0.3", "EUR", "en", "-€0.003"},
		{"-0.0", "EUR", "en", "€0.00"},
		{"0.3", "EUR", "fr", "0,003" + nbsp + "€"},
		{"0.3", "EUR", "pt-BR", "€" + nbsp + "0,003"},
		// Malformed input.
		{"", "EUR", "en", ""},
		{"-", "EUR", "en", ""},
		{".3", "EUR", "en", ""},
		{"3.", "EUR", "en", ""},
		{"1e3", "EUR", "en", ""},
		{"1.2.3", "EUR", "en", ""},
		{"+1", "EUR", "en", ""},
		{" 1", "EUR", "en", ""},
		{"١٢", "EUR", "en", ""},
	}
	for _, tt := range tests {
		if got := i18n.Decimal(tt.dec, tt.currency, tt.locale); got != tt.want {
			t.Errorf("Decimal(%q, %q, %q) = %q, want %q", tt.dec, tt.currency, tt.locale, got, tt.want)
		}
	}
}

// TestDecimalAgreesWithMoney checks that an integral decimal string formats like the same integer.
func TestDecimalAgreesWithMoney(t *testing.T) {
	t.Parallel()
	for _, cur := range []string{"EUR", "JPY", "KWD", "CLF"} {
		for _, loc := range []string{"en", "de", "fr", "es", "pt", "ja", "en-GB"} {
			for _, n := range []int64{0, 1, 9, 10, 99, 100, 1234, 99999, 100000, 1249000, math.MaxInt64} {
				want := i18n.Money(n, cur, loc)
				if got := i18n.Decimal(strconv.FormatInt(n, 10), cur, loc); got != want {
					t.Errorf("Decimal(%d, %s, %s) = %q, Money = %q", n, cur, loc, got, want)
				}
			}
		}
	}
}

func TestNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n      int64
		locale string
		want   string
	}{
		{0, "en", "0"},
		{999, "en", "999"},
		{1000, "en", "1,000"},
		{1800000, "en", "1,800,000"},
		{1800000, "de", "1.800.000"},
		{1800000, "fr", "1" + narrow + "800" + narrow + "000"},
		{1800000, "es", "1.800.000"},
		{1234, "es", "1234"},
		{12345, "es", "12.345"},
		{1800000, "pt-BR", "1.800.000"},
		{1800000, "ja", "1,800,000"},
		{-1234, "en", "-1,234"},
		{math.MaxInt64, "en", "9,223,372,036,854,775,807"},
		{math.MinInt64, "de", "-9.223.372.036.854.775.808"},
		{1000, "bogus!", "1,000"},
	}
	for _, tt := range tests {
		if got := i18n.Number(tt.n, tt.locale); got != tt.want {
			t.Errorf("Number(%d, %q) = %q, want %q", tt.n, tt.locale, got, tt.want)
		}
	}
}

func TestPercent(t *testing.T) {
	t.Parallel()
	tests := []struct{ rate, locale, want string }{
		{"19", "en", "19%"},
		{"8.25", "en-US", "8.25%"},
		{"8.25", "de-DE", "8,25\u00a0%"},
		{"19", "fr", "19" + narrow + "%"},
		{"5.5", "es", "5,5\u00a0%"},
		{"17.5", "pt-BR", "17,5%"},
		{"10", "ja", "10%"},
		{"0", "en", "0%"},
		{"100", "de", "100\u00a0%"},
		{"-1", "en", ""},
		{"1e2", "en", ""},
		{"8.", "en", ""},
		{"", "en", ""},
	}
	for _, tt := range tests {
		if got := i18n.Percent(tt.rate, tt.locale); got != tt.want {
			t.Errorf("Percent(%q, %q) = %q, want %q", tt.rate, tt.locale, got, tt.want)
		}
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"en": "en", "en-GB": "en", "de-AT": "de", "de_CH": "de", "fr-CA": "fr", "es-419": "es",
		"pt-BR": "pt", "ja-JP": "ja", "sv": "en", "": "en", "??": "en", "zh-Hant-TW": "en",
	}
	for in, want := range tests {
		if got := i18n.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestI18nLocalesRoute: every locale the portal's fallback chain can hand to the formatters (a supported
// language of the catalogs, or the regional tag that matched it) is formatted in that language's
// conventions, with localised month names, never silently in English.
func TestI18nLocalesRoute(t *testing.T) {
	t.Parallel()
	months := map[string]string{"en": "Dec", "de": "Dez.", "fr": "déc.", "es": "dic", "pt": "dez.", "ja": "12月"}
	for _, tag := range i18n.Supported {
		base, _ := tag.Base()
		for _, locale := range []string{tag.String(), base.String(), base.String() + "-419", base.String() + "-CH"} {
			_, formatLocale := i18n.ResolveFormat(locale, "", "")
			if got := i18n.Language(formatLocale); got != base.String() {
				t.Errorf("%s (format locale %q) is formatted as %q, want %q", locale, formatLocale, got, base)
			}
			if d := i18n.Date(i18n.CivilDate{Year: 2026, Month: time.December, Day: 31}, formatLocale); !strings.Contains(d, months[base.String()]) {
				t.Errorf("%s: Date = %q, want the month %q", locale, d, months[base.String()])
			}
		}
	}
}

// digitsOnly keeps the ASCII digits of s.
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func FuzzMoney(f *testing.F) {
	f.Add(int64(1249000), "EUR", "en")
	f.Add(int64(-1), "JPY", "ja")
	f.Add(int64(math.MinInt64), "KWD", "fr")
	f.Add(int64(math.MaxInt64), "CLF", "pt-BR")
	f.Add(int64(0), "", "")
	f.Add(int64(42), "X1Y", "de-DE-u-nu-arab")
	f.Fuzz(func(t *testing.T, amount int64, currency, locale string) {
		out := i18n.Money(amount, currency, locale)
		abs := strconv.FormatUint(func() uint64 {
			if amount < 0 {
				return -uint64(amount)
			}
			return uint64(amount)
		}(), 10)
		got := strings.TrimLeft(digitsOnly(out), "0")
		if want := strings.TrimLeft(abs, "0"); got != want {
			t.Fatalf("Money(%d, %q, %q) = %q: digits %q, want %q", amount, currency, locale, out, got, want)
		}
		if neg := strings.HasPrefix(out, "-"); neg != (amount < 0) {
			t.Fatalf("Money(%d, %q, %q) = %q: sign is wrong", amount, currency, locale, out)
		}
	})
}

func BenchmarkMoney(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = i18n.Money(1249000, "EUR", "de-DE")
	}
}
