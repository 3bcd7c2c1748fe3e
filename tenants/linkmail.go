package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portico-billing/portico/tenants/account"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// CountLinkEmail counts one portal-link email to the account in the clock hour of now and returns
// how many were counted in that hour, this one included. The count is the Version of a key per
// (tenant, account, hour) that lives on an etcd lease of about an hour, so it holds across every
// gateway instance and vanishes on its own.
func (s *Store) CountLinkEmail(ctx context.Context, tenantID, accountID string, now time.Time) (int, error) {
	if !account.ValidID(accountID) {
		return 0, fmt.Errorf("counting link emails: %w", ErrAccountNotFound)
	}
	hour := now.Unix() / 3600
	key := s.k.linkMail(tenantID, accountID, hour)
	lease, err := s.linkLeases.get(ctx, s.c, time.Unix((hour+1)*3600, 0))
	if err != nil {
		return 0, fmt.Errorf("tenants: counting link emails: %w", Unavailable(err))
	}
	tctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Txn(tctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, "", clientv3.WithLease(lease)), clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Else(clientv3.OpPut(key, "", clientv3.WithIgnoreLease()), clientv3.OpGet(key, clientv3.WithKeysOnly())).
		Commit()
	if errors.Is(err, rpctypes.ErrLeaseNotFound) {
		s.linkLeases.forget(lease)
		return s.CountLinkEmail(ctx, tenantID, accountID, now)
	}
	if err != nil {
		return 0, fmt.Errorf("tenants: counting link emails: %w", Unavailable(err))
	}
	kvs := resp.Responses[1].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return 0, fmt.Errorf("tenants: counting link emails: %w", ErrConflict)
	}
	return int(kvs[0].Version), nil
}

// LinkEmailCount returns how many portal-link emails CountLinkEmail counted to the account in the
// clock hour of now, without counting one. A sender checks it before sending and counts after a
// successful send, so failed sends do not use up the limit (concurrent sends may pass it by the
// few that were in flight together).
func (s *Store) LinkEmailCount(ctx context.Context, tenantID, accountID string, now time.Time) (int, error) {
	if !account.ValidID(accountID) {
		return 0, fmt.Errorf("reading link email count: %w", ErrAccountNotFound)
	}
	tctx, cancel := s.opCtx(ctx)
	defer cancel()
	resp, err := s.c.Get(tctx, s.k.linkMail(tenantID, accountID, now.Unix()/3600), clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("tenants: reading link email count: %w", Unavailable(err))
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	return int(resp.Kvs[0].Version), nil
}
