package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/keyring"
	"github.com/portico-billing/portico/tenants"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Endpoint is a tenant's webhook receiver, as the API shows it: no secret material.
type Endpoint struct {
	// ID is generated at creation ("we_…").
	ID string `json:"id"`
	// URL receives the deliveries: https, or http for hosts in the allowed ranges.
	URL         string `json:"url"`
	Description string `json:"description"`
	// Events are the event types the endpoint receives; empty means all of them.
	Events []string `json:"events"`
	// Disabled endpoints receive nothing; an endpoint that answers 410 Gone is disabled with
	// DisabledReason saying so.
	Disabled       bool   `json:"disabled"`
	DisabledReason string `json:"disabledReason,omitempty"`
	// PreviousSecretExpiresAt is, after a rotation, when the previous secret stops signing.
	PreviousSecretExpiresAt time.Time `json:"previousSecretExpiresAt,omitzero"`
	CreatedAt               time.Time `json:"createdAt"`
	UpdatedAt               time.Time `json:"updatedAt"`
}

// EndpointRequest creates an endpoint.
type EndpointRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Events      []string `json:"events"`
}

// EndpointUpdate changes the fields of an endpoint that are not nil. Enabling an endpoint clears
// its DisabledReason.
type EndpointUpdate struct {
	URL         *string   `json:"url,omitempty"`
	Description *string   `json:"description,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// endpointRecord is an endpoint as stored: its secrets are sealed with the keyring, bound to the
// endpoint's key, and never stored in clear.
type endpointRecord struct {
	Endpoint
	TenantID string `json:"tenantId"`
	// Secret is the sealed key of the current secret.
	Secret []byte `json:"secret"`
	// PreviousSecret is the sealed key of the rotated-out secret, signing until
	// PreviousSecretExpiresAt.
	PreviousSecret []byte `json:"previousSecret,omitempty"`
}

// public returns a copy of the endpoint without secrets, its Events never nil.
func (r *endpointRecord) public() *Endpoint {
	e := r.Endpoint
	e.Events = append([]string{}, r.Events...)
	return &e
}

// wants reports whether the endpoint subscribes to the event type.
func (r *endpointRecord) wants(typ string) bool {
	return len(r.Events) == 0 || slices.Contains(r.Events, typ)
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newEndpointID returns "we_" + 16 random base32 characters (80 bits).
func newEndpointID() string {
	var b [10]byte
	rand.Read(b[:])
	return "we_" + idEncoding.EncodeToString(b[:])
}

// validEndpointID reports whether id has the shape newEndpointID makes, so that no caller-given
// id can name another key.
func validEndpointID(id string) bool {
	rest, ok := strings.CutPrefix(id, "we_")
	if !ok || len(rest) != 16 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// validTenantID keeps tenant ids from escaping their key range.
func validTenantID(id string) bool {
	return id != "" && len(id) <= 64 && !strings.ContainsAny(id, "/\x00")
}

// secretAD binds a sealed secret to its endpoint: it does not open under another key.
func secretAD(tenantID, endpointID string) string {
	return "portico-webhook-secret/" + tenantID + "/" + endpointID
}

// checkURL validates and normalises an endpoint URL.
func (s *Service) checkURL(ctx context.Context, raw string) (string, error) {
	u, err := CheckURL(ctx, raw, s.cfg.AllowCIDRs, s.cfg.AllowHTTP)
	if err != nil {
		return "", fmt.Errorf("%w: %s", ErrInvalid, err.Error())
	}
	return u, nil
}

// URLError is why CheckURL refused a URL: a sentence for the API caller ("url must use https
// …"), without a package prefix, so that each user of CheckURL wraps it in its own ErrInvalid.
type URLError struct{ Reason string }

func (e *URLError) Error() string { return e.Reason }

func urlErr(format string, args ...any) error { return &URLError{Reason: fmt.Sprintf(format, args...)} }

// CheckURL validates and normalises the URL of an outgoing signed request (a webhook endpoint, a
// tenant backend): absolute, without credentials, at most MaxURLLength bytes, https or, for
// hosts whose every address lies in allow (or for any host with allowHTTP), http; never a
// localhost name unless loopback is allowed, never an address literal in a blocked range (see
// AddressAllowed). The fragment is dropped. Refusals are *URLError. Names are resolved only for
// plain-http URLs: the dialer of NewClient checks every address again at connect time.
func CheckURL(ctx context.Context, raw string, allow []netip.Prefix, allowHTTP bool) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", urlErr("url is required")
	}
	if len(raw) > MaxURLLength {
		return "", urlErr("url is longer than %d characters", MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return "", urlErr("url %q is not an absolute http(s) URL", raw)
	}
	if u.User != nil {
		return "", urlErr("url must not contain credentials")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := u.Hostname()
	if isLocalhost(host) && !AddressAllowed(loopback4, allow) && !AddressAllowed(netip.IPv6Loopback(), allow) {
		return "", urlErr("url host %s names this machine (loopback), which the operator has not allowed", host)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP && !resolvesIntoAllowed(ctx, host, allow) {
			return "", urlErr("url must use https (plain http only reaches hosts in the allowed address ranges)")
		}
	default:
		return "", urlErr("url scheme %q is not supported, use https", u.Scheme)
	}
	if a, err := netip.ParseAddr(host); err == nil && !AddressAllowed(a, allow) {
		return "", urlErr("url address %s is in a blocked range (private, loopback, link-local, …) that the operator has not allowed", a)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String(), nil
}

// loopback4 is the address localhost names.
var loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// isLocalhost reports whether host is localhost or a name under it (RFC 6761: they all resolve to
// loopback), with any letter case and trailing dot.
func isLocalhost(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// resolvesIntoAllowed reports whether every address of host is inside allow.
func resolvesIntoAllowed(ctx context.Context, host string, allow []netip.Prefix) bool {
	if len(allow) == 0 {
		return false
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return false
		}
	}
	for _, a := range addrs {
		a = a.WithZone("").Unmap()
		if !slices.ContainsFunc(allow, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return false
		}
	}
	return len(addrs) > 0
}

// EventTypes lists the event types an endpoint can subscribe to: Portico's own (tenants.EventTypes)
// and those of Config.EventTypes, sorted.
func (s *Service) EventTypes() []string {
	types := slices.Concat(tenants.EventTypes, s.cfg.EventTypes)
	slices.Sort(types)
	return slices.Compact(types)
}

// checkEvents validates an event filter and returns it without duplicates.
func (s *Service) checkEvents(events []string) ([]string, error) {
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !slices.Contains(tenants.EventTypes, e) && !slices.Contains(s.cfg.EventTypes, e) && e != tenants.EventWebhookTest {
			return nil, fmt.Errorf("%w: unknown event type %q (known: %s)", ErrInvalid, e, strings.Join(s.EventTypes(), ", "))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func checkDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if !utf8.ValidString(d) || utf8.RuneCountInString(d) > MaxDescriptionLength {
		return "", fmt.Errorf("%w: description must be valid text of at most %d characters", ErrInvalid, MaxDescriptionLength)
	}
	return d, nil
}

// tenantExists checks the tenant in the store's index, then in etcd (the index may lag).
func (s *Service) tenantExists(ctx context.Context, tenantID string) error {
	if !validTenantID(tenantID) {
		return fmt.Errorf("%w: tenant %q", tenants.ErrTenantNotFound, tenantID)
	}
	if _, ok := s.store.TenantByID(tenantID); ok {
		return nil
	}
	_, err := s.store.Tenant(ctx, tenantID)
	return err
}

// CreateEndpoint validates req and creates an endpoint for the tenant with a fresh secret, which
// it returns: this is the only time the secret is shown.
func (s *Service) CreateEndpoint(ctx context.Context, tenantID string, req EndpointRequest) (*Endpoint, string, error) {
	u, err := s.checkURL(ctx, req.URL)
	if err != nil {
		return nil, "", err
	}
	events, err := s.checkEvents(req.Events)
	if err != nil {
		return nil, "", err
	}
	desc, err := checkDescription(req.Description)
	if err != nil {
		return nil, "", err
	}
	if err := s.tenantExists(ctx, tenantID); err != nil {
		return nil, "", fmt.Errorf("webhooks: creating endpoint: %w", err)
	}
	cnt, err := s.c.Get(ctx, s.k.endpoints(tenantID), clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return nil, "", fmt.Errorf("webhooks: counting endpoints: %w", tenants.Unavailable(err))
	}
	if cnt.Count >= MaxEndpoints {
		return nil, "", fmt.Errorf("%w: a tenant can have at most %d webhook endpoints", ErrInvalid, MaxEndpoints)
	}
	now := s.now().UTC().Truncate(time.Second)
	rec := &endpointRecord{
		Endpoint: Endpoint{ID: newEndpointID(), URL: u, Description: desc, Events: events, CreatedAt: now, UpdatedAt: now},
		TenantID: tenantID,
	}
	secret := NewSecret()
	key, _ := ParseSecret(secret)
	if rec.Secret, err = s.kr.SealBytes(secretAD(tenantID, rec.ID), key); err != nil {
		return nil, "", fmt.Errorf("webhooks: sealing endpoint secret: %w", err)
	}
	b, _ := json.Marshal(rec)
	k := s.k.endpoint(tenantID, rec.ID)
	resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(b))).Commit()
	if err != nil {
		return nil, "", fmt.Errorf("webhooks: creating endpoint: %w", tenants.Unavailable(err))
	}
	if !resp.Succeeded {
		return nil, "", fmt.Errorf("webhooks: creating endpoint: id %s collided, try again", rec.ID)
	}
	return rec.public(), secret, nil
}

// ListEndpoints returns the tenant's endpoints, oldest first.
func (s *Service) ListEndpoints(ctx context.Context, tenantID string) ([]*Endpoint, error) {
	if !validTenantID(tenantID) {
		return []*Endpoint{}, nil
	}
	recs, err := s.endpointRecords(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("webhooks: listing endpoints: %w", err)
	}
	out := make([]*Endpoint, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.public())
	}
	slices.SortFunc(out, func(a, b *Endpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// endpointRecords reads every endpoint record of a tenant, skipping unreadable ones.
func (s *Service) endpointRecords(ctx context.Context, tenantID string) ([]*endpointRecord, error) {
	resp, err := s.c.Get(ctx, s.k.endpoints(tenantID), clientv3.WithPrefix())
	if err != nil {
		return nil, tenants.Unavailable(err)
	}
	out := make([]*endpointRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var r endpointRecord
		if err := json.Unmarshal(kv.Value, &r); err != nil {
			s.log.Error("webhooks: skipping unreadable endpoint record", "key", string(kv.Key), "err", err)
			continue
		}
		out = append(out, &r)
	}
	return out, nil
}

// GetEndpoint returns one of the tenant's endpoints.
func (s *Service) GetEndpoint(ctx context.Context, tenantID, id string) (*Endpoint, error) {
	r, _, err := s.endpointRecord(ctx, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("webhooks: loading endpoint %q: %w", id, err)
	}
	return r.public(), nil
}

// endpointRecord reads one endpoint record and its ModRevision.
func (s *Service) endpointRecord(ctx context.Context, tenantID, id string) (*endpointRecord, int64, error) {
	if !validTenantID(tenantID) || !validEndpointID(id) {
		return nil, 0, ErrNotFound
	}
	resp, err := s.c.Get(ctx, s.k.endpoint(tenantID, id))
	if err != nil {
		return nil, 0, tenants.Unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, ErrNotFound
	}
	var r endpointRecord
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return nil, 0, fmt.Errorf("decoding endpoint record: %w", err)
	}
	return &r, resp.Kvs[0].ModRevision, nil
}

// updateEndpoint reads the record, lets change modify it and writes it back in a Txn that fails
// if the record moved meanwhile (then it reads and applies again, a few times).
func (s *Service) updateEndpoint(ctx context.Context, tenantID, id string, change func(r *endpointRecord) error) (*endpointRecord, error) {
	for range 8 {
		r, rev, err := s.endpointRecord(ctx, tenantID, id)
		if err != nil {
			return nil, err
		}
		if err := change(r); err != nil {
			return nil, err
		}
		r.UpdatedAt = s.now().UTC().Truncate(time.Second)
		b, _ := json.Marshal(r)
		k := s.k.endpoint(tenantID, id)
		resp, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(k), "=", rev)).Then(clientv3.OpPut(k, string(b))).Commit()
		if err != nil {
			return nil, tenants.Unavailable(err)
		}
		if resp.Succeeded {
			return r, nil
		}
	}
	return nil, tenants.ErrConflict
}

// UpdateEndpoint changes an endpoint's URL, description, event filter or enabled state.
func (s *Service) UpdateEndpoint(ctx context.Context, tenantID, id string, u EndpointUpdate) (*Endpoint, error) {
	var err error
	var newURL, newDesc string
	var newEvents []string
	if u.URL != nil {
		if newURL, err = s.checkURL(ctx, *u.URL); err != nil {
			return nil, err
		}
	}
	if u.Description != nil {
		if newDesc, err = checkDescription(*u.Description); err != nil {
			return nil, err
		}
	}
	if u.Events != nil {
		if newEvents, err = s.checkEvents(*u.Events); err != nil {
			return nil, err
		}
	}
	r, err := s.updateEndpoint(ctx, tenantID, id, func(r *endpointRecord) error {
		if u.URL != nil {
			r.URL = newURL
		}
		if u.Description != nil {
			r.Description = newDesc
		}
		if u.Events != nil {
			r.Events = newEvents
		}
		if u.Disabled != nil {
			r.Disabled = *u.Disabled
			if !r.Disabled {
				r.DisabledReason = ""
			} else if r.DisabledReason == "" {
				r.DisabledReason = "disabled by the tenant"
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: updating endpoint %q: %w", id, err)
	}
	return r.public(), nil
}

// DeleteEndpoint deletes an endpoint; its pending deliveries fail.
func (s *Service) DeleteEndpoint(ctx context.Context, tenantID, id string) error {
	if !validTenantID(tenantID) || !validEndpointID(id) {
		return fmt.Errorf("webhooks: deleting endpoint %q: %w", id, ErrNotFound)
	}
	resp, err := s.c.Delete(ctx, s.k.endpoint(tenantID, id))
	if err != nil {
		return fmt.Errorf("webhooks: deleting endpoint %q: %w", id, tenants.Unavailable(err))
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("webhooks: deleting endpoint %q: %w", id, ErrNotFound)
	}
	if err := s.failPendingTasks(ctx, tenantID, id, StateFailed, "endpoint deleted"); err != nil {
		// The workers fail them when they come due.
		s.log.Warn("webhooks: failing the deleted endpoint's pending deliveries", "endpoint", id, "err", err)
	}
	return nil
}

// RotateSecret gives the endpoint a new secret and returns it (shown this once). The previous
// secret keeps signing, as a second signature, for RotationOverlap; a secret rotated out
// earlier is dropped.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id string) (string, error) {
	secret := NewSecret()
	key, _ := ParseSecret(secret)
	sealed, err := s.kr.SealBytes(secretAD(tenantID, id), key)
	if err != nil {
		return "", fmt.Errorf("webhooks: sealing endpoint secret: %w", err)
	}
	_, err = s.updateEndpoint(ctx, tenantID, id, func(r *endpointRecord) error {
		r.PreviousSecret = r.Secret
		r.PreviousSecretExpiresAt = s.now().UTC().Add(RotationOverlap)
		r.Secret = sealed
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("webhooks: rotating the secret of endpoint %q: %w", id, err)
	}
	return secret, nil
}

// testEventData is the data of a webhook.test event.
type testEventData struct {
	EndpointID string `json:"endpointId"`
	Message    string `json:"message"`
}

// SendTest appends a "webhook.test" event addressed to the endpoint only and returns its id (the
// webhook-id the receiver sees).
func (s *Service) SendTest(ctx context.Context, tenantID, id string) (string, error) {
	r, _, err := s.endpointRecord(ctx, tenantID, id)
	if err != nil {
		return "", fmt.Errorf("webhooks: sending a test event to %q: %w", id, err)
	}
	if r.Disabled {
		return "", fmt.Errorf("%w: endpoint %s is disabled (%s); enable it first", ErrInvalid, id, r.DisabledReason)
	}
	ev, err := tenants.NewEvent(tenantID, tenants.EventWebhookTest, testEventData{EndpointID: id, Message: "Test event from Portico"}, s.now())
	if err != nil {
		return "", fmt.Errorf("webhooks: sending a test event to %q: %w", id, err)
	}
	if err := s.store.AppendEvents(ctx, ev); err != nil {
		return "", fmt.Errorf("webhooks: sending a test event to %q: %w", id, err)
	}
	return ev.ID, nil
}

// signingKeys opens the endpoint's secrets that sign at now: the current one, and the previous
// one during its overlap.
func (s *Service) signingKeys(r *endpointRecord, now time.Time) ([][]byte, error) {
	keys, err := SigningKeys(s.kr, secretAD(r.TenantID, r.ID), r.Secret, r.PreviousSecret, r.PreviousSecretExpiresAt, now)
	if err != nil {
		return nil, fmt.Errorf("opening the endpoint secret: %w", err)
	}
	return keys, nil
}

// SigningKeys opens the sealed secrets that sign at now: the current one, and the previous one
// until prevExpires (RotationOverlap after a rotation); a previous secret that no longer opens is
// left out. The tenant backend protocol signs its calls the same way.
func SigningKeys(kr *keyring.Keyring, ad string, cur, prev []byte, prevExpires, now time.Time) ([][]byte, error) {
	key, err := kr.OpenBytes(ad, cur)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{key}
	if len(prev) > 0 && now.Before(prevExpires) {
		if p, err := kr.OpenBytes(ad, prev); err == nil {
			keys = append(keys, p)
		}
	}
	return keys, nil
}

// ResealSecrets seals every endpoint secret of the tenants again with the keyring's newest key, so
// that an older sealing key can be retired. It returns how many endpoints it re-sealed.
func (s *Service) ResealSecrets(ctx context.Context, tenantIDs []string) (int, error) {
	n := 0
	for _, tid := range tenantIDs {
		recs, err := s.endpointRecords(ctx, tid)
		if err != nil {
			return n, err
		}
		for _, r := range recs {
			_, err := s.updateEndpoint(ctx, tid, r.ID, func(rec *endpointRecord) error {
				ad := secretAD(tid, rec.ID)
				for _, p := range []*[]byte{&rec.Secret, &rec.PreviousSecret} {
					if len(*p) == 0 {
						continue
					}
					key, err := s.kr.OpenBytes(ad, *p)
					if err != nil {
						return fmt.Errorf("webhooks: opening secret of %s: %w", rec.ID, err)
					}
					if *p, err = s.kr.SealBytes(ad, key); err != nil {
						return fmt.Errorf("webhooks: sealing secret of %s: %w", rec.ID, err)
					}
				}
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("webhooks: re-sealing endpoint %s: %w", r.ID, err)
			}
			n++
		}
	}
	return n, nil
}
