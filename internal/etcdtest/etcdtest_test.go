package etcdtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var srv *Server

func TestMain(m *testing.M) { os.Exit(Main(m, &srv)) }

func TestRoundTripAndIsolation(t *testing.T) {
	c := srv.Client(t)
	ctx := Ctx(t)
	p1, p2 := Prefix(t), Prefix(t)
	if p1 == p2 {
		t.Fatalf("Prefix returned %q twice", p1)
	}
	if _, err := c.Put(ctx, p1+"k", "v"); err != nil {
		t.Fatal(err)
	}
	r, err := c.Get(ctx, p1+"k")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("Get = %v, %v", r, err)
	}
	r, _ = c.Get(ctx, p2+"k")
	if len(r.Kvs) != 0 {
		t.Fatal("prefixes are not isolated")
	}
}

// TestFreePortReservedAcrossProcesses: a port FreePort handed out is reserved against every other
// test process; reserve, which opens the port's file anew, stands in for the other process (flock
// locks belong to an open file, not to a process).
func TestFreePortReservedAcrossProcesses(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if reserve(port) {
		t.Fatalf("port %d could be reserved again while this process holds it", port)
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), "portico-test-ports", strconv.Itoa(port))); err != nil {
		t.Fatalf("no reservation file: %v", err)
	}
}
