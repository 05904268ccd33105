package fanout

import (
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// Interval is how often a subscription receives updates.
type Interval uint8

// Intervals offered to clients.
const (
	// Raw sends every exchange event as it is applied.
	Raw Interval = iota
	// Every100ms sends the net change of each 100 ms.
	Every100ms
	// Every1s sends the net change of each second.
	Every1s

	numIntervals
)

// String returns the protocol name of the interval.
func (iv Interval) String() string {
	switch iv {
	case Raw:
		return schemas.IntervalRaw
	case Every100ms:
		return schemas.Interval100ms
	case Every1s:
		return schemas.Interval1s
	}
	return "invalid"
}

// Period returns the flush period of a throttled interval, zero for Raw.
func (iv Interval) Period() time.Duration {
	switch iv {
	case Every100ms:
		return 100 * time.Millisecond
	case Every1s:
		return time.Second
	}
	return 0
}

// ParseInterval parses a protocol interval name.
func ParseInterval(s string) (Interval, bool) {
	switch s {
	case schemas.IntervalRaw:
		return Raw, true
	case schemas.Interval100ms:
		return Every100ms, true
	case schemas.Interval1s:
		return Every1s, true
	}
	return 0, false
}

// defaultInterval is the interval of a subscription that names none, as
// the protocol defines it (schemas.DefaultInterval).
func defaultInterval(k schemas.ChannelKind) Interval {
	iv, _ := ParseInterval(schemas.DefaultInterval(k))
	return iv
}
