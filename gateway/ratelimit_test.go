package gateway

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// nthAddr is the i-th of a stream of distinct client addresses: IPv4 addresses and IPv6 /64s in
// turn (an attacker's cheapest way to many keys).
func nthAddr(i int) netip.Addr {
	if i%2 == 0 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(0x0a000000+i/2))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], 0x2001_0db8_0000_0000+uint64(i/2))
	binary.BigEndian.PutUint64(b[8:], uint64(i)*0x9e3779b97f4a7c15) // a different host each time
	return netip.AddrFrom16(b)
}

// TestLimiterBounded feeds a million distinct client addresses within one second: the table
// never holds more buckets than its cap, and a client seen recently is still limited after it.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	const max = 10_000
	l := newLimiter[[16]byte](30.0/3600, 10, max)
	now := time.Unix(1_800_000_000, 0)
	victim := clientKey(netip.MustParseAddr("198.51.100.1"))
	for range 10 {
		l.allow(victim, now)
	}
	for i := range 1_000_000 {
		if i%(max/4) == 0 { // the client keeps trying: it is among the recently seen
			if ok, _ := l.allow(victim, now); ok {
				t.Fatalf("after %d other clients: the spent budget came back", i)
			}
		}
		l.allow(clientKey(nthAddr(i)), now.Add(time.Duration(i)*time.Microsecond))
		if n := l.len(); n > max {
			t.Fatalf("after %d clients the table holds %d buckets, cap %d", i+1, n, max)
		}
	}
	if n := l.len(); n < max/2 {
		t.Fatalf("table holds only %d buckets", n)
	}
}

// TestLimiterForgetsIdleClients: a bucket idle long enough to be full again is dropped, so a
// quiet table empties out instead of keeping every client ever seen.
func TestLimiterForgetsIdleClients(t *testing.T) {
	t.Parallel()
	l := newLimiter[[16]byte](1, 10, 1000) // full again 10 s after being emptied
	now := time.Unix(1_800_000_000, 0)
	for i := range 100 {
		l.allow(clientKey(nthAddr(i)), now)
	}
	for _, d := range []time.Duration{11 * time.Second, 22 * time.Second} {
		l.blocked(clientKey(nthAddr(0)), now.Add(d))
	}
	if n := l.len(); n != 0 {
		t.Fatalf("%d idle buckets kept", n)
	}
	key := clientKey(nthAddr(1))
	for range 10 {
		l.allow(key, now)
	}
	if ok, wait := l.allow(key, now); ok || wait != time.Second {
		t.Fatalf("empty bucket: allowed %v, wait %v", ok, wait)
	}
}

// BenchmarkLimiterMemory measures the heap a limiter table holds at its cap (the default, 100,000
// clients) after a stream of distinct addresses twice that long; bytes/table is the figure the
// README quotes.
func BenchmarkLimiterMemory(b *testing.B) {
	const max = 100_000
	var held uint64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := newLimiter[[16]byte](30.0/3600, 10, max)
		now := time.Unix(1_800_000_000, 0)
		for i := range 2 * max {
			l.allow(clientKey(nthAddr(i)), now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		held = after.HeapAlloc - before.HeapAlloc
		if l.len() > max {
			b.Fatalf("%d buckets", l.len())
		}
		runtime.KeepAlive(l)
	}
	b.ReportMetric(float64(held), "bytes/table")
	b.ReportMetric(float64(held)/max, "bytes/client")
}
