package backend

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portico-billing/portico/catalog"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
	"github.com/portico-billing/portico/webhooks"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Request types Portico sends. A backend answers the types it knows; Ping is the dashboard's
// "Send test request" (data {}; any valid answer passes).
const (
	TypePing       = "ping"
	TypeInvoicePay = "invoice.pay"
	// TypeSubscriptionChange carries out a plan or seat change (SubscriptionChangeData).
	TypeSubscriptionChange = "subscription.change"
	// TypeSubscriptionPreview asks the backend for its own preview of a change
	// (SubscriptionPreviewData); an answer without "preview" lets Portico show its own.
	TypeSubscriptionPreview = "subscription.preview"
)

// Request is one call to a tenant's backend.
type Request struct {
	// Type is what the backend is asked to do ("invoice.pay"): 1-64 characters a-z, 0-9, "."
	// and "_".
	Type string
	// IdempotencyKey names the customer's attempt: a double submit, a reload, another tab or
	// another gateway instance passes the same key for the same attempt, and the backend is
	// called at most once while an attempt is in flight; its outcome answers later calls. 1-255
	// printable ASCII characters. The backend receives it too, to make its own action idempotent.
	IdempotencyKey string
	// Data is the request's data, encoded as a JSON object (nil: {}).
	Data any
}

// InvoicePayData is the data of an "invoice.pay" request.
type InvoicePayData struct {
	AccountID       string `json:"accountId"`
	InvoiceID       string `json:"invoiceId"`
	Amount          int64  `json:"amount"`
	Currency        string `json:"currency"`
	PaymentMethodID string `json:"paymentMethodId"`
	SessionID       string `json:"sessionId"`
}

// SubscriptionChangeData is the data of a "subscription.change" request: a move of the
// subscription to the catalog plan PlanID, or a new Quantity of the per_unit item at index Item
// of its items, as the customer confirmed it after seeing Preview (Portico's own, or the one the
// backend answered to subscription.preview).
type SubscriptionChangeData struct {
	AccountID      string `json:"accountId"`
	SubscriptionID string `json:"subscriptionId"`
	// The target: planId with the quantities of its per_unit items (the seats carried over, as
	// Preview priced them), or item and quantity.
	account.ChangeTarget
	Preview   *catalog.Preview `json:"preview"`
	SessionID string           `json:"sessionId"`
}

// SubscriptionPreviewData is the data of a "subscription.preview" request: the change the
// customer is about to see a preview of (PlanID, or Item and Quantity), asked on Date (the
// customer's today, UTC).
type SubscriptionPreviewData struct {
	AccountID      string `json:"accountId"`
	SubscriptionID string `json:"subscriptionId"`
	account.ChangeTarget
	Date      account.Date `json:"date"`
	SessionID string       `json:"sessionId"`
}

// Result is the backend's answer to a request.
type Result string

// Results.
const (
	Succeeded      Result = "succeeded"
	Declined       Result = "declined"
	RequiresAction Result = "requires_action"
	Pending        Result = "pending"
)

// Response is the backend's answer.
type Response struct {
	// RequestID is the id of the request that reached the backend ("breq_…", also its
	// webhook-id header).
	RequestID string
	Result    Result
	// Message is for the customer (the backend's words, in the language it chose); may be empty.
	Message string
	// RedirectURL is where a requires_action sends the customer (https).
	RedirectURL string
	// Account is the updated account document the backend returned, decoded and valid; nil
	// when it returned none, and in replays (the caller whose call reached the backend stores
	// it with StoreAccount).
	Account *account.Account
	// Preview is the backend's own preview of a change (the answer's "preview", for
	// subscription.preview), checked by catalog.Preview.Check; nil when it gave none. Replays
	// carry it too.
	Preview *catalog.Preview
	// Replayed says the answer is an earlier call's outcome for the same idempotency key: the
	// backend was not called again.
	Replayed bool
}

// wireRequest is the body Portico POSTs.
type wireRequest struct {
	Type           string          `json:"type"`
	ID             string          `json:"id"`
	IdempotencyKey string          `json:"idempotencyKey"`
	Data           json.RawMessage `json:"data"`
}

// wireResponse is the body a backend answers.
type wireResponse struct {
	Result      string          `json:"result"`
	Message     string          `json:"message"`
	RedirectURL string          `json:"redirectUrl"`
	Account     json.RawMessage `json:"account"`
	Preview     json.RawMessage `json:"preview"`
}

// Attempt states.
const (
	stateInFlight = "in_flight"
	stateDone     = "done"
	stateFailed   = "failed"
)

// attempt is the value of an attempt key: a claim while in flight, then its outcome.
type attempt struct {
	State string `json:"state"`
	// Fingerprint is the sha256 of the request's type and data: a key reused for another
	// request is refused.
	Fingerprint string    `json:"fingerprint"`
	RequestID   string    `json:"requestId"`
	StartedAt   time.Time `json:"startedAt"`
	// Outcome (done).
	Result       Result           `json:"result,omitempty"`
	Message      string           `json:"message,omitempty"`
	RedirectURL  string           `json:"redirectUrl,omitempty"`
	AccountError string           `json:"accountError,omitempty"`
	Preview      *catalog.Preview `json:"preview,omitempty"`
	// Failure (failed).
	Failure string `json:"failure,omitempty"`
	Status  int    `json:"status,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// outcome is the attempt's answer for a caller.
func (a *attempt) outcome(replayed bool) (Response, error) {
	switch a.State {
	case stateDone:
		r := Response{RequestID: a.RequestID, Result: a.Result, Message: a.Message, RedirectURL: a.RedirectURL, Preview: a.Preview, Replayed: replayed}
		if a.AccountError != "" {
			return r, fmt.Errorf("%w: %s", ErrInvalidAccount, a.AccountError)
		}
		return r, nil
	case stateFailed:
		if a.Failure == "status" {
			return Response{RequestID: a.RequestID, Replayed: replayed}, &StatusError{Code: a.Status}
		}
		cls := ErrUnreachable
		for _, f := range failures {
			if f.Audit == a.Failure {
				cls = f.err
			}
		}
		return Response{RequestID: a.RequestID, Replayed: replayed}, fmt.Errorf("%w: %s", cls, a.Detail)
	}
	return Response{}, fmt.Errorf("backend: attempt in unknown state %q", a.State)
}

// newRequestID returns a time-ordered request id: "breq_" + 16 hex digits of Unix nanoseconds +
// 8 random hex digits.
func newRequestID(now time.Time) string {
	var r [4]byte
	rand.Read(r[:])
	return fmt.Sprintf("breq_%016x%s", now.UnixNano(), hex.EncodeToString(r[:]))
}

func validType(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// encodeRequest checks req and returns its data as a JSON object and its fingerprint.
func encodeRequest(req Request) (json.RawMessage, string, error) {
	if !validType(req.Type) {
		return nil, "", fmt.Errorf("%w: type %q must be 1-64 characters a-z, 0-9, '.' and '_'", ErrInvalid, req.Type)
	}
	if !validKey(req.IdempotencyKey) {
		return nil, "", fmt.Errorf("%w: the idempotency key must be 1-%d printable ASCII characters", ErrInvalid, MaxIdempotencyKey)
	}
	data := json.RawMessage("{}")
	if req.Data != nil {
		b, err := json.Marshal(req.Data)
		if err != nil {
			return nil, "", fmt.Errorf("%w: encoding the data: %v", ErrInvalid, err)
		}
		if len(b) == 0 || b[0] != '{' {
			return nil, "", fmt.Errorf("%w: the data must encode as a JSON object", ErrInvalid)
		}
		if len(b) > MaxRequestData {
			return nil, "", fmt.Errorf("%w: the data is %d bytes, the limit is %d", ErrInvalid, len(b), MaxRequestData)
		}
		data = b
	}
	h := sha256.New()
	h.Write([]byte(req.Type))
	h.Write([]byte{0})
	h.Write(data)
	return data, hex.EncodeToString(h.Sum(nil)), nil
}

// Call asks the tenant's backend to act and returns its answer. It is at most once per attempt
// while one is in flight, across gateway instances: the first call with an idempotency key
// claims the attempt in etcd and POSTs; a call with the same key meanwhile waits for that
// outcome (until ctx ends) and returns it with Replayed set. An answer of the backend (any
// result) is kept for Config.OutcomeTTL and answers later calls with the key without calling
// again; a failure (timeout, unreachable, error status, invalid answer, forbidden address) is
// kept only until the attempt's claim expires (Config.Timeout + 10 s after it began), so that a
// double submit sees it too, and then the key may call again (the backend gets the same
// idempotencyKey, and must not act twice on it). Nothing is stored in the tenant's data: the
// caller stores Response.Account with StoreAccount.
//
// Errors: ErrNoBackend, ErrInvalid (a malformed request), ErrKeyReused, one of the failure
// classes (ErrTimeout, ErrUnreachable, ErrStatus, ErrInvalidResponse, ErrForbiddenAddress),
// ErrInvalidAccount (with the Response holding the result), or tenants.ErrUnavailable.
func (s *Service) Call(ctx context.Context, tenantID string, req Request) (Response, error) {
	data, fp, err := encodeRequest(req)
	if err != nil {
		return Response{}, err
	}
	key := s.store.BackendAttemptKey(tenantID, req.IdempotencyKey)
	for {
		if err := ctx.Err(); err != nil {
			return Response{}, fmt.Errorf("backend: waiting for the attempt: %w", err)
		}
		resp, err := s.c.Get(ctx, key)
		if err != nil {
			return Response{}, fmt.Errorf("backend: reading the attempt: %w", tenants.Unavailable(err))
		}
		if len(resp.Kvs) == 0 {
			r, err, claimed := s.claimAndCall(ctx, tenantID, key, req, data, fp)
			if claimed {
				return r, err
			}
			continue // another caller claimed it first
		}
		kv := resp.Kvs[0]
		var a attempt
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return Response{}, fmt.Errorf("backend: decoding the attempt: %w", err)
		}
		if a.Fingerprint != fp {
			return Response{}, ErrKeyReused
		}
		if a.State != stateInFlight {
			return a.outcome(true)
		}
		if r, err, ok := s.waitFor(ctx, key, kv.ModRevision, fp); ok {
			return r, err
		}
	}
}

// waitFor watches an in-flight attempt from rev on until its outcome is written (ok) or the
// claim goes away without one (a gateway died mid-call: the caller tries to claim it).
func (s *Service) waitFor(ctx context.Context, key string, rev int64, fp string) (Response, error, bool) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range s.c.Watch(wctx, key, clientv3.WithRev(rev+1)) {
		if wr.Err() != nil || wr.CompactRevision != 0 {
			return Response{}, nil, false // read again
		}
		for _, ev := range wr.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return Response{}, nil, false
			}
			var a attempt
			if json.Unmarshal(ev.Kv.Value, &a) != nil {
				return Response{}, nil, false
			}
			if a.Fingerprint != fp {
				return Response{}, ErrKeyReused, true
			}
			if a.State != stateInFlight {
				r, err := a.outcome(true)
				return r, err, true
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return Response{}, fmt.Errorf("backend: waiting for the attempt: %w", err), true
	}
	return Response{}, nil, false
}

// claimAndCall claims the attempt and, when it wins, calls the backend and writes the outcome.
func (s *Service) claimAndCall(ctx context.Context, tenantID, key string, req Request, data json.RawMessage, fp string) (Response, error, bool) {
	rec, _, err := s.load(ctx, tenantID)
	if err != nil {
		return Response{}, fmt.Errorf("backend: calling: %w", err), true
	}
	ttl := int64((s.cfg.Timeout + claimMargin + time.Second - 1) / time.Second)
	lease, err := s.c.Grant(ctx, ttl)
	if err != nil {
		return Response{}, fmt.Errorf("backend: claiming the attempt: %w", tenants.Unavailable(err)), true
	}
	now := s.now()
	a := attempt{State: stateInFlight, Fingerprint: fp, RequestID: newRequestID(now), StartedAt: now.UTC()}
	b, _ := json.Marshal(&a)
	tr, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(b), clientv3.WithLease(lease.ID))).Commit()
	if err != nil {
		return Response{}, fmt.Errorf("backend: claiming the attempt: %w", tenants.Unavailable(err)), true
	}
	if !tr.Succeeded {
		s.c.Revoke(context.WithoutCancel(ctx), lease.ID)
		return Response{}, nil, false
	}
	claimRev := tr.Header.Revision

	r, callErr := s.post(ctx, tenantID, rec, a.RequestID, req, data)
	// The outcome replaces the claim, guarded by it: a claim that expired meanwhile (and was
	// taken by another caller) is not overwritten.
	if callErr == nil || errors.Is(callErr, ErrInvalidAccount) {
		a.State, a.Result, a.Message, a.RedirectURL, a.Preview = stateDone, r.Result, r.Message, r.RedirectURL, r.Preview
		if callErr != nil {
			a.AccountError = strings.TrimPrefix(strings.TrimPrefix(callErr.Error(), ErrInvalidAccount.Error()), ": ")
		}
	} else {
		a.State, a.Failure, a.Detail = stateFailed, failureClass(callErr), callErr.Error()
		var se *StatusError
		if errors.As(callErr, &se) {
			a.Status = se.Code
		}
	}
	if err := s.writeOutcome(context.WithoutCancel(ctx), key, claimRev, lease.ID, &a); err != nil {
		s.log.Error("backend: storing the outcome of an attempt", "tenant", tenantID, "request", a.RequestID, "err", err)
	}
	return r, callErr, true
}

// failureClass names the class of a call error for the stored attempt (Failure.Audit); an
// error of no class is stored as unreachable.
func failureClass(err error) string {
	if f := FailureOf(err); !f.Unexpected() {
		return f.Audit
	}
	return "unreachable"
}

// writeOutcome replaces the claim by the outcome: an answer on the outcome lease, a failure on
// the claim's own lease (so it goes when the claim would have).
func (s *Service) writeOutcome(ctx context.Context, key string, claimRev int64, claimLease clientv3.LeaseID, a *attempt) error {
	b, _ := json.Marshal(a)
	for try := 0; ; try++ {
		lease := claimLease
		if a.State == stateDone {
			var err error
			if lease, err = s.outcomeLease(ctx); err != nil {
				return err
			}
		}
		_, err := s.c.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", claimRev)).
			Then(clientv3.OpPut(key, string(b), clientv3.WithLease(lease))).Commit()
		if isLeaseNotFound(err) && a.State == stateDone && try == 0 {
			s.forgetOutcomeLease(lease)
			continue
		}
		if err != nil {
			return tenants.Unavailable(err)
		}
		if a.State == stateDone {
			s.c.Revoke(ctx, claimLease) // the claim's lease holds nothing any more
		}
		return nil
	}
}

// Ping sends a "ping" request (the dashboard's "Send test request") outside the attempt
// machinery: nothing is stored, every call reaches the backend.
func (s *Service) Ping(ctx context.Context, tenantID string) (Response, error) {
	rec, _, err := s.load(ctx, tenantID)
	if err != nil {
		return Response{}, fmt.Errorf("backend: calling: %w", err)
	}
	now := s.now()
	id := newRequestID(now)
	return s.post(ctx, tenantID, rec, id, Request{Type: TypePing, IdempotencyKey: id}, json.RawMessage("{}"))
}

// post makes the HTTP request and parses the answer.
func (s *Service) post(ctx context.Context, tenantID string, rec *record, id string, req Request, data json.RawMessage) (Response, error) {
	out := Response{RequestID: id}
	body, _ := json.Marshal(wireRequest{Type: req.Type, ID: id, IdempotencyKey: req.IdempotencyKey, Data: data})
	now := s.now()
	keys, err := s.signingKeys(tenantID, rec, now)
	if err != nil {
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.URL, bytes.NewReader(body))
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("User-Agent", "Portico-Backend/1")
	hr.Header.Set(webhooks.HeaderID, id)
	hr.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	hr.Header.Set(webhooks.HeaderSignature, webhooks.SignatureHeader(keys, id, now, body))
	host := hr.URL.Host
	start := time.Now()
	resp, err := s.client.Do(hr)
	if err != nil {
		err = classify(ctx, err)
		s.log.Warn("backend: call failed", "tenant", tenantID, "host", host, "type", req.Type, "request", id, "err", err)
		return out, err
	}
	defer resp.Body.Close()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if resp.StatusCode != http.StatusOK {
		s.log.Warn("backend: call answered an error status", "tenant", tenantID, "host", host, "type", req.Type, "request", id, "status", resp.StatusCode)
		return out, &StatusError{Code: resp.StatusCode}
	}
	if rerr != nil {
		return out, classify(ctx, rerr)
	}
	if len(raw) > MaxResponseBody {
		return out, fmt.Errorf("%w: the answer is larger than %d bytes", ErrInvalidResponse, MaxResponseBody)
	}
	r, err := s.parse(raw)
	r.RequestID = id
	s.log.Info("backend: called", "tenant", tenantID, "host", host, "type", req.Type, "request", id,
		"result", string(r.Result), "ms", time.Since(start).Milliseconds(), "err", err)
	return r, err
}

// classify maps a transport error to a failure class.
func classify(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, webhooks.ErrAddressNotAllowed):
		return fmt.Errorf("%w: %v", ErrForbiddenAddress, err)
	case errors.Is(err, context.DeadlineExceeded), ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrUnreachable, err)
}

// parse reads a backend's answer strictly: a JSON object whose result is one of the four, whose
// fields have their types, a message of valid text, a redirectUrl exactly for requires_action
// (https), an account document that decodes and validates. Unknown fields are ignored (later
// versions of the protocol may add some).
func (s *Service) parse(raw []byte) (Response, error) {
	var w wireResponse
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&w); err != nil {
		return Response{}, fmt.Errorf("%w: %s", ErrInvalidResponse, account.DescribeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Response{}, fmt.Errorf("%w: unexpected data after the JSON answer", ErrInvalidResponse)
	}
	r := Response{Result: Result(w.Result)}
	switch r.Result {
	case Succeeded, Declined, RequiresAction, Pending:
	case "":
		return Response{}, fmt.Errorf("%w: result is missing", ErrInvalidResponse)
	default:
		return Response{}, fmt.Errorf("%w: unknown result %q (want succeeded, declined, requires_action or pending)", ErrInvalidResponse, w.Result)
	}
	msg := strings.TrimSpace(w.Message)
	if !utf8.ValidString(msg) || utf8.RuneCountInString(msg) > MaxMessageLength {
		return Response{}, fmt.Errorf("%w: message must be valid text of at most %d characters", ErrInvalidResponse, MaxMessageLength)
	}
	r.Message = msg
	switch {
	case r.Result == RequiresAction:
		u, err := s.checkRedirect(w.RedirectURL)
		if err != nil {
			return Response{}, err
		}
		r.RedirectURL = u
	case w.RedirectURL != "":
		return Response{}, fmt.Errorf("%w: redirectUrl is only for requires_action", ErrInvalidResponse)
	}
	if pv := bytes.TrimSpace(w.Preview); len(pv) > 0 && !bytes.Equal(pv, []byte("null")) {
		var p catalog.Preview
		if err := json.Unmarshal(pv, &p); err != nil {
			return Response{}, fmt.Errorf("%w: preview: %s", ErrInvalidResponse, account.DescribeJSONError(err))
		}
		if err := p.Check(); err != nil {
			return Response{}, fmt.Errorf("%w: %s", ErrInvalidResponse, strings.TrimPrefix(err.Error(), catalog.ErrInvalid.Error()+": "))
		}
		r.Preview = &p
	}
	if a := bytes.TrimSpace(w.Account); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		doc, err := account.Decode(a)
		if err != nil {
			return r, fmt.Errorf("%w: %s", ErrInvalidAccount, strings.TrimPrefix(err.Error(), account.ErrInvalid.Error()+": "))
		}
		r.Account = doc
	}
	return r, nil
}

// checkRedirect validates a requires_action redirectUrl: absolute https without credentials, or
// http on loopback when the operator allows loopback (tests and local examples).
func (s *Service) checkRedirect(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("%w: requires_action needs a redirectUrl", ErrInvalidResponse)
	}
	u, err := url.Parse(raw)
	if err != nil || len(raw) > webhooks.MaxURLLength || !u.IsAbs() || u.Hostname() == "" || u.User != nil {
		return "", fmt.Errorf("%w: redirectUrl is not an absolute https URL", ErrInvalidResponse)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !s.loopbackAllowed(u.Hostname()) {
			return "", fmt.Errorf("%w: redirectUrl must use https", ErrInvalidResponse)
		}
	default:
		return "", fmt.Errorf("%w: redirectUrl must use https", ErrInvalidResponse)
	}
	return u.String(), nil
}

// loopbackAllowed reports whether host is a loopback name or address inside Config.AllowCIDRs.
func (s *Service) loopbackAllowed(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	a, err := netip.ParseAddr(h)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		a, err = netip.AddrFrom4([4]byte{127, 0, 0, 1}), nil
	}
	return err == nil && a.Unmap().IsLoopback() && webhooks.AddressAllowed(a, s.cfg.AllowCIDRs)
}
