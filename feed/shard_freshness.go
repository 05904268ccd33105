package feed

import "time"

// CheckFreshness applies the freshness bounds at time now: books of a
// partition that could not be fetched for FeedDownAfter become stale
// (feed_down), books that nothing advanced for SilentAfter become stale
// (silent), and books whose cause went away are served again from a fresh
// snapshot. Run calls it every FlushEvery; it must run on the shard's
// goroutine.
func (s *Shard) CheckFreshness(now time.Time) {
	s.checked = now
	s.reportHistory()
	if s.cfg.LastFetch != nil {
		// Before the first fetch, the bound counts from the shard's start.
		last := s.cfg.LastFetch()
		if last.Before(s.started) {
			last = s.started
		}
		down := now.Sub(last) > s.cfg.FeedDownAfter
		if down != s.feedDown {
			s.feedDown = down
			if down {
				s.log.Warn("partition not fetched; its books are stale until it is", "bound", s.cfg.FeedDownAfter)
			} else {
				s.log.Info("partition fetched again; books served from fresh snapshots")
			}
			for _, sym := range s.symbols {
				if c := sym.SetFeedDown(down, now); c.Status || c.Reset {
					s.listener.StateChanged(sym, c)
				}
			}
		}
	}
	if s.cfg.SilentAfter < 0 || s.feedDown {
		return
	}
	for _, sym := range s.symbols {
		c := sym.CheckSilent(now, s.cfg.SilentAfter)
		if c.Silenced {
			s.log.Warn("book silent; stale until a snapshot or delta arrives", "symbol", sym.Name(), "bound", s.cfg.SilentAfter)
		}
		if c.Status || c.Reset {
			s.listener.StateChanged(sym, c)
		}
	}
}

// reportHistory adds the change of the shard's history memory since the
// last report to the gauge of all shards.
func (s *Shard) reportHistory() {
	var n int64
	for _, sym := range s.symbols {
		n += sym.HistoryBytes()
	}
	s.m.HistoryBytes.Add(float64(n - s.histBytes))
	s.histBytes = n
}
