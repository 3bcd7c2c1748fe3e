// Package e2e_test runs the `portico` binary as `make run` does (`serve --dev --demo`: embedded
// etcd, the demo tenant, a real SMTP server for its mail) and drives the customer portal and the
// tenant dashboard in headless Chromium: every page in each shipped language at phone and desktop
// widths, with axe-core asserting zero accessibility violations, keyboard-only flows, and
// screenshots saved to test-artifacts/.
package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
	"github.com/portico-billing/portico/mail/mailtest"
)

// build builds the portico binary once, for the first test that starts a stack (a run that
// selects no test here builds nothing).
var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

func portico(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "portico-e2e-")
		if build.err != nil {
			return
		}
		build.bin = filepath.Join(build.dir, "portico")
		if out, err := exec.Command("go", "build", "-o", build.bin, "../cmd/portico").CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// demo is what `portico --json serve --demo` prints once the demo tenant is seeded.
type demo struct {
	Tenant     string `json:"tenant"`
	PortalLink string `json:"portalLink"`
	APIKey     string `json:"apiKey"`
	API        string `json:"api"`
	Dashboard  string `json:"dashboard"`
	Admin      string `json:"admin"`
	Password   string `json:"password"`
}

// stack is a running `portico serve --dev --demo`.
type stack struct {
	t      *testing.T
	demo   demo
	port   int    // the HTTP listener
	etcd   string // the embedded etcd's client URL
	smtp   *mailtest.Server
	logs   *syncbuf.Buffer
	client *http.Client
	// seeded is the Globex account document as the demo seeded it (its dates are relative to
	// the day of seeding), which resetAccount puts back.
	seeded map[string]any
}

// startStack starts the binary on free loopback ports with its own data directory and stops it
// (SIGTERM) when the test ends.
func startStack(t *testing.T) *stack {
	t.Helper()
	ports := make([]int, 4)
	for i := range ports {
		p, err := etcdtest.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	s := &stack{t: t, port: ports[2], etcd: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), smtp: mailtest.Start(t, mailtest.Options{}), logs: &syncbuf.Buffer{}}
	cmd := exec.Command(portico(t), "--json", "--etcd-request-timeout", "3m", "serve", "--dev", "--demo", "--data-dir", t.TempDir(),
		"--etcd-listen", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--etcd-peer-listen", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", ports[2]), "--admin-addr", fmt.Sprintf("127.0.0.1:%d", ports[3]),
		"--webhook-allow-cidr", "127.0.0.0/8", "--smtp-addr", s.smtp.Addr, "--smtp-tls", "none",
		"--smtp-from", "Acme Cloud Billing <billing@acme-cloud.example>")
	var stdout syncbuf.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed once the process ended; exitErr is how.
	exited := make(chan struct{})
	var exitErr error
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.logs.Write([]byte(sc.Text() + "\n"))
		}
		exitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
			return // already gone (and reported)
		default:
		}
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
			if exitErr != nil {
				t.Errorf("portico serve exited with %v after SIGTERM\n%s", exitErr, s.logs)
			}
		case <-time.After(testwait.Patience):
			cmd.Process.Kill()
			t.Errorf("portico serve did not stop %v after SIGTERM", testwait.Patience)
		}
	})
	etcdtest.Wait(t, "the demo tenant printed", func() bool {
		select {
		case <-exited:
			t.Fatalf("portico serve exited: %v\n%s", exitErr, s.logs)
		default:
		}
		return json.Unmarshal([]byte(stdout.String()), &s.demo) == nil && s.demo.APIKey != ""
	})
	// Every *.localhost name is this listener.
	s.client = &http.Client{
		Timeout:       testwait.Patience,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", s.port))
		}},
	}
	s.seeded = s.account()
	return s
}

// subscription is one of Globex's subscriptions as stored, read through the API.
func (s *stack) subscription(id string) map[string]any {
	s.t.Helper()
	for _, v := range s.account()["subscriptions"].([]any) {
		if sub := v.(map[string]any); sub["id"] == id {
			return sub
		}
	}
	s.t.Fatalf("no subscription %s", id)
	return nil
}

// in is the stack seen from a subtest: its failures fail t.
func (s *stack) in(t *testing.T) *stack {
	c := *s
	c.t = t
	return &c
}

// cli runs a `portico` operator command against the stack's etcd and returns its output.
func (s *stack) cli(args ...string) string {
	s.t.Helper()
	out, err := exec.Command(portico(s.t), append([]string{"--etcd-endpoints", s.etcd}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("portico %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// api calls the tenant API with the demo key and decodes a JSON answer into out (when not nil);
// it fails the test unless the status is want.
func (s *stack) api(method, path string, body any, want int, out any) {
	s.t.Helper()
	if status, raw := s.call(method, path, body, out); status != want {
		s.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
	}
}

// call calls the tenant API with the demo key and returns the status and the body, decoded into
// out (when not nil) if the status is 2xx.
func (s *stack) call(method, path string, body any, out any) (int, []byte) {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.demo.API+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.demo.APIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 == 2 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.t.Fatalf("%s %s: decoding %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// session creates a portal session for the demo's Globex account with extra request fields and
// returns its single-use URL.
func (s *stack) session(fields map[string]any) string {
	s.t.Helper()
	req := map[string]any{"accountId": globex}
	for k, v := range fields {
		req[k] = v
	}
	var res struct {
		SessionURL string `json:"sessionUrl"`
	}
	s.api("POST", "/portal/customer-session/customer-portal", req, 201, &res)
	if !strings.Contains(res.SessionURL, "/s/") {
		s.t.Fatalf("session URL %q", res.SessionURL)
	}
	return res.SessionURL
}

// account reads the Globex account document through the API.
func (s *stack) account() map[string]any {
	s.t.Helper()
	var a map[string]any
	s.api("GET", "/v1/accounts/"+globex, nil, 200, &a)
	return a
}

// resetAccount puts the demo's Globex account document back as seeded, undoing what a tour
// changed.
func (s *stack) resetAccount() {
	s.t.Helper()
	s.api("PUT", "/v1/accounts/"+globex, s.seeded, 200, nil)
}

// globex is the demo account the tours use.
const globex = "acc_7Hq2LmX9"

// pdfText extracts the text of a PDF with pdftotext (poppler-utils, installed by `make deps`).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatal("pdftotext not found: install poppler-utils (`make deps` does)")
	}
	cmd := exec.Command(tool, "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// pdfPages counts the pages of a PDF with pdfinfo (poppler-utils).
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	f := filepath.Join(t.TempDir(), "printed.pdf")
	if err := os.WriteFile(f, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdfinfo", f).Output()
	if err != nil {
		t.Fatalf("pdfinfo: %v", err)
	}
	var n int
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "Pages:"); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return n
}
