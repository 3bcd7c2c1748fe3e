package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Delivery states.
const (
	// StatePending: an attempt is due (NextRetryAt) or under way.
	StatePending = "pending"
	// StateDelivered: the endpoint answered 2xx.
	StateDelivered = "delivered"
	// StateFailed: every attempt of the schedule failed, or the endpoint was deleted.
	StateFailed = "failed"
	// StateDisabled: the endpoint is disabled (it answered 410 Gone, or its tenant disabled it).
	StateDisabled = "disabled"
)

// Delivery is the history of one event's delivery to one endpoint. Records are kept for
// RecordTTL after their last change, then vanish.
type Delivery struct {
	ID         string `json:"id"`
	EndpointID string `json:"endpointId"`
	// EventID is the webhook-id the endpoint receives.
	EventID   string `json:"eventId"`
	EventType string `json:"eventType"`
	// State is pending, delivered, failed or disabled.
	State string `json:"state"`
	// Error says why a delivery failed or was dropped without a final attempt.
	Error    string    `json:"error,omitempty"`
	Attempts []Attempt `json:"attempts"`
	// NextRetryAt is when the next attempt is due, while pending.
	NextRetryAt time.Time `json:"nextRetryAt,omitzero"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Attempt is one request to an endpoint.
type Attempt struct {
	// Attempt numbers the attempts of a delivery from 1.
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	// StatusCode is the endpoint's answer, 0 when there was none (timeout, network error).
	StatusCode int   `json:"statusCode,omitempty"`
	LatencyMs  int64 `json:"latencyMs"`
	// Error describes a failed attempt.
	Error string `json:"error,omitempty"`
	// NextRetryAt is when the attempt this one's failure scheduled is due.
	NextRetryAt time.Time `json:"nextRetryAt,omitzero"`
}

// DeliveryFilter narrows ListDeliveries.
type DeliveryFilter struct {
	// EndpointID keeps the deliveries of one endpoint (default all).
	EndpointID string
	// Limit is the number of deliveries returned (default 50, at most 500).
	Limit int
}

// maxAttemptsKept bounds the history of a delivery record.
const maxAttemptsKept = 50

// ListDeliveries returns the tenant's deliveries, newest first.
func (s *Service) ListDeliveries(ctx context.Context, tenantID string, f DeliveryFilter) ([]Delivery, error) {
	out := []Delivery{}
	if !validTenantID(tenantID) {
		return out, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	prefix := s.k.deliveries(tenantID)
	end := clientv3.GetPrefixRangeEnd(prefix)
	for {
		resp, err := s.c.Get(ctx, prefix, clientv3.WithRange(end), clientv3.WithLimit(int64(limit)),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		if err != nil {
			return nil, fmt.Errorf("webhooks: listing deliveries: %w", tenants.Unavailable(err))
		}
		for _, kv := range resp.Kvs {
			var d Delivery
			if err := json.Unmarshal(kv.Value, &d); err != nil {
				continue
			}
			if f.EndpointID != "" && d.EndpointID != f.EndpointID {
				continue
			}
			if d.Attempts == nil {
				d.Attempts = []Attempt{}
			}
			out = append(out, d)
			if len(out) == limit {
				return out, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key)
	}
}

// failPendingTasks ends the pending deliveries of an endpoint that no worker holds, with state and
// reason. Held ones, and any it misses, end when a worker finds the endpoint gone or disabled.
func (s *Service) failPendingTasks(ctx context.Context, tenantID, endpointID, state, reason string) error {
	key, end := s.k.tasks(), clientv3.GetPrefixRangeEnd(s.k.tasks())
	for {
		resp, err := s.c.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(500))
		if err != nil {
			return tenants.Unavailable(err)
		}
		for _, kv := range resp.Kvs {
			var t task
			if json.Unmarshal(kv.Value, &t) != nil || t.TenantID != tenantID || t.EndpointID != endpointID {
				continue
			}
			d, err := s.deliveryRecord(ctx, &t)
			if err != nil {
				return err
			}
			now := s.now().UTC()
			d.State, d.Error, d.NextRetryAt, d.UpdatedAt = state, reason, time.Time{}, now
			b, _ := json.Marshal(d)
			_, err = s.commitWithRecordLease(ctx, []clientv3.Cmp{
				clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
				clientv3.Compare(clientv3.CreateRevision(s.k.claim(t.DeliveryID)), "=", 0),
			}, func(lease clientv3.LeaseID) []clientv3.Op {
				return []clientv3.Op{
					clientv3.OpDelete(string(kv.Key)),
					clientv3.OpPut(s.k.delivery(t.TenantID, t.DeliveryID), string(b), clientv3.WithLease(lease)),
				}
			})
			if err != nil {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// deliveryRecord reads the record of a task's delivery, or makes a new one if it vanished.
func (s *Service) deliveryRecord(ctx context.Context, t *task) (*Delivery, error) {
	resp, err := s.c.Get(ctx, s.k.delivery(t.TenantID, t.DeliveryID))
	if err != nil {
		return nil, tenants.Unavailable(err)
	}
	return t.record(resp.Kvs, s.now()), nil
}
