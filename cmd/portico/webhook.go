package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/signal"
	"syscall"

	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/spf13/cobra"
)

func webhookListenCmd(g *globals) *cobra.Command {
	var addr, tenant string
	var secrets []string
	cmd := &cobra.Command{
		Use:   "webhook-listen",
		Short: "Receive webhooks, verify their signatures and print every verified event",
		Long: `Receive webhooks, verify their Standard Webhooks signatures and print one line per verified event.

With --tenant, it registers itself as a webhook endpoint of that tenant (http://<addr>/), prints
the endpoint's secret, and removes the endpoint when stopped; the gateway must allow the address
(portico serve --webhook-allow-cidr 127.0.0.0/8, as make run does). With --secret instead, it
verifies with the secret(s) of an endpoint created elsewhere.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if tenant == "" && len(secrets) == 0 {
				return errors.New("give --tenant (to register an endpoint) or --secret")
			}
			if tenant == "" {
				return webhooks.Listen(ctx, addr, secrets, g.stdout)
			}
			return g.withStore(cmd, func(_ context.Context, s *tenants.Store) error {
				t, ring, allow, err := localReceiver(ctx, s, tenant, addr)
				if err != nil {
					return err
				}
				svc, err := webhooks.New(webhooks.Config{Store: s, Keyring: ring, AllowCIDRs: allow})
				if err != nil {
					return err
				}
				ep, secret, err := svc.CreateEndpoint(ctx, t.ID, webhooks.EndpointRequest{URL: "http://" + addr + "/", Description: "portico webhook-listen"})
				if err != nil {
					return err
				}
				defer svc.DeleteEndpoint(context.Background(), t.ID, ep.ID)
				fmt.Fprintf(g.stderr, "registered endpoint %s for tenant %s at http://%s/ (removed on exit)\nsecret: %s\n", ep.ID, t.Slug, addr, secret)
				return webhooks.Listen(ctx, addr, []string{secret}, g.stdout)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&addr, "addr", "127.0.0.1:8787", "address to listen on")
	fl.StringVar(&tenant, "tenant", "", "register as a webhook endpoint of this tenant for as long as it runs")
	fl.StringSliceVar(&secrets, "secret", nil, "whsec_ secret(s) to verify with (instead of --tenant)")
	return cmd
}

// localReceiver is what a command that registers itself as a receiver of tenant at addr
// (webhook-listen --tenant, backend-example) needs: the tenant, the store's sealing keys, and the
// range that lets a service reach addr, its IP alone (addr must be an IP address and port).
func localReceiver(ctx context.Context, s *tenants.Store, tenant, addr string) (*tenants.Tenant, *keyring.Keyring, []netip.Prefix, error) {
	t, err := s.Tenant(ctx, tenant)
	if err != nil {
		return nil, nil, nil, err
	}
	ring, err := sealingKeys(s)
	if err != nil {
		return nil, nil, nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--addr must be an IP address and port with --tenant, not %q", addr)
	}
	return t, ring, []netip.Prefix{netip.PrefixFrom(ip, ip.BitLen())}, nil
}

// sealingKeys returns a keyring of the store's sealing keys (a gateway creates the first at start).
func sealingKeys(s *tenants.Store) (*keyring.Keyring, error) {
	r, err := keyring.Follow(s)
	if errors.Is(err, keyring.ErrNoKeys) {
		return nil, errors.New("no sealing key in etcd yet: start `portico serve` once first")
	}
	return r, err
}
