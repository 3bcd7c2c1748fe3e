package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/tenants"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// globals are the flags every subcommand shares.
type globals struct {
	endpoints string
	prefix    string
	// etcd transport security and authentication
	etcdCert, etcdKey, etcdCA string
	etcdUser, etcdPassword    string
	etcdRequestTimeout        time.Duration // bounds each etcd request the store makes
	etcdWait                  time.Duration // how long to wait for a quorum read at start; default defaultEtcdWait
	auditRetention            time.Duration // serve sets it; zero takes the store's default
	accountCacheSize          int64         // serve sets it; zero takes the store's default
	jsonOut                   bool
	stdout                    io.Writer
	stderr                    io.Writer
}

// run executes the command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "portico",
		Short:         "Portico: a self-hostable, multi-tenant customer billing portal gateway",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return applyEnv(cmd.Flags())
		},
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.endpoints, "etcd-endpoints", "", "comma-separated etcd client URLs (default: the embedded etcd at 127.0.0.1:2379)")
	pf.StringVar(&g.prefix, "etcd-prefix", "/portico/", "key prefix of Portico's data in etcd")
	pf.BoolVar(&g.jsonOut, "json", false, "print results as JSON")
	pf.StringVar(&g.etcdCert, "etcd-cert", "", "client certificate (PEM) for etcd over TLS")
	pf.StringVar(&g.etcdKey, "etcd-key", "", "key of --etcd-cert (PEM)")
	pf.StringVar(&g.etcdCA, "etcd-ca", "", "CA bundle (PEM) that signs the etcd servers' certificates")
	pf.DurationVar(&g.etcdWait, "etcd-wait", defaultEtcdWait, "how long to wait for etcd (any quorum of --etcd-endpoints) to answer before giving up")
	pf.StringVar(&g.etcdUser, "etcd-user", "", "etcd user (with etcd auth enabled)")
	pf.StringVar(&g.etcdPassword, "etcd-password", "", "password of --etcd-user (better: PORTICO_ETCD_PASSWORD)")
	pf.DurationVar(&g.etcdRequestTimeout, "etcd-request-timeout", 5*time.Second, "how long one etcd request may take before it answers 503 (100ms–5m)")
	root.AddCommand(serveCmd(g), tenantCmd(g), apikeyCmd(g), accountCmd(g), linkCmd(g), domainCmd(g), webhookListenCmd(g), backendExampleCmd(g), sealkeyCmd(g), adminCmd(g), mailCatcherCmd(g), backupCmd(g), restoreCmd(g), demoCmd(g), etcdCmd(g), versionCmd(g))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(stderr, "portico:", err)
		return 1
	}
	return 0
}

// applyEnv sets every flag not given on the command line from PORTICO_<FLAG> (upper case, dashes
// as underscores), e.g. PORTICO_HTTP_ADDR for --http-addr.
func applyEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "PORTICO_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

func (g *globals) endpointList() []string {
	if g.endpoints == "" {
		return []string{"http://127.0.0.1:2379"}
	}
	var out []string
	for _, e := range strings.Split(g.endpoints, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// connect opens an etcd client and the store for a command-line tool; dial adds gRPC options
// (the server's etcd client metrics).
func (g *globals) connect(ctx context.Context, endpoints []string, dial ...grpc.DialOption) (*tenants.Store, func(), error) {
	if err := g.checkRequestTimeout(); err != nil {
		return nil, nil, err
	}
	c, err := g.dial(ctx, endpoints, dial...)
	if err != nil {
		return nil, nil, err
	}
	return g.openStore(ctx, c)
}

// dial opens an etcd client of endpoints and waits until etcd answers (--etcd-wait).
func (g *globals) dial(ctx context.Context, endpoints []string, dial ...grpc.DialOption) (*clientv3.Client, error) {
	tlsCfg, err := g.etcdTLS()
	if err != nil {
		return nil, err
	}
	wait := g.etcdWait
	if wait <= 0 {
		wait = defaultEtcdWait
	}
	// DialTimeout bounds the authentication with --etcd-user, which needs a quorum too.
	c, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: wait, Logger: zap.NewNop(), DialOptions: dial,
		TLS: tlsCfg, Username: g.etcdUser, Password: g.etcdPassword,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", endpoints, err)
	}
	if err := waitEtcd(ctx, c, g.prefix, endpoints, wait); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (g *globals) checkRequestTimeout() error {
	if g.etcdRequestTimeout < 100*time.Millisecond || g.etcdRequestTimeout > 5*time.Minute {
		return fmt.Errorf("--etcd-request-timeout %v: must be between 100ms and 5m", g.etcdRequestTimeout)
	}
	return nil
}

// openStore opens the store on c; the function it returns closes both. On an error c is closed.
func (g *globals) openStore(ctx context.Context, c *clientv3.Client) (*tenants.Store, func(), error) {
	if err := g.checkRequestTimeout(); err != nil {
		c.Close()
		return nil, nil, err
	}
	s, err := tenants.Open(ctx, tenants.Config{Client: c, Prefix: g.prefix, RequestTimeout: g.etcdRequestTimeout, AuditRetention: g.auditRetention, AccountCacheSize: g.accountCacheSize, Logger: slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, func() { s.Close(); c.Close() }, nil
}

// etcdTLS builds the client TLS configuration from --etcd-cert, --etcd-key and --etcd-ca, or nil
// when none is given (plain connections).
func (g *globals) etcdTLS() (*tls.Config, error) {
	if g.etcdCert == "" && g.etcdKey == "" && g.etcdCA == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if g.etcdCert != "" || g.etcdKey != "" {
		cert, err := tls.LoadX509KeyPair(g.etcdCert, g.etcdKey)
		if err != nil {
			return nil, fmt.Errorf("loading --etcd-cert and --etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if g.etcdCA != "" {
		pem, err := os.ReadFile(g.etcdCA)
		if err != nil {
			return nil, fmt.Errorf("reading --etcd-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca %s holds no PEM certificate", g.etcdCA)
		}
	}
	return cfg, nil
}

// withStore runs fn with a connected store.
func (g *globals) withStore(cmd *cobra.Command, fn func(ctx context.Context, s *tenants.Store) error) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	s, done, err := g.connect(ctx, g.endpointList())
	if err != nil {
		return err
	}
	defer done()
	return fn(ctx, s)
}

// print writes v as JSON with --json, else the text.
func (g *globals) print(v any, text string) {
	if g.jsonOut {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(g.stdout, string(b))
		return
	}
	fmt.Fprint(g.stdout, text)
}

// publicURLs are what `portico serve` stored as its public URL settings.
func publicURLs(ctx context.Context, s *tenants.Store) (links.URLs, error) {
	b, err := s.Meta(ctx, "public-urls")
	if err != nil {
		return links.URLs{}, err
	}
	var u links.URLs
	if b == nil {
		return links.URLs{Scheme: "https", BaseDomain: "portal.localhost"}, nil
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return links.URLs{}, errors.New("reading the stored public URL settings: " + err.Error())
	}
	return u, nil
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprintln(g.stdout, "portico", version) },
	}
}
