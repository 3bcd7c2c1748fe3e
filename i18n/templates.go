package i18n

import (
	"fmt"
	"html/template"
	"io"
	"sync"
	"text/template/parse"
)

// Funcs returns the template functions of translated templates, to give to Funcs before Parse:
//
//	t  the message of a key with name/value arguments: {{t "layout.backTo" "tenant" .TenantName}}
//
// At parse time "t" is bound to English; Templates rebinds it to the language of each render.
func Funcs() template.FuncMap {
	return template.FuncMap{"t": printers[0].T}
}

// Templates executes an html/template in every supported language: each language gets its own
// clone of the parsed template with "t" bound to that language's Printer, made on first use. The
// template given to NewTemplates must have been parsed with Funcs and must not be executed
// itself (html/template cannot clone an executed template).
//
// A message without arguments, {{t "plan.title"}}, is looked up once when the clone is made and
// becomes template text (HTML-escaped), so a translated page costs no more to render than one
// with the text written into the template. Such actions must therefore stand in HTML text or in a
// quoted attribute value, where HTML escaping is the right escaping — not in a URL, script or
// style context. Messages with arguments are calls of "t" at execution, escaped by html/template
// for their context as any value.
type Templates struct {
	base  *template.Template
	langs []templateLang
}

type templateLang struct {
	once sync.Once
	t    *template.Template
	err  error
}

// NewTemplates wraps a parsed, never executed template.
func NewTemplates(base *template.Template) *Templates {
	return &Templates{base: base, langs: make([]templateLang, len(Supported))}
}

// For returns the template bound to p's language.
func (ts *Templates) For(p *Printer) (*template.Template, error) {
	l := &ts.langs[p.idx]
	l.once.Do(func() {
		c, err := ts.base.Clone()
		if err != nil {
			l.err = fmt.Errorf("i18n: cloning template %q: %w", ts.base.Name(), err)
			return
		}
		c = c.Funcs(template.FuncMap{"t": p.T})
		for _, x := range c.Templates() {
			if x.Tree != nil && x.Tree.Root != nil {
				inline(x.Tree.Root, p)
			}
		}
		l.t = c
	})
	return l.t, l.err
}

// inline replaces each {{t "key"}} action under n by the message's text, HTML-escaped.
func inline(n parse.Node, p *Printer) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for i, c := range n.Nodes {
			if key, ok := constantMessage(c); ok {
				n.Nodes[i] = &parse.TextNode{NodeType: parse.NodeText, Pos: c.Position(), Text: []byte(template.HTMLEscapeString(p.T(key)))}
				continue
			}
			inline(c, p)
		}
	case *parse.IfNode:
		inline(n.List, p)
		inline(n.ElseList, p)
	case *parse.RangeNode:
		inline(n.List, p)
		inline(n.ElseList, p)
	case *parse.WithNode:
		inline(n.List, p)
		inline(n.ElseList, p)
	}
}

// constantMessage reports whether n is exactly {{t "key"}} and returns the key.
func constantMessage(n parse.Node) (string, bool) {
	a, ok := n.(*parse.ActionNode)
	if !ok || a.Pipe == nil || len(a.Pipe.Decl) > 0 || len(a.Pipe.Cmds) != 1 {
		return "", false
	}
	args := a.Pipe.Cmds[0].Args
	if len(args) != 2 {
		return "", false
	}
	if id, ok := args[0].(*parse.IdentifierNode); !ok || id.Ident != "t" {
		return "", false
	}
	key, ok := args[1].(*parse.StringNode)
	if !ok {
		return "", false
	}
	return key.Text, true
}

// Execute applies the template (name "" is the template itself, otherwise one it defines) in p's
// language to data.
func (ts *Templates) Execute(w io.Writer, p *Printer, name string, data any) error {
	t, err := ts.For(p)
	if err != nil {
		return err
	}
	if name == "" {
		return t.Execute(w, data)
	}
	return t.ExecuteTemplate(w, name, data)
}
