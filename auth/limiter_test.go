package auth

import (
	"testing"
	"time"
)

// TestRequestLimiter: a caller spends its burst, is refused, and regains
// requests at the refill rate; other callers have budgets of their own.
func TestRequestLimiter(t *testing.T) {
	l := &RequestLimiter{Burst: 3, Every: 50 * time.Millisecond}
	for i := range 3 {
		if !l.Allow("key:a") {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	if l.Allow("key:a") {
		t.Fatal("request beyond the burst allowed")
	}
	if !l.Allow("key:b") {
		t.Fatal("another caller refused")
	}
	time.Sleep(120 * time.Millisecond) // two refills at least
	if !l.Allow("key:a") {
		t.Fatal("no request regained after the refill period")
	}
	var d RequestLimiter
	for i := range DefaultRequestBurst {
		if !d.Allow("addr:x") {
			t.Fatalf("default limiter refused request %d of its burst", i+1)
		}
	}
	if d.Allow("addr:x") {
		t.Fatal("default limiter allowed more than its burst at once")
	}
}
