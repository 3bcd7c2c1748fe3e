package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants/account"
)

// TypeWalletTopUp asks the backend to top up the account's prepaid credit (the Usage section's
// Top up, WalletTopUpData): charge Amount to the payment method and add it to the wallet. It is
// answered like TypeInvoicePay: succeeded with the whole updated account document (the wallet's
// balance raised, a top_up transaction added), which Portico stores in one Txn with the event
// wallet.top_up_succeeded; declined with a message; requires_action with the page to complete it
// on; or pending.
const TypeWalletTopUp = "wallet.top_up"

// WalletTopUpData is the data of a "wallet.top_up" request: Amount minor units of Currency (the
// wallet's, which is the account's) charged to PaymentMethodID.
type WalletTopUpData struct {
	AccountID       string `json:"accountId"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	PaymentMethodID string `json:"paymentMethodId"`
	SessionID       string `json:"sessionId"`
}

// topUp answers the example's wallet.top_up: declined for the card ending in DeclinedLast4, a
// method not on file, another currency or an amount that is not positive; else succeeded with
// the account's wallet (created in the account's currency when it has none) raised by the amount
// and a top_up transaction of today, the oldest transactions dropped beyond
// account.MaxWalletTransactions.
func (e *Example) topUp(ctx context.Context, raw json.RawMessage, requestID string, now time.Time) exampleAnswer {
	var d WalletTopUpData
	if err := json.Unmarshal(raw, &d); err != nil {
		return exampleAnswer{Result: Declined, Message: "The top-up request could not be read."}
	}
	a, err := e.Account(ctx, d.AccountID)
	if err != nil {
		return exampleAnswer{Result: Declined, Message: "The account could not be found."}
	}
	if d.Currency != a.Currency || d.Amount <= 0 {
		return exampleAnswer{Result: Declined, Message: "The amount could not be charged; reload the page."}
	}
	pm := a.PaymentMethod(d.PaymentMethodID)
	if pm == nil {
		return exampleAnswer{Result: Declined, Message: "This payment method is not on file any more."}
	}
	if pm.Last4 == DeclinedLast4 {
		return exampleAnswer{Result: Declined, Message: "Your bank declined the card ending in " + DeclinedLast4 + ". Please use another payment method."}
	}
	w := a.Wallet
	if w == nil {
		w = &account.Wallet{Currency: a.Currency}
		a.Wallet = w
	}
	if w.Balance > account.MaxAmount-d.Amount {
		return exampleAnswer{Result: Declined, Message: "The balance cannot take this amount."}
	}
	w.Balance += d.Amount
	id := fmt.Sprintf("wtx_%d", now.UnixNano())
	if account.ValidID("wtx_" + requestID) {
		id = "wtx_" + requestID
	}
	w.Transactions = append(w.Transactions, account.WalletTransaction{ID: id, Date: account.Date(now.UTC().Format(time.DateOnly)), Type: account.WalletTopUp, Amount: d.Amount})
	if n := len(w.Transactions) - account.MaxWalletTransactions; n > 0 {
		w.Transactions = w.Transactions[n:]
	}
	return exampleAnswer{Result: Succeeded, Message: "Your prepaid credit has been topped up.", Account: a}
}
