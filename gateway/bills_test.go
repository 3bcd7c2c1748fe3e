package gateway

import (
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants/account"
)

// euros parses an English euro amount shown on a page ("€12,490.00", "-€100.00") into cents.
func euros(t *testing.T, s string) int64 {
	t.Helper()
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || !strings.Contains(s, "€") {
		t.Fatalf("%q is not an amount in euros", s)
	}
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		return -n
	}
	return n
}

func classOf(n *html.Node) string {
	for _, a := range n.Attr {
		if a.Key == "class" {
			return " " + a.Val + " "
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// lastCell is the text of the row's last td (its amount).
func lastCell(tr *html.Node) string {
	var last *html.Node
	for c := tr.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "td" {
			last = c
		}
	}
	if last == nil {
		return ""
	}
	return textOf(last)
}

// billRows reads the rows of a page's tables by class: amounts of rows of each class (item-row,
// adjust-row, total-row, line-row), the tfoot rows of the invoice by label, the estimated next
// charge facts and every arithmetic step.
type billRows struct {
	rows  map[string][]int64
	foot  map[string]int64 // invoice tfoot rows without a class, by label
	facts []int64
	steps []string
	// changes are the items of what changed since the last invoice.
	changes []string
}

func readBill(t *testing.T, page string) billRows {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	b := billRows{rows: map[string][]int64{}, foot: map[string]int64{}}
	var walk func(n *html.Node, inFoot bool)
	walk = func(n *html.Node, inFoot bool) {
		if n.Type == html.ElementNode {
			c := classOf(n)
			switch {
			case n.Data == "tfoot":
				inFoot = true
			case n.Data == "tr":
				for _, k := range []string{"item-row", "adjust-row", "total-row", "line-row", "invoice-total", "invoice-due"} {
					if strings.Contains(c, " "+k+" ") {
						b.rows[k] = append(b.rows[k], euros(t, lastCell(n)))
						return
					}
				}
				if inFoot && !strings.Contains(c, "arith-row") {
					for th := n.FirstChild; th != nil; th = th.NextSibling {
						if th.Type == html.ElementNode && th.Data == "th" {
							b.foot[textOf(th)] = euros(t, lastCell(n))
						}
					}
				}
			case n.Data == "section" && strings.Contains(c, " section ") && !strings.Contains(c, " section-plan_overview ") && !strings.Contains(c, " invoice-doc "):
				return // another section (Usage shows a wallet's balance as a fact)
			case n.Data == "dd" && strings.Contains(c, " fact-amount "):
				b.facts = append(b.facts, euros(t, textOf(n)))
			case n.Data == "li" && n.Parent != nil && strings.Contains(classOf(n.Parent), " arith-steps "):
				b.steps = append(b.steps, textOf(n))
			case n.Data == "li" && n.Parent != nil && strings.Contains(classOf(n.Parent), " changes-list "):
				b.changes = append(b.changes, textOf(n))
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch, inFoot)
		}
	}
	walk(doc, false)
	return b
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

// TestBillsAddUpOnPages parses the portal's overview and invoice page as served and checks that
// the numbers shown add up: the breakdown's rows to the estimated next charge (which is the sum
// done by hand), each invoice's lines less its discounts to the subtotal, plus tax to the total.
func TestBillsAddUpOnPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tests := []struct {
		name     string
		change   func(a *account.Account)
		estimate int64 // by hand
		invoice  string
		subtotal int64 // by hand
		steps    []string
		changes  []string // on the overview and the invoice page
	}{
		{"demo", nil, 500000 + 42*12000 + 240000 + 15000 - 10000, "inv_2026_0006", 50000,
			[]string{"800,000 calls in tier 2 × €0.003 = €2,400.00", "2% of €5,000.00 = -€100.00", "2 × €120.00 = €240.00",
				"18 of 30 days × €240.00 = €144.00", "Discount: -€144.00", "100% of €144.00 = -€144.00"},
			[]string{"Platform fee: new, €500.00", "-€856.00: Seats from 10 to 2 since Oct 1, 2026"}},
		{"estimate not itemized", func(a *account.Account) { a.Subscriptions[0].EstimatedNextCharge = ptr(int64(1244000)) }, 1244000, "inv_2026_0007", 100000,
			[]string{"Tenant BILLS-1 estimates your next charge at €12,440.00; the items and discounts above come to €12,490.00. The difference is charges or credits not listed here."},
			[]string{"Seats: new, €1,000.00", "Platform fee: no longer billed (€500.00 before)"}},
		{"computed, with an amount off", func(a *account.Account) {
			s := &a.Subscriptions[0]
			s.EstimatedNextCharge = nil
			s.Discounts = append(s.Discounts, account.Discount{ID: "credit", Description: "Goodwill credit", AmountOff: ptr(int64(2500)), Start: "2026-12-01"})
			inv := a.Invoice("inv_2026_0007")
			inv.Lines = []account.Line{
				{Description: "Seats", Product: "Seats", Quantity: 10, UnitAmount: 10000, Amount: 100000},
				{Description: "Seats added on 16 Oct", Product: "Seats", Quantity: 3, UnitAmount: 10000, Amount: 15484,
					Period: &account.Period{Start: "2026-10-16", End: "2026-10-31"}, Proration: &account.Proration{Days: 16, PeriodDays: 31}},
				{Description: "API calls", Product: "API calls", Quantity: 800000, UnitAmountDecimal: "0.3", Amount: 240000, Discount: 24000},
			}
			inv.Discounts = []account.Discount{{ID: "d1", Description: "API launch", PercentOff: "10", AppliesTo: "API calls", Start: "2026-10-01"},
				{ID: "d2", Description: "Loyalty", AmountOff: ptr(int64(5484)), Start: "2026-10-01"}}
			inv.Discount = 5484
			inv.Subtotal = 100000 + 15484 + 240000 - 24000 - 5484
			inv.Tax = 326000 * 19 / 100
			inv.Total = inv.Subtotal + inv.Tax
			inv.SubscriptionID = s.ID
		}, 500000 + 42*12000 + 240000 + 15000 - 10000 - 2500, "inv_2026_0007", 326000,
			[]string{"3 × €100.00 = €300.00", "16 of 31 days × €300.00 = €154.84", "800,000 × €0.003 = €2,400.00", "Discount: -€240.00",
				"10% of €2,400.00 = -€240.00", "Amount off: -€54.84", "Amount off: -€25.00"},
			// The next charge against the invoice of its subscription, by product; the invoice
			// is the subscription's only one, so the page compares it with none.
			[]string{"+€3,885.16: Seats from 13 to 42 since Oct 1, 2026", "€0.00: API calls from 800,000 calls to 1,800,000 calls since Oct 1, 2026", "Platform fee: new, €5,000.00", "Onboarding: new, €150.00"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			slug := "bills-" + strconv.Itoa(i)
			_, key := h.tenant(slug)
			if r := h.do("PUT", "api."+base, "/v1/accounts/acc_7Hq2LmX9", []byte(exampleDoc(t, tt.change)), "Authorization", "Bearer "+key); r.StatusCode() != 200 {
				t.Fatalf("PUT: %d %s", r.StatusCode(), r.Body())
			}
			cookie := h.customerOf(key, `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
			get := func(path string) string {
				r := h.do("GET", slug+"."+base, path, nil, "Cookie", cookie)
				if r.StatusCode() != 200 {
					t.Fatalf("GET %s: %d", path, r.StatusCode())
				}
				return string(r.Body())
			}
			var over billRows
			etcdtest.Wait(t, "the overview of the document put", func() bool {
				over = readBill(t, get("/"))
				return len(over.facts) == 1 && over.facts[0] == tt.estimate
			})
			items, adjust, total := over.rows["item-row"], over.rows["adjust-row"], over.rows["total-row"]
			if len(total) != 1 || sum(items)+sum(adjust) != total[0] || total[0] != tt.estimate {
				t.Errorf("overview: items %v and %v add up to %d; total row %v, estimate by hand %d", items, adjust, sum(items)+sum(adjust), total, tt.estimate)
			}

			inv := readBill(t, get("/invoices/"+tt.invoice))
			lines, discounts := inv.rows["line-row"], inv.rows["adjust-row"]
			sub, tax := inv.foot["Subtotal"], inv.foot["Tax (19%)"]
			if sum(lines)+sum(discounts) != sub || sub != tt.subtotal {
				t.Errorf("invoice: lines %v less discounts %v are %d; subtotal shown %d, by hand %d", lines, discounts, sum(lines)+sum(discounts), sub, tt.subtotal)
			}
			if tot := inv.rows["invoice-total"]; len(tot) != 1 || sub+tax != tot[0] {
				t.Errorf("invoice: subtotal %d + tax %d, total shown %v", sub, tax, tot)
			}
			changes := strings.Join(append(over.changes, inv.changes...), "\n")
			for _, c := range tt.changes {
				if !strings.Contains(changes, c) {
					t.Errorf("no change %q in:\n%s", c, changes)
				}
			}
			all := strings.Join(append(over.steps, inv.steps...), "\n")
			for _, s := range tt.steps {
				if !strings.Contains(all, s) {
					t.Errorf("no step %q in:\n%s", s, all)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestCreditNotePagesAndPDF: the demo's credit note is listed under its invoice, has its own page
// and PDF, and is found only by its own account's session: another account's credit note, one of
// a draft invoice, and another tenant's are not found (404) or need a session of their own (401).
func TestCreditNotePagesAndPDF(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ps := h.customer("credit", `{"accountId":"acc_7Hq2LmX9","locale":"en"}`)
	list := ps.get("/")
	for _, want := range []string{"GLX-CN-2026-0001", "Credit note for GLX-2026-0007", "-€103.23", `href="/credit-notes/cn_2026_0001"`, `href="/credit-notes/cn_2026_0001.pdf"`} {
		if !strings.Contains(list, want) {
			t.Errorf("invoice list lacks %q", want)
		}
	}
	page := ps.get("/credit-notes/cn_2026_0001")
	b := readBill(t, page)
	for _, want := range []string{"<title>Credit note GLX-CN-2026-0001", "Credits invoice", `href="/invoices/inv_2026_0007"`, "Two seats removed on 16 Oct",
		"Total credited", `href="/credit-notes/cn_2026_0001.pdf"`} {
		if !strings.Contains(page, want) {
			t.Errorf("credit note page lacks %q", want)
		}
	}
	if lines, total := b.rows["line-row"], b.rows["invoice-total"]; len(total) != 1 || sum(lines) != total[0] || total[0] != 10323 {
		t.Errorf("credit note lines %v, total %v; want 10323 (2 × €100.00 × 16 ÷ 31 days)", lines, total)
	}
	if !strings.Contains(strings.Join(b.steps, "\n"), "16 of 31 days × €200.00 = €103.23") {
		t.Errorf("credit note arithmetic: %q", b.steps)
	}
	r := h.do("GET", ps.host, "/credit-notes/cn_2026_0001.pdf", nil, "Cookie", ps.cookie)
	if r.StatusCode() != 200 || string(r.Header.ContentType()) != "application/pdf" || !strings.HasPrefix(string(r.Body()), "%PDF-") ||
		string(r.Header.Peek("Content-Disposition")) != `attachment; filename="GLX-CN-2026-0001.pdf"` {
		t.Fatalf("PDF: %d %q %q", r.StatusCode(), r.Header.ContentType(), r.Header.Peek("Content-Disposition"))
	}

	// Another account of the same tenant with a credit note of its own, and one of a draft.
	other := exampleDoc(t, func(a *account.Account) {
		a.ID, a.Alias = "acc_other", "crm-other"
		a.CreditNotes = []account.CreditNote{
			{ID: "cn_other", InvoiceID: "inv_2026_0005", IssueDate: "2026-09-20", Total: 100},
			{ID: "cn_draft", InvoiceID: "inv_2026_0008", IssueDate: "2026-12-02", Total: 100},
		}
	})
	h.putAccountAs(ps.key, "acc_other", other, 201)
	otherCookie := h.customerOf(ps.key, `{"accountId":"acc_other","locale":"en"}`)
	for _, c := range []struct {
		cookie, path string
		want         int
	}{
		{ps.cookie, "/credit-notes/cn_other", 404},
		{ps.cookie, "/credit-notes/cn_other.pdf", 404},
		{otherCookie, "/credit-notes/cn_2026_0001.pdf", 404},
		{otherCookie, "/credit-notes/cn_draft.pdf", 404},
		{otherCookie, "/credit-notes/cn_nope", 404},
		{otherCookie, "/credit-notes/..%2Fcn_other.pdf", 404},
		{otherCookie, "/credit-notes/cn_other.pdf", 200},
		{"", "/credit-notes/cn_2026_0001.pdf", 401},
	} {
		headers := []string{}
		if c.cookie != "" {
			headers = []string{"Cookie", c.cookie}
		}
		if r := h.do("GET", ps.host, c.path, nil, headers...); r.StatusCode() != c.want {
			t.Errorf("GET %s: %d, want %d", c.path, r.StatusCode(), c.want)
		}
	}
	// Another tenant's session is refused on this host.
	foreign := h.customer("credit-other", `{"accountId":"acc_7Hq2LmX9"}`)
	if r := h.do("GET", ps.host, "/credit-notes/cn_2026_0001.pdf", nil, "Cookie", foreign.cookie); r.StatusCode() != 401 {
		t.Errorf("another tenant's cookie: %d", r.StatusCode())
	}
}
