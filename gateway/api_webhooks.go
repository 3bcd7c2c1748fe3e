package gateway

import (
	"errors"
	"strconv"
	"strings"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
	"github.com/valyala/fasthttp"
)

// webhookError maps the webhooks service's errors to API answers.
func (g *Gateway) webhookError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, webhooks.ErrInvalid):
		writeProblem(ctx, fasthttp.StatusBadRequest, strings.TrimPrefix(err.Error(), "webhooks: "))
	case errors.Is(err, webhooks.ErrNotFound):
		writeProblem(ctx, fasthttp.StatusNotFound, "webhook endpoint not found")
	default:
		g.apiError(ctx, err)
	}
}

// webhooksOff answers when the gateway runs without a webhooks service.
func (g *Gateway) webhooksOff(ctx *fasthttp.RequestCtx) bool {
	if g.cfg.Webhooks == nil {
		writeProblem(ctx, fasthttp.StatusNotImplemented, "webhooks are not enabled on this server")
		return true
	}
	return false
}

// apiCreateWebhook is POST /v1/webhook-endpoints {url, description, events}: the answer holds the
// signing secret, shown this once.
func (g *Gateway) apiCreateWebhook(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	var req webhooks.EndpointRequest
	if !decodeJSON(ctx, &req) {
		return
	}
	ep, secret, err := g.cfg.Webhooks.CreateEndpoint(web.Detach(ctx), t.ID, req)
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, struct {
		*webhooks.Endpoint
		Secret string `json:"secret"`
	}{ep, secret})
}

// apiListWebhooks is GET /v1/webhook-endpoints.
func (g *Gateway) apiListWebhooks(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	eps, err := g.cfg.Webhooks.ListEndpoints(web.Detach(ctx), t.ID)
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	if eps == nil {
		eps = []*webhooks.Endpoint{}
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data []*webhooks.Endpoint `json:"data"`
	}{eps})
}

func webhookID(ctx *fasthttp.RequestCtx) string {
	id, _ := ctx.UserValue("id").(string)
	return id
}

// apiGetWebhook is GET /v1/webhook-endpoints/{id}.
func (g *Gateway) apiGetWebhook(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	ep, err := g.cfg.Webhooks.GetEndpoint(web.Detach(ctx), t.ID, webhookID(ctx))
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, ep)
}

// apiDeleteWebhook is DELETE /v1/webhook-endpoints/{id}.
func (g *Gateway) apiDeleteWebhook(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	if err := g.cfg.Webhooks.DeleteEndpoint(web.Detach(ctx), t.ID, webhookID(ctx)); err != nil {
		g.webhookError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiTestWebhook is POST /v1/webhook-endpoints/{id}/test: a webhook.test event to that endpoint.
func (g *Gateway) apiTestWebhook(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	id, err := g.cfg.Webhooks.SendTest(web.Detach(ctx), t.ID, webhookID(ctx))
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]string{"eventId": id})
}

// apiRotateWebhook is POST /v1/webhook-endpoints/{id}/rotate-secret: a new secret, shown once;
// the old one keeps signing beside it for 24 h.
func (g *Gateway) apiRotateWebhook(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	secret, err := g.cfg.Webhooks.RotateSecret(web.Detach(ctx), t.ID, webhookID(ctx))
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"secret": secret})
}

// apiWebhookDeliveries is GET /v1/webhook-deliveries?endpointId=&limit=: attempts with status
// codes, latency and the next retry.
func (g *Gateway) apiWebhookDeliveries(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.webhooksOff(ctx) {
		return
	}
	f := webhooks.DeliveryFilter{EndpointID: string(ctx.QueryArgs().Peek("endpointId")), Limit: 100}
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 || n > 1000 {
			writeProblem(ctx, fasthttp.StatusBadRequest, "limit must be an integer from 1 to 1000")
			return
		}
		f.Limit = n
	}
	ds, err := g.cfg.Webhooks.ListDeliveries(web.Detach(ctx), t.ID, f)
	if err != nil {
		g.webhookError(ctx, err)
		return
	}
	if ds == nil {
		ds = []webhooks.Delivery{}
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data []webhooks.Delivery `json:"data"`
	}{ds})
}
