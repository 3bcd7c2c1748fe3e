package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/portico-billing/portico/gateway/web"
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
		if g.Decide(web.Detach(ctx), host) != nil {
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

// TLSListener wraps ln so that each connection completes its TLS handshake, within
// handshakeTimeout, on its first read. The handshake is thus not bound by the HTTP server's read
// timeout: a first handshake for a new name may wait for the certificate's issuance (certmagic
// allows up to a few minutes), while slow clients of ordinary requests are still cut by the
// server's timeouts.
func TLSListener(ln net.Listener, cfg *tls.Config, handshakeTimeout time.Duration) net.Listener {
	return &tlsListener{Listener: ln, cfg: cfg, timeout: handshakeTimeout}
}

type tlsListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
}

func (l *tlsListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &tlsConn{Conn: tls.Server(c, l.cfg), raw: c, timeout: l.timeout}, nil
}

// tlsConn is a server TLS connection that handshakes under its own deadline.
type tlsConn struct {
	*tls.Conn
	raw          net.Conn
	timeout      time.Duration
	once         sync.Once
	hsErr        error
	readDeadline time.Time
}

func (c *tlsConn) handshake() error {
	c.once.Do(func() {
		c.raw.SetDeadline(time.Now().Add(c.timeout))
		c.hsErr = c.Conn.Handshake()
		c.raw.SetDeadline(time.Time{})
		c.raw.SetReadDeadline(c.readDeadline)
	})
	return c.hsErr
}

func (c *tlsConn) SetReadDeadline(t time.Time) error {
	c.readDeadline = t
	return c.Conn.SetReadDeadline(t)
}

func (c *tlsConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *tlsConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// httpsWriteBuffer is the HTTPS server's response write buffer: a TLS record's most plaintext
// (16 KiB), nginx's ssl_buffer_size. With fasthttp's default of 4 KiB a 13 KB page left in two
// writes, each its own TLS record, AEAD seal and syscall; in one it costs the server 1.3–1.9× less
// CPU per page on a loopback run (loadgen -mix https, 64 connections, one core). Plain HTTP gains
// nothing measurable from it, so Server keeps the default and its memory per connection.
const httpsWriteBuffer = 16 << 10

// HTTPSServer is Server for the TLS listener: the same handler with Strict-Transport-Security,
// and responses written in TLS records of up to 16 KiB.
func (g *Gateway) HTTPSServer() *fasthttp.Server {
	s := g.Server()
	s.Handler = g.HSTSHandler(g.Handler)
	s.WriteBufferSize = httpsWriteBuffer
	return s
}
