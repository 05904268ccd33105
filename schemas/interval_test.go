package schemas

import (
	"testing"
	"time"
)

// Every interval parses from its name, has its documented period, and is
// found again from that period.
func TestIntervals(t *testing.T) {
	want := []struct {
		name   string
		period time.Duration
		ticks  int
	}{{IntervalRaw, 0, 0}, {Interval100ms, 100 * time.Millisecond, 1}, {Interval1s, time.Second, 10}}
	if int(NumIntervals) != len(want) {
		t.Fatalf("NumIntervals %d, want %d", NumIntervals, len(want))
	}
	for i, w := range want {
		iv := Interval(i)
		if iv.String() != w.name || iv.Period() != w.period || iv.Ticks() != w.ticks {
			t.Errorf("interval %d: %q %v %d ticks, want %q %v %d", i, iv, iv.Period(), iv.Ticks(), w.name, w.period, w.ticks)
		}
		if got, ok := ParseInterval(w.name); !ok || got != iv {
			t.Errorf("ParseInterval(%q) = %v, %v", w.name, got, ok)
		}
		if got, ok := IntervalOfPeriod(w.period); !ok || got != iv {
			t.Errorf("IntervalOfPeriod(%v) = %v, %v", w.period, got, ok)
		}
	}
	for _, s := range []string{"", "RAW", "10ms", "1m"} {
		if _, ok := ParseInterval(s); ok {
			t.Errorf("ParseInterval(%q) accepted", s)
		}
	}
	if NumIntervals.String() != "invalid" || NumIntervals.Period() != 0 {
		t.Errorf("out of range: %q %v", NumIntervals, NumIntervals.Period())
	}
	if _, ok := IntervalOfPeriod(time.Minute); ok {
		t.Error("IntervalOfPeriod(1m) found an interval")
	}
}
