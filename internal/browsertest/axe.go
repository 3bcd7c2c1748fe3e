package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/internal/testwait"
)

// WCAGTags are the axe-core rule tags of WCAG 2.0 and 2.1, levels A and AA.
var WCAGTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// AxeTags are the rule tags CheckA11y runs: WCAGTags and axe's best practices (landmarks, one
// main, headings in order, …).
var AxeTags = append(WCAGTags[:len(WCAGTags):len(WCAGTags)], "best-practice")

// Violation is one failed axe-core rule, with the elements that fail it.
type Violation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	URL    string   `json:"helpUrl"`
	Nodes  []string `json:"nodes"`
	Detail []string `json:"detail"`
}

func (v Violation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s — %s", v.ID, v.Impact, v.Help, v.URL)
	for i, n := range v.Nodes {
		fmt.Fprintf(&b, "\n    %s", n)
		if i < len(v.Detail) && v.Detail[i] != "" {
			fmt.Fprintf(&b, "\n      %s", strings.ReplaceAll(v.Detail[i], "\n", "\n      "))
		}
	}
	return b.String()
}

var axe struct {
	once sync.Once
	src  string
	err  error
}

// AxeSource is axe-core's axe.min.js from node_modules beside this package (`make deps` runs npm
// ci there; $PORTICO_AXE overrides the path).
func AxeSource() (string, error) {
	axe.once.Do(func() {
		path := os.Getenv("PORTICO_AXE")
		if path == "" {
			path = filepath.Join(repoRoot(), "internal", "browsertest", "node_modules", "axe-core", "axe.min.js")
		}
		b, err := os.ReadFile(path)
		if err != nil {
			axe.err = fmt.Errorf("browsertest: axe-core is not installed (%w): run `make deps`, which runs "+
				"`npm ci` in internal/browsertest, or point PORTICO_AXE at axe.min.js", err)
			return
		}
		axe.src = string(b)
	})
	return axe.src, axe.err
}

// Axe runs axe-core against the page the browser shows with the rules of the tags (AxeTags when
// none) and returns the violations.
func (b *Browser) Axe(tags ...string) []Violation {
	b.t.Helper()
	src, err := AxeSource()
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { if (!window.axe) (0, eval)(`+quote(src)+`); return true })()`)); err != nil {
		b.t.Fatalf("browser at %s: loading axe-core: %v", b.Location(), err)
	}
	if len(tags) == 0 {
		tags = AxeTags
	}
	list := `["` + strings.Join(tags, `","`) + `"]`
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](`axe.run(document, {runOnly: {type: "tag", values: `+list+`}, resultTypes: ["violations"]})
		.then(r => r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => n.target.join(" ") + "  " + n.html.slice(0, 160)),
			detail: v.nodes.map(n => n.failureSummary || "")})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser at %s: running axe-core: %v", b.Location(), err)
	}
	return vs
}

// CheckA11y runs axe-core with the rules of the tags (AxeTags when none) and fails the test
// (without stopping it) for every violation, naming the page.
func (b *Browser) CheckA11y(page string, tags ...string) {
	b.t.Helper()
	vs := b.Axe(tags...)
	if len(vs) == 0 {
		return
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, "  "+v.String())
	}
	b.t.Errorf("%s (%s): %d axe-core violations:\n%s", page, b.Location(), len(vs), strings.Join(lines, "\n"))
}
