package etcdtest

import (
	"os"
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
