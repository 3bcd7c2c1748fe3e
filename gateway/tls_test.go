package gateway

import (
	"context"
	"errors"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestDecide(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.tenant("decide")
	for name, ok := range map[string]bool{
		"api." + base: true, "dashboard." + base: true, "decide." + base: true, "DECIDE." + base + ".": true,
		"nobody." + base: false, "a.decide." + base: false, "evil.example": false, base: false,
	} {
		err := h.gw.Decide(context.Background(), name)
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrNotOurs)) {
			t.Errorf("Decide(%q) = %v, want allowed=%v", name, err, ok)
		}
	}
}

func TestRedirectHandler(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.tenant("redir")
	handler := h.gw.RedirectHandler(func(ctx *fasthttp.RequestCtx) bool {
		if string(ctx.Path()) == "/.well-known/acme-challenge/tok" {
			ctx.SetBodyString("tok.key")
			return true
		}
		return false
	}, 8443)
	run := func(host, uri string) *fasthttp.Response {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		req.SetRequestURI(uri)
		req.Header.SetHost(host)
		ctx.Init(&req, nil, nil)
		handler(&ctx)
		return &ctx.Response
	}
	if r := run("redir."+base, "/s/abc?x=1"); r.StatusCode() != 308 || string(r.Header.Peek("Location")) != "https://redir."+base+":8443/s/abc?x=1" {
		t.Fatalf("redirect: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
	if r := run("anything.example", "/.well-known/acme-challenge/tok"); r.StatusCode() != 200 || string(r.Body()) != "tok.key" {
		t.Fatalf("challenge: %d %q", r.StatusCode(), r.Body())
	}
	if r := run("evil.example", "/"); r.StatusCode() != 404 || len(r.Header.Peek("Location")) != 0 {
		t.Fatalf("unknown host: %d %q", r.StatusCode(), r.Header.Peek("Location"))
	}
}
