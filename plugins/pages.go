package plugins

import (
	_ "embed"
	"html/template"
	"log/slog"
	"strings"

	"github.com/portico-billing/portico/i18n"
)

// Render answers a page (ActionContext.Page) of the title whose body is the template name of t
// executed on data in the page's language. A template that fails is logged and answered 500.
func Render(c ActionContext, t *i18n.Templates, status int, title, name string, data any) {
	var b strings.Builder
	if err := t.Execute(&b, c.Printer(), name, data); err != nil {
		slog.Error("plugins: rendering a page", "page", name, "err", err)
		c.Message(500, "error.internal.title", "error.internal.page")
		return
	}
	c.Page(status, title, template.HTML(b.String()))
}

// Result is a result page: how a request the customer confirmed came out (a payment, a change of
// plan or seats, a pause), the same on every section's pages. ShowResult answers it.
type Result struct {
	// Kind names the outcome for the stylesheet and tests, as the card's class
	// "pay-result-<Kind>": succeeded, paid, declined, pending, open, settled, failure.
	Kind  string
	Title string
	// Paragraphs are the page's text, HTML the section escaped (template.HTMLEscapeString).
	Paragraphs []template.HTML
	// Message is the words of the tenant's service, quoted under MessageLabel ("" for none).
	Message, MessageLabel string
	// Links are the ways on, the first the primary one (the next invoice to pay, a receipt, try
	// again); Back is the text of the link back to the overview, primary without Links.
	Links []Link
	Back  string
}

// Link is a link of a Result.
type Link struct {
	Href, Label string
	Download    bool // a file to save (the receipt's PDF)
}

//go:embed result.html
var resultHTML string

var resultTmpl = i18n.NewTemplates(ParseTemplate("result", resultHTML))

// ShowResult answers the result page r with status.
func ShowResult(c ActionContext, status int, r *Result) {
	Render(c, resultTmpl, status, r.Title, "action-result", r)
}
