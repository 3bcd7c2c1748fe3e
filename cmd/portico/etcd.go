package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/spf13/cobra"
)

func etcdCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "etcd", Short: "Look after Portico's etcd"}
	var timeout time.Duration
	maint := &cobra.Command{
		Use:   "maintenance",
		Short: "Free etcd's space and lift its space alarm: compact the history, defragment every endpoint, disarm NOSPACE",
		Long: "Compacts etcd's history to the current revision, defragments every endpoint of --etcd-endpoints " +
			"(a member does not answer while it defragments: seconds for a few hundred MB) and disarms the NOSPACE " +
			"alarm, after which writes are accepted again without restarting anything. It refuses to disarm " +
			"while an endpoint is still over its quota. With etcd auth it needs a user with the root role.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s *tenants.Store) error {
				ctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				rep, err := tenants.Maintain(ctx, s.Client())
				if rep != nil {
					var b strings.Builder
					fmt.Fprintf(&b, "compacted to revision %d\n", rep.CompactedTo)
					for _, e := range rep.Endpoints {
						fmt.Fprintf(&b, "%s: %d → %d bytes (%d in use, quota %d)\n", e.Endpoint, e.BytesBefore, e.BytesAfter, e.InUse, e.Quota)
					}
					if len(rep.Disarmed) == 0 {
						b.WriteString("no NOSPACE alarm was raised\n")
					}
					for _, d := range rep.Disarmed {
						fmt.Fprintf(&b, "disarmed %s\n", d)
					}
					g.print(rep, b.String())
				}
				return err
			})
		},
	}
	maint.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "give up after this long")
	cmd.AddCommand(maint)
	return cmd
}
