package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultEtcdWait is the default of --etcd-wait: how long start-up and commands wait for etcd to
// answer a quorum read.
const defaultEtcdWait = 10 * time.Second

// etcdAttempt bounds one quorum read of waitEtcd, so that a member that hangs is left for another.
const etcdAttempt = 2 * time.Second

// waitEtcd waits until etcd answers a linearizable read of key through c. The read goes through
// the client's balancer over every endpoint and needs a quorum, so it succeeds as soon as any
// member of a quorum answers, whichever endpoints are down and in whatever order they are listed.
// Failures that may pass (no connection yet, no leader, an election) are retried for up to wait; a
// refusal (etcd auth, permissions) ends the wait at once. When etcd does not answer, the error names every
// endpoint and what it answered on its own.
func waitEtcd(ctx context.Context, c *clientv3.Client, key string, endpoints []string, wait time.Duration) error {
	if wait <= 0 {
		wait = defaultEtcdWait
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var lastErr error
	for {
		actx, acancel := context.WithTimeout(wctx, etcdAttempt)
		_, err := c.Get(actx, key, clientv3.WithKeysOnly())
		acancel()
		if err == nil {
			return nil
		}
		lastErr = err
		if refused(err) {
			return fmt.Errorf("etcd at %s refuses a read of %q: %w", strings.Join(endpoints, ","), key, err)
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("waiting for etcd at %s: %w", strings.Join(endpoints, ","), ctx.Err())
			}
			return fmt.Errorf("etcd at %s does not answer a quorum read within %v (is etcd, or `portico serve` with its embedded etcd, running?): %s: %w",
				strings.Join(endpoints, ","), wait, probeEndpoints(ctx, c, endpoints), lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// refused reports whether err is etcd refusing the request (authentication, permissions, a bad
// request), which waiting does not change; anything else (no connection, no leader, an election, a
// timeout, which etcd 3.4 reports with the code Unknown) may pass and is retried.
func refused(err error) bool {
	code := status.Code(err)
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	}
	switch code {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument:
		return true
	}
	return false
}

// probeEndpoints asks every endpoint at once, on its own, whether it is reachable and has a leader,
// and says what each answered, in the order of endpoints.
func probeEndpoints(ctx context.Context, c *clientv3.Client, endpoints []string) string {
	said := make([]string, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, etcdAttempt)
			defer cancel()
			said[i] = ep + ": " + probeEndpoint(pctx, c, ep)
		})
	}
	wg.Wait()
	return strings.Join(said, "; ")
}

func probeEndpoint(ctx context.Context, c *clientv3.Client, ep string) string {
	network, addr := dialTarget(ep)
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return err.Error()
	}
	conn.Close()
	st, err := c.Status(ctx, ep)
	switch {
	case err != nil:
		return "accepts connections but does not answer: " + err.Error()
	case st.Leader == 0:
		return fmt.Sprintf("member %x answers but has no leader", st.Header.MemberId)
	default:
		return fmt.Sprintf("member %x answers, leader %x", st.Header.MemberId, st.Leader)
	}
}

// dialTarget is the network and address of an etcd client URL: http(s)://host:port, host:port, or
// unix(s)://path.
func dialTarget(ep string) (network, addr string) {
	scheme, rest, ok := strings.Cut(ep, "://")
	if !ok {
		if p, ok := strings.CutPrefix(ep, "unix:"); ok {
			return "unix", p
		}
		if p, ok := strings.CutPrefix(ep, "unixs:"); ok {
			return "unix", p
		}
		return "tcp", ep
	}
	if scheme == "unix" || scheme == "unixs" {
		return "unix", rest
	}
	host, _, _ := strings.Cut(rest, "/")
	return "tcp", host
}
