package gateway

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/portico-billing/portico/i18n"
)

// TestFormErrorSummary posts invalid cancel, billing-details and auto-pay forms, in English and
// German, and checks what every form page with an error shows: one summary at the top (an alert
// that can take the focus, with the shared message) linking each field in error, the field's
// control marked aria-invalid and described by its message, the field painted as in error, and
// the fields without a problem left alone.
func TestFormErrorSummary(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sessions := map[string]*portalSession{
		"en": h.customer("forms-en", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`),
		"de": h.customer("forms-de", `{"accountId":"acc_7Hq2LmX9","locale":"de-DE"}`),
	}
	msg := func(key string, args ...any) func(*i18n.Printer) string {
		return func(p *i18n.Printer) string { return p.T(key, args...) }
	}
	required := func(field string) func(*i18n.Printer) string {
		return func(p *i18n.Printer) string {
			return p.T("billing.error.required", "field", p.T("billing.field."+field))
		}
	}
	type problem struct {
		name string
		msg  func(*i18n.Printer) string
	}
	for _, tc := range []struct {
		name, locale, path string
		form               url.Values
		// invalid are the fields in error, in the order of the summary; valid are fields that
		// must not be marked.
		invalid []problem
		valid   []string
	}{
		{"cancel without reason", "en", "/subscriptions/sub_Pro_01/cancel", url.Values{"comment": {"Too pricey"}},
			[]problem{{"reason", msg("cancel.error.reason")}}, []string{"comment"}},
		{"cancel with a long comment", "de", "/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"pricing"}, "comment": {strings.Repeat("x", 1001)}},
			[]problem{{"comment", msg("cancel.error.comment", "max", 1000)}}, []string{"reason"}},
		{"billing details", "en", "/billing/edit", url.Values{"legalName": {"Globex"}, "email": {"not-an-email"}, "line1": {"Hauptstraße 12"}, "city": {"Berlin"}, "country": {"XX"}},
			[]problem{{"email", msg("billing.error.email")}, {"country", msg("billing.error.country")}}, []string{"legalName", "city"}},
		{"billing details", "de", "/billing/edit", url.Values{"legalName": {""}, "email": {"ap@globex.example"}, "line1": {"Hauptstraße 12"}, "city": {""}, "country": {"DE"}},
			[]problem{{"legalName", required("legalName")}, {"city", required("city")}}, []string{"email", "country"}},
		{"auto-pay", "en", "/billing/autopay", url.Values{"enabled": {"on"}, "timing": {"someday"}},
			[]problem{{"timing", msg("autopay.error.timing")}}, []string{"enabled"}},
	} {
		ps, p := sessions[tc.locale], i18n.ForLocale(tc.locale)
		where := tc.locale + " " + tc.name
		st, body := ps.post(tc.path, tc.form)
		if st != 422 {
			t.Errorf("%s: POST %s: %d, want 422", where, tc.path, st)
			continue
		}
		doc, err := html.Parse(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		alerts := findAll(doc, func(n *html.Node) bool { return attr(n, "role") == "alert" })
		if len(alerts) != 1 {
			t.Errorf("%s: %d elements with role=alert, want the one summary:\n%s", where, len(alerts), body)
			continue
		}
		sum := alerts[0]
		if attr(sum, "class") != "error-summary" || attr(sum, "tabindex") != "-1" || !hasAttr(sum, "autofocus") {
			t.Errorf("%s: the summary is <div class=%q tabindex=%q>, want a focusable error-summary focused on load", where, attr(sum, "class"), attr(sum, "tabindex"))
		}
		if forms := findAll(doc, func(n *html.Node) bool { return n.Data == "form" && attr(n, "action") == tc.path }); len(forms) != 1 || !before(doc, sum, forms[0]) {
			t.Errorf("%s: the summary is not above the form", where)
		}
		if got, want := text(sum), p.T("form.correct"); !strings.HasPrefix(got, want) {
			t.Errorf("%s: the summary says %q, want it to start with %q", where, got, want)
		}
		links := findAll(sum, func(n *html.Node) bool { return n.Data == "a" })
		if len(links) != len(tc.invalid) {
			t.Errorf("%s: the summary links %d fields, want %d", where, len(links), len(tc.invalid))
		}
		for i, f := range tc.invalid {
			want := f.msg(p)
			if i < len(links) && (attr(links[i], "href") != "#"+f.name || text(links[i]) != want) {
				t.Errorf("%s: summary link %d: %q to %s, want %q to #%s", where, i, text(links[i]), attr(links[i], "href"), want, f.name)
			}
			if m := byID(doc, f.name+"-error"); m == nil || text(m) != want {
				t.Errorf("%s: %s: the message next to the field (id %s-error) is not %q", where, f.name, f.name, want)
			}
			ctl := byID(doc, f.name)
			if ctl == nil {
				t.Errorf("%s: no control with the id %q for the summary to link to", where, f.name)
				continue
			}
			// Every control of the field (each choice of a group) is marked and described.
			for _, c := range controls(doc, attr(ctl, "name")) {
				if attr(c, "aria-invalid") != "true" || attr(c, "aria-describedby") != f.name+"-error" {
					t.Errorf("%s: %s: <%s value=%q> has aria-invalid=%q aria-describedby=%q", where, f.name, c.Data, attr(c, "value"), attr(c, "aria-invalid"), attr(c, "aria-describedby"))
				}
			}
			if w := fieldOf(ctl); w == nil || !strings.Contains(" "+attr(w, "class")+" ", " has-error ") {
				t.Errorf("%s: %s: the field around the control is not marked has-error", where, f.name)
			}
		}
		for _, name := range tc.valid {
			cs := controls(doc, name)
			if len(cs) == 0 {
				t.Errorf("%s: no control %s", where, name)
			}
			for _, c := range cs {
				if hasAttr(c, "aria-invalid") || byID(doc, name+"-error") != nil {
					t.Errorf("%s: %s has no problem but is marked invalid", where, name)
				}
			}
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func byID(doc *html.Node, id string) *html.Node {
	if m := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == id }); len(m) > 0 {
		return m[0]
	}
	return nil
}

// controls are the form controls named name.
func controls(doc *html.Node, name string) []*html.Node {
	return findAll(doc, func(n *html.Node) bool {
		return (n.Data == "input" || n.Data == "select" || n.Data == "textarea") && attr(n, "name") == name
	})
}

// fieldOf is the element of class "field" around n.
func fieldOf(n *html.Node) *html.Node {
	for p := n.Parent; p != nil; p = p.Parent {
		if strings.Contains(" "+attr(p, "class")+" ", " field ") {
			return p
		}
	}
	return nil
}

// before reports whether a comes before b in document order.
func before(doc, a, b *html.Node) bool {
	for n := range doc.Descendants() {
		switch n {
		case a:
			return true
		case b:
			return false
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
