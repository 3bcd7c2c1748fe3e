package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os/signal"
	"strings"
	"syscall"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
	"github.com/spf13/cobra"
)

func backendExampleCmd(g *globals) *cobra.Command {
	var addr, tenant string
	cmd := &cobra.Command{
		Use:   "backend-example",
		Short: "Run an example tenant backend: it pays invoices and declines cards ending in 0002",
		Long: `Run a small billing backend that speaks the tenant backend protocol, and register it as the
tenant's backend (http://<addr>/) for as long as it runs.

It verifies every request's signature, answers "ping", and answers "invoice.pay" from the account
document in etcd: declined, with a message for the customer, for a card ending in 0002; otherwise
succeeded, returning the account with the invoice marked paid (amount paid = total). It answers
"subscription.pause" (the subscription paused until the day asked), "subscription.resume" (active
again) and "subscription.offer_accept" (the offer recorded, its percentage off the estimated next
charge) the same way, returning the changed account. It prints one line per request. The gateway must allow the address (portico serve --webhook-allow-cidr
127.0.0.0/8, as make run does); make run's demo starts one of its own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if tenant == "" {
				return errors.New("give --tenant: the tenant whose backend this is")
			}
			return g.withStore(cmd, func(_ context.Context, s *tenants.Store) error {
				t, ring, allow, err := localReceiver(ctx, s, tenant, addr)
				if err != nil {
					return err
				}
				svc, err := backend.New(backend.Config{Store: s, Keyring: ring, AllowCIDRs: allow})
				if err != nil {
					return err
				}
				return runExampleBackend(ctx, svc, s, t, addr, g.stdout, func(url string) {
					fmt.Fprintf(g.stderr, "registered as the backend of tenant %s at %s (removed on exit); it declines cards ending in %s\n", t.Slug, url, backend.DeclinedLast4)
				})
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:0", "address to listen on (port 0: any free port)")
	fl.StringVar(&tenant, "tenant", "", "the tenant (id or slug) to register as the backend of")
	return cmd
}

// runExampleBackend serves the example backend on addr as t's backend until ctx ends. It reads
// account documents from the store (a copy each time: the example changes what it returns).
func runExampleBackend(ctx context.Context, svc *backend.Service, s *tenants.Store, t *tenants.Tenant, addr string, log io.Writer, ready func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	accountOf := func(ctx context.Context, id string) (*account.Account, error) {
		snap, err := s.Account(ctx, t.ID, id)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(snap.Account)
		if err != nil {
			return nil, err
		}
		var a account.Account
		return &a, json.Unmarshal(b, &a)
	}
	planOf := func(ctx context.Context, id string) (*catalog.Plan, error) {
		snap, err := s.Catalog(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		sp, ok := snap.Plan(id)
		if !ok || sp.Plan.Archived {
			return nil, tenants.ErrPlanNotFound
		}
		p := *sp.Plan // the catalog is shared; the example copies the items it uses
		return &p, nil
	}
	return backend.RunExample(ctx, svc, t.ID, ln, accountOf, planOf, log, ready)
}

// startDemoBackend runs the example backend for the demo tenant beside `serve --demo`, on a free
// loopback port, when the operator allows loopback (make run does); it logs its requests.
func startDemoBackend(ctx context.Context, svc *backend.Service, s *tenants.Store, allow []netip.Prefix, log *slog.Logger) {
	if !webhooks.AddressAllowed(netip.AddrFrom4([4]byte{127, 0, 0, 1}), allow) {
		log.Info("demo: no example backend (Pay now) without --webhook-allow-cidr 127.0.0.0/8; run `portico backend-example --tenant demo` with it")
		return
	}
	t, err := s.Tenant(ctx, demoSlug)
	if err != nil {
		log.Error("demo: example backend", "err", err)
		return
	}
	w := logLines{log}
	err = runExampleBackend(ctx, svc, s, t, "127.0.0.1:0", w, func(url string) {
		log.Info("demo: example billing backend (portico backend-example) registered: it pays invoices (declining cards ending in "+backend.DeclinedLast4+"), pauses and resumes subscriptions and applies retention offers", "url", url)
	})
	if err != nil {
		log.Error("demo: example backend", "err", err)
	}
}

// logLines writes each line as an info record.
type logLines struct{ log *slog.Logger }

func (l logLines) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		l.log.Info("example backend: " + line)
	}
	return len(p), nil
}
