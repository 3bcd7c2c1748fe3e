package gateway

import (
	"context"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Readiness is what /readyz asks of the data layer. *tenants.Store is one.
type Readiness interface {
	Ping(ctx context.Context) error
	CheckSpace(ctx context.Context) (full bool, err error)
	Watching() bool
}

// StoreStats are the figures of the data layer StoreCollectors reads at scrape time.
// *tenants.Store is one.
type StoreStats interface {
	Watching() bool
	StorageFull() bool
	Tenants() []*tenants.Tenant
	CacheStats() (hits, misses uint64)
}

var (
	_ Readiness  = (*tenants.Store)(nil)
	_ StoreStats = (*tenants.Store)(nil)
)

// AdminHandler serves the operator endpoints on the admin listener (never on the public one):
//
//	/metrics          Prometheus metrics
//	/healthz          200 while the process serves
//	/readyz           200 when etcd answers, has room for writes (no NOSPACE alarm) and the watch
//	                  keeps the caches fresh, else 503 with the reason
//	/debug/pprof/...  Go profiles
func AdminHandler(gatherer prometheus.Gatherer, store Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			http.Error(w, "etcd: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if full, _ := store.CheckSpace(ctx); full {
			http.Error(w, "etcd storage is full (NOSPACE alarm): writes are refused; run portico etcd maintenance", http.StatusServiceUnavailable)
			return
		}
		if !store.Watching() {
			http.Error(w, "watch down: caches may be stale", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// StoreCollectors are gauges read from the store at scrape time.
func StoreCollectors(store StoreStats) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_store_watching", Help: "1 while the etcd watch keeps the caches fresh.",
		}, func() float64 {
			if store.Watching() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_etcd_storage_full", Help: "1 while etcd's NOSPACE alarm is raised: every write is refused until `portico etcd maintenance`.",
		}, func() float64 {
			if store.StorageFull() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "portico_tenants", Help: "Tenants in the in-memory index.",
		}, func() float64 { return float64(len(store.Tenants())) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portico_account_cache_hits_total", Help: "Account snapshot cache hits.",
		}, func() float64 { h, _ := store.CacheStats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "portico_account_cache_misses_total", Help: "Account snapshot cache misses.",
		}, func() float64 { _, m := store.CacheStats(); return float64(m) }),
	}
}
