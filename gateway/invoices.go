package gateway

import (
	"bytes"
	"html/template"

	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/invoicedoc"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// invoiceInput finds a visible invoice of the session's account; anything else is 404 — another
// account's invoice id and a draft look the same as an id that does not exist.
func (g *Gateway) invoiceInput(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) *invoicedoc.Input {
	if !account.ValidID(id) {
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusNotFound, "error.invoiceNotFound")
		return nil
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return nil
	}
	inv := snap.Account.Invoice(id)
	if inv == nil || !inv.Visible() {
		g.messagePage(ctx, t, sessionLang(string(rs.s.Locale), snap, t), fasthttp.StatusNotFound, "error.invoiceNotFound")
		return nil
	}
	// The document's language is the session's (invoicedoc resolves the same chain from Locale).
	in := &invoicedoc.Input{Tenant: t, Account: snap.Account, Invoice: inv, Locale: resolveLocale(string(rs.s.Locale), snap, t).locale, Now: g.cfg.Now(), CJKFont: g.cfg.PDFCJKFont}
	if l, err := g.store.Logo(web.Detach(ctx), t); err == nil && l != nil {
		in.Logo, in.LogoType = l.Data, l.ContentType
	}
	return in
}

// creditNoteInput finds a credit note of the session's account whose invoice the portal shows;
// anything else is 404, like invoiceInput.
func (g *Gateway) creditNoteInput(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, id string) *invoicedoc.Input {
	if !account.ValidID(id) {
		g.messagePage(ctx, t, g.langOf(ctx, t, rs), fasthttp.StatusNotFound, "error.creditNoteNotFound")
		return nil
	}
	snap := g.snapshot(ctx, t, rs)
	if snap == nil {
		return nil
	}
	cn := snap.Account.CreditNote(id)
	var inv *account.Invoice
	if cn != nil {
		inv = snap.Account.Invoice(cn.InvoiceID)
	}
	if inv == nil || !inv.Visible() {
		g.messagePage(ctx, t, sessionLang(string(rs.s.Locale), snap, t), fasthttp.StatusNotFound, "error.creditNoteNotFound")
		return nil
	}
	in := &invoicedoc.Input{Tenant: t, Account: snap.Account, Invoice: inv, CreditNote: cn, Locale: resolveLocale(string(rs.s.Locale), snap, t).locale, Now: g.cfg.Now(), CJKFont: g.cfg.PDFCJKFont}
	if l, err := g.store.Logo(web.Detach(ctx), t); err == nil && l != nil {
		in.Logo, in.LogoType = l.Data, l.ContentType
	}
	return in
}

// invoicePage serves the printable invoice page, or a credit note's.
func (g *Gateway) invoicePage(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, in *invoicedoc.Input) {
	if in == nil {
		return
	}
	l := sessionLang(in.Locale, nil, t) // in.Locale is already the resolved locale
	var body bytes.Buffer
	if err := invoicedoc.RenderHTML(&body, in); err != nil {
		g.log.Error("gateway: rendering invoice", "tenant", t.Slug, "err", err)
		g.messagePageText(ctx, t, l, fasthttp.StatusInternalServerError, "error.internal.title", "error.internal.invoice")
		return
	}
	c := newChrome(t, l, invoicedoc.Title(in))
	c.SignOut = true
	c.NoHeading = true
	c.CSRFInput = template.HTML(`<input type="hidden" name="csrf" value="` + string(rs.s.CSRF[:]) + `">`)
	c.setBack(g.returnURL(ctx, t))
	c.Body = template.HTML(body.String())
	var out bytes.Buffer
	if err := c.execute(&out, "page"); err != nil {
		g.log.Error("gateway: rendering invoice layout", "err", err)
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(out.Bytes())
}

// invoicePDF serves the invoice (or credit note) as a PDF download named after its number.
func (g *Gateway) invoicePDF(ctx *fasthttp.RequestCtx, t *tenants.Tenant, rs *reqScratch, in *invoicedoc.Input) {
	if in == nil {
		return
	}
	var pdf bytes.Buffer
	if err := invoicedoc.RenderPDF(&pdf, in); err != nil {
		g.log.Error("gateway: rendering invoice PDF", "tenant", t.Slug, "err", err)
		g.messagePageText(ctx, t, sessionLang(in.Locale, nil, t), fasthttp.StatusInternalServerError, "error.internal.title", "error.internal.pdf")
		return
	}
	setPortalHeaders(ctx, t)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	name := invoicedoc.FileName(in.Invoice)
	if in.CreditNote != nil {
		name = invoicedoc.CreditNoteFileName(in.CreditNote)
	}
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	ctx.SetContentType("application/pdf")
	ctx.SetBody(pdf.Bytes())
}
