package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/portico-billing/portico/internal/lifecycle"

	"github.com/caddyserver/certmagic"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// ACMETLS1Protocol is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737). [Manager.TLSConfig]
// offers it, so the HTTPS listener answers TLS-ALPN-01 validations itself.
const ACMETLS1Protocol = "acme-tls/1"

// HTTPChallengePrefix is the path prefix of HTTP-01 challenge requests (RFC 8555 §8.3).
const HTTPChallengePrefix = "/.well-known/acme-challenge/"

var httpChallengePrefix = []byte(HTTPChallengePrefix)

// Config configures a [Manager]. Storage and Decide are required.
type Config struct {
	// Storage holds certificates, ACME accounts, locks and in-flight challenge data. Every
	// instance of the cluster must use a Storage on the same etcd prefix: that is what makes one
	// ACME order per name across the cluster and lets any instance answer any challenge.
	Storage *Storage

	// CA is the ACME directory URL. Default: Let's Encrypt production
	// (certmagic.LetsEncryptProductionCA); Let's Encrypt staging is
	// certmagic.LetsEncryptStagingCA.
	CA string

	// CARoot is PEM with one or more certificates that replace the system roots for the TLS of
	// the ACME server itself (its directory and API), for a private or test CA such as Pebble.
	// Empty means the system roots. It has nothing to do with the certificates the CA issues.
	CARoot []byte

	// Email is the contact of the ACME account; optional, but CAs send expiry and policy notices
	// to it.
	Email string

	// Decide is the on-demand decision: called before a certificate for name is loaded from
	// storage, obtained or renewed during a handshake, it allows by returning nil. It is the only
	// abuse control of on-demand TLS, and it runs inside TLS handshakes, so it must answer in
	// milliseconds from an index (tenant slugs and active custom domains), never from DNS or the
	// network. name is lower-case, in punycode for IDNs, without a trailing dot. Required.
	Decide func(ctx context.Context, name string) error

	// HTTPPort and TLSALPNPort are the ports on which this process receives the CA's HTTP-01 and
	// TLS-ALPN-01 validations: the ports of the gateway's HTTP and HTTPS listeners (or the ports
	// that 80 and 443 are forwarded to). Default 80 and 443. The gateway's own listeners answer
	// the validations (through [Manager.HandleHTTPChallenge] and [Manager.TLSConfig]); certmagic
	// only binds a port itself, for the time of a challenge, if nothing listens there.
	HTTPPort, TLSALPNPort int

	// DisableHTTPChallenge and DisableTLSALPNChallenge turn one challenge type off, e.g.
	// TLS-ALPN-01 when a proxy in front of the gateway terminates TLS, or HTTP-01 when port 80
	// does not reach the gateway. At least one must stay enabled.
	DisableHTTPChallenge, DisableTLSALPNChallenge bool

	// Logger receives certmagic's logs (issuance, renewal, challenges, OCSP). Default
	// slog.Default().
	Logger *slog.Logger
}

// Manager obtains, serves and renews the certificates of tenant domains on demand, with certmagic,
// an ACME CA and the shared etcd [Storage]. It is safe for concurrent use. Build it with [New]; it
// runs a maintenance goroutine until [Manager.Close].
//
// A TLS handshake for a name without a certificate in memory asks [Config.Decide], then loads the
// certificate from the shared storage or, if there is none, obtains one from the CA while the
// handshake waits. Issuance takes seconds (certmagic bounds it at 3 minutes), so the HTTPS
// server's read timeout, which in fasthttp also covers the handshake of a new connection, must
// allow it: a shorter one cuts the first handshake of a new domain (the certificate is still
// obtained and stored, and the client's retry succeeds). One instance of the cluster orders a
// name at a time: certmagic takes the lock "issue_cert_<name>" in the shared Storage and
// re-checks the storage once it holds it.
//
// Renewal: on-demand certificates are renewed by handshakes, not by a timer (certmagic's
// maintenance skips them). A handshake that finds its certificate due (by the CA's ACME Renewal
// Info window, or in the last third of its lifetime) is served the current certificate while a
// background renewal runs under the same cluster-wide lock; later handshakes get the new one. An
// expired certificate is renewed while the handshake waits. The maintenance goroutine refreshes
// the OCSP staples of cached certificates (if the CA's certificates name an OCSP responder; Let's
// Encrypt's no longer do) and replaces certificates whose staple says revoked.
//
// certmagic keeps some state per process rather than per Manager (challenges in progress, and
// obtaining and renewing in flight, by name), so a process should run one Manager.
type Manager struct {
	magic     *certmagic.Config
	cache     *certmagic.Cache
	issuer    *certmagic.ACMEIssuer
	challenge fasthttp.RequestHandler
	closeOnce sync.Once
}

// New returns a Manager for cfg and starts its maintenance goroutine. Every key it generates is
// ECDSA P-256.
func New(cfg Config) (*Manager, error) {
	if cfg.Storage == nil {
		return nil, errors.New("certs: creating manager: nil storage")
	}
	if cfg.Decide == nil {
		return nil, errors.New("certs: creating manager: nil decision function")
	}
	if cfg.DisableHTTPChallenge && cfg.DisableTLSALPNChallenge {
		return nil, errors.New("certs: creating manager: both HTTP-01 and TLS-ALPN-01 disabled")
	}
	ca := cfg.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	var roots *x509.CertPool
	if len(cfg.CARoot) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(cfg.CARoot) {
			return nil, errors.New("certs: creating manager: parsing CA root PEM: no certificate found")
		}
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	zl := newZapLogger(logger.Handler())

	m := &Manager{}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		Logger:           zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		OnDemand:  &certmagic.OnDemandConfig{DecisionFunc: cfg.Decide},
		KeySource: certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		Storage:   cfg.Storage,
		Logger:    zl,
	})
	// Distributed solving stays on (the default): the HTTP-01 and TLS-ALPN-01 solvers write the
	// challenge to the Storage before telling the CA to validate, so any instance can answer.
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:                      ca,
		TrustedRoots:            roots,
		Email:                   cfg.Email,
		Agreed:                  true,
		DisableHTTPChallenge:    cfg.DisableHTTPChallenge,
		DisableTLSALPNChallenge: cfg.DisableTLSALPNChallenge,
		AltHTTPPort:             cfg.HTTPPort,
		AltTLSALPNPort:          cfg.TLSALPNPort,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	m.challenge = fasthttpadaptor.NewFastHTTPHandler(http.HandlerFunc(m.serveHTTPChallenge))
	return m, nil
}

// TLSConfig returns a new TLS configuration for the gateway's HTTPS listener: certificates from
// the Manager (on demand), ALPN "http/1.1" and "acme-tls/1" (so TLS-ALPN-01 validations are
// answered on the same listener), TLS 1.2 at least. The caller may change the copy it gets.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: m.magic.GetCertificate,
		NextProtos:     []string{"http/1.1", ACMETLS1Protocol},
		MinVersion:     tls.VersionTLS12,
	}
}

// HandleHTTPChallenge answers ctx if it is an HTTP-01 challenge request (a path under
// HTTPChallengePrefix) and reports whether it did; the caller handles every other request (and
// redirects it to HTTPS). The answer is the key authorization of the challenge in progress for the
// request's host, found in this process's memory if this instance started the order, else in the
// shared Storage, where the instance that did start it stored it; a request for a host or token
// without a challenge in progress gets 404, never a redirect, so the CA cannot be sent to the
// HTTPS listener, which might start an order of its own. This is a cold path: it goes through
// certmagic's net/http handler.
func (m *Manager) HandleHTTPChallenge(ctx *fasthttp.RequestCtx) bool {
	if !bytes.HasPrefix(ctx.Path(), httpChallengePrefix) {
		return false
	}
	m.challenge(ctx)
	return true
}

func (m *Manager) serveHTTPChallenge(w http.ResponseWriter, r *http.Request) {
	if m.issuer.HandleHTTPChallenge(w, r) {
		return
	}
	http.Error(w, "no ACME challenge in progress for this host and token", http.StatusNotFound)
}

// Close stops the maintenance goroutine, waiting for it to end. Obtaining or renewing that a
// handshake started goes on in its own goroutine until it finishes or fails (certmagic bounds it
// at a few minutes). The Storage and its etcd client stay open. Close is idempotent.
func (m *Manager) Close() {
	m.closeOnce.Do(m.cache.Stop)
}

// Start does nothing (the manager works from NewManager on); with Stop (Close) it makes the
// manager a lifecycle.App.
func (m *Manager) Start(context.Context) error { return nil }

// Stop is Close.
func (m *Manager) Stop() error { m.Close(); return nil }

var _ lifecycle.App = (*Manager)(nil)
