package tenants

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Errors of the link concern. A caller shows ErrLinkUsed and ErrLinkExpired as "gone" (410) and
// ErrLinkNotFound as "not found" (404).
var (
	ErrLinkNotFound = errors.New("tenants: portal link not found")
	ErrLinkUsed     = errors.New("tenants: portal link was already used")
	ErrLinkExpired  = errors.New("tenants: portal link has expired")
	ErrIdempotency  = errors.New("tenants: Idempotency-Key was used with a different request")
	// ErrLinkNeedsConfirmation is RedeemLink's answer for an emailed link (LinkKindEmail) without
	// RedeemInfo.Confirmed: the link is returned, nothing is consumed.
	ErrLinkNeedsConfirmation = errors.New("tenants: an emailed portal link is redeemed only by its Continue button")
)

// Kinds of link (Link.Kind): they differ in what opening the link's URL with GET does.
const (
	// LinkKindRedirect (the empty kind) is a link the tenant's backend redirects the customer's
	// browser to at once (the session API, the command line): a GET redeems it.
	LinkKindRedirect = ""
	// LinkKindEmail is a link that reaches a person through a message (Send Portal Link, the
	// portal-link API, the dashboard's Copy link). Mail scanners and link previews GET every URL
	// in a message, so a GET only shows a Continue page; the person's POST from it redeems.
	LinkKindEmail = "email"
)

// LinkGrace is how long a link's record outlives its expiry, so that a late or repeated click gets
// "this link was used / has expired" rather than "not found".
const LinkGrace = 24 * time.Hour

// IdempotencyTTL is how long a session request's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Link is what a single-use portal link grants once redeemed. It is stored under the hash of the
// link's token; the token only ever exists in the URL handed to the customer.
type Link struct {
	SessionID string `json:"sessionId"`
	AccountID string `json:"accountId"`
	// Switches are the session's section switches by name ("planOverviewSettings.showSection"),
	// already resolved against the tenant defaults (plugins.Resolve).
	Switches map[string]bool `json:"switches,omitempty"`
	// Settings are the standard sections' settings of a link stored before links stored
	// Switches; a switch the link does not name takes its default from them.
	Settings PortalDefaults `json:"settings"`
	Locale   string         `json:"locale,omitempty"`
	// SessionTTL is how long the session lasts once the link is opened.
	SessionTTL Duration  `json:"sessionTTL"`
	ExpiresAt  time.Time `json:"expiresAt"`
	CreatedAt  time.Time `json:"createdAt"`
	// CreatedBy names who asked for the link: "apikey:<id>", "cli", "dashboard:<admin>".
	CreatedBy string `json:"createdBy,omitempty"`
	// Flow is the step the session opens on instead of the overview: "update_payment_method",
	// "billing_details", "cancel_subscription:<subscription id>" or "pay_invoice:<invoice id>";
	// empty opens the overview.
	Flow string `json:"flow,omitempty"`
	// ReturnURL is where the portal's "Back to <tenant>" link leads: an https URL on a host the
	// tenant allows, already validated; empty shows no such link.
	ReturnURL string `json:"returnUrl,omitempty"`
	// Kind is LinkKindRedirect (empty, also every link stored before kinds existed) or
	// LinkKindEmail.
	Kind string `json:"kind,omitempty"`
}

// Idempotency is the stored first answer to a session request with an Idempotency-Key.
type Idempotency struct {
	// RequestHash identifies the request body the key was first used with.
	RequestHash string `json:"requestHash"`
	// Response is the first response, sealed by the caller (it holds the link's token).
	Response []byte `json:"response"`
}

// TokenLen is the length of a link token: 32 random bytes in unpadded base64url.
const TokenLen = 43

// NewToken returns a fresh link token.
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidToken reports whether tok has the shape of a link token; anything else is not looked up.
func ValidToken(tok string) bool {
	if len(tok) != TokenLen {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CreateLinkOptions are the optional parts of CreateLink.
type CreateLinkOptions struct {
	// IdempotencyKey, when set, makes the creation happen at most once per key for 24 h.
	IdempotencyKey string
	// RequestHash identifies the request for the idempotency check.
	RequestHash string
	// Response builds the sealed response to remember for replays; it gets the new token.
	Response func(token string) ([]byte, error)
}

// CreateLink stores a new single-use link for the tenant and returns its token. With an
// idempotency key, the link and the remembered response are written in one Txn that only succeeds
// if the key is new; otherwise replay holds the first response (and the returned token is empty),
// or the error is ErrIdempotency when the key was used for another request.
func (s *Store) CreateLink(ctx context.Context, tenantID string, l *Link, opt CreateLinkOptions) (token string, replay []byte, err error) {
	token = NewToken()
	rec, _ := json.Marshal(l)
	ev, err := NewEvent(tenantID, EventPortalSessionCreated, map[string]any{
		"sessionId": l.SessionID, "accountId": l.AccountID, "expiresAt": l.ExpiresAt, "createdBy": l.CreatedBy,
	}, l.CreatedAt)
	if err != nil {
		return "", nil, err
	}
	lease, err := s.linkLeases.get(ctx, s.c, l.ExpiresAt.Add(LinkGrace))
	if err != nil {
		return "", nil, fmt.Errorf("tenants: creating link: %w", Unavailable(err))
	}
	ops := append([]clientv3.Op{clientv3.OpPut(s.k.link(tenantID, hashHex(token)), string(rec), clientv3.WithLease(lease))}, s.eventOps([]*Event{ev})...)
	audit, err := s.auditOps(ctx, tenantID, l.AccountID, l.SessionID, AuditEntry{Type: AuditCreated, At: l.CreatedAt, By: l.CreatedBy}, true)
	if err != nil {
		return "", nil, err
	}
	ops = append(ops, audit...)
	var cmps []clientv3.Cmp
	var ikey string
	if opt.IdempotencyKey != "" {
		ikey = s.k.idempotency(tenantID, hashHex(opt.IdempotencyKey))
		resp, err := opt.Response(token)
		if err != nil {
			return "", nil, err
		}
		ilease, err := s.linkLeases.get(ctx, s.c, time.Now().Add(IdempotencyTTL))
		if err != nil {
			return "", nil, fmt.Errorf("tenants: creating link: %w", Unavailable(err))
		}
		ib, _ := json.Marshal(Idempotency{RequestHash: opt.RequestHash, Response: resp})
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(ikey), "=", 0))
		ops = append(ops, clientv3.OpPut(ikey, string(ib), clientv3.WithLease(ilease)))
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	txn := s.c.Txn(ctx).If(cmps...).Then(ops...)
	if ikey != "" {
		txn = txn.Else(clientv3.OpGet(ikey))
	}
	resp, err := txn.Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.linkLeases.forget(lease)
		return s.CreateLink(ctx, tenantID, l, opt)
	}
	if err != nil {
		return "", nil, fmt.Errorf("tenants: creating link: %w", Unavailable(err))
	}
	if !resp.Succeeded {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		var prev Idempotency
		if len(kvs) == 0 || json.Unmarshal(kvs[0].Value, &prev) != nil {
			return "", nil, fmt.Errorf("creating link: %w", ErrConflict)
		}
		if prev.RequestHash != opt.RequestHash {
			return "", nil, ErrIdempotency
		}
		return "", prev.Response, nil
	}
	return token, nil, nil
}

// usedPrefix starts the marker that replaces a link's record once it is redeemed
// ({"used":true,"n":"<nonce>"}); the key keeps its lease, so a replay within LinkGrace is told the
// link was used. The marker carries a nonce of the redemption that wrote it, so that a redemption
// whose Txn committed but whose answer was lost (a member failing mid-request) can recognise its
// own win instead of burning the link.
const usedPrefix = `{"used":true`

// isUsed reports whether a link value is a used marker (of any redemption).
func isUsed(v []byte) bool { return bytes.HasPrefix(v, []byte(usedPrefix)) }

// readLink reads the link of token for the tenant, as it is now: ErrLinkNotFound, ErrLinkUsed or
// ErrLinkExpired when it cannot be redeemed, else the link and its key-value (for the Txn's
// compare).
func (s *Store) readLink(ctx context.Context, key string, now time.Time) (*Link, *mvccpb.KeyValue, error) {
	resp, err := s.c.Get(ctx, key)
	if err != nil {
		return nil, nil, fmt.Errorf("tenants: reading link: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return nil, nil, ErrLinkNotFound
	}
	kv := resp.Kvs[0]
	if isUsed(kv.Value) {
		return nil, nil, ErrLinkUsed
	}
	var l Link
	if err := json.Unmarshal(kv.Value, &l); err != nil {
		return nil, nil, fmt.Errorf("tenants: decoding link: %w", err)
	}
	if !now.Before(l.ExpiresAt) {
		return nil, nil, ErrLinkExpired
	}
	return &l, kv, nil
}

// PeekLink returns the link of token for the tenant without consuming it, or the error
// RedeemLink would give (ErrLinkNotFound, ErrLinkUsed, ErrLinkExpired). HEAD requests and the
// Continue page of emailed links look links up with it.
func (s *Store) PeekLink(ctx context.Context, tenantID, token string, now time.Time) (*Link, error) {
	if !ValidToken(token) {
		return nil, ErrLinkNotFound
	}
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	l, _, err := s.readLink(ctx, s.k.link(tenantID, hashHex(token)), now)
	return l, err
}

// RedeemLink consumes the link of token for the tenant. It reads the link, then marks it used and
// appends the portal.session.redeemed event in one Txn that only succeeds if the link's key has not
// changed since the read, so across any number of instances exactly one caller gets the link, and
// the event is written exactly once with it. A token of another tenant is not found under this
// tenant's prefix (nothing is consumed), a used one is ErrLinkUsed, an expired one ErrLinkExpired
// (and is left as it is). An emailed link (LinkKindEmail) is only consumed when info.Confirmed;
// otherwise RedeemLink returns it with ErrLinkNeedsConfirmation and writes nothing.
func (s *Store) RedeemLink(ctx context.Context, tenantID, token string, now time.Time, info RedeemInfo) (*Link, error) {
	if !ValidToken(token) {
		return nil, ErrLinkNotFound
	}
	key := s.k.link(tenantID, hashHex(token))
	ctx, cancel := s.opCtx(ctx)
	defer cancel()
	l, kv, err := s.readLink(ctx, key, now)
	if err != nil {
		return nil, err
	}
	if l.Kind == LinkKindEmail && !info.Confirmed {
		return l, ErrLinkNeedsConfirmation
	}
	ev, err := NewEvent(tenantID, EventPortalSessionRedeemed, map[string]any{
		"sessionId": l.SessionID, "accountId": l.AccountID, "redeemedAt": now.UTC(),
	}, now)
	if err != nil {
		return nil, err
	}
	marker := usedPrefix + `,"n":"` + NewToken()[:16] + `"}`
	ops := append([]clientv3.Op{clientv3.OpPut(key, marker, clientv3.WithIgnoreLease())}, s.eventOps([]*Event{ev})...)
	audit, err := s.auditOps(ctx, tenantID, l.AccountID, l.SessionID, AuditEntry{Type: AuditRedeemed, At: now, IP: info.IP, UserAgent: info.UserAgent}, false)
	if err != nil {
		return nil, err
	}
	ops = append(ops, audit...)
	tr, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).Then(ops...).Commit()
	if err != nil {
		// The Txn may have committed with its answer lost: our own marker in the key says so.
		rctx, rcancel := s.opCtx(context.Background())
		defer rcancel()
		if r, rerr := s.c.Get(rctx, key); rerr == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == marker {
			return l, nil
		}
		return nil, fmt.Errorf("tenants: redeeming link: %w", Unavailable(err))
	}
	if !tr.Succeeded {
		return nil, ErrLinkUsed
	}
	return l, nil
}

// leaseBuckets shares one etcd lease between every link that expires in the same minute, so that
// creating a link costs one round trip, not two. A bucket's lease lives until the end of its
// minute; a link may therefore outlive its expiry by up to a minute in etcd, but its record
// carries its exact expiry and RedeemLink checks it.
type leaseBuckets struct {
	mu      sync.Mutex
	m       map[int64]clientv3.LeaseID
	timeout time.Duration // bound on one Grant, the store's request timeout
}

func (b *leaseBuckets) get(ctx context.Context, c *clientv3.Client, until time.Time) (clientv3.LeaseID, error) {
	bucket := until.Unix()/60 + 1
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.m[bucket]; ok {
		return id, nil
	}
	ttl := bucket*60 - time.Now().Unix()
	if ttl < 5 {
		ttl = 5
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	g, err := c.Grant(ctx, ttl)
	if err != nil {
		return 0, err
	}
	if b.m == nil {
		b.m = map[int64]clientv3.LeaseID{}
	}
	now := time.Now().Unix() / 60
	for k := range b.m {
		if k < now {
			delete(b.m, k)
		}
	}
	b.m[bucket] = g.ID
	return g.ID, nil
}

func (b *leaseBuckets) forget(id clientv3.LeaseID) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, v := range b.m {
		if v == id {
			delete(b.m, k)
		}
	}
}
