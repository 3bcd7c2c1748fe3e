package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portico-billing/portico/internal/lifecycle"

	"github.com/portico-billing/portico/tenants"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const (
	// claimMargin is how much longer than a request its worker's lease must still be valid.
	claimMargin = 500 * time.Millisecond
	// idleWait is the longest a worker sleeps with nothing due; watches wake it sooner.
	idleWait = 30 * time.Second
	// retryWait is the pause after an etcd error.
	retryWait = time.Second
	// opTimeout bounds each etcd request of the dispatcher.
	opTimeout = 5 * time.Second
	// relistEvery is how often the outbox is listed again besides being watched.
	relistEvery = time.Minute
	// userAgent identifies deliveries.
	userAgent = "Portico-Webhooks/1"
)

// task is a pending attempt of a delivery, stored under tasks/<due>/<deliveryID>. It carries the
// body, so that every attempt sends the same bytes.
type task struct {
	DeliveryID string `json:"deliveryId"`
	TenantID   string `json:"tenantId"`
	EndpointID string `json:"endpointId"`
	EventID    string `json:"eventId"`
	EventType  string `json:"eventType"`
	// Attempt counts the attempts made so far.
	Attempt int    `json:"attempt"`
	Body    string `json:"body"`
}

// record decodes the delivery record among kvs (a Get of its key), or starts a new one.
func (t *task) record(kvs []*mvccpb.KeyValue, now time.Time) *Delivery {
	var d Delivery
	if len(kvs) == 1 && json.Unmarshal(kvs[0].Value, &d) == nil && d.ID == t.DeliveryID {
		return &d
	}
	return &Delivery{
		ID: t.DeliveryID, EndpointID: t.EndpointID, EventID: t.EventID, EventType: t.EventType,
		State: StatePending, Attempts: []Attempt{}, CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
}

// envelope is the body of every delivery.
type envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// workerLease holds this instance's claims.
type workerLease struct {
	id    clientv3.LeaseID
	token string // the value of this lease's claims
}

// runner is the state of one Run.
type runner struct {
	s       *Service
	wake    chan struct{}
	sem     chan struct{}
	workers sync.WaitGroup

	mu         sync.Mutex
	inflight   map[string]bool
	lease      *workerLease
	validUntil time.Time // real time until which lease surely lives
}

// Start runs Run in the background until Stop: the shape cmd/portico starts long-lived services in.
func (s *Service) Start(ctx context.Context) error {
	return s.loop.Start(ctx, func(ctx context.Context) { s.Run(ctx) })
}

// Stop ends what Start began and returns when delivery has stopped and this instance's claims
// are released.
func (s *Service) Stop() error { return s.loop.Stop() }

var _ lifecycle.App = (*Service)(nil)

// Run delivers the outbox until ctx ends, then returns nil. It fans events out into delivery
// tasks and delivers the tasks that come due, sharing the work with the other instances through
// etcd (see the package doc). Run it once per process; in-flight requests are abandoned when ctx
// ends and this instance's claims are released for the other instances.
func (s *Service) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("webhooks: Run is already running on this Service")
	}
	defer s.running.Store(false)
	r := &runner{s: s, wake: make(chan struct{}, 1), sem: make(chan struct{}, s.cfg.Concurrency), inflight: map[string]bool{}}
	var bg sync.WaitGroup
	bg.Go(func() { r.keepLease(ctx) })
	bg.Go(func() { r.fanOutLoop(ctx) })
	bg.Go(func() { r.watchQueue(ctx) })
	r.schedule(ctx)
	r.workers.Wait()
	bg.Wait()
	if l := r.currentLease(); l != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		s.c.Revoke(rctx, l.id)
		cancel()
	}
	return nil
}

// signal wakes the scheduler.
func (r *runner) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *runner) currentLease() *workerLease {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lease
}

// usableLease returns the lease if it stays valid for at least need, else nil.
func (r *runner) usableLease(need time.Duration) *workerLease {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease == nil || time.Until(r.validUntil) < need {
		return nil
	}
	return r.lease
}

// remaining is how long l surely stays valid.
func (r *runner) remaining(l *workerLease) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease != l {
		return 0
	}
	return time.Until(r.validUntil)
}

func (r *runner) setLease(l *workerLease, until time.Time) {
	r.mu.Lock()
	r.lease, r.validUntil = l, until
	r.mu.Unlock()
	r.signal()
}

// keepLease grants the lease that holds this instance's claims and renews it every quarter of
// its TTL; when etcd forgets it (this instance was cut off longer than the TTL), it grants
// another. Validity is counted from before each request, so it never overestimates.
func (r *runner) keepLease(ctx context.Context) {
	s := r.s
	ttl := int64((s.cfg.ClaimTTL + time.Second - 1) / time.Second)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		gctx, cancel := context.WithTimeout(ctx, opTimeout)
		g, err := s.c.Grant(gctx, ttl)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("webhooks: granting the worker lease", "err", err)
			}
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		l := &workerLease{id: g.ID, token: fmt.Sprintf("%s/%x", s.cfg.WorkerID, int64(g.ID))}
		r.setLease(l, start.Add(time.Duration(g.TTL)*time.Second))
		interval := time.Duration(g.TTL) * time.Second / 4
		for sleep(ctx, interval) {
			start := time.Now()
			kctx, cancel := context.WithTimeout(ctx, interval)
			ka, err := s.c.KeepAliveOnce(kctx, g.ID)
			cancel()
			if errors.Is(err, rpctypes.ErrLeaseNotFound) {
				s.log.Warn("webhooks: worker lease expired; granting a new one")
				r.setLease(nil, time.Time{})
				break
			}
			if err != nil {
				continue // etcd unreachable: the validity runs out on its own
			}
			r.setLease(l, start.Add(time.Duration(ka.TTL)*time.Second))
		}
	}
}

// refresh renews l at once and reports whether it then stays valid for need. A task is claimed
// only while the lease stays valid for a whole request, but the claim and the reads before the
// request take time: under a slow etcd they took more than the slack between the lease's TTL and
// a request's timeout, every claimed task was let go before its request, and nothing was ever
// sent. Renewing just before the request leaves the whole TTL, less one round trip.
func (r *runner) refresh(ctx context.Context, l *workerLease, need time.Duration) bool {
	start := time.Now()
	kctx, cancel := context.WithTimeout(ctx, opTimeout)
	ka, err := r.s.c.KeepAliveOnce(kctx, l.id)
	cancel()
	if err != nil || ka.TTL <= 0 {
		return false
	}
	until := start.Add(time.Duration(ka.TTL) * time.Second)
	r.mu.Lock()
	if r.lease == l && until.After(r.validUntil) {
		r.validUntil = until
	}
	r.mu.Unlock()
	return r.remaining(l) >= need
}

// schedule runs the claim loop until ctx ends.
func (r *runner) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
		timer.Reset(r.scan(ctx))
	}
}

// scan claims and starts the tasks due now that no one holds, as far as capacity allows, and
// returns how long to sleep: until the next task is due, unless a watch wakes it sooner. Each
// etcd request has its own opTimeout: under a slow etcd, one deadline for the whole scan ran out
// before the first claim, every time.
func (r *runner) scan(ctx context.Context) time.Duration {
	s := r.s
	l := r.usableLease(s.cfg.Timeout + claimMargin)
	if l == nil || len(r.sem) == cap(r.sem) {
		return idleWait // the lease renewal or a finishing worker signals
	}
	now := s.now()
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	claims, err := s.c.Get(cctx, s.k.claims(), clientv3.WithPrefix())
	cancel()
	if err != nil {
		r.logEtcd(ctx, "reading claims", err)
		return retryWait
	}
	holder := make(map[string]string, len(claims.Kvs))
	for _, kv := range claims.Kvs {
		holder[string(kv.Key[len(s.k.claims()):])] = string(kv.Value)
	}
	bound := s.k.dueBound(now.Add(1))
	cctx, cancel = context.WithTimeout(ctx, opTimeout)
	due, err := s.c.Get(cctx, s.k.tasks(), clientv3.WithRange(bound), clientv3.WithLimit(int64(len(holder)+2*cap(r.sem)+16)))
	cancel()
	if err != nil {
		r.logEtcd(ctx, "reading due tasks", err)
		return retryWait
	}
	for _, kv := range due.Kvs {
		_, did, ok := s.k.taskDue(string(kv.Key))
		if !ok || r.isInflight(did) {
			continue
		}
		h, held := holder[did]
		if held && h != l.token {
			continue
		}
		select {
		case r.sem <- struct{}{}:
		default:
			return idleWait
		}
		// A claim of this lease with no worker behind it is one whose request timed out here
		// after etcd applied it: this instance takes it up again, else the lease it keeps alive
		// would hold the task for ever.
		cctx, cancel := context.WithTimeout(ctx, opTimeout)
		won, err := r.claim(cctx, l, kv, did, held)
		cancel()
		if err != nil || !won {
			<-r.sem
			if err != nil {
				r.logEtcd(ctx, "claiming a task", err)
				return retryWait
			}
			continue
		}
		r.start(ctx, l, kv, did)
	}
	cctx, cancel = context.WithTimeout(ctx, opTimeout)
	next, err := s.c.Get(cctx, bound, clientv3.WithRange(clientv3.GetPrefixRangeEnd(s.k.tasks())), clientv3.WithLimit(1), clientv3.WithKeysOnly())
	cancel()
	if err != nil {
		r.logEtcd(ctx, "reading the next due task", err)
		return retryWait
	}
	if len(next.Kvs) == 0 {
		return idleWait
	}
	at, _, _ := s.k.taskDue(string(next.Kvs[0].Key))
	return min(max(at.Sub(s.now()), time.Millisecond), idleWait)
}

func (r *runner) logEtcd(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		r.s.log.Warn("webhooks: "+what, "err", err)
	}
}

func (r *runner) isInflight(did string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inflight[did]
}

// claim takes a task for this instance, if it has not moved and no one holds it (own: if this
// lease holds it, for a claim no worker of this instance has taken up).
func (r *runner) claim(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue, did string, own bool) (bool, error) {
	ck := r.s.k.claim(did)
	free := clientv3.Compare(clientv3.CreateRevision(ck), "=", 0)
	if own {
		free = clientv3.Compare(clientv3.Value(ck), "=", l.token)
	}
	resp, err := r.s.c.Txn(ctx).If(
		free,
		clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision),
	).Then(clientv3.OpPut(ck, l.token, clientv3.WithLease(l.id))).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// start delivers a claimed task in a worker goroutine.
func (r *runner) start(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue, did string) {
	r.mu.Lock()
	r.inflight[did] = true
	r.mu.Unlock()
	r.workers.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.inflight, did)
			r.mu.Unlock()
			<-r.sem
			r.signal()
		}()
		r.deliver(ctx, l, kv)
	})
}

// outcomeCtx bounds the etcd writes that record an attempt; they outlive Run's context, so that
// an attempt made just before shutdown is still recorded.
func outcomeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
}

// deliver makes one attempt of a claimed task and records its outcome.
func (r *runner) deliver(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue) {
	s := r.s
	var t task
	if err := json.Unmarshal(kv.Value, &t); err != nil || t.DeliveryID == "" || t.DeliveryID != r.didOf(kv) {
		s.log.Error("webhooks: dropping an unreadable task", "key", string(kv.Key), "err", err)
		r.commit(ctx, l, kv, "", []clientv3.Op{clientv3.OpDelete(string(kv.Key)), clientv3.OpDelete(s.k.claim(r.didOf(kv)))}, nil)
		return
	}
	octx, cancel := outcomeCtx(ctx)
	resp, err := s.c.Txn(octx).Then(
		clientv3.OpGet(s.k.endpoint(t.TenantID, t.EndpointID)),
		clientv3.OpGet(s.k.delivery(t.TenantID, t.DeliveryID)),
	).Commit()
	cancel()
	if err != nil {
		r.logEtcd(ctx, "reading a task's endpoint", err)
		r.release(ctx, l, t.DeliveryID)
		return
	}
	now := s.now()
	d := t.record(resp.Responses[1].GetResponseRange().Kvs, now)
	var rec *endpointRecord
	if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
		rec = new(endpointRecord)
		if err := json.Unmarshal(kvs[0].Value, rec); err != nil {
			rec = nil
		}
	}
	switch {
	case rec == nil:
		r.finish(ctx, l, kv, &t, d, StateFailed, "endpoint deleted", nil)
		return
	case rec.Disabled:
		r.finish(ctx, l, kv, &t, d, StateDisabled, "endpoint disabled: "+rec.DisabledReason, nil)
		return
	}

	a := Attempt{Attempt: t.Attempt + 1, At: now.UTC()}
	var retryAt time.Time
	if keys, err := s.signingKeys(rec, now); err != nil {
		s.log.Error("webhooks: cannot open an endpoint's secret", "tenant", t.TenantID, "endpoint", t.EndpointID, "err", err)
		a.Error = "the endpoint's secret cannot be opened"
	} else {
		if need := s.cfg.Timeout + claimMargin; r.remaining(l) < need && !r.refresh(ctx, l, need) {
			r.release(ctx, l, t.DeliveryID) // too close to the lease's end: let whoever claims next send it
			return
		}
		retryAt = r.send(ctx, rec, &t, keys, now, &a)
		if ctx.Err() != nil {
			return // shutting down: the claim is released with the lease, and the task is retried
		}
	}

	host := hostOf(rec.URL)
	switch {
	case a.StatusCode >= 200 && a.StatusCode < 300:
		s.log.Debug("webhooks: delivered", "tenant", t.TenantID, "endpoint", t.EndpointID, "event", t.EventID, "attempt", a.Attempt, "host", host)
		r.finish(ctx, l, kv, &t, d, StateDelivered, "", &a)
	case a.StatusCode == http.StatusGone:
		reason := "the endpoint answered 410 Gone on " + now.UTC().Format(time.RFC3339)
		s.log.Warn("webhooks: endpoint answered 410 Gone; disabling it", "tenant", t.TenantID, "endpoint", t.EndpointID, "host", host)
		octx, cancel := outcomeCtx(ctx)
		defer cancel()
		if _, err := s.updateEndpoint(octx, t.TenantID, t.EndpointID, func(e *endpointRecord) error {
			e.Disabled, e.DisabledReason = true, reason
			return nil
		}); err != nil && !errors.Is(err, ErrNotFound) {
			s.log.Warn("webhooks: disabling an endpoint", "endpoint", t.EndpointID, "err", err)
		}
		r.finish(ctx, l, kv, &t, d, StateDisabled, reason, &a)
		if err := s.failPendingTasks(octx, t.TenantID, t.EndpointID, StateDisabled, reason); err != nil {
			s.log.Warn("webhooks: failing a disabled endpoint's deliveries", "endpoint", t.EndpointID, "err", err)
		}
	case a.Attempt >= len(s.cfg.Schedule):
		s.log.Warn("webhooks: delivery failed for good", "tenant", t.TenantID, "endpoint", t.EndpointID, "event", t.EventID,
			"attempt", a.Attempt, "status", a.StatusCode, "err", a.Error, "host", host)
		r.finish(ctx, l, kv, &t, d, StateFailed, fmt.Sprintf("gave up after %d attempts", a.Attempt), &a)
	default:
		next := now.Add(s.jitter(s.cfg.Schedule[a.Attempt]))
		if retryAt.After(next) {
			next = retryAt
			if limit := now.Add(MaxRetryAfter); next.After(limit) {
				next = limit
			}
		}
		s.log.Info("webhooks: delivery attempt failed; retrying", "tenant", t.TenantID, "endpoint", t.EndpointID, "event", t.EventID,
			"attempt", a.Attempt, "status", a.StatusCode, "err", a.Error, "host", host, "next", next)
		r.reschedule(ctx, l, kv, &t, d, &a, next)
	}
}

// didOf is the delivery id in a task key.
func (r *runner) didOf(kv *mvccpb.KeyValue) string {
	_, did, _ := r.s.k.taskDue(string(kv.Key))
	return did
}

// jitter spreads d by ± Config.Jitter.
func (s *Service) jitter(d time.Duration) time.Duration {
	if s.cfg.Jitter == 0 || d == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + s.cfg.Jitter*(2*rand.Float64()-1)))
}

// send makes the request of an attempt, filling a's status, latency and error, and returns the
// time a Retry-After header asks for (zero if none).
func (r *runner) send(ctx context.Context, rec *endpointRecord, t *task, keys [][]byte, now time.Time, a *Attempt) time.Time {
	s := r.s
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	body := []byte(t.Body)
	req, err := http.NewRequestWithContext(hctx, http.MethodPost, rec.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "invalid endpoint URL"
		return time.Time{}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, t.EventID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, SignatureHeader(keys, t.EventID, now, body))
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		a.LatencyMs = time.Since(start).Milliseconds()
		a.Error = describe(err, hctx, s.cfg.Timeout)
		return time.Time{}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // a 2xx whose body is slow still counts
	resp.Body.Close()
	a.LatencyMs = time.Since(start).Milliseconds()
	a.StatusCode = resp.StatusCode
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.Error = fmt.Sprintf("redirect (%d) not followed", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		a.Error = fmt.Sprintf("unexpected status %d", resp.StatusCode)
	}
	if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return ra
	}
	return time.Time{}
}

// describe turns a client error into text for the delivery history that the tenant can act on:
// no URL (its query may hold a token) and nothing about the gateway's own infrastructure (its DNS
// resolver's address, its local address and port), only what went wrong with the tenant's host.
func describe(err error, hctx context.Context, timeout time.Duration) string {
	if errors.Is(hctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("timeout: no answer within %v", timeout)
	}
	var (
		dnsErr   *net.DNSError
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		certErr  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		opErr    *net.OpError
		netErr   net.Error
		urlError *url.Error
	)
	switch {
	case errors.As(err, &dnsErr):
		switch {
		case dnsErr.IsNotFound:
			return fmt.Sprintf("the host name %s does not resolve", dnsErr.Name)
		case dnsErr.IsTimeout:
			return fmt.Sprintf("timeout: the host name %s could not be resolved in time", dnsErr.Name)
		default:
			return fmt.Sprintf("the host name %s could not be resolved (temporary DNS failure)", dnsErr.Name)
		}
	case errors.Is(err, ErrAddressNotAllowed):
		var inner error = err
		if errors.As(err, &opErr) {
			inner = opErr.Err
		}
		return strings.TrimPrefix(inner.Error(), "webhooks: ")
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS certificate not valid for host %s", hostErr.Host)
	case errors.As(err, &authErr):
		return "TLS certificate signed by an unknown authority"
	case errors.As(err, &certErr):
		return "TLS certificate not valid: " + certErr.Error()
	case errors.As(err, &recErr):
		return "the host did not answer with TLS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the host"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the host closed the connection without an answer"
	case errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("timeout: no answer within %v", timeout)
	case errors.As(err, &opErr):
		// Its text names the local and remote addresses; the cause alone is what matters.
		return opErr.Op + ": " + opErr.Err.Error()
	case errors.As(err, &urlError):
		return urlError.Err.Error()
	}
	return err.Error()
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return time.Time{}, false
		}
		n = min(n, int64(MaxRetryAfter/time.Second))
		return now.Add(time.Duration(n) * time.Second), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// hostOf is the host of an endpoint URL, for logs (never the path or query).
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return ""
}

// finish ends a delivery: the task and the claim go, the record gets its final state.
func (r *runner) finish(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue, t *task, d *Delivery, state, reason string, a *Attempt) {
	now := r.s.now().UTC()
	d.State, d.Error, d.NextRetryAt, d.UpdatedAt = state, reason, time.Time{}, now
	if a != nil {
		d.Attempts = appendAttempt(d.Attempts, *a)
	}
	b, _ := json.Marshal(d)
	r.commit(ctx, l, kv, t.DeliveryID, []clientv3.Op{
		clientv3.OpDelete(string(kv.Key)),
		clientv3.OpDelete(r.s.k.claim(t.DeliveryID)),
	}, func(lease clientv3.LeaseID) clientv3.Op {
		return clientv3.OpPut(r.s.k.delivery(t.TenantID, t.DeliveryID), string(b), clientv3.WithLease(lease))
	})
}

// reschedule replaces the task by the next attempt, due at next, and lets go of the claim.
func (r *runner) reschedule(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue, t *task, d *Delivery, a *Attempt, next time.Time) {
	s := r.s
	a.NextRetryAt = next.UTC()
	d.State, d.Error, d.NextRetryAt, d.UpdatedAt = StatePending, "", next.UTC(), s.now().UTC()
	d.Attempts = appendAttempt(d.Attempts, *a)
	nt := *t
	nt.Attempt = a.Attempt
	key := s.k.task(next, t.DeliveryID)
	if key == string(kv.Key) {
		key = s.k.task(next.Add(1), t.DeliveryID)
	}
	tb, _ := json.Marshal(&nt)
	db, _ := json.Marshal(d)
	r.commit(ctx, l, kv, t.DeliveryID, []clientv3.Op{
		clientv3.OpDelete(string(kv.Key)),
		clientv3.OpPut(key, string(tb)),
		clientv3.OpDelete(s.k.claim(t.DeliveryID)),
	}, func(lease clientv3.LeaseID) clientv3.Op {
		return clientv3.OpPut(s.k.delivery(t.TenantID, t.DeliveryID), string(db), clientv3.WithLease(lease))
	})
}

func appendAttempt(as []Attempt, a Attempt) []Attempt {
	as = append(as, a)
	if len(as) > maxAttemptsKept {
		as = slices.Delete(as, 0, len(as)-maxAttemptsKept)
	}
	return as
}

// commit writes the outcome of an attempt in one Txn that holds only while this worker's claim
// does and the task has not moved. It retries etcd failures for a while; if they persist it lets
// go of the claim, so that another worker retries the task (delivery is at least once).
func (r *runner) commit(ctx context.Context, l *workerLease, kv *mvccpb.KeyValue, did string, ops []clientv3.Op, record func(clientv3.LeaseID) clientv3.Op) {
	s := r.s
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)}
	if did != "" {
		cmps = append(cmps, clientv3.Compare(clientv3.Value(s.k.claim(did)), "=", l.token))
	}
	backoff := 100 * time.Millisecond
	for try := 0; try < 6; try++ {
		octx, cancel := outcomeCtx(ctx)
		var resp *clientv3.TxnResponse
		var err error
		if record == nil {
			resp, err = s.c.Txn(octx).If(cmps...).Then(ops...).Commit()
		} else {
			resp, err = s.commitWithRecordLease(octx, cmps, func(lease clientv3.LeaseID) []clientv3.Op {
				return append(slices.Clip(ops), record(lease))
			})
		}
		cancel()
		if err == nil {
			if !resp.Succeeded {
				s.log.Warn("webhooks: claim lost before the outcome was recorded; the task will be retried", "delivery", did)
			}
			return
		}
		s.log.Warn("webhooks: recording a delivery outcome", "delivery", did, "err", err)
		if !sleep(context.WithoutCancel(ctx), backoff) {
			return
		}
		backoff *= 2
	}
	if did != "" {
		r.release(ctx, l, did)
	}
}

// release lets go of a claim without recording anything.
func (r *runner) release(ctx context.Context, l *workerLease, did string) {
	octx, cancel := outcomeCtx(ctx)
	defer cancel()
	ck := r.s.k.claim(did)
	if _, err := r.s.c.Txn(octx).If(clientv3.Compare(clientv3.Value(ck), "=", l.token)).Then(clientv3.OpDelete(ck)).Commit(); err != nil {
		r.logEtcd(ctx, "releasing a claim", err)
	}
}

// watchQueue wakes the scheduler when a task is put (new, or rescheduled) and when a claim goes
// (an attempt ended, or an instance's lease expired).
func (r *runner) watchQueue(ctx context.Context) {
	s := r.s
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		tch := s.c.Watch(wctx, s.k.tasks(), clientv3.WithPrefix(), clientv3.WithFilterDelete())
		cch := s.c.Watch(wctx, s.k.claims(), clientv3.WithPrefix(), clientv3.WithFilterPut())
		r.signal() // whatever happened while no watch ran
	pump:
		for {
			var resp clientv3.WatchResponse
			var ok bool
			select {
			case <-ctx.Done():
				break pump
			case resp, ok = <-tch:
			case resp, ok = <-cch:
			}
			if !ok || resp.Canceled || resp.Err() != nil {
				break pump
			}
			if len(resp.Events) > 0 {
				r.signal()
			}
		}
		cancel()
		sleep(ctx, 500*time.Millisecond)
	}
}

// fanOutLoop turns outbox events into delivery tasks: it lists the outbox, then watches it from
// the listing's revision, and lists again every relistEvery or when the watch breaks.
func (r *runner) fanOutLoop(ctx context.Context) {
	s := r.s
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		rev, err := r.fanOutBacklog(ctx)
		if err != nil {
			r.logEtcd(ctx, "listing the outbox", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := s.c.Watch(wctx, s.store.OutboxPrefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithFilterDelete())
		relist := time.NewTimer(relistEvery)
	watch:
		for {
			select {
			case <-ctx.Done():
				break watch
			case <-relist.C:
				break watch
			case resp, ok := <-wch:
				if !ok || resp.Canceled || resp.Err() != nil {
					break watch
				}
				for _, ev := range resp.Events {
					r.fanOut(ctx, ev.Kv)
				}
			}
		}
		relist.Stop()
		cancel()
	}
}

// fanOutBacklog fans out every event in the outbox and returns the revision it listed at.
func (r *runner) fanOutBacklog(ctx context.Context) (int64, error) {
	s := r.s
	key, end := s.store.OutboxPrefix(), clientv3.GetPrefixRangeEnd(s.store.OutboxPrefix())
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(256)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		octx, cancel := context.WithTimeout(ctx, opTimeout)
		resp, err := s.c.Get(octx, key, opts...)
		cancel()
		if err != nil {
			return 0, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			r.fanOut(ctx, kv)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// fanOut replaces one outbox event by a task and a delivery record per endpoint that wants it,
// in one Txn that only the first instance to try can commit.
func (r *runner) fanOut(ctx context.Context, kv *mvccpb.KeyValue) {
	s := r.s
	if ctx.Err() != nil {
		return
	}
	guard := clientv3.Compare(clientv3.ModRevision(string(kv.Key)), "=", kv.ModRevision)
	var ev tenants.Event
	if err := json.Unmarshal(kv.Value, &ev); err != nil || ev.ID == "" || !validTenantID(ev.TenantID) {
		s.log.Error("webhooks: dropping an unreadable outbox event", "key", string(kv.Key), "err", err)
		r.drop(ctx, kv, guard)
		return
	}
	// Each request has its own deadline: under a slow etcd, one for the three ran out.
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	recs, err := s.endpointRecords(octx, ev.TenantID)
	cancel()
	if err != nil {
		r.logEtcd(ctx, "reading endpoints for an event", err)
		return // the next listing tries again
	}
	slices.SortFunc(recs, func(a, b *endpointRecord) int { return strings.Compare(a.ID, b.ID) })
	var target string
	if ev.Type == tenants.EventWebhookTest {
		var d testEventData
		json.Unmarshal(ev.Data, &d)
		target = d.EndpointID
	}
	var to []*endpointRecord
	for _, rec := range recs {
		switch {
		case rec.Disabled:
		case target != "":
			if rec.ID == target {
				to = append(to, rec)
			}
		case rec.wants(ev.Type):
			to = append(to, rec)
		}
	}
	if len(to) == 0 {
		r.drop(ctx, kv, guard)
		return
	}
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	body, err := json.Marshal(envelope{Type: ev.Type, Timestamp: ev.Timestamp.UTC(), Data: data})
	if err != nil {
		s.log.Error("webhooks: dropping an event whose data is not JSON", "key", string(kv.Key), "err", err)
		r.drop(ctx, kv, guard)
		return
	}
	now := s.now()
	due := now.Add(s.cfg.Schedule[0])
	type pair struct{ key, task, del, rkey string }
	pairs := make([]pair, len(to))
	for i, rec := range to {
		t := task{DeliveryID: newDeliveryID(now), TenantID: ev.TenantID, EndpointID: rec.ID, EventID: ev.ID, EventType: ev.Type, Body: string(body)}
		d := t.record(nil, now)
		d.NextRetryAt = due.UTC()
		tb, _ := json.Marshal(&t)
		db, _ := json.Marshal(d)
		pairs[i] = pair{s.k.task(due, t.DeliveryID), string(tb), string(db), s.k.delivery(t.TenantID, t.DeliveryID)}
	}
	octx, cancel = context.WithTimeout(ctx, opTimeout)
	defer cancel()
	resp, err := s.commitWithRecordLease(octx, []clientv3.Cmp{guard}, func(lease clientv3.LeaseID) []clientv3.Op {
		ops := []clientv3.Op{clientv3.OpDelete(string(kv.Key))}
		for _, p := range pairs {
			ops = append(ops, clientv3.OpPut(p.key, p.task), clientv3.OpPut(p.rkey, p.del, clientv3.WithLease(lease)))
		}
		return ops
	})
	if err != nil {
		r.logEtcd(ctx, "fanning out an event", err)
		return
	}
	if resp.Succeeded {
		s.log.Debug("webhooks: event queued", "tenant", ev.TenantID, "event", ev.ID, "type", ev.Type, "endpoints", len(to))
	}
}

// drop deletes an outbox event no endpoint takes, unless it moved.
func (r *runner) drop(ctx context.Context, kv *mvccpb.KeyValue, guard clientv3.Cmp) {
	octx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := r.s.c.Txn(octx).If(guard).Then(clientv3.OpDelete(string(kv.Key))).Commit(); err != nil {
		r.logEtcd(ctx, "dropping an outbox event", err)
	}
}
