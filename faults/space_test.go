package faults

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portico-billing/portico/gateway"
	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

// largeDocument is a valid account document just under account.MaxDocumentSize whose line
// descriptions are random base64, so that the compressed form etcd stores is still about 100 KB
// (repeated words would compress to a few KB).
func largeDocument(t *testing.T, id string) []byte {
	t.Helper()
	a := account.Account{ID: id, Name: "Noisy " + id, Currency: "EUR"}
	for i := 0; ; i++ {
		r := make([]byte, 330)
		rand.Read(r)
		a.Invoices = append(a.Invoices, account.Invoice{ID: fmt.Sprintf("inv%04d", i), Status: account.InvPaid,
			Lines: []account.Line{{Description: base64.StdEncoding.EncodeToString(r), Quantity: 1}}})
		b, _ := json.Marshal(&a)
		if len(b) > account.MaxDocumentSize-1000 {
			return b
		}
	}
}

// tenantOn creates a tenant with an API key and the example account on an instance.
func tenantOn(t *testing.T, inst *instance, slug string) *install {
	t.Helper()
	ctx := context.Background()
	in := &install{t: t, inst: [2]*instance{inst, inst}, slug: slug, host: slug + "." + base}
	tn, err := inst.store.CreateTenant(ctx, &tenants.Tenant{Slug: slug, Name: "Tenant " + slug, Portal: tenants.DefaultPortal()})
	if err != nil {
		t.Fatal(err)
	}
	in.tenant = tn
	if _, in.key, err = inst.store.CreateAPIKey(ctx, tn.ID, "faults"); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "tenant indexed", func() bool { _, ok := inst.store.TenantBySlug(slug); return ok })
	doc, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	if r := in.api(inst, "PUT", "/v1/accounts/"+accountID, doc); r.status != 201 {
		t.Fatalf("PUT account: %d %s", r.status, r.body)
	}
	return in
}

// TestOneTenantCannotStopOthers: on an etcd with a 24 MiB space quota, one tenant writing large
// documents is stopped by its own quota while another tenant's sessions, links and pages go on;
// then, rewriting one document until etcd's space alarm (which the tenant quota cannot prevent
// without compaction), /readyz, the metric and the log say so, writes answer 503 "storage is
// full", pages keep serving, and `portico etcd maintenance` recovers it without a restart.
func TestOneTenantCannotStopOthers(t *testing.T) {
	t.Parallel()
	srv, err := etcdtest.StartWith(func(c *embed.Config) { c.QuotaBackendBytes = 24 << 20 })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	logs := &syncbuf.Buffer{}
	// The gateway reaches the member in process, as `portico serve` does its embedded one (the
	// other fault tests use gRPC, as against an external cluster).
	c := v3client.New(srv.Etcd.Server)
	t.Cleanup(func() { c.Close() })
	inst := startInstance(t, "gw", c, options{logs: logs})
	admin := httptest.NewServer(gateway.AdminHandler(inst.metrics, inst.store))
	t.Cleanup(admin.Close)
	quiet := tenantOn(t, inst, "quiet")
	noisy := tenantOn(t, inst, "noisy")
	ctx := context.Background()
	if _, err := inst.store.UpdateTenant(ctx, noisy.tenant.ID, func(t *tenants.Tenant) error { t.MaxAccountBytes = 1 << 20; return nil }, nil); err != nil {
		t.Fatal(err)
	}
	cookie := quiet.session(inst)
	tokens := quiet.links(4)

	// 1. The noisy tenant fills its quota: refused with a 403 naming the limit.
	accepted := 0
	for i := 0; ; i++ {
		r := noisy.api(inst, "PUT", fmt.Sprintf("/v1/accounts/n%03d", i), largeDocument(t, fmt.Sprintf("n%03d", i)))
		if r.status == 403 {
			if !strings.Contains(r.body, "max-account-bytes") {
				t.Fatalf("quota refusal without the limit's name: %s", r.body)
			}
			break
		}
		if r.status != 201 || i > 50 {
			t.Fatalf("PUT %d: %d %s %v", i, r.status, r.body, r.err)
		}
		accepted++
	}
	t.Logf("noisy tenant: %d large documents accepted, then 403", accepted)
	if r := quiet.redeem(inst, tokens[0]); r.status != 303 {
		t.Fatalf("quiet tenant's link after the noisy tenant's quota: %d %v", r.status, r.err)
	}
	if r := quiet.page(inst, cookie); r.status != 200 {
		t.Fatalf("quiet tenant's page: %d", r.status)
	}
	quiet.session(inst)
	if r := readyz(t, admin.URL); r.status != 200 {
		t.Fatalf("/readyz while only a tenant quota is reached: %d %s", r.status, r.body)
	}

	// 2. Rewrites of one document, with no compaction, until etcd's space alarm.
	doc := largeDocument(t, "n000")
	var full result
	for i := 0; ; i++ {
		full = noisy.api(inst, "PUT", "/v1/accounts/n000", doc)
		if full.status == 503 {
			t.Logf("space alarm after %d rewrites", i)
			break
		}
		if full.status != 200 || i > 2000 {
			t.Fatalf("rewrite %d: %d %s %v", i, full.status, full.body, full.err)
		}
	}
	if !strings.Contains(full.body, "storage is full") {
		t.Fatalf("503 without saying storage is full: %s", full.body)
	}
	if r := readyz(t, admin.URL); r.status != 503 || !strings.Contains(r.body, "storage is full") {
		t.Fatalf("/readyz under the space alarm: %d %s", r.status, r.body)
	}
	if g := inst.gauge("portico_etcd_storage_full"); g != 1 {
		t.Fatalf("portico_etcd_storage_full = %v under the alarm", g)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "etcd storage is full") {
		t.Fatalf("no error log for the space alarm:\n%s", logs)
	}
	if r := quiet.page(inst, cookie); r.status != 200 {
		t.Fatalf("quiet tenant's cached page under the alarm: %d", r.status)
	}
	if r := quiet.api(inst, "POST", "/portal/customer-session/customer-portal", []byte(`{"accountId":"`+accountID+`"}`)); r.status != 503 || !strings.Contains(r.body, "storage is full") {
		t.Fatalf("a write under the alarm: %d %s", r.status, r.body)
	}

	// 3. The operator command recovers it; nothing restarts.
	bin := buildPortico(t)
	start := time.Now()
	out, err := exec.Command(bin, "--etcd-endpoints", srv.Endpoint, "--etcd-prefix", prefix, "etcd", "maintenance").CombinedOutput()
	if err != nil {
		t.Fatalf("portico etcd maintenance: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "disarmed NOSPACE") {
		t.Fatalf("portico etcd maintenance disarmed nothing:\n%s", out)
	}
	if r := readyz(t, admin.URL); r.status != 200 {
		t.Fatalf("/readyz after maintenance: %d %s", r.status, r.body)
	}
	t.Logf("recovered in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	if g := inst.gauge("portico_etcd_storage_full"); g != 0 {
		t.Fatalf("portico_etcd_storage_full = %v after maintenance", g)
	}
	if r := quiet.redeem(inst, tokens[1]); r.status != 303 {
		t.Fatalf("quiet tenant's link after recovery: %d %v", r.status, r.err)
	}
	quiet.session(inst)
	if r := noisy.api(inst, "PUT", "/v1/accounts/n000", doc); r.status != 200 {
		t.Fatalf("noisy tenant's rewrite after recovery: %d %s", r.status, r.body)
	}
}

func readyz(t *testing.T, base string) result {
	t.Helper()
	r, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return result{status: r.StatusCode, body: string(b)}
}
