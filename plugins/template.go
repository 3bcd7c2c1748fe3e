package plugins

import (
	"io"

	"github.com/portico-billing/portico/i18n"
)

// TemplateSection is a Section rendered by one html/template, the common shape of a section: a
// fixed name, position and title (a message key), and a template executed in the View's language
// on data that a function builds from the View. Create one with NewTemplateSection, from the init
// function of the section's package:
//
//	//go:embed invoices.html
//	var source string
//
//	func init() {
//		plugins.Register(plugins.NewTemplateSection(Name, 20, "invoices.title", source, newPage))
//	}
//
// A TemplateSection is safe for concurrent use.
type TemplateSection struct {
	name     string
	pos      int
	titleKey string
	tmpl     *i18n.Templates
	page     func(*View) any
}

var (
	_ Section    = (*TemplateSection)(nil)
	_ Positioner = (*TemplateSection)(nil)
	_ Titler     = (*TemplateSection)(nil)
)

// NewTemplateSection returns the section of the name at position pos, titled by the message of
// titleKey, that renders source, an html/template parsed by ParseTemplate under the section's name,
// on what page returns for the View. page must only read the View, like Render. NewTemplateSection
// panics if source does not parse: it is meant for init functions, like template.Must.
func NewTemplateSection[P any](name string, pos int, titleKey, source string, page func(*View) P) *TemplateSection {
	t, err := parseTemplate(name, source)
	if err != nil {
		panic("plugins: NewTemplateSection " + name + ": " + err.Error())
	}
	return &TemplateSection{
		name:     name,
		pos:      pos,
		titleKey: titleKey,
		tmpl:     i18n.NewTemplates(t),
		page:     func(v *View) any { return page(v) },
	}
}

// Name returns the section's name.
func (s *TemplateSection) Name() string { return s.name }

// Position returns the section's position.
func (s *TemplateSection) Position() int { return s.pos }

// Title returns the message of the section's title key in the language of locale.
func (s *TemplateSection) Title(locale string) string { return i18n.ForLocale(locale).T(s.titleKey) }

// Render executes the section's template in the language of v.Locale on the page data of v.
func (s *TemplateSection) Render(w io.Writer, v *View) error {
	return s.tmpl.Execute(w, v.Printer(), "", s.page(v))
}
