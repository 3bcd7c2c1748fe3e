package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// client is a small HTTP client that dials one address whatever the request's host.
type client struct {
	addr string
	mu   sync.Mutex
	hcs  map[string]*fasthttp.HostClient
}

func newClient(addr string) *client {
	return &client{addr: addr, hcs: map[string]*fasthttp.HostClient{}}
}

func (c *client) host(h string) *fasthttp.HostClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	hc := c.hcs[h]
	if hc == nil {
		hc = &fasthttp.HostClient{
			Addr: h, MaxConns: 256, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
			Dial: func(string) (net.Conn, error) { return net.DialTimeout("tcp", c.addr, 10*time.Second) },
		}
		c.hcs[h] = hc
	}
	return hc
}

// do sends one request; header holds name/value pairs.
func (c *client) do(method, url string, body []byte, header ...string) (int, []byte, *fasthttp.ResponseHeader, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if body != nil {
		req.SetBody(body)
	}
	if err := c.host(hostOf(url)).DoTimeout(req, resp, 30*time.Second); err != nil {
		return 0, nil, nil, err
	}
	h := &fasthttp.ResponseHeader{}
	resp.Header.CopyTo(h)
	return resp.StatusCode(), append([]byte(nil), resp.Body()...), h, nil
}

// redeemLink GETs a portal link and returns the session cookie's name and value.
func (c *client) redeemLink(link string) (string, string, error) {
	status, body, h, err := c.do("GET", link, nil)
	if err != nil {
		return "", "", err
	}
	if status != 303 {
		return "", "", fmt.Errorf("GET %s: status %d, want 303: %.200s", link, status, body)
	}
	var name, value string
	h.VisitAllCookie(func(k, v []byte) {
		if name != "" {
			return
		}
		ck := fasthttp.AcquireCookie()
		defer fasthttp.ReleaseCookie(ck)
		if ck.ParseBytes(v) == nil && len(ck.Value()) > 0 {
			name, value = string(ck.Key()), string(ck.Value())
		}
	})
	if name == "" {
		return "", "", fmt.Errorf("GET %s: 303 without a session cookie", link)
	}
	return name, value, nil
}

// createLink creates a portal session for an alias through the API and returns its URL.
func (c *client) createLink(api, key, alias string) (string, error) {
	body, _ := json.Marshal(map[string]string{"accountAlias": alias})
	status, resp, _, err := c.do("POST", api+"/portal/customer-session/customer-portal", body,
		"Authorization", "Bearer "+key, "Content-Type", "application/json")
	if err != nil {
		return "", err
	}
	if status != 201 {
		return "", fmt.Errorf("creating a session for %q: status %d: %.300s", alias, status, resp)
	}
	var r struct {
		SessionURL string `json:"sessionUrl"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || r.SessionURL == "" {
		return "", fmt.Errorf("creating a session for %q: no sessionUrl in %.300s", alias, resp)
	}
	return r.SessionURL, nil
}

func cmdSession(args []string) error {
	fs := flag.NewFlagSet("session", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	link := fs.String("link", "", "portal link to redeem")
	fs.Parse(args)
	name, value, err := newClient(*addr).redeemLink(*link)
	if err != nil {
		return err
	}
	fmt.Printf("%s=%s\n", name, value)
	return nil
}

func cmdFetch(args []string) error {
	fs := flag.NewFlagSet("fetch", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	url := fs.String("url", "", "URL to GET")
	cookie := fs.String("cookie", "", "Cookie header")
	bodyOut := fs.String("body", "page.html", "where to write the body")
	headOut := fs.String("headers", "page.headers", "where to write the response headers (Name: value lines)")
	fs.Parse(args)
	status, body, h, err := newClient(*addr).do("GET", *url, nil, "Cookie", *cookie)
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("GET %s: status %d: %.300s", *url, status, body)
	}
	var hb strings.Builder
	h.VisitAll(func(k, v []byte) { fmt.Fprintf(&hb, "%s: %s\n", k, v) })
	if err := os.WriteFile(*headOut, []byte(hb.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d bytes of body, %d headers\n", len(body), h.Len())
	return os.WriteFile(*bodyOut, body, 0o644)
}

// cmdAccounts PUTs N copies of an account document, with ids and aliases <prefix>-<i>, through the
// tenant API, and writes the aliases.
func cmdAccounts(args []string) error {
	fs := flag.NewFlagSet("accounts", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	api := fs.String("api", "http://api.portal.localhost:8080", "API origin")
	key := fs.String("key", "", "API key")
	docFile := fs.String("account", "", "account document (JSON) to copy")
	n := fs.Int("n", 1000, "how many accounts")
	prefix := fs.String("prefix", "bench", "id and alias prefix")
	conc := fs.Int("c", 64, "concurrent requests")
	out := fs.String("out", "", "write the aliases here, one per line")
	fs.Parse(args)
	doc, err := accountTemplate(*docFile)
	if err != nil {
		return err
	}
	c := newClient(*addr)
	aliases := make([]string, *n)
	start := time.Now()
	err = parallel(*n, *conc, func(i int) error {
		id := fmt.Sprintf("%s-%06d", *prefix, i)
		body := doc(id, id)
		status, resp, _, err := c.do("PUT", *api+"/v1/accounts/"+id, body, "Authorization", "Bearer "+*key, "Content-Type", "application/json")
		if err != nil {
			return err
		}
		if status != 201 && status != 200 {
			return fmt.Errorf("PUT %s: status %d: %.300s", id, status, resp)
		}
		aliases[i] = id
		return nil
	})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("%d accounts PUT through the API in %.2fs: %.0f/s\n", *n, el.Seconds(), float64(*n)/el.Seconds())
	if *out != "" {
		return writeLines(*out, aliases)
	}
	return nil
}

// accountTemplate reads an account document and returns a function that makes a copy with another
// id and alias.
func accountTemplate(path string) (func(id, alias string) []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var mu sync.Mutex
	return func(id, alias string) []byte {
		mu.Lock()
		defer mu.Unlock()
		m["id"], m["alias"] = id, alias
		out, _ := json.Marshal(m)
		return out
	}, nil
}

// cmdSessions creates and redeems one session per alias and writes the cookie values in order.
func cmdSessions(args []string) error {
	fs := flag.NewFlagSet("sessions", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	api := fs.String("api", "http://api.portal.localhost:8080", "API origin")
	key := fs.String("key", "", "API key (without it, each line of -aliases is '<api key> <alias>')")
	aliasFile := fs.String("aliases", "", "file of account aliases")
	conc := fs.Int("c", 64, "concurrent requests")
	out := fs.String("out", "", "write the cookie values here, one per line")
	withHost := fs.Bool("with-host", false, "write '<portal host> <cookie value>' lines (accounts of several tenants)")
	fs.Parse(args)
	aliases, err := readLines(*aliasFile)
	if err != nil {
		return err
	}
	c := newClient(*addr)
	cookies := make([]string, len(aliases))
	start := time.Now()
	err = parallel(len(aliases), *conc, func(i int) error {
		k, alias := *key, aliases[i]
		if k == "" {
			var ok bool
			if k, alias, ok = strings.Cut(alias, " "); !ok {
				return fmt.Errorf("%s line %d: want '<api key> <alias>' without -key", *aliasFile, i+1)
			}
		}
		link, err := c.createLink(*api, k, alias)
		if err != nil {
			return err
		}
		_, v, err := c.redeemLink(link)
		if *withHost {
			v = hostOf(link) + " " + v
		}
		cookies[i] = v
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("%d sessions created and redeemed in %.2fs\n", len(aliases), time.Since(start).Seconds())
	return writeLines(*out, cookies)
}

// cmdRaceCheck creates N links and redeems each from K connections at the same moment: exactly one
// request per link may get 303, the others 410.
func cmdRaceCheck(args []string) error {
	fs := flag.NewFlagSet("racecheck", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to dial")
	api := fs.String("api", "http://api.portal.localhost:8080", "API origin")
	key := fs.String("key", "", "API key")
	alias := fs.String("alias", "crm-001234", "account alias")
	n := fs.Int("n", 100, "links")
	k := fs.Int("k", 4, "concurrent redemptions of each link")
	out := fs.String("out", "", "results file to append the outcome to (as a note)")
	fs.Parse(args)
	c := newClient(*addr)
	links := make([]string, *n)
	if err := parallel(*n, 32, func(i int) (err error) { links[i], err = c.createLink(*api, *key, *alias); return }); err != nil {
		return err
	}
	wins, losses, bad := 0, 0, 0
	statuses := map[int]int{}
	var mu sync.Mutex
	for _, l := range links {
		var wg sync.WaitGroup
		start := make(chan struct{})
		won := 0
		for range *k {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, _, _, err := c.do("GET", l, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					status = -1
				}
				statuses[status]++
				if status == 303 {
					won++
				}
			}()
		}
		close(start)
		wg.Wait()
		switch won {
		case 1:
			wins++
		case 0:
			losses++
		default:
			bad++
		}
	}
	msg := fmt.Sprintf("%d links each redeemed by %d concurrent requests: %d had exactly one 303, %d none, %d more than one (statuses %v)",
		*n, *k, wins, losses, bad, statuses)
	if wins != *n {
		msg = "FAIL " + msg
	}
	fmt.Println(msg)
	if *out != "" {
		return appendRecord(*out, &record{Kind: "note", Key: "redeem.racecheck", Value: msg})
	}
	return nil
}

// scrape reads the counters and gauges of a Prometheus text endpoint (name{labels} → value).
func scrape(url string) (map[string]float64, error) {
	status, body, _, err := newClient(hostOf(url)).do("GET", url, nil)
	if err != nil {
		return nil, err
	}
	if status != 200 {
		return nil, fmt.Errorf("GET %s: status %d", url, status)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.Contains(line, "_bucket{") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if strings.HasPrefix(name, "portico_") || strings.HasPrefix(name, "sourceserver_") || strings.HasPrefix(name, "go_memstats_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "go_goroutines") {
			m[name] = v
		}
	}
	return m, nil
}

// scrapeAll scrapes each of comma-separated /metrics URLs into one map (the names of different
// processes do not collide: each has its own prefix).
func scrapeAll(urls string) (map[string]float64, error) {
	m := map[string]float64{}
	for _, u := range strings.Split(urls, ",") {
		one, err := scrape(u)
		if err != nil {
			return nil, err
		}
		for k, v := range one {
			m[k] = v
		}
	}
	return m, nil
}

func cmdMetrics(args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ExitOnError)
	url := fs.String("url", "", "/metrics URL")
	match := fs.String("match", "", "print only names containing this")
	fs.Parse(args)
	m, err := scrape(*url)
	if err != nil {
		return err
	}
	if len(m) == 0 {
		return errors.New("no metrics")
	}
	names := make([]string, 0, len(m))
	for k := range m {
		if strings.Contains(k, *match) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Printf("%s %v\n", k, m[k])
	}
	return nil
}
