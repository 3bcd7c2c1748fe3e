package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/tenants"
	"github.com/spf13/cobra"
)

func domainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Manage tenants' custom domains"}
	var tenant, resolver, target string
	verifier := func(ctx context.Context, s *tenants.Store) (*domains.Verifier, error) {
		urls, err := publicURLs(ctx, s)
		if err != nil {
			return nil, err
		}
		v := &domains.Verifier{Store: s, BaseDomain: urls.BaseDomain, Target: target}
		if resolver != "" {
			v.Resolver = domains.NewResolver(resolver)
		}
		return v, nil
	}
	show := func(v *domains.Verifier, t *tenants.Tenant, d *tenants.Domain) string {
		in := v.InstructionsFor(t, d)
		s := fmt.Sprintf("%s: %s\n  CNAME %s -> %s\n  TXT   %s = %q\n", d.Name, d.Status, in.CNAME.Name, in.CNAME.Value, in.TXT.Name, in.TXT.Value)
		if !d.ExpiresAt.IsZero() {
			s += "  verify before " + d.ExpiresAt.Format(time.RFC3339) + "\n"
		}
		if d.LastError != "" {
			s += "  last check: " + d.LastError + "\n"
		}
		return s
	}
	add := &cobra.Command{
		Use: "add DOMAIN", Short: "Add a custom domain and print the DNS records it needs", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				v, err := verifier(ctx, s)
				if err != nil {
					return err
				}
				d, err := v.Add(ctx, t, args[0])
				if err != nil {
					return err
				}
				g.print(map[string]any{"domain": d, "dns": v.InstructionsFor(t, d)}, show(v, t, d))
				return nil
			})
		},
	}
	list := &cobra.Command{
		Use: "list", Short: "List a tenant's domains", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				ds, err := s.Domains(ctx, t.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "DOMAIN\tSTATUS\tLAST CHECK")
				for _, d := range ds {
					fmt.Fprintf(w, "%s\t%s\t%s\n", d.Name, d.Status, d.LastError)
				}
				w.Flush()
				if ds == nil {
					ds = []*tenants.Domain{}
				}
				g.print(ds, b.String())
				return nil
			})
		},
	}
	verify := &cobra.Command{
		Use: "verify DOMAIN", Short: "Check a domain's DNS records now", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				v, err := verifier(ctx, s)
				if err != nil {
					return err
				}
				d, err := v.Verify(ctx, t, args[0])
				if err != nil {
					return err
				}
				g.print(d, show(v, t, d))
				return nil
			})
		},
	}
	remove := &cobra.Command{
		Use: "remove DOMAIN", Short: "Remove a domain: it stops being served and gets no new certificates", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				if err := s.RemoveDomain(ctx, t.ID, args[0]); err != nil {
					return err
				}
				g.print(map[string]string{"removed": args[0]}, "removed domain "+args[0]+"\n")
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{add, list, verify, remove} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id (required)")
		c.MarkFlagRequired("tenant")
	}
	for _, c := range []*cobra.Command{add, verify} {
		c.Flags().StringVar(&target, "domain-target", "", "CNAME target every custom domain must point at (default <slug>.<base-domain>)")
	}
	verify.Flags().StringVar(&resolver, "dns-resolver", "", "DNS server (host:port) to verify with (default: the system resolver)")
	cmd.AddCommand(add, list, verify, remove)
	return cmd
}
