package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/gateway/dashboard"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/spf13/cobra"
)

func sealkeyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "sealkey", Short: "Rotate the keys that seal session cookies and stored secrets"}
	list := &cobra.Command{
		Use: "list", Short: "List sealing keys, newest (sealing) first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				var b strings.Builder
				w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tCREATED\tROLE")
				type row struct {
					ID        string    `json:"id"`
					CreatedAt time.Time `json:"createdAt"`
					Sealing   bool      `json:"sealing"`
				}
				rows := []row{}
				for i, k := range s.SealKeys() {
					role := "opens only"
					if i == 0 {
						role = "seals and opens"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", k.ID, k.CreatedAt.Format(time.RFC3339), role)
					rows = append(rows, row{k.ID, k.CreatedAt, i == 0})
				}
				w.Flush()
				g.print(rows, b.String())
				return nil
			})
		},
	}
	rotate := &cobra.Command{
		Use: "rotate", Short: "Add a new sealing key; older keys keep opening what they sealed", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				k, err := s.RotateSealKey(ctx, time.Now())
				if err != nil {
					return err
				}
				g.print(map[string]any{"id": k.ID, "createdAt": k.CreatedAt}, fmt.Sprintf(
					"new sealing key %s; every instance seals with it within a second. Retire older keys after %v with `portico sealkey retire ID`.\n",
					k.ID, tenants.SealKeyOverlap))
				return nil
			})
		},
	}
	var force bool
	retire := &cobra.Command{
		Use: "retire ID", Short: "Re-seal stored secrets with the newest key, then delete key ID", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				ring, err := sealingKeys(s)
				if err != nil {
					return err
				}
				svc, err := webhooks.New(webhooks.Config{Store: s, Keyring: ring})
				if err != nil {
					return err
				}
				var ids []string
				for _, t := range s.Tenants() {
					ids = append(ids, t.ID)
				}
				n, err := svc.ResealSecrets(ctx, ids)
				if err != nil {
					return err
				}
				m, err := dashboard.ResealTOTPSecrets(ctx, s, ring, ids)
				if err != nil {
					return err
				}
				bsvc, err := backend.New(backend.Config{Store: s, Keyring: ring})
				if err != nil {
					return err
				}
				nb, err := bsvc.ResealSecrets(ctx, ids)
				if err != nil {
					return err
				}
				if err := s.RetireSealKey(ctx, args[0], time.Now(), force); err != nil {
					return err
				}
				g.print(map[string]any{"retired": args[0], "resealedEndpoints": n, "resealedAdminTOTP": m, "resealedBackends": nb},
					fmt.Sprintf("re-sealed %d webhook endpoint secrets, %d admin TOTP secrets and %d backend secrets; retired sealing key %s\n", n, m, nb, args[0]))
				return nil
			})
		},
	}
	retire.Flags().BoolVar(&force, "force", false, "retire even if its successor is younger than the overlap (live sessions it sealed end)")
	cmd.AddCommand(list, rotate, retire)
	return cmd
}
