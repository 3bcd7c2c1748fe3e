package e2e_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/portico-billing/portico/internal/browsertest"
)

// choicesJS lists what is wrong with the options of the page's groups of choices (label.choice:
// a radio button or checkbox and its text) at the current viewport: a control whose vertical
// centre lies outside the first line of its text, a line of the text that starts under the
// control instead of right of it, and text drawn bold (only a field's label or legend is).
const choicesJS = `(() => {
	const problems = [], labels = [...document.querySelectorAll("label.choice")];
	if (labels.length === 0) return ["no label.choice on the page"];
	for (const l of labels) {
		const input = l.querySelector("input"), what = JSON.stringify(l.textContent.trim().slice(0, 50));
		if (!input) { problems.push(what + ": no control"); continue; }
		const box = input.getBoundingClientRect(), mid = (box.top + box.bottom) / 2;
		const lines = [], walker = document.createTreeWalker(l, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			if (!n.data.trim()) continue;
			const w = parseFloat(getComputedStyle(n.parentElement).fontWeight);
			if (w >= 600) problems.push(what + ": drawn at font-weight " + w);
			const r = document.createRange();
			r.selectNodeContents(n);
			lines.push(...[...r.getClientRects()].filter(x => x.width > 0 && x.height > 0));
		}
		if (lines.length === 0) { problems.push(what + ": no text"); continue; }
		const top = Math.min(...lines.map(x => x.top)), first = lines.filter(x => x.top < top + 1);
		const bottom = Math.max(...first.map(x => x.bottom));
		if (mid < top - 0.5 || mid > bottom + 0.5)
			problems.push(what + ": the control's centre is at " + mid.toFixed(1) + " px, outside its first line (" + top.toFixed(1) + "–" + bottom.toFixed(1) + ")");
		for (const x of lines)
			if (x.left < box.right - 0.5)
				problems.push(what + ": a line of its text starts at " + x.left.toFixed(1) + " px, under the control (which ends at " + box.right.toFixed(1) + ")");
	}
	return problems;
})()`

// checkChoices checks the page's groups of choices at both widths (see choicesJS).
func checkChoices(t *testing.T, b *browsertest.Browser, where string) {
	t.Helper()
	for _, w := range widths {
		b.Viewport(w)
		for _, p := range browsertest.Eval[[]string](b, choicesJS) {
			t.Errorf("%s at %d px: %s", where, w, p)
		}
	}
	b.Viewport(browsertest.DefaultWidth)
}

// redJS reports the computed colour of a border side (CSS property, e.g. "border-top-color") of
// the element matching a selector, and whether it reads as red: a strong red channel and weak
// green and blue ones.
const redJS = `(() => {
	const e = document.querySelector(%q);
	if (!e) return "no element " + %[1]q;
	const c = getComputedStyle(e).getPropertyValue(%q), m = c.match(/rgba?\((\d+), (\d+), (\d+)/);
	return m && +m[1] >= 150 && +m[2] <= 90 && +m[3] <= 90 ? "" : %[2]q + " is " + c;
})()`

// checkFormError checks a page that answered a failed form post: the error summary shown,
// focused and linking to fields that exist, the control in error (the selector invalid) marked
// aria-invalid, and the element outlined (the control, or the fieldset of a group of choices)
// with a red border on the side whose colour is the CSS property border.
func checkFormError(t *testing.T, b *browsertest.Browser, where, invalid, outlined, border string) {
	t.Helper()
	// The summary takes the focus on load (autofocus), for a screen reader to read it first.
	b.Do(chromedp.Poll[chromedp.Void](`document.activeElement?.matches(".error-summary")`, chromedp.WithPollingTimeout(0)))
	if p := browsertest.Eval[string](b, `(() => {
		const s = document.querySelector('.error-summary[role="alert"]');
		if (!s) return "no .error-summary with role=alert";
		const r = s.getBoundingClientRect();
		if (r.width === 0 || r.height === 0 || r.top < 0 || r.bottom > innerHeight) return "the summary is not in view: " + JSON.stringify(r);
		const links = [...s.querySelectorAll("a[href^='#']")];
		if (links.length === 0) return "the summary links no field";
		for (const a of links) if (!document.getElementById(a.hash.slice(1))) return "the summary links " + a.hash + ", which is not on the page";
		return "";
	})()`); p != "" {
		t.Errorf("%s: %s", where, p)
	}
	if got := browsertest.Eval[string](b, fmt.Sprintf(`document.querySelector(%q)?.getAttribute("aria-invalid") ?? "no element"`, invalid)); got != "true" {
		t.Errorf("%s: %s has aria-invalid=%q, want true", where, invalid, got)
	}
	if p := browsertest.Eval[string](b, fmt.Sprintf(redJS, outlined, border)); p != "" {
		t.Errorf("%s: the field in error is not outlined in red: %s", where, p)
	}
}
