package tenants

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Colleagues with roles. An account's billing email (account.Account.Email) is its holder: always
// an owner, never a member record, never removable. Besides the holder, an account has members,
// each an email with a role, who sign in by email as the holder does (the email index holds them
// too). Every change of an account's members is one etcd Txn guarded by the account's revision and
// by the account's member counter (state/members/<tenantID>/<accountID>), which every change
// rewrites, so concurrent changes of one account's members conflict and retry.

// Roles of a member, from the least to the most it may do.
const (
	// RoleViewer sees the portal and downloads invoices.
	RoleViewer = "viewer"
	// RoleBilling also pays invoices and edits the billing details and auto-pay.
	RoleBilling = "billing"
	// RoleOwner also changes, pauses or cancels the plan, manages the team and sees the Activity.
	RoleOwner = "owner"
)

// Roles lists the roles in increasing order.
var Roles = []string{RoleViewer, RoleBilling, RoleOwner}

// RoleRank is the role's place in Roles (viewer 0, billing 1, owner 2), -1 for no role.
func RoleRank(role string) int { return slices.Index(Roles, role) }

// MaxMembers bounds the members of one account (the holder is not counted).
const MaxMembers = 50

// Errors of the members concern.
var (
	ErrMemberNotFound  = errors.New("tenants: member not found")
	ErrMemberIsHolder  = errors.New("tenants: the email is the account's billing email, whose holder is always an owner")
	ErrTooManyMembers  = fmt.Errorf("tenants: an account has at most %d members", MaxMembers)
	ErrInvalidMember   = errors.New("tenants: invalid member")
	errMembersConflict = errors.New("tenants: members moved")
)

// Member is a colleague of an account's holder with a role.
type Member struct {
	// ID is generated when the member is invited ("mb_…") and never changes.
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
	// InvitedBy names who invited the member: "member:<email>", "apikey:<id>",
	// "dashboard:<email>" or "cli".
	InvitedBy string    `json:"invitedBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// MemberChange says who changes an account's members, for its event and audit entry.
type MemberChange struct {
	// By is "member:<email>" (a portal session of the account), "apikey:<id>",
	// "dashboard:<email>" or "cli".
	By string
	// SessionID is the portal session that made the change, "" for the tenant (API, dashboard,
	// CLI); MemberEmail the email of a member session ("" for the holder's).
	SessionID   string
	MemberEmail string
	IP          string
	UserAgent   string
	At          time.Time
}

// TenantTrail is the audit trail that holds the tenant's own changes of an account's members
// (API, dashboard, CLI): it is listed with the account's sessions.
func TenantTrail(accountID string) string { return "tn_" + accountID }

// membersRead is one consistent read of an account and its members.
type membersRead struct {
	acc        account.Account
	accRev     int64
	counterRev int64
	members    []Member
}

func (s *Store) readMembers(ctx context.Context, tid, aid string) (*membersRead, error) {
	if !account.ValidID(aid) {
		return nil, fmt.Errorf("reading members of account %q: %w", aid, ErrAccountNotFound)
	}
	resp, err := s.c.Txn(ctx).Then(
		clientv3.OpGet(s.k.account(tid, aid)),
		clientv3.OpGet(s.k.memberCounter(tid, aid)),
		clientv3.OpGet(s.k.members(tid, aid), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: reading members of account %q: %w", aid, Unavailable(err))
	}
	akv := resp.Responses[0].GetResponseRange().Kvs
	if len(akv) == 0 {
		return nil, fmt.Errorf("reading members of account %q: %w", aid, ErrAccountNotFound)
	}
	r := &membersRead{accRev: akv[0].ModRevision}
	if err := unmarshalDoc(akv[0].Value, &r.acc); err != nil {
		return nil, fmt.Errorf("tenants: decoding account %q: %w", aid, err)
	}
	if c := resp.Responses[1].GetResponseRange().Kvs; len(c) == 1 {
		r.counterRev = c[0].ModRevision
	}
	for _, kv := range resp.Responses[2].GetResponseRange().Kvs {
		var m Member
		if json.Unmarshal(kv.Value, &m) == nil {
			r.members = append(r.members, m)
		}
	}
	slices.SortFunc(r.members, func(a, b Member) int {
		return cmp.Or(strings.Compare(NormalizeEmail(a.Email), NormalizeEmail(b.Email)), strings.Compare(a.ID, b.ID))
	})
	return r, nil
}

// guard is the comparison of a members Txn: the account and the counter as read.
func (r *membersRead) guard(k keyspace, tid, aid string) []clientv3.Cmp {
	return []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(k.account(tid, aid)), "=", r.accRev),
		clientv3.Compare(clientv3.ModRevision(k.memberCounter(tid, aid)), "=", r.counterRev),
	}
}

// Members returns the account's members sorted by email (without the holder);
// ErrAccountNotFound when the account does not exist.
func (s *Store) Members(ctx context.Context, tenantID, accountID string) ([]Member, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	r, err := s.readMembers(ctx, tenantID, accountID)
	if err != nil {
		return nil, err
	}
	return r.members, nil
}

// Member returns one member of the account: ErrMemberNotFound when there is none.
func (s *Store) Member(ctx context.Context, tenantID, accountID, memberID string) (*Member, error) {
	if !validMemberID(memberID) || !account.ValidID(accountID) {
		return nil, ErrMemberNotFound
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.member(tenantID, accountID, memberID))
	if err != nil {
		return nil, fmt.Errorf("tenants: reading a member: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrMemberNotFound
	}
	var m Member
	if err := json.Unmarshal(resp.Kvs[0].Value, &m); err != nil {
		return nil, fmt.Errorf("tenants: decoding a member: %w", err)
	}
	return &m, nil
}

func validMemberID(id string) bool {
	return strings.HasPrefix(id, "mb_") && len(id) <= 64 && account.ValidID(id)
}

// UpsertMember invites email to the account with the role, or gives the member with that email
// (compared case-insensitively) the role. It returns the member and whether it was created;
// changed is false when the member already had the role (nothing is written then). The account's
// own billing email is refused with ErrMemberIsHolder, a new member beyond MaxMembers with
// ErrTooManyMembers, a bad email or role with ErrInvalidMember. A lowered role revokes the member's
// sessions issued until then.
func (s *Store) UpsertMember(ctx context.Context, tenantID, accountID, email, role string, by MemberChange) (m Member, created, changed bool, err error) {
	email = strings.TrimSpace(email)
	if !validAdminEmail(email) || len(email) > 254 {
		return Member{}, false, false, fmt.Errorf("%w: %q is not an email address", ErrInvalidMember, email)
	}
	if RoleRank(role) < 0 {
		return Member{}, false, false, fmt.Errorf("%w: role %q is not one of %s", ErrInvalidMember, role, strings.Join(Roles, ", "))
	}
	err = s.retryMembers(ctx, "inviting a member", func(ctx context.Context) error {
		r, err := s.readMembers(ctx, tenantID, accountID)
		if err != nil {
			return err
		}
		if NormalizeEmail(r.acc.Email) == NormalizeEmail(email) {
			return fmt.Errorf("inviting %q: %w", email, ErrMemberIsHolder)
		}
		i := slices.IndexFunc(r.members, func(m Member) bool { return NormalizeEmail(m.Email) == NormalizeEmail(email) })
		var (
			ops   []clientv3.Op
			typ   string
			data  = map[string]any{"accountId": accountID, "email": email, "role": role, "by": by.By}
			count = len(r.members)
		)
		if i < 0 {
			if count >= MaxMembers {
				return ErrTooManyMembers
			}
			m = Member{ID: newID("mb_"), Email: email, Role: role, InvitedBy: by.By, CreatedAt: by.At.UTC()}
			count++
			created, changed, typ = true, true, EventMemberInvited
			ops = append(ops, clientv3.OpPut(s.k.emailIndexMember(tenantID, emailHash(tenantID, email), accountID, m.ID), ""))
		} else {
			m = r.members[i]
			created = false
			if m.Role == role {
				changed = false
				return nil
			}
			data["previousRole"] = m.Role
			if RoleRank(role) < RoleRank(m.Role) {
				rev, err := s.memberRevocationOp(ctx, tenantID, accountID, m.ID, by.At)
				if err != nil {
					return err
				}
				ops = append(ops, rev)
			}
			m.Role, changed, typ = role, true, EventMemberRoleChanged
		}
		data["memberId"] = m.ID
		b, _ := json.Marshal(m)
		ops = append(ops, clientv3.OpPut(s.k.member(tenantID, accountID, m.ID), string(b)))
		return s.commitMembers(ctx, tenantID, accountID, r, count, ops, typ, data, by)
	})
	if err != nil {
		return Member{}, false, false, err
	}
	return m, created, changed, nil
}

// SetMemberRole gives the member the role: ErrMemberNotFound when the account has no such member.
// A lowered role revokes the member's sessions issued until then.
func (s *Store) SetMemberRole(ctx context.Context, tenantID, accountID, memberID, role string, by MemberChange) (*Member, error) {
	m, err := s.Member(ctx, tenantID, accountID, memberID)
	if err != nil {
		return nil, err
	}
	out, _, _, err := s.UpsertMember(ctx, tenantID, accountID, m.Email, role, by)
	if err != nil {
		return nil, err
	}
	if out.ID != memberID { // removed and invited again meanwhile
		return nil, ErrMemberNotFound
	}
	return &out, nil
}

// RemoveMember removes the member from the account and revokes its sessions:
// ErrMemberNotFound when the account has no such member.
func (s *Store) RemoveMember(ctx context.Context, tenantID, accountID, memberID string, by MemberChange) error {
	return s.retryMembers(ctx, "removing a member", func(ctx context.Context) error {
		r, err := s.readMembers(ctx, tenantID, accountID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(r.members, func(m Member) bool { return m.ID == memberID })
		if i < 0 {
			return ErrMemberNotFound
		}
		m := r.members[i]
		rev, err := s.memberRevocationOp(ctx, tenantID, accountID, m.ID, by.At)
		if err != nil {
			return err
		}
		ops := []clientv3.Op{
			clientv3.OpDelete(s.k.member(tenantID, accountID, m.ID)),
			clientv3.OpDelete(s.k.emailIndexMember(tenantID, emailHash(tenantID, m.Email), accountID, m.ID)),
			rev,
		}
		data := map[string]any{"accountId": accountID, "memberId": m.ID, "email": m.Email, "role": m.Role, "by": by.By}
		return s.commitMembers(ctx, tenantID, accountID, r, len(r.members)-1, ops, EventMemberRemoved, data, by)
	})
}

// memberRevocationOp revokes the member's sessions issued until at (kept RevocationTTL).
func (s *Store) memberRevocationOp(ctx context.Context, tid, aid, mid string, at time.Time) (clientv3.Op, error) {
	lease, err := s.linkLeases.get(ctx, s.c, at.Add(RevocationTTL))
	if err != nil {
		return clientv3.Op{}, fmt.Errorf("tenants: revoking a member's sessions: %w", Unavailable(err))
	}
	return clientv3.OpPut(s.k.revokedMember(tid, aid, mid), strconv.FormatInt(at.Unix(), 10), clientv3.WithLease(lease)), nil
}

// commitMembers writes ops with the new member count, the event and its audit entry, guarded by
// the read.
func (s *Store) commitMembers(ctx context.Context, tid, aid string, r *membersRead, count int, ops []clientv3.Op, typ string, data map[string]any, by MemberChange) error {
	if by.SessionID != "" {
		data["sessionId"] = by.SessionID
	}
	ev, err := NewEvent(tid, typ, data, by.At)
	if err != nil {
		return err
	}
	sid, index := by.SessionID, false
	if sid == "" {
		sid, index = TenantTrail(aid), true
	}
	by.At = ev.Timestamp
	audit, err := s.auditOps(ctx, tid, aid, sid, AuditEntry{Type: typ, At: ev.Timestamp, By: by.By, Member: by.MemberEmail, IP: by.IP, UserAgent: by.UserAgent, Detail: ev.Data}, index)
	if err != nil {
		return err
	}
	ops = append(ops, clientv3.OpPut(s.k.memberCounter(tid, aid), strconv.Itoa(count)))
	ops = append(ops, s.eventOps([]*Event{ev})...)
	ops = append(ops, audit...)
	resp, err := s.c.Txn(ctx).If(r.guard(s.k, tid, aid)...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("tenants: writing members of account %q: %w", aid, Unavailable(err))
	}
	if !resp.Succeeded {
		return errMembersConflict
	}
	return nil
}

// retryMembers runs a members change until it is not in conflict with another (a few times).
func (s *Store) retryMembers(ctx context.Context, what string, try func(ctx context.Context) error) error {
	for range 8 {
		err := func() error {
			ctx, cancel := s.opCtx(ctx)
			defer cancel()
			return try(ctx)
		}()
		if !errors.Is(err, errMembersConflict) {
			return err
		}
	}
	return fmt.Errorf("tenants: %s: %w", what, ErrConflict)
}

// memberDeleteOps are the deletes of an account's members, their index keys and counter, for the
// Txn deleting the account; the counter's revision guards it.
func (s *Store) memberDeleteOps(ctx context.Context, tid, aid string) ([]clientv3.Op, clientv3.Cmp, error) {
	r, err := s.c.Txn(ctx).Then(
		clientv3.OpGet(s.k.memberCounter(tid, aid)),
		clientv3.OpGet(s.k.members(tid, aid), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		return nil, clientv3.Cmp{}, Unavailable(err)
	}
	var counterRev int64
	if c := r.Responses[0].GetResponseRange().Kvs; len(c) == 1 {
		counterRev = c[0].ModRevision
	}
	ops := []clientv3.Op{
		clientv3.OpDelete(s.k.memberCounter(tid, aid)),
		clientv3.OpDelete(s.k.members(tid, aid), clientv3.WithPrefix()),
	}
	for _, kv := range r.Responses[1].GetResponseRange().Kvs {
		var m Member
		if json.Unmarshal(kv.Value, &m) == nil {
			ops = append(ops, clientv3.OpDelete(s.k.emailIndexMember(tid, emailHash(tid, m.Email), aid, m.ID)))
		}
	}
	return ops, clientv3.Compare(clientv3.ModRevision(s.k.memberCounter(tid, aid)), "=", counterRev), nil
}

// MemberRevokedAt returns when the sessions of the member ("<tenantID>/<accountID>/<memberID>")
// issued until then were revoked (removed or given a lower role), in Unix seconds, or 0. It does
// not allocate.
func (s *Store) MemberRevokedAt(key string) int64 {
	r := s.revoked.Load()
	if r == nil {
		return 0
	}
	return r.members[key]
}
