package i18n

import (
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 country code (upper case).
func ValidCountry(code string) bool {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry()
}

// Country is an ISO 3166-1 alpha-2 code with its name in one language.
type Country struct{ Code, Name string }

var regionNamers = func() []display.Namer {
	out := make([]display.Namer, len(Supported))
	for i, tag := range Supported {
		out[i] = display.Regions(tag)
	}
	return out
}()

// CountryName is the name of a country code in the printer's language ("DE" is "Germany",
// "Deutschland", "Allemagne", "Alemania", "Alemanha", "ドイツ"), or the code itself when it is
// not a country x/text knows.
func (p *Printer) CountryName(code string) string {
	if code == "" {
		return ""
	}
	r, err := language.ParseRegion(code)
	if err != nil || !r.IsCountry() {
		return code
	}
	if name := regionNamers[p.idx].Name(r); name != "" {
		return name
	}
	return code
}

// Countries returns the given codes with their names in the printer's language, sorted by name
// in the language's collation order. It builds a new slice on every call: callers cache it.
func (p *Printer) Countries(codes []string) []Country {
	list := make([]Country, 0, len(codes))
	for _, c := range codes {
		list = append(list, Country{c, p.CountryName(c)})
	}
	col := collate.New(p.tag)
	slices.SortStableFunc(list, func(a, b Country) int { return col.CompareString(a.Name, b.Name) })
	return list
}

// addressCodes are the countries an address form offers: every ISO 3166-1 alpha-2 code an
// account's address accepts, less the withdrawn ones (DD, YU, UK, TP: they would repeat a current
// country's name or show a bare code) and the groupings UN and EZ.
var addressCodes = sync.OnceValue(func() []string {
	var out []string
	en := NewPrinter(English)
	for a := 'A'; a <= 'Z'; a++ {
		for b := 'A'; b <= 'Z'; b++ {
			code := string([]rune{a, b})
			if !ValidCountry(code) || code == "UN" || code == "EZ" {
				continue
			}
			r, _ := language.ParseRegion(code)
			if r.Canonicalize().String() != code || en.CountryName(code) == code {
				continue
			}
			out = append(out, code)
		}
	}
	return out
})

// addressLists are AddressCountries of each supported language, made on first use.
var addressLists = func() []func() []Country {
	out := make([]func() []Country, len(Supported))
	for i := range Supported {
		out[i] = sync.OnceValue(func() []Country { return printers[i].Countries(addressCodes()) })
	}
	return out
}()

// AddressCountries returns the countries an address form offers (each current ISO 3166-1 country
// once), named in the printer's language and sorted as the language sorts. The slice is shared:
// callers must not modify it.
func (p *Printer) AddressCountries() []Country { return addressLists[p.idx]() }

// Duration says a duration in words in the printer's language, at most two units, rounded to
// the minute: "1 hour", "2 days 3 hours", "45 Minuten"; under a minute "less than a minute".
func (p *Printer) Duration(d time.Duration) string {
	if d < time.Minute {
		return p.T("duration.lessThanMinute")
	}
	d = d.Round(time.Minute)
	units := [...]struct {
		d   time.Duration
		key string
	}{{24 * time.Hour, "duration.days"}, {time.Hour, "duration.hours"}, {time.Minute, "duration.minutes"}}
	var parts []string
	for _, u := range units {
		if n := int64(d / u.d); n > 0 && len(parts) < 2 {
			parts = append(parts, p.T(u.key, "count", n))
			d -= time.Duration(n) * u.d
		} else if len(parts) > 0 {
			break // "1 day 5 minutes" reads oddly: stop at the first gap
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return p.T("duration.pair", "first", parts[0], "second", parts[1])
}
