package tenants

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// keyspace builds the etcd keys of one Store; see the package doc for the layout.
type keyspace struct{ p string }

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
func (k keyspace) sealkeys() string                { return k.p + "state/sealkeys/" }
func (k keyspace) sealkey(kid string) string       { return k.p + "state/sealkeys/" + kid }
func (k keyspace) links(tid string) string         { return k.p + "lease/links/" + tid + "/" }
func (k keyspace) link(tid, hash string) string    { return k.p + "lease/links/" + tid + "/" + hash }
func (k keyspace) usage(tid string) string         { return k.p + "usage/" + tid }
func (k keyspace) idempotencies(tid string) string { return k.p + "lease/idempotency/" + tid + "/" }
func (k keyspace) idempotency(tid, hash string) string {
	return k.p + "lease/idempotency/" + tid + "/" + hash
}

func (k keyspace) revoked() string { return k.p + "state/revoked/" }
func (k keyspace) revokedSession(tid, sid string) string {
	return k.p + "state/revoked/" + tid + "/s/" + sid
}
func (k keyspace) revokedAdminSession(tid, sid string) string {
	return k.p + "state/revoked/" + tid + "/d/" + sid
}
func (k keyspace) revokedAccount(tid, aid string) string {
	return k.p + "state/revoked/" + tid + "/a/" + aid
}
func (k keyspace) auditSession(tid, sid string) string {
	return k.p + "audit/" + tid + "/s/" + sid + "/"
}
func (k keyspace) auditAccounts(tid, aid string) string {
	return k.p + "audit/" + tid + "/a/" + aid + "/"
}
func (k keyspace) auditAccount(tid, aid, sid string) string {
	return k.p + "audit/" + tid + "/a/" + aid + "/" + sid
}
func (k keyspace) domains() string                { return k.p + "state/domains/" }
func (k keyspace) domain(host, tid string) string { return k.p + "state/domains/" + host + "/" + tid }
func (k keyspace) domainOwners() string           { return k.p + "state/domainowners/" }
func (k keyspace) domainOwner(host string) string { return k.p + "state/domainowners/" + host }
func (k keyspace) outbox() string                 { return k.p + "outbox/" }
func (k keyspace) backend(tid string) string      { return k.p + "state/backends/" + tid }
func (k keyspace) backendAttempts(tid string) string {
	return k.p + "lease/backend/" + tid + "/"
}
func (k keyspace) outboxEvent(tid, id string) string {
	return k.p + "outbox/" + tid + "/" + id
}

func (k keyspace) admins(tid string) string { return k.p + "state/admins/" + tid + "/" }
func (k keyspace) admin(tid, email string) string {
	return k.p + "state/admins/" + tid + "/" + email
}
func (k keyspace) linkMail(tid, aid string, hour int64) string {
	return k.p + "lease/linkmail/" + tid + "/" + aid + "/" + strconv.FormatInt(hour, 10)
}

// BackendKey is the key of the tenant's backend registration (package backend owns its value).
func (s *Store) BackendKey(tenantID string) string { return s.k.backend(tenantID) }

// BackendAttemptKey is the key of one attempt at a backend call, named by the caller's
// idempotency key, which is stored only as its sha256 (package backend owns its value).
func (s *Store) BackendAttemptKey(tenantID, idempotencyKey string) string {
	return s.k.backendAttempts(tenantID) + hashHex(idempotencyKey)
}

// kind classifies a watched key; rest is what follows the kind's prefix.
func (k keyspace) kind(key string) (kind, rest string) {
	s, ok := strings.CutPrefix(key, k.p+"state/")
	if !ok {
		return "", ""
	}
	kind, rest, _ = strings.Cut(s, "/")
	return kind, rest
}

// hashHex is the hex sha256 of a secret; only this form of tokens and keys is ever stored.
func hashHex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// prefixEnd is the end of the range of keys starting with prefix (clientv3.GetPrefixRangeEnd).
func accountCacheKey(tid, aid string) string { return tid + "/" + aid }
