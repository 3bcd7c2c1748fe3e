package tenants

import (
	"fmt"
	"log/slog"
	"net/url"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// EmbedConfig configures the embedded single-member etcd of `portico serve`.
type EmbedConfig struct {
	// Dir is the data directory (default "./data").
	Dir string
	// ClientAddr is the client listener host:port (default "127.0.0.1:2379").
	ClientAddr string
	// PeerAddr is the peer listener host:port (default "127.0.0.1:2380").
	PeerAddr string
	// Logger receives start-up failures (default slog.Default()); etcd's own logs are off unless
	// Verbose is set.
	Logger  *slog.Logger
	Verbose bool
	// QuotaBytes is the database's space quota: past it etcd raises its NOSPACE alarm and refuses
	// every write (default 0: etcd's 2 GiB).
	QuotaBytes int64
}

// Raft log bounds of the embedded member. etcd keeps the raft entries since its last in-memory
// snapshot (every 100 entries) plus SnapshotCatchUpEntries in memory, and each entry holds a whole
// request: with etcd's default of 5,000, rewrites of large documents kept gigabytes resident. A
// single member has no follower to catch up, so 100 is plenty.
const (
	embedSnapshotCount          = 5000
	embedSnapshotCatchUpEntries = 100
)

// Embedded is a running embedded etcd member.
type Embedded struct {
	e        *embed.Etcd
	Endpoint string
}

// StartEmbedded starts a single-member etcd and waits until it serves.
func StartEmbedded(cfg EmbedConfig) (*Embedded, error) {
	if cfg.Dir == "" {
		cfg.Dir = "./data"
	}
	if cfg.ClientAddr == "" {
		cfg.ClientAddr = "127.0.0.1:2379"
	}
	if cfg.PeerAddr == "" {
		cfg.PeerAddr = "127.0.0.1:2380"
	}
	ec := embed.NewConfig()
	ec.Dir = cfg.Dir
	ec.Name = "portico"
	cu, err := url.Parse("http://" + cfg.ClientAddr)
	if err != nil {
		return nil, fmt.Errorf("tenants: etcd client address %q: %w", cfg.ClientAddr, err)
	}
	pu, err := url.Parse("http://" + cfg.PeerAddr)
	if err != nil {
		return nil, fmt.Errorf("tenants: etcd peer address %q: %w", cfg.PeerAddr, err)
	}
	ec.ListenClientUrls, ec.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	ec.ListenPeerUrls, ec.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	ec.InitialCluster = "portico=" + pu.String()
	// Compact hourly; the store's CompactLoop also compacts by revision count.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	ec.SnapshotCount = embedSnapshotCount
	ec.SnapshotCatchUpEntries = embedSnapshotCatchUpEntries
	ec.QuotaBackendBytes = cfg.QuotaBytes
	if !cfg.Verbose {
		ec.LogLevel = "error"
		ec.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("tenants: starting embedded etcd in %q: %w", cfg.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("tenants: embedded etcd failed: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("tenants: embedded etcd not ready after 60s")
	}
	return &Embedded{e: e, Endpoint: cu.String()}, nil
}

// Client returns a client that calls the member in process, without gRPC over loopback: the
// serialisation, HTTP/2 framing and two extra goroutine hops of every request are gone, which
// halves the CPU a link's creation and redemption cost (tenants/BenchmarkLinkLifecycle). The
// member's client listener stays up for the command-line tools. Close the client before the
// member.
func (m *Embedded) Client() *clientv3.Client { return v3client.New(m.e.Server) }

// Close stops the member after it has finished in-flight requests and synced its data.
func (m *Embedded) Close() { m.e.Close() }
