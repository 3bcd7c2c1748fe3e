package dashboard_test

import (
	"context"
	"net/url"
	"regexp"
	"testing"

	"github.com/portico-billing/portico/tenants"
)

// TestCustomerTeam: the customer page's Team card adds a colleague, sets its role and removes it,
// each with the form's CSRF token (none: 403, nothing changes); the holder's email is refused; the
// audit entries say dashboard:<admin email>.
func TestCustomerTeam(t *testing.T) {
	t.Parallel()
	h := newHarness(t, options{})
	a := h.signedIn()
	const page = "/customers/acc_7Hq2LmX9"
	expect(t, a.get(page), 200, "Team", "billing@globex.example", `action="/customers/acc_7Hq2LmX9/members"`)
	expect(t, a.post(page+"/members", url.Values{"email": {"vera@globex.example"}, "role": {"viewer"}}), 403, "security token")
	members := func() []tenants.Member {
		t.Helper()
		list, err := h.store.Members(context.Background(), h.acme.ID, "acc_7Hq2LmX9")
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	if len(members()) != 0 {
		t.Fatal("a post without a token added a member")
	}
	expect(t, a.form(page+"/members", "email", "vera@globex.example", "role", "billing"), 200, "vera@globex.example was added.")
	list := members()
	if len(list) != 1 || list[0].Role != tenants.RoleBilling || list[0].InvitedBy != "dashboard:ops@acme.example" {
		t.Fatalf("members %+v", list)
	}
	body := expect(t, a.get(page), 200, "vera@globex.example")
	if !regexp.MustCompile(`<option value="billing" selected>Billing</option>`).MatchString(body) {
		t.Fatalf("the member's role is not selected:\n%s", body)
	}
	expect(t, a.form(page+"/members", "email", "BILLING@globex.example", "role", "viewer"), 409, "billing email")
	expect(t, a.form(page+"/members", "email", "nobody", "role", "viewer"), 400, "Enter an email address")
	expect(t, a.form(page+"/members/"+list[0].ID+"/role", "role", "viewer"), 200, "The role was changed.")
	if m := members(); m[0].Role != tenants.RoleViewer {
		t.Fatalf("role %s", m[0].Role)
	}
	expect(t, a.form(page+"/members/mb_nobody/remove"), 404, "no longer on the team")
	expect(t, a.form(page+"/members/"+list[0].ID+"/remove"), 200, "removed and signed out")
	if len(members()) != 0 {
		t.Fatal("the member was not removed")
	}
	trails, err := h.store.SessionAudits(context.Background(), h.acme.ID, "acc_7Hq2LmX9")
	if err != nil || len(trails) != 1 || trails[0].SessionID != tenants.TenantTrail("acc_7Hq2LmX9") || len(trails[0].Entries) != 3 {
		t.Fatalf("trails %+v %v", trails, err)
	}
	for _, e := range trails[0].Entries {
		if e.By != "dashboard:ops@acme.example" {
			t.Errorf("entry %+v", e)
		}
	}
}
