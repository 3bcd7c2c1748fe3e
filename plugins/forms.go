package plugins

import (
	_ "embed"
	"html/template"
)

// formsHTML defines the templates that every form page shares (see FormErrors).
//
//go:embed forms.html
var formsHTML string

// FieldError is a problem with one field of a posted form: the field's name and the message
// saying what to do about it.
//
// The markup follows one convention, for the summary to link to the field and for assistive
// technology to tie the message to it: the control of the field (its first choice, for a group of
// radio buttons or checkboxes) has the id Name; the message next to the field has the id
// Name+"-error"; the control (each choice, in a group) carries aria-invalid="true" and
// aria-describedby="<Name>-error"; and the field's wrapper (div.field or fieldset.field) has the
// class has-error, which the stylesheet paints red.
type FieldError struct{ Name, Message string }

// FormErrors are the problems of a posted form, in the order of its fields. A form page shows
// them twice: all together in the summary at the top of the page, the template "form-errors"
// ({{template "form-errors" .Errors}}: a banner with role="alert", focused on load, that links to
// each field in error), and each next to its field ({{.Errors.Of "name"}}). The templates of
// ParseTemplate and NewTemplateSection define "form-errors".
type FormErrors []FieldError

// Add appends the problem of the field name; a field keeps its first problem.
func (e *FormErrors) Add(name, message string) {
	if e.Of(name) == "" {
		*e = append(*e, FieldError{name, message})
	}
}

// Of returns the message of the field name, "" if the field has no problem.
func (e FormErrors) Of(name string) string {
	for _, f := range e {
		if f.Name == name {
			return f.Message
		}
	}
	return ""
}

// FormTemplates adds the shared form templates ("form-errors") to t, a template set parsed apart
// from ParseTemplate (the dashboard's pages), and returns it. t must have "t" among its funcs.
func FormTemplates(t *template.Template) (*template.Template, error) { return t.Parse(formsHTML) }

// ParseTemplate parses source as an html/template of the name with Funcs and the shared form
// templates ("form-errors"). It panics if source does not parse: it is meant for package
// variables, like template.Must. Execute the result through i18n.Templates, for "t".
func ParseTemplate(name, source string) *template.Template {
	t, err := parseTemplate(name, source)
	if err != nil {
		panic("plugins: ParseTemplate " + name + ": " + err.Error())
	}
	return t
}

func parseTemplate(name, source string) (*template.Template, error) {
	t, err := FormTemplates(template.New(name).Funcs(Funcs()))
	if err != nil {
		return nil, err
	}
	return t.Parse(source)
}
