package usage

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/tenants/account"
)

// The chart of a meter: daily usage this period against the previous one, as SVG drawn on the
// server (no script; the page's CSP allows none). Days are aligned by their place in the period
// (the 3rd day of this period above the 3rd of the previous), so periods of different lengths
// compare. It reads without colour: this period is a solid line with a round marker on every
// day, the previous one a dashed line without markers, both drawn in currentColor and grey so
// that forced colours keep them apart by pattern. The SVG has role="img", a <title> and a <desc>
// that say what it shows and its scale; the numbers are in a table behind it (a <details>).
// The viewBox scales to the card's width (360 px phones to desktops) and the strokes keep their
// width (vector-effect: non-scaling-stroke); its texts are HTML around it, so they never shrink.

// Chart geometry, in viewBox units.
const (
	chartW, chartH = 600, 200
	chartPad       = 10
)

type chart struct {
	TitleID, DescID, Title, Desc string
	SVG                          template.HTML
	Current, Previous            string // the legend's texts
	Scale                        string
	Caption                      string
	Rows                         []chartRow
	HasPrevious                  bool
}

type chartRow struct {
	Day                                    string
	Date, Quantity, PrevDate, PrevQuantity string
}

// point is one day of a series: its place in its period and quantity.
type point struct {
	day  int
	date account.Date
	q    int64
}

func points(series []account.DailyUsage, start account.Date) []point {
	t0, _ := start.Time()
	out := make([]point, 0, len(series))
	for _, d := range series {
		t, _ := d.Date.Time()
		out = append(out, point{int(t.Sub(t0) / (24 * time.Hour)), d.Date, d.Quantity})
	}
	return out
}

func newChart(tr *i18n.Printer, loc string, s *account.Subscription, it *account.Item, id string) *chart {
	m := it.Meter
	cur := points(m.Daily, s.CurrentPeriodStart)
	var prev []point
	if m.PreviousPeriodStart != "" {
		prev = points(m.PreviousDaily, m.PreviousPeriodStart)
	}
	if len(cur) == 0 && len(prev) == 0 {
		return nil
	}
	lo, hi, top := -1, 0, int64(1)
	for _, p := range append(append([]point(nil), cur...), prev...) {
		if lo < 0 || p.day < lo {
			lo = p.day
		}
		hi = max(hi, p.day)
		top = max(top, p.q)
	}
	unit := it.MeterUnit()
	date := func(d account.Date) string { return i18n.Date(d.Civil(), loc) }
	span := func(ps []point) string {
		if len(ps) == 0 {
			return tr.T("usage.chart.noData")
		}
		return tr.T("usage.period", "start", date(ps[0].date), "end", date(ps[len(ps)-1].date))
	}
	c := &chart{TitleID: id + "-chart-title", DescID: id + "-chart-desc",
		Title:   tr.T("usage.chart.title", "meter", m.Name),
		Current: tr.T("usage.chart.current", "span", span(cur)), Previous: tr.T("usage.chart.previous", "span", span(prev)),
		Scale:       tr.T("usage.chart.scale", "max", i18n.Quantity(top, unit, loc)),
		Caption:     tr.T("usage.table.caption", "meter", m.Name),
		HasPrevious: len(prev) > 0,
	}
	c.Desc = tr.T("usage.chart.desc", "current", span(cur), "previous", span(prev), "max", i18n.Quantity(top, unit, loc))
	x := func(day int) float64 {
		if hi == lo {
			return chartW / 2
		}
		return chartPad + float64(day-lo)*(chartW-2*chartPad)/float64(hi-lo)
	}
	y := func(q int64) float64 { return chartH - chartPad - float64(q)*(chartH-2*chartPad)/float64(top) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="usage-chart-svg" viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMidYMid meet" role="img" aria-labelledby="%s" aria-describedby="%s" focusable="false">`,
		chartW, chartH, c.TitleID, c.DescID)
	fmt.Fprintf(&b, `<title id="%s">%s</title><desc id="%s">%s</desc>`, c.TitleID, template.HTMLEscapeString(c.Title), c.DescID, template.HTMLEscapeString(c.Desc))
	// The axis and the top of the scale.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#6b7280" stroke-width="1" vector-effect="non-scaling-stroke"/>`, chartPad, chartH-chartPad, chartW-chartPad, chartH-chartPad)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#6b7280" stroke-width="1" stroke-dasharray="2 4" vector-effect="non-scaling-stroke"/>`, chartPad, chartPad, chartW-chartPad, chartPad)
	poly := func(class string, ps []point, attrs string) {
		if len(ps) == 0 {
			return
		}
		fmt.Fprintf(&b, `<polyline class="%s" fill="none" %s vector-effect="non-scaling-stroke" stroke-linejoin="round" points="`, class, attrs)
		for i, p := range ps {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(p.day), y(p.q))
		}
		b.WriteString(`"/>`)
	}
	poly("usage-previous", prev, `stroke="#6b7280" stroke-width="2" stroke-dasharray="6 4"`)
	poly("usage-current", cur, `stroke="currentColor" stroke-width="2.5"`)
	if len(cur) > 0 {
		b.WriteString(`<g class="usage-current-markers" fill="currentColor">`)
		for _, p := range cur {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4"/>`, x(p.day), y(p.q))
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	c.SVG = html(b.String())

	// The table: one row per day of the period that either series has.
	ci, pi := 0, 0
	for ci < len(cur) || pi < len(prev) {
		day := -1
		switch {
		case ci < len(cur) && (pi >= len(prev) || cur[ci].day <= prev[pi].day):
			day = cur[ci].day
		default:
			day = prev[pi].day
		}
		r := chartRow{Day: tr.T("usage.table.day", "n", day+1)}
		if ci < len(cur) && cur[ci].day == day {
			r.Date, r.Quantity = date(cur[ci].date), i18n.Number(cur[ci].q, loc)
			ci++
		}
		if pi < len(prev) && prev[pi].day == day {
			r.PrevDate, r.PrevQuantity = date(prev[pi].date), i18n.Number(prev[pi].q, loc)
			pi++
		}
		c.Rows = append(c.Rows, r)
	}
	return c
}

func mustTime(d account.Date) time.Time {
	t, _ := d.Time()
	return t
}
