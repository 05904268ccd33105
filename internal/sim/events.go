package sim

// maxChanges bounds the level changes of one delta.
const maxChanges = 4

// change is one level change of the delta being built: the final size at
// price (0 deletes), and whether the level existed before the delta.
type change struct {
	bid     bool
	price   int64
	size    int64
	existed bool
}

func (s *symbol) side(bid bool) *side {
	if bid {
		return &s.bids
	}
	return &s.asks
}

// set applies a level change to the book and records it in e.changes; a
// price changed twice in one delta is recorded once, with its final size.
func (e *Exchange) set(s *symbol, bid bool, price, size int64) {
	sd := s.side(bid)
	for i := range e.changes {
		if c := &e.changes[i]; c.bid == bid && c.price == price {
			c.size = size
			sd.set(price, size)
			return
		}
	}
	e.changes = append(e.changes, change{bid: bid, price: price, size: size, existed: sd.size(price) != 0})
	sd.set(price, size)
}

// changed reports whether the delta being built changes price on side bid.
func (e *Exchange) changed(bid bool, price int64) bool {
	for _, c := range e.changes {
		if c.bid == bid && c.price == price {
			return true
		}
	}
	return false
}

func (e *Exchange) room() int { return maxChanges - len(e.changes) }

// finish drops changes that delete a level that did not exist before the
// delta (added and removed again), and makes sure at least one remains.
func (e *Exchange) finish(s *symbol) {
	kept := e.changes[:0]
	for _, c := range e.changes {
		if c.existed || c.size != 0 {
			kept = append(kept, c)
		}
	}
	e.changes = kept
	if len(e.changes) == 0 {
		e.modify(s, e.rng.IntN(2) == 0)
	}
}

// minDepth is the depth below which a side is not thinned further.
func (e *Exchange) minDepth() int { return max(2, e.cfg.Levels/2) }

// nearIndex returns a random level index favouring the top of a side of n
// levels (n > 0).
func (e *Exchange) nearIndex(n int) int {
	i := 0
	for i < n-1 && i < 9 && e.rng.IntN(100) < 45 {
		i++
	}
	return i
}

// delta builds the changes of one book event in e.changes.
func (e *Exchange) delta(s *symbol) {
	e.changes = e.changes[:0]
	actions := 1
	if r := e.rng.IntN(100); r >= 90 {
		actions = 3
	} else if r >= 65 {
		actions = 2
	}
	for a := 0; a < actions && e.room() > 0; a++ {
		bid := e.rng.IntN(2) == 0
		switch r := e.rng.IntN(100); {
		case r < 40:
			e.modify(s, bid)
		case r < 65:
			e.add(s, bid)
		case r < 78:
			e.remove(s, bid)
		case r < 90:
			e.shift(s)
		default:
			e.far(s, bid)
		}
	}
	e.maintain(s)
	e.finish(s)
}

// modify changes the size of a level near the top.
func (e *Exchange) modify(s *symbol, bid bool) {
	sd := s.side(bid)
	if len(sd.levels) == 0 {
		return
	}
	l := sd.levels[e.nearIndex(len(sd.levels))]
	size := e.randSize(&s.in)
	if size == l.size {
		size += s.in.lot
	}
	e.set(s, bid, l.price, size)
}

// remove deletes a level near the top unless the side is thin.
func (e *Exchange) remove(s *symbol, bid bool) {
	sd := s.side(bid)
	if len(sd.levels) <= e.minDepth() {
		return
	}
	e.set(s, bid, sd.levels[e.nearIndex(len(sd.levels))].price, 0)
}

// add inserts a level near the top: usually close to the pivot (half of
// the time into the free price nearest to it), otherwise in a gap between
// existing levels.
func (e *Exchange) add(s *symbol, bid bool) {
	sd := s.side(bid)
	tick := s.in.tick
	if r := e.rng.IntN(100); r < 70 {
		k := int64(e.nearIndex(10))
		if r < 35 {
			if h, ok := e.hole(s, bid, 10); ok {
				k = h
			}
		}
		if p := e.nearPivot(s, bid, k); p > 0 {
			e.set(s, bid, p, e.randSize(&s.in))
		}
		return
	}
	n := len(sd.levels)
	for try := 0; try < 4 && n > 1; try++ {
		i := e.nearIndex(n - 1)
		// Free prices strictly between levels i and i+1.
		free := abs(sd.levels[i+1].price-sd.levels[i].price)/tick - 1
		if free > 0 {
			p := sd.away(sd.levels[i].price, 1+e.rng.Int64N(free), tick)
			e.set(s, bid, p, e.randSize(&s.in))
			return
		}
	}
}

// nearPivot returns the price k ticks from the pivot on side bid: bids at
// pivot-k·tick, asks at pivot+(k+1)·tick.
func (e *Exchange) nearPivot(s *symbol, bid bool, k int64) int64 {
	if bid {
		return s.pivot - k*s.in.tick
	}
	return s.pivot + (k+1)*s.in.tick
}

// hole returns the smallest k < limit such that the price k ticks from
// the pivot (see nearPivot) has no level on side bid and was not changed
// by the delta being built.
func (e *Exchange) hole(s *symbol, bid bool, limit int64) (int64, bool) {
	sd := s.side(bid)
	for k := int64(0); k < limit; k++ {
		p := e.nearPivot(s, bid, k)
		if p <= 0 {
			break
		}
		if sd.size(p) == 0 && !e.changed(bid, p) {
			return k, true
		}
	}
	return 0, false
}

// shift moves the pivot one or two ticks, the step of the random walk of
// the mid: moving up, the asks at the prices the pivot passes are lifted
// and usually a bid follows into the freed range; moving down, the bids are
// hit and an ask follows. The direction is pulled back toward the
// reference price when the pivot strays more than 10% from it.
func (e *Exchange) shift(s *symbol) {
	// One change stays free for maintain, which must refill a side the
	// shift empties.
	if e.room() < 3 {
		return
	}
	upPct := 50
	if ref := s.in.ref; s.pivot > ref+ref/10 {
		upPct = 25
	} else if s.pivot < ref-ref/10 {
		upPct = 75
	}
	up := e.rng.IntN(100) < upPct
	tick := s.in.tick
	d := int64(1 + e.rng.IntN(min(2, e.room()-2)))
	if !up && s.pivot-d*tick <= 0 {
		return
	}
	old := s.pivot
	for i := int64(1); i <= d; i++ {
		if up {
			// Asks live above the pivot: those at old+tick..old+d·tick go.
			if p := old + i*tick; s.asks.size(p) != 0 {
				e.set(s, false, p, 0)
			}
		} else if p := old - (i-1)*tick; s.bids.size(p) != 0 {
			// Bids live at or below the pivot: old..old-(d-1)·tick go.
			e.set(s, true, p, 0)
		}
	}
	if up {
		s.pivot += d * tick
	} else {
		s.pivot -= d * tick
	}
	if e.room() > 1 && e.rng.IntN(100) < 70 {
		k := e.rng.Int64N(d)
		if up {
			e.set(s, true, s.pivot-k*tick, e.randSize(&s.in)) // in (old, pivot]
		} else {
			e.set(s, false, s.pivot+(1+k)*tick, e.randSize(&s.in)) // in (pivot, old]
		}
	}
}

// far changes a level deep in the book: a size change, a deletion, or a
// new level beyond the last one.
func (e *Exchange) far(s *symbol, bid bool) {
	sd := s.side(bid)
	n := len(sd.levels)
	if n == 0 {
		return
	}
	i := n - 1 - e.rng.IntN(min(n, 5))
	switch e.rng.IntN(3) {
	case 0:
		size := e.randSize(&s.in)
		if size == sd.levels[i].size {
			size += s.in.lot
		}
		e.set(s, bid, sd.levels[i].price, size)
	case 1:
		if n > e.minDepth() {
			e.set(s, bid, sd.levels[i].price, 0)
		}
	default:
		e.extend(s, bid)
	}
}

// extend adds a level beyond the last level of side bid.
func (e *Exchange) extend(s *symbol, bid bool) {
	sd := s.side(bid)
	var p int64
	if tail, ok := sd.tail(); ok {
		p = sd.away(tail, e.gap(), s.in.tick)
	} else if bid { // empty side: restart at the pivot
		p = s.pivot
	} else {
		p = s.pivot + s.in.tick
	}
	if p > 0 {
		e.set(s, bid, p, e.randSize(&s.in))
	}
}

// maintain keeps each side at about cfg.Levels levels: a side too long
// loses its last level, a side too short gains one (at a free price near
// the pivot, or beyond its last level), as room allows. An empty side is
// refilled first and regardless of room.
func (e *Exchange) maintain(s *symbol) {
	for _, bid := range [2]bool{true, false} {
		if len(s.side(bid).levels) == 0 {
			e.extend(s, bid)
		}
	}
	for _, bid := range [2]bool{true, false} {
		sd := s.side(bid)
		n := len(sd.levels)
		if e.room() <= 0 {
			return
		}
		switch {
		case n > e.cfg.Levels:
			e.set(s, bid, sd.levels[n-1].price, 0)
		case n < e.cfg.Levels:
			// Refill the top first when it has a hole close to the pivot.
			if k, ok := e.hole(s, bid, 3); ok {
				e.set(s, bid, e.nearPivot(s, bid, k), e.randSize(&s.in))
			} else {
				e.extend(s, bid)
			}
		}
	}
}

// trade generates a trade at the touch and builds the delta consuming the
// traded size in e.changes. ok is false when no trade is possible.
func (e *Exchange) trade(s *symbol) (id, price, size int64, buy, ok bool) {
	e.changes = e.changes[:0]
	buy = e.rng.IntN(2) == 0
	for try := 0; try < 2; try, buy = try+1, !buy {
		sd := s.side(!buy) // a buyer lifts the asks, a seller hits the bids
		if len(sd.levels) == 0 {
			continue
		}
		l := sd.levels[0]
		lots := l.size / s.in.lot
		full := e.rng.IntN(100) < 35 || lots <= 1
		if full && len(sd.levels) == 1 {
			if lots <= 1 {
				continue // would empty the side
			}
			full = false
		}
		size = l.size
		if !full {
			size = (1 + e.rng.Int64N(lots-1)) * s.in.lot
		}
		e.set(s, !buy, l.price, l.size-size)
		if full && e.rng.IntN(2) == 0 {
			// The price moves through the consumed level: the pivot
			// follows, so the other side may step into the freed price.
			if buy {
				s.pivot = l.price
			} else {
				s.pivot = l.price - s.in.tick
			}
		}
		e.maintain(s)
		s.tradeID++
		return s.tradeID, l.price, size, buy, true
	}
	return 0, 0, 0, false, false
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
