package tenants

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// RevocationTTL is how long a revocation is remembered: longer than any session can live, so a
// revoked session can never come back.
const RevocationTTL = MaxSessionTTL + time.Hour

// revocations is the watched set of revoked portal sessions and accounts, replaced atomically.
type revocations struct {
	sessions map[string]struct{} // "<tenantID>/<sessionID>"
	accounts map[string]int64    // "<tenantID>/<accountID>" → Unix second of revoke-all
	admins   map[string]struct{} // "<tenantID>/<sessionID>" of dashboard admin sessions
	members  map[string]int64    // "<tenantID>/<accountID>/<memberID>" → Unix second of the revocation
}

// AdminSessionRevoked reports whether the dashboard admin session sessionID of the tenant was
// signed out. It does not touch etcd.
func (s *Store) AdminSessionRevoked(tenantID, sessionID string) bool {
	r := s.revoked.Load()
	if r == nil {
		return false
	}
	_, ok := r.admins[tenantID+"/"+sessionID]
	return ok
}

// RevokeAdminSession signs a dashboard admin session out on every instance (they refuse its
// cookie as soon as the watch delivers the change). The revocation is kept until expires, the end
// of the session's cookie, after which the cookie is refused anyway.
func (s *Store) RevokeAdminSession(ctx context.Context, tenantID, sessionID string, expires time.Time) error {
	if tenantID == "" || sessionID == "" || strings.Contains(tenantID+sessionID, "/") {
		return fmt.Errorf("tenants: revoking admin session: %w", ErrInvalidAdmin)
	}
	if err := s.putRevocationUntil(ctx, s.k.revokedAdminSession(tenantID, sessionID), "1", expires); err != nil {
		return err
	}
	// This instance refuses the cookie at once, before its own watch delivers the change.
	s.revMu.Lock()
	defer s.revMu.Unlock()
	next := newRevocations()
	if old := s.revoked.Load(); old != nil {
		next.sessions, next.accounts, next.members = old.sessions, old.accounts, old.members
		for k, v := range old.admins {
			next.admins[k] = v
		}
	}
	next.admins[tenantID+"/"+sessionID] = struct{}{}
	s.revoked.Store(next)
	return nil
}

// SessionRevoked reports whether the session ("<tenantID>/<sessionID>") was revoked. It does not
// touch etcd and does not allocate.
func (s *Store) SessionRevoked(key string) bool {
	r := s.revoked.Load()
	if r == nil {
		return false
	}
	_, ok := r.sessions[key]
	return ok
}

// AccountRevokedAt returns when every session of the account ("<tenantID>/<accountID>") issued
// until then was revoked, in Unix seconds, or 0. It does not allocate.
func (s *Store) AccountRevokedAt(key string) int64 {
	r := s.revoked.Load()
	if r == nil {
		return 0
	}
	return r.accounts[key]
}

// RevokeSession revokes one portal session on every instance (they refuse its cookie as soon as
// the watch delivers the change, well within a second).
func (s *Store) RevokeSession(ctx context.Context, tenantID, sessionID string, now time.Time) error {
	return s.putRevocation(ctx, s.k.revokedSession(tenantID, sessionID), "1", now)
}

// RevokeAccountSessions revokes every session of the account issued until now.
func (s *Store) RevokeAccountSessions(ctx context.Context, tenantID, accountID string, now time.Time) error {
	return s.putRevocation(ctx, s.k.revokedAccount(tenantID, accountID), strconv.FormatInt(now.Unix(), 10), now)
}

func (s *Store) putRevocation(ctx context.Context, key, value string, now time.Time) error {
	return s.putRevocationUntil(ctx, key, value, now.Add(RevocationTTL))
}

func (s *Store) putRevocationUntil(ctx context.Context, key, value string, until time.Time) error {
	lease, err := s.linkLeases.get(ctx, s.c, until)
	if err != nil {
		return fmt.Errorf("tenants: revoking: %w", Unavailable(err))
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Put(ctx, key, value, clientv3.WithLease(lease)); err != nil {
		return fmt.Errorf("tenants: revoking: %w", Unavailable(err))
	}
	return nil
}

// applyRevocation updates the revoked set for a watched change of state/revoked/….
func (s *Store) applyRevocation(ev *clientv3.Event, rest string) {
	// rest is "<tenantID>/s/<sessionID>", "<tenantID>/a/<accountID>" or "<tenantID>/m/<accountID>/<memberID>"
	tid, kindID, ok := strings.Cut(rest, "/")
	if !ok {
		return
	}
	kind, id, ok := strings.Cut(kindID, "/")
	if !ok {
		return
	}
	s.revMu.Lock()
	defer s.revMu.Unlock()
	old := s.revoked.Load()
	next := newRevocations()
	if old != nil {
		for k, v := range old.admins {
			next.admins[k] = v
		}
		for k, v := range old.sessions {
			next.sessions[k] = v
		}
		for k, v := range old.accounts {
			next.accounts[k] = v
		}
		for k, v := range old.members {
			next.members[k] = v
		}
	}
	key := tid + "/" + id
	put := ev.Type == clientv3.EventTypePut
	switch kind {
	case "s":
		if put {
			next.sessions[key] = struct{}{}
		} else {
			delete(next.sessions, key)
		}
	case "d":
		if put {
			next.admins[key] = struct{}{}
		} else {
			delete(next.admins, key)
		}
	case "a":
		if at, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64); put && err == nil {
			next.accounts[key] = at
		} else if !put {
			delete(next.accounts, key)
		}
	case "m": // id is "<accountID>/<memberID>"
		if at, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64); put && err == nil {
			next.members[key] = at
		} else if !put {
			delete(next.members, key)
		}
	}
	s.revoked.Store(next)
}

// loadRevocations builds the revoked set from a listing.
func loadRevocations(k keyspace, kvs []*mvccpb.KeyValue) *revocations {
	r := newRevocations()
	for _, kv := range kvs {
		rest := string(kv.Key[len(k.revoked()):])
		tid, kindID, _ := strings.Cut(rest, "/")
		kind, id, _ := strings.Cut(kindID, "/")
		switch kind {
		case "s":
			r.sessions[tid+"/"+id] = struct{}{}
		case "d":
			r.admins[tid+"/"+id] = struct{}{}
		case "a":
			if at, err := strconv.ParseInt(string(kv.Value), 10, 64); err == nil {
				r.accounts[tid+"/"+id] = at
			}
		case "m":
			if at, err := strconv.ParseInt(string(kv.Value), 10, 64); err == nil {
				r.members[tid+"/"+id] = at
			}
		}
	}
	return r
}

func newRevocations() *revocations {
	return &revocations{sessions: map[string]struct{}{}, accounts: map[string]int64{}, admins: map[string]struct{}{}, members: map[string]int64{}}
}
