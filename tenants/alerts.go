package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Usage alerts. A customer sets, per account, alerts on the meters of its subscriptions (the
// portal's Usage section): "email me at 80 % of my tier", "at 2,000,000 calls", "when this
// period's usage costs more than €500". They live in one record per account,
// alerts/<tenantID>/<accountID> (outside state/: nothing caches them), with the marks of the
// alerts already sent, each for a period; every change is one Txn compared on the record's
// revision. When the tenant pushes the account's document, Due lists the alerts it crosses that
// were not sent yet for the period, MarkSent records them before the email goes out, so an alert
// is emailed at most once per threshold and period whatever the number of pushes or instances.

// Kinds of a usage alert.
const (
	// AlertTier fires at Percent % of the way through the tier the usage is in (from its first
	// unit to its last): once per tier and period.
	AlertTier = "tier"
	// AlertQuantity fires when the usage to date reaches Quantity.
	AlertQuantity = "quantity"
	// AlertCost fires when what the usage to date costs (the item priced at it) is above Amount
	// minor units.
	AlertCost = "cost"
)

// Limits of usage alerts.
const (
	MaxUsageAlerts = 10
	// maxAlertMarks bounds the sent marks kept: older ones are of periods long over.
	maxAlertMarks = 200
)

// Errors of the usage alerts concern.
var (
	ErrInvalidAlert   = errors.New("tenants: invalid usage alert")
	ErrTooManyAlerts  = fmt.Errorf("tenants: an account has at most %d usage alerts", MaxUsageAlerts)
	ErrAlertNotFound  = errors.New("tenants: usage alert not found")
	errAlertsConflict = errors.New("tenants: usage alerts moved")
)

// UsageAlert is one alert on the meter of a subscription's item.
type UsageAlert struct {
	// ID is generated when the alert is set ("ua_…").
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	SubscriptionID string `json:"subscriptionId"`
	// Item is the index of the metered item in the subscription's items.
	Item     int    `json:"item"`
	Percent  int    `json:"percent,omitempty"`
	Quantity int64  `json:"quantity,omitempty"`
	Amount   int64  `json:"amount,omitempty"`
	Currency string `json:"currency,omitempty"`
	// CreatedAt is when it was set.
	CreatedAt time.Time `json:"createdAt"`
}

// sameAs reports whether b is the alert a: the same kind on the same item with the same threshold.
func (a UsageAlert) sameAs(b UsageAlert) bool {
	return a.Kind == b.Kind && a.SubscriptionID == b.SubscriptionID && a.Item == b.Item && a.Percent == b.Percent &&
		a.Quantity == b.Quantity && a.Amount == b.Amount && a.Currency == b.Currency
}

// AlertMark records that an alert was sent for a period (the subscription's currentPeriodStart)
// and threshold (the tier's index for AlertTier, "" otherwise).
type AlertMark struct {
	AlertID   string       `json:"alertId"`
	Period    account.Date `json:"period"`
	Threshold string       `json:"threshold,omitempty"`
	SentAt    time.Time    `json:"sentAt"`
}

// UsageAlerts is an account's alerts and the marks of those sent.
type UsageAlerts struct {
	Alerts []UsageAlert `json:"alerts,omitempty"`
	Sent   []AlertMark  `json:"sent,omitempty"`
}

// Check returns what is wrong with the alert on account a (nil when nothing): its kind and value,
// and a metered item of one of the account's subscriptions.
func (u *UsageAlert) Check(a *account.Account) error {
	s := a.Subscription(u.SubscriptionID)
	if s == nil || u.Item < 0 || u.Item >= len(s.Items) || s.Items[u.Item].Meter == nil {
		return fmt.Errorf("%w: no meter %s/%d", ErrInvalidAlert, u.SubscriptionID, u.Item)
	}
	switch u.Kind {
	case AlertTier:
		if len(s.Items[u.Item].Tiers) == 0 || u.Percent < 1 || u.Percent > 100 {
			return fmt.Errorf("%w: a tier alert needs a tiered meter and a percent from 1 to 100", ErrInvalidAlert)
		}
	case AlertQuantity:
		if u.Quantity < 1 || u.Quantity > account.MaxQuantity {
			return fmt.Errorf("%w: the quantity must be from 1 to %d", ErrInvalidAlert, int64(account.MaxQuantity))
		}
	case AlertCost:
		if u.Amount < 1 || u.Amount > account.MaxAmount/2 || u.Currency != a.Currency {
			return fmt.Errorf("%w: the amount must be positive, in the account's currency", ErrInvalidAlert)
		}
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidAlert, u.Kind)
	}
	return nil
}

// Firing is an alert the document crosses: the alert, the meter's subscription and item, the
// threshold it crossed (in units of the meter for tier and quantity alerts, minor units for
// cost) and the mark to record.
type Firing struct {
	Alert        UsageAlert
	Subscription *account.Subscription
	Item         *account.Item
	// Threshold is the quantity (tier, quantity) or amount (cost) crossed; Value the usage (or
	// its cost) that crossed it.
	Threshold, Value int64
	// Tier is the tier's position, for AlertTier.
	Tier account.TierPosition
	Mark AlertMark
}

// Due lists the alerts that a's document crosses and that were not sent for the period and
// threshold yet. An alert whose meter is gone, or without a period, is skipped.
func (u *UsageAlerts) Due(a *account.Account) []Firing {
	var out []Firing
	for _, al := range u.Alerts {
		s := a.Subscription(al.SubscriptionID)
		if s == nil || al.Item < 0 || al.Item >= len(s.Items) || s.Items[al.Item].Meter == nil || s.CurrentPeriodStart == "" {
			continue
		}
		it := &s.Items[al.Item]
		used := it.Meter.UsageToDate
		f := Firing{Alert: al, Subscription: s, Item: it, Value: used, Mark: AlertMark{AlertID: al.ID, Period: s.CurrentPeriodStart}}
		switch al.Kind {
		case AlertTier:
			pos, ok := it.Tier(used)
			if !ok || pos.To < 0 {
				continue // the open last tier has no end to near
			}
			span := pos.To - pos.From + 1
			f.Threshold = pos.From - 1 + (span*int64(al.Percent)+99)/100 // ceil: at or past the percent
			f.Tier = pos
			f.Mark.Threshold = fmt.Sprint(pos.Index)
		case AlertQuantity:
			f.Threshold = al.Quantity
		case AlertCost:
			c, err := it.ChargeFor(used)
			if err != nil || al.Currency != a.Currency {
				continue
			}
			f.Threshold, f.Value = al.Amount, c.Amount
			if f.Value <= f.Threshold {
				continue
			}
		default:
			continue
		}
		if al.Kind != AlertCost && used < f.Threshold {
			continue
		}
		if u.sent(f.Mark) {
			continue
		}
		out = append(out, f)
	}
	return out
}

func (u *UsageAlerts) sent(m AlertMark) bool {
	for _, s := range u.Sent {
		if s.AlertID == m.AlertID && s.Period == m.Period && s.Threshold == m.Threshold {
			return true
		}
	}
	return false
}

// UsageAlerts reads the account's alerts (none: an empty record).
func (s *Store) UsageAlerts(ctx context.Context, tenantID, accountID string) (*UsageAlerts, error) {
	ua, _, err := s.readAlerts(ctx, tenantID, accountID)
	return ua, err
}

func (s *Store) readAlerts(ctx context.Context, tid, aid string) (*UsageAlerts, int64, error) {
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, s.k.alerts(tid, aid))
	if err != nil {
		return nil, 0, fmt.Errorf("tenants: reading the usage alerts of account %q: %w", aid, Unavailable(err))
	}
	ua := &UsageAlerts{}
	if len(resp.Kvs) == 0 {
		return ua, 0, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, ua); err != nil {
		return nil, 0, fmt.Errorf("tenants: decoding the usage alerts of account %q: %w", aid, err)
	}
	return ua, resp.Kvs[0].ModRevision, nil
}

// UpdateUsageAlerts applies change to the account's alerts in one Txn compared on the record's
// revision (again on a concurrent change); the account must exist. change may return
// ErrNoChange to write nothing.
func (s *Store) UpdateUsageAlerts(ctx context.Context, tenantID, accountID string, change func(a *account.Account, ua *UsageAlerts) error) (*UsageAlerts, error) {
	for range 8 {
		ua, err := s.updateAlertsOnce(ctx, tenantID, accountID, change)
		if !errors.Is(err, errAlertsConflict) {
			return ua, err
		}
	}
	return nil, fmt.Errorf("tenants: changing the usage alerts of account %q: %w", accountID, ErrConflict)
}

func (s *Store) updateAlertsOnce(ctx context.Context, tid, aid string, change func(a *account.Account, ua *UsageAlerts) error) (*UsageAlerts, error) {
	snap, err := s.Account(ctx, tid, aid)
	if err != nil {
		return nil, err
	}
	ua, rev, err := s.readAlerts(ctx, tid, aid)
	if err != nil {
		return nil, err
	}
	if err := change(snap.Account, ua); err != nil {
		if errors.Is(err, ErrNoChange) {
			return ua, nil
		}
		return nil, err
	}
	if len(ua.Alerts) > MaxUsageAlerts {
		return nil, ErrTooManyAlerts
	}
	if n := len(ua.Sent) - maxAlertMarks; n > 0 {
		ua.Sent = ua.Sent[n:]
	}
	b, err := json.Marshal(ua)
	if err != nil {
		return nil, fmt.Errorf("tenants: encoding usage alerts: %w", err)
	}
	key := s.k.alerts(tid, aid)
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", rev),
		clientv3.Compare(clientv3.CreateRevision(s.k.account(tid, aid)), ">", 0)).Then(clientv3.OpPut(key, string(b))).Commit()
	if err != nil {
		return nil, fmt.Errorf("tenants: storing the usage alerts of account %q: %w", aid, Unavailable(err))
	}
	if !resp.Succeeded {
		return nil, errAlertsConflict
	}
	return ua, nil
}

// AddUsageAlert sets a new alert on the account (checked by UsageAlert.Check) and returns it
// with its id. An alert the account already has (the same kind, item and threshold: a form sent
// twice) is not added again: the one it has is returned.
func (s *Store) AddUsageAlert(ctx context.Context, tenantID, accountID string, al UsageAlert, now time.Time) (UsageAlert, error) {
	al.ID, al.CreatedAt = newID("ua_"), now.UTC()
	_, err := s.UpdateUsageAlerts(ctx, tenantID, accountID, func(a *account.Account, ua *UsageAlerts) error {
		if err := al.Check(a); err != nil {
			return err
		}
		for _, have := range ua.Alerts {
			if have.sameAs(al) {
				al = have
				return ErrNoChange
			}
		}
		if len(ua.Alerts) >= MaxUsageAlerts {
			return ErrTooManyAlerts
		}
		ua.Alerts = append(ua.Alerts, al)
		return nil
	})
	return al, err
}

// DeleteUsageAlert removes an alert of the account, and its marks.
func (s *Store) DeleteUsageAlert(ctx context.Context, tenantID, accountID, id string) error {
	_, err := s.UpdateUsageAlerts(ctx, tenantID, accountID, func(_ *account.Account, ua *UsageAlerts) error {
		for i, al := range ua.Alerts {
			if al.ID == id {
				ua.Alerts = append(ua.Alerts[:i], ua.Alerts[i+1:]...)
				kept := ua.Sent[:0]
				for _, m := range ua.Sent {
					if m.AlertID != id {
						kept = append(kept, m)
					}
				}
				ua.Sent = kept
				return nil
			}
		}
		return ErrAlertNotFound
	})
	return err
}

// DueUsageAlerts finds the alerts the account's stored document crosses and records them sent,
// in one Txn, and returns them with that document: each alert, threshold and period is returned
// once, by whichever caller's Txn wins, so the caller emails what it gets.
func (s *Store) DueUsageAlerts(ctx context.Context, tenantID, accountID string, now time.Time) ([]Firing, *account.Account, error) {
	var due []Firing
	var doc *account.Account
	_, err := s.UpdateUsageAlerts(ctx, tenantID, accountID, func(a *account.Account, ua *UsageAlerts) error {
		due, doc = ua.Due(a), a
		if len(due) == 0 {
			return ErrNoChange
		}
		for i := range due {
			due[i].Mark.SentAt = now.UTC()
			ua.Sent = append(ua.Sent, due[i].Mark)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return due, doc, nil
}
