package tenants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Event types Portico emits. Every event reaches the tenant's webhook endpoints as the Standard
// Webhooks envelope {"type", "timestamp", "data"}.
const (
	EventSubscriptionCancelationScheduled = "subscription.cancelation_scheduled"
	EventSubscriptionCanceled             = "subscription.canceled"
	EventSubscriptionReactivated          = "subscription.reactivated"
	EventBillingDetailsUpdated            = "account.billing_details.updated"
	EventPaymentMethodDefaultChanged      = "account.payment_method.default_changed"
	EventPaymentMethodRemoved             = "account.payment_method.removed"
	EventAutopayUpdated                   = "account.autopay.updated"
	EventInvoicePaymentSucceeded          = "invoice.payment_succeeded"
	EventInvoicePaymentFailed             = "invoice.payment_failed"
	EventPortalSessionCreated             = "portal.session.created"
	EventPortalSessionRedeemed            = "portal.session.redeemed"
	EventWebhookTest                      = "webhook.test"
	EventMemberInvited                    = "member.invited"
	EventMemberRoleChanged                = "member.role_changed"
	EventMemberRemoved                    = "member.removed"
)

// EventTypes lists every event type a webhook endpoint can subscribe to.
var EventTypes = []string{
	EventSubscriptionCancelationScheduled, EventSubscriptionCanceled, EventSubscriptionReactivated,
	EventBillingDetailsUpdated, EventPaymentMethodDefaultChanged, EventPaymentMethodRemoved,
	EventAutopayUpdated, EventPortalSessionCreated, EventPortalSessionRedeemed,
	EventInvoicePaymentSucceeded, EventInvoicePaymentFailed,
	EventMemberInvited, EventMemberRoleChanged, EventMemberRemoved,
}

// Event is one entry of a tenant's transactional outbox: written in the same etcd Txn as the state
// change it reports, so a change is never without its event and an event never without its change.
// Its ID is the Standard Webhooks webhook-id, stable across delivery attempts.
type Event struct {
	ID        string          `json:"id"`
	TenantID  string          `json:"tenantId"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// NewEvent makes an event with a time-ordered id ("evt_" + 16 hex digits of Unix nanoseconds + 8
// random hex digits), so that the outbox lists in creation order.
func NewEvent(tenantID, typ string, data any, now time.Time) (*Event, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("tenants: encoding %s event: %w", typ, err)
	}
	var r [4]byte
	rand.Read(r[:])
	return &Event{
		ID:       fmt.Sprintf("evt_%016x%s", now.UnixNano(), hex.EncodeToString(r[:])),
		TenantID: tenantID, Type: typ, Timestamp: now.UTC(), Data: b,
	}, nil
}

// eventOps returns the puts that add events to the outbox, for a Txn.
func (s *Store) eventOps(events []*Event) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(events))
	for _, e := range events {
		b, _ := json.Marshal(e)
		ops = append(ops, clientv3.OpPut(s.OutboxKey(e), string(b)))
	}
	return ops
}

// AppendEvents writes events to the outbox on their own (for events that report no state change of
// Portico's, such as a webhook test, or a payment the tenant's backend declined). Events of a
// portal session (data naming sessionId) add an entry to its audit trail in the same Txn.
func (s *Store) AppendEvents(ctx context.Context, events ...*Event) error {
	audit, err := s.eventAuditOps(ctx, events)
	if err != nil {
		return err
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	if _, err := s.c.Txn(ctx).Then(append(s.eventOps(events), audit...)...).Commit(); err != nil {
		return fmt.Errorf("tenants: writing events: %w", Unavailable(err))
	}
	return nil
}

// ErrNoChange is returned by an UpdateAccount change function that has nothing to do; UpdateAccount
// then writes nothing and returns the current revision.
var ErrNoChange = errors.New("tenants: nothing to change")

// UpdateAccount reads the account, lets change modify a copy and name the events it causes, and
// writes the document and the events in one Txn that fails if the account moved meanwhile (then it
// reads and applies again, a few times). The changed document must stay valid. A change that
// returns ErrNoChange writes nothing, which makes repeated submissions harmless. The store's own
// cache drops the account at once, so this instance's next read sees the new revision.
//
// For a source-mode tenant the change applies to the source's document and the result goes into
// the account cache, only the events into etcd (see source.go).
func (s *Store) UpdateAccount(ctx context.Context, tenantID, accountID string, change func(a *account.Account) ([]*Event, error)) (int64, error) {
	if t, ok := s.sourceTenant(tenantID); ok {
		return s.updateSourceAccount(ctx, t, accountID, change)
	}
	key := s.k.account(tenantID, accountID)
	unlock, err := s.lockTenantWrites(ctx, tenantID)
	if err != nil {
		return 0, fmt.Errorf("updating account %q: %w", accountID, err)
	}
	defer unlock()
	for i := range maxUsageRetries {
		if err := retryPause(ctx, i); err != nil {
			return 0, fmt.Errorf("updating account %q: %w", accountID, err)
		}
		rctx, cancel := s.opCtx(ctx)
		resp, err := s.c.Txn(rctx).Then(clientv3.OpGet(key), s.usageGet(tenantID)).Commit()
		cancel()
		if err != nil {
			return 0, fmt.Errorf("tenants: updating account %q: %w", accountID, Unavailable(err))
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return 0, fmt.Errorf("updating account %q: %w", accountID, ErrAccountNotFound)
		}
		kv := kvs[0]
		cur, err := decodeDoc(nil, kv.Value)
		if err != nil {
			return 0, fmt.Errorf("updating account %q: %w", accountID, err)
		}
		var a account.Account
		if err := json.Unmarshal(cur, &a); err != nil {
			return 0, fmt.Errorf("tenants: decoding account %q: %w", accountID, err)
		}
		events, err := change(&a)
		if errors.Is(err, ErrNoChange) {
			return kv.ModRevision, nil
		}
		if err != nil {
			return 0, err
		}
		if a.ID != accountID {
			return 0, fmt.Errorf("%w: the id of an account cannot change", account.ErrInvalid)
		}
		if err := a.Validate(); err != nil {
			return 0, err
		}
		doc, _ := json.Marshal(&a)
		if len(doc) > account.MaxDocumentSize {
			return 0, fmt.Errorf("%w: document is %d bytes, the limit is %d", account.ErrInvalid, len(doc), account.MaxDocumentSize)
		}
		doc = encodeDoc(doc)
		// A customer's change moves the usage counter but is never refused by the quota: it
		// changes a document by a few bytes at most.
		usage, err := s.readUsage(ctx, tenantID, resp.Responses[1].GetResponseRange())
		if err != nil {
			return 0, err
		}
		next := usage.Usage
		next.Bytes += int64(len(doc) - len(kv.Value))
		ucmp, uop := s.usageWrite(tenantID, usage, next)
		ops := append([]clientv3.Op{clientv3.OpPut(key, string(doc)), uop}, s.eventOps(events)...)
		audit, err := s.eventAuditOps(ctx, events)
		if err != nil {
			return 0, err
		}
		ops = append(ops, audit...)
		wctx, cancel := s.opCtx(ctx)
		tr, err := s.c.Txn(wctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision), ucmp).Then(ops...).Commit()
		cancel()
		if err != nil {
			return 0, fmt.Errorf("tenants: updating account %q: %w", accountID, Unavailable(err))
		}
		if tr.Succeeded {
			s.dropAccount(tenantID, accountID)
			return tr.Header.Revision, nil
		}
	}
	return 0, fmt.Errorf("updating account %q: %w", accountID, ErrConflict)
}
