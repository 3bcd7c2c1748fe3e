package certs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Interface guards: the optional certmagic interfaces are discovered by type assertion, so a
// missing method would silently disable a feature.
var (
	_ certmagic.Storage          = (*Storage)(nil)
	_ certmagic.TryLocker        = (*Storage)(nil)
	_ certmagic.LockLeaseRenewer = (*Storage)(nil)
)

// Defaults of [StorageConfig].
const (
	DefaultPrefix  = "/portico/certs/"
	DefaultLockTTL = 60 * time.Second
)

// Errors of the lock concern.
var (
	// ErrNotLocked is returned by Unlock and RenewLockLease for a name this Storage does not hold.
	ErrNotLocked = errors.New("certs: lock not held by this storage")
	// ErrLockLost is returned by RenewLockLease when the lock's lease expired or its key was deleted
	// while this Storage believed it held the lock: another holder may have taken it since.
	ErrLockLost = errors.New("certs: lock lost")
)

// StorageConfig configures a [Storage]. Only Client is required.
type StorageConfig struct {
	// Client is the etcd client. Required. The Storage does not close it.
	Client *clientv3.Client
	// Prefix is the etcd key prefix that holds everything the Storage writes. Default
	// DefaultPrefix ("/portico/certs/"); a missing trailing "/" is added. Instances that must share
	// certificates and locks use the same prefix.
	Prefix string
	// LockTTL is the TTL of the lease behind each lock: how long a lock outlives a holder that died
	// without unlocking. The lease is kept alive while the lock is held, however long that is.
	// Default DefaultLockTTL (60s); rounded up to whole seconds, and etcd raises it to its minimum
	// lease TTL (about 2s).
	LockTTL time.Duration
}

// Storage is a certmagic.Storage, certmagic.TryLocker and certmagic.LockLeaseRenewer on etcd. It is
// safe for concurrent use. Build it with [NewStorage].
type Storage struct {
	client     *clientv3.Client
	prefix     string
	dataPrefix string // prefix + "data/"
	lockPrefix string // prefix + "locks/"
	lockTTL    time.Duration
	leaseTTL   int64  // lockTTL in whole seconds
	holder     string // value of the lock keys this Storage creates
	listPage   int64  // keys per List round trip

	mu    sync.Mutex
	locks map[string]*lockEntry // by lock name; guarded by mu
}

// NewStorage returns a Storage on cfg.Client with cfg's defaults applied.
func NewStorage(cfg StorageConfig) (*Storage, error) {
	if cfg.Client == nil {
		return nil, errors.New("certs: creating storage: nil etcd client")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	ttl := cfg.LockTTL
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	secs := int64((ttl + time.Second - 1) / time.Second)
	holder, err := newHolderID()
	if err != nil {
		return nil, fmt.Errorf("certs: creating storage: %w", err)
	}
	return &Storage{
		client:     cfg.Client,
		prefix:     prefix,
		dataPrefix: prefix + "data/",
		lockPrefix: prefix + "locks/",
		lockTTL:    time.Duration(secs) * time.Second,
		leaseTTL:   secs,
		holder:     holder,
		listPage:   1000,
		locks:      make(map[string]*lockEntry),
	}, nil
}

// newHolderID returns "<hostname>/<pid>/<random>": unique per Storage value, and readable in etcd
// when an operator wonders who holds a lock.
func newHolderID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("reading random holder id: %w", err)
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:])), nil
}

// HolderID returns the value this Storage writes into the lock keys it holds.
func (s *Storage) HolderID() string { return s.holder }

// Prefix returns the etcd key prefix of the Storage, ending in "/".
func (s *Storage) Prefix() string { return s.prefix }

// String describes the Storage in certmagic's logs.
func (s *Storage) String() string { return "certs.Storage(etcd:" + s.prefix + ")" }

// Envelope of a data value: version byte, Unix nanoseconds (big-endian), then the value.
const (
	envelopeVersion = 1
	envelopeHeader  = 1 + 8
)

// encode returns the envelope of value as a string (what the etcd client takes), in one allocation.
func encode(value []byte, modified time.Time) string {
	var hdr [envelopeHeader]byte
	hdr[0] = envelopeVersion
	binary.BigEndian.PutUint64(hdr[1:], uint64(modified.UnixNano()))
	var b strings.Builder
	b.Grow(envelopeHeader + len(value))
	b.Write(hdr[:])
	b.Write(value)
	return b.String()
}

// decode splits an envelope into its value (a sub-slice of raw) and modification time.
func decode(raw []byte) ([]byte, time.Time, error) {
	if len(raw) < envelopeHeader || raw[0] != envelopeVersion {
		return nil, time.Time{}, errors.New("malformed value envelope")
	}
	ns := int64(binary.BigEndian.Uint64(raw[1:envelopeHeader]))
	return raw[envelopeHeader:], time.Unix(0, ns), nil
}

// cleanKey normalises a certmagic key the way a file system path would be: no leading, trailing
// or doubled slashes, no "." or ".." components. The root is "". Clean keys are returned as is.
func cleanKey(key string) string {
	if isClean(key) {
		return key
	}
	return strings.TrimPrefix(path.Clean("/"+key), "/")
}

func isClean(key string) bool {
	if key == "" {
		return true
	}
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// Store puts value at key, replacing any value there. The value must fit in one etcd request
// (1.5 MiB by default, less the key and 9 bytes of envelope).
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = cleanKey(key)
	if key == "" {
		return errors.New("certs: storing: empty key")
	}
	if _, err := s.client.Put(ctx, s.dataPrefix+key, encode(value, time.Now())); err != nil {
		return fmt.Errorf("certs: storing %q: %w", key, err)
	}
	return nil
}

// Load returns the value at key; a key that is not a stored value (missing, or only a directory)
// gives an error satisfying errors.Is(err, fs.ErrNotExist).
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = cleanKey(key)
	if key == "" {
		return nil, fmt.Errorf("certs: loading: empty key: %w", fs.ErrNotExist)
	}
	resp, err := s.client.Get(ctx, s.dataPrefix+key)
	if err != nil {
		return nil, fmt.Errorf("certs: loading %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("certs: loading %q: %w", key, fs.ErrNotExist)
	}
	value, _, err := decode(resp.Kvs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("certs: loading %q: %w", key, err)
	}
	return value, nil
}

// Delete deletes key and, if key is a directory, everything beneath it, in one Txn. Deleting a
// missing key is not an error. The root ("") cannot be deleted.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = cleanKey(key)
	if key == "" {
		return errors.New("certs: deleting: empty key")
	}
	k := s.dataPrefix + key
	_, err := s.client.Txn(ctx).Then(
		clientv3.OpDelete(k),
		clientv3.OpDelete(k+"/", clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return fmt.Errorf("certs: deleting %q: %w", key, err)
	}
	return nil
}

// Exists reports whether key is a stored value or a directory with something beneath it. Errors
// reaching etcd count as false.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = cleanKey(key)
	if key == "" {
		return false
	}
	k := s.dataPrefix + key
	resp, err := s.client.Txn(ctx).Then(
		clientv3.OpGet(k, clientv3.WithKeysOnly()),
		clientv3.OpGet(k+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(1)),
	).Commit()
	if err != nil {
		return false
	}
	for _, r := range resp.Responses {
		if len(r.GetResponseRange().GetKvs()) > 0 {
			return true
		}
	}
	return false
}

// Stat describes key. For a stored value, Size is its length and Modified the time of its last
// Store. For a directory, IsTerminal is false, Size is 0 and Modified is that of the most recently
// stored value beneath it. A missing key gives an error satisfying errors.Is(err, fs.ErrNotExist).
// If key is both a value and a directory (which a file system cannot express), it is reported as
// the value.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = cleanKey(key)
	if key == "" {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: stating: empty key: %w", fs.ErrNotExist)
	}
	k := s.dataPrefix + key
	resp, err := s.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), ">", 0)).
		Then(clientv3.OpGet(k)).
		Else(clientv3.OpGet(k+"/", clientv3.WithPrefix(),
			clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1))).
		Commit()
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: stating %q: %w", key, err)
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) == 0 {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: stating %q: %w", key, fs.ErrNotExist)
	}
	value, modified, err := decode(kvs[0].Value)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("certs: stating %q: %w", key, err)
	}
	info := certmagic.KeyInfo{Key: key, Modified: modified, IsTerminal: resp.Succeeded}
	if resp.Succeeded {
		info.Size = int64(len(value))
	}
	return info, nil
}

// List returns the keys beneath dir ("" is the root), sorted. With recursive false it returns
// dir's direct children, values and directories alike; with recursive true it returns every
// stored value beneath dir at any depth (directories are walked, not listed). A dir with nothing
// beneath it gives an error satisfying errors.Is(err, fs.ErrNotExist), unless it is a stored value,
// which has no children. The listing is one consistent etcd revision, read in pages.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = cleanKey(dir)
	start := s.dataPrefix
	if dir != "" {
		start += dir + "/"
	}
	end := clientv3.GetPrefixRangeEnd(start)
	var keys []string
	from, rev := start, int64(0)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(s.listPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.client.Get(ctx, from, opts...)
		if err != nil {
			return nil, fmt.Errorf("certs: listing %q: %w", dir, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			rel := string(kv.Key[len(start):])
			if !recursive {
				if i := strings.IndexByte(rel, '/'); i >= 0 {
					rel = rel[:i]
				}
			}
			if dir != "" {
				rel = dir + "/" + rel
			}
			if n := len(keys); n > 0 && keys[n-1] == rel {
				continue // another key in the same child directory
			}
			keys = append(keys, rel)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if len(keys) == 0 {
		if dir != "" && s.Exists(ctx, dir) {
			return nil, nil
		}
		return nil, fmt.Errorf("certs: listing %q: %w", dir, fs.ErrNotExist)
	}
	// A value "a/b" and the directory "a/b/" are not adjacent in key order ("a/b.crt" sorts
	// between them), so sort and drop the remaining duplicates.
	slices.Sort(keys)
	return slices.Compact(keys), nil
}
