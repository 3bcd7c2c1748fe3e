package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/gateway/domains"
	"github.com/portico-billing/portico/tenants"
	"github.com/valyala/fasthttp"
)

// ---- Settings → Portal

type portalForm struct {
	tenants.PortalDefaults
	LinkTTLMinutes, SessionTTLMinutes  string
	PaymentSetupURL                    string
	Errors                             map[string]string
	MinLink, MaxLink, MinSess, MaxSess int
}

func portalFormOf(t *tenants.Tenant) *portalForm {
	return &portalForm{
		PortalDefaults:    t.Portal,
		LinkTTLMinutes:    strconv.Itoa(int(t.LinkTTL.D() / time.Minute)),
		SessionTTLMinutes: strconv.Itoa(int(t.SessionTTL.D() / time.Minute)),
		PaymentSetupURL:   t.PaymentSetupURL,
	}
}

func (d *Dashboard) portalPage(ctx *fasthttp.RequestCtx, r *request, status int, f *portalForm, flash string, errs map[string]string) {
	if f == nil {
		f = portalFormOf(r.tenant)
	}
	f.Errors = errs
	f.MinLink, f.MaxLink = int(tenants.MinLinkTTL/time.Minute), int(tenants.MaxLinkTTL/time.Minute)
	f.MinSess, f.MaxSess = int(tenants.MinSessionTTL/time.Minute), int(tenants.MaxSessionTTL/time.Minute)
	v := r.view("portal", "Portal settings")
	v.Flash, v.Data = flash, f
	if len(errs) > 0 {
		v.Error = "Please correct the fields marked below. Nothing was saved."
	}
	d.render(ctx, status, "portal", v)
}

// minutes reads a whole number of minutes within [lo, hi].
func minutes(s string, lo, hi time.Duration) (time.Duration, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	v := time.Duration(n) * time.Minute
	return v, v >= lo && v <= hi
}

// savePortal validates and stores the portal defaults; sessions already issued keep theirs.
func (d *Dashboard) savePortal(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	on := func(name string) bool { return string(args.Peek(name)) == "on" }
	f := &portalForm{
		PortalDefaults: tenants.PortalDefaults{
			ShowPlanOverview: on("show_plan_overview"), AllowSubscriptionCancel: on("allow_subscription_cancel"),
			ShowInvoices: on("show_invoices"), ShowBillingDetails: on("show_billing_details"),
			AllowDetailsEdit: on("allow_details_edit"), AllowAutopayEdit: on("allow_autopay_edit"),
			CancelMode: string(args.Peek("cancel_mode")),
		},
		LinkTTLMinutes:    string(args.Peek("link_ttl")),
		SessionTTLMinutes: string(args.Peek("session_ttl")),
		PaymentSetupURL:   strings.TrimSpace(string(args.Peek("payment_setup_url"))),
	}
	errs := map[string]string{}
	if f.CancelMode != tenants.CancelEndOfTerm && f.CancelMode != tenants.CancelImmediate {
		errs["cancel_mode"] = "Choose when a cancellation takes effect."
	}
	linkTTL, ok := minutes(f.LinkTTLMinutes, tenants.MinLinkTTL, tenants.MaxLinkTTL)
	if !ok {
		errs["link_ttl"] = fmt.Sprintf("Enter a whole number of minutes from %d to %d (7 days).", int(tenants.MinLinkTTL/time.Minute), int(tenants.MaxLinkTTL/time.Minute))
	}
	sessTTL, ok := minutes(f.SessionTTLMinutes, tenants.MinSessionTTL, tenants.MaxSessionTTL)
	if !ok {
		errs["session_ttl"] = fmt.Sprintf("Enter a whole number of minutes from %d to %d (12 hours).", int(tenants.MinSessionTTL/time.Minute), int(tenants.MaxSessionTTL/time.Minute))
	}
	if f.PaymentSetupURL != "" {
		u, err := url.Parse(f.PaymentSetupURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(f.PaymentSetupURL) > 2000 {
			errs["payment_setup_url"] = "Enter an absolute https:// address, or leave it empty to hide “Add payment method”."
		}
	}
	if len(errs) > 0 {
		d.portalPage(ctx, r, fasthttp.StatusBadRequest, f, "", errs)
		return
	}
	t, err := d.store.UpdateTenant(ctx, r.tenant.ID, func(t *tenants.Tenant) error {
		t.Portal = f.PortalDefaults
		t.LinkTTL, t.SessionTTL = tenants.Duration(linkTTL), tenants.Duration(sessTTL)
		t.PaymentSetupURL = f.PaymentSetupURL
		return nil
	}, nil)
	if errors.Is(err, tenants.ErrInvalidTenant) {
		d.portalPage(ctx, r, fasthttp.StatusBadRequest, f, "", map[string]string{"form": err.Error()})
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: portal settings saved", "tenant", t.Slug, "by", r.s.Email)
	r.tenant = t
	d.portalPage(ctx, r, fasthttp.StatusOK, nil, "Portal settings saved. New links use them; links already sent keep the settings they were made with.", nil)
}

// ---- Settings → Domains

type domainView struct {
	*tenants.Domain
	Records domains.Instructions
}

type domainsData struct {
	Domains []domainView
	Name    string
}

func (d *Dashboard) domainsPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, name string) {
	list, err := d.store.Domains(ctx, r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	data := &domainsData{Name: name}
	for _, dm := range list {
		data.Domains = append(data.Domains, domainView{Domain: dm, Records: d.cfg.Domains.InstructionsFor(r.tenant, dm)})
	}
	v := r.view("domains", "Custom domains")
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "domains", v)
}

func (d *Dashboard) domainAction(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	name := strings.TrimSpace(string(args.Peek("domain")))
	switch string(args.Peek("action")) {
	case "add":
		dm, err := d.store.AddDomain(ctx, r.tenant.ID, name, d.cfg.Now())
		switch {
		case errors.Is(err, tenants.ErrInvalidDomain):
			d.domainsPage(ctx, r, fasthttp.StatusBadRequest, "", strings.TrimPrefix(err.Error(), tenants.ErrInvalidDomain.Error()+": ")+".", name)
		case errors.Is(err, tenants.ErrDomainTaken):
			d.domainsPage(ctx, r, fasthttp.StatusConflict, "", "This domain is already added (to this or another workspace).", name)
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: domain added", "tenant", r.tenant.Slug, "domain", dm.Name, "by", r.s.Email)
			d.domainsPage(ctx, r, fasthttp.StatusOK, dm.Name+" was added. Create its two DNS records, then choose Verify now.", "", "")
		}
	case "verify":
		vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		dm, err := d.cfg.Domains.Verify(vctx, r.tenant, name)
		cancel()
		switch {
		case errors.Is(err, tenants.ErrDomainNotFound):
			d.domainsPage(ctx, r, fasthttp.StatusNotFound, "", "There is no such domain in this workspace.", "")
		case err != nil:
			d.unavailable(ctx, r, err)
		case dm.Status == tenants.DomainActive:
			d.domainsPage(ctx, r, fasthttp.StatusOK, dm.Name+" is verified and active: the portal is served on it.", "", "")
		default:
			d.domainsPage(ctx, r, fasthttp.StatusOK, "", dm.Name+" is not verified yet: "+dm.LastError, "")
		}
	case "remove":
		err := d.store.RemoveDomain(ctx, r.tenant.ID, name)
		switch {
		case errors.Is(err, tenants.ErrDomainNotFound):
			d.domainsPage(ctx, r, fasthttp.StatusNotFound, "", "There is no such domain in this workspace.", "")
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: domain removed", "tenant", r.tenant.Slug, "domain", name, "by", r.s.Email)
			d.domainsPage(ctx, r, fasthttp.StatusOK, name+" was removed; the portal is no longer served on it.", "", "")
		}
	default:
		d.domainsPage(ctx, r, fasthttp.StatusBadRequest, "", "Unknown action.", "")
	}
}

// ---- Settings → API keys

type apiKeysData struct {
	Keys   []*tenants.APIKey
	NewKey string // shown once, right after creation
	NewID  string
}

func (d *Dashboard) apiKeysPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, newKey string) {
	keys, err := d.store.APIKeys(ctx, r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("api-keys", "API keys")
	v.Flash, v.Error, v.Data = flash, errMsg, &apiKeysData{Keys: keys, NewKey: newKey}
	d.render(ctx, status, "apikeys", v)
}

func (d *Dashboard) apiKeyAction(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	switch string(args.Peek("action")) {
	case "create":
		name := strings.TrimSpace(string(args.Peek("name")))
		rec, key, err := d.store.CreateAPIKey(ctx, r.tenant.ID, name)
		if errors.Is(err, tenants.ErrInvalidTenant) {
			d.apiKeysPage(ctx, r, fasthttp.StatusBadRequest, "", "The name may have at most 100 characters.", "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: API key created", "tenant", r.tenant.Slug, "key", rec.ID, "by", r.s.Email)
		d.apiKeysPage(ctx, r, fasthttp.StatusOK, "API key "+rec.ID+" was created. Copy it now: it is shown only this once.", "", key)
	case "revoke":
		id := string(args.Peek("id"))
		err := d.store.RevokeAPIKey(ctx, r.tenant.ID, id)
		switch {
		case errors.Is(err, tenants.ErrKeyNotFound):
			d.apiKeysPage(ctx, r, fasthttp.StatusNotFound, "", "There is no such API key in this workspace.", "")
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: API key revoked", "tenant", r.tenant.Slug, "key", id, "by", r.s.Email)
			d.apiKeysPage(ctx, r, fasthttp.StatusOK, "API key "+id+" was revoked; requests with it are refused from now on.", "", "")
		}
	default:
		d.apiKeysPage(ctx, r, fasthttp.StatusBadRequest, "", "Unknown action.", "")
	}
}

// ---- Settings → Webhooks

// WebhookPages is what the webhook pages need of the webhook service. Every method is scoped to
// the tenant: another tenant's endpoint id must not be found. The lead adapts
// gateway/webhooks.Service to it.
type WebhookPages interface {
	// ListEndpoints lists the tenant's endpoints, oldest first.
	ListEndpoints(ctx context.Context, tenantID string) ([]WebhookEndpoint, error)
	// CreateEndpoint adds an endpoint receiving every event type and returns it with its signing
	// secret ("whsec_…"), which is shown once. A URL the service refuses is an error wrapping
	// ErrWebhookInvalid, whose text is shown to the admin.
	CreateEndpoint(ctx context.Context, tenantID, url, description string) (WebhookEndpoint, string, error)
	// DeleteEndpoint removes an endpoint; unknown ids wrap ErrWebhookNotFound.
	DeleteEndpoint(ctx context.Context, tenantID, endpointID string) error
	// SendTest queues a test event for the endpoint and returns its event id.
	SendTest(ctx context.Context, tenantID, endpointID string) (string, error)
	// ListDeliveries returns the endpoint's most recent deliveries, newest first, at most limit.
	ListDeliveries(ctx context.Context, tenantID, endpointID string, limit int) ([]WebhookDelivery, error)
}

// Errors a WebhookPages implementation wraps for the admin's mistakes.
var (
	ErrWebhookInvalid  = errors.New("dashboard: invalid webhook endpoint")
	ErrWebhookNotFound = errors.New("dashboard: webhook endpoint not found")
)

// WebhookEndpoint is an endpoint as the pages show it.
type WebhookEndpoint struct {
	ID, URL, Description string
	// Events are the subscribed event types; empty means all.
	Events         []string
	Disabled       bool
	DisabledReason string
	CreatedAt      time.Time
}

// WebhookDelivery is one event's delivery to an endpoint.
type WebhookDelivery struct {
	ID, EventID, EventType string
	// State is pending, delivered, failed or disabled.
	State string
	// Attempts made so far; LastStatus is the HTTP status of the last one (0: none).
	Attempts, LastStatus int
	Error                string
	CreatedAt, UpdatedAt time.Time
	NextRetryAt          time.Time
}

type webhooksData struct {
	Endpoints []WebhookEndpoint
	NewSecret string
	URL, Desc string
}

func (d *Dashboard) webhooksPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, secret string) {
	list, err := d.cfg.Webhooks.ListEndpoints(ctx, r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("webhooks", "Webhooks")
	data := &webhooksData{Endpoints: list, NewSecret: secret}
	if errMsg != "" {
		data.URL, data.Desc = string(ctx.PostArgs().Peek("url")), string(ctx.PostArgs().Peek("description"))
	}
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "webhooks", v)
}

func (d *Dashboard) webhookAction(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	wh := d.cfg.Webhooks
	id := string(args.Peek("id"))
	notFound := func(err error) bool {
		if errors.Is(err, ErrWebhookNotFound) {
			d.webhooksPage(ctx, r, fasthttp.StatusNotFound, "", "There is no such endpoint in this workspace.", "")
			return true
		}
		return false
	}
	switch string(args.Peek("action")) {
	case "create":
		u := strings.TrimSpace(string(args.Peek("url")))
		ep, secret, err := wh.CreateEndpoint(ctx, r.tenant.ID, u, strings.TrimSpace(string(args.Peek("description"))))
		if errors.Is(err, ErrWebhookInvalid) {
			d.webhooksPage(ctx, r, fasthttp.StatusBadRequest, "", err.Error(), "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: webhook endpoint added", "tenant", r.tenant.Slug, "endpoint", ep.ID, "by", r.s.Email)
		d.webhooksPage(ctx, r, fasthttp.StatusOK, "Endpoint "+ep.URL+" was added. Copy its signing secret now: it is shown only this once.", "", secret)
	case "test":
		evt, err := wh.SendTest(ctx, r.tenant.ID, id)
		if notFound(err) {
			return
		}
		if errors.Is(err, ErrWebhookInvalid) {
			d.webhooksPage(ctx, r, fasthttp.StatusConflict, "", err.Error(), "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.webhooksPage(ctx, r, fasthttp.StatusOK, "A test event ("+evt+") is on its way. Its delivery appears in the endpoint's message logs.", "", "")
	case "delete":
		err := wh.DeleteEndpoint(ctx, r.tenant.ID, id)
		if notFound(err) {
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: webhook endpoint deleted", "tenant", r.tenant.Slug, "endpoint", id, "by", r.s.Email)
		d.webhooksPage(ctx, r, fasthttp.StatusOK, "The endpoint was deleted; it receives nothing more.", "", "")
	default:
		d.webhooksPage(ctx, r, fasthttp.StatusBadRequest, "", "Unknown action.", "")
	}
}

type deliveriesData struct {
	Endpoint   WebhookEndpoint
	Deliveries []WebhookDelivery
}

// deliveriesPage is an endpoint's message log.
func (d *Dashboard) deliveriesPage(ctx *fasthttp.RequestCtx, r *request, id string) {
	eps, err := d.cfg.Webhooks.ListEndpoints(ctx, r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	data := &deliveriesData{}
	found := false
	for _, e := range eps {
		if e.ID == id {
			data.Endpoint, found = e, true
		}
	}
	if !found {
		d.message(ctx, r, fasthttp.StatusNotFound, "Endpoint not found", "There is no such webhook endpoint in this workspace.")
		return
	}
	if data.Deliveries, err = d.cfg.Webhooks.ListDeliveries(ctx, r.tenant.ID, id, 100); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("webhooks", "Message logs")
	v.Data = data
	d.render(ctx, fasthttp.StatusOK, "deliveries", v)
}
