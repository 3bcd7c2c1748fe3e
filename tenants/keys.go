package tenants

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// keyspace builds every etcd key of one Store: no other file of the package concatenates a key,
// and other packages get theirs from the exported builders at the end of this file. The layout
// is listed in the package doc; keep the two in step.
type keyspace struct{ p string }

// Durable keys, watched: state/.
func (k keyspace) state() string                   { return k.p + "state/" }
func (k keyspace) tenants() string                 { return k.p + "state/tenants/" }
func (k keyspace) tenant(id string) string         { return k.p + "state/tenants/" + id }
func (k keyspace) slug(slug string) string         { return k.p + "state/slugs/" + slug }
func (k keyspace) logo(tid string) string          { return k.p + "state/logos/" + tid }
func (k keyspace) apikeys() string                 { return k.p + "state/apikeys/" }
func (k keyspace) apikey(kid string) string        { return k.p + "state/apikeys/" + kid }
func (k keyspace) accounts(tid string) string      { return k.p + "state/accounts/" + tid + "/" }
func (k keyspace) account(tid, aid string) string  { return k.p + "state/accounts/" + tid + "/" + aid }
func (k keyspace) aliases(tid string) string       { return k.p + "state/aliases/" + tid + "/" }
func (k keyspace) alias(tid, alias string) string  { return k.p + "state/aliases/" + tid + "/" + alias }
func (k keyspace) domains() string                 { return k.p + "state/domains/" }
func (k keyspace) domain(host, tid string) string  { return k.p + "state/domains/" + host + "/" + tid }
func (k keyspace) domainOwners() string            { return k.p + "state/domainowners/" }
func (k keyspace) domainOwner(host string) string  { return k.p + "state/domainowners/" + host }
func (k keyspace) revoked() string                 { return k.p + "state/revoked/" }
func (k keyspace) revokedTenant(tid string) string { return k.p + "state/revoked/" + tid + "/" }
func (k keyspace) revokedSession(tid, sid string) string {
	return k.p + "state/revoked/" + tid + "/s/" + sid
}
func (k keyspace) revokedAdminSession(tid, sid string) string {
	return k.p + "state/revoked/" + tid + "/d/" + sid
}
func (k keyspace) revokedAccount(tid, aid string) string {
	return k.p + "state/revoked/" + tid + "/a/" + aid
}
func (k keyspace) revokedMember(tid, aid, mid string) string {
	return k.p + "state/revoked/" + tid + "/m/" + aid + "/" + mid
}
func (k keyspace) memberCounter(tid, aid string) string {
	return k.p + "state/members/" + tid + "/" + aid
}
func (k keyspace) members(tid, aid string) string {
	return k.p + "state/members/" + tid + "/" + aid + "/"
}
func (k keyspace) membersTenant(tid string) string { return k.p + "state/members/" + tid + "/" }
func (k keyspace) member(tid, aid, mid string) string {
	return k.p + "state/members/" + tid + "/" + aid + "/" + mid
}
func (k keyspace) admins(tid string) string { return k.p + "state/admins/" + tid + "/" }
func (k keyspace) admin(tid, email string) string {
	return k.p + "state/admins/" + tid + "/" + email
}
func (k keyspace) catalog(tid string) string { return k.p + "state/catalog/" + tid + "/" }
func (k keyspace) plans(tid string) string   { return k.p + "state/catalog/" + tid + "/plans/" }
func (k keyspace) plan(tid, pid string) string {
	return k.p + "state/catalog/" + tid + "/plans/" + pid
}
func (k keyspace) planPolicy(tid string) string { return k.p + "state/catalog/" + tid + "/policy" }
func (k keyspace) sealkeys() string             { return k.p + "state/sealkeys/" }
func (k keyspace) sealkey(kid string) string    { return k.p + "state/sealkeys/" + kid }
func (k keyspace) backend(tid string) string    { return k.p + "state/backends/" + tid }
func (k keyspace) backends() string             { return k.p + "state/backends/" }
func (k keyspace) meta(name string) string      { return k.p + "state/meta/" + name }
func (k keyspace) refresh(tid, aid string) string {
	return k.p + "state/refresh/" + tid + "/" + aid
}
func (k keyspace) ping() string       { return k.p + "state/ping" }      // never written: read to ping
func (k keyspace) watchProbe() string { return k.p + "state/\x00probe" } // never written: read at a revision to see a compaction

// Durable keys outside state/, not watched by the store: the outbox (watched by package webhooks),
// usage counters (read on demand) and the space probe.
func (k keyspace) outbox() string                 { return k.p + "outbox/" }
func (k keyspace) outboxTenant(tid string) string { return k.p + "outbox/" + tid + "/" }
func (k keyspace) outboxEvent(tid, id string) string {
	return k.p + "outbox/" + tid + "/" + id
}
func (k keyspace) spaceProbe() string      { return k.p + "probe/space" } // written to see whether a NOSPACE alarm still holds
func (k keyspace) usage(tid string) string { return k.p + "usage/" + tid }

// alerts/<tenantID>/<accountID>: an account's usage alerts and their sent marks (UsageAlerts).
func (k keyspace) alerts(tid, aid string) string { return k.p + "alerts/" + tid + "/" + aid }

// emails/<tenantID>/<sha256(normalized email)>/<accountID>: the billing-email index, written in
// the Txn of the account's document; .../<accountID>/<memberID> indexes a member's email, written
// in the Txn of the member.
func (k keyspace) emailIndexTenant(tid string) string { return k.p + "emails/" + tid + "/" }
func (k keyspace) emailIndex(tid, emailHash string) string {
	return k.emailIndexTenant(tid) + emailHash + "/"
}
func (k keyspace) emailIndexAccount(tid, emailHash, aid string) string {
	return k.emailIndex(tid, emailHash) + aid
}
func (k keyspace) emailIndexMember(tid, emailHash, aid, mid string) string {
	return k.emailIndex(tid, emailHash) + aid + "/" + mid
}

// Leased keys, not watched: lease/.
func (k keyspace) links(tid string) string         { return k.p + "lease/links/" + tid + "/" }
func (k keyspace) link(tid, hash string) string    { return k.p + "lease/links/" + tid + "/" + hash }
func (k keyspace) idempotencies(tid string) string { return k.p + "lease/idempotency/" + tid + "/" }
func (k keyspace) idempotency(tid, hash string) string {
	return k.p + "lease/idempotency/" + tid + "/" + hash
}
func (k keyspace) emailSignIns(tid string) string { return k.p + "lease/emailsignin/" + tid + "/" }

// emailSignIn is a sign-in by email's key: kind "e" (the challenge, by sha256 of the email),
// "t" (its link token, by sha256 of the token), "x" (a chooser, by sha256 of its token), "n"
// (a request counter, by a hash of its scope and the window).
func (k keyspace) emailSignIn(tid, kind, hash string) string {
	return k.emailSignIns(tid) + kind + "/" + hash
}
func (k keyspace) linkMails(tid string) string { return k.p + "lease/linkmail/" + tid + "/" }
func (k keyspace) linkMail(tid, aid string, hour int64) string {
	return k.p + "lease/linkmail/" + tid + "/" + aid + "/" + strconv.FormatInt(hour, 10)
}

// signIn is a failed-sign-in counter: scope is "a" (by address), "p" (by account and address) or
// "u" (by account), hash names the address and account, window the SignInWindow.
func (k keyspace) signIn(scope, hash string, window int64) string {
	return k.p + "lease/signin/" + scope + "/" + hash + "/" + strconv.FormatInt(window, 10)
}
func (k keyspace) backendAttempts(tid string) string {
	return k.p + "lease/backend/" + tid + "/"
}

// Audit trails, leased for their retention: audit/.
func (k keyspace) audit(tid string) string { return k.p + "audit/" + tid + "/" }
func (k keyspace) auditSession(tid, sid string) string {
	return k.p + "audit/" + tid + "/s/" + sid + "/"
}
func (k keyspace) auditEntry(tid, sid string, at time.Time, typ string) string {
	return fmt.Sprintf("%s%016x-%s", k.auditSession(tid, sid), at.UnixNano(), typ)
}
func (k keyspace) auditAccounts(tid, aid string) string {
	return k.p + "audit/" + tid + "/a/" + aid + "/"
}
func (k keyspace) auditAccount(tid, aid, sid string) string {
	return k.p + "audit/" + tid + "/a/" + aid + "/" + sid
}

// Subspaces other packages own: webhooks/ (package webhooks builds its keys under it) and certs/
// (package certs). The store knows only the per-tenant parts DeleteTenant removes.
func (k keyspace) webhooks() string { return k.p + "webhooks/" }
func (k keyspace) webhookEndpoints(tid string) string {
	return k.p + "webhooks/endpoints/" + tid + "/"
}
func (k keyspace) webhookDeliveries(tid string) string {
	return k.p + "webhooks/deliveries/" + tid + "/"
}
func (k keyspace) certs() string { return k.p + "certs/" }

// kind classifies a watched key; rest is what follows the kind's prefix.
func (k keyspace) kind(key string) (kind, rest string) {
	s, ok := strings.CutPrefix(key, k.state())
	if !ok {
		return "", ""
	}
	kind, rest, _ = strings.Cut(s, "/")
	return kind, rest
}

// Prefix is the key prefix of everything the store reads and writes (Config.Prefix).
func (s *Store) Prefix() string { return s.k.p }

// OutboxPrefix is the prefix of every tenant's outbox; the webhook dispatcher watches it.
func (s *Store) OutboxPrefix() string { return s.k.outbox() }

// OutboxKey is the key of an event in the outbox.
func (s *Store) OutboxKey(e *Event) string { return s.k.outboxEvent(e.TenantID, e.ID) }

// WebhooksPrefix is the subspace package webhooks keeps its endpoints, tasks, claims and
// deliveries under (see its doc); DeleteTenant removes a tenant's endpoints and deliveries.
func (s *Store) WebhooksPrefix() string { return s.k.webhooks() }

// CertsPrefix is the subspace package certs keeps the TLS certificates and their locks under.
func (s *Store) CertsPrefix() string { return s.k.certs() }

// BackendKey is the key of the tenant's backend registration (package backend owns its value).
func (s *Store) BackendKey(tenantID string) string { return s.k.backend(tenantID) }

// BackendAttemptKey is the key of one attempt at a backend call, named by the caller's
// idempotency key, which is stored only as its sha256 (package backend owns its value).
func (s *Store) BackendAttemptKey(tenantID, idempotencyKey string) string {
	return s.k.backendAttempts(tenantID) + hashHex(idempotencyKey)
}

// hashHex is the hex sha256 of a secret; only this form of tokens and keys is ever stored.
func hashHex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// accountCacheKey is the key of an account in the read cache (not in etcd).
func accountCacheKey(tid, aid string) string { return tid + "/" + aid }
