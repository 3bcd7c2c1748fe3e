package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
)

// DeclinedLast4 are the last four digits of the card the example backend declines.
const DeclinedLast4 = "0002"

// Example is the example backend of `portico backend-example`: a tenant's billing system in
// miniature that speaks the protocol. It verifies every request's signature (401 otherwise),
// answers "ping" with succeeded, and answers "invoice.pay" from the account document: declined
// with a message for a card ending in DeclinedLast4 (and for an invoice that is unknown, has
// nothing due or is asked for another amount), else succeeded with the whole account, the
// invoice marked paid (amount paid = total, paid today). It answers an idempotency key it has
// seen with its first answer, as a real backend must. It answers "subscription.pause",
// "subscription.resume" and "subscription.offer_accept" (example_subscription.go) with the
// subscription changed in the whole account, and "wallet.top_up" (wallet.go) with the wallet
// raised. Unknown types get 400.
type Example struct {
	// Secrets are the "whsec_…" secrets to verify with.
	Secrets []string
	// Account returns the account document the request names; the example changes it, so it
	// must be the caller's own copy.
	Account func(ctx context.Context, accountID string) (*account.Account, error)
	// Plan returns a plan of the tenant's catalog, for subscription.change (nil: plan changes
	// are declined).
	Plan func(ctx context.Context, planID string) (*catalog.Plan, error)
	// Log receives one line per request (nil: none).
	Log io.Writer
	// Now is the clock of paid dates and signature checks (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	seen map[string][]byte // idempotency key → answer
}

// ServeHTTP answers one request of the protocol.
func (e *Example) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if err := webhooks.Verify(e.Secrets, r.Header, body, now()); err != nil {
		e.logf("%s refused: %v", now().UTC().Format(time.RFC3339), err)
		http.Error(w, "signature does not verify", http.StatusUnauthorized)
		return
	}
	var req struct {
		Type           string          `json:"type"`
		ID             string          `json:"id"`
		IdempotencyKey string          `json:"idempotencyKey"`
		Data           json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "the body is not a request", http.StatusBadRequest)
		return
	}
	e.mu.Lock()
	prev, replay := e.seen[req.IdempotencyKey]
	e.mu.Unlock()
	answer := prev
	if !replay {
		var res exampleAnswer
		switch req.Type {
		case TypePing:
			res = exampleAnswer{Result: Succeeded, Message: "pong"}
		case TypeInvoicePay:
			res = e.pay(r.Context(), req.Data, now())
		case TypeSubscriptionPreview:
			res = exampleAnswer{Result: Succeeded} // no preview of its own: Portico shows its own
		case TypeSubscriptionChange:
			res = e.change(r.Context(), req.Data, now())
		case TypeSubscriptionPause, TypeSubscriptionResume, TypeSubscriptionOfferAccept:
			res = e.subscription(r.Context(), req.Type, req.Data, now())
		case TypeWalletTopUp:
			res = e.topUp(r.Context(), req.Data, req.ID, now())
		default:
			e.logf("%s %s %s: unknown type", now().UTC().Format(time.RFC3339), req.ID, req.Type)
			http.Error(w, "unknown request type", http.StatusBadRequest)
			return
		}
		answer, _ = json.Marshal(res)
		e.mu.Lock()
		if e.seen == nil {
			e.seen = map[string][]byte{}
		}
		if p, ok := e.seen[req.IdempotencyKey]; ok {
			answer, replay = p, true
		} else {
			e.seen[req.IdempotencyKey] = answer
		}
		e.mu.Unlock()
		e.logf("%s %s %s key=%s data=%s → %s", now().UTC().Format(time.RFC3339), req.ID, req.Type, req.IdempotencyKey, compact(req.Data), res.summary())
	} else {
		e.logf("%s %s %s key=%s → the first answer again (same idempotency key)", now().UTC().Format(time.RFC3339), req.ID, req.Type, req.IdempotencyKey)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(answer)
}

type exampleAnswer struct {
	Result  Result           `json:"result"`
	Message string           `json:"message,omitempty"`
	Account *account.Account `json:"account,omitempty"`
}

func (a exampleAnswer) summary() string {
	s := string(a.Result)
	if a.Message != "" {
		s += fmt.Sprintf(" %q", a.Message)
	}
	if a.Account != nil {
		s += " (with the updated account)"
	}
	return s
}

// pay answers an invoice.pay request.
func (e *Example) pay(ctx context.Context, raw json.RawMessage, now time.Time) exampleAnswer {
	var d InvoicePayData
	if err := json.Unmarshal(raw, &d); err != nil {
		return exampleAnswer{Result: Declined, Message: "The payment request could not be read."}
	}
	a, err := e.Account(ctx, d.AccountID)
	if err != nil {
		return exampleAnswer{Result: Declined, Message: "The account could not be found."}
	}
	inv := a.Invoice(d.InvoiceID)
	if inv == nil || inv.AmountDue() == 0 || inv.Status == account.InvVoid || inv.Status == account.InvDraft {
		return exampleAnswer{Result: Declined, Message: "This invoice has nothing to pay."}
	}
	if d.Amount != inv.AmountDue() || d.Currency != a.InvoiceCurrency(inv) {
		return exampleAnswer{Result: Declined, Message: "The amount does not match what is due; reload the page."}
	}
	pm := a.PaymentMethod(d.PaymentMethodID)
	if pm == nil {
		return exampleAnswer{Result: Declined, Message: "This payment method is not on file any more."}
	}
	if pm.Last4 == DeclinedLast4 {
		return exampleAnswer{Result: Declined, Message: "Your bank declined the card ending in " + DeclinedLast4 + ". Please use another payment method."}
	}
	inv.Status = account.InvPaid
	inv.AmountPaid = inv.Total
	inv.PaidDate = account.Date(now.UTC().Format(time.DateOnly))
	return exampleAnswer{Result: Succeeded, Message: "Thank you for your payment.", Account: a}
}

// change carries out a subscription.change: a move to another catalog plan (the plan's name and
// items with the request's quantities, the seats carried, as Portico's preview priced them) or a
// new seat count;
// a change the preview says takes effect later (period_end) is scheduled: the returned document
// carries it as the subscription's pendingChange.
func (e *Example) change(ctx context.Context, raw json.RawMessage, now time.Time) exampleAnswer {
	var d SubscriptionChangeData
	if err := json.Unmarshal(raw, &d); err != nil || d.Preview == nil {
		return exampleAnswer{Result: Declined, Message: "The change request could not be read."}
	}
	a, err := e.Account(ctx, d.AccountID)
	if err != nil {
		return exampleAnswer{Result: Declined, Message: "The account could not be found."}
	}
	s := a.Subscription(d.SubscriptionID)
	if s == nil {
		return exampleAnswer{Result: Declined, Message: "The subscription could not be found."}
	}
	later := d.Preview.EffectiveDate > account.Date(now.UTC().Format(time.DateOnly))
	if later {
		pc := &account.PendingChange{ChangeTarget: d.ChangeTarget, EffectiveDate: d.Preview.EffectiveDate, RequestedAt: account.Date(now.UTC().Format(time.DateOnly))}
		if d.PlanID != "" && e.Plan != nil {
			if p, err := e.Plan(ctx, d.PlanID); err == nil {
				pc.PlanName = p.Name
			}
		}
		s.PendingChange = pc
		return exampleAnswer{Result: Succeeded, Message: "Your change is scheduled for " + string(d.Preview.EffectiveDate) + ".", Account: a}
	}
	switch {
	case d.PlanID != "":
		if e.Plan == nil {
			return exampleAnswer{Result: Declined, Message: "Plans cannot be changed here."}
		}
		p, err := e.Plan(ctx, d.PlanID)
		if err != nil {
			return exampleAnswer{Result: Declined, Message: "This plan is not available."}
		}
		// As the preview priced them: the plan's items with the seats carried.
		s.PlanID, s.Name, s.Items, s.EstimatedNextCharge = p.ID, p.Name, p.ItemsWith(d.Quantities), nil
	case d.Item != nil && d.Quantity != nil && *d.Item >= 0 && *d.Item < len(s.Items):
		s.Items[*d.Item].Quantity = *d.Quantity
		s.EstimatedNextCharge = nil
	default:
		return exampleAnswer{Result: Declined, Message: "The change request could not be read."}
	}
	s.PendingChange = nil
	return exampleAnswer{Result: Succeeded, Message: "Your subscription has been changed.", Account: a}
}

func (e *Example) logf(format string, args ...any) {
	if e.Log == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.Log, format+"\n", args...)
}

func compact(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// RunExample registers an Example as the tenant's backend at http://<ln's address>/ (svc must
// allow that address: Config.AllowCIDRs), then serves it on ln until ctx ends, and removes the
// registration when it stops if it is still its own. ready, when not nil, is called once the
// backend is registered, with its URL.
// planOf (may be nil) reads a plan of the tenant's catalog, for subscription.change.
func RunExample(ctx context.Context, svc *Service, tenantID string, ln net.Listener, accountOf func(ctx context.Context, accountID string) (*account.Account, error),
	planOf func(ctx context.Context, planID string) (*catalog.Plan, error), log io.Writer, ready func(url string)) error {
	url := "http://" + ln.Addr().String() + "/"
	_, secret, err := svc.Register(ctx, tenantID, url)
	if err != nil {
		ln.Close()
		return fmt.Errorf("backend: registering the example backend: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if ep, err := svc.Get(dctx, tenantID); err == nil && ep.URL == url {
			svc.Delete(dctx, tenantID)
		}
	}()
	srv := &http.Server{
		Handler:           &Example{Secrets: []string{secret}, Account: accountOf, Plan: planOf, Log: log},
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	}
	if ready != nil {
		ready(url)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("backend: serving the example backend: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("backend: stopping the example backend: %w", err)
	}
	return nil
}
