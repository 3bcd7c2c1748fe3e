package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
)

// TestSourceServer: signed GETs by id and by alias get the copy with that id and alias and an
// ETag, If-None-Match with it a 304, unknown accounts and POSTs a 404, an unsigned or wrongly
// signed request a 401; /metrics counts each answer.
func TestSourceServer(t *testing.T) {
	t.Parallel()
	tmpl, err := os.ReadFile("../../../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	secret, other := webhooks.NewSecret(), webhooks.NewSecret()
	s, err := newSource(tmpl, 3, "src", []string{secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	key, _ := webhooks.ParseSecret(secret)
	otherKey, _ := webhooks.ParseSecret(other)

	get := func(t *testing.T, method, path string, keys [][]byte, etag string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		if keys != nil {
			now := time.Now()
			req.Header.Set(webhooks.HeaderID, "breq_test")
			req.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
			req.Header.Set(webhooks.HeaderSignature, webhooks.SignatureHeader(keys, "breq_test", now, backend.SourceSigned(req.URL)))
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	signed := [][]byte{key}
	for _, tc := range []struct {
		name, method, path string
		keys               [][]byte
		status             int
		id, alias          string
	}{
		{"by id", "GET", "/accounts/src_000001", signed, 200, "src_000001", "crm-src-000001"},
		{"by alias", "GET", "/accounts?alias=crm-src-000002", signed, 200, "src_000002", "crm-src-000002"},
		{"rotation: one of two signatures", "GET", "/accounts/src_000000", [][]byte{otherKey, key}, 200, "src_000000", "crm-src-000000"},
		{"past the last account", "GET", "/accounts/src_000003", signed, 404, "", ""},
		{"another prefix", "GET", "/accounts/acc_000001", signed, 404, "", ""},
		{"unknown alias", "GET", "/accounts?alias=crm-001234", signed, 404, "", ""},
		{"an action", "POST", "/", signed, 404, "", ""},
		{"unsigned", "GET", "/accounts/src_000001", nil, 401, "", ""},
		{"another secret", "GET", "/accounts/src_000001", [][]byte{otherKey}, 401, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, tc.method, tc.path, tc.keys, "")
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			a, err := account.Decode(body)
			if err != nil {
				t.Fatal(err)
			}
			if a.ID != tc.id || a.Alias != tc.alias {
				t.Fatalf("id %q alias %q, want %q %q", a.ID, a.Alias, tc.id, tc.alias)
			}
			etag := resp.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if resp, body := get(t, "GET", tc.path, tc.keys, etag); resp.StatusCode != 304 || len(body) != 0 {
				t.Fatalf("If-None-Match %s: status %d, %d bytes; want 304 without a body", etag, resp.StatusCode, len(body))
			}
			if resp, _ := get(t, "GET", tc.path, tc.keys, `"v0"`); resp.StatusCode != 200 {
				t.Fatalf("If-None-Match with another ETag: status %d, want 200", resp.StatusCode)
			}
		})
	}
	_, m := get(t, "GET", "/metrics", nil, "")
	for _, want := range []string{`{status="200"} 6`, `{status="304"} 3`, `{status="404"} 4`, `{status="401"} 2`} {
		if !strings.Contains(string(m), "sourceserver_answers_total"+want) {
			t.Errorf("/metrics lacks %s:\n%s", want, m)
		}
	}
}

// TestSourceServerRefusesBadTemplates: a template without an alias or not a valid document.
func TestSourceServerRefusesBadTemplates(t *testing.T) {
	t.Parallel()
	tmpl, err := os.ReadFile("../../../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range map[string]string{
		"no alias": strings.Replace(string(tmpl), `"alias": "crm-001234",`, "", 1),
		"not JSON": "{",
	} {
		if _, err := newSource([]byte(doc), 1, "src", []string{webhooks.NewSecret()}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := newSource(tmpl, 1, "src", nil); err == nil {
		t.Error("no secret: no error")
	}
}
