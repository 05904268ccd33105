package market

import "time"

// SetFeedDown records whether the symbol's partition can be fetched, at
// time now. While it cannot, a followed book is stale (feed_down); when it
// can again, the book is served again, and its silence is measured from
// now, not across the outage.
func (s *Symbol) SetFeedDown(down bool, now time.Time) (c Change) {
	s.feedDown = down
	s.quietSince, s.silent = now, false
	s.serve(&c)
	s.publish()
	return c
}

// CheckSilent applies the silence bound at time now: a followed book that
// no snapshot or delta advanced for longer than bound becomes stale
// (silent) until one does. The owner calls it periodically; the first
// call after an advance starts the quiet time.
func (s *Symbol) CheckSilent(now time.Time, bound time.Duration) (c Change) {
	switch {
	case s.advanced:
		s.advanced = false
		s.quietSince = now
	case !s.silent && s.seqState == Live && now.Sub(s.quietSince) > bound:
		s.silent, c.Silenced = true, true
		s.serve(&c)
		s.publish()
	}
	return c
}
