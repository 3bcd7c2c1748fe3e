package main

import (
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
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/internal/testwait"
)

// command runs one of this file's commands with the global flags a command line would set.
func command(mk func(*globals) *cobra.Command, g globals, args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	g.stdout, g.stderr = &out, &errb
	if g.prefix == "" {
		g.prefix = "/portico/"
	}
	cmd := mk(&g)
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

// servedInstance is a `portico serve` process with an embedded etcd.
type servedInstance struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	exited         chan struct{}
}

func startServe(t *testing.T, bin string, args ...string) *servedInstance {
	t.Helper()
	s := &servedInstance{cmd: exec.Command(bin, args...), stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, exited: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.stdout, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.stop(t) })
	etcdtest.Wait(t, "portico ready", func() bool {
		select {
		case <-s.exited:
			t.Fatalf("portico serve exited:\n%s", s.stderr)
		default:
		}
		return strings.Contains(s.stderr.String(), "portico ready")
	})
	return s
}

func (s *servedInstance) stop(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(testwait.Patience):
		s.cmd.Process.Kill()
		t.Errorf("no exit %v after SIGTERM:\n%s", testwait.Patience, s.stderr)
	}
}

// TestBackupAndRestore backs up a running installation, restores the snapshot into a fresh data
// directory and serves it: the tenants, accounts and API keys are there and new links work.
func TestBackupAndRestore(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "portico")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ports := make([]int, 8)
	for i := range ports {
		ports[i], _ = etcdtest.FreePort()
	}
	addr := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", ports[i]) }
	serveArgs := func(dir string, first int) []string {
		return []string{"serve", "--dev", "--data-dir", dir, "--etcd-listen", addr(first), "--etcd-peer-listen", addr(first + 1),
			"--http-addr", addr(first + 2), "--admin-addr", addr(first + 3)}
	}

	// An installation with the demo tenant and one more tenant with an account.
	orig := t.TempDir()
	s1 := startServe(t, bin, append(serveArgs(orig, 0), "--demo")...)
	etcdtest.Wait(t, "demo seeded", func() bool { return strings.Contains(s1.stdout.String(), "pk_") })
	demoKey := regexp.MustCompile(`pk_[a-z2-7]+_[a-z2-7]+`).FindString(s1.stdout.String())
	g1 := globals{endpoints: "http://" + addr(0)}
	cli := func(g globals, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"--etcd-endpoints", g.endpoints}, args...), &out, &errb); code != 0 {
			t.Fatalf("portico %s: %s", strings.Join(args, " "), errb.String())
		}
		return out.String()
	}
	cli(g1, "tenant", "create", "--slug", "globex", "--name", "Globex Portal", "--primary-color", "#123456")
	cli(g1, "account", "put", "--tenant", "globex", "--file", "../../tenants/account/testdata/account.json")
	used := strings.TrimSpace(cli(g1, "link", "--tenant", "globex", "--account", "acc_7Hq2LmX9"))

	// Back up. The file appears whole, with nothing left beside it.
	backups := t.TempDir()
	file := filepath.Join(backups, "portico.snapshot")
	out, _, err := command(backupCmd, g1, file)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	m := regexp.MustCompile(`to .*portico\.snapshot: (\d+) bytes, revision (\d+), (\d+) keys`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup printed %q", out)
	}
	if entries, _ := os.ReadDir(backups); len(entries) != 1 {
		t.Fatalf("backup directory holds %d entries, want the snapshot alone", len(entries))
	}
	if fi, err := os.Stat(file); err != nil || fmt.Sprint(fi.Size()) != m[1] || fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot file: %v %v", fi, err)
	}
	t.Logf("backup: %s", strings.TrimSpace(out))
	s1.stop(t)

	// A backup of nothing fails and leaves nothing.
	if _, _, err := command(backupCmd, globals{endpoints: "http://" + addr(0)}, filepath.Join(backups, "none")); err == nil {
		t.Fatal("backup of a stopped etcd succeeded")
	}
	if entries, _ := os.ReadDir(backups); len(entries) != 1 {
		t.Fatal("a failed backup left a file behind")
	}

	// Restore: never over existing data; into a fresh directory, for the peer URL serve will use.
	if _, _, err := command(restoreCmd, globals{}, file, "--data-dir", orig, "--etcd-peer-listen", addr(5)); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("restore over existing data: %v", err)
	}
	if _, _, err := command(restoreCmd, globals{}, filepath.Join(backups, "missing"), "--data-dir", t.TempDir()); err == nil {
		t.Fatal("restore of a missing file succeeded")
	}
	restored := filepath.Join(t.TempDir(), "restored")
	out, _, err = command(restoreCmd, globals{}, file, "--data-dir", restored, "--etcd-peer-listen", addr(5))
	if err != nil || !strings.Contains(out, "revision "+m[2]) {
		t.Fatalf("restore: %v %q", err, out)
	}
	t.Logf("restore: %s", strings.TrimSpace(out))

	// Serve the restored directory: same tenants, accounts and keys; links work.
	s2 := startServe(t, bin, serveArgs(restored, 4)...)
	g2 := globals{endpoints: "http://" + addr(4)}
	var list []map[string]any
	if err := json.Unmarshal([]byte(cli(g2, "--json", "tenant", "list")), &list); err != nil || len(list) != 2 {
		t.Fatalf("tenant list after restore: %v %v", list, err)
	}
	if out := cli(g2, "tenant", "get", "globex"); !strings.Contains(out, "#123456") {
		t.Fatalf("tenant get after restore: %q", out)
	}
	if out := cli(g2, "account", "get", "--tenant", "globex", "acc_7Hq2LmX9"); !strings.Contains(out, "Hauptstraße 12") {
		t.Fatalf("account get after restore: %q", out)
	}
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr(6))
		}},
	}
	link := strings.TrimSpace(cli(g2, "link", "--tenant", "globex", "--account", "acc_7Hq2LmX9"))
	resp, err := client.Get(link)
	if err != nil || resp.StatusCode != 303 || len(resp.Cookies()) != 1 {
		t.Fatalf("open a new link on the restored installation %q: %v %v", link, err, resp)
	}
	req, _ := http.NewRequest("GET", strings.Split(link, "/s/")[0]+"/", nil)
	req.AddCookie(resp.Cookies()[0])
	page, err := client.Do(req)
	if err != nil || page.StatusCode != 200 {
		t.Fatalf("portal page: %v %v", err, page)
	}
	body, _ := io.ReadAll(page.Body)
	if !strings.Contains(string(body), "Globex Corporation") || !strings.Contains(string(body), "Globex Portal") {
		t.Fatal("portal page lacks the restored tenant's account")
	}
	// The link that was issued (not used) before the backup is in the snapshot too; the demo's API
	// key still authenticates.
	_, tok, _ := strings.Cut(used, "/s/")
	if resp, err := client.Get(strings.Split(link, "/s/")[0] + "/s/" + tok); err != nil || resp.StatusCode != 303 {
		t.Fatalf("link issued before the backup: %v %v", err, resp)
	}
	req, _ = http.NewRequest("GET", "http://api.portal.localhost/v1/accounts?limit=10", nil)
	req.Header.Set("Authorization", "Bearer "+demoKey)
	if resp, err := client.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("demo API key after restore: %v %v", err, resp)
	}
	s2.stop(t)
	if strings.Contains(s2.stderr.String(), "level=ERROR") {
		t.Errorf("errors logged by the restored installation:\n%s", s2.stderr)
	}
}

// TestBackupOfCluster snapshots a three-member cluster from its leader, still works with a
// member down, and refuses a cluster without quorum, whose members may be behind.
func TestBackupOfCluster(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	if _, err := c.Client(t).Put(context.Background(), "/portico/state/meta/x", "y"); err != nil {
		t.Fatal(err)
	}
	g := globals{endpoints: strings.Join(c.Endpoints(), ",")}
	dir := t.TempDir()
	leader := c.WaitLeader(t)
	out, _, err := command(backupCmd, g, filepath.Join(dir, "a.snapshot"))
	if err != nil || !strings.Contains(out, "member "+c.Members[leader].Name+" ") {
		t.Fatalf("backup of the cluster (leader %s): %v %q", c.Members[leader].Name, err, out)
	}
	c.Kill(leader)
	c.WaitLeader(t)
	if out, _, err := command(backupCmd, g, filepath.Join(dir, "b.snapshot")); err != nil {
		t.Fatalf("backup with a member down: %v %q", err, out)
	}
	other := (leader + 1) % 3
	survivor := (leader + 2) % 3
	c.Kill(other)
	etcdtest.Wait(t, "the survivor without a leader", func() bool { return c.Members[survivor].Etcd().Server.Leader() == 0 })
	_, _, err = command(backupCmd, g, filepath.Join(dir, "c.snapshot"))
	if err == nil || !strings.Contains(err.Error(), "no leader") {
		t.Fatalf("backup without quorum: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "c.snapshot")); !os.IsNotExist(err) {
		t.Fatal("a refused backup left a file")
	}
}
