package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/internal/dnstest"
	"github.com/portico-billing/portico/internal/etcdtest"
)

func TestCustomDomainAPIAndServing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	z := dnstest.Start(t)
	h.gw.cfg.Domains.Resolver = domains.NewResolver(z.Addr)
	tn, keyA := h.tenant("dom-a")
	_, keyB := h.tenant("dom-b")
	api := func(key, method, path, body string) (int, map[string]any) {
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		r := h.do(method, "api."+base, path, b, "Authorization", "Bearer "+key)
		m := map[string]any{}
		json.Unmarshal(r.Body(), &m)
		return r.StatusCode(), m
	}
	st, d := api(keyA, "POST", "/v1/domains", `{"name":"Billing.Acme.Example"}`)
	if st != 201 || d["status"] != "pending" || d["name"] != "billing.acme.example" {
		t.Fatalf("add: %d %v", st, d)
	}
	dns := d["dns"].(map[string]any)
	txt := dns["txt"].(map[string]any)
	if dns["cname"].(map[string]any)["value"] != "dom-a."+base || txt["name"] != "_portico-challenge.billing.acme.example" {
		t.Fatalf("instructions: %v", dns)
	}
	if st, m := api(keyA, "POST", "/v1/domains", `{"name":"billing.acme.example"}`); st != 409 || m["detail"] != "you have already added this domain" {
		t.Fatalf("A adds its domain twice: %d %v", st, m)
	}
	// A pending claim blocks nobody: B claims the same name, with its own token.
	st, bd := api(keyB, "POST", "/v1/domains", `{"name":"billing.acme.example"}`)
	if st != 201 || bd["status"] != "pending" || bd["dns"].(map[string]any)["txt"].(map[string]any)["value"] == txt["value"] || bd["expiresAt"] == nil {
		t.Fatalf("B claims A's pending name: %d %v", st, bd)
	}
	if st, m := api(keyA, "POST", "/v1/domains", `{"name":"10.0.0.1"}`); st != 400 || !strings.Contains(m["detail"].(string), "IP") {
		t.Fatalf("IP as domain: %d %v", st, m)
	}
	// Names under the base domain are Portico's own.
	for _, name := range []string{base, "api." + base, "dashboard." + base, "dom-b." + base} {
		st, m := api(keyA, "POST", "/v1/domains", `{"name":"`+name+`"}`)
		if st != 400 || m["detail"] != `"`+name+`" is under Portico's own domain `+base {
			t.Fatalf("add %s: %d %v", name, st, m)
		}
	}
	// Pending: not served.
	if r := h.do("GET", "billing.acme.example", "/", nil); r.StatusCode() != 404 {
		t.Fatalf("pending domain served: %d", r.StatusCode())
	}
	st, v := api(keyA, "POST", "/v1/domains/billing.acme.example/verify", "")
	if st != 200 || v["status"] != "pending" || !strings.Contains(v["lastError"].(string), "TXT") {
		t.Fatalf("verify without DNS: %d %v", st, v)
	}
	z.Set(`_portico-challenge.billing.acme.example. 60 IN TXT "`+txt["value"].(string)+`"`,
		"billing.acme.example. 60 IN CNAME dom-a."+base+".", "dom-a."+base+". 60 IN A 127.0.0.1")
	if st, v := api(keyA, "POST", "/v1/domains/billing.acme.example/verify", ""); st != 200 || v["status"] != "active" {
		t.Fatalf("verify with DNS: %d %v", st, v)
	}
	etcdtest.Wait(t, "domain served", func() bool {
		_, ok := h.store.TenantByDomain("billing.acme.example")
		return ok
	})
	// Links are now issued on the custom domain, and the portal works there.
	_, res, _ := h.createSession(keyA, `{"accountId":"acc_7Hq2LmX9"}`)
	url := res["sessionUrl"].(string)
	if !strings.HasPrefix(url, "https://billing.acme.example/s/") {
		t.Fatalf("session URL %q not on the custom domain", url)
	}
	st2, cookie, _ := h.open(url)
	if st2 != 303 {
		t.Fatalf("open on custom domain: %d", st2)
	}
	page := h.do("GET", "BILLING.acme.example.", "/", nil, "Cookie", cookie)
	if page.StatusCode() != 200 || !strings.Contains(string(page.Body()), tn.Name) {
		t.Fatalf("page on custom domain: %d", page.StatusCode())
	}
	if st, m := api(keyA, "GET", "/v1/domains", ""); st != 200 || len(m["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, m)
	}
	// B's claim is told, and B's verification cannot take the name.
	if st, m := api(keyB, "GET", "/v1/domains/billing.acme.example", ""); st != 200 || m["status"] != "taken" || m["lastError"] != "another tenant verified this domain first" {
		t.Fatalf("B's claim after A verified: %d %v", st, m)
	}
	if st, m := api(keyB, "POST", "/v1/domains/billing.acme.example/verify", ""); st != 200 || m["status"] != "taken" {
		t.Fatalf("B verifies A's name: %d %v", st, m)
	}
	// Removing B's claim leaves A's.
	if st, _ := api(keyB, "DELETE", "/v1/domains/billing.acme.example", ""); st != 204 {
		t.Fatalf("B removes its claim: %d", st)
	}
	if tn2, ok := h.store.TenantByDomain("billing.acme.example"); !ok || tn2.ID != tn.ID {
		t.Fatal("B's removal touched A's domain")
	}
	if st, _ := api(keyA, "DELETE", "/v1/domains/billing.acme.example", ""); st != 204 {
		t.Fatalf("remove: %d", st)
	}
	etcdtest.Wait(t, "removed domain not served", func() bool {
		return h.do("GET", "billing.acme.example", "/", nil).StatusCode() == 404
	})
}
