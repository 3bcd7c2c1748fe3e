package team

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
)

// Actions are the Team page with its invite, role and remove posts (and the remove's confirm
// page), and the Activity page.
func (section) Actions() []plugins.Action {
	return []plugins.Action{
		{Method: "GET", Path: "/team", Handle: teamPage},
		{Method: "POST", Path: "/team/invite", Needs: AllowTeamManagement, Refusal: "team.forbidden", Handle: invite},
		{Method: "POST", Path: "/team/{id}/role", Needs: AllowTeamManagement, Refusal: "team.forbidden", Handle: setRole},
		{Method: "GET", Path: "/team/{id}/remove", Needs: AllowTeamManagement, Refusal: "team.forbidden", Handle: removeForm},
		{Method: "POST", Path: "/team/{id}/remove", Needs: AllowTeamManagement, Refusal: "team.forbidden", Handle: remove},
		{Method: "GET", Path: "/activity", Needs: ShowActivity, Refusal: "team.activity.forbidden", Handle: activityPage},
	}
}

type roleOption struct{ Value, Label string }

type person struct {
	ID, Email, Role, RoleName string
	Holder                    bool
}

type teamData struct {
	People  []person
	Manage  bool
	Roles   []roleOption
	Email   string
	Role    string
	Errors  plugins.FormErrors
	Notice  string
	Members int
	Max     int
}

func roles(tr *i18n.Printer) []roleOption {
	var out []roleOption
	for _, r := range tenants.Roles {
		out = append(out, roleOption{r, tr.T("role." + r)})
	}
	return out
}

// teamPage is GET /team: the holder and the members, with the forms when the session manages.
func teamPage(c plugins.ActionContext) {
	renderTeam(c, 200, teamData{Role: tenants.RoleViewer, Notice: noticeOf(c)})
}

func noticeOf(c plugins.ActionContext) string {
	switch c.QueryValue("done") {
	case "invited", "role", "removed":
		return c.Printer().T("team.done." + c.QueryValue("done"))
	}
	return ""
}

func renderTeam(c plugins.ActionContext, status int, d teamData) {
	tr := c.Printer()
	list, err := c.Team().Members()
	if err != nil {
		c.Fail(err)
		return
	}
	d.People = append(d.People, person{Email: c.Account().Email, Role: tenants.RoleOwner, RoleName: tr.T("role.owner"), Holder: true})
	for _, m := range list {
		d.People = append(d.People, person{ID: m.ID, Email: m.Email, Role: m.Role, RoleName: tr.T("role." + m.Role)})
	}
	d.Manage = c.On(AllowTeamManagement)
	d.Roles = roles(tr)
	d.Members, d.Max = len(list), tenants.MaxMembers
	plugins.Render(c, pagesTmpl, status, tr.T("team.page.title"), "team", d)
}

// invite is POST /team/invite.
func invite(c plugins.ActionContext) {
	tr := c.Printer()
	email, role := strings.TrimSpace(c.FormValue("email")), c.FormValue("role")
	d := teamData{Email: email, Role: role}
	_, _, err := c.Team().Invite(email, role)
	switch {
	case err == nil:
		c.Redirect("/team?done=invited")
		return
	case errors.Is(err, tenants.ErrInvalidMember) && tenants.RoleRank(role) < 0:
		d.Errors.Add("role", tr.T("team.error.role"))
	case errors.Is(err, tenants.ErrInvalidMember):
		d.Errors.Add("email", tr.T("team.error.email"))
	case errors.Is(err, tenants.ErrMemberIsHolder):
		d.Errors.Add("email", tr.T("team.error.holder"))
	case errors.Is(err, tenants.ErrTooManyMembers):
		d.Errors.Add("email", tr.T("team.error.tooMany", "count", tenants.MaxMembers))
	default:
		c.Fail(err)
		return
	}
	renderTeam(c, 400, d)
}

// setRole is POST /team/{id}/role.
func setRole(c plugins.ActionContext) {
	err := c.Team().SetRole(c.Arg(), c.FormValue("role"))
	switch {
	case err == nil:
		c.Redirect("/team?done=role")
	case errors.Is(err, tenants.ErrMemberNotFound):
		c.Message(404, "team.notFound.title", "team.notFound.body")
	case errors.Is(err, tenants.ErrInvalidMember):
		d := teamData{Role: tenants.RoleViewer}
		d.Errors.Add("role", c.Printer().T("team.error.role"))
		renderTeam(c, 400, d)
	default:
		c.Fail(err)
	}
}

// removeForm is GET /team/{id}/remove: the confirm page.
func removeForm(c plugins.ActionContext) {
	list, err := c.Team().Members()
	if err != nil {
		c.Fail(err)
		return
	}
	i := slices.IndexFunc(list, func(m tenants.Member) bool { return m.ID == c.Arg() })
	if i < 0 {
		c.Message(404, "team.notFound.title", "team.notFound.body")
		return
	}
	plugins.Render(c, pagesTmpl, 200, c.Printer().T("team.remove.title"), "team-remove", list[i])
}

// remove is POST /team/{id}/remove.
func remove(c plugins.ActionContext) {
	err := c.Team().Remove(c.Arg())
	switch {
	case err == nil:
		c.Redirect("/team?done=removed")
	case errors.Is(err, tenants.ErrMemberNotFound):
		c.Message(404, "team.notFound.title", "team.notFound.body")
	default:
		c.Fail(err)
	}
}

// ActivityPage is the most entries the Activity page shows at once; "Older" pages on.
const ActivityPage = 200

type activityRow struct {
	When, Who, What, Where string
}

type activityData struct {
	Rows  []activityRow
	Older string // the query of the next page, "" for none
}

// activityPage is GET /activity[?before=<unix ns>]: the account's trail, newest first.
func activityPage(c plugins.ActionContext) {
	tr, loc := c.Printer(), c.Locale()
	trails, err := c.Team().Activity()
	if err != nil {
		c.Fail(err)
		return
	}
	var all []tenants.AuditEntry
	for _, s := range trails {
		// A session's entries are its member's: the sign-in entry names the member.
		member, byEmail := "", false
		for _, e := range s.Entries {
			if e.Member != "" && member == "" {
				member = e.Member
			}
			byEmail = byEmail || e.Type == signedInByEmail
		}
		for _, e := range s.Entries {
			if byEmail && (e.Type == tenants.AuditCreated || e.Type == tenants.AuditRedeemed) {
				continue // the link sign in by email issues and redeems itself: its entry says it
			}
			if e.Member == "" && e.By == "" {
				e.Member = member
			}
			all = append(all, e)
		}
	}
	slices.SortStableFunc(all, func(a, b tenants.AuditEntry) int { return b.At.Compare(a.At) })
	if before, err := strconv.ParseInt(c.QueryValue("before"), 10, 64); err == nil {
		i := slices.IndexFunc(all, func(e tenants.AuditEntry) bool { return e.At.UnixNano() < before })
		if i < 0 {
			i = len(all)
		}
		all = all[i:]
	}
	d := activityData{}
	if len(all) > ActivityPage {
		d.Older = "?before=" + strconv.FormatInt(all[ActivityPage-1].At.UnixNano(), 10)
		all = all[:ActivityPage]
	}
	tenant := c.Tenant().Name
	for _, e := range all {
		d.Rows = append(d.Rows, activityRow{When: when(e.At, loc), Who: who(tr, e, tenant), What: what(tr, e.Type), Where: CoarseIP(e.IP)})
	}
	plugins.Render(c, pagesTmpl, 200, tr.T("team.activity.title"), "activity", d)
}

// signedInByEmail is the audit entry of a sign-in by email (gateway.AuditSignedInByEmail).
const signedInByEmail = "signed_in_by_email"

// when is the entry's time in the page's locale, in UTC.
func when(at time.Time, locale string) string {
	at = at.UTC()
	return i18n.Date(i18n.DateOf(at), locale) + " " + at.Format("15:04") + " UTC"
}

// who names who did it: the member, the tenant (its API, dashboard or CLI) or the account holder.
func who(tr *i18n.Printer, e tenants.AuditEntry, tenant string) string {
	switch {
	case e.Member != "":
		return e.Member
	case strings.HasPrefix(e.By, "member:"):
		return strings.TrimPrefix(e.By, "member:")
	case strings.HasPrefix(e.By, "apikey:"):
		return tr.T("team.who.api", "tenant", tenant)
	case strings.HasPrefix(e.By, "dashboard:"):
		return tr.T("team.who.dashboard", "tenant", tenant)
	case e.By == "cli", e.Type == tenants.AuditCreated:
		return tr.T("team.who.cli", "tenant", tenant) // a link the tenant issued
	}
	return tr.T("team.who.holder")
}

// what is the entry's type in words, the type itself for one without a message.
func what(tr *i18n.Printer, typ string) string {
	if k := "team.what." + typ; i18n.Has(k) {
		return tr.T(k)
	}
	return typ
}

// CoarseIP shows an address coarsely: an IPv4 address's /24 ("203.0.113.x"), an IPv6 address's
// /48 ("2001:db8:1::/48"); "" for none.
func CoarseIP(ip string) string {
	if h, _, err := net.SplitHostPort(ip); err == nil {
		ip = h
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	if a.Is4() {
		b := a.As4()
		return strconv.Itoa(int(b[0])) + "." + strconv.Itoa(int(b[1])) + "." + strconv.Itoa(int(b[2])) + ".x"
	}
	p, _ := a.Prefix(48)
	return p.String()
}
