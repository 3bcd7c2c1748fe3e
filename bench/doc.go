// Package bench is Portico's load benchmark suite: it measures the customer page against the
// physical limit of its own stack (a fasthttp server returning the same bytes from memory) and
// against what a Go team would otherwise write (net/http + html/template), and measures the other
// high-traffic workloads — link redemption, session creation, cold page views, memory with many
// tenants — on this machine, side by side in one run.
//
// Everything is driven by bench/run.sh (`make bench`), which builds the binaries, pins each server
// to core 0 with GOMAXPROCS=1 and the load generator to core 1, runs every row with a warm-up and
// at least three measured runs, and writes bench/RESULTS.md.
// bench/scale.sh (`make bench-scale`, about 30 minutes) loads 1,000,000 accounts across 10,000
// tenants and writes bench/SCALE.md: loading time, etcd size, the gateway's RSS with the default
// account cache, page rates of a cached and of uncached accounts.
//
// Layout:
//
//	bench/hist                a log-linear latency histogram (HDR-style, < 1% value error)
//	bench/load                the load engine on fasthttp's HostClient: workloads, phases, results
//	bench/cmd/loadgen         the command run.sh drives: load runs, data preparation, RSS, the report
//	bench/cmd/staticserver    the limit: fasthttp returning a captured Portico page from memory
//	bench/cmd/nethttpserver   the usual alternative: net/http + html/template, rendered per request
//	bench/cmd/sourceserver    a tenant backend answering GET /accounts/{id} for the source-mode rows
//
// The package itself holds no code; it exists for this documentation.
package bench
