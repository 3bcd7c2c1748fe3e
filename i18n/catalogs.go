package i18n

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
)

// Catalogs from outside the package.
//
// A portal section brings its own messages (plugins.Messenger): AddCatalog merges them into the
// catalogs of the supported languages, so that T, Printer.T and the templates' "t" find them like
// the package's own. Their keys must not collide with any other catalog's; by convention they start
// with the section's name. English is required, every other language optional: a language without
// a section's file shows that section's messages in English. CheckCatalogs holds every added
// catalog to the same rules as the package's own (TestCatalogsComplete): every English key in each
// language it provides, the same placeholders, the plural forms the language needs.

// added is a catalog merged by AddCatalog: its messages by supported language (nil where the
// source has no file).
type added struct {
	source string
	msgs   []map[string]msg
}

var (
	addedMu sync.Mutex
	addeds  []added
)

// ErrCatalog is wrapped by the errors of AddCatalog.
var ErrCatalog = errors.New("i18n: invalid catalog")

// AddCatalog merges source's catalog, fsys holding one file per language named as in the
// package's own locales ("en.json", "de.json", "fr.json", "es.json", "pt-BR.json", "ja.json"), of
// the same format. English is required; a key another catalog already has is refused. It is meant
// for init functions (plugins.Register calls it): messages must be added before any translation
// runs, for T reads the catalogs without a lock.
func AddCatalog(source string, fsys fs.FS) error {
	addedMu.Lock()
	defer addedMu.Unlock()
	a := added{source: source, msgs: make([]map[string]msg, len(Supported))}
	for i, tag := range Supported {
		data, err := fs.ReadFile(fsys, files[i])
		if errors.Is(err, fs.ErrNotExist) && i != 0 {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %s: reading %s: %w", ErrCatalog, source, files[i], err)
		}
		c, err := parseCatalog(tag, source+"/"+files[i], data)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCatalog, err)
		}
		for key := range c.msgs {
			if _, dup := catalogs[i].msgs[key]; dup {
				return fmt.Errorf("%w: %s: message %q is already in the catalogs", ErrCatalog, source, key)
			}
		}
		a.msgs[i] = c.msgs
	}
	for i, m := range a.msgs {
		for k, v := range m {
			catalogs[i].msgs[k] = v
		}
	}
	addeds = append(addeds, a)
	return nil
}

// CheckCatalogs checks every catalog AddCatalog merged as TestCatalogsComplete checks the
// package's own, for each language the catalog provides, and returns what is wrong.
func CheckCatalogs() []error {
	addedMu.Lock()
	defer addedMu.Unlock()
	var errs []error
	for _, a := range addeds {
		for i, m := range a.msgs {
			if m == nil {
				continue
			}
			for _, e := range checkComplete(a.source+"/"+files[i], Supported[i], a.msgs[0], m) {
				errs = append(errs, errors.New(e))
			}
		}
	}
	return errs
}

// checkComplete compares the messages of a language with English's: a message of English missing,
// one English does not have, placeholders that differ, a plural message lacking a form its language
// needs (or having one it never uses), unbalanced braces. It returns the problems found.
func checkComplete(name string, tag language.Tag, en, got map[string]msg) []string {
	var out []string
	errorf := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	need := formsOf(tag)
	for key, want := range en {
		got, ok := got[key]
		if !ok {
			errorf("%s: message %q is missing", name, key)
			continue
		}
		if (want.forms == nil) != (got.forms == nil) {
			errorf("%s: message %q: plural in one language and not in the other", name, key)
			continue
		}
		wantPH := sortedPlaceholders(want.texts()[""])
		if want.forms != nil {
			wantPH = sortedPlaceholders(want.forms[plural.Other])
		}
		for form, text := range got.texts() {
			if strings.TrimSpace(text) == "" {
				errorf("%s: message %q%s is empty", name, key, form)
			}
			if strings.Count(text, "{") != strings.Count(text, "}") {
				errorf("%s: message %q%s has unbalanced braces: %q", name, key, form, text)
			}
			if ph := sortedPlaceholders(text); !slices.Equal(ph, wantPH) {
				errorf("%s: message %q%s has placeholders %v, English has %v", name, key, form, ph, wantPH)
			}
		}
		if got.forms != nil {
			if _, ok := got.forms[plural.One]; ok == false && need[plural.One] {
				errorf("%s: plural message %q lacks the form \"one\"", name, key)
			}
			for f := range need {
				if _, ok := got.forms[f]; !ok {
					errorf("%s: plural message %q lacks the form %q", name, key, formName(f))
				}
			}
			for f := range got.forms {
				if !need[f] {
					errorf("%s: plural message %q has the form %q, which %s never uses", name, key, formName(f), tag)
				}
			}
			if !slices.Contains(Placeholders(got.forms[plural.Other]), "count") {
				errorf("%s: plural message %q does not show {count}", name, key)
			}
		}
	}
	for key := range got {
		if _, ok := en[key]; !ok {
			errorf("%s: message %q is not in English (stale or misspelt key)", name, key)
		}
	}
	return out
}

// formsOf returns the plural forms a language uses, by probing its CLDR rules.
func formsOf(tag language.Tag) map[plural.Form]bool {
	forms := map[plural.Form]bool{plural.Other: true}
	for n := int64(0); n <= 2000; n++ {
		forms[pluralForm(tag, n)] = true
	}
	for _, n := range []int64{1_000_000, 2_000_000, 1_000_000_000} {
		forms[pluralForm(tag, n)] = true
	}
	return forms
}

func sortedPlaceholders(s string) []string {
	p := Placeholders(s)
	slices.Sort(p)
	return p
}

// texts returns every text of a message: the plain text, or each plural form's.
func (m msg) texts() map[string]string {
	if m.forms == nil {
		return map[string]string{"": m.text}
	}
	out := map[string]string{}
	for f, s := range m.forms {
		out[formName(f)] = s
	}
	return out
}

func formName(f plural.Form) string {
	for n, v := range formNames {
		if v == f {
			return n
		}
	}
	return "?"
}
