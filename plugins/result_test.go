package plugins

import (
	"html/template"
	"strings"
	"testing"

	"github.com/portico-billing/portico/i18n"
)

// TestResultPage: the shared result page shows the paragraphs as the section escaped them, the
// backend's message quoted and escaped, the first link as the one primary action and the way
// back to the overview as primary only when there is no other.
func TestResultPage(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		r         Result
		want, not []string
	}{
		{"links", Result{Kind: "paid", Title: "Payment received", Paragraphs: []template.HTML{`Paid <span class="nowrap">A-1</span>.`},
			Message: "Thanks <b>a lot</b>", MessageLabel: "Message from the payment service:", Back: "Back to billing",
			Links: []Link{{Href: "/pay/inv_2", Label: "Pay the next"}, {Href: "/invoices/inv_1", Label: "View receipt"}, {Href: "/invoices/inv_1.pdf", Label: "PDF", Download: true}}},
			[]string{
				`<section class="card pay-result pay-result-paid" aria-labelledby="result-title">`,
				`<h1 class="card-title" id="result-title">Payment received</h1>`,
				`<p>Paid <span class="nowrap">A-1</span>.</p>`,
				`<figure class="pay-message"><figcaption>Message from the payment service:</figcaption><blockquote><p>Thanks &lt;b&gt;a lot&lt;/b&gt;</p></blockquote></figure>`,
				`<p class="actions"><a class="button button-primary" href="/pay/inv_2">Pay the next</a> <a class="button button-secondary" href="/invoices/inv_1">View receipt</a> <a class="button button-secondary" href="/invoices/inv_1.pdf" download>PDF</a> <a class="button button-link" href="/">Back to billing</a>`,
			}, nil},
		{"alone", Result{Kind: "failure", Title: "Not available", Paragraphs: []template.HTML{"Nothing was changed."}, Back: "Back to the overview"},
			[]string{`<p class="actions"><a class="button button-primary" href="/">Back to the overview</a>`},
			[]string{"<figure", "button-secondary", "button-link"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := resultTmpl.Execute(&b, i18n.ForLocale("en"), "action-result", &c.r); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("page lacks %s\n%s", w, out)
				}
			}
			for _, w := range c.not {
				if strings.Contains(out, w) {
					t.Errorf("page has %s\n%s", w, out)
				}
			}
		})
	}
}
