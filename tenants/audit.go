package tenants

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultAuditRetention is how long a portal session's audit trail is kept unless
// Config.AuditRetention says otherwise.
const DefaultAuditRetention = 90 * 24 * time.Hour

// Audit entry types besides the event types of actions.
const (
	AuditCreated   = "created"
	AuditRedeemed  = "redeemed"
	AuditLoggedOut = "logged_out"
	AuditRevoked   = "revoked"
)

// AuditEntry is one thing that happened in a portal session.
type AuditEntry struct {
	Type string    `json:"type"`
	At   time.Time `json:"at"`
	// By names who did it when it was not the customer: "apikey:<id>", "cli", "dashboard:<email>".
	By string `json:"by,omitempty"`
	// Member is the email of the member whose session did it; empty for the account's holder
	// (its billing email) and for sessions a tenant issued.
	Member    string `json:"member,omitempty"`
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
	// Detail is the data of the action's event, for actions.
	Detail json.RawMessage `json:"detail,omitempty"`
}

// SessionAudit is the trail of one portal session.
type SessionAudit struct {
	SessionID string       `json:"sessionId"`
	AccountID string       `json:"accountId"`
	Entries   []AuditEntry `json:"entries"`
}

// RedeemInfo is what is known of the customer who opens a link, for the audit trail.
type RedeemInfo struct {
	IP, UserAgent string
	// Confirmed says the person asked for the redemption (the Continue page's POST); an emailed
	// link (LinkKindEmail) is only redeemed with it.
	Confirmed bool
}

// auditOps returns the puts that record e for the session; with index, also the account's index
// entry of the session (written once, at creation). Entries carry a lease for the retention.
func (s *Store) auditOps(ctx context.Context, tid, aid, sid string, e AuditEntry, index bool) ([]clientv3.Op, error) {
	lease, err := s.linkLeases.get(ctx, s.c, e.At.Add(s.auditRetention))
	if err != nil {
		return nil, fmt.Errorf("tenants: recording audit entry: %w", Unavailable(err))
	}
	if len(e.UserAgent) > 512 {
		e.UserAgent = e.UserAgent[:512]
	}
	b, _ := json.Marshal(e)
	key := s.k.auditEntry(tid, sid, e.At, e.Type)
	ops := []clientv3.Op{clientv3.OpPut(key, string(b), clientv3.WithLease(lease))}
	if index {
		ops = append(ops, clientv3.OpPut(s.k.auditAccount(tid, aid, sid), sid, clientv3.WithLease(lease)))
	}
	return ops, nil
}

// eventAuditOps records, for every event of a portal session (its data names sessionId and
// accountId), an audit entry in the same Txn.
func (s *Store) eventAuditOps(ctx context.Context, events []*Event) ([]clientv3.Op, error) {
	var ops []clientv3.Op
	for _, ev := range events {
		var ids struct {
			SessionID string `json:"sessionId"`
			AccountID string `json:"accountId"`
			Member    string `json:"member"` // the email of a member's session
		}
		if json.Unmarshal(ev.Data, &ids) != nil || ids.SessionID == "" || ev.Type == EventPortalSessionCreated || ev.Type == EventPortalSessionRedeemed {
			continue
		}
		o, err := s.auditOps(ctx, ev.TenantID, ids.AccountID, ids.SessionID, AuditEntry{Type: ev.Type, At: ev.Timestamp, Member: ids.Member, Detail: ev.Data}, false)
		if err != nil {
			return nil, err
		}
		ops = append(ops, o...)
	}
	return ops, nil
}

// RecordAudit adds an entry to a session's trail on its own (sign-out, revocation).
func (s *Store) RecordAudit(ctx context.Context, tenantID, sessionID string, e AuditEntry) error {
	ops, err := s.auditOps(ctx, tenantID, "", sessionID, e, false)
	if err != nil {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Txn(ctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("tenants: recording audit entry: %w", Unavailable(err))
	}
	return nil
}

// SessionAudits returns the trails of the account's portal sessions still within retention,
// newest session first.
func (s *Store) SessionAudits(ctx context.Context, tenantID, accountID string) ([]SessionAudit, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	idx, err := s.c.Get(ctx, s.k.auditAccounts(tenantID, accountID), clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("tenants: listing portal sessions: %w", Unavailable(err))
	}
	var out []SessionAudit
	for _, kv := range idx.Kvs {
		sid := string(kv.Value)
		resp, err := s.c.Get(ctx, s.k.auditSession(tenantID, sid), clientv3.WithPrefix())
		if err != nil {
			return nil, fmt.Errorf("tenants: loading audit trail: %w", Unavailable(err))
		}
		sa := SessionAudit{SessionID: sid, AccountID: accountID, Entries: []AuditEntry{}}
		for _, e := range resp.Kvs {
			var ae AuditEntry
			if json.Unmarshal(e.Value, &ae) == nil {
				sa.Entries = append(sa.Entries, ae)
			}
		}
		out = append(out, sa)
	}
	slices.SortFunc(out, func(a, b SessionAudit) int {
		if len(a.Entries) == 0 || len(b.Entries) == 0 {
			return strings.Compare(b.SessionID, a.SessionID)
		}
		return b.Entries[0].At.Compare(a.Entries[0].At)
	})
	return out, nil
}
