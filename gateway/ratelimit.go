package gateway

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bounds how fast one client may use the endpoints worth abusing. The zero value of each
// field takes the default stated; a negative value turns that limit off.
type Limits struct {
	// RedeemsPerMinute is how many link redemptions one IP address may attempt per minute
	// (default 60, bursts of 20).
	RedeemsPerMinute float64
	// FailedTokensPerHour is how many invalid, used or expired tokens one IP address may present
	// per hour before its redemptions are refused for a while (default 30, bursts of 10): token
	// guessing stops long before it could succeed.
	FailedTokensPerHour float64
	// APIPerSecond is how many API requests one API key may make per second (default 100, bursts
	// of 200).
	APIPerSecond float64
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
	return l
}

// limiter is a set of token buckets by key (an IP address, an API key id), in memory per instance.
// Idle buckets are dropped, so memory stays bounded by the clients of the last few minutes.
type limiter struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	if perSecond < 0 {
		return nil
	}
	return &limiter{limit: rate.Limit(perSecond), burst: burst, m: map[string]*bucket{}}
}

// allow takes a token for key; when there is none it returns false and how long to wait.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	b := l.get(key, now)
	r := b.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// blocked reports whether key has no token left, without taking one.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return false, 0
	}
	b := l.get(key, now)
	if b.l.TokensAt(now) >= 1 {
		return false, 0
	}
	r := b.l.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return true, d
}

func (l *limiter) get(key string, now time.Time) *bucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute {
		for k, b := range l.m {
			// A bucket idle long enough to be full again carries no state worth keeping.
			if now.Sub(b.seen) > time.Duration(float64(l.burst)/float64(l.limit)*float64(time.Second))+time.Minute {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	b := l.m[key]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = b
	}
	b.seen = now
	return b
}

// retryAfter formats a wait for the Retry-After header, in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
