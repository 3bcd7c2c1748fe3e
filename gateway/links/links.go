// Package links issues portal sessions: it resolves the account a request names, fills the
// section settings the request leaves out from the tenant's defaults, stores a single-use link
// (only the hash of its token) and builds the URL the customer opens. The API, the command line
// and the dashboard all issue sessions through it, so they behave the same.
package links

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/portico-billing/portico/gateway/session"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"golang.org/x/text/language"
)

// Errors of session requests; each is a client error.
var (
	ErrNoAccount       = errors.New("links: accountId or accountAlias is required")
	ErrAccountMismatch = errors.New("links: accountId and accountAlias name different accounts")
	ErrBadLocale       = errors.New("links: locale is not a BCP 47 language tag")
)

// URLs builds the public addresses of Portico's hosts.
type URLs struct {
	// Scheme is "https" (default) or "http" (development).
	Scheme string
	// BaseDomain is the domain tenants' slugs live under (default "portal.localhost").
	BaseDomain string
	// Port is the public port; 0 or the scheme's default port leaves it out of URLs.
	Port int
}

func (u URLs) origin(host string) string {
	scheme := u.Scheme
	if scheme == "" {
		scheme = "https"
	}
	base := scheme + "://" + host
	if u.Port != 0 && !(scheme == "https" && u.Port == 443) && !(scheme == "http" && u.Port == 80) {
		base += ":" + strconv.Itoa(u.Port)
	}
	return base
}

func (u URLs) base() string {
	if u.BaseDomain == "" {
		return "portal.localhost"
	}
	return u.BaseDomain
}

// Portal is the origin of the tenant's portal on its slug host, e.g. https://acme.portal.example.
func (u URLs) Portal(t *tenants.Tenant) string { return u.origin(t.Slug + "." + u.base()) }

// PortalOn is the origin of the portal on one of the tenant's custom domains (always https).
func (u URLs) PortalOn(domain string) string {
	v := u
	v.Scheme = "https"
	if u.Scheme != "https" {
		v.Port = 0
	}
	return v.origin(domain)
}

// API is the origin of the tenant API.
func (u URLs) API() string { return u.origin("api." + u.base()) }

// Dashboard is the origin of the tenant dashboard.
func (u URLs) Dashboard() string { return u.origin("dashboard." + u.base()) }

// SectionSettings is the seed's per-section settings object; nil fields take the tenant default.
type SectionSettings struct {
	ShowSection             *bool `json:"showSection,omitempty"`
	AllowSubscriptionCancel *bool `json:"allowSubscriptionCancel,omitempty"`
}

// BillingSettings is billingDetailsSettings.
type BillingSettings struct {
	ShowSection      *bool `json:"showSection,omitempty"`
	AllowDetailsEdit *bool `json:"allowDetailsEdit,omitempty"`
	AllowAutopayEdit *bool `json:"allowAutopayEdit,omitempty"`
}

// InvoiceSettings is invoiceListSettings.
type InvoiceSettings struct {
	ShowSection *bool `json:"showSection,omitempty"`
}

// Request is the body of POST /portal/customer-session/customer-portal.
type Request struct {
	AccountID              string           `json:"accountId,omitempty"`
	AccountAlias           string           `json:"accountAlias,omitempty"`
	PlanOverviewSettings   *SectionSettings `json:"planOverviewSettings,omitempty"`
	InvoiceListSettings    *InvoiceSettings `json:"invoiceListSettings,omitempty"`
	BillingDetailsSettings *BillingSettings `json:"billingDetailsSettings,omitempty"`
	// Locale is an optional BCP 47 tag for the portal's language and formats.
	Locale string `json:"locale,omitempty"`
}

// Result is the answer to a session request.
type Result struct {
	SessionURL string    `json:"sessionUrl"`
	SessionID  string    `json:"sessionId"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

// Issuer issues portal sessions.
type Issuer struct {
	Store *tenants.Store
	URLs  URLs
	// Keyring seals remembered responses of idempotent requests (they contain the link); it is
	// needed only when IdempotencyKey is used.
	Keyring *session.Keyring
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

func pick(v *bool, def bool) bool {
	if v == nil {
		return def
	}
	return *v
}

// Settings resolves the request's section settings against the tenant's defaults.
func (r *Request) Settings(def tenants.PortalDefaults) tenants.PortalDefaults {
	s := def
	if p := r.PlanOverviewSettings; p != nil {
		s.ShowPlanOverview = pick(p.ShowSection, def.ShowPlanOverview)
		s.AllowSubscriptionCancel = pick(p.AllowSubscriptionCancel, def.AllowSubscriptionCancel)
	}
	if p := r.InvoiceListSettings; p != nil {
		s.ShowInvoices = pick(p.ShowSection, def.ShowInvoices)
	}
	if p := r.BillingDetailsSettings; p != nil {
		s.ShowBillingDetails = pick(p.ShowSection, def.ShowBillingDetails)
		s.AllowDetailsEdit = pick(p.AllowDetailsEdit, def.AllowDetailsEdit)
		s.AllowAutopayEdit = pick(p.AllowAutopayEdit, def.AllowAutopayEdit)
	}
	return s
}

// ResolveAccount returns the account id the request names; with both id and alias, they must agree.
func (i *Issuer) ResolveAccount(ctx context.Context, t *tenants.Tenant, r *Request) (string, error) {
	switch {
	case r.AccountID == "" && r.AccountAlias == "":
		return "", ErrNoAccount
	case r.AccountAlias == "":
		if _, err := i.Store.Account(ctx, t.ID, r.AccountID); err != nil {
			return "", err
		}
		return r.AccountID, nil
	}
	id, err := i.Store.AccountIDByAlias(ctx, t.ID, r.AccountAlias)
	if err != nil {
		return "", err
	}
	if r.AccountID != "" && r.AccountID != id {
		return "", ErrAccountMismatch
	}
	return id, nil
}

// Options are the optional parts of Create.
type Options struct {
	// CreatedBy names the requester for the audit trail ("apikey:<id>", "cli").
	CreatedBy string
	// IdempotencyKey makes the request happen at most once per key for 24 h.
	IdempotencyKey string
	// RequestBody identifies the request for the idempotency check (its bytes are hashed).
	RequestBody []byte
}

// Create issues a session for the tenant. replayed is true when the result is the remembered
// answer to an earlier request with the same idempotency key.
func (i *Issuer) Create(ctx context.Context, t *tenants.Tenant, r *Request, opt Options) (res *Result, replayed bool, err error) {
	if r.Locale != "" {
		if _, err := language.Parse(r.Locale); err != nil || len(r.Locale) > 35 {
			return nil, false, fmt.Errorf("%w: %q", ErrBadLocale, r.Locale)
		}
	}
	aid, err := i.ResolveAccount(ctx, t, r)
	if err != nil {
		return nil, false, err
	}
	now := time.Now()
	if i.Now != nil {
		now = i.Now()
	}
	l := &tenants.Link{
		SessionID:  "ps_" + tenants.NewToken()[:22],
		AccountID:  aid,
		Settings:   r.Settings(t.Portal),
		Locale:     r.Locale,
		SessionTTL: t.SessionTTL,
		ExpiresAt:  now.Add(t.LinkTTL.D()).UTC().Truncate(time.Second),
		CreatedAt:  now.UTC(),
		CreatedBy:  opt.CreatedBy,
	}
	origin := i.URLs.Portal(t)
	if d := i.Store.PrimaryDomain(t.ID); d != "" {
		origin = i.URLs.PortalOn(d)
	}
	result := func(tok string) *Result {
		return &Result{SessionURL: origin + "/s/" + tok, SessionID: l.SessionID, ExpiresAt: l.ExpiresAt}
	}
	var lo tenants.CreateLinkOptions
	if opt.IdempotencyKey != "" {
		sum := sha256.Sum256(opt.RequestBody)
		lo = tenants.CreateLinkOptions{
			IdempotencyKey: opt.IdempotencyKey,
			RequestHash:    hex.EncodeToString(sum[:]),
			Response: func(tok string) ([]byte, error) {
				b, _ := json.Marshal(result(tok))
				return i.Keyring.SealBytes("idempotency:"+t.ID, b)
			},
		}
	}
	tok, replay, err := i.Store.CreateLink(ctx, t.ID, l, lo)
	if err != nil {
		return nil, false, err
	}
	if replay != nil {
		b, err := i.Keyring.OpenBytes("idempotency:"+t.ID, replay)
		if err != nil {
			return nil, false, fmt.Errorf("links: opening remembered response: %w", err)
		}
		var res Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, false, fmt.Errorf("links: decoding remembered response: %w", err)
		}
		return &res, true, nil
	}
	return result(tok), false, nil
}

// IsClientError reports whether err is the requester's fault (4xx) rather than Portico's.
func IsClientError(err error) bool {
	return errors.Is(err, ErrNoAccount) || errors.Is(err, ErrAccountMismatch) || errors.Is(err, ErrBadLocale) ||
		errors.Is(err, tenants.ErrAccountNotFound) || errors.Is(err, tenants.ErrIdempotency) || errors.Is(err, account.ErrInvalid)
}
