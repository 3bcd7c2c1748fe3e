package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/spf13/cobra"
)

func apikeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage tenants' API keys"}
	var tenant, name string
	create := &cobra.Command{
		Use: "create", Short: "Create an API key; the key is printed once, alone on stdout", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				rec, key, err := s.CreateAPIKey(ctx, t.ID, name)
				if err != nil {
					return err
				}
				g.print(map[string]any{"id": rec.ID, "tenantId": t.ID, "name": rec.Name, "key": key, "createdAt": rec.CreatedAt}, key+"\n")
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for")
	list := &cobra.Command{
		Use: "list", Short: "List a tenant's API keys (ids, never the keys)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				keys, err := s.APIKeys(ctx, t.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tNAME\tCREATED")
				type row struct {
					ID        string    `json:"id"`
					Name      string    `json:"name"`
					CreatedAt time.Time `json:"createdAt"`
				}
				rows := []row{}
				for _, k := range keys {
					fmt.Fprintf(w, "%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339))
					rows = append(rows, row{k.ID, k.Name, k.CreatedAt})
				}
				w.Flush()
				g.print(rows, b.String())
				return nil
			})
		},
	}
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API key", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				if err := s.RevokeAPIKey(ctx, t.ID, args[0]); err != nil {
					return err
				}
				g.print(map[string]string{"revoked": args[0]}, fmt.Sprintf("revoked API key %s\n", args[0]))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, list, revoke} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id (required)")
		c.MarkFlagRequired("tenant")
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
