package backend

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/portico-billing/portico/internal/syncbuf"
	"github.com/portico-billing/portico/tenants/account"
)

const exampleAccount = `{"id":"acc_1","name":"Globex","currency":"EUR","paymentMethods":[
{"id":"pm_ok","type":"card","brand":"visa","last4":"4242","default":true},
{"id":"pm_bad","type":"card","brand":"mastercard","last4":"0002","default":false}],
"invoices":[{"id":"in_1","number":"INV-1","status":"overdue","issueDate":"2026-01-01","dueDate":"2026-01-31","subtotal":1785,"tax":0,"total":1785,"amountPaid":0}]}`

// example is `portico backend-example`'s backend running for the env's tenant, on an account
// stored from a document.
type example struct {
	url  string
	rev  int64           // the stored account's revision
	log  *syncbuf.Buffer // what it logs
	stop func() error    // stops it and returns RunExample's error
}

// runExample stores doc as the tenant's account and runs the example backend for it through svc
// until stopped or the test ends.
func (e *env) runExample(svc *Service, doc string) *example {
	e.t.Helper()
	ctx := context.Background()
	a, err := account.Decode([]byte(doc))
	if err != nil {
		e.t.Fatal(err)
	}
	rev, _, err := e.store.PutAccount(ctx, e.tenant.ID, a, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	accountOf := func(ctx context.Context, id string) (*account.Account, error) {
		snap, err := e.store.Account(ctx, e.tenant.ID, id)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(snap.Account)
		var c account.Account
		return &c, json.Unmarshal(b, &c)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ex := &example{rev: rev, log: &syncbuf.Buffer{}}
	rctx, cancel := context.WithCancel(ctx)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunExample(rctx, svc, e.tenant.ID, ln, accountOf, nil, ex.log, func(u string) { ready <- u })
	}()
	select {
	case ex.url = <-ready:
	case err := <-done:
		cancel()
		e.t.Fatalf("RunExample: %v", err)
	}
	ex.stop = sync.OnceValue(func() error { cancel(); return <-done })
	e.t.Cleanup(func() { ex.stop() })
	return ex
}

// TestExampleBackend runs `portico backend-example`'s backend for real: it registers itself,
// declines the card ending in 0002 with a message, pays with another card (the invoice paid in
// the returned document, which StoreAccount stores), answers ping, refuses unsigned requests and
// removes its registration when stopped.
func TestExampleBackend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	ctx := context.Background()
	ex := e.runExample(svc, exampleAccount)
	rev, log := ex.rev, ex.log

	pay := func(key, pm string) (Response, error) {
		return svc.Call(ctx, e.tenant.ID, Request{Type: TypeInvoicePay, IdempotencyKey: key, Data: InvoicePayData{
			AccountID: "acc_1", InvoiceID: "in_1", Amount: 1785, Currency: "EUR", PaymentMethodID: pm, SessionID: "ps_1"}})
	}
	r, err := pay("k-bad", "pm_bad")
	if err != nil || r.Result != Declined || !strings.Contains(r.Message, "ending in 0002") || r.Account != nil {
		t.Fatalf("pay with 0002 = %+v, %v", r, err)
	}
	r, err = pay("k-ok", "pm_ok")
	if err != nil || r.Result != Succeeded || r.Account == nil {
		t.Fatalf("pay = %+v, %v", r, err)
	}
	inv := r.Account.Invoice("in_1")
	if inv.Status != account.InvPaid || inv.AmountPaid != inv.Total || inv.PaidDate == "" {
		t.Fatalf("returned invoice %+v, want it paid", inv)
	}
	if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", r.Account, rev); err != nil {
		t.Fatalf("StoreAccount: %v", err)
	}
	// Paid now: a new attempt finds nothing to pay.
	if r, err := pay("k-again", "pm_ok"); err != nil || r.Result != Declined {
		t.Fatalf("paying a paid invoice = %+v, %v", r, err)
	}
	if r, err := svc.Ping(ctx, e.tenant.ID); err != nil || r.Result != Succeeded || r.Message != "pong" {
		t.Fatalf("Ping = %+v, %v", r, err)
	}
	resp, err := http.Post(ex.url, "application/json", bytes.NewReader([]byte(`{"type":"invoice.pay"}`)))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, want := range []string{"invoice.pay key=k-bad", `declined "Your bank declined`, "succeeded", "ping", "refused"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log does not say %q:\n%s", want, log.String())
		}
	}
	if err := ex.stop(); err != nil {
		t.Fatalf("RunExample: %v", err)
	}
	if _, err := svc.Get(ctx, e.tenant.ID); !errors.Is(err, ErrNoBackend) {
		t.Fatalf("registration after stopping: %v", err)
	}
}
