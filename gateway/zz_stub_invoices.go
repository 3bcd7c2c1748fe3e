package gateway

// Invoice pages and PDFs are served by invoices.go once package invoicedoc lands; until then the
// routes answer 404 like an unknown invoice.

import (
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

func (g *Gateway) invoicePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	g.errorPage(ctx, t, fasthttp.StatusNotFound, "Invoice not found", "Go back to your billing overview to see your invoices.")
}

func (g *Gateway) invoicePDF(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	g.invoicePage(ctx, t, rs, id)
}
