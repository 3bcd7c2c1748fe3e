package gateway

import (
	"errors"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// domainView is a custom domain as the API shows it, with the DNS records to create.
type domainView struct {
	*tenants.Domain
	DNS domains.Instructions `json:"dns"`
}

func (g *Gateway) domainView(t *tenants.Tenant, d *tenants.Domain) domainView {
	return domainView{Domain: d, DNS: g.cfg.Domains.InstructionsFor(t, d)}
}

func (g *Gateway) domainError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, tenants.ErrInvalidDomain):
		writeProblem(ctx, fasthttp.StatusBadRequest, trimTenants(err.Error()))
	case errors.Is(err, tenants.ErrDomainTaken):
		writeProblem(ctx, fasthttp.StatusConflict, "you have already added this domain")
	case errors.Is(err, domains.ErrExpired):
		writeProblem(ctx, fasthttp.StatusGone, "the claim on this domain expired before its DNS records verified it; add the domain again")
	case errors.Is(err, tenants.ErrDomainNotFound):
		writeProblem(ctx, fasthttp.StatusNotFound, "domain not found")
	default:
		g.apiError(ctx, err)
	}
}

func trimTenants(s string) string {
	for _, p := range []string{"tenants: invalid domain: ", "tenants: "} {
		if len(s) > len(p) && s[:len(p)] == p {
			return s[len(p):]
		}
	}
	return s
}

// apiAddDomain is POST /v1/domains {"name": "billing.acme.com"}.
func (g *Gateway) apiAddDomain(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	var req struct {
		Name string `json:"name"`
	}
	if !decodeJSON(ctx, &req) {
		return
	}
	d, err := g.cfg.Domains.Add(web.Detach(ctx), t, req.Name)
	if err != nil {
		g.domainError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusCreated, g.domainView(t, d))
}

// apiListDomains is GET /v1/domains.
func (g *Gateway) apiListDomains(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	ds, err := g.store.Domains(web.Detach(ctx), t.ID)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	out := make([]domainView, 0, len(ds))
	for _, d := range ds {
		out = append(out, g.domainView(t, d))
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data []domainView `json:"data"`
	}{out})
}

func domainName(ctx *fasthttp.RequestCtx) string {
	n, _ := ctx.UserValue("name").(string)
	return n
}

// apiGetDomain is GET /v1/domains/{name}.
func (g *Gateway) apiGetDomain(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	d, _, err := g.store.Domain(web.Detach(ctx), t.ID, domainName(ctx))
	if err != nil {
		g.domainError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, g.domainView(t, d))
}

// apiVerifyDomain is POST /v1/domains/{name}/verify: check DNS now.
func (g *Gateway) apiVerifyDomain(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	d, err := g.cfg.Domains.Verify(web.Detach(ctx), t, domainName(ctx))
	if err != nil {
		g.domainError(ctx, err)
		return
	}
	writeJSON(ctx, fasthttp.StatusOK, g.domainView(t, d))
}

// apiRemoveDomain is DELETE /v1/domains/{name}.
func (g *Gateway) apiRemoveDomain(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	if err := g.store.RemoveDomain(web.Detach(ctx), t.ID, domainName(ctx)); err != nil {
		g.domainError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}
