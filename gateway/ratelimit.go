package gateway

import (
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Limits bounds how fast one client may use the endpoints worth abusing. The zero value of each
// field takes the default stated; a negative value turns that limit off. A client is its address
// (ClientAddr): an IPv4 address, or the /64 network of an IPv6 address (one subscriber's: a host
// picks any address in it at will).
type Limits struct {
	// RedeemsPerMinute is how many link redemptions one client may attempt per minute (default
	// 60, bursts of 20). Beyond it, a token that is not a valid link is answered 429; a valid
	// one is always redeemed.
	RedeemsPerMinute float64
	// FailedTokensPerHour is how many invalid, used or expired tokens one client may present per
	// hour (default 30, bursts of 10). Beyond it, a token that is not a valid link is answered
	// 429 with Retry-After instead of 404 or 410; a valid one is always redeemed.
	FailedTokensPerHour float64
	// APIPerSecond is how many API requests one API key may make per second (default 100, bursts
	// of 200).
	APIPerSecond float64
	// MaxClients is how many clients (or API keys) each limit remembers at most (default
	// 100,000). Past it the least recently seen are forgotten, and start again with a full budget.
	MaxClients int
}

func (l Limits) withDefaults() Limits {
	if l.RedeemsPerMinute == 0 {
		l.RedeemsPerMinute = 60
	}
	if l.FailedTokensPerHour == 0 {
		l.FailedTokensPerHour = 30
	}
	if l.APIPerSecond == 0 {
		l.APIPerSecond = 100
	}
	if l.MaxClients <= 0 {
		l.MaxClients = 100_000
	}
	return l
}

// clientKey is the limits' key of a client address: an IPv4 address as itself, an IPv6 address
// by its /64 network.
func clientKey(a netip.Addr) [16]byte {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.WithZone("").Prefix(64)
		a = p.Addr()
	}
	return a.As16()
}

// limiter is a set of token buckets by key (a client key, an API key id), in memory per instance,
// in a table of bounded size: two generations of at most max/2 buckets each. Buckets live in the
// current generation; when it is full, or older than the time an untouched bucket takes to fill
// up again, the previous generation is dropped and the current one becomes the previous. A bucket
// used in the previous generation moves to the current one, so the buckets dropped are those
// least recently seen, and with a table that is not full, only those that were full again
// anyway. A key that is in neither has a full bucket, and a full bucket is not stored. The maps
// are cleared, not reallocated, so the table's memory stays where its peak put it.
type limiter[K comparable] struct {
	rate  float64 // tokens per second
	burst float64
	half  int   // buckets per generation at most
	idle  int64 // nanoseconds a bucket takes to fill up again from empty
	mu    sync.Mutex
	cur   map[K]bucket
	prev  map[K]bucket
	since int64 // start of the current generation, Unix nanoseconds
}

// bucket is a token bucket: its tokens at last (Unix nanoseconds).
type bucket struct {
	tokens float64
	last   int64
}

func newLimiter[K comparable](perSecond float64, burst, max int) *limiter[K] {
	if perSecond < 0 {
		return nil
	}
	half := max / 2
	if half < 1 {
		half = 1
	}
	return &limiter[K]{
		rate: perSecond, burst: float64(burst), half: half,
		idle: int64(float64(burst) / perSecond * float64(time.Second)),
		cur:  map[K]bucket{}, prev: map[K]bucket{},
	}
}

// allow takes a token for key; when there is none it returns false and how long to wait.
func (l *limiter[K]) allow(key K, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := now.UnixNano()
	b := l.load(key, n)
	if b.tokens < 1 {
		l.store(key, b, n)
		return false, l.wait(b)
	}
	b.tokens--
	l.store(key, b, n)
	return true, 0
}

// blocked reports whether key has no token left, without taking one.
func (l *limiter[K]) blocked(key K, now time.Time) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := now.UnixNano()
	b := l.load(key, n)
	l.store(key, b, n)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, l.wait(b)
}

// len is the number of buckets held.
func (l *limiter[K]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.cur) + len(l.prev)
}

func (l *limiter[K]) wait(b bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// load returns key's bucket refilled up to n.
func (l *limiter[K]) load(key K, n int64) bucket {
	if n-l.since > l.idle {
		l.rotate(n)
	}
	b, ok := l.cur[key]
	if !ok {
		if b, ok = l.prev[key]; !ok {
			return bucket{tokens: l.burst, last: n}
		}
	}
	if n > b.last {
		b.tokens += float64(n-b.last) / float64(time.Second) * l.rate
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.last = n
	}
	return b
}

// store keeps key's bucket in the current generation; a full one is no state worth keeping.
func (l *limiter[K]) store(key K, b bucket, n int64) {
	if b.tokens >= l.burst {
		delete(l.cur, key)
		delete(l.prev, key)
		return
	}
	if _, ok := l.cur[key]; !ok {
		if len(l.cur) >= l.half {
			l.rotate(n)
		}
		delete(l.prev, key)
	}
	l.cur[key] = b
}

func (l *limiter[K]) rotate(n int64) {
	clear(l.prev)
	l.prev, l.cur = l.cur, l.prev
	l.since = n
}

// retryAfter formats a wait for the Retry-After header, in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
