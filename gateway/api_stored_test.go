package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/portico-billing/portico/internal/etcdtest"
	"github.com/portico-billing/portico/tenants"
	"github.com/portico-billing/portico/tenants/account"
)

// TestAccountGetSameJSONStoredCompressed: a document PUT through the API is stored compressed in
// etcd, and GET /v1/accounts/{id} answers the same JSON as before compression (the document
// marshalled as it was decoded), as it does for a document an earlier version stored as plain
// JSON.
func TestAccountGetSameJSONStoredCompressed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	tn, key := h.tenant("stored")
	auth := []string{"Authorization", "Bearer " + key}
	file, err := os.ReadFile("../tenants/account/testdata/account.json")
	if err != nil {
		t.Fatal(err)
	}
	a, err := account.Decode(file)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(a)
	want = append(want, '\n')

	r := h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
	if r.StatusCode() != 200 || !bytes.Equal(r.Body(), want) {
		t.Fatalf("GET: %d\n%s\nwant\n%s", r.StatusCode(), r.Body(), want)
	}
	etag := string(r.Header.Peek("ETag"))
	ctx := context.Background()
	akey := h.store.Prefix() + "state/accounts/" + tn.ID + "/acc_7Hq2LmX9"
	resp, err := h.store.Client().Get(ctx, akey)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("reading the stored document: %v", err)
	}
	stored := resp.Kvs[0].Value
	if len(stored)*3 > len(want) || bytes.HasPrefix(stored, []byte("{")) {
		t.Fatalf("stored %d bytes for %d bytes of JSON, starting %q", len(stored), len(want), stored[:1])
	}
	if doc, err := tenants.DocumentJSON(stored); err != nil || !bytes.Equal(append(doc, '\n'), want) {
		t.Fatalf("DocumentJSON of the stored value: %v", err)
	}

	// As an earlier version stored it: plain JSON (here the file itself, with its indentation).
	if _, err := h.store.Client().Put(ctx, akey, string(file)); err != nil {
		t.Fatal(err)
	}
	etcdtest.Wait(t, "the write of the plain JSON watched", func() bool {
		r = h.do("GET", "api."+base, "/v1/accounts/acc_7Hq2LmX9", nil, auth...)
		return string(r.Header.Peek("ETag")) != etag
	})
	if r.StatusCode() != 200 || !bytes.Equal(r.Body(), want) {
		t.Fatalf("GET of a document stored as plain JSON: %d\n%s\nwant\n%s", r.StatusCode(), r.Body(), want)
	}
}
