// Package webhooks delivers the tenant outbox to tenants' endpoints as Standard Webhooks.
//
// It owns the webhook endpoints of every tenant (URL, event filter, signing secrets sealed at
// rest), the delivery queue and its history, the signing and verification of the Standard
// Webhooks headers, the SSRF-safe HTTP client deliveries go through, and a small verifying
// receiver (Listen, Handler) for `portico webhook-listen` and tests. It reads the outbox that
// package tenants writes (events are put there in the same etcd Txn as the change they report)
// and touches no other key of package tenants except to delete delivered outbox events. It knows
// nothing of fasthttp: the gateway maps its API routes onto Service's methods.
//
// # Key layout
//
// Every key lives under the tenants store's prefix (tenants.Store.Prefix, default "/portico/");
// the webhooks/ subspace is tenants.Store.WebhooksPrefix, and tenants.Store.DeleteTenant removes
// a tenant's endpoints/ and deliveries/ (both layouts must agree):
//
//	outbox/<tenantID>/<eventID>                       event written by package tenants; deleted at fan-out
//	webhooks/endpoints/<tenantID>/<endpointID>        endpoint record (JSON); secrets sealed with the keyring (package keyring)
//	webhooks/tasks/<dueUnixNano, 20 digits>/<deliveryID> a pending attempt: the event body and where it goes
//	webhooks/claims/<deliveryID>                      the worker delivering that task now; on the worker's lease
//	webhooks/deliveries/<tenantID>/<deliveryID>       attempt history (JSON, see Delivery); on a 7-day lease
//
// Delivery ids ("wd_…") and event ids are time-ordered, so listings come out in creation order.
//
// # Delivery
//
// Every gateway instance runs Service.Run; they share the work through etcd and need no leader.
//
// Fan-out: Run lists the outbox and then watches it. For each event it reads the tenant's
// endpoints and, in ONE Txn guarded by the event key's ModRevision (so of several instances
// fanning out the same event exactly one succeeds), deletes the event and creates, per matching
// enabled endpoint, a task due at once and a delivery record. A "webhook.test" event goes only to
// the endpoint named in its data; an event no endpoint wants is just deleted. The outbox is listed
// again every minute as a safety net.
//
// Claims: a worker range-reads the tasks due now ("tasks/" up to "tasks/<now>", ordered by due
// time), skips those with a claim, and claims one with
// If(CreateRevision(claims/<id>) == 0 && ModRevision(task) unchanged) Then(Put claims/<id> on its
// lease). The lease (TTL Config.ClaimTTL, default Timeout+10s) is kept alive while Run runs and
// revoked when it returns, so a killed instance's claims free themselves after at most ClaimTTL.
// A worker starts a request only while its lease is valid for longer than the request timeout,
// so no two workers ever deliver the same task at the same time.
//
// Outcome: every outcome is one Txn guarded by the claim (its value is the worker's token) and
// the task's ModRevision: delivered (2xx) deletes task and claim; a retryable failure (any other
// status, a timeout, a network error, a redirect, which is never followed) replaces the task by
// one due after the next Schedule delay (± Jitter, or later if Retry-After asks), and deletes
// the claim; after the last attempt the delivery fails. 410 Gone disables the endpoint and fails
// its pending tasks. Each Txn also rewrites the delivery record with the attempt appended. The
// webhook-id header is the event id: stable across attempts and endpoints, so receivers can drop
// duplicates of this at-least-once delivery.
//
// Waking: workers watch tasks (puts) and claims (deletes), and otherwise sleep on a timer until
// the next due task; nothing polls.
package webhooks
