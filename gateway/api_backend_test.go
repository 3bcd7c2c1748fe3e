package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portico-billing/portico/backend"
)

func TestAPIBackend(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	svc := h.withBackend(0, false)
	tn, keyA := h.tenant("acme")
	_, keyB := h.tenant("globex")
	api := "api." + base
	call := func(method, path, key, body string) (int, map[string]any, string) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := h.do(method, api, path, b, "Authorization", "Bearer "+key, "Content-Type", "application/json")
		out := map[string]any{}
		json.Unmarshal(r.Body(), &out)
		return r.StatusCode(), out, string(r.Body())
	}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"result":"succeeded"}`))
	}))
	t.Cleanup(rcv.Close)

	if st, res, raw := call("GET", "/v1/backend", keyA, ""); st != 404 || !strings.Contains(res["detail"].(string), "no backend is registered") {
		t.Fatalf("GET without a backend: %d %s", st, raw)
	}
	for _, c := range []struct {
		body   string
		status int
		detail string
	}{
		{`{"url":`, 400, ""},
		{`{"url":"https://x.example/","secret":"whsec_mine"}`, 400, "secret"},
		{`{}`, 400, "url is required"},
		{`{"url":42}`, 400, "url"},
		{`{"url":"ftp://x.example/"}`, 400, "scheme"},
		{`{"url":"http://x.example/"}`, 400, "https"},
		{`{"url":"https://10.0.0.7/hook"}`, 400, "blocked range"},
		{`{"url":"https://169.254.169.254/latest/meta-data"}`, 400, "blocked range"},
		{`{"url":"https://x.example/"}` + strings.Repeat(" ", MaxAPIBody), 413, "limit"},
	} {
		st, res, raw := call("PUT", "/v1/backend", keyA, c.body)
		d, _ := res["detail"].(string)
		if st != c.status || d == "" || !strings.Contains(d, c.detail) {
			t.Errorf("PUT %.60q: %d %s; want %d with a detail saying %q", c.body, st, raw, c.status, c.detail)
		}
	}
	if st, _, raw := call("PUT", "/v1/backend", "wrong", `{"url":"https://x.example/"}`); st != 401 {
		t.Fatalf("PUT with a wrong key: %d %s", st, raw)
	}

	st, res, raw := call("PUT", "/v1/backend", keyA, `{"url":"`+rcv.URL+`/portico"}`)
	secret, _ := res["secret"].(string)
	if st != 200 || res["url"] != rcv.URL+"/portico" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("PUT: %d %s", st, raw)
	}
	st, res, raw = call("GET", "/v1/backend", keyA, "")
	if st != 200 || res["url"] != rcv.URL+"/portico" || res["secret"] != nil || strings.Contains(raw, strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("GET: %d %s", st, raw)
	}
	if r, err := svc.Ping(t.Context(), tn.ID); err != nil || r.Result != backend.Succeeded {
		t.Fatalf("Ping through the registration: %+v, %v", r, err)
	}

	// Tenant B neither sees nor changes A's backend.
	if st, _, raw := call("GET", "/v1/backend", keyB, ""); st != 404 {
		t.Fatalf("B's GET: %d %s", st, raw)
	}
	if st, _, raw := call("POST", "/v1/backend/rotate-secret", keyB, ""); st != 404 {
		t.Fatalf("B's rotate: %d %s", st, raw)
	}
	if st, _, raw := call("DELETE", "/v1/backend", keyB, ""); st != 404 {
		t.Fatalf("B's DELETE: %d %s", st, raw)
	}
	if st, _, raw := call("PUT", "/v1/backend", keyB, `{"url":"https://globex.example/portico"}`); st != 200 {
		t.Fatalf("B's PUT: %d %s", st, raw)
	}
	if _, res, _ := call("GET", "/v1/backend", keyA, ""); res["url"] != rcv.URL+"/portico" {
		t.Fatalf("A's backend after B's PUT: %v", res)
	}

	st, res, raw = call("POST", "/v1/backend/rotate-secret", keyA, "")
	if fresh, _ := res["secret"].(string); st != 200 || !strings.HasPrefix(fresh, "whsec_") || fresh == secret {
		t.Fatalf("rotate: %d %s", st, raw)
	}
	if _, res, _ := call("GET", "/v1/backend", keyA, ""); res["previousSecretExpiresAt"] == nil {
		t.Fatalf("GET after rotate names no end of the old secret: %v", res)
	}
	if st, _, raw := call("DELETE", "/v1/backend", keyA, ""); st != 204 {
		t.Fatalf("DELETE: %d %s", st, raw)
	}
	if st, _, _ := call("GET", "/v1/backend", keyA, ""); st != 404 {
		t.Fatalf("GET after DELETE: %d", st)
	}
	if st, _, _ := call("GET", "/v1/backend", keyB, ""); st != 200 {
		t.Fatalf("B's backend went with A's: %d", st)
	}
}
