package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
)

// receiver is a tenant's webhook endpoint: it verifies the Standard Webhooks signature with its own
// implementation of the spec (not package webhooks) and records what arrived.
type receiver struct {
	mu     sync.Mutex
	secret []byte
	got    map[string][]map[string]any // type → data of each verified event
	ids    map[string]int              // webhook-id → deliveries
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts, sigs := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, rc.secret)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	sec, _ := strconv.ParseInt(ts, 10, 64)
	ok := false
	for _, s := range strings.Fields(sigs) {
		ok = ok || hmac.Equal([]byte(s), []byte(want))
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !ok || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var env struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	json.Unmarshal(body, &env)
	rc.got[env.Type] = append(rc.got[env.Type], env.Data)
	rc.ids[id]++
}

func (rc *receiver) count(typ string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got[typ])
}

func TestEveryActionReachesTheWebhookReceiver(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	svc, err := webhooks.New(webhooks.Config{
		Store: h.store, Keyring: h.gw.Keyring(), AllowCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Schedule: []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.gw.cfg.Webhooks = svc
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	rc := &receiver{got: map[string][]map[string]any{}, ids: map[string]int{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	tn, key := h.tenant("hooks")
	r := h.do("POST", "api."+base, "/v1/webhook-endpoints", []byte(`{"url":"`+srv.URL+`/hooks","description":"backend"}`), "Authorization", "Bearer "+key)
	var ep struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(r.Body(), &ep); err != nil || r.StatusCode() != 201 || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("create endpoint: %d %s", r.StatusCode(), r.Body())
	}
	rc.secret, _ = base64.StdEncoding.DecodeString(strings.TrimPrefix(ep.Secret, "whsec_"))
	// Listing never shows the secret again.
	if r := h.do("GET", "api."+base, "/v1/webhook-endpoints", nil, "Authorization", "Bearer "+key); strings.Contains(string(r.Body()), ep.Secret) || !strings.Contains(string(r.Body()), ep.ID) {
		t.Fatalf("list: %s", r.Body())
	}

	// A customer session and every action.
	st, res, _ := h.createSession(key, `{"accountId":"acc_7Hq2LmX9"}`)
	if st != 201 {
		t.Fatal("create session")
	}
	_, cookie, _ := h.open(res["sessionUrl"].(string))
	ps := &portalSession{h: h, t: tn, key: key, host: "hooks." + base, cookie: cookie}
	page := ps.get("/")
	i := strings.Index(page, `name="csrf" value="`)
	ps.csrf = page[i+19 : i+19+32]
	for _, a := range []struct {
		path string
		form url.Values
	}{
		{"/subscriptions/sub_Pro_01/cancel", url.Values{"reason": {"features"}}},
		{"/subscriptions/sub_Pro_01/reactivate", nil},
		{"/billing/edit", url.Values{"legalName": {"Zoë GmbH"}, "email": {"ap@globex.example"}, "line1": {"Hauptstraße 1"}, "city": {"Berlin"}, "country": {"DE"}}},
		{"/payment-methods/pm_sepa_1/default", nil},
		{"/payment-methods/pm_card_1/remove", nil},
		{"/billing/autopay", url.Values{"enabled": {"off"}, "timing": {"on_issue"}}},
	} {
		if st, body := ps.post(a.path, a.form); st != 303 {
			t.Fatalf("POST %s: %d %s", a.path, st, body)
		}
	}
	if r := h.do("POST", "api."+base, "/v1/webhook-endpoints/"+ep.ID+"/test", nil, "Authorization", "Bearer "+key); r.StatusCode() != 202 {
		t.Fatalf("test event: %d %s", r.StatusCode(), r.Body())
	}
	want := []string{
		tenants.EventPortalSessionCreated, tenants.EventPortalSessionRedeemed,
		tenants.EventSubscriptionCancelationScheduled, tenants.EventSubscriptionReactivated,
		tenants.EventBillingDetailsUpdated, tenants.EventPaymentMethodDefaultChanged,
		tenants.EventPaymentMethodRemoved, tenants.EventAutopayUpdated, tenants.EventWebhookTest,
	}
	etcdtest.Wait(t, "every event delivered", func() bool {
		for _, typ := range want {
			if rc.count(typ) != 1 {
				return false
			}
		}
		return true
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 {
		t.Fatalf("%d deliveries failed signature verification", rc.bad)
	}
	if d := rc.got[tenants.EventSubscriptionCancelationScheduled][0]; d["reason"] != "features" || d["accountId"] != "acc_7Hq2LmX9" {
		t.Fatalf("cancel event data: %v", d)
	}
	for id, n := range rc.ids {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	r = h.do("GET", "api."+base, "/v1/webhook-deliveries?limit=50", nil, "Authorization", "Bearer "+key)
	if r.StatusCode() != 200 || !strings.Contains(string(r.Body()), `"statusCode":200`) {
		t.Fatalf("deliveries: %d %s", r.StatusCode(), r.Body())
	}
	if r := h.do("DELETE", "api."+base, "/v1/webhook-endpoints/"+ep.ID, nil, "Authorization", "Bearer "+key); r.StatusCode() != 204 {
		t.Fatalf("delete: %d", r.StatusCode())
	}
}

// TestWebhookEndpointLocalhostRefused: URLs naming localhost or a name under it are refused at
// creation (400 with a detail), as literal loopback addresses are, unless the operator's allowed
// ranges cover loopback.
func TestWebhookEndpointLocalhostRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		allow []netip.Prefix
		want  int
	}{
		{"no allowed ranges", nil, 400},
		{"a private range allowed", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, 400},
		{"loopback allowed", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 201},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			svc, err := webhooks.New(webhooks.Config{Store: h.store, Keyring: h.gw.Keyring(), AllowCIDRs: tc.allow})
			if err != nil {
				t.Fatal(err)
			}
			h.gw.cfg.Webhooks = svc
			_, key := h.tenant("hooks")
			urls := []string{"http://localhost:9/x", "https://foo.localhost/x", "https://LocalHost./x", "https://a.b.localhost:8443/x"}
			if tc.want == 400 {
				// Plain http to foo.localhost is refused anyway once allowed: the system resolver
				// does not resolve it, so it is not known to be inside the allowed ranges.
				urls = append(urls, "http://foo.localhost/x")
			}
			for _, u := range urls {
				r := h.do("POST", "api."+base, "/v1/webhook-endpoints", []byte(`{"url":"`+u+`"}`), "Authorization", "Bearer "+key)
				var body struct {
					Status int    `json:"status"`
					Detail string `json:"detail"`
				}
				json.Unmarshal(r.Body(), &body)
				if r.StatusCode() != tc.want || (tc.want == 400 && (body.Status != 400 || !strings.Contains(body.Detail, "loopback"))) {
					t.Errorf("POST %s: %d %s, want %d", u, r.StatusCode(), r.Body(), tc.want)
				}
			}
		})
	}
}
