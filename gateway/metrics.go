package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Route classes for metrics: few, fixed, so every counter is resolved once at start-up and the
// request path only increments (no label lookups, no allocations).
const (
	classPage = iota
	classRedeem
	classAction
	classAsset
	classAPI
	classUnknownHost
	classDashboard
	numClasses
)

var classNames = [numClasses]string{"page", "redeem", "action", "asset", "api", "unknown_host", "dashboard"}

var codeClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// Metrics are the gateway's Prometheus metrics.
type Metrics struct {
	requests  [numClasses][len(codeClasses)]prometheus.Counter
	durations [numClasses]prometheus.Observer
	pageCache [2]prometheus.Counter // miss, hit
	redeems   map[string]prometheus.Counter
	degraded  prometheus.Gauge
}

// Redemption results counted by portico_link_redemptions_total.
const (
	redeemOK       = "ok"
	redeemUsed     = "used"
	redeemExpired  = "expired"
	redeemNotFound = "not_found"
	redeemError    = "error"
)

// NewMetrics registers the gateway's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{redeems: map[string]prometheus.Counter{}}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_http_requests_total", Help: "HTTP requests by route class and status class.",
	}, []string{"class", "code"})
	durs := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portico_http_request_duration_seconds", Help: "Time to handle a request, by route class.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"class"})
	pages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_page_cache_lookups_total", Help: "Customer page lookups in the rendered-page cache.",
	}, []string{"result"})
	redeems := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portico_link_redemptions_total", Help: "Portal link redemptions by result.",
	}, []string{"result"})
	m.degraded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "portico_degraded", Help: "1 while the store's watch is down and pages are served from cache.",
	})
	reg.MustRegister(reqs, durs, pages, redeems, m.degraded)
	for c := range numClasses {
		for i, code := range codeClasses {
			m.requests[c][i] = reqs.WithLabelValues(classNames[c], code)
		}
		m.durations[c] = durs.WithLabelValues(classNames[c])
	}
	m.pageCache[0], m.pageCache[1] = pages.WithLabelValues("miss"), pages.WithLabelValues("hit")
	for _, r := range []string{redeemOK, redeemUsed, redeemExpired, redeemNotFound, redeemError} {
		m.redeems[r] = redeems.WithLabelValues(r)
	}
	return m
}

// observe records one request. It does not allocate.
func (m *Metrics) observe(class int, ctx *fasthttp.RequestCtx, start time.Time) {
	if m == nil {
		return
	}
	code := ctx.Response.StatusCode()/100 - 1
	if code < 0 || code >= len(codeClasses) {
		code = len(codeClasses) - 1
	}
	m.requests[class][code].Inc()
	m.durations[class].Observe(time.Since(start).Seconds())
}

func (m *Metrics) pageLookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.pageCache[1].Inc()
	} else {
		m.pageCache[0].Inc()
	}
}

func (m *Metrics) redeemed(result string) {
	if m != nil {
		m.redeems[result].Inc()
	}
}
