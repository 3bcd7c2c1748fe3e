package dashboard

import (
	"context"
	"errors"
	"fmt"

	"github.com/portico-billing/portico/webhooks"
)

// Webhooks adapts the webhooks service to the pages' WebhookPages.
func Webhooks(s *webhooks.Service) WebhookPages { return webhookPages{s} }

type webhookPages struct{ s *webhooks.Service }

var _ WebhookPages = webhookPages{}

func mapWebhookErr(err error) error {
	switch {
	case errors.Is(err, webhooks.ErrInvalid):
		return fmt.Errorf("%w: %v", ErrWebhookInvalid, err)
	case errors.Is(err, webhooks.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrWebhookNotFound, err)
	}
	return err
}

func endpointView(e *webhooks.Endpoint) WebhookEndpoint {
	return WebhookEndpoint{ID: e.ID, URL: e.URL, Description: e.Description, Events: e.Events,
		Disabled: e.Disabled, DisabledReason: e.DisabledReason, CreatedAt: e.CreatedAt}
}

func (w webhookPages) ListEndpoints(ctx context.Context, tenantID string) ([]WebhookEndpoint, error) {
	eps, err := w.s.ListEndpoints(ctx, tenantID)
	if err != nil {
		return nil, mapWebhookErr(err)
	}
	out := make([]WebhookEndpoint, 0, len(eps))
	for _, e := range eps {
		out = append(out, endpointView(e))
	}
	return out, nil
}

func (w webhookPages) CreateEndpoint(ctx context.Context, tenantID, url, description string) (WebhookEndpoint, string, error) {
	e, secret, err := w.s.CreateEndpoint(ctx, tenantID, webhooks.EndpointRequest{URL: url, Description: description})
	if err != nil {
		return WebhookEndpoint{}, "", mapWebhookErr(err)
	}
	return endpointView(e), secret, nil
}

func (w webhookPages) DeleteEndpoint(ctx context.Context, tenantID, endpointID string) error {
	return mapWebhookErr(w.s.DeleteEndpoint(ctx, tenantID, endpointID))
}

func (w webhookPages) SendTest(ctx context.Context, tenantID, endpointID string) (string, error) {
	id, err := w.s.SendTest(ctx, tenantID, endpointID)
	return id, mapWebhookErr(err)
}

func (w webhookPages) ListDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]WebhookDelivery, error) {
	ds, err := w.s.ListDeliveries(ctx, tenantID, webhooks.DeliveryFilter{EndpointID: endpointID, Limit: limit})
	if err != nil {
		return nil, mapWebhookErr(err)
	}
	out := make([]WebhookDelivery, 0, len(ds))
	for _, d := range ds {
		v := WebhookDelivery{ID: d.ID, EventID: d.EventID, EventType: d.EventType, State: d.State, Error: d.Error,
			Attempts: len(d.Attempts), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, NextRetryAt: d.NextRetryAt}
		if n := len(d.Attempts); n > 0 {
			v.LastStatus = d.Attempts[n-1].StatusCode
		}
		out = append(out, v)
	}
	return out, nil
}
