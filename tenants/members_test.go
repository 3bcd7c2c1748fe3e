package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
)

// outboxTypes lists the types of the tenant's outbox events, in order.
func outboxTypes(t *testing.T, s *Store, tid string) []string {
	t.Helper()
	resp, err := s.c.Get(context.Background(), s.k.outboxTenant(tid), withPrefix()...)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		var e Event
		_ = json.Unmarshal(kv.Value, &e)
		out = append(out, e.Type)
	}
	return out
}

// TestMembers: invite, change of role, same role, refusals; listed by email; each change with its
// event and the audit entry of its trail.
func TestMembers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "members")
	putEmailAccount(t, s, tn.ID, "acc_m", "Holder@Acme.example")
	at := time.Now()
	api := MemberChange{By: "apikey:key_1", At: at}
	next := func() MemberChange { at = at.Add(time.Second); api.At = at; return api }

	bob, created, changed, err := s.UpsertMember(ctx, tn.ID, "acc_m", "bob@acme.example", RoleViewer, api)
	if err != nil || !created || !changed || bob.Role != RoleViewer || len(bob.ID) < 10 || bob.ID[:3] != "mb_" || bob.InvitedBy != "apikey:key_1" {
		t.Fatalf("invite bob: %+v %v %v %v", bob, created, changed, err)
	}
	if _, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_m", "alice@acme.example", RoleBilling, next()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, email, role string
		created, changed  bool
		err               error
	}{
		{"same role", "BOB@acme.example", RoleViewer, false, false, nil},
		{"new role, by any case", " Bob@ACME.example ", RoleOwner, false, true, nil},
		{"holder", "holder@acme.EXAMPLE", RoleViewer, false, false, ErrMemberIsHolder},
		{"bad email", "bob", RoleViewer, false, false, ErrInvalidMember},
		{"bad role", "carol@acme.example", "admin", false, false, ErrInvalidMember},
		{"empty role", "carol@acme.example", "", false, false, ErrInvalidMember},
	}
	for _, c := range cases {
		m, created, changed, err := s.UpsertMember(ctx, tn.ID, "acc_m", c.email, c.role, next())
		if !errors.Is(err, c.err) || created != c.created || changed != c.changed {
			t.Errorf("%s: %+v created %v changed %v err %v", c.name, m, created, changed, err)
		}
		if err == nil && m.ID != bob.ID {
			t.Errorf("%s: member %s, want bob's %s", c.name, m.ID, bob.ID)
		}
	}
	if _, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_none", "x@acme.example", RoleViewer, api); !errors.Is(err, ErrAccountNotFound) {
		t.Errorf("unknown account: %v", err)
	}
	if _, err := s.Members(ctx, tn.ID, "acc_none"); !errors.Is(err, ErrAccountNotFound) {
		t.Errorf("members of an unknown account: %v", err)
	}
	list, err := s.Members(ctx, tn.ID, "acc_m")
	if err != nil || len(list) != 2 || list[0].Email != "alice@acme.example" || list[1].Email != "bob@acme.example" || list[1].Role != RoleOwner {
		t.Fatalf("members: %+v %v", list, err)
	}
	if m, err := s.SetMemberRole(ctx, tn.ID, "acc_m", bob.ID, RoleBilling, next()); err != nil || m.Role != RoleBilling {
		t.Fatalf("SetMemberRole: %+v %v", m, err)
	}
	if _, err := s.SetMemberRole(ctx, tn.ID, "acc_m", "mb_nobody", RoleBilling, api); !errors.Is(err, ErrMemberNotFound) {
		t.Errorf("SetMemberRole of nobody: %v", err)
	}
	if err := s.RemoveMember(ctx, tn.ID, "acc_m", "mb_nobody", api); !errors.Is(err, ErrMemberNotFound) {
		t.Errorf("RemoveMember of nobody: %v", err)
	}
	if err := s.RemoveMember(ctx, tn.ID, "acc_m", bob.ID, MemberChange{By: "dashboard:ops@acme.example", At: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if list, _ := s.Members(ctx, tn.ID, "acc_m"); len(list) != 1 || list[0].Email != "alice@acme.example" {
		t.Fatalf("after removal: %+v", list)
	}
	want := []string{EventMemberInvited, EventMemberInvited, EventMemberRoleChanged, EventMemberRoleChanged, EventMemberRemoved}
	if got := outboxTypes(t, s, tn.ID); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// The tenant's changes are the trail TenantTrail of the account, listed with its sessions.
	trails, err := s.SessionAudits(ctx, tn.ID, "acc_m")
	if err != nil || len(trails) != 1 || trails[0].SessionID != TenantTrail("acc_m") || len(trails[0].Entries) != 5 {
		t.Fatalf("trails: %+v %v", trails, err)
	}
	last := trails[0].Entries[4]
	if last.Type != EventMemberRemoved || last.By != "dashboard:ops@acme.example" {
		t.Fatalf("last entry %+v", last)
	}
}

// TestMembersCap: an account has at most MaxMembers members; a change of role of one is still
// allowed at the cap.
func TestMembersCap(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "members-cap")
	putEmailAccount(t, s, tn.ID, "acc_c", "holder@acme.example")
	by := MemberChange{By: "cli", At: time.Now()}
	for i := range MaxMembers {
		if _, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_c", fmt.Sprintf("m%02d@acme.example", i), RoleViewer, by); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	if _, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_c", "one-more@acme.example", RoleViewer, by); !errors.Is(err, ErrTooManyMembers) {
		t.Fatalf("member %d: %v", MaxMembers+1, err)
	}
	if _, _, changed, err := s.UpsertMember(ctx, tn.ID, "acc_c", "m07@acme.example", RoleOwner, by); err != nil || !changed {
		t.Fatalf("role change at the cap: %v %v", changed, err)
	}
}

// TestMembersConcurrent: concurrent invitations of one account all land, each once.
func TestMembersConcurrent(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "members-race")
	putEmailAccount(t, s, tn.ID, "acc_r", "holder@acme.example")
	errs := make(chan error, 6)
	for i := range 6 {
		go func() {
			_, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_r", fmt.Sprintf("m%d@acme.example", i%3), RoleViewer, MemberChange{By: "cli", At: time.Now()})
			errs <- err
		}()
	}
	for range 6 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if list, _ := s.Members(ctx, tn.ID, "acc_r"); len(list) != 3 {
		t.Fatalf("members %+v", list)
	}
	if r, _ := s.c.Get(ctx, s.k.memberCounter(tn.ID, "acc_r")); len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "3" {
		t.Fatalf("counter %v", r.Kvs)
	}
}

// TestMemberIndexAndRevocation: a member's email signs in to the account as the member; the
// holder's email that is also a member's signs in as the holder; a lowered role and a removal
// revoke the member's sessions (a raised role does not); deleting the account removes its members
// and their index keys.
func TestMemberIndexAndRevocation(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "members-index")
	putEmailAccount(t, s, tn.ID, "acc_1", "holder@acme.example")
	putEmailAccount(t, s, tn.ID, "acc_2", "other@acme.example")
	by := MemberChange{By: "cli", At: time.Now()}
	m1, _, _, err := s.UpsertMember(ctx, tn.ID, "acc_1", "Colleague@acme.example", RoleOwner, by)
	if err != nil {
		t.Fatal(err)
	}
	m2, _, _, _ := s.UpsertMember(ctx, tn.ID, "acc_2", "holder@acme.example", RoleViewer, by)
	wantAccounts(t, s, tn.ID, "colleague@ACME.example", "acc_1/"+m1.ID)
	wantAccounts(t, s, tn.ID, "holder@acme.example", "acc_1", "acc_2/"+m2.ID)

	signIn := func(email string) []SignInEntry {
		t.Helper()
		ids, _ := s.AccountsByEmail(ctx, tn.ID, email)
		got, err := s.SignInAccounts(ctx, tn.ID, &EmailSignIn{Accounts: ids, EmailHash: emailHash(tn.ID, email)})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := signIn("holder@acme.example"); !slices.Equal(got, []SignInEntry{{"acc_1", ""}, {"acc_2", m2.ID}}) {
		t.Fatalf("holder signs in to %v", got)
	}
	// The billing email of acc_2 becomes the member's: it signs in as the holder.
	putEmailAccount(t, s, tn.ID, "acc_2", "holder@acme.example")
	if got := signIn("holder@acme.example"); !slices.Equal(got, []SignInEntry{{"acc_1", ""}, {"acc_2", ""}}) {
		t.Fatalf("holder and member signs in to %v", got)
	}

	key := tn.ID + "/acc_1/" + m1.ID
	if s.MemberRevokedAt(key) != 0 {
		t.Fatal("revoked before any change")
	}
	if _, err := s.SetMemberRole(ctx, tn.ID, "acc_1", m1.ID, RoleBilling, by); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the lowered role revokes", func() bool { return s.MemberRevokedAt(key) == by.At.Unix() })
	later := MemberChange{By: "cli", At: by.At.Add(time.Minute)}
	if _, err := s.SetMemberRole(ctx, tn.ID, "acc_1", m1.ID, RoleOwner, later); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveMember(ctx, tn.ID, "acc_2", m2.ID, later); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the removal revokes", func() bool { return s.MemberRevokedAt(tn.ID+"/acc_2/"+m2.ID) == later.At.Unix() })
	if s.MemberRevokedAt(key) != by.At.Unix() {
		t.Fatalf("a raised role revoked: %d", s.MemberRevokedAt(key))
	}
	if got := signIn("holder@acme.example"); !slices.Equal(got, []SignInEntry{{"acc_1", ""}, {"acc_2", ""}}) {
		t.Fatalf("after removal: %v", got)
	}
	// A sign-in asked for before a removal no longer opens the member's entry.
	stale := &EmailSignIn{Accounts: []string{"acc_2/" + m2.ID}, EmailHash: emailHash(tn.ID, "holder@acme.example")}
	putEmailAccount(t, s, tn.ID, "acc_2", "other@acme.example")
	if got, _ := s.SignInAccounts(ctx, tn.ID, stale); len(got) != 0 {
		t.Fatalf("a removed member signs in to %v", got)
	}

	if err := s.DeleteAccount(ctx, tn.ID, "acc_1", 0); err != nil {
		t.Fatal(err)
	}
	wantAccounts(t, s, tn.ID, "colleague@acme.example")
	if r, _ := s.c.Get(ctx, s.k.memberCounter(tn.ID, "acc_1"), withPrefix()...); len(r.Kvs) != 0 {
		t.Fatalf("members of a deleted account: %v", r.Kvs)
	}
	if _, err := s.Members(ctx, tn.ID, "acc_1"); !errors.Is(err, ErrAccountNotFound) {
		t.Fatalf("members of a deleted account: %v", err)
	}
}
