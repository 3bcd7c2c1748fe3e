// Package example is a portal section written outside the gateway and the standard set, to show
// (and test) that a section is a complete driver: "Language" shows the language the account's
// documents and emails are in and, when the session allows it, lets the customer change it.
//
// It declares, through the optional interfaces of package plugins:
//
//   - its settings object in the session request, "exampleLanguageSettings" with the switches
//     "showSection" (shows the section; off unless the request turns it on) and "allowChange"
//     (permits the change; off unless the request turns it on) — plugins.Configurable;
//   - its messages, in English and German (locales/*.json) — plugins.Messenger;
//   - its form action, POST /language, which sets the account's locale in one transaction with the
//     webhook event "account.locale.updated" — plugins.Actor.
//
// It is not part of plugins/standard: a binary (or test) that wants it imports it for its side
// effect, import _ "github.com/portico-billing/portico/plugins/example".
package example

import (
	"embed"
	"io/fs"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Name is the section's registered name.
const Name = "example_language"

// EventLocaleUpdated is the type of the webhook event of a change.
const EventLocaleUpdated = "account.locale.updated"

//go:embed example.html
var source string

//go:embed locales/*.json
var locales embed.FS

// The switches of exampleLanguageSettings; both default to off.
var (
	ShowSection = &plugins.Switch{Field: "showSection"}
	AllowChange = &plugins.Switch{Field: "allowChange"}
)

func init() {
	plugins.Register(section{plugins.NewTemplateSection(Name, 40, "example_language.title", source, newPage)})
}

// section is the Language section: a template section with settings, messages and an action.
type section struct{ *plugins.TemplateSection }

var (
	_ plugins.Configurable = section{}
	_ plugins.Messenger    = section{}
	_ plugins.Actor        = section{}
	_ plugins.Eventer      = section{}
)

// EventTypes declares the section's event, so endpoints can subscribe to it by name.
func (section) EventTypes() []string { return []string{EventLocaleUpdated} }

// Settings declares exampleLanguageSettings.
func (section) Settings() plugins.SettingsObject {
	return plugins.SettingsObject{Name: "exampleLanguageSettings", Show: ShowSection, Switches: []*plugins.Switch{ShowSection, AllowChange}}
}

// Messages are the section's catalogs, English and German.
func (section) Messages() fs.FS {
	sub, _ := fs.Sub(locales, "locales")
	return sub
}

// Actions is the change of language, permitted by AllowChange.
func (section) Actions() []plugins.Action {
	return []plugins.Action{{Method: "POST", Path: "/language", Needs: AllowChange, Refusal: "example_language.forbidden", Handle: change}}
}

// languages are the choices, each named in its own language.
var languages = []struct{ Tag, Name string }{
	{"en", "English"}, {"de", "Deutsch"}, {"fr", "Français"}, {"es", "Español"}, {"pt-BR", "Português (Brasil)"}, {"ja", "日本語"},
}

type option struct {
	Value, Label string
	Selected     bool
}

type page struct {
	Name, Prefix, Current string
	CanChange             bool
	Options               []option
}

func newPage(v *plugins.View) page {
	lang := v.Printer().Lang()
	p := page{Name: Name, Prefix: v.PathPrefix, CanChange: v.On(AllowChange), Current: lang}
	for _, l := range languages {
		if l.Tag == lang {
			p.Current = l.Name
		}
		p.Options = append(p.Options, option{l.Tag, l.Name, l.Tag == lang})
	}
	return p
}

// change sets the account's locale to the posted one.
func change(c plugins.ActionContext) {
	locale := c.FormValue("locale")
	known := false
	for _, l := range languages {
		known = known || l.Tag == locale
	}
	if !known {
		c.Message(422, "example_language.invalid.title", "example_language.invalid.body")
		return
	}
	err := c.Update(func(a *account.Account) (plugins.Event, error) {
		if a.Locale == locale {
			return plugins.Event{}, tenants.ErrNoChange
		}
		previous := a.Locale
		a.Locale = locale
		return plugins.Event{Type: EventLocaleUpdated, Data: map[string]any{"locale": locale, "previousLocale": previous}}, nil
	})
	if err != nil {
		c.Fail(err)
		return
	}
	c.Done()
}
