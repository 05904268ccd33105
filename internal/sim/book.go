package sim

// level is one price level: price in price units, size in size units.
type level struct{ price, size int64 }

// side is one side of an L2 book, levels sorted best first (bids
// descending, asks ascending), sizes > 0, prices unique.
type side struct {
	bid    bool
	levels []level
}

// better reports whether price a is better than price b on this side.
func (s *side) better(a, b int64) bool {
	if s.bid {
		return a > b
	}
	return a < b
}

// find returns the index of price, or the index where it would be inserted.
func (s *side) find(price int64) (int, bool) {
	lo, hi := 0, len(s.levels)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.better(s.levels[m].price, price) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s.levels) && s.levels[lo].price == price
}

// size returns the size at price, 0 if the level does not exist.
func (s *side) size(price int64) int64 {
	if i, ok := s.find(price); ok {
		return s.levels[i].size
	}
	return 0
}

// set sets the level at price to size; size 0 deletes it.
func (s *side) set(price, size int64) {
	i, ok := s.find(price)
	switch {
	case ok && size == 0:
		s.levels = append(s.levels[:i], s.levels[i+1:]...)
	case ok:
		s.levels[i].size = size
	case size != 0:
		s.levels = append(s.levels, level{})
		copy(s.levels[i+1:], s.levels[i:])
		s.levels[i] = level{price, size}
	}
}

// best returns the best price; ok is false when the side is empty.
func (s *side) best() (int64, bool) {
	if len(s.levels) == 0 {
		return 0, false
	}
	return s.levels[0].price, true
}

// tail returns the worst price; ok is false when the side is empty.
func (s *side) tail() (int64, bool) {
	if len(s.levels) == 0 {
		return 0, false
	}
	return s.levels[len(s.levels)-1].price, true
}

// away returns price moved n ticks away from the touch (down for bids, up
// for asks).
func (s *side) away(price, ticks, tick int64) int64 {
	if s.bid {
		return price - ticks*tick
	}
	return price + ticks*tick
}
