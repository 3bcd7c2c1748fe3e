package plugins_test

import (
	"html/template"
	"strings"
	"testing"

	"github.com/portico-billing/portico/plugins"
)

// TestCSRFInputSurvivesTemplate checks that the placeholder reaches the output of a section's
// template unchanged, inside the value attribute of the hidden input, so the host can replace it.
func TestCSRFInputSurvivesTemplate(t *testing.T) {
	t.Parallel()
	tmpl := template.Must(template.New("form").Funcs(plugins.Funcs()).Parse(
		`<form method="post" action="/subscriptions/{{pathEscape .}}/reactivate">{{csrfInput}}<button>Reactivate</button></form>`))
	var b strings.Builder
	if err := tmpl.Execute(&b, "sub 1/2"); err != nil {
		t.Fatal(err)
	}
	want := `<form method="post" action="/subscriptions/sub%201%2F2/reactivate">` +
		`<input type="hidden" name="csrf" value="` + plugins.CSRFPlaceholder + `"><button>Reactivate</button></form>`
	if b.String() != want {
		t.Fatalf("output\n%s\nwant\n%s", b.String(), want)
	}
	if strings.Count(b.String(), plugins.CSRFPlaceholder) != 1 {
		t.Fatalf("placeholder not found exactly once in %s", b.String())
	}
}

// TestCSRFPlaceholderCannotComeFromData checks that account data equal to the placeholder is
// escaped in every context html/template knows, so the host never puts a token where data was.
func TestCSRFPlaceholderCannotComeFromData(t *testing.T) {
	t.Parallel()
	contexts := map[string]string{
		"text":            `<p>{{.}}</p>`,
		"quoted attr":     `<input value="{{.}}">`,
		"single attr":     `<input value='{{.}}'>`,
		"unquoted attr":   `<input value={{.}}>`,
		"url path":        `<a href="/x/{{.}}">x</a>`,
		"url query":       `<a href="/x?q={{.}}">x</a>`,
		"url start":       `<a href="{{.}}">x</a>`,
		"css":             `<p style="content: '{{.}}'">x</p>`,
		"style element":   `<style>p { content: "{{.}}" }</style>`,
		"js":              `<script>var x = {{.}};</script>`,
		"js string":       `<script>var x = "{{.}}";</script>`,
		"event attribute": `<button onclick="f({{.}})">x</button>`,
		"rcdata":          `<textarea>{{.}}</textarea><title>{{.}}</title>`,
	}
	for name, src := range contexts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tmpl := template.Must(template.New(name).Parse(src))
			var b strings.Builder
			if err := tmpl.Execute(&b, plugins.CSRFPlaceholder); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), plugins.CSRFPlaceholder) {
				t.Fatalf("data reproduced the placeholder: %s", b.String())
			}
		})
	}
}
