// Package team is the Team section of the portal: for an account's owners, a card that opens the
// Team page (the account's holder and members with their roles; invite, change of role and
// removal when the session allows team management) and the Activity page (the account's audit
// trail: who did what, when, from where, the address shown coarsely).
//
// It registers itself as "team" when imported (plugins/standard does), with the settings object
// "teamSettings": "allowTeamManagement" (tenant default: PortalDefaults.AllowTeamManagement) and
// "showActivity" (default on), both for owners only (plugins.Switch.Role). Like every section it
// renders from the plugins.View alone; its pages reach the team through ActionContext.Team.
package team

import (
	"embed"
	_ "embed"
	"io/fs"

	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
)

// Name is the section's registered name.
const Name = "team"

//go:embed team.html
var source string

//go:embed pages.html
var pagesHTML string

//go:embed locales/*.json
var locales embed.FS

// pagesTmpl holds the Team, remove and Activity pages, translated per language ("t").
var pagesTmpl = i18n.NewTemplates(plugins.ParseTemplate("team-pages", pagesHTML))

// The switches of teamSettings.
var (
	// AllowTeamManagement shows the invite, role and remove forms of the Team page and permits
	// their posts, to owners (tenant default: PortalDefaults.AllowTeamManagement).
	AllowTeamManagement = &plugins.Switch{Field: "allowTeamManagement", Role: plugins.RoleOwner, Default: func(p tenants.PortalDefaults) bool { return p.AllowTeamManagement }}
	// ShowActivity shows the Activity page to owners (default on).
	ShowActivity = &plugins.Switch{Field: "showActivity", Role: plugins.RoleOwner, Default: func(tenants.PortalDefaults) bool { return true }}
)

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 40, "team.title", source, newCard)})
}

// section is the Team section: a template section with settings, messages and actions.
type section struct{ *plugins.TemplateSection }

var (
	_ plugins.Configurable = section{}
	_ plugins.Messenger    = section{}
	_ plugins.Actor        = section{}
)

// Settings declares teamSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "teamSettings", Switches: []*plugins.Switch{AllowTeamManagement, ShowActivity}}
}

// Messages are the section's catalogs, in the six languages.
func (section) Messages() fs.FS {
	sub, _ := fs.Sub(locales, "locales")
	return sub
}

// card is what the overview's card renders.
type card struct {
	Name, Prefix     string
	Manage, Activity bool
}

func newCard(v *plugins.View) card {
	return card{Name: Name, Prefix: v.PathPrefix, Manage: v.On(AllowTeamManagement), Activity: v.On(ShowActivity)}
}
