package e2e_test

import (
	"testing"

	"github.com/portico-billing/portico/internal/browsertest"
)

// clippedJS lists the elements holding text whose content does not fit their box at the current
// width: their own content overflows (scrollWidth > clientWidth, as an ellipsis hides), or an
// ancestor that clips (overflow hidden or clip) cuts them off. Text inside a scroll container
// (overflow auto or scroll) is reachable by scrolling and is not clipped; visually hidden text
// (a 1 px box) is for screen readers only.
const clippedJS = `(() => {
	const describe = e => { let d = e.tagName.toLowerCase(); if (e.id) d += "#" + e.id;
		if (typeof e.className === "string" && e.className.trim()) d += "." + e.className.trim().split(/\s+/).join(".");
		return d + " '" + (e.innerText || "").trim().replace(/\s+/g, " ").slice(0, 60) + "'"; };
	const out = [];
	for (const e of document.body.querySelectorAll("*")) {
		if (!e.getClientRects().length) continue;
		if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
		const r = e.getBoundingClientRect();
		if (r.width <= 1 || r.height <= 1) continue;
		const s = getComputedStyle(e);
		if (s.overflowX === "auto" || s.overflowX === "scroll") continue;
		if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1) {
			out.push(describe(e) + ": " + e.scrollWidth + " px of content in " + e.clientWidth + " px");
			continue;
		}
		for (let a = e.parentElement; a && a !== document.documentElement; a = a.parentElement) {
			const o = getComputedStyle(a).overflowX;
			if (o === "auto" || o === "scroll") break;
			if (o !== "hidden" && o !== "clip") continue;
			const ar = a.getBoundingClientRect();
			if (ar.width > 1 && (r.right > ar.right + 1 || r.left < ar.left - 1)) {
				out.push(describe(e) + ": cut off by " + describe(a));
				break;
			}
		}
	}
	return out;
})()`

// linesJS counts the lines the text of each element matching a selector takes.
const linesJS = `((sel) => [...document.querySelectorAll(sel)].map(e => {
	const range = document.createRange(); range.selectNodeContents(e);
	const rects = [...range.getClientRects()].filter(r => r.width > 0).sort((a, b) => a.top - b.top);
	let lines = 0, bottom = -Infinity;
	for (const r of rects) { if (r.top >= bottom - 1) { lines++; bottom = r.bottom; } else bottom = Math.max(bottom, r.bottom); }
	return {text: e.innerText.trim().replace(/\s+/g, " "), lines};
}))`

// headersJS is, for each stacked table, the column headers as the page shows them (innerText
// applies text-transform).
const headersJS = `[...document.querySelectorAll("table.table-stack")].map(t => [...t.querySelectorAll("thead th")].map(th => th.innerText.trim()))`

// labelsJS is, for each stacked table, the label each cell shows in front of its value on a phone
// (its data-label, as the ::before's text-transform shows it), by column; "" for a cell without one.
const labelsJS = `[...document.querySelectorAll("table.table-stack")].map(t => {
	const cols = [];
	for (const tr of t.querySelectorAll("tbody tr")) [...tr.children].forEach((c, i) => {
		let l = c.getAttribute("data-label");
		if (l === null || getComputedStyle(c, "::before").content === "none") l = "";
		const tt = getComputedStyle(c, "::before").textTransform;
		if (tt === "uppercase") l = l.toLocaleUpperCase(document.documentElement.lang);
		if (tt === "lowercase") l = l.toLocaleLowerCase(document.documentElement.lang);
		if (cols[i] === undefined || cols[i] === "") cols[i] = l;
	});
	return cols;
})`

// navJS describes the navigation entries a phone cannot reach or hit: an entry must be at least
// 24 × 24 px (WCAG 2.2 target size) and either inside the viewport or inside a row that scrolls to it.
const navJS = `(() => {
	const out = [];
	for (const a of document.querySelectorAll("nav.nav a")) {
		const r = a.getBoundingClientRect();
		if (r.width < 24 || r.height < 24) out.push(a.innerText + ": " + Math.round(r.width) + "×" + Math.round(r.height) + " px");
		let scroller = null;
		for (let p = a.parentElement; p; p = p.parentElement) { const o = getComputedStyle(p).overflowX; if (o === "auto" || o === "scroll") { scroller = p; break; } }
		const inView = r.left >= 0 && r.right <= document.documentElement.clientWidth;
		if (!inView && !(scroller && scroller.scrollWidth > scroller.clientWidth)) out.push(a.innerText + ": outside the page, where nothing scrolls to it");
	}
	return out;
})()`

// dashboardLayout checks a dashboard page at both widths: no text is clipped, the tenant's name is
// shown whole at 360 px, every navigation entry can be reached and hit at 360 px, and the labels a
// phone shows in stacked tables are the column headers the desktop shows.
func dashboardLayout(t *testing.T, b *browsertest.Browser, where string) {
	t.Helper()
	b.Viewport(1280)
	headers := browsertest.Eval[[][]string](b, headersJS)
	for _, w := range widths {
		b.Viewport(w)
		for _, c := range browsertest.Eval[[]string](b, clippedJS) {
			t.Errorf("%s at %d px: clipped text: %s", where, w, c)
		}
		if w != 360 {
			continue
		}
		type brand struct {
			Text, Shown          string
			Left, Right, Clients float64
			Scroll, Client       int
		}
		if br := browsertest.Eval[*brand](b, `(() => { const e = document.querySelector(".topbar .brand-name"); if (!e) return null;
			const r = e.getBoundingClientRect();
			return {Text: e.textContent.trim(), Shown: e.innerText.trim(), Left: r.left, Right: r.right, Clients: document.documentElement.clientWidth,
				Scroll: e.scrollWidth, Client: e.clientWidth}; })()`); br != nil &&
			(br.Scroll > br.Client || br.Left < 0 || br.Right > br.Clients || br.Shown != br.Text) {
			t.Errorf("%s at %d px: the tenant name %q is not shown whole (%d px of text in %d px, %.0f–%.0f of %.0f px)",
				where, w, br.Text, br.Scroll, br.Client, br.Left, br.Right, br.Clients)
		}
		for _, n := range browsertest.Eval[[]string](b, navJS) {
			t.Errorf("%s at %d px: navigation entry %s", where, w, n)
		}
		labels := browsertest.Eval[[][]string](b, labelsJS)
		for i := range min(len(labels), len(headers)) {
			for j, l := range labels[i] {
				if l != "" && j < len(headers[i]) && l != headers[i][j] {
					t.Errorf("%s at %d px: table %d, column %d is labelled %q on a phone and headed %q on a desktop", where, w, i+1, j+1, l, headers[i][j])
				}
			}
		}
	}
	b.Viewport(browsertest.DefaultWidth)
}

// oneLine checks at 1280 px that the text of every element matching sel takes one line.
func oneLine(t *testing.T, b *browsertest.Browser, where, sel string) {
	t.Helper()
	type cell struct {
		Text  string
		Lines int
	}
	b.Viewport(1280)
	cells := browsertest.Eval[[]cell](b, linesJS+"("+jsString(sel)+")")
	if len(cells) == 0 {
		t.Errorf("%s: nothing matches %s", where, sel)
	}
	for _, c := range cells {
		if c.Lines != 1 {
			t.Errorf("%s at 1280 px: %q takes %d lines", where, c.Text, c.Lines)
		}
	}
	b.Viewport(browsertest.DefaultWidth)
}
