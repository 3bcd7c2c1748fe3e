package readmecheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// rule is a Makefile rule: its prerequisites and its recipe.
type rule struct {
	prereqs []string
	recipe  string
}

func makeRules(t *testing.T) map[string]rule {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`^([a-z][a-z-]*):(?:\s+(.*))?$`)
	rules := map[string]rule{}
	var cur string
	for _, l := range strings.Split(string(b), "\n") {
		if m := head.FindStringSubmatch(l); m != nil {
			cur = m[1]
			rules[cur] = rule{prereqs: strings.Fields(m[2])}
			continue
		}
		if strings.HasPrefix(l, "\t") && cur != "" {
			r := rules[cur]
			r.recipe += l + "\n"
			rules[cur] = r
		} else if !strings.HasPrefix(l, "#") {
			cur = ""
		}
	}
	return rules
}

// TestMakeInstallsWhatEachTargetUses: `make run` installs what the product itself uses (the
// Japanese font its invoice PDFs are set in) and nothing only the tests need; `make test`
// installs that and the tests' tools, as the README says.
func TestMakeInstallsWhatEachTargetUses(t *testing.T) {
	rules := makeRules(t)
	if !slices.Contains(rules["run"].prereqs, "deps-run") {
		t.Errorf("make run does not depend on deps-run: %v", rules["run"].prereqs)
	}
	if !slices.Contains(rules["test"].prereqs, "deps") || !slices.Equal(rules["deps"].prereqs, []string{"deps-run", "deps-test"}) {
		t.Errorf("make test does not install both the product's and the tests' dependencies: test %v, deps %v", rules["test"].prereqs, rules["deps"].prereqs)
	}
	// The font file deps-run checks for is the first one the PDF renderer looks for.
	src, err := os.ReadFile(filepath.Join(root, "invoicedoc", "fonts.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cjkFontPaths = \[\]string\{\s*"([^"]+)"`).FindSubmatch(src)
	if m == nil {
		t.Fatal("no cjkFontPaths in invoicedoc/fonts.go")
	}
	run := rules["deps-run"].recipe
	if !strings.Contains(run, string(m[1])) || !strings.Contains(run, "fonts-ipaexfont-gothic") {
		t.Errorf("deps-run does not install %s (fonts-ipaexfont-gothic):\n%s", m[1], run)
	}
	for _, testOnly := range []string{"chromium", "poppler-utils", "etcd-server"} {
		if strings.Contains(run, testOnly) {
			t.Errorf("deps-run installs %s, which only the tests use", testOnly)
		}
		if !strings.Contains(rules["deps-test"].recipe, testOnly) {
			t.Errorf("deps-test does not install %s", testOnly)
		}
	}
}
