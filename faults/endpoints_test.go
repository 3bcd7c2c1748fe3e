package faults

import (
	"bytes"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
)

// TestFirstEndpointDown stops the first member of a three-member etcd cluster and starts
// `portico serve --etcd-endpoints m0,m1,m2` against the other two, which are a quorum: it starts
// and serves (readyz, a link created with the CLI and redeemed), and CLI commands work. Once against embedded members of the client's etcd version, once
// against standalone etcd processes of the system's etcd package (Debian's etcd-server), where
// losing the quorum too is checked: the CLI then names every endpoint and what it answered.
//
// It is not parallel: it runs before the load tests, whose figures its processes would disturb.
func TestFirstEndpointDown(t *testing.T) {
	bin := buildPortico(t)
	t.Run("Embedded", func(t *testing.T) {
		c := etcdtest.StartCluster(t, 3)
		c.Kill(0)
		c.WaitLeader(t)
		servesWithFirstMemberDown(t, bin, c.Endpoints())
	})
	t.Run("Standalone", func(t *testing.T) {
		c := startStandalone(t, 3)
		c.Members[0].stop(t)
		c.Members[1].waitHealthy(t)
		servesWithFirstMemberDown(t, bin, c.Endpoints())

		// Without a quorum nothing can answer; the error says what each endpoint answered.
		c.Members[2].stop(t)
		c.Members[1].waitLeaderless(t)
		eps := strings.Join(c.Endpoints(), ",")
		code, _, stderr := runCLI(t, bin, "--etcd-endpoints", eps, "--etcd-wait", "1s", "tenant", "list")
		if code == 0 {
			t.Fatal("tenant list without a quorum: exit 0")
		}
		for _, want := range []string{
			c.Members[0].Endpoint + ": dial tcp", "connection refused",
			c.Members[1].Endpoint + ": member ", "answers but has no leader",
			c.Members[2].Endpoint + ": dial tcp", "does not answer a quorum read within 1s",
		} {
			if !strings.Contains(stderr, want) {
				t.Errorf("tenant list without a quorum: stderr lacks %q:\n%s", want, stderr)
			}
		}
		t.Logf("without a quorum: %s", strings.TrimSpace(stderr))
	})
}

// servesWithFirstMemberDown starts `portico serve` with endpoints (the first one down) and checks
// that it serves and that the CLI works: a tenant, an account and a link created through the CLI,
// the link redeemed on the gateway and its page shown, and a backup taken.
func servesWithFirstMemberDown(t *testing.T, bin string, endpoints []string) {
	t.Helper()
	start := time.Now()
	p := newProcess(t, "gw", bin, endpoints)
	t.Logf("portico serve ready (readyz 200) in %v with %s down", time.Since(start).Round(time.Millisecond), endpoints[0])

	eps := strings.Join(endpoints, ",")
	cli := func(args ...string) string {
		t.Helper()
		start := time.Now()
		code, stdout, stderr := runCLI(t, bin, append([]string{"--etcd-endpoints", eps}, args...)...)
		if code != 0 {
			t.Fatalf("portico %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
		t.Logf("portico %s: %v", args[0]+" "+args[1], time.Since(start).Round(time.Millisecond))
		return stdout
	}
	cli("tenant", "create", "--slug", "down", "--name", "First Member Down")
	if out := cli("tenant", "list"); !strings.Contains(out, "down") {
		t.Fatalf("tenant list = %q", out)
	}
	cli("account", "put", "--tenant", "down", "--file", "../tenants/account/testdata/account.json")
	url := strings.TrimSpace(cli("link", "--tenant", "down", "--account", accountID))
	_, token, ok := strings.Cut(url, "/s/")
	if !ok {
		t.Fatalf("link printed %q", url)
	}
	host := "down." + base
	req, _ := http.NewRequest("GET", "http://"+host+"/s/"+token, nil)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 303 || len(cookies) == 0 {
		t.Fatalf("redeeming the link: %d, %d cookies", resp.StatusCode, len(cookies))
	}
	req, _ = http.NewRequest("GET", "http://"+host+"/", nil)
	req.Header.Set("Cookie", cookies[0].Name+"="+cookies[0].Value)
	resp, err = p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(page.String(), "Globex Corporation") {
		t.Fatalf("customer page: %d, account name shown: %v", resp.StatusCode, strings.Contains(page.String(), "Globex Corporation"))
	}
	// A backup is taken from a member that is up.
	if out := cli("backup", filepath.Join(t.TempDir(), "portico.snap")); strings.Contains(out, endpoints[0]) {
		t.Fatalf("backup = %q, from the member that is down", out)
	}
}

// runCLI runs a portico command and returns its exit code and output.
func runCLI(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running portico %v: %v", args, err)
	}
	return code, out.String(), errb.String()
}
