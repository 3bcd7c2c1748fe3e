package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// The member name and cluster token of the embedded etcd of `portico serve` (tenants.StartEmbedded
// names its member "portico"; the token is embed's default). A restored data directory must carry
// the same name for serve to start from it.
const (
	embeddedMemberName   = "portico"
	embeddedClusterToken = "etcd-cluster"
)

func backupCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Save a snapshot of the etcd cluster (all of Portico's data) to FILE",
		Long: `Save a snapshot of the etcd cluster at --etcd-endpoints to FILE.

The snapshot is taken from the cluster's leader (any member with a leader when the leader cannot be
reached), checked against the checksum etcd appends to it, and renamed into place only when
complete, so FILE is either the previous file or a whole new snapshot. It holds everything Portico
stores, session sealing keys included: keep it as secret as the cluster itself (it is written with
mode 0600). Restore it with "portico restore FILE --data-dir DIR".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return backup(ctx, g, args[0])
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long the whole backup may take")
	return cmd
}

// backupResult is what backup reports.
type backupResult struct {
	File     string `json:"file"`
	Bytes    int64  `json:"bytes"`
	Revision int64  `json:"revision"`
	Keys     int    `json:"keys"`
	Member   string `json:"member"`
	Endpoint string `json:"endpoint"`
}

func backup(ctx context.Context, g *globals, file string) error {
	tlsCfg, err := g.etcdTLS()
	if err != nil {
		return err
	}
	cfg := clientv3.Config{
		Endpoints: g.endpointList(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		TLS: tlsCfg, Username: g.etcdUser, Password: g.etcdPassword,
	}
	endpoint, member, err := snapshotSource(ctx, cfg)
	if err != nil {
		return err
	}
	// The snapshot stream must come from that one member: a client of its endpoint alone.
	one := cfg
	one.Endpoints = []string{endpoint}
	c, err := clientv3.New(one)
	if err != nil {
		return fmt.Errorf("connecting to etcd member %s: %w", endpoint, err)
	}
	defer c.Close()

	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".part-*")
	if err != nil {
		return fmt.Errorf("creating the backup file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename it names nothing
	n, err := saveSnapshot(ctx, c, tmp)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", tmp.Name(), cerr)
	}
	if err != nil {
		return err
	}
	st, err := snapshot.NewV3(zap.NewNop()).Status(tmp.Name())
	if err != nil {
		return fmt.Errorf("reading back the snapshot: %w", err)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return fmt.Errorf("moving the snapshot into place: %w", err)
	}
	if d, err := os.Open(dir); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	res := backupResult{File: file, Bytes: n, Revision: st.Revision, Keys: st.TotalKey, Member: member, Endpoint: endpoint}
	g.print(res, fmt.Sprintf("saved a snapshot of etcd member %s (%s) to %s: %d bytes, revision %d, %d keys\n",
		member, endpoint, file, n, st.Revision, st.TotalKey))
	return nil
}

// snapshotSource picks the member to snapshot: the leader, else the first member (in the order
// of the endpoints) that has one. A member without a leader may be behind the cluster, so a
// cluster without quorum is refused. Every member is asked at once.
func snapshotSource(ctx context.Context, cfg clientv3.Config) (endpoint, member string, err error) {
	c, err := clientv3.New(cfg)
	if err != nil {
		return "", "", fmt.Errorf("connecting to etcd %v: %w", cfg.Endpoints, err)
	}
	defer c.Close()
	type answer struct {
		st  *clientv3.StatusResponse
		err error
	}
	answers := make([]answer, len(cfg.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range cfg.Endpoints {
		wg.Go(func() {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			answers[i].st, answers[i].err = c.Status(sctx, ep)
		})
	}
	wg.Wait()
	leader, first := -1, -1
	var errs []error
	for i, a := range answers {
		switch {
		case a.err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", cfg.Endpoints[i], a.err))
		case a.st.Leader == 0:
			errs = append(errs, fmt.Errorf("%s: no leader", cfg.Endpoints[i]))
		case a.st.Leader == a.st.Header.MemberId:
			leader = i
		case first < 0:
			first = i
		}
	}
	pick := leader
	if pick < 0 {
		pick = first
	}
	if pick < 0 {
		return "", "", fmt.Errorf("no etcd member at %v can be snapshotted (a member without a leader may be behind): %w", cfg.Endpoints, errors.Join(errs...))
	}
	return cfg.Endpoints[pick], memberName(ctx, c, answers[pick].st.Header.MemberId), nil
}

func memberName(ctx context.Context, c *clientv3.Client, id uint64) string {
	mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ml, err := c.MemberList(mctx); err == nil {
		for _, m := range ml.Members {
			if m.ID == id && m.Name != "" {
				return m.Name
			}
		}
	}
	return fmt.Sprintf("%x", id)
}

// saveSnapshot streams the member's snapshot into f, syncs it and checks the SHA-256 that etcd
// appends to the database: a truncated or corrupted stream is an error, not a backup.
func saveSnapshot(ctx context.Context, c *clientv3.Client, f *os.File) (int64, error) {
	rc, err := c.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("requesting the snapshot: %w", err)
	}
	defer rc.Close()
	h := &trailingHash{h: sha256.New()}
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		return n, fmt.Errorf("receiving the snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return n, fmt.Errorf("writing the snapshot: %w", err)
	}
	if n < sha256.Size || !bytes.Equal(h.h.Sum(nil), h.tail) {
		return n, fmt.Errorf("the snapshot received (%d bytes) does not match its checksum", n)
	}
	return n, nil
}

// trailingHash hashes everything written to it except the last sha256.Size bytes, which it keeps
// in tail: etcd's snapshot stream is the database followed by its SHA-256.
type trailingHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	tail []byte
}

func (t *trailingHash) Write(p []byte) (int, error) {
	buf := append(t.tail, p...)
	if cut := len(buf) - sha256.Size; cut > 0 {
		t.h.Write(buf[:cut])
		buf = buf[cut:]
	}
	t.tail = append([]byte(nil), buf...)
	return len(p), nil
}

func restoreCmd(g *globals) *cobra.Command {
	var dataDir, peerListen string
	cmd := &cobra.Command{
		Use:   "restore FILE --data-dir DIR",
		Short: "Restore a snapshot from `portico backup` into a fresh data directory for `portico serve`",
		Long: `Restore a snapshot saved by "portico backup" (or "etcdctl snapshot save") into DIR, a new
data directory for the embedded etcd of "portico serve". DIR must not exist or be empty. The
restored member is a single-member cluster named "portico" with the peer URL of --etcd-peer-listen;
start it with "portico serve --data-dir DIR" and the same --etcd-peer-listen.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return restore(g, args[0], dataDir, peerListen) },
	}
	fl := cmd.Flags()
	fl.StringVar(&dataDir, "data-dir", "", "new data directory for `portico serve --data-dir` (required; must be empty)")
	fl.StringVar(&peerListen, "etcd-peer-listen", "127.0.0.1:2380", "peer listener the restored embedded etcd will run with (as `portico serve --etcd-peer-listen`)")
	cmd.MarkFlagRequired("data-dir")
	return cmd
}

// restoreResult is what restore reports.
type restoreResult struct {
	DataDir  string `json:"dataDir"`
	Revision int64  `json:"revision"`
	Keys     int    `json:"keys"`
	PeerURL  string `json:"peerURL"`
}

func restore(g *globals, file, dataDir, peerListen string) error {
	if dataDir == "" {
		return errors.New("--data-dir is required")
	}
	entries, err := os.ReadDir(dataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("reading --data-dir: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("data directory %s is not empty; restore needs a new one (move the old one aside first)", dataDir)
	}
	mgr := snapshot.NewV3(zap.NewNop())
	st, err := mgr.Status(file)
	if err != nil {
		return fmt.Errorf("reading snapshot %s: %w", file, err)
	}
	peerURL := "http://" + peerListen
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating --data-dir: %w", err)
	}
	etcdDir := filepath.Join(dataDir, "etcd") // where `portico serve` keeps the embedded etcd
	err = mgr.Restore(snapshot.RestoreConfig{
		SnapshotPath:        file,
		Name:                embeddedMemberName,
		OutputDataDir:       etcdDir,
		PeerURLs:            []string{peerURL},
		InitialCluster:      embeddedMemberName + "=" + peerURL,
		InitialClusterToken: embeddedClusterToken,
	})
	if err != nil {
		os.RemoveAll(etcdDir) // never leave a half-restored directory behind
		return fmt.Errorf("restoring %s into %s: %w", file, etcdDir, err)
	}
	g.print(restoreResult{DataDir: dataDir, Revision: st.Revision, Keys: st.TotalKey, PeerURL: peerURL},
		fmt.Sprintf("restored %s (revision %d, %d keys) into %s\nstart it with: portico serve --data-dir %s --etcd-peer-listen %s\n",
			file, st.Revision, st.TotalKey, dataDir, dataDir, peerListen))
	return nil
}
