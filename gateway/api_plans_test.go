package gateway

import (
	"encoding/json"
	"strings"
	"testing"
)

const teamPlan = `{"name":"Team","currency":"EUR","interval":"month","family":"team","features":["5 projects"],
 "items":[{"product":"Team","pricingModel":"flat","quantity":1,"unitAmount":4900},
          {"product":"Seats","pricingModel":"per_unit","quantity":3,"unitAmount":1000,"minQuantity":1,"maxQuantity":20}]}`

type planList struct {
	Data []struct {
		ID       string `json:"id"`
		Archived *bool  `json:"archived"`
	} `json:"data"`
}

func (h *harness) planIDs(key string) string {
	h.t.Helper()
	r := h.do("GET", "api."+base, "/v1/plans", nil, "Authorization", "Bearer "+key)
	var l planList
	if r.StatusCode() != 200 || json.Unmarshal(r.Body(), &l) != nil {
		h.t.Fatalf("GET /v1/plans: %d %s", r.StatusCode(), r.Body())
	}
	var ids []string
	for _, p := range l.Data {
		if p.Archived == nil {
			h.t.Fatalf("plan %s without the archived flag: %s", p.ID, r.Body())
		}
		if *p.Archived {
			p.ID += "(archived)"
		}
		ids = append(ids, p.ID)
	}
	return strings.Join(ids, " ")
}

// TestPlansAPI: plans are created, listed by family then id with their archived flag, read
// with their revision, replaced under If-Match, archived by DELETE and kept; the policy is read
// and replaced; tenant B neither sees nor changes tenant A's catalog.
func TestPlansAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("plansa")
	_, keyB := h.tenant("plansb")
	auth := []string{"Authorization", "Bearer " + key}
	authB := []string{"Authorization", "Bearer " + keyB}
	api := "api." + base

	if got := h.planIDs(key); got != "" {
		t.Fatalf("a new tenant lists plans %q", got)
	}
	r := h.do("PUT", api, "/v1/plans/team-monthly", []byte(teamPlan), auth...)
	etag := string(r.Header.Peek("ETag"))
	if r.StatusCode() != 201 || etag == "" || !strings.Contains(string(r.Body()), `"id":"team-monthly"`) || !strings.Contains(string(r.Body()), `"archived":false`) {
		t.Fatalf("PUT new plan: %d etag=%q %s", r.StatusCode(), etag, r.Body())
	}
	for _, p := range []struct{ id, family string }{{"starter", ""}, {"business", "biz"}, {"team-yearly", "team"}} {
		body := strings.Replace(teamPlan, `"family":"team"`, `"family":"`+p.family+`"`, 1)
		if p.family == "" {
			body = strings.Replace(teamPlan, `"family":"team",`, ``, 1)
		}
		if r := h.do("PUT", api, "/v1/plans/"+p.id, []byte(body), auth...); r.StatusCode() != 201 {
			t.Fatalf("PUT %s: %d %s", p.id, r.StatusCode(), r.Body())
		}
	}
	if got, want := h.planIDs(key), "starter business team-monthly team-yearly"; got != want {
		t.Fatalf("GET /v1/plans lists %q, want %q", got, want)
	}
	r = h.do("GET", api, "/v1/plans/team-monthly", nil, auth...)
	if r.StatusCode() != 200 || string(r.Header.Peek("ETag")) != etag || !strings.Contains(string(r.Body()), `"maxQuantity":20`) {
		t.Fatalf("GET plan: %d etag=%q (PUT gave %q) %s", r.StatusCode(), r.Header.Peek("ETag"), etag, r.Body())
	}

	// Replace under If-Match; the old revision then fails.
	dearer := strings.Replace(teamPlan, `"unitAmount":4900`, `"unitAmount":5900`, 1)
	r = h.do("PUT", api, "/v1/plans/team-monthly", []byte(dearer), append([]string{"If-Match", etag}, auth...)...)
	if r.StatusCode() != 200 || string(r.Header.Peek("ETag")) == etag {
		t.Fatalf("PUT with If-Match: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("PUT", api, "/v1/plans/team-monthly", []byte(teamPlan), append([]string{"If-Match", etag}, auth...)...); r.StatusCode() != 412 {
		t.Fatalf("PUT with a stale If-Match: %d %s", r.StatusCode(), r.Body())
	}

	// DELETE archives: the plan stays, marked.
	r = h.do("DELETE", api, "/v1/plans/team-yearly", nil, auth...)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"archived":true`) {
		t.Fatalf("DELETE: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("DELETE", api, "/v1/plans/team-yearly", nil, auth...); r.StatusCode() != 200 {
		t.Fatalf("DELETE again: %d %s", r.StatusCode(), r.Body())
	}
	if got, want := h.planIDs(key), "starter business team-monthly team-yearly(archived)"; got != want {
		t.Fatalf("after DELETE: %q, want %q", got, want)
	}
	if r := h.do("DELETE", api, "/v1/plans/nope", nil, auth...); r.StatusCode() != 404 {
		t.Fatalf("DELETE unknown: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("GET", api, "/v1/plans/nope", nil, auth...); r.StatusCode() != 404 {
		t.Fatalf("GET unknown: %d %s", r.StatusCode(), r.Body())
	}

	// The policy: empty at first, then as stored.
	if r := h.do("GET", api, "/v1/plan-policy", nil, auth...); r.StatusCode() != 200 || strings.TrimSpace(string(r.Body())) != `{}` || len(r.Header.Peek("ETag")) != 0 {
		t.Fatalf("GET policy before any: %d %s", r.StatusCode(), r.Body())
	}
	policy := `{"upgrades":"now","downgrades":"period_end","seats":"now","pause":true,"pauseMaxPeriods":3,"offers":[{"reason":"pricing","percentOff":50,"periods":2}]}`
	r = h.do("PUT", api, "/v1/plan-policy", []byte(policy), auth...)
	if r.StatusCode() != 200 || len(r.Header.Peek("ETag")) == 0 {
		t.Fatalf("PUT policy: %d %s", r.StatusCode(), r.Body())
	}
	r = h.do("GET", api, "/v1/plan-policy", nil, auth...)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"pauseMaxPeriods":3`) || !strings.Contains(string(r.Body()), `"reason":"pricing"`) {
		t.Fatalf("GET policy: %d %s", r.StatusCode(), r.Body())
	}

	// Tenant B sees nothing of A's and changes nothing of it.
	if got := h.planIDs(keyB); got != "" {
		t.Fatalf("tenant B lists %q", got)
	}
	for _, req := range []struct{ method, path string }{{"GET", "/v1/plans/team-monthly"}, {"DELETE", "/v1/plans/starter"}} {
		if r := h.do(req.method, api, req.path, nil, authB...); r.StatusCode() != 404 {
			t.Fatalf("tenant B %s %s: %d %s", req.method, req.path, r.StatusCode(), r.Body())
		}
	}
	if r := h.do("GET", api, "/v1/plan-policy", nil, authB...); strings.TrimSpace(string(r.Body())) != `{}` {
		t.Fatalf("tenant B reads the policy %s", r.Body())
	}
	if r := h.do("PUT", api, "/v1/plans/starter", []byte(dearer), authB...); r.StatusCode() != 201 {
		t.Fatalf("tenant B's own starter: %d %s", r.StatusCode(), r.Body())
	}
	if got, want := h.planIDs(key), "starter business team-monthly team-yearly(archived)"; got != want {
		t.Fatalf("A's plans after B's writes: %q", got)
	}
	if r := h.do("GET", api, "/v1/plans/starter", nil, auth...); !strings.Contains(string(r.Body()), `"unitAmount":4900`) {
		t.Fatalf("B's PUT changed A's starter: %s", r.Body())
	}
	// Without a key, nothing.
	if r := h.do("GET", api, "/v1/plans", nil); r.StatusCode() != 401 {
		t.Fatalf("GET /v1/plans without a key: %d", r.StatusCode())
	}
}

// TestPlansAPIRefuses: oversize, malformed and invalid bodies get a 4xx with a detail, and
// nothing is stored.
func TestPlansAPIRefuses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("plansbad")
	auth := []string{"Authorization", "Bearer " + key}
	tests := []apiRefusal{
		{"oversize plan", "PUT", "/v1/plans/big", `{"name":"` + strings.Repeat("x", 70<<10) + `"}`, auth, 413, "plan is 71"},
		{"oversize policy", "PUT", "/v1/plan-policy", `{"offers":[{"message":"` + strings.Repeat("x", 17<<10) + `"}]}`, auth, 413, "policy is 17"},
		{"malformed", "PUT", "/v1/plans/p", `{"name":`, auth, 400, "ends in the middle"},
		{"empty", "PUT", "/v1/plans/p", ``, auth, 400, "body is empty"},
		{"not an object", "PUT", "/v1/plans/p", `[1]`, auth, 400, "must be an object"},
		{"unknown field", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `"name"`, `"title":"x","name"`, 1), auth, 400, `unknown field "title"`},
		{"duplicate key", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `"name":"Team"`, `"name":"Team","name":"Other"`, 1), auth, 400, `duplicate key "name"`},
		{"invalid UTF-8", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `"Team"`, "\"T\xffm\"", 1), auth, 400, "not valid UTF-8"},
		{"trailing data", "PUT", "/v1/plans/p", teamPlan + ` {}`, auth, 400, "unexpected data"},
		{"invalid plan", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `"EUR"`, `"EURO"`, 1), auth, 400, `plan "p": currency: "EURO" is not an ISO 4217 currency code`},
		{"invalid item", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `"maxQuantity":20`, `"maxQuantity":2`, 1), auth, 400, "items[1].quantity: is 3, outside minQuantity 1 – maxQuantity 2"},
		{"id mismatch", "PUT", "/v1/plans/p", strings.Replace(teamPlan, `{`, `{"id":"q",`, 1), auth, 400, `id "q" in the plan does not match "p"`},
		{"bad path id", "GET", "/v1/plans/a%20b", ``, auth, 400, "plan id"},
		{"bad If-Match", "PUT", "/v1/plans/p", teamPlan, append([]string{"If-Match", "soon"}, auth...), 400, "If-Match"},
		{"If-Match for a new plan", "PUT", "/v1/plans/p", teamPlan, append([]string{"If-Match", `"5"`}, auth...), 412, "changed since"},
		{"invalid policy", "PUT", "/v1/plan-policy", `{"upgrades":"tomorrow","offers":[{"reason":"boredom","percentOff":50,"periods":1}]}`, auth, 400, `policy: upgrades: "tomorrow" is not one of now, now_without_proration, period_end; offers[0].reason: "boredom"`},
		{"policy unknown field", "PUT", "/v1/plan-policy", `{"refunds":true}`, auth, 400, `unknown field "refunds"`},
		{"policy wrong type", "PUT", "/v1/plan-policy", `{"pause":"yes"}`, auth, 400, `field "pause" must be a boolean`},
		{"wrong method", "POST", "/v1/plans/p", teamPlan, auth, 405, "not allowed"},
	}
	checkRefusals(t, h, tests)
	if got := h.planIDs(key); got != "" {
		t.Fatalf("refused writes stored plans %q", got)
	}
	if r := h.do("GET", "api."+base, "/v1/plan-policy", nil, auth...); strings.TrimSpace(string(r.Body())) != `{}` {
		t.Fatalf("refused writes stored a policy: %s", r.Body())
	}
}
