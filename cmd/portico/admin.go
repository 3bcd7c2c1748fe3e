package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/spf13/cobra"
)

// adminRow is an admin as the command line shows it: never the password hash.
type adminRow struct {
	Email        string    `json:"email"`
	TenantID     string    `json:"tenantId"`
	CreatedAt    time.Time `json:"createdAt"`
	LastSignInAt time.Time `json:"lastSignInAt,omitzero"`
}

// readPassword reads a password from the first line of r (a trailing newline is dropped).
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("reading the password from stdin: it is empty")
	}
	return pw, tenants.CheckPassword(pw)
}

// adminCmd manages the tenant admins who sign in to the dashboard.
func adminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Manage the admins who sign in to a tenant's dashboard"}
	var tenant, email string
	var fromStdin bool
	// password returns the password to set: from stdin, or generated (then shown once).
	password := func(cmd *cobra.Command) (pw string, generated bool, err error) {
		if fromStdin {
			pw, err = readPassword(cmd.InOrStdin())
			return pw, false, err
		}
		return tenants.GeneratePassword(), true, nil
	}
	signInURL := func(ctx context.Context, s *tenants.Store, t *tenants.Tenant) string {
		u, err := publicURLs(ctx, s)
		if err != nil {
			return ""
		}
		return u.Dashboard() + "/login?tenant=" + t.Slug
	}
	create := &cobra.Command{
		Use:   "create",
		Short: "Add a dashboard admin; prints a generated one-time password, or sets one read from stdin",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, generated, err := password(cmd)
			if err != nil {
				return err
			}
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				a, err := s.CreateAdmin(ctx, t.ID, email, pw)
				if err != nil {
					return err
				}
				url := signInURL(ctx, s, t)
				out := map[string]any{"email": a.Email, "tenantId": t.ID, "tenant": t.Slug, "createdAt": a.CreatedAt, "signInUrl": url}
				text := fmt.Sprintf("created admin %s of tenant %s\n", a.Email, t.Slug)
				if generated {
					out["password"] = pw
					text += "password (shown once; change it under Password after signing in): " + pw + "\n"
				}
				if url != "" {
					text += "sign in at " + url + "\n"
				}
				g.print(out, text)
				return nil
			})
		},
	}
	setPassword := &cobra.Command{
		Use:   "set-password",
		Short: "Replace an admin's password (generated and printed, or read from stdin); clears a lockout and ends their sessions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, generated, err := password(cmd)
			if err != nil {
				return err
			}
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				if err := s.SetAdminPassword(ctx, t.ID, email, pw, time.Now()); err != nil {
					return err
				}
				out := map[string]any{"email": tenants.NormalizeEmail(email), "tenantId": t.ID, "tenant": t.Slug}
				text := fmt.Sprintf("set the password of admin %s of tenant %s\n", tenants.NormalizeEmail(email), t.Slug)
				if generated {
					out["password"] = pw
					text += "password (shown once): " + pw + "\n"
				}
				g.print(out, text)
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, setPassword} {
		c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of stdin instead of generating one")
	}
	list := &cobra.Command{
		Use: "list", Short: "List a tenant's dashboard admins", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				admins, err := s.Admins(ctx, t.ID)
				if err != nil {
					return err
				}
				var b strings.Builder
				w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "EMAIL\tCREATED\tLAST SIGN-IN")
				rows := []adminRow{}
				for _, a := range admins {
					last := "never"
					if !a.LastSignInAt.IsZero() {
						last = a.LastSignInAt.Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\n", a.Email, a.CreatedAt.Format(time.RFC3339), last)
					rows = append(rows, adminRow{a.Email, a.TenantID, a.CreatedAt, a.LastSignInAt})
				}
				w.Flush()
				g.print(rows, b.String())
				return nil
			})
		},
	}
	del := &cobra.Command{
		Use: "delete", Short: "Remove a dashboard admin; their sessions end", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				t, err := s.Tenant(ctx, tenant)
				if err != nil {
					return err
				}
				if err := s.DeleteAdmin(ctx, t.ID, email); err != nil {
					return err
				}
				e := tenants.NormalizeEmail(email)
				g.print(map[string]string{"deleted": e, "tenant": t.Slug}, fmt.Sprintf("deleted admin %s of tenant %s\n", e, t.Slug))
				return nil
			})
		},
	}
	for _, c := range []*cobra.Command{create, setPassword, list, del} {
		c.Flags().StringVar(&tenant, "tenant", "", "tenant slug or id (required)")
		c.MarkFlagRequired("tenant")
	}
	for _, c := range []*cobra.Command{create, setPassword, del} {
		c.Flags().StringVar(&email, "email", "", "the admin's email (required)")
		c.MarkFlagRequired("email")
	}
	cmd.AddCommand(create, setPassword, list, del)
	return cmd
}
