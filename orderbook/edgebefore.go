package orderbook

import "slices"

// EdgeBefore returns the Edge that the top-depth view of side had at the
// point where log started: the view of the book as it is, with every
// price log holds at its recorded size (0: absent). With the Edge,
// ViewDelta then turns that older view into the current one, however
// many flush points lie between. scratch is reused for the older levels
// and returned. The cost is O(depth + changes × log(changes)).
func (b *Book) EdgeBefore(side Side, depth int, log *ChangeLog, scratch []Level) (Edge, []Level) {
	side &= 1
	m := mask(side)
	cs := &log.sides[side]
	old := scratch[:0]
	for _, ch := range cs.list {
		if ch.prev > 0 {
			old = append(old, Level{Price: ch.price, Size: ch.prev})
		}
	}
	if side == Bid {
		slices.SortFunc(old, bidFirst)
	} else {
		slices.SortFunc(old, askFirst)
	}
	lv := b.sides[side]
	i, j, n := len(lv)-1, 0, 0
	var e Edge
	for n < depth {
		for i >= 0 {
			if _, changed := cs.lookup(lv[i].key ^ m); !changed {
				break
			}
			i--
		}
		switch {
		case i >= 0 && (j == len(old) || lv[i].key > old[j].Price^m):
			e = Edge{Price: lv[i].key ^ m, OK: true}
			i--
		case j < len(old):
			e = Edge{Price: old[j].Price, OK: true}
			j++
		default:
			return e, old
		}
		n++
	}
	return e, old
}
