package tenants

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/portico-billing/portico/tenants/account"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// exampleJSON is the example document as PutAccount encodes it.
func exampleJSON(t testing.TB) []byte {
	t.Helper()
	doc, err := json.Marshal(loadExample(t))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestDocRoundTrip: a document is stored compressed behind its prefix byte, in less than a third
// of its JSON, and reads back byte for byte, also appended to a buffer that holds other bytes.
func TestDocRoundTrip(t *testing.T) {
	t.Parallel()
	doc := exampleJSON(t)
	stored := encodeDoc(doc)
	if stored[0] != docZstd {
		t.Fatalf("stored form starts with %#x, want %#x", stored[0], docZstd)
	}
	if len(stored)*3 > len(doc) {
		t.Fatalf("stored form is %d bytes of %d: less than a third expected", len(stored), len(doc))
	}
	t.Logf("example document: %d bytes of JSON, %d stored", len(doc), len(stored))
	got, err := decodeDoc(nil, stored)
	if err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("decodeDoc = %.60q…, %v; want the JSON back", got, err)
	}
	got, err = decodeDoc([]byte("keep"), stored)
	if err != nil || string(got[:4]) != "keep" || !bytes.Equal(got[4:], doc) {
		t.Fatalf("decodeDoc appending = %.60q…, %v", got, err)
	}
	if got, err := DocumentJSON(stored); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("DocumentJSON = %.60q…, %v", got, err)
	}
	for _, lead := range "{[\" \t\r\n0-tfn" { // every byte a JSON text can start with
		if byte(lead) == docZstd {
			t.Fatalf("docZstd %#x can start JSON", docZstd)
		}
	}
}

// TestDocCorruptRefused: a compressed value that is cut, has a flipped byte (the frame's checksum)
// or is not zstd at all is ErrUnreadableDocument, not a panic nor wrong JSON; through the store, the
// account answers that error, listings skip it, and a PutAccount replaces it.
func TestDocCorruptRefused(t *testing.T) {
	t.Parallel()
	stored := encodeDoc(exampleJSON(t))
	flipped := bytes.Clone(stored)
	flipped[len(flipped)/2] ^= 0x40
	for name, v := range map[string][]byte{
		"cut":      stored[:len(stored)/2],
		"flipped":  flipped,
		"not zstd": append([]byte{docZstd}, `{"id":"acc_1"}`...),
		"prefix":   {docZstd},
	} {
		if got, err := decodeDoc(nil, v); !errors.Is(err, ErrUnreadableDocument) {
			t.Errorf("%s: decodeDoc = %.40q, %v; want ErrUnreadableDocument", name, got, err)
		}
	}

	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "corrupt")
	a := loadExample(t)
	a.Alias = ""
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Put(ctx, s.k.account(tn.ID, a.ID), string(flipped)); err != nil {
		t.Fatal(err)
	}
	s.dropAccount(tn.ID, a.ID)
	if _, err := s.Account(ctx, tn.ID, a.ID); !errors.Is(err, ErrUnreadableDocument) {
		t.Fatalf("Account of a corrupt document: %v; want ErrUnreadableDocument", err)
	}
	if _, err := s.UpdateAccount(ctx, tn.ID, a.ID, func(*account.Account) ([]*Event, error) { return nil, nil }); !errors.Is(err, ErrUnreadableDocument) {
		t.Fatalf("UpdateAccount of a corrupt document: %v; want ErrUnreadableDocument", err)
	}
	sums, _, _, err := s.ListAccountSummaries(ctx, tn.ID, "", 10, 0)
	if err != nil || len(sums) != 0 {
		t.Fatalf("ListAccountSummaries = %+v, %v; want the corrupt document skipped", sums, err)
	}
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatalf("PutAccount over a corrupt document: %v", err)
	}
	if snap, err := s.Account(ctx, tn.ID, a.ID); err != nil || snap.Account.Name != a.Name {
		t.Fatalf("Account after the PutAccount: %v", err)
	}
}

// TestDocOversizedRefused: a compressed value that would decompress to more than the document
// limit is refused, whether its frame states its size or not, and without allocating what it
// would decompress to (64 MiB of zeros, stored in a few KB).
func TestDocOversizedRefused(t *testing.T) {
	// Not parallel: it measures the bytes this goroutine allocates through runtime.MemStats.
	big := make([]byte, 64<<20)
	withSize := append([]byte{docZstd}, docEncoder().EncodeAll(big, nil)...)
	var stream bytes.Buffer
	stream.WriteByte(docZstd)
	w, err := zstd.NewWriter(&stream) // a streamed frame does not state its size
	if err != nil {
		t.Fatal(err)
	}
	w.Write(big)
	w.Close()
	just := bytes.Repeat([]byte{' '}, maxDocBytes+1)
	for name, v := range map[string][]byte{
		"frame with its size": withSize,
		"streamed frame":      stream.Bytes(),
		"one byte over":       append([]byte{docZstd}, docEncoder().EncodeAll(just, nil)...),
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, err := decodeDoc(nil, v)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrUnreadableDocument) || got != nil {
			t.Errorf("%s (%d bytes stored): decodeDoc = %d bytes, %v; want ErrUnreadableDocument", name, len(v), len(got), err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 8<<20 {
			t.Errorf("%s: refusing it allocated %d bytes", name, n)
		}
	}
	if got, err := decodeDoc(nil, append([]byte{docZstd}, docEncoder().EncodeAll(just[1:], nil)...)); err != nil || len(got) != maxDocBytes {
		t.Fatalf("a document of exactly the limit: %d bytes, %v", len(got), err)
	}
}

// TestDocLegacyJSONRead: documents stored as plain JSON before compression are read by every
// reader (the account, its summary, the usage count, the email backfill, an update), and the
// next write stores them compressed with the usage counter following the stored bytes.
func TestDocLegacyJSONRead(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "legacydoc")
	a := loadExample(t)
	a.Alias = ""
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	doc := exampleJSON(t)
	// As an earlier version stored it: the JSON itself, and the counter counting its bytes.
	if _, err := s.c.Put(ctx, s.k.account(tn.ID, a.ID), string(doc)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Delete(ctx, s.k.usage(tn.ID)); err != nil {
		t.Fatal(err)
	}
	s.dropAccount(tn.ID, a.ID)
	snap, err := s.Account(ctx, tn.ID, a.ID)
	if err != nil || snap.Account.Name != a.Name || snap.Account.Email != a.Email {
		t.Fatalf("Account of a legacy document: %+v, %v", snap, err)
	}
	sums, _, _, err := s.ListAccountSummaries(ctx, tn.ID, "", 10, 0)
	if err != nil || len(sums) != 1 || sums[0].Name != a.Name || sums[0].Email != a.Email {
		t.Fatalf("ListAccountSummaries of a legacy document: %+v, %v", sums, err)
	}
	if u := mustUsage(t, s, tn.ID); u.Bytes != int64(len(doc)) || u.Accounts != 1 {
		t.Fatalf("usage counted from a legacy document: %+v; want %d bytes", u, len(doc))
	}
	page, err := s.c.Get(ctx, s.k.accounts(tn.ID), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.Delete(ctx, s.k.emailIndexTenant(tn.ID), clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.indexEmails(ctx, s.k.p+"state/accounts/", page.Kvs); err != nil || n != 1 {
		t.Fatalf("indexEmails of a legacy document = %d, %v", n, err)
	}
	wantAccounts(t, s, tn.ID, a.Email, a.ID)

	if _, err := s.UpdateAccount(ctx, tn.ID, a.ID, func(a *account.Account) ([]*Event, error) {
		a.Name = "Renamed"
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	resp, err := s.c.Get(ctx, s.k.account(tn.ID, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Kvs[0].Value; v[0] != docZstd || len(v) >= len(doc)/2 {
		t.Fatalf("the update stored %d bytes starting %#x; want the compressed form", len(v), v[0])
	}
	if got, want := mustUsage(t, s, tn.ID), storedUsage(t, s, tn.ID); got != want {
		t.Fatalf("usage after the update %+v, etcd holds %+v", got, want)
	}
	if snap, err := s.Account(ctx, tn.ID, a.ID); err != nil || snap.Account.Name != "Renamed" {
		t.Fatalf("Account after the update: %v", err)
	}
}

// TestDocStoredCompressedAndCounted: PutAccount stores the compressed form, the usage counter
// counts its bytes (what etcd holds, not the JSON), and what Account returns marshals to the
// JSON that was put.
func TestDocStoredCompressedAndCounted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "compressed")
	a := loadExample(t)
	if _, _, err := s.PutAccount(ctx, tn.ID, a, 0); err != nil {
		t.Fatal(err)
	}
	resp, err := s.c.Get(ctx, s.k.account(tn.ID, a.ID))
	if err != nil {
		t.Fatal(err)
	}
	v := resp.Kvs[0].Value
	doc := exampleJSON(t)
	if v[0] != docZstd || len(v) > len(doc)/3 {
		t.Fatalf("stored %d bytes starting %#x for %d bytes of JSON", len(v), v[0], len(doc))
	}
	if u := mustUsage(t, s, tn.ID); u.Bytes != int64(len(v)) {
		t.Fatalf("usage %d bytes; want the %d stored", u.Bytes, len(v))
	}
	snap, err := s.Account(ctx, tn.ID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(snap.Account); !bytes.Equal(got, doc) {
		t.Fatalf("the account read back marshals to other JSON:\n%s\nwant\n%s", got, doc)
	}
}

// FuzzDocDecode: decodeDoc never panics, never returns more than the limit from a compressed
// value, returns any other value as it is, and reads back whatever encodeDoc stored.
func FuzzDocDecode(f *testing.F) {
	doc := exampleJSON(f)
	stored := encodeDoc(doc)
	f.Add(stored)
	f.Add(stored[:len(stored)/2])
	f.Add(doc)
	f.Add([]byte{docZstd})
	f.Add([]byte{docZstd, 0x28, 0xb5, 0x2f, 0xfd})
	f.Add(append([]byte{docZstd}, docEncoder().EncodeAll(bytes.Repeat([]byte("x"), maxDocBytes+1), nil)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeDoc(nil, b)
		switch {
		case len(b) == 0 || b[0] != docZstd:
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("a value without the prefix: %v", err)
			}
		case err != nil:
			if !errors.Is(err, ErrUnreadableDocument) || !strings.HasPrefix(err.Error(), "tenants: ") {
				t.Fatalf("error %v is not ErrUnreadableDocument", err)
			}
		case len(got) > maxDocBytes:
			t.Fatalf("decoded %d bytes, over the limit", len(got))
		}
		if len(b) <= maxDocBytes {
			if back, err := decodeDoc(nil, encodeDoc(b)); err != nil || !bytes.Equal(back, b) {
				t.Fatalf("round trip of %d bytes: %v", len(b), err)
			}
		}
	})
}

// TestAccountCacheCompact: the account cache holds the compact form (the compressed document, the
// locale, no decoded tree), Account decodes from it and shares its Memo, the decoding is not kept
// once the collector runs, and a cached account costs a few KB of heap rather than its decoded
// tree (more than twice its JSON).
func TestAccountCacheCompact(t *testing.T) {
	// Not parallel: it measures the live heap.
	s := newStore(t)
	ctx := context.Background()
	tn := mustTenant(t, s, "compact")
	a := loadExample(t)
	a.Alias, a.Locale = "", "de-DE"
	const n = 2000
	for i := range n {
		b := *a
		b.ID = fmt.Sprintf("acc_%04d", i)
		if _, _, err := s.PutAccount(ctx, tn.ID, &b, 0); err != nil {
			t.Fatal(err)
		}
	}
	full, err := s.Account(ctx, tn.ID, "acc_0000")
	if err != nil || full.Account == nil || full.Account.Name != a.Name {
		t.Fatalf("Account: %+v, %v", full, err)
	}
	s.accounts.Wait()
	snap, ok := s.CachedAccount(accountCacheKey(tn.ID, "acc_0000"))
	if !ok {
		t.Fatal("not cached")
	}
	doc := exampleJSON(t)
	if snap.Account != nil || snap.Locale != "de-DE" || snap.Memo == nil || snap.Memo != full.Memo || snap.Revision != full.Revision ||
		len(snap.doc) == 0 || snap.doc[0] != docZstd || len(snap.doc)*3 > len(doc) {
		t.Fatalf("cached form: Account %v, locale %q, memo shared %v, %d bytes of document", snap.Account != nil, snap.Locale, snap.Memo == full.Memo, len(snap.doc))
	}
	again, err := snap.Decoded()
	if err != nil || again.Account != full.Account || again.Memo != snap.Memo {
		t.Fatalf("Decoded while the decoding lives: %v (same tree %v)", err, again.Account == full.Account)
	}
	full, again = nil, nil
	runtime.GC()
	if wp := snap.decoded.Load(); wp == nil || wp.Value() != nil {
		t.Fatal("the decoded tree outlived a collection: the cache keeps it")
	}
	if d, err := snap.Decoded(); err != nil || d.Account.Name != a.Name || d.Account.Locale != "de-DE" {
		t.Fatalf("Decoded after a collection: %v", err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		if _, err := s.Account(ctx, tn.ID, fmt.Sprintf("acc_%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.accounts.Wait()
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d cached accounts: %d bytes of live heap each (%d bytes of JSON, %d stored)", n, per, len(doc), len(snap.doc))
	if per > 4<<10 {
		t.Fatalf("a cached account holds %d bytes of heap; want at most 4 KiB", per)
	}
	for i := range n {
		if _, ok := s.CachedAccount(accountCacheKey(tn.ID, fmt.Sprintf("acc_%04d", i))); !ok {
			t.Fatalf("acc_%04d fell out of the cache: the measurement is void", i)
		}
	}
}

// TestDocDictionariesUnchanged: documents name their dictionary by id, so dictionary 1's bytes
// are fixed for good; a better dictionary gets a new id and the decoder keeps this one.
func TestDocDictionariesUnchanged(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256(docDict1)
	if got := hex.EncodeToString(sum[:]); got != "e80fd733e4b9c94f06863c10a9df469bb3dcc2947b1e638669cd67795baac906" {
		t.Fatalf("docdict/1.json changed (sha256 %s): documents stored with dictionary 1 would no longer decode; add docdict/2.json instead", got)
	}
}

// TestDocDictionaryCarriesNoData: dictionary 1 holds field names and enumerations only: every
// string value is empty, a date placeholder or a lower-case enumeration word, every number 0.
func TestDocDictionaryCarriesNoData(t *testing.T) {
	t.Parallel()
	var v any
	dec := json.NewDecoder(bytes.NewReader(docDict1))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	enum := regexp.MustCompile(`^([a-z_]{1,24}|2000-01-01)?$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			if !enum.MatchString(v) {
				t.Errorf("%s = %q: a value, not an enumeration", path, v)
			}
		case json.Number:
			if v != "0" {
				t.Errorf("%s = %s: a number other than 0", path, v)
			}
		}
	}
	walk("", v)
}

// TestDocReadsFramesWithoutDictionary: documents compressed before the dictionary existed (frames
// that name none) still read.
func TestDocReadsFramesWithoutDictionary(t *testing.T) {
	t.Parallel()
	doc := exampleJSON(t)
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	stored := append([]byte{docZstd}, e.EncodeAll(doc, nil)...)
	if got, err := decodeDoc(nil, stored); err != nil || !bytes.Equal(got, doc) {
		t.Fatalf("decodeDoc of a frame without a dictionary = %.60q…, %v", got, err)
	}
	if withDict := encodeDoc(doc); len(withDict) >= len(stored) {
		t.Fatalf("with the dictionary %d bytes, without %d: no gain", len(withDict), len(stored))
	}
}
