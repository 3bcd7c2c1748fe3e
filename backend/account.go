package backend

import (
	"context"
	"errors"
	"fmt"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// StoreAccount stores the account document a backend returned (Response.Account) as a PUT of
// the API would, in one etcd Txn with events (for an invoice payment, its
// invoice.payment_succeeded or invoice.payment_failed event; events naming a portal session in
// "sessionId" add an audit entry to its trail). The document must be valid and be the account
// asked about (accountID), else ErrInvalidAccount and nothing is written. ifMatch, when not zero,
// is the revision the caller read before calling the backend: the write fails with
// tenants.ErrRevisionMismatch if the document moved since (the tenant then pushes it as usual);
// zero replaces whatever is stored. The tenant's quota applies (tenants.ErrQuotaExceeded). With a
// nil document only the events are written. It returns the new revision (0 without a document).
//
// For a source-mode tenant the document goes into the account cache instead of etcd (the events
// still go to etcd); without a document, every instance drops its cached copy, which may be behind
// what the backend did, so that the next view fetches it.
func (s *Service) StoreAccount(ctx context.Context, tenantID, accountID string, a *account.Account, ifMatch int64, events ...*tenants.Event) (int64, error) {
	if a == nil {
		if err := s.store.DropSourceCopy(ctx, tenantID, accountID); err != nil {
			s.log.Warn("backend: other instances keep their copy of a source-mode account until its TTL", "tenant", tenantID, "account", accountID, "err", err)
		}
		if len(events) == 0 {
			return 0, nil
		}
		if err := s.store.AppendEvents(ctx, events...); err != nil {
			return 0, fmt.Errorf("backend: storing the events: %w", err)
		}
		return 0, nil
	}
	if a.ID != accountID {
		return 0, fmt.Errorf("%w: the document is account %q, the request was for %q", ErrInvalidAccount, a.ID, accountID)
	}
	if err := a.Validate(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidAccount, err)
	}
	rev, _, err := s.store.PutAccountWithEvents(ctx, tenantID, a, ifMatch, events)
	if errors.Is(err, account.ErrInvalid) {
		return 0, fmt.Errorf("%w: %w", ErrInvalidAccount, err)
	}
	if err != nil {
		return 0, fmt.Errorf("backend: storing account %q: %w", accountID, err)
	}
	return rev, nil
}
