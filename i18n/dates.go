package i18n

import (
	"strconv"
	"time"
)

// months holds the abbreviated month names as CLDR writes them in a medium date.
var months = [numLangs][12]string{
	langEN: {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"},
	langDE: {"Jan.", "Feb.", "März", "Apr.", "Mai", "Juni", "Juli", "Aug.", "Sept.", "Okt.", "Nov.", "Dez."},
	langFR: {"janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."},
	langES: {"ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov", "dic"},
	langPT: {"jan.", "fev.", "mar.", "abr.", "mai.", "jun.", "jul.", "ago.", "set.", "out.", "nov.", "dez."},
	// Japanese dates are numeric; the table is unused.
}

// CivilDate is a calendar date without a time of day or a zone (an account document's dates,
// converted by account.Date.Civil). The zero value is no date.
type CivilDate struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the calendar date of t in t's location.
func DateOf(t time.Time) CivilDate {
	y, m, d := t.Date()
	return CivilDate{y, m, d}
}

// valid reports whether d is a date of the calendar (not the zero value, not February 30).
func (d CivilDate) valid() bool {
	if d.Month < time.January || d.Month > time.December || d.Day < 1 || d.Year < 0 || d.Year > 9999 {
		return false
	}
	y, m, day := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Date()
	return y == d.Year && m == d.Month && day == d.Day
}

// Date formats a calendar date in the locale's medium style: "Jan 1, 2027" (en, en-US),
// "1 Jan 2027" (en-GB and other day-first English regions), "1. Jan. 2027" (de), "1 janv. 2027" (fr),
// "1 ene 2027" (es), "1 de jan. de 2027" (pt), "2027年1月1日" (ja). The zero or an invalid date
// gives "".
func Date(d CivilDate, locale string) string {
	if !d.valid() {
		return ""
	}
	m := d.Month
	ys, ds := strconv.Itoa(d.Year), strconv.Itoa(d.Day)
	l := resolve(locale)
	mon := months[l.lang][m-1]
	switch l.lang {
	case langDE:
		return ds + ". " + mon + " " + ys
	case langFR, langES:
		return ds + " " + mon + " " + ys
	case langPT:
		return ds + " de " + mon + " de " + ys
	case langJA:
		return ys + "年" + strconv.Itoa(int(m)) + "月" + ds + "日"
	}
	if l.dayFirst {
		return ds + " " + mon + " " + ys
	}
	return mon + " " + ds + ", " + ys
}
