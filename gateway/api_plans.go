package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// planStore is what the plans API needs of the data layer; *tenants.Store is one.
type planStore interface {
	Catalog(ctx context.Context, tenantID string) (*tenants.CatalogSnapshot, error)
	PutPlan(ctx context.Context, tenantID string, p *catalog.Plan, ifMatch int64) (rev int64, created bool, err error)
	ArchivePlan(ctx context.Context, tenantID, planID string, ifMatch int64) (tenants.StoredPlan, error)
	PutPlanPolicy(ctx context.Context, tenantID string, p *catalog.Policy, ifMatch int64) (int64, error)
}

var _ planStore = (*tenants.Store)(nil)

// planView is a plan as the API shows it: archived is always present.
type planView struct {
	*catalog.Plan
	Archived bool `json:"archived"`
}

func viewPlan(p *catalog.Plan) planView { return planView{Plan: p, Archived: p.Archived} }

// planError maps the catalog's errors to API answers.
func (g *Gateway) planError(ctx *fasthttp.RequestCtx, err error) {
	switch {
	case errors.Is(err, catalog.ErrInvalid):
		writeProblem(ctx, fasthttp.StatusBadRequest, strings.ReplaceAll(err.Error(), catalog.ErrInvalid.Error()+": ", ""))
	case errors.Is(err, tenants.ErrPlanNotFound):
		writeProblem(ctx, fasthttp.StatusNotFound, "plan not found")
	case errors.Is(err, tenants.ErrTooManyPlans):
		writeProblem(ctx, fasthttp.StatusConflict, fmt.Sprintf("the catalog holds %d plans, the most allowed; archived plans count too, as they stay for the subscriptions on them: change an archived plan into the new one with PUT", catalog.MaxPlans))
	case errors.Is(err, tenants.ErrRevisionMismatch):
		writeProblem(ctx, fasthttp.StatusPreconditionFailed, "it changed since the revision in If-Match; GET it again")
	default:
		g.apiError(ctx, err)
	}
}

// apiPutPlan is PUT /v1/plans/{id}: create or replace a plan of the catalog (archived: true
// archives it, false offers it again).
func (g *Gateway) apiPutPlan(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, match, ok := pathIDIfMatch(ctx, "plan")
	if !ok {
		return
	}
	body, ok := putBody(ctx, "plan", catalog.MaxPlanSize)
	if !ok {
		return
	}
	p, err := catalog.DecodePlan(withDefaultID(body, id))
	if err != nil {
		g.planError(ctx, err)
		return
	}
	if !sameID(ctx, "plan", p.ID, id) {
		return
	}
	rev, created, err := g.plans.PutPlan(web.Detach(ctx), t.ID, p, match)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	writeStored(ctx, rev, created, viewPlan(p))
}

// apiListPlans is GET /v1/plans: every plan, archived ones too, by family then id.
func (g *Gateway) apiListPlans(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	c, err := g.plans.Catalog(web.Detach(ctx), t.ID)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	out := make([]planView, 0, len(c.Plans))
	for _, p := range c.Plans {
		out = append(out, viewPlan(p.Plan))
	}
	writeJSON(ctx, fasthttp.StatusOK, struct {
		Data []planView `json:"data"`
	}{out})
}

// apiGetPlan is GET /v1/plans/{id}.
func (g *Gateway) apiGetPlan(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, ok := pathID(ctx, "plan")
	if !ok {
		return
	}
	c, err := g.plans.Catalog(web.Detach(ctx), t.ID)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	p, ok := c.Plan(id)
	if !ok {
		writeProblem(ctx, fasthttp.StatusNotFound, "plan not found")
		return
	}
	setRevision(ctx, p.Revision)
	writeJSON(ctx, fasthttp.StatusOK, viewPlan(p.Plan))
}

// apiArchivePlan is DELETE /v1/plans/{id}: the plan is archived, not deleted (subscriptions on
// it still show it); the answer is the archived plan.
func (g *Gateway) apiArchivePlan(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	id, match, ok := pathIDIfMatch(ctx, "plan")
	if !ok {
		return
	}
	p, err := g.plans.ArchivePlan(web.Detach(ctx), t.ID, id, match)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	setRevision(ctx, p.Revision)
	writeJSON(ctx, fasthttp.StatusOK, viewPlan(p.Plan))
}

// apiGetPlanPolicy is GET /v1/plan-policy: the tenant's change policy (the zero policy, which
// allows changes at the end of the period only, when none was stored).
func (g *Gateway) apiGetPlanPolicy(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	c, err := g.plans.Catalog(web.Detach(ctx), t.ID)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	if c.PolicyRevision != 0 {
		setRevision(ctx, c.PolicyRevision)
	}
	writeJSON(ctx, fasthttp.StatusOK, &c.Policy)
}

// apiPutPlanPolicy is PUT /v1/plan-policy: replace the change policy.
func (g *Gateway) apiPutPlanPolicy(ctx *fasthttp.RequestCtx, t *tenants.Tenant, _ *tenants.APIKey) {
	match, ok := ifMatch(ctx)
	if !ok {
		return
	}
	body, ok := putBody(ctx, "policy", catalog.MaxPolicySize)
	if !ok {
		return
	}
	p, err := catalog.DecodePolicy(body)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	rev, err := g.plans.PutPlanPolicy(web.Detach(ctx), t.ID, p, match)
	if err != nil {
		g.planError(ctx, err)
		return
	}
	setRevision(ctx, rev)
	writeJSON(ctx, fasthttp.StatusOK, p)
}
