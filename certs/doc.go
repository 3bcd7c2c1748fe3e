// Package certs owns Portico's TLS certificates for tenant domains: today the etcd-backed
// certmagic.Storage ([Storage]) that every gateway instance shares, so a certificate obtained by one
// instance is served by all and one ACME order per name runs at a time across the cluster; later
// also the certmagic configuration, the on-demand decision function and HTTP-01 challenge handling
// for fasthttp.
//
// It owns the etcd keys under its prefix (default "/portico/certs/") and must not touch any other
// key: tenants, domains and accounts belong to package tenants.
//
// # Key layout
//
// With prefix P (always ending in "/"):
//
//	P + "data/" + <certmagic key>   one value per certmagic "file", e.g.
//	                                P+"data/certificates/acme-v02.api.letsencrypt.org-directory/example.com/example.com.crt"
//	P + "locks/" + <lock name>      one key per held lock, e.g. P+"locks/issue_cert_example.com";
//	                                its value is the holder's id, and it is attached to the holder's lease
//
// A data value is an envelope: one version byte (1), the modification time as 8 bytes of big-endian
// Unix nanoseconds (the writer's clock), then the stored bytes unchanged. certmagic "directories"
// are not stored: a directory exists while some key lies beneath it, as in an object store.
//
// # Locks
//
// Each acquisition grants its own etcd lease (TTL [StorageConfig.LockTTL]) and creates the lock
// key only if it does not exist, in one Txn. The lease is kept alive while the lock is held or
// awaited; Unlock revokes it, which deletes the key atomically, so a Storage can never release a
// lock it does not hold. When a holder dies its lease expires and etcd deletes the key within the
// TTL. Waiters watch the key for its deletion instead of polling. Within one Storage value,
// goroutines queue on an in-process gate per name, so only one of them contends in etcd at a time.
// Locks are not fair (no FIFO order between instances) and carry no fencing token: as certmagic
// documents, callers must re-check after acquiring whether the work is still needed.
package certs
