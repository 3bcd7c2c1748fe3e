package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// median of the values (0 for none).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// summary is the median of each metric of a row's runs.
type summary struct {
	runs                           []record
	rps, p50, p99, p999, bytes     float64
	errors, requests               uint64
	sortedRPS                      []float64
	failedChecks                   []string
	cacheMissesPerReq, pageMissPct float64
	// sourceFetches and sourceRevalidations are the source's 200 and 304 answers per measured
	// request (source-mode rows: sourceserver's counters).
	sourceFetches, sourceRevalidations float64
	serverCPU, clientCPU               float64
	// perCPU is the median of requests per CPU-second of the server; otherServer and otherClient
	// the median share of the server's and client's core other processes used (-1: unknown).
	perCPU, otherServer, otherClient float64
	// quiet is the run with the least foreign load on the server's core.
	quiet *record
}

func summarize(recs []record, row string) *summary {
	s := &summary{}
	var rps, p50, p99, p999, bytes, scpu, ccpu, per, oSrv, oCli []float64
	var miss, pm, pl, sf, sr float64
	for _, r := range recs {
		if r.Kind != "run" || r.Row != row || r.Result == nil {
			continue
		}
		s.runs = append(s.runs, r)
		rps, p50, p99, p999, bytes = append(rps, r.RPS), append(p50, r.P50), append(p99, r.P99), append(p999, r.P999), append(bytes, r.BytesPerRequest)
		scpu, ccpu = append(scpu, r.ServerCPU), append(ccpu, r.ClientCPU)
		if r.ServerCPU > 0 {
			per = append(per, r.RPS/r.ServerCPU)
		}
		oSrv, oCli = append(oSrv, r.OtherOnServerCore), append(oCli, r.OtherOnClientCore)
		s.errors += r.Errors
		s.requests += r.Requests
		for _, c := range r.Checks {
			if strings.HasPrefix(c, "FAIL") {
				s.failedChecks = append(s.failedChecks, c)
			}
		}
		miss += r.Metrics["portico_account_cache_misses_total"]
		sf += r.Metrics[`sourceserver_answers_total{status="200"}`]
		sr += r.Metrics[`sourceserver_answers_total{status="304"}`]
		pm += r.Metrics[`portico_page_cache_lookups_total{result="miss"}`]
		pl += r.Metrics[`portico_page_cache_lookups_total{result="miss"}`] + r.Metrics[`portico_page_cache_lookups_total{result="hit"}`]
	}
	if len(s.runs) == 0 {
		return nil
	}
	s.rps, s.p50, s.p99, s.p999, s.bytes = median(rps), median(p50), median(p99), median(p999), median(bytes)
	s.serverCPU, s.clientCPU = median(scpu), median(ccpu)
	s.perCPU, s.otherServer, s.otherClient = median(per), median(oSrv), median(oCli)
	for i := range s.runs {
		if s.quiet == nil || s.runs[i].OtherOnServerCore < s.quiet.OtherOnServerCore {
			s.quiet = &s.runs[i]
		}
	}
	s.sortedRPS = append([]float64(nil), rps...)
	sort.Float64s(s.sortedRPS)
	if s.requests > 0 {
		s.cacheMissesPerReq = miss / float64(s.requests)
		s.sourceFetches, s.sourceRevalidations = sf/float64(s.requests), sr/float64(s.requests)
	}
	if pl > 0 {
		s.pageMissPct = 100 * pm / pl
	}
	return s
}

func notes(recs []record) map[string]string {
	m := map[string]string{}
	for _, r := range recs {
		if r.Kind == "note" {
			m[r.Key] = r.Value
		}
	}
	return m
}

func cmdCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	in := fs.String("in", "", "results file")
	row := fs.String("row", "", "row")
	minRPS := fs.Float64("min-rps", 0, "fail below this median requests/s")
	vs := fs.String("vs", "", "compare with this row's median")
	minRatio := fs.Float64("min-ratio", 0, "fail if row/vs is below this")
	maxP99 := fs.Float64("max-p99-us", 0, "fail if the median p99 is above this (µs)")
	fs.Parse(args)
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	s := summarize(recs, *row)
	if s == nil {
		return fmt.Errorf("no runs of %s", *row)
	}
	if *minRPS > 0 && s.rps < *minRPS {
		return fmt.Errorf("%s: %.0f req/s < %.0f", *row, s.rps, *minRPS)
	}
	if *maxP99 > 0 && s.p99 > *maxP99 {
		return fmt.Errorf("%s: p99 %.0f µs > %.0f", *row, s.p99, *maxP99)
	}
	if *vs != "" {
		o := summarize(recs, *vs)
		if o == nil {
			return fmt.Errorf("no runs of %s", *vs)
		}
		if s.rps/o.rps < *minRatio {
			return fmt.Errorf("%s/%s = %.2f < %.2f", *row, *vs, s.rps/o.rps, *minRatio)
		}
	}
	return nil
}

// cmdRSS appends the memory of a process (from /proc/<pid>/status) and, when given, its Go heap
// (from /metrics) as notes mem.<stage>.*.
func cmdRSS(args []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	metricsURL := fs.String("metrics", "", "/metrics URL of the process (optional)")
	stage := fs.String("stage", "", "stage name")
	out := fs.String("out", "", "results file")
	fs.Parse(args)
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", *pid))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "RssAnon" && k != "RssFile" && k != "VmHWM") {
			continue
		}
		kb := strings.TrimSuffix(strings.TrimSpace(v), " kB")
		fmt.Printf("%s %s: %s kB\n", *stage, k, kb)
		if err := appendRecord(*out, &record{Kind: "note", Key: "mem." + *stage + "." + k, Value: kb}); err != nil {
			return err
		}
	}
	if *metricsURL != "" {
		if m, err := scrape(*metricsURL); err == nil {
			for _, k := range []string{"go_memstats_heap_inuse_bytes", "go_memstats_sys_bytes", "portico_account_cache_hits_total", "portico_account_cache_misses_total"} {
				if v, ok := m[k]; ok {
					fmt.Printf("%s %s: %.0f\n", *stage, k, v)
					appendRecord(*out, &record{Kind: "note", Key: "mem." + *stage + "." + k, Value: strconv.FormatFloat(v, 'f', 0, 64)})
				}
			}
		}
	}
	return sc.Err()
}

// rowSpec is one line of the results table.
type rowSpec struct {
	row, workload, contestant string
}

var tableRows = []rowSpec{
	{"page/limit", "customer page", "fasthttp, Portico's page bytes from memory (the limit)"},
	{"page/nethttp", "customer page", "net/http + html/template + in-memory sessions"},
	{"page/portico", "customer page", "**Portico** (embedded etcd, metrics on)"},
	{"redeem/portico", "link redemption (303 + cookie)", "Portico"},
	{"create/portico", "session creation (API, 201)", "Portico"},
	{"cold/portico", "customer page, cold account (cache miss)", "Portico"},
	{"source-cold/portico", "customer page, source mode, uncached account (a signed GET to the tenant's backend, then render)", "Portico + sourceserver (backend on the load core)"},
	{"source-warm/portico", "customer page, source mode, cached accounts within the TTL", "Portico + sourceserver (backend on the load core)"},
	{"https/portico", "customer page over HTTPS, kept-alive", "Portico"},
	{"https/nginx", "customer page over HTTPS, kept-alive", "nginx, one process, the page's bytes as a static file"},
	{"handshakes/portico", "full TLS handshake + page, new connection each", "Portico"},
}

func fmtInt(f float64) string {
	s := strconv.FormatFloat(f, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtLat(us float64) string {
	if us >= 1000 {
		return strconv.FormatFloat(us/1000, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(us, 'f', 0, 64) + " µs"
}

func noteKB(n map[string]string, key string) (float64, bool) {
	v, ok := n[key]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	in := fs.String("in", "", "results file")
	micro := fs.String("micro", "", "output of the Go micro-benchmarks")
	out := fs.String("out", "RESULTS.md", "report to write")
	command := fs.String("cmd", "make bench", "the command that produced the results")
	goVersion := fs.String("go", runtime.Version(), "go version")
	elapsed := fs.Float64("elapsed", 0, "seconds the whole run took so far")
	fs.Parse(args)
	recs, err := readRecords(*in)
	if err != nil {
		return err
	}
	n := notes(recs)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# Portico benchmark results\n\n")
	p("Generated by `%s` (bench/run.sh) on %s", *command, time.Now().UTC().Format("2006-01-02 15:04 MST"))
	if *elapsed > 0 {
		p("; the whole run took %.0f s", *elapsed)
	}
	p(".\n\n")
	p("## Machine\n\n")
	cpu, cores := cpuInfo()
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	p("| | |\n|---|---|\n| CPU | %s |\n| cores | %d |\n| Go | %s |\n| kernel | %s |\n", cpu, cores, strings.TrimPrefix(*goVersion, "go version "), strings.TrimSpace(string(kernel)))
	for _, k := range []string{"portico.version", "nginx.version", "loadavg.start", "loadavg.end"} {
		if v, ok := n[k]; ok {
			p("| %s | %s |\n", k, v)
		}
	}
	p("\n")
	p("Set-up: every server under test runs pinned to core 0 (`taskset -c 0`, `GOMAXPROCS=1`; Portico's embedded etcd shares that core), ")
	p("the load generator (bench/cmd/loadgen, fasthttp HostClient, one worker per connection) pinned to core 1. ")
	p("Every row: the same 64 connections, a warm-up whose numbers are discarded, then %s measured runs; the table shows the median of each column across runs. ", runsWord(recs))
	p("Latency is per request from the client (log-linear histogram, < 1 %% error); bytes/request are the bytes read from the socket (status line, headers, body). ")
	p("CPU server / client is the median CPU time each side used over the measured phase, in cores (1.00 = its core fully busy); ")
	p("*per server CPU-second* is requests/s divided by the server's CPU use, which stays comparable when other processes take part of a core; ")
	p("*other processes* is how much of each pinned core everything else on the machine used meanwhile (from /proc/stat). ")
	p("Other work sharing this machine during the run adds noise: `loadavg` above.")
	if v, ok := n["settings.limits"]; ok {
		p(" %s.", v)
	}
	p("\n\n")

	p("## Results\n\n")
	p("| workload | contestant | requests/s | per server CPU-second | p50 | p99 | p99.9 | bytes/request | errors | vs limit: requests/s; per CPU-second | CPU server / client | other processes on server / client core |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	limit := summarize(recs, "page/limit")
	for _, rs := range tableRows {
		s := summarize(recs, rs.row)
		if s == nil {
			reason := n["notmeasured."+rs.row]
			if reason == "" {
				reason = "not measured"
			}
			p("| %s | %s | %s | | | | | | | | | |\n", rs.workload, rs.contestant, reason)
			continue
		}
		ratio := ""
		if strings.HasPrefix(rs.row, "page/") && limit != nil {
			ratio = fmt.Sprintf("%.0f %%; %.0f %%", 100*s.rps/limit.rps, 100*s.perCPU/limit.perCPU)
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %d | %s | %.2f / %.2f | %s / %s |\n", rs.workload, rs.contestant, fmtInt(s.rps), fmtInt(s.perCPU), fmtLat(s.p50), fmtLat(s.p99), fmtLat(s.p999), fmtInt(s.bytes), s.errors, ratio, s.serverCPU, s.clientCPU, share(s.otherServer), share(s.otherClient))
	}
	memRow(&b, n)
	p("\n1,000,000 accounts across 10,000 tenants (loading time, etcd size, gateway RSS with the default account cache, page rates of a cached and of uncached accounts) take longer than this run may: `make bench-scale` measures them and writes [SCALE.md](SCALE.md).\n")
	p("\n")

	// Targets.
	p("## Targets of the benchmark issue\n\n| target | measured | status |\n|---|---|---|\n")
	portico, nethttp := summarize(recs, "page/portico"), summarize(recs, "page/nethttp")
	target := func(name, measured string, met bool, miss string) {
		st := "**met**"
		if !met {
			st = "**missed**: " + miss
		}
		p("| %s | %s | %s |\n", name, measured, st)
	}
	if portico != nil && limit != nil {
		r, rc := portico.rps/limit.rps, portico.perCPU/limit.perCPU
		miss := fmt.Sprintf("by %.1f points: %s req/s more needed (%.0f %% more)", 100*(0.7-r), fmtInt(0.7*limit.rps-portico.rps), 100*(0.7*limit.rps/portico.rps-1))
		if rc >= 0.7 {
			miss += fmt.Sprintf(" — per server CPU-second it is %.0f %% of the limit, so the gap in requests/s is CPU the server did not get (other processes used %s of its core), not work it did", 100*rc, share(portico.otherServer))
		}
		target("customer page ≥ 70 % of the fasthttp static-bytes limit", fmt.Sprintf("%.1f %% (%s of %s req/s); per server CPU-second %.1f %%", 100*r, fmtInt(portico.rps), fmtInt(limit.rps), 100*rc), r >= 0.7, miss)
	}
	if portico != nil && nethttp != nil {
		r, rc := portico.rps/nethttp.rps, portico.perCPU/nethttp.perCPU
		target("customer page ≥ 2× net/http + html/template", fmt.Sprintf("%.2f× (%s vs %s req/s); per server CPU-second %.2f×", r, fmtInt(portico.rps), fmtInt(nethttp.rps), rc), r >= 2,
			fmt.Sprintf("by %.2f×: %s req/s more needed", 2-r, fmtInt(2*nethttp.rps-portico.rps)))
	}
	if portico != nil {
		m := fmtLat(portico.p99) + " (median of runs)"
		if q := portico.quiet; q != nil && len(portico.runs) > 1 {
			m += fmt.Sprintf("; %s in the run with the least foreign load on the server core (%s)", fmtLat(q.P99), share(q.OtherOnServerCore))
		}
		target("customer page p99 ≤ 5 ms at 64 connections", m, portico.p99 <= 5000, fmt.Sprintf("by %s", fmtLat(portico.p99-5000)))
	}
	for _, t := range []struct{ row, name string }{{"redeem/portico", "token redemption ≥ 2,000/s (one embedded etcd member)"}, {"create/portico", "session creation ≥ 2,000/s (one embedded etcd member)"}} {
		if s := summarize(recs, t.row); s != nil {
			m := fmt.Sprintf("%s/s", fmtInt(s.rps))
			if len(s.failedChecks) > 0 {
				m += " — " + strings.Join(s.failedChecks, "; ")
			}
			m += fmt.Sprintf("; per server CPU-second %s", fmtInt(s.perCPU))
			miss := fmt.Sprintf("by %s/s (%.0f %%)", fmtInt(2000-s.rps), 100*(1-s.rps/2000))
			if s.perCPU >= 2000 && s.serverCPU+max(0, s.otherServer) >= 0.9 {
				miss += fmt.Sprintf(" — its core was full but Portico got only %.2f of it (other processes %s); per server CPU-second the rate is %s/s", s.serverCPU, share(s.otherServer), fmtInt(s.perCPU))
			}
			target(t.name, m, s.rps >= 2000 && len(s.failedChecks) == 0 && s.errors == 0, miss)
		}
	}
	if pt, ng := summarize(recs, "https/portico"), summarize(recs, "https/nginx"); pt != nil && ng != nil {
		r, rc := pt.rps/ng.rps, pt.perCPU/ng.perCPU
		target("HTTPS page, kept alive, at least as fast as nginx serving the same bytes over TLS", fmt.Sprintf("%.2f× (%s vs %s req/s); per server CPU-second %.2f× (%s vs %s)", r, fmtInt(pt.rps), fmtInt(ng.rps), rc, fmtInt(pt.perCPU), fmtInt(ng.perCPU)),
			rc >= 1, fmt.Sprintf("per server CPU-second by %.0f %%", 100*(1-rc)))
	}
	if rss, label, ok := memTarget(n); ok {
		target("gateway RSS ≤ 300 MB with 10,000 tenants and 100,000 accounts cached", label, rss <= 300, fmt.Sprintf("by %.0f MB (%.0f %%)", rss-300, 100*(rss/300-1)))
	}
	microOut := ""
	if *micro != "" {
		mb, _ := os.ReadFile(*micro)
		microOut = string(mb)
		for _, line := range strings.Split(microOut, "\n") {
			f := strings.Fields(line)
			if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkCustomerPage/handler/cached-") {
				continue
			}
			ns, allocs := -1.0, -1.0
			for i := 1; i < len(f); i++ {
				switch f[i] {
				case "ns/op":
					ns = atof(f[i-1])
				case "allocs/op":
					allocs = atof(f[i-1])
				}
			}
			if allocs >= 0 {
				target("0 allocs/op on the cached page path (micro-benchmark)", fmt.Sprintf("%.0f allocs/op", allocs), allocs == 0, fmt.Sprintf("%.0f allocs/op", allocs))
			}
			if ns >= 0 {
				target("≤ 2 µs CPU per cached page view (`BenchmarkCustomerPage/handler/cached`, one core)", fmt.Sprintf("%.2f µs", ns/1000), ns <= 2000, fmt.Sprintf("by %.2f µs (%.0f %%)", (ns-2000)/1000, 100*(ns/2000-1)))
			}
		}
	}
	p("\n")

	// Checks and notes.
	p("## Checks\n\n")
	for _, row := range []string{"redeem/portico", "cold/portico"} {
		s := summarize(recs, row)
		if s == nil {
			continue
		}
		for _, r := range s.runs {
			for _, c := range r.Checks {
				p("- %s run %d: %s\n", row, r.Run, c)
			}
		}
		if row == "cold/portico" {
			p("- cold/portico: account-cache misses per measured request %.2f (from Portico's `portico_account_cache_misses_total`; a miss counts twice: the page handler's cache lookup, then `Store.Account`'s before it reads etcd), rendered-page cache misses %.0f %% of page lookups — every measured request loaded its account from etcd and rendered the page.\n", s.cacheMissesPerReq, s.pageMissPct)
		}
	}
	if s := summarize(recs, "source-cold/portico"); s != nil {
		p("- source-cold/portico: the source answered %.2f documents (200) and %.2f revalidations (304) per measured request, account-cache misses per request %.2f, rendered-page cache misses %.0f %% of page lookups (sourceserver's and Portico's counters) — every measured view fetched its account from the tenant's backend and rendered the page.\n", s.sourceFetches, s.sourceRevalidations, s.cacheMissesPerReq, s.pageMissPct)
	}
	if s := summarize(recs, "source-warm/portico"); s != nil {
		p("- source-warm/portico: the source answered %.4f documents and %.4f revalidations per measured request (0 within the TTL), account-cache misses per request %.4f, rendered-page cache misses %.1f %% of page lookups.\n", s.sourceFetches, s.sourceRevalidations, s.cacheMissesPerReq, s.pageMissPct)
	}
	if m0, ok := noteKB(n, "mem.warm.portico_account_cache_misses_total"); ok {
		if m1, ok := noteKB(n, "mem.recheck.portico_account_cache_misses_total"); ok {
			h0, _ := noteKB(n, "mem.warm.portico_account_cache_hits_total")
			h1, _ := noteKB(n, "mem.recheck.portico_account_cache_hits_total")
			p("- memory: after warming, re-reading every 20th account hit the account cache %.0f times and missed %.0f times (misses must be 0: every account stayed cached).\n", h1-h0, m1-m0)
		}
	}
	if v, ok := n["redeem.racecheck"]; ok {
		p("- redemption race: %s\n", v)
	}
	for _, k := range sortedKeys(n, "api.", "scale.") {
		p("- %s: %s\n", k, n[k])
	}
	for _, rs := range tableRows {
		if s := summarize(recs, rs.row); s != nil && s.errors > 0 {
			for _, r := range s.runs {
				if r.Errors > 0 {
					p("- %s run %d: %d errors, statuses %v, %v\n", rs.row, r.Run, r.Errors, r.Status, r.ErrKinds)
				}
			}
		}
	}
	p("\n")

	// Profiles.
	if ks := sortedKeys(n, "profile."); len(ks) > 0 {
		p("## Profiles\n\n")
		p("Taken from Portico's admin listener (`/debug/pprof`) under the same load (an extra, unrecorded run) for the rows whose target was missed, and of the heap after the memory row. ")
		p("Each: what bounds it, computed from the profile, then its top functions.\n\n")
		for _, k := range ks {
			name := strings.TrimPrefix(k, "profile.")
			top := n[k]
			p("### %s\n\n%s\n\n```\n%s\n```\n\n", name, explain(name, top, recs, n), firstLines(top, 32))
		}
	}

	method(&b, n)

	// All runs.
	p("## Every run\n\n| row | run | requests/s | p50 | p99 | p99.9 | max | bytes/req | requests | errors | CPU server / client | other processes on server / client core | statuses |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, rs := range tableRows {
		s := summarize(recs, rs.row)
		if s == nil {
			continue
		}
		for _, r := range s.runs {
			p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %d | %.2f / %.2f | %s / %s | %s |\n", rs.row, r.Run, fmtInt(r.RPS), fmtLat(r.P50), fmtLat(r.P99), fmtLat(r.P999), fmtLat(r.Max), fmtInt(r.BytesPerRequest), fmtInt(float64(r.Requests)), r.Errors, r.ServerCPU, r.ClientCPU, share(r.OtherOnServerCore), share(r.OtherOnClientCore), statusString(r.Status))
		}
	}
	p("\n")
	if microOut != "" {
		p("## Go micro-benchmarks\n\n`go test -run '^$' -bench 'CustomerPage|Open' -benchmem ./gateway/ ./gateway/session/` (not pinned; both cores):\n\n```\n%s\n```\n\n", strings.TrimSpace(microOut))
	}
	if v, ok := n["commands"]; ok {
		p("## Commands\n\n```\n%s\n```\n", strings.TrimSpace(v))
	}
	return os.WriteFile(*out, []byte(b.String()), 0o644)
}

func runsWord(recs []record) string {
	counts := map[string]int{}
	for _, r := range recs {
		if r.Kind == "run" {
			counts[r.Row]++
		}
	}
	lo := 0
	for _, c := range counts {
		if lo == 0 || c < lo {
			lo = c
		}
	}
	if lo == 0 {
		return "no"
	}
	return fmt.Sprintf("at least %d", lo)
}

func statusString(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%s", k, fmtInt(float64(m[k]))))
	}
	return strings.Join(parts, " ")
}

func sortedKeys(m map[string]string, prefixes ...string) []string {
	var ks []string
	for k := range m {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				ks = append(ks, k)
				break
			}
		}
	}
	sort.Strings(ks)
	return ks
}

// memTarget is the RSS (MB) to judge against the target: measured at 100,000 accounts, or
// extrapolated linearly from the largest size measured.
// memSetups are the memory row's runs: the stage and note prefixes their notes use, and the
// setup they name.
var memSetups = []struct{ stage, size, etcd, name string }{
	{"", "scale.size.", "scale.etcd", "embedded etcd, default settings"},
	{"x.", "scale.x.size.", "scale.x.etcd", "external etcd, --memory-limit-mb %s"},
}

// memTarget is the RSS the target compares: the external-etcd run's when there is one (the target
// is set for a gateway with etcd on its own), else the embedded run's.
func memTarget(n map[string]string) (float64, string, bool) {
	for i := len(memSetups) - 1; i >= 0; i-- {
		m := memSetups[i]
		warm, ok := noteKB(n, "mem."+m.stage+"warm.VmRSS")
		if !ok {
			continue
		}
		setup := m.name
		if strings.Contains(setup, "%s") {
			setup = fmt.Sprintf(setup, n["scale.x.memlimit"])
		}
		accounts, _ := strconv.ParseFloat(n[m.size+"accounts"], 64)
		tenants, _ := strconv.ParseFloat(n[m.size+"tenants"], 64)
		mb := warm / 1024
		if accounts >= 100_000 && tenants >= 10_000 {
			return mb, fmt.Sprintf("%.0f MB VmRSS (measured; %s)", mb, setup), true
		}
		empty, _ := noteKB(n, "mem."+m.stage+"empty.VmRSS")
		if accounts <= 0 {
			return mb, fmt.Sprintf("%.0f MB VmRSS at an unknown size (%s)", mb, setup), true
		}
		ext := (empty + (warm-empty)*100_000/accounts) / 1024
		return ext, fmt.Sprintf("%.0f MB — **extrapolated** linearly from %.0f MB measured with %.0f tenants / %.0f accounts (%s)", ext, mb, tenants, accounts, setup), true
	}
	return 0, "", false
}

func memRow(b *strings.Builder, n map[string]string) {
	shown := false
	for _, m := range memSetups {
		warm, ok := noteKB(n, "mem."+m.stage+"warm.VmRSS")
		if !ok {
			continue
		}
		shown = true
		setup := m.name
		if strings.Contains(setup, "%s") {
			setup = fmt.Sprintf(setup, n["scale.x.memlimit"])
		}
		anon, _ := noteKB(n, "mem."+m.stage+"warm.RssAnon")
		file, _ := noteKB(n, "mem."+m.stage+"warm.RssFile")
		empty, _ := noteKB(n, "mem."+m.stage+"empty.VmRSS")
		heap, _ := strconv.ParseFloat(n["mem."+m.stage+"warm.go_memstats_heap_inuse_bytes"], 64)
		etcd := ""
		if v := n[m.etcd]; v != "" {
			etcd = "; " + v
		}
		fmt.Fprintf(b, "| memory | Portico, %s tenants / %s accounts cached, %s | RSS **%.0f MB** (anon %.0f MB + file-backed %.0f MB; Go heap in use %.0f MB; %.0f MB right after start)%s | | | | | | | | | |\n",
			fmtInt(atof(n[m.size+"tenants"])), fmtInt(atof(n[m.size+"accounts"])), setup, warm/1024, anon/1024, file/1024, heap/(1<<20), empty/1024, etcd)
	}
	if !shown {
		if r := n["notmeasured.memory"]; r != "" {
			fmt.Fprintf(b, "| memory | Portico, 10,000 tenants / 100,000 accounts cached | %s | | | | | | | | | |\n", r)
		}
	}
	if r := n["notmeasured.memory.external"]; r != "" {
		fmt.Fprintf(b, "| memory | Portico with an external etcd | %s | | | | | | | | | |\n", r)
	}
}

func atof(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }

func cpuInfo() (string, int) {
	b, _ := os.ReadFile("/proc/cpuinfo")
	model, n := "", 0
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "processor":
			n++
		}
	}
	return model, n
}

// profLine is one line of `go tool pprof -top`.
type profLine struct {
	flat, cum float64 // percent of the total
	name      string
}

// parseTop reads the lines of `go tool pprof -top` output.
func parseTop(top string) (lines []profLine, total string) {
	for _, l := range strings.Split(top, "\n") {
		if i := strings.Index(l, "% of "); i >= 0 && strings.HasPrefix(strings.TrimSpace(l), "Showing nodes") {
			total = strings.TrimSuffix(strings.TrimSpace(l[i+len("% of "):]), " total")
		}
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		flat, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cum, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		lines = append(lines, profLine{flat, cum, strings.Join(f[5:], " ")})
	}
	return lines, total
}

// categories of a CPU profile's flat time, by function name prefix (first match wins).
var categories = []struct{ name, prefixes string }{
	{"socket syscalls (kernel)", "syscall. internal/runtime/syscall/ runtime/internal/syscall. golang.org/x/sys/unix. internal/poll."},
	{"embedded etcd, gRPC, protobuf", "go.etcd.io/ google.golang.org/ golang.org/x/net/http2 github.com/grpc-ecosystem go.uber.org/"},
	{"Go runtime (scheduler, GC, memory)", "runtime. internal/runtime/ gcWriteBarrier aeshash memeqbody indexbytebody"},
	{"fasthttp", "github.com/valyala/ github.com/fasthttp/"},
	{"Portico", "github.com/portico-billing/portico/"},
	{"ristretto", "github.com/dgraph-io/"},
	{"Prometheus metrics", "github.com/prometheus/"},
	{"JSON, templates, reflection", "encoding/json. html/template. text/template. reflect."},
	{"crypto", "crypto/ golang.org/x/crypto/ vendor/golang.org/x/crypto/"},
	{"time, sync, strings, bytes", "time. sync. sync/atomic. strings. bytes. strconv. sort. unicode"},
}

func categorize(lines []profLine) []string {
	share := map[string]float64{}
	var shown float64
	for _, l := range lines {
		shown += l.flat
		cat := "other"
		for _, c := range categories {
			for _, p := range strings.Fields(c.prefixes) {
				if strings.HasPrefix(l.name, p) {
					cat = c.name
					break
				}
			}
			if cat != "other" {
				break
			}
		}
		share[cat] += l.flat
	}
	share["not listed (small functions)"] = max(0, 100-shown)
	type kv struct {
		k string
		v float64
	}
	var kvs []kv
	for k, v := range share {
		if v >= 0.5 {
			kvs = append(kvs, kv{k, v})
		}
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v })
	var out []string
	for _, e := range kvs {
		out = append(out, fmt.Sprintf("%s %.0f %%", e.k, e.v))
	}
	return out
}

func cumOf(lines []profLine, substr string) (float64, bool) {
	best, ok := 0.0, false
	for _, l := range lines {
		if strings.Contains(l.name, substr) && l.cum > best {
			best, ok = l.cum, true
		}
	}
	return best, ok
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// explain says, from a profile and the run's numbers, what bounds a row.
func explain(name, top string, recs []record, n map[string]string) string {
	lines, total := parseTop(top)
	if len(lines) == 0 {
		return strings.TrimSpace(top)
	}
	if name == "memory" {
		acc, _ := cumOf(lines, "tenants.(*Store).Account")
		accounts := atof(n["scale.size.accounts"])
		mb := parseMB(total)
		msg := fmt.Sprintf("Live heap at the profile (the embedded run): %s. The account cache's entries (`tenants.(*Store).Account`: each account's document compressed as etcd stores it, and its snapshot) are %.0f %% of it", total, acc)
		if mb > 0 && accounts > 0 {
			msg += fmt.Sprintf(", about %.1f KB per cached account (the JSON document is %s)", mb*acc/100*1024/accounts, docSize(n))
		}
		anon, _ := noteKB(n, "mem.warm.RssAnon")
		file, _ := noteKB(n, "mem.warm.RssFile")
		msg += fmt.Sprintf(". RSS is larger than the live heap for two reasons: the Go collector lets the heap grow to twice the live data before collecting (GOGC=100; anonymous RSS %.0f MB), and the embedded etcd memory-maps its bbolt database, so every page read while warming the caches stays resident as file-backed RSS (%.0f MB). By category: %s.",
			anon/1024, file/1024, strings.Join(categorize(lines), ", "))
		return msg
	}
	row := map[string]string{"page": "page/portico", "create": "create/portico", "redeem": "redeem/portico"}[name]
	msg := ""
	if s := summarize(recs, row); s != nil {
		msg = fmt.Sprintf("During the measured runs Portico used %.2f of its core, other processes %s of it, and the load generator %.2f of its own core. ", s.serverCPU, share(s.otherServer), s.clientCPU)
		switch {
		case s.serverCPU >= 0.9:
			msg += "The server is CPU-bound: the rate is the CPU cost of a request, broken down below. "
		case s.serverCPU+max(0, s.otherServer) >= 0.9:
			msg += "The server's core was full, but not all of it was Portico's: other processes on the machine took the rest, which lowers the rate without saying anything about Portico. "
		case name != "page":
			msg += "The core was not saturated, so requests wait rather than compute: each is an etcd Txn that commits through raft and the WAL (an fsync) before the response, so the rate is bounded by commit latency × the 64 connections in flight, not by CPU. "
		}
	}
	msg += "Portico's CPU time by category (flat): " + strings.Join(categorize(lines), ", ") + "."
	if h, ok := cumOf(lines, "gateway.(*Gateway).Handler"); ok {
		msg += fmt.Sprintf(" The gateway's handler including everything it calls: %.0f %%.", h)
	}
	return msg
}

func parseMB(total string) float64 {
	t := strings.TrimSpace(total)
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "GB"):
		mult, t = 1024, strings.TrimSuffix(t, "GB")
	case strings.HasSuffix(t, "MB"):
		t = strings.TrimSuffix(t, "MB")
	case strings.HasSuffix(t, "kB"):
		mult, t = 1.0/1024, strings.TrimSuffix(t, "kB")
	default:
		return 0
	}
	return atof(t) * mult
}

func docSize(n map[string]string) string {
	v := n["scale.accounts"]
	if i := strings.Index(v, "("); i >= 0 {
		if j := strings.Index(v[i:], "-byte"); j > 0 {
			return v[i+1:i+j] + " bytes"
		}
	}
	return "a few KB"
}

func share(f float64) string {
	if f < 0 {
		return "?"
	}
	return fmt.Sprintf("%.2f", f)
}

// method describes how each row was measured, with the numbers the run noted.
func method(b *strings.Builder, n map[string]string) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## How each row is measured\n\n")
	p("- **customer page**: `GET /` with the session cookie of the demo account (every section the demo shows) on every connection, after a warm-up; the limit server returns the exact bytes (body and headers) captured from Portico's page at the start of the run; the net/http contestant renders the example account's plan, invoices and billing details (the seed's three sections, its own html/template copy of them) on every request: a smaller page than Portico's (see bytes/request), so the comparison favours it. Runs of the three contestants are interleaved, so background load hits all three alike. Runs of the three contestants are interleaved, so background load hits all three alike.\n")
	p("- **session creation**: `POST /portal/customer-session/customer-portal` with the demo tenant's API key, 201 expected; the link tokens it returns are kept for the redemption row.\n")
	p("- **link redemption**: the links created above, split into one part per run; every token is requested exactly once (`GET /s/<token>`, 303 expected), the first tenth of each part as warm-up. After each run loadgen checks that every token got its 303 and that a second GET of a sample answers 410; a separate race check redeems 100 fresh links from 4 connections at the same instant each.\n")
	p("- **source mode**: a tenant created with the CLI, its backend registered through `PUT /v1/backend` at bench/cmd/sourceserver (net/http, pinned to the load core, sharing it with the load generator), which answers `GET /accounts/{id}` and `?alias=` for copies of the example document with an ETag, verifying every request's signature; the tenant set to source mode (`portico tenant update --source --source-ttl 5m`) and one session per account created by alias through the API (each a fetch by alias). Portico runs with `--webhook-allow-cidr 127.0.0.0/8` to reach it on loopback. Per run: Portico restarts (empty caches) and **source-cold** views every account once (each view a signed GET to the source, validation, the cache and a render: cold/portico with etcd replaced by an HTTP request); then **source-warm** views the same accounts round robin for the duration, within the TTL, so every view is a cached page. sourceserver's counters, scraped with Portico's, say how many fetches each row caused (see Checks). sourceserver's CPU counts in these rows' *other processes on the client core*.\n")
	p("- **cold page**: accounts PUT through the API with one session each; before each run Portico is restarted, so its caches are empty, and every account's page is then requested once — each request reads the account from etcd and renders the page (the account-cache miss counters confirm it, see Checks).\n")
	p("- **HTTPS**: Portico restarted with `--https-addr` and on-demand TLS from a local ACME CA (Pebble, bench/cmd/testca, the same in-process Pebble the certs tests use); the first request obtains the certificate over real ACME. The keep-alive row verifies the chain against the CA; the handshake row opens a new connection per request without session resumption (a full TLS 1.3 handshake each) and skips verification on the client, so that two ECDSA verifications per handshake do not make the load generator the bottleneck.\n")
	doc := n["scale.doc"]
	if doc == "" {
		doc = "tenants/account/testdata/account.json"
	}
	p("- **memory**: a fresh Portico; tenants (each with an API key) and accounts, copies of %s (%s), are written", doc, docSize(n))
	p(" straight into its embedded etcd with package tenants (`CreateTenant`, `CreateAPIKey`, `PutAccount`, 64 writers) — the API cannot create tenants, and 10,000 CLI invocations would take far longer. ")
	if v, ok := n["api.put"]; ok {
		if r := rateOf(v); r > 0 {
			p("Through the HTTP API accounts go in at about the same rate (%s/s measured on the cold row's PUTs: 100,000 would take %.0f s), since each is one etcd Txn either way. ", fmtInt(r), 100_000/r)
		}
	}
	p("Then every account is read once with `GET /v1/accounts/{id}` and its tenant's key, which loads it into the account cache, and VmRSS, RssAnon and RssFile are read from /proc/<pid>/status. Rendered pages are not part of this number: a page viewed adds its rendered copy (about the page's size) to its account's snapshot. Last, `loadgen etcdsize` compacts the embedded etcd to its current revision (physically), defragments it and reads its Status: DbSize, the bbolt file, divided by the accounts is the etcd bytes per account (tenants, keys, aliases and the email index included). The same run is repeated with Portico alone against an external etcd server (Debian's etcd-server, pinned to the load core) and `--memory-limit-mb` (the Go runtime's soft memory limit), the setup the RSS target is set for: without the embedded member, neither its memory-mapped database nor its heap is in the gateway's RSS.\n\n")
}

// rateOf finds "<n>/s" in a note.
func rateOf(v string) float64 {
	for _, f := range strings.Fields(v) {
		if strings.HasSuffix(f, "/s") || strings.HasSuffix(f, "/s)") {
			if x, err := strconv.ParseFloat(strings.TrimRight(strings.TrimPrefix(f, "("), "/s)"), 64); err == nil {
				return x
			}
		}
	}
	return 0
}
