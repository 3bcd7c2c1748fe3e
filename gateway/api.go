package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fasthttp/router"
	"github.com/portico-billing/portico/gateway/links"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// apiHandler is an API handler for an authenticated tenant.
type apiHandler func(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey)

func (g *Gateway) apiRouter() *router.Router {
	r := router.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.POST("/portal/customer-session/customer-portal", g.authed(g.apiCreateSession))
	r.GET("/v1/accounts", g.authed(g.apiListAccounts))
	r.PUT("/v1/accounts/{id}", g.authed(g.apiPutAccount))
	r.GET("/v1/accounts/{id}", g.authed(g.apiGetAccount))
	r.DELETE("/v1/accounts/{id}", g.authed(g.apiDeleteAccount))
	r.POST("/v1/accounts/{id}/refresh", g.authed(g.apiRefreshAccount))
	r.PUT("/v1/plans/{id}", g.authed(g.apiPutPlan))
	r.GET("/v1/plans", g.authed(g.apiListPlans))
	r.GET("/v1/plans/{id}", g.authed(g.apiGetPlan))
	r.DELETE("/v1/plans/{id}", g.authed(g.apiArchivePlan))
	r.GET("/v1/plan-policy", g.authed(g.apiGetPlanPolicy))
	r.PUT("/v1/plan-policy", g.authed(g.apiPutPlanPolicy))
	r.GET("/v1/portal-settings", g.authed(g.apiGetPortalSettings))
	r.PATCH("/v1/portal-settings", g.authed(g.apiPatchPortalSettings))
	r.GET("/v1/portal-sessions", g.authed(g.apiSessionAudits))
	r.POST("/v1/accounts/{id}/portal-link", g.authed(g.apiEmailPortalLink))
	g.memberRoutes(r)
	r.POST("/v1/portal-sessions/{id}/revoke", g.authed(g.apiRevokeSession))
	r.POST("/v1/accounts/{id}/portal-sessions/revoke", g.authed(g.apiRevokeAccountSessions))
	r.POST("/v1/webhook-endpoints", g.authed(g.apiCreateWebhook))
	r.GET("/v1/webhook-endpoints", g.authed(g.apiListWebhooks))
	r.GET("/v1/webhook-endpoints/{id}", g.authed(g.apiGetWebhook))
	r.DELETE("/v1/webhook-endpoints/{id}", g.authed(g.apiDeleteWebhook))
	r.POST("/v1/webhook-endpoints/{id}/test", g.authed(g.apiTestWebhook))
	r.POST("/v1/webhook-endpoints/{id}/rotate-secret", g.authed(g.apiRotateWebhook))
	r.GET("/v1/webhook-deliveries", g.authed(g.apiWebhookDeliveries))
	r.PUT("/v1/backend", g.authed(g.apiPutBackend))
	r.GET("/v1/backend", g.authed(g.apiGetBackend))
	r.DELETE("/v1/backend", g.authed(g.apiDeleteBackend))
	r.POST("/v1/backend/rotate-secret", g.authed(g.apiRotateBackendSecret))
	r.POST("/v1/domains", g.authed(g.apiAddDomain))
	r.GET("/v1/domains", g.authed(g.apiListDomains))
	r.GET("/v1/domains/{name}", g.authed(g.apiGetDomain))
	r.POST("/v1/domains/{name}/verify", g.authed(g.apiVerifyDomain))
	r.DELETE("/v1/domains/{name}", g.authed(g.apiRemoveDomain))
	r.NotFound = func(ctx *fasthttp.RequestCtx) {
		writeProblem(ctx, fasthttp.StatusNotFound, fmt.Sprintf("no API route %s %s", ctx.Method(), ctx.Path()))
	}
	r.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeProblem(ctx, fasthttp.StatusMethodNotAllowed, fmt.Sprintf("method %s is not allowed on %s", ctx.Method(), ctx.Path()))
	}
	r.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		g.log.Error("gateway: panic in API handler", "path", string(ctx.Path()), "panic", fmt.Sprint(v))
		writeProblem(ctx, fasthttp.StatusInternalServerError, "internal error")
	}
	return r
}

// writeProblem writes the API's error shape {"status": N, "detail": "…"}.
func writeProblem(ctx *fasthttp.RequestCtx, status int, detail string) {
	b, _ := json.Marshal(struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}{status, detail})
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(append(b, '\n'))
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(ctx, fasthttp.StatusInternalServerError, "encoding response")
		return
	}
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetContentType("application/json")
	ctx.SetStatusCode(status)
	ctx.SetBody(append(b, '\n'))
}

// authed checks the bearer key and resolves its tenant.
func (g *Gateway) authed(h apiHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		// The scheme is case-insensitive (RFC 9110, section 11.1): "bearer" and "BEARER" are Bearer.
		auth := string(ctx.Request.Header.Peek("Authorization"))
		scheme, key, ok := strings.Cut(auth, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="portico"`)
			writeProblem(ctx, fasthttp.StatusUnauthorized, "missing API key: send Authorization: Bearer <key>")
			return
		}
		rec, err := g.store.Authenticate(web.Detach(ctx), strings.TrimSpace(key))
		if errors.Is(err, tenants.ErrKeyInvalid) {
			ctx.Response.Header.Set("WWW-Authenticate", `Bearer realm="portico", error="invalid_token"`)
			writeProblem(ctx, fasthttp.StatusUnauthorized, "API key is invalid or revoked")
			return
		}
		if err != nil {
			g.apiError(ctx, err)
			return
		}
		t, ok := g.store.TenantByID(rec.TenantID)
		if !ok {
			writeProblem(ctx, fasthttp.StatusUnauthorized, "API key is invalid or revoked")
			return
		}
		if ok, wait := g.apiLimit.allow(rec.ID, g.cfg.Now()); !ok {
			ctx.Response.Header.Set("Retry-After", retryAfter(wait))
			writeProblem(ctx, fasthttp.StatusTooManyRequests, "rate limit of this API key exceeded; retry after "+retryAfter(wait)+" s")
			return
		}
		h(ctx, t, rec)
	}
}

// apiError maps a store or validation error to a status and detail.
func (g *Gateway) apiError(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusInternalServerError
	detail := "internal error"
	switch {
	case errors.Is(err, account.ErrInvalid), errors.Is(err, links.ErrNoAccount), errors.Is(err, links.ErrBadLocale),
		errors.Is(err, links.ErrBadFlow), errors.Is(err, links.ErrBadReturnURL):
		status, detail = fasthttp.StatusBadRequest, trimPrefixes(err.Error())
	case errors.Is(err, links.ErrAccountMismatch):
		status, detail = fasthttp.StatusBadRequest, "accountId and accountAlias name different accounts"
	case errors.Is(err, tenants.ErrAccountNotFound):
		status, detail = fasthttp.StatusNotFound, "account not found"
	case errors.Is(err, tenants.ErrAliasTaken):
		status, detail = fasthttp.StatusConflict, "the alias is used by another account"
	case errors.Is(err, tenants.ErrRevisionMismatch):
		status, detail = fasthttp.StatusPreconditionFailed, "the account changed since the revision in If-Match; GET it again"
	case errors.Is(err, tenants.ErrQuotaExceeded):
		status, detail = fasthttp.StatusForbidden, quotaDetail(err)
	case errors.Is(err, tenants.ErrConflict):
		status, detail = fasthttp.StatusConflict, "a concurrent change won; retry the request"
	case errors.Is(err, tenants.ErrIdempotency):
		status, detail = fasthttp.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request body"
	case errors.Is(err, tenants.ErrSourceMode):
		status, detail = fasthttp.StatusConflict, "the tenant is in source mode: its account documents live in its billing system, which Portico asks (GET <backend url>/accounts/{id}); change the document there, then POST /v1/accounts/{id}/refresh"
	case errors.Is(err, tenants.ErrNotSourceMode):
		status, detail = fasthttp.StatusConflict, "the tenant is not in source mode: its documents are stored by PUT /v1/accounts/{id} and are never stale"
	case errors.Is(err, tenants.ErrSourceUnavailable):
		status, detail = fasthttp.StatusServiceUnavailable, "the tenant's billing system (the account source) did not give a usable answer and no copy is cached; retry later"
		ctx.Response.Header.Set("Retry-After", "5")
	case errors.Is(err, tenants.ErrStorageFull):
		status, detail = fasthttp.StatusServiceUnavailable, "storage is full: etcd reached its space quota and refuses every write; nothing was changed. The operator has been alerted (portico etcd maintenance frees space); retry later"
		ctx.Response.Header.Set("Retry-After", "60")
	case errors.Is(err, tenants.ErrUnavailable):
		status, detail = fasthttp.StatusServiceUnavailable, "storage is unavailable; nothing was changed, retry later"
		ctx.Response.Header.Set("Retry-After", "5")
	}
	if status >= 500 {
		g.log.Error("gateway: API request failed", "path", string(ctx.Path()), "status", status, "err", err)
	}
	writeProblem(ctx, status, detail)
}

// quotaDetail is the part of a quota error from the sentinel on: which limit, the usage and the
// limit's value (never another tenant's data: the error is about the caller's tenant).
func quotaDetail(err error) string {
	s := err.Error()
	if i := strings.Index(s, tenants.ErrQuotaExceeded.Error()); i >= 0 {
		s = s[i:]
	}
	return strings.TrimPrefix(s, "tenants: ") + "; delete accounts or ask the operator to raise the limit"
}

// trimPrefixes removes the package prefixes of sentinel errors from a detail for API clients.
func trimPrefixes(s string) string {
	for _, p := range []string{"links: ", "invalid account document: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return s
}

// checkJSON refuses what encoding/json would accept silently: invalid UTF-8 (it would be stored as
// U+FFFD) and an object with a key twice (the last would win). Other syntax errors are left to
// the decoder, which describes them.
func checkJSON(body []byte) error {
	if !utf8.Valid(body) {
		return errors.New("request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// One frame per open array or object; objects track their keys and whether a key is next.
	type frame struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // end of input, or a syntax error the decoder will describe
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				if top != nil && top.keys != nil {
					top.wantKey = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			case '[':
				if top != nil && top.keys != nil {
					top.wantKey = true
				}
				stack = append(stack, &frame{})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || top.keys == nil {
			continue
		}
		if top.wantKey {
			k, _ := tok.(string)
			if top.keys[k] {
				return fmt.Errorf("duplicate key %q in a JSON object", k)
			}
			top.keys[k] = true
			top.wantKey = false
			continue
		}
		top.wantKey = true
	}
}

// decodeJSON decodes a request body strictly into v, answering 4xx itself on failure.
func decodeJSON(ctx *fasthttp.RequestCtx, v any) bool {
	body, ok := putBody(ctx, "request body", MaxAPIBody)
	if !ok {
		return false
	}
	if err := account.UnmarshalStrict(body, v); err != nil {
		writeProblem(ctx, fasthttp.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// apiCreateSession is POST /portal/customer-session/customer-portal.
func (g *Gateway) apiCreateSession(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	var req links.Request
	if !decodeJSON(ctx, &req) {
		return
	}
	ikey := string(ctx.Request.Header.Peek("Idempotency-Key"))
	if len(ikey) > MaxIdempotencyKey {
		writeProblem(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("Idempotency-Key is longer than %d characters", MaxIdempotencyKey))
		return
	}
	if err := g.keyring.Sync(); err != nil {
		g.apiError(ctx, err)
		return
	}
	res, replayed, err := g.issuer.Create(web.Detach(ctx), t, &req, links.Options{
		CreatedBy: "apikey:" + key.ID, IdempotencyKey: ikey, RequestBody: ctx.PostBody(),
	})
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	if replayed {
		ctx.Response.Header.Set("Idempotent-Replayed", "true")
	}
	writeJSON(ctx, fasthttp.StatusCreated, res)
}

// pathID is the {id} path parameter of a what ("account", "plan"), validated; it answers 400
// itself when the id is not valid.
func pathID(ctx *fasthttp.RequestCtx, what string) (string, bool) {
	id, _ := ctx.UserValue("id").(string)
	if !account.ValidID(id) {
		writeProblem(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("%s id %q must be 1-128 letters, digits or _.:@+-", what, id))
		return "", false
	}
	return id, true
}

// accountID is the {id} path parameter, validated.
func accountID(ctx *fasthttp.RequestCtx) (string, bool) { return pathID(ctx, "account") }

// pathIDIfMatch is the {id} path parameter and If-Match of a write (PUT, DELETE), answering 400
// itself when either is not valid.
func pathIDIfMatch(ctx *fasthttp.RequestCtx, what string) (id string, match int64, ok bool) {
	if id, ok = pathID(ctx, what); !ok {
		return "", 0, false
	}
	if match, ok = ifMatch(ctx); !ok {
		return "", 0, false
	}
	return id, match, true
}

// putBody is a request's body of a what ("account document", "plan"), within limit bytes (else 413)
// and passing checkJSON (else 400); it answers itself when not.
func putBody(ctx *fasthttp.RequestCtx, what string, limit int) ([]byte, bool) {
	body := ctx.PostBody()
	if len(body) > limit {
		writeProblem(ctx, fasthttp.StatusRequestEntityTooLarge, fmt.Sprintf("%s is %d bytes, the limit is %d", what, len(body), limit))
		return nil, false
	}
	if err := checkJSON(body); err != nil {
		writeProblem(ctx, fasthttp.StatusBadRequest, err.Error())
		return nil, false
	}
	return body, true
}

// sameID answers 400 when the id a PUT's body names (in the what: "document", "plan") is not the
// path's.
func sameID(ctx *fasthttp.RequestCtx, what, got, path string) bool {
	if got != path {
		writeProblem(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("id %q in the %s does not match %q in the path", got, what, path))
		return false
	}
	return true
}

// writeStored answers a PUT that stored v at revision rev: 201 when it created it, else 200, with
// the revision in ETag.
func writeStored(ctx *fasthttp.RequestCtx, rev int64, created bool, v any) {
	setRevision(ctx, rev)
	status := fasthttp.StatusOK
	if created {
		status = fasthttp.StatusCreated
	}
	writeJSON(ctx, status, v)
}

// ifMatch parses If-Match: a revision as returned in ETag ("123" or 123); 0 when absent.
func ifMatch(ctx *fasthttp.RequestCtx) (int64, bool) {
	h := strings.TrimSpace(string(ctx.Request.Header.Peek("If-Match")))
	if h == "" {
		return 0, true
	}
	rev, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(h, "W/"), `"`), 10, 64)
	if err != nil || rev <= 0 {
		writeProblem(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("If-Match %q is not a revision returned in ETag", h))
		return 0, false
	}
	return rev, true
}

func setRevision(ctx *fasthttp.RequestCtx, rev int64) {
	ctx.Response.Header.Set("ETag", `"`+strconv.FormatInt(rev, 10)+`"`)
}

// apiPutAccount is PUT /v1/accounts/{id}: create or replace the account document.
func (g *Gateway) apiPutAccount(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, match, ok := pathIDIfMatch(ctx, "account")
	if !ok {
		return
	}
	body, ok := putBody(ctx, "account document", account.MaxDocumentSize)
	if !ok {
		return
	}
	a, err := account.Decode(withDefaultID(body, id))
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	if !sameID(ctx, "document", a.ID, id) {
		return
	}
	rev, created, err := g.store.PutAccount(web.Detach(ctx), t.ID, a, match)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	g.checkUsageAlerts(t, a)
	writeStored(ctx, rev, created, a)
}

// withDefaultID lets a PUT body omit "id": the path's id is used. The body is only rewritten when
// it is a JSON object without an "id" member.
func withDefaultID(body []byte, id string) []byte {
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		return body
	}
	if _, ok := probe["id"]; ok {
		return body
	}
	i := bytes.IndexByte(body, '{')
	idJSON, _ := json.Marshal(id)
	rest := bytes.TrimSpace(body[i+1:])
	sep := ","
	if len(rest) > 0 && rest[0] == '}' {
		sep = ""
	}
	out := make([]byte, 0, len(body)+len(idJSON)+8)
	out = append(out, body[:i+1]...)
	out = append(out, `"id":`...)
	out = append(out, idJSON...)
	out = append(out, sep...)
	return append(out, body[i+1:]...)
}

// apiGetAccount is GET /v1/accounts/{id}.
func (g *Gateway) apiGetAccount(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	snap, err := g.store.Account(web.Detach(ctx), t.ID, id)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	setRevision(ctx, snap.Revision)
	writeJSON(ctx, fasthttp.StatusOK, snap.Account)
}

// apiDeleteAccount is DELETE /v1/accounts/{id}.
func (g *Gateway) apiDeleteAccount(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, match, ok := pathIDIfMatch(ctx, "account")
	if !ok {
		return
	}
	if err := g.store.DeleteAccount(web.Detach(ctx), t.ID, id, match); err != nil {
		g.apiError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiRefreshAccount is POST /v1/accounts/{id}/refresh: a source-mode tenant's cached copy of the
// account is dropped on every instance, so that the next view fetches it (204); 409 for a tenant
// not in source mode.
func (g *Gateway) apiRefreshAccount(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	if err := g.store.RefreshAccount(web.Detach(ctx), t.ID, id); err != nil {
		g.apiError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiListAccounts is GET /v1/accounts?alias=A (the account with that alias) or
// GET /v1/accounts?after=ID&limit=N (a page of account ids).
func (g *Gateway) apiListAccounts(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	args := ctx.QueryArgs()
	if args.Has("alias") {
		id, err := g.store.AccountIDByAlias(web.Detach(ctx), t.ID, string(args.Peek("alias")))
		if err != nil {
			g.apiError(ctx, err)
			return
		}
		snap, err := g.store.Account(web.Detach(ctx), t.ID, id)
		if err != nil {
			g.apiError(ctx, err)
			return
		}
		setRevision(ctx, snap.Revision)
		writeJSON(ctx, fasthttp.StatusOK, snap.Account)
		return
	}
	limit := int64(100)
	if v := args.Peek("limit"); len(v) > 0 {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil || n < 1 || n > 1000 {
			writeProblem(ctx, fasthttp.StatusBadRequest, "limit must be an integer from 1 to 1000")
			return
		}
		limit = n
	}
	ids, err := g.store.AccountIDs(web.Detach(ctx), t.ID, string(args.Peek("after")), limit+1)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	more := int64(len(ids)) > limit
	if more {
		ids = ids[:limit]
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data    []string `json:"data"`
		HasMore bool     `json:"hasMore"`
	}{ids, more})
}

// apiRevokeSession is POST /v1/portal-sessions/{id}/revoke: every instance refuses the session's
// cookie within a second. Revoking an unknown id is harmless (204).
func (g *Gateway) apiRevokeSession(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	id, _ := ctx.UserValue("id").(string)
	if !strings.HasPrefix(id, "ps_") || !account.ValidID(id) {
		writeProblem(ctx, fasthttp.StatusBadRequest, fmt.Sprintf("%q is not a portal session id", id))
		return
	}
	if err := g.store.RevokeSession(web.Detach(ctx), t.ID, id, g.cfg.Now()); err != nil {
		g.apiError(ctx, err)
		return
	}
	if err := g.store.RecordAudit(web.Detach(ctx), t.ID, id, tenants.AuditEntry{Type: tenants.AuditRevoked, At: g.cfg.Now(), By: "apikey:" + key.ID}); err != nil {
		g.log.Warn("gateway: recording revocation", "tenant", t.Slug, "err", err)
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiSessionAudits is GET /v1/portal-sessions?accountId=…: the account's portal sessions with their
// audit trails (created by whom, opened from where, actions, sign-out, revocation).
func (g *Gateway) apiSessionAudits(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	aid := string(ctx.QueryArgs().Peek("accountId"))
	if !account.ValidID(aid) {
		writeProblem(ctx, fasthttp.StatusBadRequest, "accountId is required")
		return
	}
	audits, err := g.store.SessionAudits(web.Detach(ctx), t.ID, aid)
	if err != nil {
		g.apiError(ctx, err)
		return
	}
	if audits == nil {
		audits = []tenants.SessionAudit{}
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data []tenants.SessionAudit `json:"data"`
	}{audits})
}

// apiRevokeAccountSessions is POST /v1/accounts/{id}/portal-sessions/revoke: every session of the
// account started until now ends.
func (g *Gateway) apiRevokeAccountSessions(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	if err := g.store.RevokeAccountSessions(web.Detach(ctx), t.ID, id, g.cfg.Now()); err != nil {
		g.apiError(ctx, err)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// apiEmailPortalLink is POST /v1/accounts/{id}/portal-link: the dashboard's Send Portal Link for
// tenant backends (both send through links.Emailer): a new link with the tenant's defaults, emailed to the account's billing email.
func (g *Gateway) apiEmailPortalLink(ctx *fasthttp.RequestCtx, t *tenants.Tenant, key *tenants.APIKey) {
	id, ok := accountID(ctx)
	if !ok {
		return
	}
	// The body is optional: {"locale": "ja"} overrides the account's language.
	var req struct {
		Locale string `json:"locale"`
	}
	if len(ctx.PostBody()) > 0 && !decodeJSON(ctx, &req) {
		return
	}
	if g.cfg.PortalLinkMailer == nil {
		writeProblem(ctx, fasthttp.StatusServiceUnavailable, "email is not configured on this server (--smtp-addr)")
		return
	}
	by := "apikey:" + key.ID
	res, to, err := g.cfg.PortalLinkMailer.EmailPortalLink(web.Detach(ctx), t, id, req.Locale, by)
	switch {
	case errors.Is(err, links.ErrBadLocale):
		writeProblem(ctx, fasthttp.StatusBadRequest, trimPrefixes(err.Error()))
	case err == nil:
		g.log.Info("gateway: portal link emailed", "tenant", t.Slug, "account", id, "session", res.SessionID, "by", by)
		writeJSON(ctx, fasthttp.StatusAccepted, struct {
			SessionID string `json:"sessionId"`
			ExpiresAt any    `json:"expiresAt"`
			SentTo    string `json:"sentTo"`
		}{res.SessionID, res.ExpiresAt, to})
	case errors.Is(err, tenants.ErrAccountNotFound):
		writeProblem(ctx, fasthttp.StatusNotFound, "account not found")
	case errors.Is(err, links.ErrNoEmail):
		writeProblem(ctx, fasthttp.StatusConflict, "the account has no billing email")
	case errors.Is(err, links.ErrRateLimited):
		ctx.Response.Header.Set("Retry-After", "3600")
		writeProblem(ctx, fasthttp.StatusTooManyRequests, "too many portal links were emailed to this account this hour")
	case errors.Is(err, links.ErrMailNotConfigured):
		writeProblem(ctx, fasthttp.StatusServiceUnavailable, "email is not configured on this server (--smtp-addr)")
	case errors.Is(err, tenants.ErrUnavailable):
		g.apiError(ctx, err)
	default:
		g.log.Warn("gateway: emailing a portal link failed", "tenant", t.Slug, "account", id, "by", by, "err", err)
		writeProblem(ctx, fasthttp.StatusBadGateway, "the mail server did not accept the message")
	}
}
