package gateway

import (
	"bytes"
	"html/template"

	"github.com/portico-billing/portico/gateway/invoicedoc"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// invoiceInput finds a visible invoice of the session's account; anything else is 404 — another
// account's invoice id and a draft look the same as an id that does not exist.
func (g *Gateway) invoiceInput(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) *invoicedoc.Input {
	if !account.ValidID(id) {
		g.errorPage(ctx, t, fasthttp.StatusNotFound, "Invoice not found", "Go back to your billing overview to see your invoices.")
		return nil
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return nil
	}
	inv := snap.Account.Invoice(id)
	if inv == nil || !inv.Visible() {
		g.errorPage(ctx, t, fasthttp.StatusNotFound, "Invoice not found", "Go back to your billing overview to see your invoices.")
		return nil
	}
	in := &invoicedoc.Input{Tenant: t, Account: snap.Account, Invoice: inv, Locale: resolveLocale(string(rs.s.Locale), snap, t), Now: g.cfg.Now()}
	if l, err := g.store.Logo(ctx, t); err == nil && l != nil {
		in.Logo, in.LogoType = l.Data, l.ContentType
	}
	return in
}

// invoicePage serves the printable invoice page.
func (g *Gateway) invoicePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	in := g.invoiceInput(ctx, t, rs, id)
	if in == nil {
		return
	}
	var body bytes.Buffer
	if err := invoicedoc.RenderHTML(&body, in); err != nil {
		g.log.Error("gateway: rendering invoice", "tenant", t.Slug, "err", err)
		g.errorPage(ctx, t, fasthttp.StatusInternalServerError, "Something went wrong", "The invoice could not be shown. Please try again in a moment.")
		return
	}
	c := newChrome(t, lang(in.Locale), "Invoice "+invoiceName(in.Invoice))
	c.SignOut = true
	c.NoHeading = true
	c.CSRFInput = template.HTML(`<input type="hidden" name="csrf" value="` + string(rs.s.CSRF[:]) + `">`)
	c.Body = template.HTML(body.String())
	var out bytes.Buffer
	if err := layout.ExecuteTemplate(&out, "page", c); err != nil {
		g.log.Error("gateway: rendering invoice layout", "err", err)
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

func invoiceName(inv *account.Invoice) string {
	if inv.Number != "" {
		return inv.Number
	}
	return inv.ID
}

// invoicePDF serves the invoice as a PDF download named after its number.
func (g *Gateway) invoicePDF(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) {
	in := g.invoiceInput(ctx, t, rs, id)
	if in == nil {
		return
	}
	var pdf bytes.Buffer
	if err := invoicedoc.RenderPDF(&pdf, in); err != nil {
		g.log.Error("gateway: rendering invoice PDF", "tenant", t.Slug, "err", err)
		g.errorPage(ctx, t, fasthttp.StatusInternalServerError, "Something went wrong", "The PDF could not be made. Please try again in a moment.")
		return
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+invoicedoc.FileName(in.Invoice)+`"`)
	ctx.SetContentType("application/pdf")
	ctx.SetBody(pdf.Bytes())
}
