// Package certs owns Portico's TLS certificates for tenant domains:
//
//   - [Storage], the etcd-backed certmagic.Storage that every gateway instance shares, so a
//     certificate obtained by one instance is served by all and one ACME order per name runs at a
//     time across the cluster;
//   - [Manager], the certmagic configuration of the gateway: on-demand certificates (ECDSA P-256)
//     from an ACME CA for the names its decision function allows, served through
//     [Manager.TLSConfig] (which also answers TLS-ALPN-01), renewed by handshakes, with OCSP
//     staples kept fresh; and HTTP-01 answers for fasthttp ([Manager.HandleHTTPChallenge]).
//
// It does not decide which names get certificates: the gateway passes the decision function
// (tenant slugs and active custom domains, from package tenants' index), and wires the listeners.
// Sub-package pebbletest runs the Pebble ACME test CA in-process for tests.
//
// It owns the etcd keys under its prefix (default "/portico/certs/") and must not touch any other
// key: tenants, domains and accounts belong to package tenants.
//
// # Challenges across instances
//
// The instance whose handshake needs a certificate takes the lock "issue_cert_<name>", orders it,
// and before asking the CA to validate stores the challenge (token and key authorization) in the
// Storage under acme/<CA>/challenge_tokens/<name>.json (certmagic's distributed solver); the CA's
// request may reach any instance behind the load balancer. HTTP-01 (port 80): that instance's
// plain-HTTP listener calls [Manager.HandleHTTPChallenge], which answers from this process's memory
// if it started the order, else from the Storage. TLS-ALPN-01 (port 443): the HTTPS listener's
// GetCertificate serves the challenge certificate, built from the same data. The challenge key is
// deleted when the order's validation ends.
//
// # Timeouts
//
// A first handshake for a new name waits for issuance (about 0.6 s against the in-process Pebble,
// seconds against Let's Encrypt, at most 3 minutes by certmagic's bound). In fasthttp the
// server's ReadTimeout also covers the TLS handshake of a new connection, so it must be longer than
// the issuance it allows to wait.
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
