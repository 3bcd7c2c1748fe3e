package account_test

import (
	"testing"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants/account"
)

// TestDateCivil: a document's date reaches i18n as its calendar date; the empty and every
// malformed or impossible date are no date, which i18n.Date writes as "".
func TestDateCivil(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    account.Date
		want i18n.CivilDate
	}{
		{"2027-01-01", i18n.CivilDate{Year: 2027, Month: time.January, Day: 1}},
		{"2026-12-31", i18n.CivilDate{Year: 2026, Month: time.December, Day: 31}},
		{"", i18n.CivilDate{}},
		{"2026-13-01", i18n.CivilDate{}},
		{"2026-02-30", i18n.CivilDate{}},
		{"31.12.2026", i18n.CivilDate{}},
		{"2026-1-1", i18n.CivilDate{}},
	} {
		if got := tc.d.Civil(); got != tc.want {
			t.Errorf("Date(%q).Civil() = %v, want %v", tc.d, got, tc.want)
		}
		if tc.want == (i18n.CivilDate{}) {
			if s := i18n.Date(tc.d.Civil(), "en"); s != "" {
				t.Errorf("i18n.Date(Date(%q).Civil()) = %q, want \"\"", tc.d, s)
			}
		}
	}
}

// TestAddressPostal: every field of an address reaches i18n's.
func TestAddressPostal(t *testing.T) {
	t.Parallel()
	a := account.Address{Line1: "Hauptstraße 12", Line2: "3. OG", City: "Berlin", PostalCode: "10115", Region: "BE", Country: "DE"}
	want := i18n.Address{Line1: "Hauptstraße 12", Line2: "3. OG", City: "Berlin", PostalCode: "10115", Region: "BE", Country: "DE"}
	if got := a.Postal(); got != want {
		t.Errorf("Postal() = %+v, want %+v", got, want)
	}
}
