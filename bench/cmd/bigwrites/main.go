// Command bigwrites measures the embedded etcd's memory and database growth while writers rewrite
// one large account document (the storage finding's load): it starts tenants.StartEmbedded in a
// temporary directory, runs the store's CompactLoop as `portico serve` does, and prints the
// process RSS, Go heap and database size every few seconds.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	dur := flag.Duration("d", 15*time.Second, "how long to write")
	writers := flag.Int("c", 3, "parallel writers")
	keep := flag.Int64("keep", 0, "revisions CompactLoop keeps (0: its default, 1,000)")
	flag.Parse()
	dir, _ := os.MkdirTemp("", "bigwrites-*")
	defer os.RemoveAll(dir)
	e, err := tenants.StartEmbedded(tenants.EmbedConfig{Dir: filepath.Join(dir, "etcd"), ClientAddr: "127.0.0.1:23790", PeerAddr: "127.0.0.1:23800"})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint}, Logger: zap.NewNop()})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := tenants.Open(ctx, tenants.Config{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	go s.CompactLoop(ctx, tenants.CompactConfig{Keep: *keep})
	tn, err := s.CreateTenant(ctx, &tenants.Tenant{Slug: "big", Name: "Big"})
	if err != nil {
		panic(err)
	}
	a := account.Account{ID: "big", Name: "Big", Currency: "EUR"}
	for i := 0; ; i++ {
		a.Invoices = append(a.Invoices, account.Invoice{ID: fmt.Sprintf("i%d", i), Status: account.InvPaid,
			Lines: []account.Line{{Description: strings.Repeat("usage ", 75), Quantity: 1}}})
		if b, _ := json.Marshal(&a); len(b) > account.MaxDocumentSize-1000 {
			fmt.Printf("document: %d bytes, %d writers, %v\n", len(b), *writers, *dur)
			break
		}
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(*dur)
	for range *writers {
		wg.Go(func() {
			for time.Now().Before(end) {
				doc := a
				if _, _, err := s.PutAccount(ctx, tn.ID, &doc, 0); err != nil {
					fmt.Println("put:", err)
					return
				}
				n.Add(1)
			}
		})
	}
	var peak int64
	report := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st, _ := c.Status(ctx, e.Endpoint)
		rss := rssBytes()
		peak = max(peak, rss)
		fmt.Printf("%5d writes  RSS %4d MB  heap %4d MB  db %4d MB (in use %d MB)\n", n.Load(), rss>>20, ms.HeapInuse>>20, st.DbSize>>20, st.DbSizeInUse>>20)
	}
	for time.Now().Before(end) {
		time.Sleep(3 * time.Second)
		report()
	}
	wg.Wait()
	report()
	fmt.Printf("peak RSS %d MB after %d writes of %d bytes\n", peak>>20, n.Load(), account.MaxDocumentSize)
	cancel()
	s.Close()
}

// rssBytes reads the resident set size from /proc/self/status.
func rssBytes() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}
