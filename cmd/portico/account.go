package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/spf13/cobra"
)

func accountCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage account documents"}
	var tenant, file string
	put := &cobra.Command{
		Use: "put", Short: "Create or replace an account from a JSON document", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			a, err := account.Decode(b)
			if err != nil {
				return err
			}
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				rev, created, err := s.PutAccount(ctx, t.ID, a, 0)
				if err != nil {
					return err
				}
				verb := "updated"
				if created {
					verb = "created"
				}
				g.print(map[string]any{"id": a.ID, "revision": rev, "created": created}, fmt.Sprintf("%s account %s (revision %d)\n", verb, a.ID, rev))
				return nil
			})
		},
	}
	put.Flags().StringVar(&file, "file", "", "account document (JSON) (required)")
	put.MarkFlagRequired("file")
	get := &cobra.Command{
		Use: "get ID", Short: "Print an account document", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				snap, err := s.Account(ctx, t.ID, args[0])
				if err != nil {
					return err
				}
				b, _ := json.MarshalIndent(snap.Account, "", "  ")
				fmt.Fprintln(g.stdout, string(b))
				return nil
			})
		},
	}
	del := &cobra.Command{
		Use: "delete ID", Short: "Delete an account", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				if err := s.DeleteAccount(ctx, t.ID, args[0], 0); err != nil {
					return err
				}
				g.print(map[string]string{"deleted": args[0]}, fmt.Sprintf("deleted account %s\n", args[0]))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{put, get, del} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id (required)")
		c.MarkFlagRequired("tenant")
	}
	cmd.AddCommand(put, get, del)
	return cmd
}

func linkCmd(g *globals) *cobra.Command {
	var tenant, accountID, alias, locale string
	cmd := &cobra.Command{
		Use: "link", Short: "Create a single-use portal link for an account and print its URL", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				urls, err := publicURLs(ctx, s)
				if err != nil {
					return err
				}
				iss := &links.Issuer{Store: s, URLs: urls}
				res, _, err := iss.Create(ctx, t, &links.Request{AccountID: accountID, AccountAlias: alias, Locale: locale}, links.Options{CreatedBy: "cli"})
				if err != nil {
					return err
				}
				g.print(res, res.SessionURL+"\n")
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&tenant, "tenant", "", "tenant slug or id (required)")
	fl.StringVar(&accountID, "account", "", "account id")
	fl.StringVar(&alias, "alias", "", "account alias")
	fl.StringVar(&locale, "locale", "", "locale of the portal (BCP 47)")
	cmd.MarkFlagRequired("tenant")
	return cmd
}
