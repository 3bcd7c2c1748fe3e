package tenants

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// TimeRequests makes c report the duration of every key-value request it makes, successful or not,
// to observe, with the request's kind: "get", "put", "delete", "txn", "compact" or "do". It wraps
// c.KV, so it works alike for a gRPC client and for the in-process client of the embedded member
// (Embedded.Client), which has no gRPC interceptors to measure it. Call it before the client is
// used.
func TimeRequests(c *clientv3.Client, observe func(kind string, d time.Duration)) {
	c.KV = &timedKV{KV: c.KV, observe: observe}
}

type timedKV struct {
	clientv3.KV
	observe func(kind string, d time.Duration)
}

func (k *timedKV) since(kind string, start time.Time) { k.observe(kind, time.Since(start)) }

func (k *timedKV) Get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	defer k.since("get", time.Now())
	return k.KV.Get(ctx, key, opts...)
}

func (k *timedKV) Put(ctx context.Context, key, val string, opts ...clientv3.OpOption) (*clientv3.PutResponse, error) {
	defer k.since("put", time.Now())
	return k.KV.Put(ctx, key, val, opts...)
}

func (k *timedKV) Delete(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.DeleteResponse, error) {
	defer k.since("delete", time.Now())
	return k.KV.Delete(ctx, key, opts...)
}

func (k *timedKV) Compact(ctx context.Context, rev int64, opts ...clientv3.CompactOption) (*clientv3.CompactResponse, error) {
	defer k.since("compact", time.Now())
	return k.KV.Compact(ctx, rev, opts...)
}

func (k *timedKV) Do(ctx context.Context, op clientv3.Op) (clientv3.OpResponse, error) {
	defer k.since("do", time.Now())
	return k.KV.Do(ctx, op)
}

func (k *timedKV) Txn(ctx context.Context) clientv3.Txn { return &timedTxn{Txn: k.KV.Txn(ctx), kv: k} }

// timedTxn times a transaction's Commit; If, Then and Else return it so that the chain stays
// timed.
type timedTxn struct {
	clientv3.Txn
	kv *timedKV
}

func (t *timedTxn) If(cs ...clientv3.Cmp) clientv3.Txn   { t.Txn = t.Txn.If(cs...); return t }
func (t *timedTxn) Then(ops ...clientv3.Op) clientv3.Txn { t.Txn = t.Txn.Then(ops...); return t }
func (t *timedTxn) Else(ops ...clientv3.Op) clientv3.Txn { t.Txn = t.Txn.Else(ops...); return t }

func (t *timedTxn) Commit() (*clientv3.TxnResponse, error) {
	defer t.kv.since("txn", time.Now())
	return t.Txn.Commit()
}
