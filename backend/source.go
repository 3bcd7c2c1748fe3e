package backend

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/webhooks"
)

// MaxETag bounds the ETag a source answers; a longer one (or one with other than printable ASCII)
// is ignored: the document is then fetched whole at every revalidation.
const MaxETag = 256

var _ tenants.AccountSource = (*Service)(nil)

// SourceSigned is what the signature of an account fetch covers in place of a body: "GET " and the
// request's path and query as sent ("GET /billing/accounts/acc_1"). A backend verifies the
// webhook-signature of a GET against SourceSigned(r.URL).
func SourceSigned(u *url.URL) []byte { return []byte("GET " + u.RequestURI()) }

// FetchAccount asks the tenant's backend for an account document: the source of a source-mode
// tenant (tenants.AccountSource). It sends
//
//	GET <backend url>/accounts/<accountId>          (q.AccountID)
//	GET <backend url>/accounts?alias=<alias>        (q.Alias, when AccountID is empty)
//
// with the Standard Webhooks headers of the POSTs (webhook-id, webhook-timestamp,
// webhook-signature over "<id>.<timestamp>.GET <path and query>": SourceSigned, the request line's
// target in place of the empty body, so that a signature seen on one request does not fetch
// another account), Accept: application/json
// and, with q.ETag, If-None-Match. The backend answers 200 with the document as the body (and an
// ETag, optional), 304 when the ETag is current, or 404 when it has no such account
// (tenants.ErrAccountNotFound). Anything else fails as a Call does (ErrTimeout, ErrUnreachable,
// ErrForbiddenAddress, *StatusError, ErrInvalidResponse for a body over MaxResponseBody): the
// same client, egress rules, timeout and size limit. The store validates the document as
// PUT /v1/accounts does. Nothing is written to etcd.
func (s *Service) FetchAccount(ctx context.Context, tenantID string, q tenants.SourceQuery) (tenants.SourceAnswer, error) {
	var out tenants.SourceAnswer
	rec, _, err := s.load(ctx, tenantID)
	if err != nil {
		return out, fmt.Errorf("backend: fetching an account: %w", err)
	}
	u, err := url.Parse(rec.URL)
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	if q.AccountID != "" {
		u = u.JoinPath("accounts", q.AccountID)
	} else {
		u = u.JoinPath("accounts")
		v := u.Query()
		v.Set("alias", q.Alias)
		u.RawQuery = v.Encode()
	}
	now := s.now()
	id := newRequestID(now)
	keys, err := s.signingKeys(tenantID, rec, now)
	if err != nil {
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return out, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "Portico-Backend/1")
	hr.Header.Set(webhooks.HeaderID, id)
	hr.Header.Set(webhooks.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	hr.Header.Set(webhooks.HeaderSignature, webhooks.SignatureHeader(keys, id, now, SourceSigned(hr.URL)))
	if q.ETag != "" {
		hr.Header.Set("If-None-Match", q.ETag)
	}
	host := hr.URL.Host
	start := time.Now()
	resp, err := s.client.Do(hr)
	if err != nil {
		err = classify(ctx, err)
		s.log.Warn("backend: fetching an account failed", "tenant", tenantID, "host", host, "request", id, "err", err)
		return out, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		s.log.Debug("backend: account not modified", "tenant", tenantID, "host", host, "request", id, "ms", time.Since(start).Milliseconds())
		return tenants.SourceAnswer{NotModified: true, ETag: q.ETag}, nil
	case http.StatusNotFound:
		return out, fmt.Errorf("backend: the source has no such account: %w", tenants.ErrAccountNotFound)
	default:
		s.log.Warn("backend: fetching an account answered an error status", "tenant", tenantID, "host", host, "request", id, "status", resp.StatusCode)
		return out, &StatusError{Code: resp.StatusCode}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody+1))
	if err != nil {
		return out, classify(ctx, err)
	}
	if len(raw) > MaxResponseBody {
		return out, fmt.Errorf("%w: the answer is larger than %d bytes", ErrInvalidResponse, MaxResponseBody)
	}
	out.Document = raw
	if et := resp.Header.Get("ETag"); validETag(et) {
		out.ETag = et
	}
	s.log.Info("backend: fetched an account", "tenant", tenantID, "host", host, "request", id, "bytes", len(raw), "ms", time.Since(start).Milliseconds())
	return out, nil
}

func validETag(et string) bool {
	if et == "" || len(et) > MaxETag {
		return false
	}
	for i := 0; i < len(et); i++ {
		if et[i] < 0x21 || et[i] > 0x7e {
			return false
		}
	}
	return true
}
