// Package storagetest is a conformance suite for certmagic.Storage implementations: it checks the
// contract as certmagic v0.25 documents it in storage.go (and as certmagic's own code relies on
// it), including the optional TryLocker and LockLeaseRenewer interfaces. It is modelled on
// github.com/oyato/certmagic-storage-tests.
//
// Use it from a test of the implementation:
//
//	func TestStorage(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) certmagic.Storage { return newEmptyStorage(t) })
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
)

// Deviation names a known departure of an implementation from the contract that Run tolerates by
// skipping the one check it breaks. A new implementation should pass none.
type Deviation int

const (
	// RecursiveListIncludesDirectories: List(ctx, dir, true) returns the directories it walks as
	// well as the values (certmagic.FileStorage does, through filepath.Walk). With it, Run still
	// checks that every value beneath dir is listed, and that anything else listed is one of
	// those directories.
	RecursiveListIncludesDirectories Deviation = iota + 1
	// TryLockWaits: TryLock of a held lock waits before it reports false (certmagic.FileStorage
	// polls the lock file once more, a second later). With it, Run skips the promptness check of
	// that case; it still checks the result.
	TryLockWaits
	// LockPolls: a waiting Lock notices a release only at its next poll (certmagic.FileStorage
	// polls once a second), so 50 goroutines queueing on one lock take most of a minute. With it,
	// the mutual-exclusion check runs 5 goroutines instead of 50.
	LockPolls
	// NotADirectoryBelowValue: keys beneath a stored value ("a/b" when "a" is a value) give a
	// "not a directory" error instead of fs.ErrNotExist from Load, Stat, List and Delete, and
	// Exists reports them present (certmagic.FileStorage passes the ENOTDIR of the file system
	// through). With it, Run skips the checks of such keys.
	NotADirectoryBelowValue
)

// Timeouts of the suite: each subtest's context, and how quickly a call that must not wait
// (Lock with a done context, TryLock of a held lock) has to return.
const (
	testTimeout = 30 * time.Second
	prompt      = 2 * time.Second
)

// Run checks the certmagic.Storage contract. newStorage must return an empty Storage, isolated
// from every other Storage it returns (its own directory or key prefix), cleaned up by t.Cleanup;
// the subtests call it concurrently and run in parallel.
func Run(t *testing.T, newStorage func(t *testing.T) certmagic.Storage, tolerated ...Deviation) {
	tolerates := func(d Deviation) bool { return slices.Contains(tolerated, d) }
	tests := []struct {
		name string
		run  func(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool)
	}{
		{"StoreLoad", testStoreLoad},
		{"Overwrite", testOverwrite},
		{"LoadMissing", testLoadMissing},
		{"Exists", testExists},
		{"Stat", testStat},
		{"Delete", testDelete},
		{"List", testList},
		{"ConcurrentStores", testConcurrentStores},
		{"LockMutualExclusion", testLockMutualExclusion},
		{"LockDistinctNames", testLockDistinctNames},
		{"LockRelock", testLockRelock},
		{"LockContextDone", testLockContextDone},
		{"TryLock", testTryLock},
		{"TryLockConcurrent", testTryLockConcurrent},
		{"RenewLockLease", testRenewLockLease},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			t.Cleanup(cancel)
			tc.run(t, ctx, newStorage(t), tolerates)
		})
	}
}

func store(t *testing.T, ctx context.Context, s certmagic.Storage, key string, value []byte) {
	t.Helper()
	if err := s.Store(ctx, key, value); err != nil {
		t.Fatalf("Store(%q): %v", key, err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testStoreLoad(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	cases := []struct {
		name  string
		key   string
		value []byte
	}{
		{"text", "text.txt", []byte("hello, certmagic")},
		{"binary", "bin/all-bytes", allBytes},
		{"empty", "bin/empty", []byte{}},
		{"nil", "bin/nil", nil},
		{"certificate path", "certificates/acme-v02.api.letsencrypt.org-directory/example.com/example.com.crt", randomBytes(t, 3000)},
		{"wildcard name", "certificates/ca/wildcard_.example.com/wildcard_.example.com.key", randomBytes(t, 300)},
		{"64 KiB", "big/blob", randomBytes(t, 64<<10)},
		{"deep", "a/b/c/d/e/f/g/h", []byte("deep")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := bytes.Clone(tc.value)
			store(t, ctx, s, tc.key, in)
			if len(in) > 0 {
				in[0] ^= 0xff // the storage must not keep the caller's slice
			}
			got, err := s.Load(ctx, tc.key)
			if err != nil {
				t.Fatalf("Load(%q): %v", tc.key, err)
			}
			if !bytes.Equal(got, tc.value) {
				t.Fatalf("Load(%q) = %d bytes %.16x…, want %d bytes %.16x…", tc.key, len(got), got, len(tc.value), tc.value)
			}
			if len(got) > 0 {
				got[0] ^= 0xff // nor hand out its own
			}
			again, err := s.Load(ctx, tc.key)
			if err != nil || !bytes.Equal(again, tc.value) {
				t.Fatalf("second Load(%q) = %d bytes, %v; want the stored value", tc.key, len(again), err)
			}
		})
	}
}

func testOverwrite(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	const key = "over/write"
	store(t, ctx, s, key, []byte("first, and longer"))
	store(t, ctx, s, key, []byte("second"))
	got, err := s.Load(ctx, key)
	if err != nil || string(got) != "second" {
		t.Fatalf("Load after overwrite = %q, %v; want %q", got, err, "second")
	}
	info, err := s.Stat(ctx, key)
	if err != nil || info.Size != int64(len("second")) {
		t.Fatalf("Stat after overwrite = %+v, %v; want Size %d", info, err, len("second"))
	}
}

func testLoadMissing(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	store(t, ctx, s, "dir/child/file", []byte("x"))
	for _, key := range []string{"missing", "dir/chi", "dir/child/fil", "dir/child/file/below"} {
		if key == "dir/child/file/below" && tolerates(NotADirectoryBelowValue) {
			continue
		}
		if v, err := s.Load(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) = %q, %v; want an error satisfying errors.Is(err, fs.ErrNotExist)", key, v, err)
		}
	}
	// A directory is not a value; which error it gives is not specified.
	if v, err := s.Load(ctx, "dir/child"); err == nil {
		t.Errorf("Load of a directory = %q, nil; want an error", v)
	}
}

func testExists(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	for _, k := range []string{"e/dir/file", "e/file", "e/dirx/f"} {
		store(t, ctx, s, k, []byte(k))
	}
	cases := []struct {
		key  string
		want bool
	}{
		{"e/file", true},
		{"e/dir/file", true},
		{"e/dir", true},
		{"e", true},
		{"e/dirx", true},
		{"e/di", false}, // a prefix of a name is not a prefix of the key
		{"e/fil", false},
		{"e/dir/fil", false},
		{"e/file/below", false}, // (see NotADirectoryBelowValue)
		{"e/missing", false},
		{"missing", false},
	}
	for _, tc := range cases {
		if tc.key == "e/file/below" && tolerates(NotADirectoryBelowValue) {
			continue
		}
		if got := s.Exists(ctx, tc.key); got != tc.want {
			t.Errorf("Exists(%q) = %v, want %v", tc.key, got, tc.want)
		}
	}
}

func testStat(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	before := time.Now()
	store(t, ctx, s, "s/dir/file", []byte("12345"))
	store(t, ctx, s, "s/dir/sub/x", []byte("x"))
	store(t, ctx, s, "s/empty", nil)
	after := time.Now()

	cases := []struct {
		key      string
		terminal bool
		size     int64 // checked for values only
	}{
		{"s/dir/file", true, 5},
		{"s/empty", true, 0},
		{"s/dir/sub/x", true, 1},
		{"s/dir", false, 0},
		{"s/dir/sub", false, 0},
		{"s", false, 0},
	}
	for _, tc := range cases {
		info, err := s.Stat(ctx, tc.key)
		if err != nil {
			t.Errorf("Stat(%q): %v", tc.key, err)
			continue
		}
		if info.Key != tc.key || info.IsTerminal != tc.terminal {
			t.Errorf("Stat(%q) = %+v; want Key %q, IsTerminal %v", tc.key, info, tc.key, tc.terminal)
		}
		if !tc.terminal {
			continue // Size and Modified of a directory are implementation-defined
		}
		if info.Size != tc.size {
			t.Errorf("Stat(%q).Size = %d, want %d", tc.key, info.Size, tc.size)
		}
		// File systems may truncate modification times; allow a second either side.
		if info.Modified.Before(before.Add(-time.Second)) || info.Modified.After(after.Add(time.Second)) {
			t.Errorf("Stat(%q).Modified = %v, want between %v and %v (±1s)", tc.key, info.Modified, before, after)
		}
	}
	for _, key := range []string{"missing", "s/di", "s/dir/fil", "s/dir/file/below"} {
		if key == "s/dir/file/below" && tolerates(NotADirectoryBelowValue) {
			continue
		}
		if info, err := s.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) = %+v, %v; want an error satisfying errors.Is(err, fs.ErrNotExist)", key, info, err)
		}
	}
}

func testDelete(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	cases := []struct {
		name    string
		keys    []string // stored first
		del     string
		gone    []string // must not exist afterwards
		survive []string // must still load
	}{
		{
			name:    "value",
			keys:    []string{"d1/a", "d1/ab", "d1/b"},
			del:     "d1/a",
			gone:    []string{"d1/a"},
			survive: []string{"d1/ab", "d1/b"},
		},
		{
			name:    "directory",
			keys:    []string{"d2/x/1", "d2/x/y/2", "d2/xy/3", "d2/x.crt", "d2/x0", "d2/w"},
			del:     "d2/x",
			gone:    []string{"d2/x/1", "d2/x/y/2", "d2/x/y", "d2/x"},
			survive: []string{"d2/xy/3", "d2/x.crt", "d2/x0", "d2/w"},
		},
		{
			name:    "missing",
			keys:    []string{"d3/a"},
			del:     "d3/missing",
			gone:    []string{"d3/missing"},
			survive: []string{"d3/a"},
		},
		{
			name: "missing below a value",
			keys: []string{"d4/a"},
			del:  "d4/a/b",
			// "d4/a" is a value, not a directory: nothing is beneath it to delete.
			survive: []string{"d4/a"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "missing below a value" && tolerates(NotADirectoryBelowValue) {
				t.Skip("tolerated deviation NotADirectoryBelowValue")
			}
			t.Parallel()
			for _, k := range tc.keys {
				store(t, ctx, s, k, []byte(k))
			}
			for range 2 { // deleting again is not an error either
				if err := s.Delete(ctx, tc.del); err != nil {
					t.Fatalf("Delete(%q): %v", tc.del, err)
				}
			}
			for _, k := range tc.gone {
				if s.Exists(ctx, k) {
					t.Errorf("Exists(%q) after Delete(%q) = true", k, tc.del)
				}
				if _, err := s.Load(ctx, k); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Load(%q) after Delete(%q): %v; want fs.ErrNotExist", k, tc.del, err)
				}
				if _, err := s.Stat(ctx, k); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Stat(%q) after Delete(%q): %v; want fs.ErrNotExist", k, tc.del, err)
				}
			}
			for _, k := range tc.survive {
				if v, err := s.Load(ctx, k); err != nil || string(v) != k {
					t.Errorf("Load(%q) after Delete(%q) = %q, %v; want it untouched", k, tc.del, v, err)
				}
			}
		})
	}
}

func testList(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	for _, k := range []string{"l/a", "l/b/c", "l/b/d/e", "l/bc", "l/b.crt", "l/bx/y"} {
		store(t, ctx, s, k, []byte(k))
	}
	dirs := []string{"l/b", "l/b/d", "l/bx"}
	cases := []struct {
		dir       string
		recursive bool
		want      []string // values, and for a flat list directories too
		dirs      []string // directories a recursive list walks
	}{
		{"l", false, []string{"l/a", "l/b", "l/b.crt", "l/bc", "l/bx"}, nil},
		{"l/b", false, []string{"l/b/c", "l/b/d"}, nil},
		{"l/b/d", false, []string{"l/b/d/e"}, nil},
		{"l", true, []string{"l/a", "l/b.crt", "l/b/c", "l/b/d/e", "l/bc", "l/bx/y"}, []string{"l/b", "l/b/d", "l/bx"}},
		{"l/b", true, []string{"l/b/c", "l/b/d/e"}, []string{"l/b/d"}},
	}
	for _, tc := range cases {
		got, err := s.List(ctx, tc.dir, tc.recursive)
		if err != nil {
			t.Errorf("List(%q, %v): %v", tc.dir, tc.recursive, err)
			continue
		}
		got = slices.Sorted(slices.Values(got))
		if tc.recursive && tolerates(RecursiveListIncludesDirectories) {
			got = slices.DeleteFunc(got, func(k string) bool { return slices.Contains(tc.dirs, k) })
		}
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("List(%q, %v) = %q, want %q", tc.dir, tc.recursive, got, want)
		}
		if tc.recursive {
			continue
		}
		// certmagic Stats what it lists (to tell account directories from stray files).
		for _, k := range got {
			info, err := s.Stat(ctx, k)
			terminal := !slices.Contains(dirs, k)
			if err != nil || info.IsTerminal != terminal {
				t.Errorf("Stat(%q) of a listed key = %+v, %v; want IsTerminal %v", k, info, err, terminal)
			}
		}
	}
	for _, dir := range []string{"missing", "l/missing", "l/b/d/missing", "l/bx/y/missing"} {
		if dir == "l/bx/y/missing" && tolerates(NotADirectoryBelowValue) {
			continue
		}
		for _, recursive := range []bool{false, true} {
			if got, err := s.List(ctx, dir, recursive); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("List(%q, %v) = %q, %v; want an error satisfying errors.Is(err, fs.ErrNotExist)", dir, recursive, got, err)
			}
		}
	}
}

func testConcurrentStores(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	const n, size = 20, 8 << 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			own := bytes.Repeat([]byte{byte(i)}, size)
			if err := s.Store(ctx, "c/own/"+strconv.Itoa(i), own); err != nil {
				t.Errorf("Store: %v", err)
			}
			if err := s.Store(ctx, "c/shared", own); err != nil {
				t.Errorf("Store: %v", err)
			}
		})
	}
	wg.Wait()
	for i := range n {
		v, err := s.Load(ctx, "c/own/"+strconv.Itoa(i))
		if err != nil || !bytes.Equal(v, bytes.Repeat([]byte{byte(i)}, size)) {
			t.Errorf("Load(c/own/%d) = %d bytes, %v; want its own value", i, len(v), err)
		}
	}
	v, err := s.Load(ctx, "c/shared")
	if err != nil || len(v) != size || !bytes.Equal(v, bytes.Repeat(v[:1], size)) {
		t.Errorf("Load(c/shared) = %d bytes, %v; want one writer's whole value", len(v), err)
	}
	keys, err := s.List(ctx, "c/own", false)
	if err != nil || len(keys) != n {
		t.Errorf("List(c/own) = %d keys, %v; want %d", len(keys), err, n)
	}
}

// testLockMutualExclusion has 50 goroutines increment a counter kept in the storage itself, a
// read-modify-write that loses updates unless the lock excludes; an atomic counts holders too.
func testLockMutualExclusion(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	const name, counter = "issue_cert_example.com", "mutex/counter"
	n := 50
	if tolerates(LockPolls) {
		n = 5
	}
	store(t, ctx, s, counter, []byte("0"))
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := s.Lock(ctx, name); err != nil {
				t.Errorf("Lock: %v", err)
				return
			}
			in := inside.Add(1)
			for m := maxInside.Load(); in > m && !maxInside.CompareAndSwap(m, in); m = maxInside.Load() {
			}
			v, err := s.Load(ctx, counter)
			if err == nil {
				c, _ := strconv.Atoi(string(v))
				err = s.Store(ctx, counter, []byte(strconv.Itoa(c+1)))
			}
			if err != nil {
				t.Errorf("counter: %v", err)
			}
			inside.Add(-1)
			if err := s.Unlock(ctx, name); err != nil {
				t.Errorf("Unlock: %v", err)
			}
		})
	}
	wg.Wait()
	if m := maxInside.Load(); m != 1 {
		t.Errorf("%d goroutines held the lock at once", m)
	}
	if v, err := s.Load(ctx, counter); err != nil || string(v) != strconv.Itoa(n) {
		t.Errorf("counter = %q, %v; want %d (lost updates mean the lock did not exclude)", v, err, n)
	}
}

func testLockDistinctNames(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	names := []string{"issue_cert_a.example.com", "issue_cert_b.example.com", "issue_cert_a.example.co", "renew_cert_a.example.com"}
	for _, name := range names {
		if err := s.Lock(ctx, name); err != nil {
			t.Fatalf("Lock(%q) while only other names are held: %v", name, err)
		}
	}
	for _, name := range names {
		if err := s.Unlock(ctx, name); err != nil {
			t.Errorf("Unlock(%q): %v", name, err)
		}
	}
}

func testLockRelock(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	const name = "issue_cert_relock.example.com"
	for i := range 3 {
		if err := s.Lock(ctx, name); err != nil {
			t.Fatalf("Lock #%d: %v", i+1, err)
		}
		if err := s.Unlock(ctx, name); err != nil {
			t.Fatalf("Unlock #%d: %v", i+1, err)
		}
	}
}

func testLockContextDone(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	const name = "issue_cert_ctx.example.com"
	if err := s.Lock(ctx, name); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	cases := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"already cancelled", cancelled, context.Canceled},
		{"deadline while waiting", short, context.DeadlineExceeded},
	}
	for _, tc := range cases {
		start := time.Now()
		err := s.Lock(tc.ctx, name)
		if elapsed := time.Since(start); elapsed > prompt+100*time.Millisecond {
			t.Errorf("%s: Lock of a held lock took %v to give up", tc.name, elapsed)
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Lock of a held lock = %v, want an error satisfying errors.Is(err, %v)", tc.name, err, tc.want)
		}
	}
	// The holder is unaffected, and the lock is free once it unlocks.
	if tl, ok := s.(certmagic.TryLocker); ok {
		if got, err := tl.TryLock(ctx, name); got || err != nil {
			t.Errorf("TryLock after the failed Locks = %v, %v; want false: the lock is still held", got, err)
		}
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := s.Lock(ctx, name); err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}

	// A free lock with a done context: either an error and no lock, or the lock.
	const free = "issue_cert_free.example.com"
	if err := s.Lock(cancelled, free); err == nil {
		if err := s.Unlock(ctx, free); err != nil {
			t.Fatalf("Unlock of a lock taken with a cancelled context: %v", err)
		}
	}
	if err := s.Lock(ctx, free); err != nil {
		t.Fatalf("Lock after a Lock with a cancelled context: %v", err)
	}
	if err := s.Unlock(ctx, free); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func testTryLock(t *testing.T, ctx context.Context, s certmagic.Storage, tolerates func(Deviation) bool) {
	tl, ok := s.(certmagic.TryLocker)
	if !ok {
		t.Skipf("%T does not implement the optional certmagic.TryLocker", s)
	}
	const name = "ari_try"
	try := func(want bool) {
		t.Helper()
		start := time.Now()
		got, err := tl.TryLock(ctx, name)
		if err != nil || got != want {
			t.Fatalf("TryLock = %v, %v; want %v, nil", got, err, want)
		}
		if elapsed := time.Since(start); !got && elapsed > prompt && !tolerates(TryLockWaits) {
			t.Errorf("TryLock of a held lock took %v; want it not to wait", elapsed)
		}
	}
	try(true)
	try(false)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := s.Lock(short, name); err == nil {
		t.Fatal("Lock of a lock taken by TryLock succeeded")
	}
	if err := tl.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	try(true)
	if err := tl.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if err := s.Lock(ctx, name); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	try(false)
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	cancelled, cancelNow := context.WithCancel(ctx)
	cancelNow()
	if got, err := tl.TryLock(cancelled, name); got && err == nil {
		// Honouring the cancellation is optional when the lock is free; not leaking it is not.
		if err := tl.Unlock(ctx, name); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
	}
	try(true)
	if err := tl.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func testTryLockConcurrent(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	tl, ok := s.(certmagic.TryLocker)
	if !ok {
		t.Skipf("%T does not implement the optional certmagic.TryLocker", s)
	}
	const n, name = 20, "ari_concurrent"
	var won atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			got, err := tl.TryLock(ctx, name)
			if err != nil {
				t.Errorf("TryLock: %v", err)
			}
			if got {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if w := won.Load(); w != 1 {
		t.Fatalf("%d of %d concurrent TryLocks won, want exactly 1", w, n)
	}
	if err := tl.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func testRenewLockLease(t *testing.T, ctx context.Context, s certmagic.Storage, _ func(Deviation) bool) {
	r, ok := s.(certmagic.LockLeaseRenewer)
	if !ok {
		t.Skipf("%T does not implement the optional certmagic.LockLeaseRenewer", s)
	}
	const name = "issue_cert_renew.example.com"
	if err := s.Lock(ctx, name); err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if err := r.RenewLockLease(ctx, name, time.Minute); err != nil {
		t.Errorf("RenewLockLease of a held lock: %v", err)
	}
	if err := s.Unlock(ctx, name); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}
