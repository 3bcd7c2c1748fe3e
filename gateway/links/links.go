// Package links issues portal sessions: it resolves the account a request names, fills the
// section settings the request leaves out from the tenant's defaults, stores a single-use link
// (only the hash of its token) and builds the URL the customer opens. The API, the command line
// and the dashboard all issue sessions through it, so they behave the same. Emailer emails a new
// link to the customer (the dashboard's Send portal link and the API's portal-link route), with a
// per-account hourly limit that counts only sent emails.
//
// # Deep links
//
// A request may name a flow, the step the customer lands on after opening the link instead of the
// overview. Flows belong to the sections whose pages they open (plugins.Flower): Plan overview
// has cancel_subscription, Billing information update_payment_method and billing_details,
// Invoices pay_invoice; this package names none of them. Each flow declares the request's string
// fields it takes (subscriptionId, invoiceId: Request.FlowParams), checks a request when the
// session is created against the session's resolved settings, its params and the account, and
// says where a redeemed link lands (Landing). An unknown flow (the refusal lists the registered
// ones), a param given without a flow that takes it and every refusal of a flow's check are
// client errors (ErrBadFlow).
//
// A request may also give a returnUrl for the portal's "Back to <tenant>" link. Tenants have no
// list of allowed return hosts of their own, so the hosts a tenant already trusts stand for it
// (ReturnHosts): the hosts of its frame ancestors (the origins allowed to embed the portal) and
// the host of its payment setup URL. A returnUrl must be an absolute https URL on one of them,
// without user info, of at most MaxReturnURL bytes of printable ASCII; anything else, open
// redirects such as "//evil.example" or "https://evil.example@app.acme.com" included, is refused
// (ErrBadReturnURL).
package links

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/plugins"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"golang.org/x/text/language"
)

// Errors of session requests; each is a client error.
var (
	ErrNoAccount       = errors.New("links: accountId or accountAlias is required")
	ErrAccountMismatch = errors.New("links: accountId and accountAlias name different accounts")
	ErrBadLocale       = errors.New("links: locale is not a BCP 47 language tag")
	// ErrBadFlow is wrapped by the errors about flow and its params; it is plugins.ErrBadFlow,
	// which the sections' flows refuse requests with.
	ErrBadFlow = plugins.ErrBadFlow
	// ErrBadReturnURL is wrapped by the errors about returnUrl.
	ErrBadReturnURL = errors.New("links: invalid returnUrl")
)

// requestError is a client error about one field of a session request. Its text, without the
// package prefix, is meant as the API's detail. It matches its kind (ErrBadFlow, ErrBadReturnURL)
// and also ErrBadLocale, the sentinel the API already answers with 400 and the error's text:
// callers that only know ErrBadLocale treat it as the client error it is.
type requestError struct {
	kind   error
	detail string
}

func (e *requestError) Error() string { return "links: " + e.detail }

func (e *requestError) Is(target error) bool { return target == e.kind || target == ErrBadLocale }

func badFlow(format string, args ...any) error {
	return &requestError{ErrBadFlow, fmt.Sprintf(format, args...)}
}

func badReturnURL(format string, args ...any) error {
	return &requestError{ErrBadReturnURL, fmt.Sprintf(format, args...)}
}

// MaxReturnURL is the longest returnUrl accepted, in bytes.
const MaxReturnURL = 1024

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

// Request is the body of POST /portal/customer-session/customer-portal.
type Request struct {
	AccountID    string `json:"accountId,omitempty"`
	AccountAlias string `json:"accountAlias,omitempty"`
	// Sections are the request's settings objects of the registered sections (plugins.Configurable),
	// by object name and field: {"planOverviewSettings":{"showSection":false}} is
	// Sections["planOverviewSettings"]["showSection"] = false. A field left out takes the tenant's
	// default; UnmarshalJSON refuses objects and fields no registered section declares.
	Sections map[string]map[string]bool `json:"-"`
	// Locale is an optional BCP 47 tag for the portal's language and formats.
	Locale string `json:"locale,omitempty"`
	// Flow optionally lands the customer on a step: the name of a registered flow
	// (plugins.FlowNames: "cancel_subscription", "pay_invoice", …).
	Flow string `json:"flow,omitempty"`
	// FlowParams are the request's string fields that registered flows declare (plugins.Flow's
	// Params), by field: {"invoiceId":"inv_1"} is FlowParams["invoiceId"] = "inv_1". An empty
	// value counts as not given; UnmarshalJSON refuses fields no registered flow declares.
	FlowParams map[string]string `json:"-"`
	// ReturnURL is the target of the portal's "Back to <tenant>" link: https, on a host the
	// tenant allows (ReturnHosts).
	ReturnURL string `json:"returnUrl,omitempty"`
}

// Result is the answer to a session request.
type Result struct {
	SessionURL string    `json:"sessionUrl"`
	SessionID  string    `json:"sessionId"`
	ExpiresAt  time.Time `json:"expiresAt"`
	// Token is the link's token, the last segment of SessionURL, for a caller that redeems the
	// link itself (sign in by email); never in the API's answer, and empty on an idempotent replay.
	Token string `json:"-"`
}

// IssuerStore is what an Issuer needs of the data layer: resolving the account, the tenant's
// primary domain, its catalog (for flows that name a plan) and writing the link. *tenants.Store
// is one.
type IssuerStore interface {
	Account(ctx context.Context, tenantID, accountID string) (*tenants.AccountSnapshot, error)
	AccountIDByAlias(ctx context.Context, tenantID, alias string) (string, error)
	PrimaryDomain(tenantID string) string
	CreateLink(ctx context.Context, tenantID string, l *tenants.Link, opt tenants.CreateLinkOptions) (token string, replay []byte, err error)
	Catalog(ctx context.Context, tenantID string) (*tenants.CatalogSnapshot, error)
}

var _ IssuerStore = (*tenants.Store)(nil)

// Issuer issues portal sessions.
type Issuer struct {
	Store IssuerStore
	URLs  URLs
	// Keyring seals remembered responses of idempotent requests (they contain the link); it is
	// needed only when IdempotencyKey is used.
	Keyring *keyring.Keyring
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// requestFields is Request without its methods, for decoding its fixed fields.
type requestFields Request

// UnmarshalJSON decodes a session request strictly: its fixed fields, the settings objects of
// the registered sections with their boolean switches (null leaves a field to its default) and
// the string params of the registered flows. Any other field is refused with encoding/json's
// "unknown field" error, a value of the wrong type with a *json.UnmarshalTypeError naming the
// field ("planOverviewSettings.showSection").
func (r *Request) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	rest := make(map[string]json.RawMessage, len(raw))
	sections := map[string]map[string]bool{}
	params := map[string]string{}
	for name, v := range raw {
		if _, ok := plugins.FlowParam(name); ok {
			var p *string
			if err := json.Unmarshal(v, &p); err != nil {
				return typeError(name, v, reflect.TypeFor[string]())
			}
			if p != nil && *p != "" {
				params[name] = *p
			}
			continue
		}
		o, ok := plugins.Object(name)
		if !ok {
			rest[name] = v
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(v, &fields); err != nil {
			return typeError(name, v, reflect.TypeFor[struct{}]())
		}
		if fields == nil {
			continue // null: every field takes its default
		}
		got := map[string]bool{}
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			if !slices.ContainsFunc(o.Switches, func(sw *plugins.Switch) bool { return sw.Field == k }) {
				return fmt.Errorf("json: unknown field %q", k) // as encoding/json words it
			}
			var on *bool
			if err := json.Unmarshal(fields[k], &on); err != nil {
				return typeError(name+"."+k, fields[k], reflect.TypeFor[bool]())
			}
			if on != nil {
				got[k] = *on
			}
		}
		sections[name] = got
	}
	fixed, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(fixed))
	dec.DisallowUnknownFields()
	var f requestFields
	if err := dec.Decode(&f); err != nil {
		return err
	}
	*r = Request(f)
	if len(sections) > 0 {
		r.Sections = sections
	}
	if len(params) > 0 {
		r.FlowParams = params
	}
	return nil
}

// MarshalJSON encodes the request as UnmarshalJSON reads it.
func (r Request) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(requestFields(r))
	if err != nil || len(r.Sections) == 0 && len(r.FlowParams) == 0 {
		return b, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for name, fields := range r.Sections {
		m[name] = fields
	}
	for name, v := range r.FlowParams {
		if v != "" {
			m[name] = v
		}
	}
	return json.Marshal(m)
}

// typeError is the *json.UnmarshalTypeError of a field whose value v is not of type want.
func typeError(field string, v json.RawMessage, want reflect.Type) error {
	kind := "value"
	switch t := bytes.TrimSpace(v); {
	case len(t) == 0:
	case t[0] == '"':
		kind = "string"
	case t[0] == '{':
		kind = "object"
	case t[0] == '[':
		kind = "array"
	case t[0] == 't' || t[0] == 'f':
		kind = "bool"
	case t[0] == 'n':
		kind = "null"
	default:
		kind = "number"
	}
	return &json.UnmarshalTypeError{Value: kind, Type: want, Field: field}
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
	// Kind is the link's kind: tenants.LinkKindRedirect (default), redeemed by the GET of a
	// browser redirected to it at once, or tenants.LinkKindEmail for a link sent to a person in a
	// message, which a GET does not redeem (mail scanners open every URL of a message).
	Kind string
}

// Create issues a session for the tenant. replayed is true when the result is the remembered
// answer to an earlier request with the same idempotency key.
func (i *Issuer) Create(ctx context.Context, t *tenants.Tenant, r *Request, opt Options) (res *Result, replayed bool, err error) {
	if r.Locale != "" && !wellFormedLocale(r.Locale) {
		return nil, false, fmt.Errorf("%w: %q", ErrBadLocale, r.Locale)
	}
	ret, err := CheckReturnURL(t, r.ReturnURL)
	if err != nil {
		return nil, false, err
	}
	if err := checkParams(r); err != nil {
		return nil, false, err
	}
	aid, err := i.ResolveAccount(ctx, t, r)
	if err != nil {
		return nil, false, err
	}
	settings, err := plugins.Resolve(r.Sections, t.Portal)
	if err != nil {
		return nil, false, err
	}
	flow, err := i.checkFlow(ctx, t, aid, r, settings)
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
		Switches:   settings,
		Locale:     r.Locale,
		Flow:       flow,
		ReturnURL:  ret,
		SessionTTL: t.SessionTTL,
		ExpiresAt:  now.Add(t.LinkTTL.D()).UTC().Truncate(time.Second),
		CreatedAt:  now.UTC(),
		CreatedBy:  opt.CreatedBy,
		Kind:       opt.Kind,
	}
	origin := i.URLs.Portal(t)
	if d := i.Store.PrimaryDomain(t.ID); d != "" {
		origin = i.URLs.PortalOn(d)
	}
	result := func(tok string) *Result {
		return &Result{SessionURL: origin + "/s/" + tok, SessionID: l.SessionID, ExpiresAt: l.ExpiresAt, Token: tok}
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
		errors.Is(err, ErrBadFlow) || errors.Is(err, ErrBadReturnURL) || errors.Is(err, plugins.ErrInvalidSettings) ||
		errors.Is(err, tenants.ErrAccountNotFound) || errors.Is(err, tenants.ErrIdempotency) || errors.Is(err, account.ErrInvalid)
}

// wellFormedLocale reports whether s is a BCP 47 tag of at most 35 characters. A well-formed tag
// of a language x/text does not know ("xx-YY") is accepted: the portal's fallback chain passes
// over it to the account's or the tenant's language.
func wellFormedLocale(s string) bool {
	if len(s) > 35 {
		return false
	}
	_, err := language.Parse(s)
	var unknown language.ValueError
	return err == nil || errors.As(err, &unknown)
}

// checkParams refuses a flow param given without a flow that takes it. A request naming an
// unknown flow is left to checkFlow, which says so.
func checkParams(r *Request) error {
	f, known := plugins.LookupFlow(r.Flow)
	if r.Flow != "" && !known {
		return nil
	}
	for _, p := range slices.Sorted(maps.Keys(r.FlowParams)) {
		if r.FlowParams[p] == "" || slices.Contains(f.Params, p) {
			continue
		}
		flows, ok := plugins.FlowParam(p)
		if !ok {
			return badFlow("%s is not a param of any flow", p)
		}
		return badFlow("%s is only used with flow %s", p, strings.Join(flows, " or "))
	}
	return nil
}

// checkFlow checks the request's flow with the check of the section that owns it, against the
// session's settings, the flow's params and the account, and returns what the link stores
// (Link.Flow): the flow's name, or "<name>:<arg>" when the check returns an argument.
func (i *Issuer) checkFlow(ctx context.Context, t *tenants.Tenant, accountID string, r *Request, s map[string]bool) (string, error) {
	if r.Flow == "" {
		return "", nil
	}
	f, ok := plugins.LookupFlow(r.Flow)
	if !ok {
		return "", badFlow("flow %q is not one of %s", r.Flow, strings.Join(plugins.FlowNames(), ", "))
	}
	fr := &plugins.FlowRequest{
		Tenant:   t,
		Settings: s,
		Params:   make(map[string]string, len(f.Params)),
		Account: func(ctx context.Context) (*account.Account, error) {
			snap, err := i.Store.Account(ctx, t.ID, accountID)
			if err != nil {
				return nil, err
			}
			return snap.Account, nil
		},
		Catalog: func(ctx context.Context) (*tenants.CatalogSnapshot, error) { return i.Store.Catalog(ctx, t.ID) },
	}
	for _, p := range f.Params {
		if v := r.FlowParams[p]; v != "" {
			fr.Params[p] = v
		}
	}
	arg, err := f.Check(ctx, fr)
	switch {
	case errors.Is(err, plugins.ErrBadFlow):
		return "", badFlow("%s", strings.TrimPrefix(err.Error(), "plugins: "))
	case err != nil:
		return "", fmt.Errorf("links: checking flow %s: %w", f.Name, err)
	case arg == "":
		return f.Name, nil
	}
	return f.Name + ":" + arg, nil
}

// Landing is the path a redeemed link redirects to for its stored flow (Link.Flow): the Landing
// of the registered flow of that name given the stored argument, or "/" for no flow, one this
// build does not know or a Landing of "".
func Landing(t *tenants.Tenant, flow string) string {
	name, arg, _ := strings.Cut(flow, ":")
	if f, ok := plugins.LookupFlow(name); ok && name != "" {
		if p := f.Landing(t, arg); p != "" {
			return p
		}
	}
	return "/"
}

// ReturnHosts are the hosts a tenant's returnUrl may point to, lower-case, with the port when it
// is not 443: the hosts of its frame ancestors (wildcard origins are skipped) and of its payment
// setup URL. Tenants have no return allow-list of their own; these are the hosts they already
// declared as theirs.
func ReturnHosts(t *tenants.Tenant) []string {
	var hosts []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Contains(u.Host, "*") {
			return
		}
		h := strings.TrimSuffix(strings.ToLower(u.Host), ":443")
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, o := range t.FrameAncestors {
		add(o)
	}
	if t.PaymentSetupURL != "" {
		add(t.PaymentSetupURL)
	}
	return hosts
}

// returnByte reports whether c may appear in a stored return URL: printable ASCII of RFC 3986
// (unreserved, reserved and '%'), except ',' and ';', which cookies do not allow and which
// CheckReturnURL percent-encodes.
func returnByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+=%", c) >= 0
}

// CheckReturnURL validates a request's returnUrl for the tenant and returns it normalised
// (host lower-cased, default port dropped, ',' and ';' percent-encoded), or "" for "". It must
// be an absolute https URL of printable ASCII, without user info, on one of ReturnHosts(t).
func CheckReturnURL(t *tenants.Tenant, raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	if len(raw) > MaxReturnURL {
		return "", badReturnURL("returnUrl is longer than %d bytes", MaxReturnURL)
	}
	if len(raw) < len("https://") || !strings.EqualFold(raw[:len("https://")], "https://") {
		return "", badReturnURL("returnUrl must be an absolute https URL")
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; !returnByte(c) && c != ',' && c != ';' {
			return "", badReturnURL("returnUrl contains %q; use percent-encoding", string(rune(c)))
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return "", badReturnURL("returnUrl must be an absolute https URL")
	}
	if u.User != nil {
		return "", badReturnURL("returnUrl must not contain user information")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Host), ":443")
	if !slices.Contains(ReturnHosts(t), host) {
		return "", badReturnURL("returnUrl host %q is not allowed: use the host of one of the tenant's frame ancestors or of its payment setup URL", u.Hostname())
	}
	u.Host = host
	out := strings.NewReplacer(",", "%2C", ";", "%3B").Replace(u.String())
	if len(out) > MaxReturnURL || !ReturnURLAllowed(ReturnHosts(t), []byte(out)) {
		return "", badReturnURL("returnUrl must be an absolute https URL")
	}
	return out, nil
}

// ReturnURLAllowed reports whether a stored return URL (as CheckReturnURL returns it) is still
// acceptable for hosts (ReturnHosts of the tenant now): at most MaxReturnURL bytes of returnByte
// characters, "https://", then one of hosts. It does not allocate, so that the portal's pages can
// check the return cookie on every request.
func ReturnURLAllowed(hosts []string, u []byte) bool {
	const prefix = "https://"
	if len(u) <= len(prefix) || len(u) > MaxReturnURL || string(u[:len(prefix)]) != prefix {
		return false
	}
	end := len(u)
	for i, c := range u {
		if !returnByte(c) {
			return false
		}
		if i >= len(prefix) && end == len(u) && (c == '/' || c == '?' || c == '#') {
			end = i
		}
	}
	host := u[len(prefix):end]
	for _, h := range hosts {
		if equalFoldASCII(h, host) {
			return true
		}
	}
	return false
}

// equalFoldASCII is strings.EqualFold for ASCII without converting b to a string.
func equalFoldASCII(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := 0; i < len(s); i++ {
		x, y := s[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
