package gateway

import (
	"fmt"
	"strings"

	"github.com/portico-billing/portico/invoicedoc"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// portalAction is a portal route that needs a session.
type portalAction func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch)

// serveAction routes the portal's pages other than / and the assets: the invoice pages, then the
// sections' actions (serveSectionAction). Every one needs a session.
func (g *Gateway) serveAction(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) bool {
	path := string(ctx.Path())
	var h portalAction
	for _, d := range [...]struct {
		prefix string
		input  func(*fasthttp.RequestCtx, *tenants.Tenant, *reqScratch, string) *invoicedoc.Input
	}{{"/invoices/", g.invoiceInput}, {"/credit-notes/", g.creditNoteInput}} {
		id, ok := strings.CutPrefix(path, d.prefix)
		if !ok || !(ctx.IsGet() || ctx.IsHead()) {
			continue
		}
		if pdf, ok := strings.CutSuffix(id, ".pdf"); ok {
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
				g.invoicePDF(ctx, t, rs, d.input(ctx, t, rs, pdf))
			}
		} else {
			h = func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch) {
				g.invoicePage(ctx, t, rs, d.input(ctx, t, rs, id))
			}
		}
	}
	if h == nil {
		return g.serveSectionAction(ctx, t, rs)
	}
	if !g.openSession(ctx, t, rs) {
		g.sessionEnded(ctx, t)
		return true
	}
	h(ctx, t, rs)
	return true
}

// sectionRoutes are the actions of the registered sections, refused when one takes a path of the
// gateway's own.
func sectionRoutes() ([]plugins.Route, error) {
	routes := plugins.Routes()
	for _, r := range routes {
		if isHostPath(r.Path) {
			return nil, fmt.Errorf("gateway: section %s declares %s %s, a path of the gateway's own", r.Section, r.Method, r.Path)
		}
	}
	return routes, nil
}
