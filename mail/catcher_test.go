package mail

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/syncbuf"
)

func TestCatch(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var out syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- CatchOn(ctx, ln, &out) }()
	s := sender(t, Config{Addr: addr, TLS: TLSNone})
	if err := s.SendPortalLink(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"mail catcher listening on " + addr, "from portal@portico.example to billing@globex.example",
		"Subject: Your billing portal link from Acme Cloud", link, "expires in 1 hour"} {
		if !strings.Contains(got, want) {
			t.Errorf("catcher output lacks %q:\n%s", want, got)
		}
	}
}
