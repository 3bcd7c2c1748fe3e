// Package tenants is Portico's data layer on etcd: tenants and their branding, API keys, account
// documents, single-use portal links, idempotency records and session sealing keys. It owns the
// key layout, every etcd read and write the gateway makes, the read caches and the one watch per
// process that keeps them fresh. It knows nothing of HTTP or HTML.
//
// # Key layout
//
// Every key lives under a prefix (Config.Prefix, default "/portico/"). Keys under "state/" are
// durable and watched; keys under "lease/" carry an etcd lease and expire on their own, so the
// watch does not have to carry their churn. Every key is built in keys.go; other packages get
// theirs from the Store (BackendKey, BackendAttemptKey, OutboxPrefix, WebhooksPrefix,
// CertsPrefix), never by concatenating the prefix.
//
//	state/tenants/<tenantID>              tenant record (JSON, see Tenant)
//	state/slugs/<slug>                    tenant id; makes slugs unique (created in a Txn)
//	state/logos/<tenantID>                logo bytes; type and ETag are in the tenant record
//	state/apikeys/<keyID>                 API key record: tenant id and sha256 of the key, never the key
//	state/accounts/<tenantID>/<accountID> account document: 0x01 and a zstd frame of its JSON (see package account, docstore.go); plain JSON if not written since
//	state/aliases/<tenantID>/<alias>      account id; makes aliases unique per tenant
//	state/domains/<host>/<tenantID>       a tenant's claim on a custom domain (JSON, see Domain); several tenants may claim a name
//	state/domainowners/<host>             tenant id of the one claim that verified the name (written in the Txn activating it)
//	state/revoked/<tenantID>/s/<sessionID> a revoked portal session (leased past any session's end)
//	state/revoked/<tenantID>/d/<sessionID> a signed-out dashboard admin session (leased until its cookie's end)
//	state/revoked/<tenantID>/a/<accountID> every session of the account issued before this Unix time is revoked
//	state/revoked/<tenantID>/m/<accountID>/<memberID> every session of the member issued before this Unix time is revoked (removed, or given a lower role)
//	state/members/<tenantID>/<accountID>  the number of the account's members: every change of its members rewrites it in its Txn, so concurrent changes conflict
//	state/members/<tenantID>/<accountID>/<memberID> a colleague of the account's holder with a role (JSON, see Member)
//	state/catalog/<tenantID>/plans/<planID> a plan of the tenant's catalog (JSON, see package catalog); archived plans stay
//	state/catalog/<tenantID>/policy       the tenant's change policy (JSON, catalog.Policy)
//	state/admins/<tenantID>/<email>       dashboard admin (JSON, see Admin): argon2id PHC password hash
//	state/sealkeys/<keyID>                session sealing key (AEAD key for portal cookies)
//	state/backends/<tenantID>             the tenant's backend registration (JSON, package backend): URL, signing secrets sealed with the keyring
//	state/refresh/<tenantID>/<accountID>  a source-mode account's cached copy is dropped by every instance (leased for a minute; the value names the instance that wrote it, which keeps its copy)
//	state/meta/<name>                     installation settings (the public URL scheme, domain and port)
//	lease/links/<tenantID>/<sha256(token)> single-use link record; the token itself is never stored
//	lease/idempotency/<tenantID>/<sha256(Idempotency-Key)> first response of a session request, sealed
//	lease/emailsignin/<tenantID>/e/<sha256(email)> pending sign-in by email: sha256 of its link token and code, tries, accounts (see CreateEmailSignIn)
//	lease/emailsignin/<tenantID>/t/<sha256(token)> the sign-in link's token: sha256 of its email, or a used marker
//	lease/emailsignin/<tenantID>/x/<sha256(token)> the accounts a signed-in email chooses from (SignInChoice)
//	lease/emailsignin/<tenantID>/n/<hash>/<window> sign-in emails asked for, by email, by address and by tenant (the key's Version)
//	lease/linkmail/<tenantID>/<accountID>/<unix hour> portal-link emails sent to the account that hour (the key's Version)
//	lease/signin/a|p|u/<hash>/<window> failed dashboard sign-ins by address, by account and address, by account (the key's Version; see SignInWindow)
//	lease/backend/<tenantID>/<sha256(idempotency key)> one attempt at a backend call (package backend): claim while in flight, then its outcome
//	audit/<tenantID>/s/<sessionID>/<unix ns, 16 hex digits>-<type> audit trail of a portal session (leased: retention)
//	audit/<tenantID>/a/<accountID>/<sessionID> the account's sessions, for listing trails by account; the trail tn_<accountID> holds the tenant's changes of its members (TenantTrail)
//	outbox/<tenantID>/<eventID>           transactional outbox: events written in the Txn of their change
//	emails/<tenantID>/<sha256(normalized email)>/<accountID> billing-email index (AccountsByEmail), written in the Txn of the account
//	emails/<tenantID>/<sha256(normalized email)>/<accountID>/<memberID> a member's email in the same index, written in the Txn of the member
//	alerts/<tenantID>/<accountID>         the account's usage alerts and the marks of those sent, by period and threshold (JSON, see UsageAlerts); deleted in the Txn of the account
//	usage/<tenantID>                      bytes of the tenant's account documents and catalog, number of accounts and plans (JSON, see Usage), written in the Txn of every account and catalog change
//	probe/space                           written while etcd's NOSPACE alarm is raised, to see whether writes pass again (see CheckSpace)
//	webhooks/…                            package webhooks' keys (endpoints/<tenantID>/, deliveries/<tenantID>/, tasks/, claims/; see its doc); DeleteTenant removes the tenant's endpoints and deliveries
//	certs/…                               package certs' keys: TLS certificates, their metadata and locks (see its doc)
//
// # Consistency
//
// Every multi-key change is one etcd Txn guarded by the revisions it read (slugs and aliases are
// created with CreateRevision == 0 comparisons), so concurrent writers on any number of instances
// never leave a half-written state. Redeeming a link is one Txn that compares the link's Version,
// so exactly one request wins.
//
// # Caches
//
// Tenants (all of them: they are few and every request needs one) live in an in-memory index
// swapped atomically. Accounts (in a compact form: the compressed document, its locale and the
// gateway's rendered pages, decoded only when a page must be rendered; see AccountSnapshot), API keys, logos and catalogs (a tenant's plans and policy, read
// together) live in ristretto caches filled on a miss. One watch per process, from the revision
// the initial listing saw, applies every change: tenant records update the index,
// account/key/logo/catalog changes evict (a catalog's eviction also gives it a new
// CatalogVersion, which keys what is derived from it without reading it). A fill that raced a change is dropped
// (each cache shard carries a generation the watch bumps, and a fill only lands if its shard's
// generation did not move while etcd was read), so a stale document can never be cached after a
// delete or an update. After a compaction the watch cannot resume: the store re-lists tenants,
// clears the caches and watches again from the new revision.
package tenants
