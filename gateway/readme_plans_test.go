package gateway

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// What the README says of the plans API and the change pages that the other tests left out.

// TestPlansAPIOffersArchivedAgain: DELETE answers 200 with the archived plan and its revision;
// a PUT with "archived": false offers it again.
func TestPlansAPIOffersArchivedAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, key := h.tenant("plansagain")
	auth := []string{"Authorization", "Bearer " + key}
	api := "api." + base
	plan := `{"name":"Team","currency":"EUR","interval":"month","items":[{"product":"Team","pricingModel":"flat","quantity":1,"unitAmount":4900}]}`
	if r := h.do("PUT", api, "/v1/plans/team", []byte(plan), auth...); r.StatusCode() != 201 {
		t.Fatalf("PUT: %d %s", r.StatusCode(), r.Body())
	}
	r := h.do("DELETE", api, "/v1/plans/team", nil, auth...)
	etag := string(r.Header.Peek("ETag"))
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"archived":true`) || !strings.Contains(string(r.Body()), `"id":"team"`) || etag == "" {
		t.Fatalf("DELETE: %d %s (ETag %q)", r.StatusCode(), r.Body(), etag)
	}
	if got := h.do("GET", api, "/v1/plans/team", nil, auth...).Header.Peek("ETag"); string(got) != etag {
		t.Fatalf("DELETE answered ETag %s, GET %s", etag, got)
	}
	again := strings.Replace(plan, `{`, `{"archived":false,`, 1)
	if r := h.do("PUT", api, "/v1/plans/team", []byte(again), append(auth, "If-Match", etag)...); r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"archived":false`) {
		t.Fatalf("PUT archived false: %d %s", r.StatusCode(), r.Body())
	}
	if got := h.planIDs(key); got != "team" {
		t.Fatalf("plans after offering it again: %q, want team (not archived)", got)
	}
}

// TestPlansAPITooManyPlans: the store's refusal of a plan beyond catalog.MaxPlans
// (tenants.ErrTooManyPlans, tenants/TestCatalogUsage) is 409 with a detail.
func TestPlansAPITooManyPlans(t *testing.T) {
	t.Parallel()
	var ctx fasthttp.RequestCtx
	(&Gateway{}).planError(&ctx, fmt.Errorf("storing plan x: %w", tenants.ErrTooManyPlans))
	if ctx.Response.StatusCode() != 409 || !strings.Contains(string(ctx.Response.Body()), `"detail":"the catalog holds 500 plans`) {
		t.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
}

// TestChangePreviewRequestFails: when the backend's subscription.preview fails, the preview page
// shows Portico's own; an attempt the backend does not settle is in the session's audit trail
// (subscription.change_pending, subscription.change_error) and records no event.
func TestChangePreviewRequestFails(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		answer backendAnswer
		audit  string
	}{
		{"pending", answerJSON(`{"result":"pending"}`), "subscription.change_pending"},
		{"500", answerStatus(500), "subscription.change_error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			h, ps, b := backendPortal(t, "chg-pvfail-"+c.name, "en", map[string]backendAnswer{
				backend.TypeSubscriptionPreview: answerStatus(500),
				backend.TypeSubscriptionChange:  c.answer,
			})
			changeCatalog(t, ps)
			want := expectedPreview(t, ps, "business", 0)
			form, page := ps.changeForm("/subscriptions/sub_Pro_01/change/preview?plan=business")
			checkPreviewShown(t, page, want, "en")
			if strings.Contains(page, "Amounts as calculated by") || b.count(backend.TypeSubscriptionPreview) == 0 {
				t.Fatalf("preview after a failed subscription.preview (asked %d times):\n%s", b.count(backend.TypeSubscriptionPreview), page)
			}
			ps.submit("/subscriptions/sub_Pro_01/change", form, "https://"+ps.host)
			if n := b.count(backend.TypeSubscriptionChange); n != 1 {
				t.Fatalf("subscription.change calls: %d", n)
			}
			wantAudit(t, h, ps.t.ID, "acc_7Hq2LmX9", c.audit)
			for _, typ := range []string{"subscription.change_succeeded", "subscription.change_failed", "subscription.change_requested"} {
				if n := len(ps.events(typ)); n != 0 {
					t.Errorf("%s events: %d", typ, n)
				}
			}
		})
	}
}
