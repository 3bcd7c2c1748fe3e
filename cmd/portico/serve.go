package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/certs"
	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/internal/lifecycle"
	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/mail"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/valyala/fasthttp"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

type serveFlags struct {
	dataDir, etcdListen, etcdPeerListen string
	httpAddr, baseDomain, publicScheme  string
	adminAddr                           string
	publicPort                          int
	dev, demo, etcdVerbose              bool
	etcdQuota, compactKeep              int64
	memoryLimitMB                       int64
	logLevel                            string
	shutdownTimeout                     time.Duration
	limits                              gateway.Limits
	webhookAllow                        []string
	trustedProxies                      []string
	proxyHeader                         string
	httpsAddr, acmeCA, acmeEmail        string
	acmeRoot, dnsResolver, domainTarget string
	reverify                            time.Duration
	smtp                                mail.Config
	maxLinksPerHour                     int
	pdfCJKFont                          string
	webhookTimeout                      time.Duration
	webhookConcurrency                  int
	backendTimeout                      time.Duration
}

func serveCmd(g *globals) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (with an embedded etcd unless --etcd-endpoints is given)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), g, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dataDir, "data-dir", "./data", "data directory of the embedded etcd")
	fl.StringVar(&f.etcdListen, "etcd-listen", "127.0.0.1:2379", "client listener of the embedded etcd")
	fl.StringVar(&f.etcdPeerListen, "etcd-peer-listen", "127.0.0.1:2380", "peer listener of the embedded etcd")
	fl.BoolVar(&f.etcdVerbose, "etcd-verbose", false, "show the embedded etcd's own logs")
	fl.Int64Var(&f.memoryLimitMB, "memory-limit-mb", 0, "soft limit of the process's memory in MiB: the Go collector works harder as the heap nears it instead of letting it grow to twice the live data (0: none, or the GOMEMLIMIT environment variable; at least 64)")
	fl.Int64Var(&f.etcdQuota, "etcd-quota-bytes", 0, "space quota of the embedded etcd's database (0: etcd's default, 2 GiB)")
	fl.Int64Var(&f.compactKeep, "etcd-compact-revisions", 1000, "revisions of etcd history kept; older ones are compacted once twice this many piled up")
	fl.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "address of the HTTP listener")
	fl.StringVar(&f.adminAddr, "admin-addr", "127.0.0.1:9090", "operator listener: /metrics, /healthz, /readyz, /debug/pprof (empty disables)")
	fl.StringVar(&f.baseDomain, "base-domain", "portal.localhost", "domain of the API (api.<base>) and tenant portals (<slug>.<base>)")
	fl.StringVar(&f.publicScheme, "public-scheme", "", "scheme of the URLs Portico hands out (default https, http with --dev)")
	fl.IntVar(&f.publicPort, "public-port", 0, "port of the URLs Portico hands out (default: none, or the --http-addr port with --dev)")
	fl.BoolVar(&f.dev, "dev", false, "development mode over plain HTTP: cookies without __Host- and Secure (never in production)")
	fl.BoolVar(&f.demo, "demo", false, "seed the demo tenant once ready and print a portal link and an API key")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fl.Float64Var(&f.limits.RedeemsPerMinute, "limit-redeems-per-minute", 0, "link redemptions one IP address may attempt per minute (default 60; -1 disables)")
	fl.Float64Var(&f.limits.FailedTokensPerHour, "limit-failed-tokens-per-hour", 0, "invalid or used tokens one IP address may present per hour (default 30; -1 disables)")
	fl.Float64Var(&f.limits.APIPerSecond, "limit-api-per-second", 0, "API requests one API key may make per second (default 100; -1 disables)")
	fl.IntVar(&f.limits.MaxClients, "limit-max-clients", 0, "clients (IPv4 addresses, IPv6 /64s) each limit remembers at most, about 53 bytes each (default 100000)")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxy", nil, "addresses or ranges of the proxies in front (e.g. 10.0.0.0/8,fd00::/8): only their --trusted-proxy-header is believed")
	fl.StringVar(&f.proxyHeader, "trusted-proxy-header", gateway.HeaderXForwardedFor, "header trusted proxies state the client address in: X-Forwarded-For or Forwarded")
	fl.DurationVar(&f.webhookTimeout, "webhook-timeout", 15*time.Second, "how long one webhook delivery may take (1s–5m); a killed instance's claims free 10 s after it")
	fl.IntVar(&f.webhookConcurrency, "webhook-concurrency", 16, "webhook deliveries this instance makes at once (1–1024)")
	fl.StringSliceVar(&f.webhookAllow, "webhook-allow-cidr", nil, "address ranges webhook deliveries and tenant backend calls may reach although private or loopback, e.g. 127.0.0.0/8,10.0.0.0/8")
	fl.DurationVar(&f.backendTimeout, "backend-timeout", backend.DefaultTimeout, "how long one call to a tenant's backend (e.g. paying an invoice) may take, answer included (1s–1m)")
	fl.StringVar(&f.httpsAddr, "https-addr", "", "HTTPS listener with on-demand certificates (e.g. :443); plain HTTP then only answers ACME challenges and redirects")
	fl.StringVar(&f.acmeCA, "acme-ca", "https://acme-v02.api.letsencrypt.org/directory", "ACME directory URL (Let's Encrypt staging: https://acme-staging-v02.api.letsencrypt.org/directory)")
	fl.StringVar(&f.acmeEmail, "acme-email", "", "contact email of the ACME account")
	fl.StringVar(&f.acmeRoot, "acme-ca-root", "", "PEM file of the root that signs the ACME directory's TLS certificate (for a private CA)")
	fl.StringVar(&f.dnsResolver, "dns-resolver", "", "DNS server (host:port) to verify custom domains with (default: the system resolver)")
	fl.StringVar(&f.domainTarget, "domain-target", "", "CNAME target custom domains must point at (default <slug>.<base-domain>)")
	fl.DurationVar(&f.reverify, "domain-reverify-interval", time.Hour, "how often every custom domain's DNS is checked again")
	fl.StringVar(&f.smtp.Addr, "smtp-addr", "", "SMTP server (host:port) for portal-link emails (empty: no email; Copy link still works)")
	fl.StringVar(&f.smtp.TLS, "smtp-tls", "starttls", "none, starttls or tls")
	fl.StringVar(&f.smtp.User, "smtp-user", "", "SMTP user")
	fl.StringVar(&f.smtp.Password, "smtp-password", "", "SMTP password (better: PORTICO_SMTP_PASSWORD)")
	fl.StringVar(&f.smtp.From, "smtp-from", "", "sender address of portal-link emails, e.g. \"Billing <billing@example.com>\"")
	fl.IntVar(&f.maxLinksPerHour, "max-links-per-hour", 5, "portal-link emails one account may receive per hour")
	fl.StringVar(&f.pdfCJKFont, "pdf-cjk-font", "", "TrueType (.ttf) font for Japanese text in invoice PDFs (default: IPAex Gothic or IPA Gothic at their Debian paths; none: Japanese PDFs in English)")
	fl.DurationVar(&g.auditRetention, "audit-retention", tenants.DefaultAuditRetention, "how long portal sessions' audit trails are kept")
	fl.Int64Var(&g.accountCacheSize, "account-cache-size", 200_000, "account documents kept in memory, compressed as etcd stores them, with their rendered pages (about 2.3 KB each plus pages; at least 100)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	return cmd
}

func serve(ctx context.Context, g *globals, f *serveFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	opts, err := f.check(g)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: opts.level}))
	if f.memoryLimitMB > 0 {
		debug.SetMemoryLimit(f.memoryLimitMB << 20)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	if err := g.checkRequestTimeout(); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	etcdRequests := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "portico_etcd_request_seconds", Help: "Duration of the store's etcd requests by kind (get, put, delete, txn, compact, do), failed ones included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5},
	}, []string{"kind"})
	reg.MustRegister(etcdRequests)
	// With the embedded member the store calls it in process (no gRPC over loopback: half the CPU
	// per link); with --etcd-endpoints through gRPC, whose client metrics add per-method detail.
	var c *clientv3.Client
	if g.endpoints == "" {
		embedded, err := startEmbedded(f, log)
		if err != nil {
			return err
		}
		defer embedded.Close()
		c = embedded.Client()
	} else {
		etcdMetrics := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets([]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5})))
		reg.MustRegister(etcdMetrics)
		if c, err = g.dial(ctx, g.endpointList(),
			grpc.WithChainUnaryInterceptor(etcdMetrics.UnaryClientInterceptor()),
			grpc.WithChainStreamInterceptor(etcdMetrics.StreamClientInterceptor())); err != nil {
			return err
		}
	}
	tenants.TimeRequests(c, func(kind string, d time.Duration) { etcdRequests.WithLabelValues(kind).Observe(d.Seconds()) })
	store, done, err := g.openStore(ctx, c)
	if err != nil {
		return err
	}
	defer done()
	if err := store.EnsureSealKey(ctx); err != nil {
		return err
	}
	reg.MustRegister(gateway.StoreCollectors(store)...)

	// The long-lived parts, each built once, in dependency order, and handed to its users.
	ring, err := keyring.Follow(store)
	if err != nil {
		return fmt.Errorf("loading sealing keys: %w", err)
	}
	urls := f.publicURLs()
	issuer := &links.Issuer{Store: store, URLs: urls, Keyring: ring}
	verifier := &domains.Verifier{Store: store, BaseDomain: f.baseDomain, Target: f.domainTarget, Interval: f.reverify, Logger: log}
	if f.dnsResolver != "" {
		verifier.Resolver = domains.NewResolver(f.dnsResolver)
	}
	hooks, err := webhooks.New(webhooks.Config{Store: store, Keyring: ring, EventTypes: plugins.EventTypes(), AllowCIDRs: opts.webhookAllow, Logger: log,
		Timeout: f.webhookTimeout, Concurrency: f.webhookConcurrency})
	if err != nil {
		return err
	}
	backends, err := backend.New(backend.Config{Store: store, Keyring: ring, AllowCIDRs: opts.webhookAllow, Logger: log, Timeout: f.backendTimeout})
	if err != nil {
		return err
	}
	// Source-mode tenants' documents come from their backends (GET <url>/accounts/{id}).
	store.UseAccountSource(backends)
	var sender *mail.Sender
	if f.smtp.Addr != "" {
		if sender, err = mail.New(f.smtp); err != nil {
			return err
		}
	}
	// The dashboard's Send portal link and the API's POST /v1/accounts/{id}/portal-link share one
	// emailer (one limit, one way of sending).
	emailer := &links.Emailer{Store: store, Issuer: issuer, Mail: sender, MaxPerHour: f.maxLinksPerHour, Logger: log}
	var gw *gateway.Gateway // the dashboard's invitations go out through the gateway, built next
	dash, err := dashboard.New(dashboard.Config{
		Store: store, Issuer: issuer, PortalLinks: emailer, Domains: verifier, Webhooks: dashboard.Webhooks(hooks), Backend: dashboard.Backend(backends),
		Dev: f.dev, PublicScheme: urls.Scheme, Logger: log, ClientAddr: opts.clientAddr,
		Invite: func(ctx context.Context, t *tenants.Tenant, accountID string, m tenants.Member, inviter, locale string) error {
			return gw.Invite(ctx, t, accountID, m, inviter, locale)
		},
	})
	if err != nil {
		return err
	}
	gw, err = gateway.New(gateway.Config{
		Store: store, Keyring: ring, Issuer: issuer, Webhooks: hooks, Backend: backends, Dashboard: dash.Handler, PortalLinkMailer: emailer, SignInMail: sender,
		BaseDomain: f.baseDomain, PublicScheme: urls.Scheme, PublicPort: urls.Port, Dev: f.dev, Logger: log,
		Metrics: gateway.NewMetrics(reg), Limits: f.limits, Domains: verifier, PDFCJKFont: f.pdfCJKFont,
		TrustedProxies: opts.proxies, ProxyHeader: f.proxyHeader,
	})
	if err != nil {
		return err
	}
	// Started in order, stopped in reverse when serve returns, after the HTTP servers.
	var apps lifecycle.Group
	defer apps.Stop()
	for _, app := range []struct {
		name string
		app  lifecycle.App
	}{
		{"etcd compaction", store.Compactor(tenants.CompactConfig{Keep: f.compactKeep})},
		{"webhook delivery", hooks},
		{"domain re-verification", verifier},
		{"dashboard", dash},
	} {
		if err := apps.Start(ctx, app.name, app.app); err != nil {
			return err
		}
	}
	if b, err := json.Marshal(gw.URLs()); err == nil {
		if err := store.SetMeta(ctx, "public-urls", b); err != nil {
			return err
		}
	}
	if f.dev {
		log.Warn("development mode: session cookies are sent over plain HTTP without the __Host- prefix and the Secure flag; never use --dev in production")
	}
	srv, err := listen(ctx, f, gw, store, reg, &apps, urls, log)
	if err != nil {
		return err
	}
	defer srv.shutdown(f.shutdownTimeout, log)
	log.Info("portico ready", "http", srv.addr, "api", gw.URLs().API(), "startup", time.Since(start).Round(time.Millisecond))
	if f.demo {
		if err := seedDemo(ctx, g, store, gw.URLs(), true, time.Now()); err != nil {
			log.Error("seeding the demo failed", "err", err)
		} else if err := apps.Start(ctx, "demo backend", lifecycle.Background(func(ctx context.Context) {
			startDemoBackend(ctx, backends, store, opts.webhookAllow, log)
		})); err != nil {
			return err
		}
	}
	select {
	case err := <-srv.errc:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
		return nil
	}
}

// servers are serve's listeners: the HTTP one, HTTPS with on-demand certificates if
// --https-addr is set, and the admin listener if --admin-addr is.
type servers struct {
	addr        string // the HTTP listener's
	http, https *fasthttp.Server
	admin       *http.Server
	errc        chan error // a server that stopped serving
}

// listen opens serve's listeners and serves gw on them; certificates join apps.
func listen(ctx context.Context, f *serveFlags, gw *gateway.Gateway, store *tenants.Store, reg *prometheus.Registry, apps *lifecycle.Group, urls links.URLs, log *slog.Logger) (_ *servers, err error) {
	s := &servers{errc: make(chan error, 3)}
	// Every listener is opened before any serves, so a failure leaves nothing serving.
	var opened []net.Listener
	defer func() {
		if err != nil {
			for _, l := range opened {
				l.Close()
			}
		}
	}()
	open := func(what, addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s%s: %w", what, addr, err)
		}
		opened = append(opened, l)
		return l, nil
	}
	ln, err := open("", f.httpAddr)
	if err != nil {
		return nil, err
	}
	s.http, s.addr = gw.Server(), ln.Addr().String()
	var tln, aln net.Listener
	var mgr *certs.Manager
	if f.httpsAddr != "" {
		if mgr, err = startTLS(store, gw, f, log); err != nil {
			return nil, err
		}
		if err := apps.Start(ctx, "certificates", mgr); err != nil {
			return nil, err
		}
		if tln, err = open("", f.httpsAddr); err != nil {
			return nil, err
		}
		httpsPort := tln.Addr().(*net.TCPAddr).Port
		if urls.Port != 0 {
			httpsPort = urls.Port
		}
		s.https = gw.HTTPSServer()
		s.http.Handler = gw.RedirectHandler(mgr.HandleHTTPChallenge, httpsPort)
	}
	if f.adminAddr != "" {
		if aln, err = open("admin address ", f.adminAddr); err != nil {
			return nil, err
		}
		s.admin = &http.Server{Handler: gateway.AdminHandler(reg, store), ReadHeaderTimeout: 10 * time.Second}
	}
	go func() { s.errc <- s.http.Serve(ln) }()
	if tln != nil {
		go func() { s.errc <- s.https.Serve(gateway.TLSListener(tln, mgr.TLSConfig(), 3*time.Minute)) }()
		log.Info("HTTPS with on-demand certificates", "https", tln.Addr().String(), "acme", f.acmeCA)
	}
	if aln != nil {
		go func() {
			if err := s.admin.Serve(aln); err != nil && err != http.ErrServerClosed {
				s.errc <- err
			}
		}()
		log.Info("admin listener", "addr", aln.Addr().String())
	}
	return s, nil
}

// shutdown lets in-flight requests finish, for at most timeout.
func (s *servers) shutdown(timeout time.Duration, log *slog.Logger) {
	log.Info("shutting down: finishing in-flight requests", "timeout", timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.http.ShutdownWithContext(ctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
	}
	if s.https != nil {
		if err := s.https.ShutdownWithContext(ctx); err != nil {
			log.Warn("HTTPS shutdown did not finish in time", "err", err)
		}
	}
	if s.admin != nil {
		s.admin.Shutdown(ctx)
	}
	log.Info("stopped")
}

// serveOptions are the flags of serve that need parsing, parsed.
type serveOptions struct {
	level        slog.Level
	proxies      []netip.Prefix // --trusted-proxy
	clientAddr   func(*fasthttp.RequestCtx) netip.Addr
	webhookAllow []netip.Prefix // --webhook-allow-cidr
}

// check validates serve's flags before anything starts.
func (f *serveFlags) check(g *globals) (o serveOptions, err error) {
	if f.webhookTimeout < time.Second || f.webhookTimeout > 5*time.Minute {
		return o, fmt.Errorf("--webhook-timeout %v: must be between 1s and 5m", f.webhookTimeout)
	}
	if f.memoryLimitMB != 0 && (f.memoryLimitMB < 64 || f.memoryLimitMB > 1<<30) {
		return o, fmt.Errorf("--memory-limit-mb %d: must be 0 (none) or at least 64", f.memoryLimitMB)
	}
	if g.accountCacheSize < 100 {
		return o, fmt.Errorf("--account-cache-size %d: must be at least 100", g.accountCacheSize)
	}
	if f.backendTimeout < time.Second || f.backendTimeout > time.Minute {
		return o, fmt.Errorf("--backend-timeout %v: must be between 1s and 1m", f.backendTimeout)
	}
	if f.webhookConcurrency < 1 || f.webhookConcurrency > 1024 {
		return o, fmt.Errorf("--webhook-concurrency %d: must be between 1 and 1024", f.webhookConcurrency)
	}
	if o.proxies, err = parseCIDRs("--trusted-proxy", f.trustedProxies); err != nil {
		return o, err
	}
	if o.clientAddr, err = gateway.ClientAddrFunc(o.proxies, f.proxyHeader); err != nil {
		return o, fmt.Errorf("--trusted-proxy-header %s: must be %s or %s", f.proxyHeader, gateway.HeaderXForwardedFor, gateway.HeaderForwarded)
	}
	if o.webhookAllow, err = parseCIDRs("--webhook-allow-cidr", f.webhookAllow); err != nil {
		return o, err
	}
	if err := o.level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return o, fmt.Errorf("--log-level: %w", err)
	}
	return o, nil
}

// publicURLs are the URLs Portico hands out: https unless --dev serves plain HTTP only, and with
// --dev the port of the address served unless --public-port says otherwise.
func (f *serveFlags) publicURLs() links.URLs {
	u := links.URLs{Scheme: f.publicScheme, BaseDomain: f.baseDomain, Port: f.publicPort}
	if u.Scheme == "" {
		u.Scheme = "https"
		if f.dev && f.httpsAddr == "" {
			u.Scheme = "http"
		}
	}
	if u.Port == 0 && f.dev {
		addr := f.httpAddr
		if f.httpsAddr != "" {
			addr = f.httpsAddr
		}
		if _, p, err := net.SplitHostPort(addr); err == nil {
			u.Port, _ = strconv.Atoi(p)
		}
	}
	return u
}

// startEmbedded starts the embedded etcd member serve uses when no --etcd-endpoints are given.
func startEmbedded(f *serveFlags, log *slog.Logger) (*tenants.Embedded, error) {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	e, err := tenants.StartEmbedded(tenants.EmbedConfig{
		Dir: filepath.Join(f.dataDir, "etcd"), ClientAddr: f.etcdListen, PeerAddr: f.etcdPeerListen, Logger: log, Verbose: f.etcdVerbose,
		QuotaBytes: f.etcdQuota,
	})
	if err != nil {
		return nil, err
	}
	log.Info("embedded etcd ready", "client", e.Endpoint, "data", f.dataDir)
	return e, nil
}

// parseCIDRs parses the address ranges of flag; a bare address is a range of one.
func parseCIDRs(flag string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if a, aerr := netip.ParseAddr(s); err != nil && aerr == nil {
			p, err = a.Prefix(a.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", flag, s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// startTLS builds the certificate manager: certificates and ACME locks in etcd, shared by every
// instance; on-demand issuance for the names the gateway decides it serves.
func startTLS(store *tenants.Store, gw *gateway.Gateway, f *serveFlags, log *slog.Logger) (*certs.Manager, error) {
	st, err := certs.NewStorage(certs.StorageConfig{Client: store.Client(), Prefix: store.CertsPrefix()})
	if err != nil {
		return nil, err
	}
	var root []byte
	if f.acmeRoot != "" {
		if root, err = os.ReadFile(f.acmeRoot); err != nil {
			return nil, fmt.Errorf("reading --acme-ca-root: %w", err)
		}
	}
	return certs.New(certs.Config{Storage: st, CA: f.acmeCA, CARoot: root, Email: f.acmeEmail, Decide: gw.Decide, Logger: log})
}
