package backend

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/internal/syncbuf"
)

// readmeBackend returns the Go backend of the README's "Tenant backend protocol" section.
func readmeBackend(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "**A backend in Go**")
	if !ok {
		t.Fatal("README: no \"A backend in Go\"")
	}
	_, rest, ok = strings.Cut(rest, "```go\n")
	code, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("README: no Go block after \"A backend in Go\"")
	}
	return code
}

// TestREADMEBackend builds the README's example backend and runs it against Portico: it verifies
// the signature (with either secret during a rotation), answers each result, and refuses an
// unsigned request.
func TestREADMEBackend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(readmeBackend(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/backend\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "backend")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the README's backend: %v\n%s", err, out)
	}
	e := newEnv(t)
	svc := e.service(e.store, nil)
	ctx := context.Background()
	port, err := etcdtest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	_, secret, err := svc.Register(ctx, e.tenant.ID, "http://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	// Rotate: the program knows only the old secret, which still signs beside the new one.
	if _, err := svc.RotateSecret(ctx, e.tenant.ID); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "PORTICO_BACKEND_SECRETS="+secret)
	var logs syncbuf.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	etcdtest.Wait(t, "the README's backend to listen", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if r, err := svc.Ping(ctx, e.tenant.ID); err != nil || r.Result != Succeeded {
		t.Fatalf("Ping = %+v, %v\n%s", r, err, logs.String())
	}
	for _, c := range []struct {
		pm     string
		result Result
	}{{"pm_card", Succeeded}, {"pm_card_declined", Declined}, {"pm_card_3ds", RequiresAction}, {"pm_sepa", Pending}} {
		r, err := svc.Call(ctx, e.tenant.ID, Request{Type: TypeInvoicePay, IdempotencyKey: "k-" + c.pm, Data: InvoicePayData{
			AccountID: "acc_1", InvoiceID: "in_1", Amount: 1785, Currency: "EUR", PaymentMethodID: c.pm}})
		if err != nil || r.Result != c.result || (c.result == Declined || c.result == Pending) && r.Message == "" ||
			c.result == RequiresAction && !strings.HasPrefix(r.RedirectURL, "https://bank.example/3ds?attempt=k-pm_card_3ds") {
			t.Errorf("pay with %s = %+v, %v; want %s", c.pm, r, err, c.result)
		}
	}
	resp, err := http.Post("http://"+addr+"/", "application/json", strings.NewReader(`{"type":"ping","data":{}}`))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %v %v", resp, err)
	}
	resp.Body.Close()
	// A request of another type is refused with a 4xx, which Portico reports as ErrStatus.
	_, err = svc.Call(ctx, e.tenant.ID, Request{Type: "plan.change", IdempotencyKey: "k-plan"})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Fatalf("unknown type: %v", err)
	}
}

// TestREADMEChangeExample: the README's subscription.change request decodes strictly into the
// request's fields and SubscriptionChangeData, and its preview is one Portico would accept from
// a backend (it adds up).
func TestREADMEChangeExample(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "**Changing a subscription**")
	_, rest, ok2 := strings.Cut(rest, "```json\n")
	block, _, ok3 := strings.Cut(rest, "```\n")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README: no subscription.change example after \"Changing a subscription\"")
	}
	var req struct {
		Type           string          `json:"type"`
		ID             string          `json:"id"`
		IdempotencyKey string          `json:"idempotencyKey"`
		Data           json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(strings.NewReader(block))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Type != TypeSubscriptionChange {
		t.Fatalf("README request: %v (%q)", err, req.Type)
	}
	var d SubscriptionChangeData
	dec = json.NewDecoder(strings.NewReader(string(req.Data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil || d.PlanID == "" || d.Preview == nil {
		t.Fatalf("README data: %v %+v", err, d)
	}
	if err := d.Preview.Check(); err != nil {
		t.Fatalf("README preview: %v", err)
	}
	if d.Preview.AmountDue != d.Preview.Charge-d.Preview.Credit {
		t.Fatalf("README preview: due %d", d.Preview.AmountDue)
	}
}
