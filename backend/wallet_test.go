package backend

import (
	"context"
	"strings"
	"testing"

	"github.com/portico-billing/portico/tenants/account"
)

// TestExampleTopUp runs the example backend over HTTP for wallet.top_up: the card ending in 0002
// is declined with a message, another card raises the balance (a wallet created in the account's
// currency when it has none, then raised again) with a top_up transaction each, an amount in
// another currency is declined, and the same idempotency key answers the first answer again.
func TestExampleTopUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	svc := e.service(e.store, nil)
	ctx := context.Background()
	ex := e.runExample(svc, exampleAccount)
	topUp := func(key, pm, cur string, amount int64) (Response, error) {
		return svc.Call(ctx, e.tenant.ID, Request{Type: TypeWalletTopUp, IdempotencyKey: key, Data: WalletTopUpData{
			AccountID: "acc_1", Amount: amount, Currency: cur, PaymentMethodID: pm, SessionID: "ps_1"}})
	}
	r, err := topUp("t-bad", "pm_bad", "EUR", 5000)
	if err != nil || r.Result != Declined || !strings.Contains(r.Message, "ending in 0002") || r.Account != nil {
		t.Fatalf("top up with 0002 = %+v, %v", r, err)
	}
	if r, err := topUp("t-usd", "pm_ok", "USD", 5000); err != nil || r.Result != Declined {
		t.Fatalf("top up in USD = %+v, %v", r, err)
	}
	r, err = topUp("t-ok", "pm_ok", "EUR", 5000)
	if err != nil || r.Result != Succeeded || r.Account == nil || r.Account.Wallet == nil {
		t.Fatalf("top up = %+v, %v", r, err)
	}
	w := r.Account.Wallet
	if w.Currency != "EUR" || w.Balance != 5000 || len(w.Transactions) != 1 || w.Transactions[0].Type != account.WalletTopUp || w.Transactions[0].Amount != 5000 {
		t.Fatalf("wallet after the top-up: %+v", w)
	}
	if _, err := svc.StoreAccount(ctx, e.tenant.ID, "acc_1", r.Account, ex.rev); err != nil {
		t.Fatalf("StoreAccount: %v", err)
	}
	r, err = topUp("t-ok2", "pm_ok", "EUR", 2550)
	if err != nil || r.Result != Succeeded || r.Account.Wallet.Balance != 7550 || len(r.Account.Wallet.Transactions) != 2 {
		t.Fatalf("second top up = %+v, %v", r.Account.Wallet, err)
	}
	if r, err := topUp("t-ok", "pm_ok", "EUR", 5000); err != nil || !r.Replayed || r.Result != Succeeded {
		t.Fatalf("the same key again = %+v, %v", r, err)
	}
	if !strings.Contains(ex.log.String(), "wallet.top_up key=t-ok") {
		t.Errorf("log:\n%s", ex.log.String())
	}
}
