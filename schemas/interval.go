package schemas

import "time"

// Interval is how often a subscription receives updates: the typed form
// of the protocol's "interval" field (IntervalRaw, Interval100ms,
// Interval1s). It indexes per-interval tables: its values run from 0 to
// NumIntervals-1.
type Interval uint8

// Intervals offered to clients, finest first.
const (
	// Raw sends every exchange event as it is applied ("raw").
	Raw Interval = iota
	// Every100ms sends the net change of each 100 ms ("100ms").
	Every100ms
	// Every1s sends the net change of each second ("1s").
	Every1s

	// NumIntervals is the number of intervals.
	NumIntervals
)

// intervals holds the protocol name and period of each Interval.
var intervals = [NumIntervals]struct {
	name   string
	period time.Duration
}{
	Raw:        {IntervalRaw, 0},
	Every100ms: {Interval100ms, 100 * time.Millisecond},
	Every1s:    {Interval1s, time.Second},
}

// String returns the protocol name of the interval ("raw", "100ms", "1s"),
// "invalid" for a value out of range.
func (iv Interval) String() string {
	if iv >= NumIntervals {
		return "invalid"
	}
	return intervals[iv].name
}

// Period returns the flush period of a throttled interval, zero for Raw
// and for a value out of range.
func (iv Interval) Period() time.Duration {
	if iv >= NumIntervals {
		return 0
	}
	return intervals[iv].period
}

// Ticks returns how many periods of the finest throttled interval
// (Every100ms) make one period of iv: 1 for Every100ms, 10 for Every1s, 0
// for Raw, which is not flushed.
func (iv Interval) Ticks() int {
	return int(iv.Period() / Every100ms.Period())
}

// ParseInterval parses a protocol interval name.
func ParseInterval(s string) (Interval, bool) {
	for iv := range NumIntervals {
		if intervals[iv].name == s {
			return iv, true
		}
	}
	return 0, false
}

// IntervalOfPeriod returns the interval whose period is d (Raw for 0).
func IntervalOfPeriod(d time.Duration) (Interval, bool) {
	for iv := range NumIntervals {
		if intervals[iv].period == d {
			return iv, true
		}
	}
	return 0, false
}
