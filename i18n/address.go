package i18n

import "strings"

// Address is a postal address as AddressLines writes it (account.Address converts to it).
type Address struct {
	Line1, Line2 string
	City         string
	PostalCode   string
	Region       string
	// Country is an ISO 3166-1 alpha-2 code.
	Country string
}

// usStyle are the countries whose addresses end "City, Region PostalCode".
var usStyle = map[string]bool{"US": true, "CA": true, "AU": true}

// AddressLines returns the lines of a postal address: street lines, the locality line in the
// country's usual order and the country's name in the printer's language. The Billing information
// section and invoices both write addresses with it.
func (p *Printer) AddressLines(ad Address) []string {
	var lines []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			lines = append(lines, s)
		}
	}
	add(ad.Line1)
	add(ad.Line2)
	switch {
	case usStyle[ad.Country]:
		locality := ad.City
		if ad.Region != "" {
			if locality != "" {
				locality += ", "
			}
			locality += ad.Region
		}
		add(locality + " " + ad.PostalCode)
	case ad.Country == "GB" || ad.Country == "IE":
		add(ad.City)
		add(ad.Region)
		add(ad.PostalCode)
	default:
		add(ad.PostalCode + " " + ad.City)
	}
	add(p.CountryName(ad.Country))
	return lines
}
