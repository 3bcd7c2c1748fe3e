// Package sectiontest holds what the tests of the section plugins share: the example account
// document, a hostile account for escaping tests and a structural check of a rendered section.
// It is imported by tests only.
package sectiontest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// Example returns a fresh copy of the example document in tenants/account/testdata/account.json.
func Example(t testing.TB) *account.Account {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "tenants", "account", "testdata", "account.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("sectiontest: %v", err)
	}
	a, err := account.Decode(data)
	if err != nil {
		t.Fatalf("sectiontest: example document: %v", err)
	}
	return a
}

// Payloads are strings that would run script if a section put them into its HTML unescaped.
var Payloads = []string{
	`<script>alert(1)</script>`,
	`"><img src=x onerror=alert(1)>`,
	`'><svg onload=alert(1)>`,
	plugins.CSRFPlaceholder,
}

// Hostile returns the example account with payload in every free-text field a section shows.
func Hostile(t testing.TB, payload string) *account.Account {
	t.Helper()
	a := Example(t)
	a.Name = payload
	a.Email = payload
	a.Company.LegalName = payload
	a.Company.TaxID = payload
	a.Company.Address.Line1 = payload
	a.Company.Address.Line2 = payload
	a.Company.Address.City = payload
	a.Company.Address.PostalCode = payload
	a.Company.Address.Region = payload
	a.Company.Address.Country = payload
	for i := range a.PaymentMethods {
		a.PaymentMethods[i].Brand = payload
		a.PaymentMethods[i].BankName = payload
		a.PaymentMethods[i].Last4 = payload
		a.PaymentMethods[i].ID = payload
	}
	a.AutoPay.PaymentMethodID = payload
	for i := range a.Subscriptions {
		s := &a.Subscriptions[i]
		s.ID = payload
		s.Name = payload
		for j := range s.Items {
			s.Items[j].Product = payload
			s.Items[j].Unit = payload
		}
	}
	for i := range a.Invoices {
		a.Invoices[i].ID = payload
		a.Invoices[i].Number = payload
		a.Invoices[i].Currency = payload
	}
	a.Currency = payload
	return a
}

// CheckEscaped fails the test if out contains markup that only the payload can have produced.
// (Event handler attributes are caught by CheckMarkup, which parses the output.)
func CheckEscaped(t testing.TB, out string) {
	t.Helper()
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "<img", "<svg"} {
		if strings.Contains(lower, bad) {
			t.Errorf("output contains %q:\n%s", bad, out)
		}
	}
	if n := strings.Count(out, plugins.CSRFPlaceholder); n != strings.Count(out, string(plugins.CSRFInput)) {
		t.Errorf("CSRF placeholder appears outside a CSRF input:\n%s", out)
	}
}

// CheckMarkup parses a rendered section and checks its structure: one <section> element with the
// classes the stylesheet uses, an aria-labelledby that names its h2, unique ids, th elements with a
// scope, forms that post with a CSRF input, and no inline script or style.
func CheckMarkup(t testing.TB, name, out string) {
	t.Helper()
	nodes, err := html.ParseFragment(strings.NewReader(out), &html.Node{Type: html.ElementNode, Data: "main", DataAtom: atom.Main})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var sections []*html.Node
	for _, n := range nodes {
		switch {
		case n.Type == html.ElementNode && n.Data == "section":
			sections = append(sections, n)
		case n.Type == html.TextNode && strings.TrimSpace(n.Data) == "":
		default:
			t.Errorf("top-level node outside the section: %v %q", n.Type, n.Data)
		}
	}
	if len(sections) != 1 {
		t.Fatalf("got %d top-level sections, want 1:\n%s", len(sections), out)
	}
	sec := sections[0]
	if c := attr(sec, "class"); c != "card section section-"+name {
		t.Errorf("section class = %q", c)
	}
	ids := map[string]bool{}
	var h2 *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if id := attr(n, "id"); id != "" {
				if ids[id] {
					t.Errorf("duplicate id %q", id)
				}
				ids[id] = true
			}
			switch n.Data {
			case "h2":
				if h2 != nil {
					t.Errorf("more than one h2")
				}
				h2 = n
			case "th":
				if s := attr(n, "scope"); s != "col" && s != "row" {
					t.Errorf("th without scope: %q", text(n))
				}
			case "form":
				if attr(n, "method") != "post" {
					t.Errorf("form without method=post")
				}
				var b bytes.Buffer
				_ = html.Render(&b, n)
				if !strings.Contains(b.String(), `name="`+plugins.CSRFFieldName+`"`) {
					t.Errorf("form without CSRF input: %s", b.String())
				}
			case "script", "style":
				t.Errorf("section contains <%s>", n.Data)
			}
			for _, a := range n.Attr {
				if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("inline %s attribute on <%s>", a.Key, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sec)
	if h2 == nil {
		t.Fatalf("no h2")
	}
	if attr(h2, "class") != "card-title" {
		t.Errorf("h2 class = %q", attr(h2, "class"))
	}
	if l := attr(sec, "aria-labelledby"); l == "" || l != attr(h2, "id") {
		t.Errorf("aria-labelledby = %q, h2 id = %q", l, attr(h2, "id"))
	}
	for _, n := range all(sec) {
		for _, key := range []string{"aria-labelledby", "aria-describedby"} {
			if ref := attr(n, key); ref != "" && !ids[ref] {
				t.Errorf("%s=%q names no element", key, ref)
			}
		}
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text returns the text a screen reader would read in n: its text nodes outside aria-hidden
// elements, separated by spaces.
func text(n *html.Node) string {
	var parts []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			parts = append(parts, n.Data)
		case n.Type == html.ElementNode && attr(n, "aria-hidden") == "true":
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(parts, " ")
}

func all(n *html.Node) []*html.Node {
	list := []*html.Node{n}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		list = append(list, all(c)...)
	}
	return list
}

// Text returns the text of rendered HTML as a screen reader reads it (aria-hidden parts left out),
// each text node separated from the next and runs of white space, no-break spaces included,
// collapsed to one space: assertions on it do not depend on markup or indentation.
func Text(t testing.TB, out string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(out))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return strings.Join(strings.Fields(text(doc)), " ")
}

// Flow returns the registered flow of the name.
func Flow(t testing.TB, name string) plugins.Flow {
	t.Helper()
	f, ok := plugins.LookupFlow(name)
	if !ok {
		t.Fatalf("sectiontest: flow %q is not registered (flows: %q)", name, plugins.FlowNames())
	}
	return f
}

// FlowRequest is a session request for a flow's Check: the tenant, every registered switch off
// but on, the params and the account a (nil: loading it fails with tenants.ErrAccountNotFound);
// the tenant has no catalog (set the request's Catalog for one).
func FlowRequest(tn *tenants.Tenant, a *account.Account, params map[string]string, on ...*plugins.Switch) *plugins.FlowRequest {
	settings := map[string]bool{}
	for _, o := range plugins.Objects() {
		for _, sw := range o.Switches {
			settings[sw.Key()] = false
		}
	}
	for _, sw := range on {
		settings[sw.Key()] = true
	}
	return &plugins.FlowRequest{Tenant: tn, Settings: settings, Params: params,
		Account: func(ctx context.Context) (*account.Account, error) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if a == nil {
				return nil, tenants.ErrAccountNotFound
			}
			return a, nil
		},
		Catalog: func(ctx context.Context) (*tenants.CatalogSnapshot, error) {
			return &tenants.CatalogSnapshot{TenantID: tn.ID}, ctx.Err()
		}}
}

// CheckFlow runs f's Check on r and checks the outcome: the stored argument want, or, when
// refusal is not "", a refusal (a FlowError wrapping ErrBadFlow) whose detail is refusal, and no
// argument.
func CheckFlow(t testing.TB, f plugins.Flow, r *plugins.FlowRequest, want, refusal string) {
	t.Helper()
	arg, err := f.Check(context.Background(), r)
	if refusal != "" {
		var fe *plugins.FlowError
		if !errors.Is(err, plugins.ErrBadFlow) || !errors.As(err, &fe) || fe.Detail != refusal || arg != "" {
			t.Errorf("%s: Check = %q, %v; want the refusal %q", f.Name, arg, err, refusal)
		}
		return
	}
	if err != nil || arg != want {
		t.Errorf("%s: Check = %q, %v; want %q", f.Name, arg, err, want)
	}
}
