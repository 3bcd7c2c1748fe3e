package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/valyala/fasthttp"
)

// ErrNotOurs is the on-demand TLS decision for a name Portico does not serve: the handshake fails
// and the CA is never asked.
var ErrNotOurs = errors.New("gateway: not a host Portico serves")

// Decide is the on-demand TLS decision function: a certificate may be issued for the API and
// dashboard hosts, for <slug>.<base-domain> of an existing tenant and for an active custom domain.
// It answers from the in-memory index, without etcd, in well under a millisecond.
func (g *Gateway) Decide(_ context.Context, name string) error {
	host := strings.TrimSuffix(strings.ToLower(name), ".")
	switch {
	case host == g.apiHost || host == g.dashHost:
		return nil
	case strings.HasSuffix(host, g.slugSuffix):
		if _, ok := g.store.TenantBySlug(strings.TrimSuffix(host, g.slugSuffix)); ok {
			return nil
		}
	default:
		if _, ok := g.store.TenantByDomain(host); ok {
			return nil
		}
	}
	return fmt.Errorf("%w: %q", ErrNotOurs, name)
}

// HSTSHandler wraps the HTTPS handler: every response carries Strict-Transport-Security.
func (g *Gateway) HSTSHandler(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		next(ctx)
		ctx.Response.Header.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// RedirectHandler serves the plain-HTTP listener when HTTPS is on: ACME HTTP-01 challenges are
// answered by challenge (it returns true when it did), everything else for a host Portico serves is
// redirected to HTTPS with 308, and other hosts get 404.
func (g *Gateway) RedirectHandler(challenge func(*fasthttp.RequestCtx) bool, httpsPort int) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		if challenge != nil && challenge(ctx) {
			return
		}
		host := string(normalizeHost(make([]byte, 0, 256), ctx.Host()))
		if g.Decide(ctx, host) != nil {
			g.unknownHost(ctx)
			return
		}
		var b bytes.Buffer
		b.WriteString("https://")
		b.WriteString(host)
		if httpsPort != 0 && httpsPort != 443 {
			fmt.Fprintf(&b, ":%d", httpsPort)
		}
		b.Write(ctx.RequestURI())
		ctx.Response.Header.Set("Location", b.String())
		ctx.SetStatusCode(fasthttp.StatusPermanentRedirect)
	}
}
