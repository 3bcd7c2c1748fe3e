package layout

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/portico-billing/portico"

// pkg is one package of the module with its imports (tests' imports aside: a test may drive the
// gateway end to end from outside it).
type pkg struct {
	path    string   // relative to the module: "gateway/links"
	imports []string // the module's packages it imports, relative; "" is the module root
	deps    []string // the module's packages it depends on, directly or not, relative
}

// within reports whether rel is dir or a package under it.
func within(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// section is the directory under plugins/ that rel is in ("invoices" for plugins/invoices and
// its subpackages), "" outside one (plugins itself, other trees).
func section(rel string) string {
	rest, ok := strings.CutPrefix(rel, "plugins/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// violations are the imports that run the wrong way.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, imp := range p.imports {
			if within(imp, "gateway") && !within(p.path, "gateway") && !within(p.path, "cmd") {
				out = append(out, fmt.Sprintf("%s imports %s: only gateway/ and cmd/ may import the edge", p.path, imp))
			}
			if from, to := section(p.path), section(imp); from != "" && to != "" && from != to && from != "standard" && to != "internal" {
				out = append(out, fmt.Sprintf("%s imports %s: a section does not import another (what both need belongs in plugins, tenants/account or i18n); only plugins/standard gathers them", p.path, imp))
			}
		}
		switch {
		case p.path == "gateway" && slices.ContainsFunc(p.deps, func(d string) bool { return within(d, "gateway/dashboard") }):
			out = append(out, "gateway depends on gateway/dashboard: the tenant API must not need the admin UI (cmd/portico hands the gateway the dashboard's handler)")
		case p.path == "i18n" && len(p.deps) > 0:
			out = append(out, fmt.Sprintf("i18n depends on %s: i18n has its own types; the others convert to them", strings.Join(p.deps, ", ")))
		case p.path == "tenants/account" && slices.ContainsFunc(p.deps, func(d string) bool { return d != "i18n" }):
			out = append(out, fmt.Sprintf("tenants/account depends on %s: the account document needs nothing of Portico's but i18n", strings.Join(p.deps, ", ")))
		}
	}
	return out
}

// TestViolationsRules: the rules catch each wrong import and leave the right ones alone.
func TestViolationsRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		p    pkg
		bad  bool
	}{
		{"cmd imports the gateway", pkg{path: "cmd/portico", imports: []string{"gateway", "gateway/dashboard"}}, false},
		{"a gateway subpackage imports another", pkg{path: "gateway/dashboard", imports: []string{"gateway/links"}}, false},
		{"a section imports a gateway package", pkg{path: "plugins/example", imports: []string{"gateway/links"}}, true},
		{"a top-level package imports the gateway", pkg{path: "webhooks", imports: []string{"gateway"}}, true},
		{"bench imports a gateway package", pkg{path: "bench/cmd/loadgen", imports: []string{"gateway/session"}}, true},
		{"a package named like the gateway", pkg{path: "plugins", imports: []string{"gatewayish"}}, false},
		{"the API needs the dashboard through another package", pkg{path: "gateway", deps: []string{"gateway/links", "gateway/dashboard"}}, true},
		{"the dashboard needs the gateway's links", pkg{path: "gateway/dashboard", deps: []string{"gateway/links"}}, false},
		{"a section imports another", pkg{path: "plugins/invoices", imports: []string{"plugins", "plugins/billingdetails"}}, true},
		{"a section's subpackage imports another section", pkg{path: "plugins/invoices/pay", imports: []string{"plugins/planoverview"}}, true},
		{"a section imports its own subpackage", pkg{path: "plugins/invoices", imports: []string{"plugins/invoices/pay"}}, false},
		{"a section imports the sections' shared helpers", pkg{path: "plugins/example", imports: []string{"plugins/internal/sectiontest"}}, false},
		{"standard gathers the sections", pkg{path: "plugins/standard", imports: []string{"plugins/billingdetails", "plugins/invoices"}}, false},
		{"the gateway imports a section", pkg{path: "gateway", imports: []string{"plugins/invoices"}}, false},
		{"i18n imports the account", pkg{path: "i18n", imports: []string{"tenants/account"}, deps: []string{"tenants/account"}}, true},
		{"the account imports i18n", pkg{path: "tenants/account", imports: []string{"i18n"}, deps: []string{"i18n"}}, false},
		{"the account imports tenants", pkg{path: "tenants/account", imports: []string{"tenants"}, deps: []string{"tenants", "i18n"}}, true},
	} {
		if got := len(violations([]pkg{tc.p})) > 0; got != tc.bad {
			t.Errorf("%s: violation %v, want %v", tc.name, got, tc.bad)
		}
	}
}

// TestImportDirections runs `go list` over the module and fails on every import that runs the
// wrong way (see violations).
func TestImportDirections(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}|{{join .Imports " "}}|{{join .Deps " "}}`, "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	rel := func(paths string) []string {
		var r []string
		for _, p := range strings.Fields(paths) {
			if p == module {
				r = append(r, "")
			} else if s, ok := strings.CutPrefix(p, module+"/"); ok {
				r = append(r, s)
			}
		}
		return r
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		path, rest, _ := strings.Cut(sc.Text(), "|")
		imports, deps, _ := strings.Cut(rest, "|")
		if r := rel(path); len(r) == 1 {
			pkgs = append(pkgs, pkg{path: r[0], imports: rel(imports), deps: rel(deps)})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// The rules have something to look at: the packages they name are listed.
	for _, want := range []string{"gateway", "gateway/dashboard", "i18n", "tenants/account", "cmd/portico"} {
		if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.path == want }) {
			t.Fatalf("go list did not list %s (%d packages)", want, len(pkgs))
		}
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}
