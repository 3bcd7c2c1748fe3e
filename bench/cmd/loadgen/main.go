// Command loadgen is the load generator and tool box of Portico's benchmark suite (bench/run.sh
// drives it). Subcommands:
//
//	load       run one workload (page, redeem, create, cold, https, handshakes) and append its
//	           result to a JSON-lines file
//	session    redeem a portal link and print the session cookie
//	fetch      save a page's body and headers (what the static "limit" server returns)
//	accounts   PUT N copies of an account document through the API (unique ids and aliases)
//	sessions   create and redeem one portal session per alias: one cookie per line
//	racecheck  redeem each of N fresh links from K connections at once: exactly one may win
//	scale      seed many tenants, API keys and accounts directly into etcd (package tenants)
//	warm       GET /v1/accounts/{id} for every seeded account, with its tenant's key
//	etcdsize   compact and defragment an etcd member and record its database size per account
//	metrics    print selected counters from a Prometheus /metrics endpoint
//	rss        record a process's VmRSS/RssAnon/RssFile (and Go heap) as notes
//	note       append a key/value note to the results file
//	check      exit 1 if a row's median requests/s is below a threshold
//	report     write RESULTS.md from the results file
//	scalereport write SCALE.md from the results of bench/scale.sh
//	freeports  print free TCP ports on 127.0.0.1
//
// Each subcommand prints its flags with -h.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/portico-billing/portico/bench/load"
	"github.com/valyala/fasthttp"
)

func main() {
	cmds := map[string]func([]string) error{
		"load": cmdLoad, "session": cmdSession, "fetch": cmdFetch, "accounts": cmdAccounts,
		"sessions": cmdSessions, "racecheck": cmdRaceCheck, "scale": cmdScale, "warm": cmdWarm, "etcdsize": cmdEtcdSize,
		"metrics": cmdMetrics, "note": cmdNote, "rss": cmdRSS, "check": cmdCheck, "report": cmdReport, "scalereport": cmdScaleReport, "freeports": cmdFreePorts,
	}
	if len(os.Args) < 2 || cmds[os.Args[1]] == nil {
		fmt.Fprintln(os.Stderr, "usage: loadgen load|session|fetch|accounts|sessions|racecheck|scale|warm|etcdsize|metrics|rss|note|check|report|scalereport|freeports [flags]")
		os.Exit(2)
	}
	if err := cmds[os.Args[1]](os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// record is one line of the results file: a measured run or a note.
type record struct {
	Kind string `json:"kind"` // "run" or "note"
	Row  string `json:"row,omitempty"`
	Run  int    `json:"run,omitempty"`
	Mix  string `json:"mix,omitempty"`
	// Conns, Duration and Warmup are the run's settings.
	Conns    int     `json:"conns,omitempty"`
	Duration float64 `json:"durationSec,omitempty"`
	Warmup   float64 `json:"warmupSec,omitempty"`
	*load.Result
	// Metrics are deltas of server counters over the measured phase.
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Checks are verifications made after the run (e.g. exactly-once redemption).
	Checks []string `json:"checks,omitempty"`
	Key    string   `json:"key,omitempty"`
	Value  string   `json:"value,omitempty"`
}

func appendRecord(path string, r *record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(append(b, '\n'))
	return err
}

func readRecords(path string) ([]record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

func readLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

func writeLines(path string, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// tokenFromSessionURL extracts the link token from a create-session response body.
func tokenFromSessionURL(body []byte) (string, bool) {
	i := bytes.Index(body, []byte(`"sessionUrl":"`))
	if i < 0 {
		return "", false
	}
	rest := body[i+len(`"sessionUrl":"`):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return "", false
	}
	u := rest[:j]
	k := bytes.LastIndex(u, []byte("/s/"))
	if k < 0 {
		return "", false
	}
	return string(u[k+3:]), true
}

func cmdLoad(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	base := fs.String("url", "http://demo.portal.localhost:8080", "origin of the requests (scheme://host:port): Host header and TLS server name")
	mix := fs.String("mix", "page", "page | pages | redeem | create | cold | https | handshakes")
	conns := fs.Int("c", 64, "connections")
	dur := fs.Duration("d", 5*time.Second, "measured duration (a cap for list runs)")
	warm := fs.Duration("w", 2*time.Second, "warm-up duration")
	cookie := fs.String("cookie", "", "Cookie header of page/https/handshakes requests (name=value)")
	cookieName := fs.String("cookie-name", "portico_session", "cookie name for -items of the cold and pages mixes")
	items := fs.String("items", "", "file of items, one per line: link tokens (redeem) or cookie values, or '<host> <cookie value>' (cold: each once; pages: round robin for the duration)")
	warmItems := fs.Int("warm-items", 0, "items used for warm-up (list runs)")
	key := fs.String("key", "", "API key (create)")
	alias := fs.String("alias", "crm-001234", "account alias of created sessions (create)")
	saveTokens := fs.String("save-tokens", "", "append the tokens of created links to this file (create)")
	verifySample := fs.Int("verify-sample", 200, "redeem: GET this many redeemed tokens again, expecting 410")
	metricsURL := fs.String("metrics", "", "Prometheus /metrics URLs (comma-separated): record deltas of Portico's (and sourceserver's) counters over the measured phase")
	insecure := fs.Bool("insecure", false, "TLS: do not verify the server certificate")
	caFile := fs.String("ca", "", "TLS: PEM file of the CA that signed the server certificate")
	timeout := fs.Duration("timeout", 10*time.Second, "timeout of each request")
	serverCore := fs.Int("server-core", -1, "core the server is pinned to: report other processes' use of it")
	clientCore := fs.Int("client-core", -1, "core this load generator is pinned to: report other processes' use of it")
	serverPID := fs.Int("server-pid", 0, "server process id: report its CPU use over the measured phase")
	row := fs.String("row", "", "row name in the results file")
	run := fs.Int("run", 0, "run number")
	out := fs.String("out", "", "results file (JSON lines) to append to")
	fs.Parse(args)

	w := &load.Workload{URL: strings.TrimSuffix(*base, "/") + "/", Expect: 200}
	opt := load.Options{Addr: *addr, Conns: *conns, Warmup: *warm, Duration: *dur, ServerPID: *serverPID, Timeout: *timeout, ServerCore: *serverCore, ClientCore: *clientCore}
	switch *mix {
	case "page", "https", "handshakes":
		if *cookie == "" {
			return errors.New("-cookie is required")
		}
		w.Header = [][2]string{{"Cookie", *cookie}}
		if *mix != "page" {
			tc := &tls.Config{InsecureSkipVerify: *insecure, ClientSessionCache: nil}
			if *caFile != "" {
				pem, err := os.ReadFile(*caFile)
				if err != nil {
					return err
				}
				tc.RootCAs = x509.NewCertPool()
				if !tc.RootCAs.AppendCertsFromPEM(pem) {
					return fmt.Errorf("%s: no certificate", *caFile)
				}
			}
			opt.TLS = tc
			opt.NewConnPerRequest = *mix == "handshakes"
		}
	case "create":
		if *key == "" {
			return errors.New("-key is required")
		}
		w.Method = fasthttp.MethodPost
		w.URL = strings.TrimSuffix(*base, "/") + "/portal/customer-session/customer-portal"
		w.Header = [][2]string{{"Authorization", "Bearer " + *key}, {"Content-Type", "application/json"}}
		w.Body, _ = json.Marshal(map[string]string{"accountAlias": *alias})
		w.Expect = 201
		if *saveTokens != "" {
			w.Collect = tokenFromSessionURL
		}
	case "redeem", "cold", "pages":
		lines, err := readLines(*items)
		if err != nil {
			return err
		}
		if len(lines) <= *warmItems {
			return fmt.Errorf("%s has %d items, %d are for warm-up", *items, len(lines), *warmItems)
		}
		w.Items, w.WarmItems, w.Cycle = lines, *warmItems, *mix == "pages"
		if *mix == "redeem" {
			w.Expect = 303
			w.Apply = func(req *fasthttp.Request, tok string) { req.URI().SetPath("/s/" + tok) }
		} else {
			name := *cookieName
			// Header.Set("Cookie") would add to the request's cookies, not replace them. An item
			// "<host> <cookie>" (accounts of several tenants) also sets the request's host.
			w.Apply = func(req *fasthttp.Request, c string) {
				if h, v, ok := strings.Cut(c, " "); ok {
					req.URI().SetHost(h)
					req.Header.SetHost(h)
					c = v
				}
				req.Header.DelAllCookies()
				req.Header.SetCookie(name, c)
			}
		}
	default:
		return fmt.Errorf("unknown mix %q", *mix)
	}

	var before, after map[string]float64
	if *metricsURL != "" {
		opt.BeforeMeasure = func() { before, _ = scrapeAll(*metricsURL) }
		opt.AfterMeasure = func() { after, _ = scrapeAll(*metricsURL) }
	}
	res, err := load.Run(opt, w)
	if err != nil {
		return err
	}
	rec := &record{Kind: "run", Row: *row, Run: *run, Mix: *mix, Conns: *conns, Duration: dur.Seconds(), Warmup: warm.Seconds(), Result: res}
	if w.Items != nil {
		rec.Warmup = float64(w.WarmItems) // items, for list runs
	}
	if before != nil && after != nil {
		rec.Metrics = map[string]float64{}
		for k, v := range after {
			if d := v - before[k]; d != 0 {
				rec.Metrics[k] = d
			}
		}
	}
	if *mix == "redeem" {
		rec.Checks = verifyRedeem(*addr, w, res, *verifySample)
	}
	if *saveTokens != "" {
		f, err := os.OpenFile(*saveTokens, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		for _, t := range res.Collected {
			fmt.Fprintln(f, t)
		}
		f.Close()
	}
	fmt.Printf("%-18s run %d: %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  p99.9 %7.0f µs  %6.0f B/req  %d requests  %d errors  cpu server %.2f client %.2f  others on the cores %.2f / %.2f  [%s]\n",
		*row, *run, res.RPS, res.P50, res.P99, res.P999, res.BytesPerRequest, res.Requests, res.Errors, res.ServerCPU, res.ClientCPU, res.OtherOnServerCore, res.OtherOnClientCore, load.Statuses(res.Status))
	for e, n := range res.ErrKinds {
		fmt.Printf("  error x%d: %s\n", n, e)
	}
	for _, c := range rec.Checks {
		fmt.Println("  check:", c)
	}
	if *out != "" {
		if err := appendRecord(*out, rec); err != nil {
			return err
		}
	}
	if res.Requests == 0 || res.Errors == res.Requests {
		return fmt.Errorf("no request of %s succeeded (%d requests): is the server up?", *mix, res.Requests)
	}
	return nil
}

// verifyRedeem checks that every token of the run (warm-up and measured) got exactly one 303 and
// that a second GET of a sample of them gives 410.
func verifyRedeem(addr string, w *load.Workload, res *load.Result, sample int) []string {
	var ok, other int
	for _, s := range res.ItemStatus {
		if s == 303 {
			ok++
		} else {
			other++
		}
	}
	checks := []string{fmt.Sprintf("exactly-once: %d of %d tokens redeemed with 303 on their only request, %d not", ok, len(res.ItemStatus), other)}
	if other != 0 {
		checks[0] = "FAIL " + checks[0]
	}
	sample = min(sample, len(w.Items))
	if sample == 0 {
		return checks
	}
	c := &fasthttp.HostClient{Addr: hostOf(w.URL), Dial: func(string) (net.Conn, error) { return net.Dial("tcp", addr) }, MaxConns: 8}
	step := max(1, len(w.Items)/sample)
	got := map[int]int{}
	for i := 0; i < len(w.Items) && i/step < sample; i += step {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		req.SetRequestURI(strings.TrimSuffix(w.URL, "/") + "/s/" + w.Items[i])
		if err := c.DoTimeout(req, resp, 10*time.Second); err != nil {
			got[-1]++
		} else {
			got[resp.StatusCode()]++
		}
		fasthttp.ReleaseRequest(req)
		fasthttp.ReleaseResponse(resp)
	}
	n := 0
	for _, v := range got {
		n += v
	}
	msg := fmt.Sprintf("replay: %d of %d sampled tokens answered 410 on a second GET", got[410], n)
	if got[410] != n {
		msg = fmt.Sprintf("FAIL %s (statuses %v)", msg, got)
	}
	return append(checks, msg)
}

func hostOf(u string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	return h
}

// parallel runs fn(i) for i in [0, n) on conc goroutines and returns the first error.
func parallel(n, conc int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil
				mu.Unlock()
				if i >= n || stop {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func cmdFreePorts(args []string) error {
	fs := flag.NewFlagSet("freeports", flag.ExitOnError)
	n := fs.Int("n", 1, "how many")
	fs.Parse(args)
	var ls []net.Listener
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	return nil
}

func cmdNote(args []string) error {
	fs := flag.NewFlagSet("note", flag.ExitOnError)
	out := fs.String("out", "", "results file")
	key := fs.String("k", "", "key")
	val := fs.String("v", "", "value")
	fs.Parse(args)
	return appendRecord(*out, &record{Kind: "note", Key: *key, Value: *val})
}
