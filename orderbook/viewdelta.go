package orderbook

import "slices"

// Edge is the worst price inside a top-depth view, captured at a flush point
// with Book.Edge.
type Edge struct {
	// Price is the price of the worst level in the view.
	Price int64
	// OK is false when the view was empty (the side had no level).
	OK bool
}

// Edge returns the price of the level at best-first rank min(depth, Len)-1
// on side: the worst level a client holding the top depth levels sees. OK is
// false if the side is empty or depth < 1.
func (b *Book) Edge(side Side, depth int) Edge {
	side &= 1
	lv := b.sides[side]
	if len(lv) == 0 || depth < 1 {
		return Edge{}
	}
	r := min(depth, len(lv)) - 1
	return Edge{Price: lv[len(lv)-1-r].key ^ mask(side), OK: true}
}

// ViewDelta appends to dst, best first, the entries that turn the top-depth
// view of side as it was at a flush point into the current top-depth view,
// and returns the extended slice. The flush point is described by before,
// the value of b.Edge(side, depth) captured then, and by log, which must hold
// every change to the side since then (with the sizes at the flush point).
//
// Each entry sets the level at its price to its size in the view; size 0
// deletes it. The entries are exactly the difference between the two views:
// levels whose size changed, levels that entered the view (a better level
// was removed, or the book grew) and levels pushed out of it (a better level
// was inserted), and nothing for a level that stayed in the view with the
// same size. A client applying them without truncation holds exactly the
// new top depth levels.
//
// The cost is O(changes × log(levels) + band), where band is the number of
// levels between the old and new view edges (at most depth unchanged ones,
// plus changed ones); it does not allocate when dst has room.
func (b *Book) ViewDelta(side Side, depth int, before Edge, log *ChangeLog, dst []Level) []Level {
	side &= 1
	m := mask(side)
	after := b.Edge(side, depth)
	bk, ak := before.Price^m, after.Price^m // keys: larger is better
	start := len(dst)
	cs := &log.sides[side]

	for _, ch := range cs.list {
		k := ch.price ^ m
		now := b.Size(side, ch.price)
		inAfter := now > 0 && after.OK && k >= ak
		inBefore := ch.prev > 0 && before.OK && k >= bk
		switch {
		case inAfter && (!inBefore || ch.prev != now):
			dst = append(dst, Level{Price: ch.price, Size: now})
		case !inAfter && inBefore:
			dst = append(dst, Level{Price: ch.price, Size: 0})
		}
	}

	// Unchanged levels have the same size now as at the flush point; they
	// differ between the views only if they lie between the two edges.
	// The after edge sits at a known index; the before edge is found by
	// galloping from it, in O(log band).
	lv := b.sides[side]
	edgeIdx := len(lv) - min(depth, len(lv))
	switch {
	case after.OK && (!before.OK || ak < bk):
		// The view widened: unchanged levels in [after, before) enter.
		lo, hi := edgeIdx, len(lv)
		if before.OK {
			hi = searchFrom(lv, bk, edgeIdx)
		}
		for _, l := range lv[lo:hi] {
			p := l.key ^ m
			if _, changed := cs.lookup(p); !changed {
				dst = append(dst, Level{Price: p, Size: l.size})
			}
		}
	case before.OK && (!after.OK || ak > bk):
		// The view narrowed: unchanged levels in [before, after) leave.
		hi := len(lv) // the side is empty when !after.OK
		if after.OK {
			hi = edgeIdx
		}
		lo := searchFrom(lv, bk, hi)
		for _, l := range lv[lo:hi] {
			p := l.key ^ m
			if _, changed := cs.lookup(p); !changed {
				dst = append(dst, Level{Price: p, Size: 0})
			}
		}
	}

	if side == Bid {
		slices.SortFunc(dst[start:], bidFirst)
	} else {
		slices.SortFunc(dst[start:], askFirst)
	}
	return dst
}

// searchFrom returns the index of the first level whose key is >= k,
// galloping from hint so that the cost is logarithmic in the distance
// between hint and the answer.
func searchFrom(lv []level, k int64, hint int) int {
	n := len(lv)
	var lo, hi int // the answer is in [lo, hi]; lv[hi] >= k unless hi == n
	if hint < n && lv[hint].key < k {
		lo, hi = hint+1, hint+1
		for step := 1; hi < n && lv[hi].key < k; step <<= 1 {
			lo = hi + 1
			hi += step
		}
		hi = min(hi, n)
	} else {
		lo, hi = hint, hint
		for step := 1; lo > 0 && lv[lo-1].key >= k; step <<= 1 {
			hi = lo - 1
			lo = max(lo-step, 0)
		}
	}
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lv[m].key < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func bidFirst(a, b Level) int {
	switch {
	case a.Price > b.Price:
		return -1
	case a.Price < b.Price:
		return 1
	}
	return 0
}

func askFirst(a, b Level) int {
	switch {
	case a.Price < b.Price:
		return -1
	case a.Price > b.Price:
		return 1
	}
	return 0
}
