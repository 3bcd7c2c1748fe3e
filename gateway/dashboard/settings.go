package dashboard

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/certs/domains"
	"github.com/portico-billing/portico/gateway/web"
	"github.com/portico-billing/portico/i18n"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/valyala/fasthttp"
)

// ---- Settings → Portal

type portalForm struct {
	tenants.PortalDefaults
	LinkTTLMinutes, SessionTTLMinutes  string
	PaymentSetupURL                    string
	EmailSignIn                        bool
	Errors                             map[string]string
	MinLink, MaxLink, MinSess, MaxSess int
	// Seller is the page's second form, Seller on invoices (posted to /settings/seller).
	Seller *sellerForm
}

func portalFormOf(t *tenants.Tenant) *portalForm {
	return &portalForm{
		PortalDefaults:    t.Portal,
		LinkTTLMinutes:    strconv.Itoa(int(t.LinkTTL.D() / time.Minute)),
		SessionTTLMinutes: strconv.Itoa(int(t.SessionTTL.D() / time.Minute)),
		PaymentSetupURL:   t.PaymentSetupURL,
		EmailSignIn:       t.EmailSignIn,
	}
}

func (d *Dashboard) portalPage(ctx *fasthttp.RequestCtx, r *request, status int, f *portalForm, flash string, errs map[string]string) {
	if f == nil {
		f = portalFormOf(r.tenant)
	}
	f.Errors = errs
	f.MinLink, f.MaxLink = int(tenants.MinLinkTTL/time.Minute), int(tenants.MaxLinkTTL/time.Minute)
	f.MinSess, f.MaxSess = int(tenants.MinSessionTTL/time.Minute), int(tenants.MaxSessionTTL/time.Minute)
	if f.Seller == nil {
		f.Seller = &sellerForm{Seller: r.tenant.Seller}
	}
	f.Seller.fields(r)
	v := r.view("portal", r.T("dash.portal.title"))
	v.Flash, v.Data = flash, f
	if len(errs) > 0 { // the seller form's problems are summed up at that form
		v.Error = r.T("dash.portal.error.correct")
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
			AllowInvoicePayment: on("allow_invoice_payment"),
			AllowPlanChange:     on("allow_plan_change"), AllowQuantityChange: on("allow_quantity_change"),
			AllowPause: on("allow_pause"),
			ShowUsage:  on("show_usage"), AllowWalletTopUp: on("allow_wallet_top_up"),
			AllowTeamManagement: on("allow_team_management"),
			CancelMode:          string(args.Peek("cancel_mode")),
		},
		LinkTTLMinutes:    string(args.Peek("link_ttl")),
		SessionTTLMinutes: string(args.Peek("session_ttl")),
		PaymentSetupURL:   strings.TrimSpace(string(args.Peek("payment_setup_url"))),
		EmailSignIn:       on("email_sign_in"),
	}
	errs := map[string]string{}
	if f.CancelMode != tenants.CancelEndOfTerm && f.CancelMode != tenants.CancelImmediate {
		errs["cancel_mode"] = r.T("dash.portal.error.cancelMode")
	}
	linkTTL, ok := minutes(f.LinkTTLMinutes, tenants.MinLinkTTL, tenants.MaxLinkTTL)
	if !ok {
		errs["link_ttl"] = r.T("dash.portal.error.linkTTL", "min", minutesText(tenants.MinLinkTTL), "max", minutesText(tenants.MaxLinkTTL))
	}
	sessTTL, ok := minutes(f.SessionTTLMinutes, tenants.MinSessionTTL, tenants.MaxSessionTTL)
	if !ok {
		errs["session_ttl"] = r.T("dash.portal.error.sessionTTL", "min", minutesText(tenants.MinSessionTTL), "max", minutesText(tenants.MaxSessionTTL))
	}
	if f.PaymentSetupURL != "" {
		u, err := url.Parse(f.PaymentSetupURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(f.PaymentSetupURL) > 2000 {
			errs["payment_setup_url"] = r.T("dash.portal.error.paymentSetup")
		}
	}
	if len(errs) > 0 {
		d.portalPage(ctx, r, fasthttp.StatusBadRequest, f, "", errs)
		return
	}
	t, err := d.store.UpdateTenant(web.Detach(ctx), r.tenant.ID, func(t *tenants.Tenant) error {
		t.Portal = f.PortalDefaults
		t.LinkTTL, t.SessionTTL = tenants.Duration(linkTTL), tenants.Duration(sessTTL)
		t.PaymentSetupURL = f.PaymentSetupURL
		t.EmailSignIn = f.EmailSignIn
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
	d.portalPage(ctx, r, fasthttp.StatusOK, nil, r.T("dash.portal.saved"), nil)
}

// ---- Settings → Portal → Seller on invoices

// sellerForm is the seller as typed, with the problems found, by field name ("form": one of the
// whole tenant).
type sellerForm struct {
	tenants.Seller
	Errors map[string]string
	Fields []sellerField // set by fields
	// Summary lists the fields' problems in their order, for the summary at the top of the form
	// (template "form-errors"), which is focused on load: the form is far down the page. Set by
	// fields.
	Summary plugins.FormErrors
}

// sellerField is one field of the seller form as the page shows it.
type sellerField struct {
	Name, Label, Value, Autocomplete, Hint, Error string
	Max                                           int
	Countries                                     []i18n.Country // the country field's options
}

// fields lays out the form in the admin's language.
func (f *sellerForm) fields(r *request) {
	ad := f.Address
	field := func(name, key, value, autocomplete string) sellerField {
		return sellerField{Name: name, Label: r.T("dash.seller." + key), Value: value, Autocomplete: autocomplete,
			Max: sellerLimits[name], Error: f.Errors[name]}
	}
	tax := field("tax_id", "taxId", f.TaxID, "off")
	tax.Hint = r.T("dash.seller.taxIdHint")
	country := field("country", "country", ad.Country, "country")
	country.Countries = r.l.AddressCountries()
	f.Fields = []sellerField{
		field("legal_name", "legalName", f.LegalName, "organization"),
		field("address_line1", "line1", ad.Line1, "address-line1"),
		field("address_line2", "line2", ad.Line2, "address-line2"),
		field("postal_code", "postalCode", ad.PostalCode, "postal-code"),
		field("city", "city", ad.City, "address-level2"),
		field("region", "region", ad.Region, "address-level1"),
		country,
		tax,
	}
	f.Summary = nil
	for _, fl := range f.Fields {
		if fl.Error != "" {
			f.Summary.Add(fl.Name, fl.Error)
		}
	}
}

// sellerLimits are the maxlength of the seller form's fields.
var sellerLimits = map[string]int{
	"legal_name": tenants.MaxSellerName, "address_line1": tenants.MaxSellerLine, "address_line2": tenants.MaxSellerLine,
	"postal_code": tenants.MaxSellerPostalCode, "city": tenants.MaxSellerCity, "region": tenants.MaxSellerRegion,
	"tax_id": tenants.MaxSellerTaxID,
}

// checkSeller returns the problems of a typed seller by field, in the admin's language: the rules
// of tenants.Seller (every field is bounded text; a seller that is set has a legal name; an
// address that is set has its first line, its city and its country).
func checkSeller(r *request, s tenants.Seller) map[string]string {
	errs := map[string]string{}
	hasAddress := s.Address != (account.Address{})
	field := func(name, v string, required bool) {
		switch {
		case !tenants.ValidText(v, sellerLimits[name]):
			errs[name] = r.T("dash.seller.error.text", "max", sellerLimits[name])
		case required && v == "" && name == "legal_name":
			errs[name] = r.T("dash.seller.error.legalName")
		case required && v == "":
			errs[name] = r.T("dash.seller.error.addressPart")
		}
	}
	field("legal_name", s.LegalName, !s.IsZero())
	field("address_line1", s.Address.Line1, hasAddress)
	field("address_line2", s.Address.Line2, false)
	field("postal_code", s.Address.PostalCode, false)
	field("city", s.Address.City, hasAddress)
	field("region", s.Address.Region, false)
	field("tax_id", s.TaxID, false)
	if hasAddress && !account.ValidCountry(s.Address.Country) {
		errs["country"] = r.T("dash.seller.error.country")
	}
	return errs
}

// saveSeller validates and stores the seller named on the tenant's invoices; every other setting
// of the tenant stays as it is.
func (d *Dashboard) saveSeller(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	get := func(name string) string { return strings.TrimSpace(string(args.Peek(name))) }
	f := &sellerForm{Seller: tenants.Seller{
		LegalName: get("legal_name"),
		Address: account.Address{
			Line1: get("address_line1"), Line2: get("address_line2"), PostalCode: get("postal_code"),
			City: get("city"), Region: get("region"), Country: strings.ToUpper(get("country")),
		},
		TaxID: get("tax_id"),
	}}
	refused := func() {
		pf := portalFormOf(r.tenant)
		pf.Seller = f
		d.portalPage(ctx, r, fasthttp.StatusBadRequest, pf, "", nil)
	}
	if f.Errors = checkSeller(r, f.Seller); len(f.Errors) > 0 {
		refused()
		return
	}
	t, err := d.store.UpdateTenant(web.Detach(ctx), r.tenant.ID, func(t *tenants.Tenant) error {
		t.Seller = f.Seller
		return nil
	}, nil)
	if errors.Is(err, tenants.ErrInvalidTenant) {
		f.Errors = map[string]string{"form": err.Error()}
		refused()
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: seller saved", "tenant", t.Slug, "by", r.s.Email)
	r.tenant = t
	d.portalPage(ctx, r, fasthttp.StatusOK, nil, r.T("dash.seller.saved"), nil)
}

// minutesText writes a whole number of minutes as the form's bounds do, without digit grouping
// (the number field's min and max say them the same way): "10080".
func minutesText(d time.Duration) string { return strconv.Itoa(int(d / time.Minute)) }

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
	list, err := d.store.Domains(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	data := &domainsData{Name: name}
	for _, dm := range list {
		data.Domains = append(data.Domains, domainView{Domain: dm, Records: d.cfg.Domains.InstructionsFor(r.tenant, dm)})
	}
	v := r.view("domains", r.T("dash.domains.title"))
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "domains", v)
}

func (d *Dashboard) domainAction(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	name := strings.TrimSpace(string(args.Peek("domain")))
	switch string(args.Peek("action")) {
	case "add":
		dm, err := d.cfg.Domains.Add(web.Detach(ctx), r.tenant, name)
		switch {
		case errors.Is(err, tenants.ErrInvalidDomain):
			d.domainsPage(ctx, r, fasthttp.StatusBadRequest, "", domainProblem(r, err), name)
		case errors.Is(err, tenants.ErrDomainTaken):
			d.domainsPage(ctx, r, fasthttp.StatusConflict, "", r.T("dash.domains.error.taken"), name)
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: domain added", "tenant", r.tenant.Slug, "domain", dm.Name, "by", r.s.Email)
			d.domainsPage(ctx, r, fasthttp.StatusOK, r.T("dash.domains.added", "domain", dm.Name), "", "")
		}
	case "verify":
		vctx, cancel := context.WithTimeout(web.Detach(ctx), 15*time.Second)
		dm, err := d.cfg.Domains.Verify(vctx, r.tenant, name)
		cancel()
		switch {
		case errors.Is(err, tenants.ErrDomainNotFound):
			d.domainsPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.domains.error.notFound"), "")
		case errors.Is(err, domains.ErrExpired):
			d.domainsPage(ctx, r, fasthttp.StatusGone, "", r.T("dash.domains.error.expired", "domain", name), "")
		case err != nil:
			d.unavailable(ctx, r, err)
		case dm.Status == tenants.DomainActive:
			d.domainsPage(ctx, r, fasthttp.StatusOK, r.T("dash.domains.verified", "domain", dm.Name), "", "")
		default:
			d.domainsPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.domains.notVerified", "domain", dm.Name, "error", dm.LastError), "")
		}
	case "remove":
		err := d.store.RemoveDomain(web.Detach(ctx), r.tenant.ID, name)
		switch {
		case errors.Is(err, tenants.ErrDomainNotFound):
			d.domainsPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.domains.error.notFound"), "")
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: domain removed", "tenant", r.tenant.Slug, "domain", name, "by", r.s.Email)
			d.domainsPage(ctx, r, fasthttp.StatusOK, r.T("dash.domains.removed", "domain", name), "", "")
		}
	default:
		d.domainsPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.common.unknownAction"), "")
	}
}

// domainErrRE reads the reasons of tenants.NormalizeDomain and domains.Verifier.Add: a quoted
// name, then what is wrong.
var domainErrRE = regexp.MustCompile(`^("(?:[^"\\]|\\.)*") (is not a host name|must be a full host name such as billing\.example\.com|has an invalid label ("(?:[^"\\]|\\.)*")|looks like an IP address|is under Portico's own domain \S+|is Portico's own CNAME target)$`)

// domainProblem says in the admin's language why a domain was refused (tenants.ErrInvalidDomain),
// or, for a reason it does not know, what package tenants said.
func domainProblem(r *request, err error) string {
	detail := strings.TrimPrefix(err.Error(), tenants.ErrInvalidDomain.Error()+": ")
	m := domainErrRE.FindStringSubmatch(detail)
	if m == nil {
		return detail + "."
	}
	name, err := strconv.Unquote(m[1])
	if err != nil {
		return detail + "."
	}
	switch {
	case strings.HasPrefix(m[2], "is not"):
		return r.T("dash.domains.error.notHost", "domain", name)
	case strings.HasPrefix(m[2], "must be"):
		return r.T("dash.domains.error.notFull", "domain", name)
	case strings.HasPrefix(m[2], "looks like"):
		return r.T("dash.domains.error.ipAddress", "domain", name)
	case strings.HasPrefix(m[2], "is under"), strings.HasPrefix(m[2], "is Portico"):
		return r.T("dash.domains.error.baseDomain", "domain", name)
	}
	label, err := strconv.Unquote(m[3])
	if err != nil {
		return detail + "."
	}
	return r.T("dash.domains.error.label", "domain", name, "label", label)
}

// ---- Settings → API keys

type apiKeysData struct {
	Keys   []*tenants.APIKey
	NewKey string // shown once, right after creation
	NewID  string
}

func (d *Dashboard) apiKeysPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, newKey string) {
	keys, err := d.store.APIKeys(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("api-keys", r.T("dash.apiKeys.title"))
	v.Flash, v.Error, v.Data = flash, errMsg, &apiKeysData{Keys: keys, NewKey: newKey}
	d.render(ctx, status, "apikeys", v)
}

func (d *Dashboard) apiKeyAction(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	switch string(args.Peek("action")) {
	case "create":
		name := strings.TrimSpace(string(args.Peek("name")))
		rec, key, err := d.store.CreateAPIKey(web.Detach(ctx), r.tenant.ID, name)
		if errors.Is(err, tenants.ErrInvalidTenant) {
			d.apiKeysPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.apiKeys.error.name", "max", 100), "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: API key created", "tenant", r.tenant.Slug, "key", rec.ID, "by", r.s.Email)
		d.apiKeysPage(ctx, r, fasthttp.StatusOK, r.T("dash.apiKeys.created", "id", rec.ID), "", key)
	case "revoke":
		id := string(args.Peek("id"))
		err := d.store.RevokeAPIKey(web.Detach(ctx), r.tenant.ID, id)
		switch {
		case errors.Is(err, tenants.ErrKeyNotFound):
			d.apiKeysPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.apiKeys.error.notFound"), "")
		case err != nil:
			d.unavailable(ctx, r, err)
		default:
			d.log.Info("dashboard: API key revoked", "tenant", r.tenant.Slug, "key", id, "by", r.s.Email)
			d.apiKeysPage(ctx, r, fasthttp.StatusOK, r.T("dash.apiKeys.revoked", "id", id), "", "")
		}
	default:
		d.apiKeysPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.common.unknownAction"), "")
	}
}

// ---- Settings → Webhooks

// WebhookPages is what the webhook pages need of the webhook service. Every method is scoped to
// the tenant: another tenant's endpoint id must not be found. The lead adapts
// webhooks.Service to it.
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
	list, err := d.cfg.Webhooks.ListEndpoints(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("webhooks", r.T("dash.webhooks.title"))
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
			d.webhooksPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.webhooks.error.notFound"), "")
			return true
		}
		return false
	}
	switch string(args.Peek("action")) {
	case "create":
		u := strings.TrimSpace(string(args.Peek("url")))
		ep, secret, err := wh.CreateEndpoint(web.Detach(ctx), r.tenant.ID, u, strings.TrimSpace(string(args.Peek("description"))))
		if errors.Is(err, ErrWebhookInvalid) {
			d.webhooksPage(ctx, r, fasthttp.StatusBadRequest, "", err.Error(), "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: webhook endpoint added", "tenant", r.tenant.Slug, "endpoint", ep.ID, "by", r.s.Email)
		d.webhooksPage(ctx, r, fasthttp.StatusOK, r.T("dash.webhooks.created", "url", ep.URL), "", secret)
	case "test":
		evt, err := wh.SendTest(web.Detach(ctx), r.tenant.ID, id)
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
		d.webhooksPage(ctx, r, fasthttp.StatusOK, r.T("dash.webhooks.testSent", "event", evt), "", "")
	case "delete":
		err := wh.DeleteEndpoint(web.Detach(ctx), r.tenant.ID, id)
		if notFound(err) {
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: webhook endpoint deleted", "tenant", r.tenant.Slug, "endpoint", id, "by", r.s.Email)
		d.webhooksPage(ctx, r, fasthttp.StatusOK, r.T("dash.webhooks.deleted"), "", "")
	default:
		d.webhooksPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.common.unknownAction"), "")
	}
}

type deliveriesData struct {
	Endpoint   WebhookEndpoint
	Deliveries []WebhookDelivery
}

// deliveriesPage is an endpoint's message log.
func (d *Dashboard) deliveriesPage(ctx *fasthttp.RequestCtx, r *request, id string) {
	eps, err := d.cfg.Webhooks.ListEndpoints(web.Detach(ctx), r.tenant.ID)
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
		d.message(ctx, r, fasthttp.StatusNotFound, "dash.deliveries.notFound.title", "dash.deliveries.notFound.body")
		return
	}
	if data.Deliveries, err = d.cfg.Webhooks.ListDeliveries(web.Detach(ctx), r.tenant.ID, id, 100); err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("webhooks", r.T("dash.deliveries.title"))
	v.Data = data
	d.render(ctx, fasthttp.StatusOK, "deliveries", v)
}

// ---- Settings → Backend

// BackendPages is what the backend page needs of the tenant backend service, scoped to the
// tenant. The lead adapts backend.Service to it (Backend).
type BackendPages interface {
	// Backend returns the tenant's registration; ok is false without one.
	Backend(ctx context.Context, tenantID string) (ep BackendEndpoint, ok bool, err error)
	// RegisterBackend sets the URL and returns the registration with a new signing secret,
	// shown once. A URL the service refuses wraps ErrBackendInvalid, whose text is shown.
	RegisterBackend(ctx context.Context, tenantID, url string) (BackendEndpoint, string, error)
	// DeleteBackend removes the registration; without one it wraps ErrBackendNotFound.
	DeleteBackend(ctx context.Context, tenantID string) error
	// RotateBackendSecret returns a new secret (shown once); without a registration it wraps
	// ErrBackendNotFound.
	RotateBackendSecret(ctx context.Context, tenantID string) (string, error)
	// PingBackend sends a "ping" request and reports the answer or the failure; err is only
	// for the dashboard's own trouble (etcd).
	PingBackend(ctx context.Context, tenantID string) (BackendTest, error)
}

// Errors a BackendPages implementation wraps for the admin's mistakes.
var (
	ErrBackendInvalid  = errors.New("dashboard: invalid backend")
	ErrBackendNotFound = errors.New("dashboard: no backend registered")
)

// BackendEndpoint is the registration as the page shows it.
type BackendEndpoint struct {
	URL                     string
	UpdatedAt               time.Time
	PreviousSecretExpiresAt time.Time
}

// BackendTest is what a test request found: the backend's Result and Message, or a Failure
// class ("timeout", "unreachable", "status" with Status, "invalid_response" or
// "invalid_account" with Detail, "forbidden_address", "no_backend").
type BackendTest struct {
	Result, Message string
	Failure         string
	Status          int
	Detail          string
}

type backendData struct {
	Endpoint  *BackendEndpoint
	NewSecret string
	URL       string
	// Source is the source-mode form: the tenant's setting, or what was typed when it was refused.
	Source sourceForm
}

// sourceForm is Settings → Backend → Source mode as shown or typed.
type sourceForm struct {
	Enabled  bool
	TTL      string // a duration as typed ("5m"); the setting shown as durationText
	Error    string
	Min, Max string
}

// durationText writes a duration the way an admin types one: "5m", "1h", "90s" (not "5m0s").
func durationText(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	}
	return d.String()
}

func (d *Dashboard) backendPage(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, secret string) {
	d.backendPageWith(ctx, r, status, flash, errMsg, secret, nil)
}

// backendPageWith is backendPage with the source-mode form as typed (nil: the tenant's setting).
func (d *Dashboard) backendPageWith(ctx *fasthttp.RequestCtx, r *request, status int, flash, errMsg, secret string, src *sourceForm) {
	ep, ok, err := d.cfg.Backend.Backend(web.Detach(ctx), r.tenant.ID)
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	v := r.view("backend", r.T("dash.backend.title"))
	data := &backendData{NewSecret: secret}
	if ok {
		data.Endpoint, data.URL = &ep, ep.URL
	}
	if errMsg != "" && string(ctx.PostArgs().Peek("action")) == "save" {
		data.URL = string(ctx.PostArgs().Peek("url"))
	}
	if src != nil {
		data.Source = *src
	} else {
		data.Source = sourceForm{Enabled: r.tenant.Source.Enabled, TTL: durationText(r.tenant.Source.TTLOrDefault())}
	}
	data.Source.Min, data.Source.Max = durationText(tenants.MinSourceTTL), durationText(tenants.MaxSourceTTL)
	v.Flash, v.Error, v.Data = flash, errMsg, data
	d.render(ctx, status, "backend", v)
}

// saveSource turns source mode on or off with its TTL (the API's PATCH /v1/portal-settings
// "source"): on needs a registered backend (tenants.ErrSourceNeedsBackend); the TTL is a Go
// duration within MinSourceTTL to MaxSourceTTL.
func (d *Dashboard) saveSource(ctx *fasthttp.RequestCtx, r *request) {
	args := ctx.PostArgs()
	f := &sourceForm{Enabled: string(args.Peek("source")) == "on", TTL: strings.TrimSpace(string(args.Peek("source_ttl")))}
	ttl, err := time.ParseDuration(f.TTL)
	if err != nil || len(f.TTL) > 16 || ttl < tenants.MinSourceTTL || ttl > tenants.MaxSourceTTL {
		f.Error = r.T("dash.backend.source.error.ttl", "min", durationText(tenants.MinSourceTTL), "max", durationText(tenants.MaxSourceTTL))
		d.backendPageWith(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.portal.error.correct"), "", f)
		return
	}
	t, err := d.store.UpdateTenant(web.Detach(ctx), r.tenant.ID, func(t *tenants.Tenant) error {
		t.Source = tenants.SourceSettings{Enabled: f.Enabled, TTL: tenants.Duration(ttl)}
		return nil
	}, nil)
	if errors.Is(err, tenants.ErrSourceNeedsBackend) {
		d.backendPageWith(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.backend.error.notFound"), "", f)
		return
	}
	if errors.Is(err, tenants.ErrInvalidTenant) {
		f.Error = err.Error()
		d.backendPageWith(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.portal.error.correct"), "", f)
		return
	}
	if err != nil {
		d.unavailable(ctx, r, err)
		return
	}
	d.log.Info("dashboard: source mode saved", "tenant", t.Slug, "enabled", t.Source.Enabled, "ttl", t.Source.TTLOrDefault(), "by", r.s.Email)
	r.tenant = t
	flash := r.T("dash.backend.source.savedOff")
	if t.Source.Enabled {
		flash = r.T("dash.backend.source.savedOn", "ttl", durationText(t.Source.TTLOrDefault()))
	}
	d.backendPage(ctx, r, fasthttp.StatusOK, flash, "", "")
}

func (d *Dashboard) backendAction(ctx *fasthttp.RequestCtx, r *request) {
	b := d.cfg.Backend
	notFound := func(err error) bool {
		if errors.Is(err, ErrBackendNotFound) {
			d.backendPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.backend.error.notFound"), "")
			return true
		}
		return false
	}
	switch string(ctx.PostArgs().Peek("action")) {
	case "source":
		d.saveSource(ctx, r)
	case "save":
		u := strings.TrimSpace(string(ctx.PostArgs().Peek("url")))
		ep, secret, err := b.RegisterBackend(web.Detach(ctx), r.tenant.ID, u)
		if errors.Is(err, ErrBackendInvalid) {
			d.backendPage(ctx, r, fasthttp.StatusBadRequest, "", err.Error(), "")
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: tenant backend registered", "tenant", r.tenant.Slug, "by", r.s.Email)
		d.backendPage(ctx, r, fasthttp.StatusOK, r.T("dash.backend.registered", "url", ep.URL), "", secret)
	case "rotate":
		secret, err := b.RotateBackendSecret(web.Detach(ctx), r.tenant.ID)
		if notFound(err) {
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: tenant backend secret rotated", "tenant", r.tenant.Slug, "by", r.s.Email)
		d.backendPage(ctx, r, fasthttp.StatusOK, r.T("dash.backend.rotated"), "", secret)
	case "delete":
		err := b.DeleteBackend(web.Detach(ctx), r.tenant.ID)
		if notFound(err) {
			return
		}
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		d.log.Info("dashboard: tenant backend removed", "tenant", r.tenant.Slug, "by", r.s.Email)
		d.backendPage(ctx, r, fasthttp.StatusOK, r.T("dash.backend.deleted"), "", "")
	case "test":
		res, err := b.PingBackend(web.Detach(ctx), r.tenant.ID)
		if err != nil {
			d.unavailable(ctx, r, err)
			return
		}
		switch res.Failure {
		case "":
			if res.Message != "" {
				d.backendPage(ctx, r, fasthttp.StatusOK, r.T("dash.backend.test.answerMessage", "result", res.Result, "message", res.Message), "", "")
			} else {
				d.backendPage(ctx, r, fasthttp.StatusOK, r.T("dash.backend.test.answer", "result", res.Result), "", "")
			}
		case "no_backend":
			d.backendPage(ctx, r, fasthttp.StatusNotFound, "", r.T("dash.backend.error.notFound"), "")
		case "status":
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.status", "status", strconv.Itoa(res.Status)), "")
		case "invalid_response":
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.invalid", "detail", res.Detail), "")
		case "invalid_account":
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.invalidAccount", "detail", res.Detail), "")
		case "timeout":
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.timeout"), "")
		case "forbidden_address":
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.forbidden"), "")
		default:
			d.backendPage(ctx, r, fasthttp.StatusOK, "", r.T("dash.backend.test.unreachable"), "")
		}
	default:
		d.backendPage(ctx, r, fasthttp.StatusBadRequest, "", r.T("dash.common.unknownAction"), "")
	}
}
