package plugins_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/portico-billing/portico/plugins"
)

// tinyPage is the data of the template of tinySection.
type tinyPage struct{ Prefix, ID string }

const tinySource = `<section class="section-{{.ID}}"><p>{{t "common.notAvailable"}}</p>` +
	`<form action="{{.Prefix}}/x/{{pathEscape .ID}}">{{csrfInput}}</form></section>`

func tinySection() *plugins.TemplateSection {
	return plugins.NewTemplateSection("tiny", 42, "plan.title", tinySource, func(v *plugins.View) tinyPage {
		return tinyPage{Prefix: v.PathPrefix, ID: v.TenantName}
	})
}

func TestTemplateSection(t *testing.T) {
	t.Parallel()
	s := tinySection()
	if got := s.Name(); got != "tiny" {
		t.Errorf("Name = %q, want tiny", got)
	}
	if got := s.Position(); got != 42 {
		t.Errorf("Position = %d, want 42", got)
	}
	for loc, want := range map[string]string{"en": "Plan overview", "de-DE": "Tarifübersicht", "xx": "Plan overview"} {
		if got := s.Title(loc); got != want {
			t.Errorf("Title(%q) = %q, want %q", loc, got, want)
		}
	}
	for loc, want := range map[string]string{
		"en": `<section class="section-a&lt;b"><p>Not available</p>` +
			`<form action="/p/x/a%3Cb">` + string(plugins.CSRFInput) + `</form></section>`,
		"de-DE": `<section class="section-a&lt;b"><p>Nicht verfügbar</p>` +
			`<form action="/p/x/a%3Cb">` + string(plugins.CSRFInput) + `</form></section>`,
	} {
		var b strings.Builder
		if err := s.Render(&b, &plugins.View{Locale: loc, PathPrefix: "/p", TenantName: "a<b"}); err != nil {
			t.Fatalf("Render(%s): %v", loc, err)
		}
		if b.String() != want {
			t.Errorf("Render(%s) =\n%s\nwant\n%s", loc, b.String(), want)
		}
	}
}

// TestTemplateSectionConcurrent renders one section from many goroutines in several languages at
// once, as the host does; run with -race.
func TestTemplateSectionConcurrent(t *testing.T) {
	t.Parallel()
	s := tinySection()
	var wg sync.WaitGroup
	for i := range 16 {
		loc := []string{"en", "de", "fr", "ja"}[i%4]
		wg.Go(func() {
			var b strings.Builder
			if err := s.Render(&b, &plugins.View{Locale: loc, TenantName: "x"}); err != nil {
				t.Errorf("Render(%s): %v", loc, err)
			}
		})
	}
	wg.Wait()
}

func TestNewTemplateSectionPanics(t *testing.T) {
	t.Parallel()
	page := func(*plugins.View) any { return nil }
	for _, source := range []string{`{{if .X}}unclosed`, `{{nosuchfunc}}`, `{{.X`} {
		msg := func() (msg string) {
			defer func() { msg, _ = recover().(string) }()
			plugins.NewTemplateSection("bad", 1, "plan.title", source, page)
			return ""
		}()
		if !strings.HasPrefix(msg, `plugins: NewTemplateSection bad: template: bad:`) {
			t.Errorf("source %q: panic %q, want a parse error of template bad", source, msg)
		}
	}
}
