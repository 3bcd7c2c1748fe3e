// Command sourceserver is the tenant backend of the benchmark's source-mode rows: a billing system
// in miniature that answers the source half of the tenant backend protocol for N accounts,
//
//	GET /accounts/<id>             the document of account <prefix>_<nnnnnn>
//	GET /accounts?alias=<alias>    the document whose alias is crm-<prefix>-<nnnnnn>
//
// each a copy of one account document (tenants/account/testdata/account.json) with its id and
// alias changed, with a strong ETag; If-None-Match with that ETag gets 304 and no body. Like a real
// backend it verifies every request's Standard Webhooks signature (webhooks.Verify over
// backend.SourceSigned: "GET " and the request's path and query, with the secrets PUT /v1/backend
// returned) and answers 401 otherwise; an unknown account
// is a 404, and the protocol's POSTs (actions) get 404 too: the benchmark only reads. GET /metrics
// (unsigned) counts the answers by status, for the load generator to check how many fetches a
// row caused.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	docFile := flag.String("account", "tenants/account/testdata/account.json", "account document every account is a copy of")
	n := flag.Int("n", 1000, "accounts")
	prefix := flag.String("prefix", "src", "account id prefix: ids <prefix>_<nnnnnn>, aliases crm-<prefix>-<nnnnnn>")
	secretFile := flag.String("secret-file", "", "file of the backend's signing secrets (whsec_…), whitespace-separated")
	aliasesOut := flag.String("aliases", "", "write the accounts' aliases here, one per line")
	flag.Parse()
	doc, err := os.ReadFile(*docFile)
	if err != nil {
		log.Fatal(err)
	}
	sb, err := os.ReadFile(*secretFile)
	if err != nil {
		log.Fatal(err)
	}
	s, err := newSource(doc, *n, *prefix, strings.Fields(string(sb)))
	if err != nil {
		log.Fatal(err)
	}
	if *aliasesOut != "" {
		var b strings.Builder
		for i := range *n {
			b.WriteString(s.alias(i))
			b.WriteByte('\n')
		}
		if err := os.WriteFile(*aliasesOut, []byte(b.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "sourceserver ready on %s: %d accounts\n", ln.Addr(), *n)
	log.Fatal(srv.Serve(ln))
}

// source answers GET /accounts/… for n copies of one document.
type source struct {
	secrets []string
	prefix  string
	docs    [][]byte // by account number
	etags   []string
	now     func() time.Time
	// answers by status, for GET /metrics.
	ok, notModified, notFound, refused atomic.Uint64
}

// errTemplate is a document sourceserver cannot make copies of.
var errTemplate = errors.New("sourceserver: the template document")

// newSource makes the n documents: the template's "id" and "alias" values replaced (the first
// occurrence of each, byte for byte, so the copies keep the template's field order), each copy
// checked with account.Decode as Portico will.
func newSource(tmpl []byte, n int, prefix string, secrets []string) (*source, error) {
	if len(secrets) == 0 {
		return nil, errors.New("sourceserver: no signing secret")
	}
	t, err := account.Decode(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTemplate, err)
	}
	if t.Alias == "" {
		return nil, fmt.Errorf("%w has no alias", errTemplate)
	}
	idField, aliasField := []byte(strconv.Quote(t.ID)), []byte(strconv.Quote(t.Alias))
	if !bytes.Contains(tmpl, idField) || !bytes.Contains(tmpl, aliasField) {
		return nil, fmt.Errorf("%w: its id and alias are not plain JSON strings", errTemplate)
	}
	s := &source{secrets: secrets, prefix: prefix, docs: make([][]byte, n), etags: make([]string, n), now: time.Now}
	for i := range n {
		d := bytes.Replace(tmpl, idField, []byte(strconv.Quote(s.id(i))), 1)
		d = bytes.Replace(d, aliasField, []byte(strconv.Quote(s.alias(i))), 1)
		a, err := account.Decode(d)
		if err != nil {
			return nil, fmt.Errorf("%w: copy %d: %w", errTemplate, i, err)
		}
		if a.ID != s.id(i) || a.Alias != s.alias(i) {
			return nil, fmt.Errorf("%w: copy %d has id %q and alias %q", errTemplate, i, a.ID, a.Alias)
		}
		s.docs[i], s.etags[i] = d, fmt.Sprintf(`"v1-%s"`, s.id(i))
	}
	return s, nil
}

func (s *source) id(i int) string    { return fmt.Sprintf("%s_%06d", s.prefix, i) }
func (s *source) alias(i int) string { return fmt.Sprintf("crm-%s-%06d", s.prefix, i) }

// number returns the account number of an id or alias (parse its digits after the fixed part).
func (s *source) number(v, head string) (int, bool) {
	digits, ok := strings.CutPrefix(v, head)
	if !ok || len(digits) != 6 {
		return 0, false
	}
	i, err := strconv.Atoi(digits)
	if err != nil || i < 0 || i >= len(s.docs) {
		return 0, false
	}
	return i, true
}

func (s *source) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/metrics" {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		for _, c := range []struct {
			status string
			n      *atomic.Uint64
		}{{"200", &s.ok}, {"304", &s.notModified}, {"404", &s.notFound}, {"401", &s.refused}} {
			fmt.Fprintf(w, "sourceserver_answers_total{status=%q} %d\n", c.status, c.n.Load())
		}
		return
	}
	if err := webhooks.Verify(s.secrets, r.Header, backend.SourceSigned(r.URL), s.now()); err != nil {
		s.refused.Add(1)
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	i, ok := -1, false
	switch {
	case r.Method != http.MethodGet:
	case r.URL.Path == "/accounts" && r.URL.Query().Has("alias"):
		i, ok = s.number(r.URL.Query().Get("alias"), "crm-"+s.prefix+"-")
	case strings.HasPrefix(r.URL.Path, "/accounts/"):
		i, ok = s.number(strings.TrimPrefix(r.URL.Path, "/accounts/"), s.prefix+"_")
	}
	if !ok {
		s.notFound.Add(1)
		http.NotFound(w, r)
		return
	}
	w.Header().Set("ETag", s.etags[i])
	if r.Header.Get("If-None-Match") == s.etags[i] {
		s.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.ok.Add(1)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(s.docs[i])))
	w.Write(s.docs[i])
}
