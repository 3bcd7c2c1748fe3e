package tenants

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// cpuNow is the CPU time the process has used.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLinkLifecycle creates and redeems a link per op through the gRPC client over loopback
// and through the in-process client of the embedded member; cpu-µs/op is the process's CPU (the
// store and the etcd member together) per link.
func BenchmarkLinkLifecycle(b *testing.B) {
	for _, c := range []struct {
		name string
		open func() *Store
	}{
		{"grpc", func() *Store { return benchStore(b, srv.Client(b)) }},
		{"inprocess", func() *Store {
			c := v3client.New(srv.Etcd.Server)
			b.Cleanup(func() { c.Close() })
			return benchStore(b, c)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := c.open()
			ctx := context.Background()
			tn, err := s.CreateTenant(ctx, &Tenant{Slug: "bench-" + c.name, Name: "B"})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start := cpuNow()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					tok, _, err := s.CreateLink(ctx, tn.ID, newLink("acc1", time.Hour), CreateLinkOptions{})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := s.RedeemLink(ctx, tn.ID, tok, time.Now(), RedeemInfo{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuNow()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

func benchStore(b *testing.B, c *clientv3.Client) *Store {
	s, err := Open(context.Background(), Config{Client: c, Prefix: etcdtest.Prefix(b), RequestTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	return s
}
