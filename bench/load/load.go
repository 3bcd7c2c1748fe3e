// Package load is the engine of Portico's load generator: C connections of one fasthttp
// HostClient (one worker goroutine per connection, each with its own request, response and
// histogram) issue a Workload against one address, first for a warm-up phase whose numbers are
// thrown away, then for the measured phase. It reports requests per second, latency quantiles
// from a log-linear histogram (package hist), the bytes read from the wire per request (counted
// on the connections themselves, so headers and TLS records are included), errors and the status
// of every item.
//
// A workload is either fixed (the same request over and over, for a duration) or a list of items
// (one request per item, each item used exactly once: link tokens to redeem, session cookies of
// cold accounts), where the run ends when the items are used up.
package load

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-billing/portico/bench/hist"
	"github.com/valyala/fasthttp"
)

// Workload is what every request of a run looks like.
type Workload struct {
	// Method is the HTTP method (default GET).
	Method string
	// URL is the absolute URL of the request; its host is the Host header (and the TLS server
	// name), whatever address Options.Addr dials.
	URL string
	// Header holds extra request headers.
	Header [][2]string
	// Body is the request body.
	Body []byte
	// Expect is the status every response must have; any other status counts as an error.
	Expect int
	// Items, when non-nil, makes the run a list run: one request per item, each exactly once,
	// Apply puts the item into the request. The first WarmItems items are the warm-up.
	Items     []string
	WarmItems int
	Apply     func(req *fasthttp.Request, item string)
	// Cycle makes a run with Items a fixed one instead: the items are used round robin, over
	// and over, for the warm-up and the measured duration (WarmItems unused, no item status).
	Cycle bool
	// Collect, when set, is called with the body of every expected response of both phases and
	// may return a value to keep (Result.Collected), e.g. the token of a created link. It is
	// called concurrently from every worker.
	Collect func(body []byte) (string, bool)
}

// Options say how hard and how long to push.
type Options struct {
	// Addr is the address dialled for every connection ("127.0.0.1:8080").
	Addr string
	// Conns is the number of connections and workers (default 64).
	Conns int
	// Warmup and Duration bound the two phases of a fixed workload; Duration also caps the
	// measured phase of a list run.
	Warmup, Duration time.Duration
	// TLS, when set, makes every connection a TLS client connection with this configuration.
	TLS *tls.Config
	// NewConnPerRequest closes the connection after every response, so every request dials (and
	// with TLS, makes a full handshake: the configuration has no session cache).
	NewConnPerRequest bool
	// Timeout bounds each request (default 10 s).
	Timeout time.Duration
	// BeforeMeasure and AfterMeasure, when set, run right before and after the measured phase
	// (e.g. to scrape the server's metrics).
	BeforeMeasure, AfterMeasure func()
	// ServerPID, when set, is the server's process: its CPU use over the measured phase is
	// reported (from /proc/<pid>/stat).
	ServerPID int
	// ServerCore and ClientCore, when not negative, are the cores the server and this process are
	// pinned to: how busy each core was with other processes is reported (from /proc/stat).
	ServerCore, ClientCore int
}

// Result is what one measured phase saw.
type Result struct {
	Requests uint64            `json:"requests"`
	Errors   uint64            `json:"errors"`
	Status   map[string]uint64 `json:"status"`
	ErrKinds map[string]uint64 `json:"errKinds,omitempty"`
	Elapsed  float64           `json:"elapsedSec"`
	RPS      float64           `json:"rps"`
	P50      float64           `json:"p50us"`
	P99      float64           `json:"p99us"`
	P999     float64           `json:"p999us"`
	Max      float64           `json:"maxus"`
	Mean     float64           `json:"meanus"`
	// BytesPerRequest is what was read from the wire per request: status line, headers, body
	// (and TLS framing).
	BytesPerRequest float64 `json:"bytesPerRequest"`
	// SentPerRequest is what was written per request.
	SentPerRequest float64 `json:"sentPerRequest"`
	// Dials is how many connections were opened in the measured phase.
	Dials uint64 `json:"dials"`
	// ClientCPU and ServerCPU are the CPU time the load generator and the server used over the
	// measured phase, in cores (1.0 = one core fully busy); ServerCPU is 0 when unknown.
	ClientCPU float64 `json:"clientCPU"`
	ServerCPU float64 `json:"serverCPU"`
	// OtherOnServerCore and OtherOnClientCore are how much of the server's and the client's core
	// other processes used over the measured phase (0 to 1): noise from whatever else runs on
	// the machine. -1 when unknown.
	OtherOnServerCore float64 `json:"otherOnServerCore"`
	OtherOnClientCore float64 `json:"otherOnClientCore"`
	// ItemStatus is the status of every item's request (0: never sent, -1: transport error).
	ItemStatus []int32 `json:"-"`
	// Collected holds what Workload.Collect kept.
	Collected []string `json:"-"`
}

// counters of the wire, shared by every connection of a run.
type wire struct {
	read, written, dials atomic.Uint64
}

type countingConn struct {
	net.Conn
	w *wire
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.read.Add(uint64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.written.Add(uint64(n))
	return n, err
}

// worker is one connection's loop state.
type worker struct {
	req    *fasthttp.Request
	resp   *fasthttp.Response
	h      hist.Histogram
	status map[int]uint64
	errs   map[string]uint64
	kept   []string
	n      uint64
	bad    uint64
}

// Run runs the warm-up and the measured phase of w and returns the measured phase's result.
func Run(opt Options, w *Workload) (*Result, error) {
	if opt.Conns <= 0 {
		opt.Conns = 64
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if w.Method == "" {
		w.Method = fasthttp.MethodGet
	}
	if w.Items != nil && w.Apply == nil {
		return nil, errors.New("load: a list workload needs Apply")
	}
	u, err := url.Parse(w.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("load: bad URL %q", w.URL)
	}
	hostAddr := u.Host
	if u.Port() == "" {
		hostAddr += map[bool]string{true: ":443", false: ":80"}[opt.TLS != nil]
	}
	ws := &wire{}
	hc := &fasthttp.HostClient{
		Addr:  hostAddr,
		IsTLS: opt.TLS != nil, TLSConfig: opt.TLS,
		MaxConns: opt.Conns,
		Dial: func(string) (net.Conn, error) {
			c, err := net.DialTimeout("tcp", opt.Addr, opt.Timeout)
			if err != nil {
				return nil, err
			}
			ws.dials.Add(1)
			return countingConn{c, ws}, nil
		},
		ReadTimeout: opt.Timeout, WriteTimeout: opt.Timeout, MaxConnWaitTimeout: opt.Timeout,
		MaxIdleConnDuration:           5 * time.Minute,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		ReadBufferSize:                16 << 10,
		MaxResponseBodySize:           4 << 20,
	}
	defer hc.CloseIdleConnections()

	workers := make([]*worker, opt.Conns)
	for i := range workers {
		req := fasthttp.AcquireRequest()
		req.Header.SetMethod(w.Method)
		req.SetRequestURI(w.URL)
		for _, h := range w.Header {
			req.Header.Set(h[0], h[1])
		}
		if w.Body != nil {
			req.SetBody(w.Body)
		}
		if opt.NewConnPerRequest {
			req.SetConnectionClose()
		}
		workers[i] = &worker{req: req, resp: fasthttp.AcquireResponse()}
	}
	defer func() {
		for _, wk := range workers {
			fasthttp.ReleaseRequest(wk.req)
			fasthttp.ReleaseResponse(wk.resp)
		}
	}()

	list := w.Items != nil && !w.Cycle
	if w.Cycle && len(w.Items) == 0 {
		return nil, errors.New("load: a cycling workload needs items")
	}
	var itemStatus []int32
	if list {
		itemStatus = make([]int32, len(w.Items))
	}
	phase := func(deadline time.Time, from, to int) time.Duration {
		var next atomic.Int64
		next.Store(int64(from))
		var wg sync.WaitGroup
		start := time.Now()
		for _, wk := range workers {
			wk.reset()
			wg.Add(1)
			go func() {
				defer wg.Done()
				wk.loop(hc, w, deadline, &next, to, itemStatus)
			}()
		}
		wg.Wait()
		return time.Since(start)
	}

	now := time.Now()
	if list {
		warm := min(w.WarmItems, len(w.Items))
		if warm > 0 {
			phase(now.Add(opt.Warmup+opt.Duration), 0, warm)
		}
	} else if opt.Warmup > 0 {
		phase(now.Add(opt.Warmup), 0, 0)
	}
	var kept []string
	for _, wk := range workers {
		kept = append(kept, wk.kept...)
	}

	if opt.BeforeMeasure != nil {
		opt.BeforeMeasure()
	}
	r0, w0, d0 := ws.read.Load(), ws.written.Load(), ws.dials.Load()
	c0, s0, k0 := selfCPU(), procCPU(opt.ServerPID), coreBusy()
	var elapsed time.Duration
	if list {
		elapsed = phase(time.Now().Add(opt.Duration), min(w.WarmItems, len(w.Items)), len(w.Items))
	} else {
		elapsed = phase(time.Now().Add(opt.Duration), 0, 0)
	}
	r1, w1, d1 := ws.read.Load(), ws.written.Load(), ws.dials.Load()
	c1, s1, k1 := selfCPU(), procCPU(opt.ServerPID), coreBusy()
	if opt.AfterMeasure != nil {
		opt.AfterMeasure()
	}

	res := &Result{Status: map[string]uint64{}, ErrKinds: map[string]uint64{}, ItemStatus: itemStatus}
	var h hist.Histogram
	for _, wk := range workers {
		h.Merge(&wk.h)
		res.Requests += wk.n
		res.Errors += wk.bad
		for s, n := range wk.status {
			res.Status[fmt.Sprint(s)] += n
		}
		for e, n := range wk.errs {
			res.ErrKinds[e] += n
		}
		kept = append(kept, wk.kept...)
	}
	res.Collected = kept
	res.Elapsed = elapsed.Seconds()
	if elapsed > 0 {
		res.RPS = float64(res.Requests) / elapsed.Seconds()
	}
	us := func(ns uint64) float64 { return float64(ns) / 1e3 }
	res.P50, res.P99, res.P999 = us(h.Quantile(0.5)), us(h.Quantile(0.99)), us(h.Quantile(0.999))
	res.Max, res.Mean = us(h.Max()), h.Mean()/1e3
	if res.Requests > 0 {
		res.BytesPerRequest = float64(r1-r0) / float64(res.Requests)
		res.SentPerRequest = float64(w1-w0) / float64(res.Requests)
	}
	res.Dials = d1 - d0
	res.OtherOnServerCore, res.OtherOnClientCore = -1, -1
	if elapsed > 0 {
		res.ClientCPU = (c1 - c0).Seconds() / elapsed.Seconds()
		if opt.ServerPID > 0 && s0 >= 0 && s1 >= 0 {
			res.ServerCPU = (s1 - s0).Seconds() / elapsed.Seconds()
		}
		other := func(core int, own float64) float64 {
			if core < 0 || core >= len(k0) || core >= len(k1) || k0[core] < 0 || k1[core] < 0 {
				return -1
			}
			busy := (k1[core] - k0[core]).Seconds() / elapsed.Seconds()
			return min(1, max(0, busy-own))
		}
		if opt.ServerPID > 0 {
			res.OtherOnServerCore = other(opt.ServerCore, res.ServerCPU)
		}
		res.OtherOnClientCore = other(opt.ClientCore, res.ClientCPU)
	}
	return res, nil
}

// coreBusy is, for every core, the time it was busy (neither idle nor waiting for I/O) so far,
// from /proc/stat (USER_HZ ticks); nil when unknown.
func coreBusy() []time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil
	}
	var out []time.Duration
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		n, err := strconv.Atoi(f[0][3:])
		if err != nil {
			continue
		}
		var busy int64
		for i, v := range f[1:] {
			x, _ := strconv.ParseInt(v, 10, 64)
			if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are already in user
				continue
			}
			busy += x
		}
		for len(out) <= n {
			out = append(out, -1)
		}
		out[n] = time.Duration(busy) * (time.Second / 100)
	}
	return out
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user and system CPU time of process pid so far (-1 when unknown). /proc counts
// it in USER_HZ ticks, which Linux fixes at 100 per second.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) may hold spaces: fields count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(ut+st) * (time.Second / 100)
}

func (wk *worker) reset() {
	wk.h = hist.Histogram{}
	wk.status = map[int]uint64{}
	wk.errs = map[string]uint64{}
	wk.kept = nil
	wk.n, wk.bad = 0, 0
}

// loop issues requests until the deadline or, in a list run, until the items in [next, to) are
// used up.
func (wk *worker) loop(hc *fasthttp.HostClient, w *Workload, deadline time.Time, next *atomic.Int64, to int, itemStatus []int32) {
	for {
		t0 := time.Now()
		if !t0.Before(deadline) {
			return
		}
		idx := -1
		switch {
		case w.Cycle:
			w.Apply(wk.req, w.Items[int(uint64(next.Add(1)-1)%uint64(len(w.Items)))])
			t0 = time.Now()
		case w.Items != nil:
			idx = int(next.Add(1) - 1)
			if idx >= to {
				return
			}
			w.Apply(wk.req, w.Items[idx])
			t0 = time.Now()
		}
		err := hc.Do(wk.req, wk.resp)
		lat := time.Since(t0)
		wk.h.Record(uint64(lat))
		wk.n++
		if err != nil {
			wk.bad++
			if len(wk.errs) < 16 {
				wk.errs[err.Error()]++
			} else {
				wk.errs["other errors"]++
			}
			if idx >= 0 {
				itemStatus[idx] = -1
			}
			continue
		}
		code := wk.resp.StatusCode()
		wk.status[code]++
		if idx >= 0 {
			itemStatus[idx] = int32(code)
		}
		if code != w.Expect {
			wk.bad++
			continue
		}
		if w.Collect != nil {
			if v, ok := w.Collect(wk.resp.Body()); ok {
				wk.kept = append(wk.kept, v)
			}
		}
	}
}

// Statuses formats a status count map as "200:1234 410:2", sorted.
func Statuses(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%s:%d", k, m[k])
	}
	return s
}
