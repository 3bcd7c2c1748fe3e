// Package faults holds Portico's fault tests; it has no code of its own besides this comment.
//
// Every test runs against a real three-member etcd cluster on loopback (internal/etcdtest
// StartCluster) and two gateway instances sharing it, as an installation with two machines
// would: two tenants.Store with their own etcd clients on one key prefix, and two gateways on
// in-memory listeners, or, for the gateway crashes, two `portico serve` processes. The tests
// kill etcd members and gateway processes while load runs and check what Portico promises:
//
//   - `portico serve` and the CLI start with any etcd member down, first listed or not, against
//     embedded members and against standalone etcd processes of the system's package (Debian's
//     etcd-server, the oldest server version Portico supports; the test fails without it);
//   - every single-use link is redeemed exactly once, whichever instance a customer reaches;
//   - one etcd member down (and back) fails no page and only the requests in flight at the kill,
//     and the caches are correct afterwards;
//   - with the quorum lost, pages of live sessions render from cache with the
//     X-Portico-Degraded header, every write answers 503 with a clear message and changes
//     nothing, and the service recovers by itself when the quorum returns;
//   - a gateway killed in the middle of writes and webhook deliveries leaves no half-written
//     document and loses no event.
//
// The tests log their figures (requests sent, failed, tokens double-spent); the README quotes
// them.
package faults
