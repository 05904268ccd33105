package auth

import (
	"sync"
	"time"
)

// FailureLimiter limits failed authentications per client address with a
// token bucket: Burst failures at once, refilled at one per Every. Safe
// for concurrent use.
type FailureLimiter struct {
	// Burst is the failures allowed at once. Zero means
	// DefaultFailureBurst (10).
	Burst int
	// Every is the refill period of one failure. Zero means
	// DefaultFailureEvery (6s).
	Every time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64 // not on a price or size path: a rate budget
	last   time.Time
}

const maxBuckets = 100000

func (l *FailureLimiter) params() (int, time.Duration) {
	b, e := l.Burst, l.Every
	if b <= 0 {
		b = DefaultFailureBurst
	}
	if e <= 0 {
		e = DefaultFailureEvery
	}
	return b, e
}

// Blocked reports whether addr has used up its failures.
func (l *FailureLimiter) Blocked(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(addr, time.Now())
	return b != nil && b.tokens < 1
}

// Fail records a failed attempt from addr.
func (l *FailureLimiter) Fail(addr string) { l.take(addr) }

// take spends one token of key's bucket (a new bucket starts full) and
// reports whether there was one.
func (l *FailureLimiter) take(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(key, now)
	if b == nil {
		burst, _ := l.params()
		if l.buckets == nil {
			l.buckets = make(map[string]*bucket)
		}
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: float64(burst), last: now}
		l.buckets[key] = b
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// RequestLimiter limits requests per caller (an API key, or a client
// address for anonymous callers) with a token bucket: Burst requests at
// once, refilled at one per Every. Safe for concurrent use.
type RequestLimiter struct {
	// Burst is the requests allowed at once. Zero means
	// DefaultRequestBurst (20).
	Burst int
	// Every is the refill period of one request. Zero means
	// DefaultRequestEvery (50ms: 20 requests a second).
	Every time.Duration

	once    sync.Once
	buckets FailureLimiter // the same token buckets, spent by every request
}

// Allow spends one request of caller's budget and reports whether there
// was one left.
func (l *RequestLimiter) Allow(caller string) bool {
	l.once.Do(func() {
		l.buckets.Burst, l.buckets.Every = l.Burst, l.Every
		if l.buckets.Burst <= 0 {
			l.buckets.Burst = DefaultRequestBurst
		}
		if l.buckets.Every <= 0 {
			l.buckets.Every = DefaultRequestEvery
		}
	})
	return l.buckets.take(caller)
}

func (l *FailureLimiter) refill(addr string, now time.Time) *bucket {
	b := l.buckets[addr]
	if b == nil {
		return nil
	}
	burst, every := l.params()
	b.tokens += float64(now.Sub(b.last)) / float64(every)
	if b.tokens > float64(burst) {
		b.tokens = float64(burst)
	}
	b.last = now
	return b
}

// prune drops full buckets, then, if still too many, all of them.
func (l *FailureLimiter) prune(now time.Time) {
	burst, every := l.params()
	for a, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/float64(every) >= float64(burst) {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}
