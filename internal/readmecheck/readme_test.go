package readmecheck

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// root is the repository root, relative to this package.
const root = "../.."

var (
	mdLink     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	imgSrc     = regexp.MustCompile(`<img[^>]*\ssrc="([^"]+)"`)
	codeSpan   = regexp.MustCompile("`([^`\n]+)`")
	pathLike   = regexp.MustCompile(`^[A-Za-z0-9_.*-]+(/[A-Za-z0-9_.*-]+)*/?$`)
	layoutLine = regexp.MustCompile(`^([a-z0-9_/]+/)\s{2,}\S`)
	makeTarget = regexp.MustCompile("`make ([a-z-]+)")
	testName   = regexp.MustCompile(`^(Test|Benchmark|Fuzz|Example)[A-Za-z0-9_]*$`)
	fileExt    = regexp.MustCompile(`^[A-Za-z0-9_-]+\.(md|json|go|sh|html|css|png)$`)
)

// readme is README.md split into lines, with fenced code blocks marked.
type line struct {
	n      int
	text   string
	fenced bool
}

func readme(t *testing.T) []line {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		out    []line
		fenced bool
	)
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		text := s.Text()
		if strings.HasPrefix(text, "```") {
			fenced = !fenced
			continue
		}
		out = append(out, line{n, text, fenced})
	}
	return out
}

// ignoredDirs are the directories .gitignore keeps out of the repository: what the build makes
// (bin/, node_modules, test-artifacts/). The README may name paths under them.
func ignoredDirs(t *testing.T) []string {
	b, err := os.ReadFile(filepath.Join(root, ".gitignore"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "/") && strings.HasSuffix(l, "/") {
			dirs = append(dirs, strings.Trim(l, "/"))
		}
	}
	return dirs
}

func generated(dirs []string, p string) bool {
	p = strings.TrimSuffix(p, "/")
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// checkPath reports why the repository path p (a file, a directory, a glob or a package followed
// by a test name: "faults/TestEtcdFaults/a") does not hold, or "".
func checkPath(p string) string {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for i, s := range segs {
		if !testName.MatchString(s) {
			continue
		}
		dir := filepath.Join(append([]string{root}, segs[:i]...)...)
		files, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if regexp.MustCompile(`(?m)^func ` + s + `\(`).Match(b) {
				return ""
			}
		}
		return fmt.Sprintf("no test %s in package ./%s", s, strings.Join(segs[:i], "/"))
	}
	matches, _ := filepath.Glob(filepath.Join(root, p))
	if len(matches) == 0 {
		return "no such file or directory"
	}
	return ""
}

// TestReadmeNamesWhatExists: every link, image and repository path the README names exists; so
// does every test it cites as proof (package/TestName), every make target and every file name
// (`DESIGN.md`) somewhere in the repository. A reader who follows any of them finds it.
func TestReadmeNamesWhatExists(t *testing.T) {
	lines := readme(t)
	ignored := ignoredDirs(t)
	tops := map[string]bool{}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		tops[e.Name()] = true
	}
	baseNames := map[string]bool{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil {
			baseNames[d.Name()] = true
		}
		return nil
	})
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, l := range lines {
		fail := func(what, why string) { t.Errorf("README.md:%d: %s: %s", l.n, what, why) }
		if l.fenced {
			// The design notes' layout: "gateway/web/   the base stylesheet…".
			if m := layoutLine.FindStringSubmatch(l.text); m != nil {
				checked++
				if why := checkPath(m[1]); why != "" {
					fail(m[1], why)
				}
			}
			continue
		}
		var targets []string
		for _, m := range mdLink.FindAllStringSubmatch(l.text, -1) {
			targets = append(targets, m[1])
		}
		for _, m := range imgSrc.FindAllStringSubmatch(l.text, -1) {
			targets = append(targets, m[1])
		}
		for _, target := range targets {
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") {
				continue
			}
			checked++
			if why := checkPath(target); why != "" {
				fail("link "+target, why)
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(l.text, -1) {
			span := m[1]
			if !pathLike.MatchString(span) {
				continue
			}
			first, _, nested := strings.Cut(span, "/")
			switch {
			case nested && strings.Contains(first, "."): // a Go import path
				checked++
				if !modulePrefix(gomod, span) {
					fail(span, "no module in go.mod provides it")
				}
			case nested && (tops[first] || first == "." || first == "" || fileExt.MatchString(span[strings.LastIndex(span, "/")+1:])):
				checked++
				if p := strings.TrimPrefix(span, "./"); !generated(ignored, p) {
					if why := checkPath(p); why != "" {
						fail(span, why)
					}
				}
			case !nested && tops[strings.TrimSuffix(span, "/")] && strings.HasSuffix(span, "/"):
				checked++ // a top-level directory: "bench/"
			case !nested && fileExt.MatchString(span):
				checked++
				if !baseNames[span] {
					fail(span, "no file of that name in the repository")
				}
			}
		}
		for _, m := range makeTarget.FindAllStringSubmatch(l.text, -1) {
			checked++
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `:`).Match(makefile) {
				fail("make "+m[1], "no such target in the Makefile")
			}
		}
	}
	t.Logf("%d names checked", checked)
	if checked < 50 {
		t.Fatalf("only %d names checked: the parser lost track of the README", checked)
	}
}

func modulePrefix(gomod []byte, path string) bool {
	for _, l := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "require "))
		if len(f) >= 2 && (path == f[0] || strings.HasPrefix(path, f[0]+"/")) {
			return true
		}
	}
	return false
}

// TestReadmeBenchDuration: every "`make bench` (… under N minutes" in the README and the Makefile
// states the same N, the budget bench/run.sh enforces rounded up to a minute.
func TestReadmeBenchDuration(t *testing.T) {
	script, err := os.ReadFile(filepath.Join(root, "bench", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`BUDGET=\$\{BENCH_BUDGET:-(\d+)\}`).FindSubmatch(script)
	if m == nil {
		t.Fatal("bench/run.sh sets no BUDGET")
	}
	secs, _ := strconv.Atoi(string(m[1]))
	want := int(math.Ceil(float64(secs) / 60))
	claim := regexp.MustCompile(`(?s)make bench[^a-z-].{0,60}?under (\d+) minutes`)
	var found []int
	for _, f := range []string{"README.md", "Makefile"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "\n## ", " ")
		for _, c := range claim.FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(c[1])
			found = append(found, n)
			if n != want {
				t.Errorf("%s says make bench takes under %d minutes; bench/run.sh's budget is %d s (under %d minutes)", f, n, secs, want)
			}
		}
	}
	if len(found) < 2 {
		t.Fatalf("found %v duration claims; expected the README's and the Makefile's", found)
	}
}
