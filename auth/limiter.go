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
func (l *FailureLimiter) Fail(addr string) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(addr, now)
	if b == nil {
		burst, _ := l.params()
		if l.buckets == nil {
			l.buckets = make(map[string]*bucket)
		}
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: float64(burst), last: now}
		l.buckets[addr] = b
	}
	if b.tokens >= 1 {
		b.tokens--
	}
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
