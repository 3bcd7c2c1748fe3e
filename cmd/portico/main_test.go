package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/certs/pebbletest"
	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/internal/dnstest"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
)

var srv *etcdtest.Server

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m, &srv)) }

// cli runs the command line in-process against the test etcd under prefix.
func cli(t *testing.T, prefix string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"--etcd-endpoints", srv.Endpoint, "--etcd-prefix", prefix}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func mustCLI(t *testing.T, prefix string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, prefix, args...)
	if code != 0 {
		t.Fatalf("portico %s: exit %d: %s", strings.Join(args, " "), code, errs)
	}
	return out
}

func TestOperatorCLI(t *testing.T) {
	p := etcdtest.Prefix(t)
	logo := filepath.Join(t.TempDir(), "logo.png")
	os.WriteFile(logo, demoLogo(), 0o600)
	mustCLI(t, p, "tenant", "create", "--slug", "acme", "--name", "ACME Corp", "--primary-color", "#112233", "--logo", logo)
	var list []map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, p, "--json", "tenant", "list")), &list); err != nil || len(list) != 1 || list[0]["slug"] != "acme" {
		t.Fatalf("tenant list --json = %v, %v", list, err)
	}
	if out := mustCLI(t, p, "tenant", "get", "acme"); !strings.Contains(out, "#112233") || !strings.Contains(out, "image/png") {
		t.Fatalf("tenant get = %q", out)
	}
	// --require-2fa turns the dashboard's second factor on for the tenant's admins, and off.
	for _, c := range []struct {
		flag  string
		want  bool
		field string
	}{{"--require-2fa", true, "requireTwoFactor"}, {"--require-2fa=false", false, "requireTwoFactor"},
		{"--email-sign-in", true, "emailSignIn"}, {"--email-sign-in=false", false, "emailSignIn"}} {
		mustCLI(t, p, "tenant", "update", "acme", c.flag)
		var got map[string]any
		if err := json.Unmarshal([]byte(mustCLI(t, p, "--json", "tenant", "get", "acme")), &got); err != nil {
			t.Fatal(err)
		}
		if on, _ := got[c.field].(bool); on != c.want {
			t.Fatalf("tenant update %s: %s = %v", c.flag, c.field, got[c.field])
		}
	}
	// Source mode needs a registered backend; its TTL has bounds.
	if code, _, errs := cli(t, p, "tenant", "update", "acme", "--source"); code == 0 || !strings.Contains(errs, "source mode needs a registered backend") {
		t.Fatalf("tenant update --source without a backend: %d %q", code, errs)
	}
	if code, _, errs := cli(t, p, "tenant", "update", "acme", "--source-ttl", "1s"); code == 0 || !strings.Contains(errs, "source TTL 1s is outside") {
		t.Fatalf("tenant update --source-ttl 1s: %d %q", code, errs)
	}
	mustCLI(t, p, "tenant", "update", "acme", "--source-ttl", "30s")
	var src struct {
		Source tenants.SourceSettings `json:"source"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, p, "--json", "tenant", "get", "acme")), &src); err != nil || src.Source.Enabled || src.Source.TTL.D() != 30*time.Second {
		t.Fatalf("tenant get after --source-ttl 30s: %+v, %v", src, err)
	}
	key := strings.TrimSpace(mustCLI(t, p, "apikey", "create", "--tenant", "acme", "--name", "backend"))
	if !regexp.MustCompile(`^pk_[a-z2-7]{12}_[a-z2-7]+$`).MatchString(key) {
		t.Fatalf("apikey create printed %q, want the key alone", key)
	}
	if out := mustCLI(t, p, "apikey", "list", "--tenant", "acme"); !strings.Contains(out, "backend") || strings.Contains(out, key) {
		t.Fatalf("apikey list = %q", out)
	}
	mustCLI(t, p, "account", "put", "--tenant", "acme", "--file", "../../tenants/account/testdata/account.json")
	if out := mustCLI(t, p, "account", "get", "--tenant", "acme", "acc_7Hq2LmX9"); !strings.Contains(out, "Hauptstraße 12") {
		t.Fatalf("account get = %q", out)
	}
	// The storage quota: set by the operator, shown with the usage, enforced on the next write.
	mustCLI(t, p, "tenant", "update", "acme", "--max-accounts", "1", "--max-account-bytes", "500000")
	if out := mustCLI(t, p, "tenant", "get", "acme"); !strings.Contains(out, "accounts:    1 of 1") || !strings.Contains(out, "of 500000") {
		t.Fatalf("tenant get after the quota update = %q", out)
	}
	second := filepath.Join(t.TempDir(), "second.json")
	os.WriteFile(second, []byte(`{"id":"second","name":"Second","currency":"EUR"}`), 0o600)
	if code, _, errOut := cli(t, p, "account", "put", "--tenant", "acme", "--file", second); code == 0 || !strings.Contains(errOut, "max-accounts") {
		t.Fatalf("account put over max-accounts: exit %d, %q", code, errOut)
	}
	mustCLI(t, p, "tenant", "update", "acme", "--max-accounts", "0")
	url := strings.TrimSpace(mustCLI(t, p, "link", "--tenant", "acme", "--alias", "crm-001234"))
	if !regexp.MustCompile(`^https://acme\.portal\.localhost/s/[A-Za-z0-9_-]{43}$`).MatchString(url) {
		t.Fatalf("link printed %q", url)
	}
	// Environment variables stand in for flags.
	t.Setenv("PORTICO_JSON", "true")
	var tn map[string]any
	if err := json.Unmarshal([]byte(mustCLI(t, p, "tenant", "get", "acme")), &tn); err != nil || tn["name"] != "ACME Corp" {
		t.Fatalf("PORTICO_JSON not applied: %v", err)
	}
	os.Unsetenv("PORTICO_JSON")
	// Failures are reported, not swallowed.
	for _, args := range [][]string{
		{"tenant", "create", "--slug", "acme", "--name", "Again"},
		{"tenant", "create", "--slug", "Not A Slug", "--name", "x"},
		{"tenant", "get", "nobody"},
		{"account", "put", "--tenant", "acme", "--file", "main.go"},
		{"link", "--tenant", "acme", "--account", "nope"},
		{"tenant", "create", "--slug", "x", "--name", "x", "--logo", "main.go"},
	} {
		if code, _, errs := cli(t, p, args...); code == 0 || !strings.HasPrefix(errs, "portico: ") {
			t.Errorf("portico %v: exit %d, stderr %q", args, code, errs)
		}
	}
	// Custom domains: add prints the records and the claim's expiry; a pending claim blocks no
	// other tenant; names under the base domain are refused.
	if out := mustCLI(t, p, "--json=false", "domain", "add", "--tenant", "acme", "billing.acme.example"); !strings.Contains(out, "_portico-challenge.billing.acme.example") || !strings.Contains(out, "pending") || !strings.Contains(out, "verify before") {
		t.Fatalf("domain add = %q", out)
	}
	if code, _, errs := cli(t, p, "domain", "add", "--tenant", "acme", "billing.acme.example"); code == 0 || !strings.Contains(errs, "already added") {
		t.Fatalf("acme adds its domain twice: %d %q", code, errs)
	}
	mustCLI(t, p, "tenant", "create", "--slug", "other", "--name", "Other")
	mustCLI(t, p, "domain", "add", "--tenant", "other", "billing.acme.example")
	if code, _, errs := cli(t, p, "domain", "add", "--tenant", "other", "acme.portal.localhost"); code == 0 || !strings.Contains(errs, "Portico's own domain") {
		t.Fatalf("other tenant adds acme's portal host: %d %q", code, errs)
	}
	z := dnstest.Start(t)
	if out := mustCLI(t, p, "domain", "verify", "--tenant", "acme", "--dns-resolver", z.Addr, "billing.acme.example"); !strings.Contains(out, "pending") || !strings.Contains(out, "last check") {
		t.Fatalf("domain verify = %q", out)
	}
	if out := mustCLI(t, p, "domain", "list", "--tenant", "acme"); !strings.Contains(out, "billing.acme.example") {
		t.Fatalf("domain list = %q", out)
	}
	mustCLI(t, p, "domain", "remove", "--tenant", "acme", "billing.acme.example")
	id := strings.Fields(strings.Split(mustCLI(t, p, "--json=false", "apikey", "list", "--tenant", "acme"), "\n")[1])[0]
	mustCLI(t, p, "apikey", "revoke", "--tenant", "acme", id)
	mustCLI(t, p, "account", "delete", "--tenant", "acme", "acc_7Hq2LmX9")
	mustCLI(t, p, "tenant", "delete", "acme")
	if code, _, _ := cli(t, p, "tenant", "get", "acme"); code == 0 {
		t.Fatal("tenant still there after delete")
	}
}

// TestServeLifecycle runs the real binary: embedded etcd, demo seeding, a portal link opened over
// HTTP, SIGTERM, and a restart on the same data directory that still has the data.
func TestServeLifecycle(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portico")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	ports := make([]int, 4)
	for i := range ports {
		ports[i], _ = etcdtest.FreePort()
	}
	args := []string{"serve", "--dev", "--demo", "--data-dir", data, "--webhook-allow-cidr", "127.0.0.0/8",
		"--etcd-listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--etcd-peer-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]), "--admin-addr", fmt.Sprintf("127.0.0.1:%d", ports[3])}

	start := func() (*exec.Cmd, string, *syncbuf.Buffer) {
		cmd := exec.Command(bin, args...)
		var stdout syncbuf.Buffer
		cmd.Stdout = &stdout
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logs := &syncbuf.Buffer{}
		ready := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			once := false
			for sc.Scan() {
				logs.Write([]byte(sc.Text() + "\n"))
				if !once && strings.Contains(sc.Text(), "portico ready") {
					once = true
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-time.After(testwait.Patience):
			cmd.Process.Kill()
			t.Fatalf("not ready after %v:\n%s", testwait.Patience, logs)
		}
		etcdtest.Wait(t, "demo link printed", func() bool { return strings.Contains(stdout.String(), "pk_") })
		link := regexp.MustCompile(`http://demo\.portal\.localhost:\d+/s/\S+`).FindString(stdout.String())
		return cmd, link, logs
	}
	stop := func(cmd *exec.Cmd, logs *syncbuf.Buffer) {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("exit after SIGTERM: %v\n%s", err, logs)
			}
		case <-time.After(testwait.Patience):
			cmd.Process.Kill()
			t.Fatalf("no exit %v after SIGTERM", testwait.Patience)
		}
	}

	cmd, link, logs := start()
	if !strings.Contains(logs.String(), "development mode") {
		t.Error("dev mode not announced at start-up")
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
		}},
	}
	resp, err := client.Get(link)
	if err != nil || resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("open demo link %q: %v %v", link, err, resp)
	}
	req, _ := http.NewRequest("GET", strings.Split(link, "/s/")[0]+"/", nil)
	req.AddCookie(resp.Cookies()[0])
	page, err := client.Do(req)
	if err != nil || page.StatusCode != 200 {
		t.Fatalf("portal page: %v %v", err, page)
	}
	body, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(body), "Acme Cloud") || !strings.Contains(string(body), "GLX-0006") {
		t.Fatal("portal page lacks the demo tenant's data")
	}
	// The first link a new user opens is in English, as the README shows the portal (Globex's own
	// language, German, is offered second).
	if !strings.Contains(string(body), `<html lang="en"`) {
		t.Errorf("the demo link does not open the portal in English:\n%.300s", body)
	}
	// The admin listener: ready, and metrics that counted the page view and etcd calls.
	admin := fmt.Sprintf("http://127.0.0.1:%d", ports[3])
	if r, err := http.Get(admin + "/readyz"); err != nil || r.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", err, r)
	}
	r, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(r.Body)
	for _, want := range []string{`portico_http_requests_total{class="page",code="2xx"} 1`, `portico_etcd_request_seconds_bucket{kind="get"`, "portico_store_watching 1"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	stop(cmd, logs)
	if !strings.Contains(logs.String(), "stopped") {
		t.Fatalf("no clean stop logged:\n%s", logs)
	}
	// Restart on the same data: the demo is seeded idempotently and the old link stays used.
	cmd, link2, logs := start()
	defer stop(cmd, logs)
	if link2 == link || link2 == "" {
		t.Fatalf("second start printed link %q", link2)
	}
	resp, err = client.Get(link)
	if err != nil || resp.StatusCode != 410 {
		t.Fatalf("first link after restart: %v %v, want 410", err, resp)
	}
	var errb bytes.Buffer
	if code := run([]string{"--etcd-endpoints", fmt.Sprintf("http://127.0.0.1:%d", ports[0]), "--json", "tenant", "list"}, io.Discard, &errb); code != 0 {
		t.Fatalf("tenant list against the served etcd: %s", errb.String())
	}
	checkDemoBackend(t, bin, fmt.Sprintf("http://127.0.0.1:%d", ports[0]), logs)
}

// checkDemoBackend: serve --demo runs the example backend for the demo tenant (it answers a
// signed ping), and `portico backend-example --tenant demo` replaces it while it runs and
// removes its registration on SIGINT.
func checkDemoBackend(t *testing.T, bin, endpoint string, logs *syncbuf.Buffer) {
	t.Helper()
	ctx := context.Background()
	etcdtest.Wait(t, "the demo's example backend registered", func() bool { return strings.Contains(logs.String(), "example billing backend") })
	s, done, err := (&globals{prefix: "/portico/", stderr: io.Discard, etcdRequestTimeout: testwait.Patience}).connect(ctx, []string{endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	tn, err := s.Tenant(ctx, demoSlug)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sealingKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ := backend.New(backend.Config{Store: s, Keyring: ring, AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if r, err := svc.Ping(ctx, tn.ID); err != nil || r.Message != "pong" {
		t.Fatalf("ping the demo's backend: %+v, %v\n%s", r, err, logs)
	}
	ex := exec.Command(bin, "--etcd-endpoints", endpoint, "backend-example", "--tenant", demoSlug)
	var out syncbuf.Buffer
	ex.Stdout = &out
	var errs syncbuf.Buffer
	ex.Stderr = &errs
	if err := ex.Start(); err != nil {
		t.Fatal(err)
	}
	defer ex.Process.Kill()
	etcdtest.Wait(t, "backend-example registered", func() bool { return strings.Contains(errs.String(), "registered as the backend of tenant demo") })
	url := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`).FindString(errs.String())
	if ep, err := svc.Get(ctx, tn.ID); err != nil || ep.URL != url {
		t.Fatalf("registration while backend-example runs: %+v, %v (printed %q)", ep, err, url)
	}
	if r, err := svc.Ping(ctx, tn.ID); err != nil || r.Result != backend.Succeeded {
		t.Fatalf("ping backend-example: %+v, %v\n%s", r, err, errs.String())
	}
	etcdtest.Wait(t, "backend-example to log the request", func() bool { return strings.Contains(out.String(), " ping key=") })
	ex.Process.Signal(syscall.SIGINT)
	if err := ex.Wait(); err != nil {
		t.Fatalf("backend-example after SIGINT: %v\n%s", err, errs.String())
	}
	if _, err := svc.Get(ctx, tn.ID); !errors.Is(err, backend.ErrNoBackend) {
		t.Fatalf("registration after backend-example stopped: %v", err)
	}
}

// TestServeHTTPS runs the binary with --https-addr against Pebble: the demo tenant's host gets a
// certificate on its first handshake, plain HTTP redirects, and HTTPS answers carry HSTS.
func TestServeHTTPS(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portico")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ports := make([]int, 5)
	for i := range ports {
		ports[i], _ = etcdtest.FreePort()
	}
	httpPort, tlsPort := ports[2], ports[3]
	p := pebbletest.Start(t, pebbletest.Options{HTTPPort: httpPort, TLSPort: tlsPort})
	p.AddHost("demo.portal.localhost")
	root := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(root, p.DirectoryCA(), 0o600)
	cmd := exec.Command(bin, "serve", "--demo", "--data-dir", t.TempDir(),
		"--etcd-listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--etcd-peer-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--https-addr", fmt.Sprintf("127.0.0.1:%d", tlsPort),
		"--admin-addr", fmt.Sprintf("127.0.0.1:%d", ports[4]), "--public-port", fmt.Sprint(tlsPort),
		"--acme-ca", p.DirectoryURL(), "--acme-ca-root", root, "--acme-email", "ops@portico.test")
	var stdout, stderr syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	etcdtest.Wait(t, "demo link printed", func() bool { return strings.Contains(stdout.String(), "pk_") })
	link := regexp.MustCompile(`https://demo\.portal\.localhost:\d+/s/\S+`).FindString(stdout.String())
	if link == "" {
		t.Fatalf("no https link printed:\n%s\n%s", stdout.String(), stderr.String())
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: p.IssuerPool()},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, "tcp", "127.0.0.1:"+port)
			},
		},
	}
	resp, err := client.Get(link)
	if err != nil {
		t.Fatalf("GET %s: %v\n%s", link, err, stderr.String())
	}
	if resp.StatusCode != 303 || resp.TLS == nil || resp.TLS.PeerCertificates[0].VerifyHostname("demo.portal.localhost") != nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("redeem over HTTPS: %d %v", resp.StatusCode, resp.Header)
	}
	resp, err = client.Get(fmt.Sprintf("http://demo.portal.localhost:%d/anything", httpPort))
	if err != nil || resp.StatusCode != 308 || resp.Header.Get("Location") != fmt.Sprintf("https://demo.portal.localhost:%d/anything", tlsPort) {
		t.Fatalf("plain HTTP: %v %v", err, resp)
	}
}

// TestSealKeyRotation rotates the sealing key under a running installation: cookies sealed before
// keep working, webhook secrets survive the old key's retirement.
func TestSealKeyRotation(t *testing.T) {
	p := etcdtest.Prefix(t)
	ctx := context.Background()
	s, done, err := (&globals{prefix: p, stderr: io.Discard, etcdRequestTimeout: testwait.Patience}).connect(ctx, []string{srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := s.EnsureSealKey(ctx); err != nil {
		t.Fatal(err)
	}
	tn, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: "rot", Name: "Rot"})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := sealingKeys(s)
	cookie, _ := session.Seal(old, tn.ID, &session.Session{ID: []byte("ps_x"), AccountID: []byte("a"), Expires: time.Now().Add(time.Hour).Unix()})
	svc, _ := webhooks.New(webhooks.Config{Store: s, Keyring: old, AllowHTTP: true})
	bsvc, _ := backend.New(backend.Config{Store: s, Keyring: old})
	_, bsecret, err := bsvc.Register(ctx, tn.ID, "https://billing.rot.example/portico")
	if err != nil {
		t.Fatal(err)
	}
	ep, secret, err := svc.CreateEndpoint(ctx, tn.ID, webhooks.EndpointRequest{URL: "https://hooks.example/x"})
	if err != nil {
		t.Fatal(err)
	}
	oldID := s.SealKeys()[0].ID
	mustCLI(t, p, "sealkey", "rotate")
	etcdtest.Wait(t, "new key watched", func() bool { return len(s.SealKeys()) == 2 })
	ring, _ := sealingKeys(s)
	var sc session.Scratch
	var out session.Session
	if err := session.Open(ring, tn.ID, []byte(cookie), time.Now().Unix(), &sc, &out); err != nil {
		t.Fatalf("cookie of the old key after rotation: %v", err)
	}
	if c2, _ := session.Seal(ring, tn.ID, &out); strings.HasPrefix(c2, oldID+".") {
		t.Fatal("new cookies still sealed with the old key")
	}
	// Retiring right away is refused; with --force it re-seals the webhook secret first.
	if code, _, errs := cli(t, p, "sealkey", "retire", oldID); code == 0 || !strings.Contains(errs, "still in use") {
		t.Fatalf("early retire: %d %s", code, errs)
	}
	mustCLI(t, p, "sealkey", "retire", "--force", oldID)
	etcdtest.Wait(t, "old key gone", func() bool { return len(s.SealKeys()) == 1 })
	ring, _ = sealingKeys(s)
	svc2, _ := webhooks.New(webhooks.Config{Store: s, Keyring: ring, AllowHTTP: true})
	id, err := svc2.SendTest(ctx, tn.ID, ep.ID)
	if err != nil || id == "" {
		t.Fatalf("endpoint after retire: %v", err)
	}
	// The stored secret opens with the remaining key and is the one handed out at creation.
	raw, err := s.Client().Get(ctx, p+"webhooks/endpoints/"+tn.ID+"/"+ep.ID)
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("endpoint record: %v", err)
	}
	var rec struct {
		Secret []byte `json:"secret"`
	}
	json.Unmarshal(raw.Kvs[0].Value, &rec)
	key, err := ring.OpenBytes("portico-webhook-secret/"+tn.ID+"/"+ep.ID, rec.Secret)
	if err != nil || webhooks.FormatSecret(key) != secret {
		t.Fatalf("re-sealed secret: %v", err)
	}
	// So is the backend's.
	raw, err = s.Client().Get(ctx, s.BackendKey(tn.ID))
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("backend record: %v", err)
	}
	json.Unmarshal(raw.Kvs[0].Value, &rec)
	if key, err := ring.OpenBytes("portico-backend-secret/"+tn.ID, rec.Secret); err != nil || webhooks.FormatSecret(key) != bsecret {
		t.Fatalf("re-sealed backend secret: %v", err)
	}
}

// TestServeRefusesBadFlags: out-of-range delivery and cache settings, and proxies that are no
// address range or a header Portico does not read, stop serve before it starts
// anything, with the flag named.
func TestServeRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ flag, value string }{
		{"--webhook-timeout", "0s"},
		{"--webhook-timeout", "10m"},
		{"--webhook-concurrency", "0"},
		{"--webhook-concurrency", "5000"},
		{"--account-cache-size", "0"},
		{"--memory-limit-mb", "10"},
		{"--memory-limit-mb", "-1"},
		{"--etcd-request-timeout", "0s"},
		{"--etcd-request-timeout", "10m"},
		{"--trusted-proxy", "10.0.0.0/33"},
		{"--trusted-proxy", "proxy.internal"},
		{"--trusted-proxy-header", "X-Real-IP"},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"serve", "--data-dir", t.TempDir(), tc.flag, tc.value}, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tc.flag+" "+tc.value) {
			t.Errorf("serve %s %s: exit %d, stderr %q", tc.flag, tc.value, code, errb.String())
		}
	}
}
