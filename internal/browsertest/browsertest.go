// Package browsertest drives headless Chromium for Portico's browser tests: it finds Debian's
// chromium, starts it with the flags that work in containers and CI, bounds every step with a
// timeout that reports where the browser was, saves screenshots as test artifacts, and runs
// axe-core (installed by `make deps` from npm into this directory's node_modules) against the
// page. It owns no Portico behaviour; the tests that use it assert that.
//
// The tests fail, never skip, when Chromium or axe-core is missing: a skipped browser test would
// count as a pass that checked nothing.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/internal/testwait"
)

// Default window size of a new browser.
const (
	DefaultWidth  = 1280
	DefaultHeight = 900
)

// Chromium returns the path of the Chromium binary: $PORTICO_CHROMIUM, Debian's
// /usr/bin/chromium, or chromium on $PATH. The test fails without one.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PORTICO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("browsertest: chromium is not installed: the browser tests need it. Install it with " +
		"`apt-get install chromium` (`make deps` does), or point PORTICO_CHROMIUM at a Chromium binary.")
	return ""
}

// Browser is one headless Chromium with one tab, closed when the test ends.
type Browser struct {
	t   testing.TB
	ctx context.Context
	// Artifacts is the directory screenshots are written to (default: test-artifacts/ at the
	// repository root).
	Artifacts string
}

// Start launches Chromium with a fresh profile and a 1280×900 window.
func Start(t testing.TB) *Browser {
	t.Helper()
	exe := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(DefaultWidth, DefaultHeight),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// The first action starts the browser and ties it to the context it runs with, so it runs
	// with the browser's own context, watched by a timer.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: starting %s: %v", exe, err)
		}
	case <-time.After(testwait.Patience):
		t.Fatalf("browsertest: %s did not start within %v", exe, testwait.Patience)
	}
	return &Browser{t: t, ctx: bctx, Artifacts: filepath.Join(repoRoot(), "test-artifacts")}
}

// In is the browser seen from a subtest: its failures fail t.
func (b *Browser) In(t testing.TB) *Browser {
	c := *b
	c.t = t
	return &c
}

// Ctx is the browser's context, for chromedp.Run.
func (b *Browser) Ctx() context.Context { return b.ctx }

// Do runs steps (only a hang reaches testwait.Patience); on failure it fails the test with where the browser is and
// the text it shows.
func (b *Browser) Do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser at %s: %v\npage text:\n%s", b.Location(), err, b.eval(`document.body ? document.body.innerText : ""`))
	}
}

// Navigate runs steps that navigate (a form submitted, a link followed) and returns once the page
// they lead to has loaded, so that what follows reads the new page and not the one being left
// (waiting for a selector alone returns at once when the old page has it too). It fails the test
// if no page loads within testwait.Patience.
func (b *Browser) Navigate(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	if _, err := chromedp.RunResponse(ctx, steps...); err != nil {
		b.t.Fatalf("browser at %s: navigating: %v\npage text:\n%s", b.Location(), err, b.eval(`document.body ? document.body.innerText : ""`))
	}
}

// eval evaluates a string expression for diagnostics; errors give "".
func (b *Browser) eval(expr string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	return s
}

// Location is the address of the page the browser shows.
func (b *Browser) Location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// Text is the visible text of the first element matching the CSS selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser at %s: reading %s: %v", b.Location(), sel, err)
	}
	return s
}

// Eval evaluates a JavaScript expression and decodes its JSON value into T.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("browser at %s: evaluating %s: %v", b.Location(), expr, err)
	}
	return v
}

// Viewport sets the width of the page's viewport in CSS pixels (the height stays 900), as a
// phone or a desktop browser would lay the page out.
func (b *Browser) Viewport(width int) {
	b.t.Helper()
	b.Do(chromedp.EmulateViewport(int64(width), DefaultHeight))
}

// Screenshot saves a PNG of the whole page as <Artifacts>/<name> and returns its path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("browser at %s: screenshot: %v", b.Location(), err)
	}
	path := filepath.Join(b.Artifacts, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// Tab presses Tab (with Shift when back is set) and returns a description of the element that
// has the focus then, as "tag#id.class 'text'".
func (b *Browser) Tab(back bool) string {
	b.t.Helper()
	var opts []chromedp.KeyOption
	if back {
		opts = append(opts, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	b.Do(chromedp.KeyEvent("\t", opts...))
	return b.Focused()
}

// Focused describes the element that has the focus, as "tag#id.class 'text'".
func (b *Browser) Focused() string {
	b.t.Helper()
	return Eval[string](b, `(() => { const e = document.activeElement; if (!e) return "";
		let d = e.tagName.toLowerCase(); if (e.id) d += "#" + e.id;
		if (e.className && typeof e.className === "string") d += "." + e.className.trim().split(/\s+/).join(".");
		const txt = (e.innerText || e.value || "").trim().replace(/\s+/g, " ");
		return txt ? d + " '" + txt + "'" : d; })()`)
}

// TabTo presses Tab until the focused element matches the CSS selector and returns how many
// presses it took; it fails the test after max presses.
func (b *Browser) TabTo(sel string, max int) int {
	b.t.Helper()
	var seen []string
	for i := 1; i <= max; i++ {
		seen = append(seen, b.Tab(false))
		if Eval[bool](b, `document.activeElement && document.activeElement.matches(`+quote(sel)+`)`) {
			return i
		}
	}
	b.t.Fatalf("browser at %s: %s not reached in %d Tab presses; focus went through:\n  %s", b.Location(), sel, max, strings.Join(seen, "\n  "))
	return 0
}

// FocusVisible reports whether the focused element is drawn with a visible focus indicator: an
// outline at least 2 px wide or a box shadow.
func (b *Browser) FocusVisible() bool {
	b.t.Helper()
	return Eval[bool](b, `(() => { const e = document.activeElement; if (!e || e === document.body) return false;
		const s = getComputedStyle(e);
		return (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2) || (s.boxShadow && s.boxShadow !== "none"); })()`)
}

// quote makes a JavaScript string literal of s.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// repoRoot is the repository root: two directories up from this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AcceptLanguage makes the browser send Accept-Language: lang with every request, as a browser
// set to that language does.
func (b *Browser) AcceptLanguage(lang string) {
	b.t.Helper()
	b.Do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return err
	}))
}

// Print prints the page as the browser's print dialog would (A4, print stylesheet, no header or
// footer) and returns the PDF.
func (b *Browser) Print() []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, testwait.Patience)
	defer cancel()
	var pdf []byte
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		r, err := cdp.Call(ctx, t, page.PrintToPDF, page.PrintToPDFParams{PaperWidth: 8.27, PaperHeight: 11.69})
		pdf = r.Data
		return err
	}))
	if err != nil {
		b.t.Fatalf("browser at %s: printing: %v", b.Location(), err)
	}
	return pdf
}
