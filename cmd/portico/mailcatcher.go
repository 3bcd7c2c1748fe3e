package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/portico-billing/portico/mail"
	"github.com/spf13/cobra"
)

func mailCatcherCmd(g *globals) *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "mail-catcher",
		Short: "A local SMTP server that prints every message it receives (for development)",
		Long: `A local SMTP server that prints every message it receives, for development: run it, start
portico serve with --smtp-addr 127.0.0.1:1025 --smtp-tls none (make run does), and use Send Portal
Link in the dashboard.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return mail.Catch(ctx, addr, g.stdout)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:1025", "address to listen on")
	return cmd
}
