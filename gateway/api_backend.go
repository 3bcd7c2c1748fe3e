package gateway

import (
	"errors"
	"net/url"
	"strings"

	"github.com/portico-billing/portico/backend"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// backendError maps the backend service's errors to API answers.
func (g *Gateway) backendError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, backend.ErrInvalid):
		writeProblem(ctx, fasthttp.StatusBadRequest, strings.TrimPrefix(err.Error(), "backend: "))
	case errors.Is(err, backend.ErrNoBackend):
		writeProblem(ctx, fasthttp.StatusNotFound, `no backend is registered; PUT /v1/backend {"url": "https://…"} registers one`)
	default:
		g.apiError(ctx, err)
	}
}

// backendOff answers when the gateway runs without a backend service.
func (g *Gateway) backendOff(ctx *fasthttp.RequestCtx) bool {
	if g.cfg.Backend == nil {
		writeProblem(ctx, fasthttp.StatusNotImplemented, "the tenant backend protocol is not enabled on this server")
		return true
	}
	return false
}

// backendRequest is the body of PUT /v1/backend.
type backendRequest struct {
	URL string `json:"url"`
}

// backendHost is the host of a backend URL, for logs (never the path or query: they may carry
// the tenant's own tokens).
func backendHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return ""
}

// apiPutBackend is PUT /v1/backend {url}: register (or replace) the tenant's backend. The answer
// holds a new signing secret, shown this once; a replaced secret keeps signing for 24 h.
func (g *Gateway) apiPutBackend(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	if g.backendOff(ctx) {
		return
	}
	var req backendRequest
	if !decodeJSON(ctx, &req) {
		return
	}
	ep, secret, err := g.cfg.Backend.Register(web.Detach(ctx), t.ID, req.URL)
	if err != nil {
		g.backendError(ctx, err)
		return
	}
	g.log.Info("gateway: tenant backend registered", "tenant", t.Slug, "by", "apikey:"+key.ID, "host", backendHost(ep.URL))
	writeJSON(ctx, fasthttp.StatusOK, struct {
		*backend.Endpoint
		Secret string `json:"secret"`
	}{ep, secret})
}

// apiGetBackend is GET /v1/backend: the registration without its secret.
func (g *Gateway) apiGetBackend(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if g.backendOff(ctx) {
		return
	}
	ep, err := g.cfg.Backend.Get(web.Detach(ctx), t.ID)
	if err != nil {
		g.backendError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, ep)
}

// apiDeleteBackend is DELETE /v1/backend.
func (g *Gateway) apiDeleteBackend(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	if g.backendOff(ctx) {
		return
	}
	if err := g.cfg.Backend.Delete(web.Detach(ctx), t.ID); err != nil {
		g.backendError(ctx, err)
		return
	}
	g.log.Info("gateway: tenant backend removed", "tenant", t.Slug, "by", "apikey:"+key.ID)
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiRotateBackendSecret is POST /v1/backend/rotate-secret: a new secret, shown once; the old
// one keeps signing beside it for 24 h.
func (g *Gateway) apiRotateBackendSecret(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	if g.backendOff(ctx) {
		return
	}
	secret, err := g.cfg.Backend.RotateSecret(web.Detach(ctx), t.ID)
	if err != nil {
		g.backendError(ctx, err)
		return
	}
	g.log.Info("gateway: tenant backend secret rotated", "tenant", t.Slug, "by", "apikey:"+key.ID)
	writeJSON(ctx, fasthttp.StatusOK, map[string]string{"secret": secret})
}
