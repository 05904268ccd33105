package orderbook

// Side selects one side of a book.
type Side uint8

// The two sides of a book.
const (
	// Bid is the buy side; its best level is the highest price.
	Bid Side = 0
	// Ask is the sell side; its best level is the lowest price.
	Ask Side = 1
)

// String returns "bid" or "ask".
func (s Side) String() string {
	if s == Ask {
		return "ask"
	}
	return "bid"
}

// Level is one price level: price and total size as mantissas at the
// instrument's price and size scales.
type Level struct {
	Price, Size int64
}

// level is a stored level. key orders levels so that a larger key is a
// better price on either side: key = price for bids and ^price (= -price-1,
// a bijection that reverses order without overflow) for asks.
type level struct {
	key, size int64
}

// mask returns the value XORed with a price to obtain its key on side s.
func mask(s Side) int64 { return -int64(s & 1) }

// Book is an L2 order book: per side, the total size at each price.
//
// Each side is a slice sorted by key in ascending order, so the best level
// sits at the tail: the frequent updates near the top of the book shift only
// the few elements above them. A Book is not safe for concurrent use; see
// the package documentation. The zero value is an empty book ready to use.
type Book struct {
	sides [2][]level
}

// New returns an empty book.
func New() *Book { return &Book{} }

// search returns the index of the first level whose key is >= k and
// whether that level has key k. Updates cluster near the best level (the
// tail), so the last few levels are probed linearly before a binary search
// over the rest.
func search(lv []level, k int64) (int, bool) {
	n := len(lv)
	const probe = 4
	i := n
	for j := 0; j < probe && i > 0; j++ {
		if lv[i-1].key < k {
			return i, false
		}
		i--
		if lv[i].key == k {
			return i, true
		}
	}
	// Invariant: lv[hi:] >= k (lv[i] > k here if i < n), answer in [0, i].
	lo, hi := 0, i
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if lv[m].key < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < n && lv[lo].key == k
}

// Set sets the size at price on side and returns the previous size (0 if the
// level was absent). A size of 0 deletes the level. size must be >= 0; the
// caller validates it.
func (b *Book) Set(side Side, price, size int64) (prev int64) {
	side &= 1
	lv := b.sides[side]
	k := price ^ mask(side)
	i, found := search(lv, k)
	if found {
		prev = lv[i].size
		if size == 0 {
			copy(lv[i:], lv[i+1:])
			b.sides[side] = lv[:len(lv)-1]
		} else {
			lv[i].size = size
		}
		return prev
	}
	if size == 0 {
		return 0
	}
	lv = append(lv, level{})
	copy(lv[i+1:], lv[i:])
	lv[i] = level{key: k, size: size}
	b.sides[side] = lv
	return 0
}

// Reset clears both sides and keeps their capacity.
func (b *Book) Reset() {
	b.sides[Bid] = b.sides[Bid][:0]
	b.sides[Ask] = b.sides[Ask][:0]
}

// Len returns the number of levels on side.
func (b *Book) Len(side Side) int { return len(b.sides[side&1]) }

// Best returns the best level on side, or false if the side is empty.
func (b *Book) Best(side Side) (Level, bool) {
	side &= 1
	lv := b.sides[side]
	if len(lv) == 0 {
		return Level{}, false
	}
	l := lv[len(lv)-1]
	return Level{Price: l.key ^ mask(side), Size: l.size}, true
}

// At returns the level at rank on side, rank 0 being the best. The caller
// ensures 0 <= rank < Len(side).
func (b *Book) At(side Side, rank int) Level {
	side &= 1
	lv := b.sides[side]
	l := lv[len(lv)-1-rank]
	return Level{Price: l.key ^ mask(side), Size: l.size}
}

// Size returns the size at price on side, 0 if there is no such level.
func (b *Book) Size(side Side, price int64) int64 {
	side &= 1
	lv := b.sides[side]
	if i, ok := search(lv, price^mask(side)); ok {
		return lv[i].size
	}
	return 0
}

// Top appends to dst up to n levels of side, best first, and returns the
// extended slice. n <= 0 appends nothing.
func (b *Book) Top(side Side, n int, dst []Level) []Level {
	side &= 1
	lv := b.sides[side]
	m := mask(side)
	for i := len(lv) - 1; i >= 0 && n > 0; i-- {
		dst = append(dst, Level{Price: lv[i].key ^ m, Size: lv[i].size})
		n--
	}
	return dst
}

// Crossed reports whether both sides are non-empty and the best bid is at or
// above the best ask.
func (b *Book) Crossed() bool {
	bid, ok1 := b.Best(Bid)
	ask, ok2 := b.Best(Ask)
	return ok1 && ok2 && bid.Price >= ask.Price
}

// Equal reports whether b and o hold exactly the same levels.
func (b *Book) Equal(o *Book) bool {
	for s := range b.sides {
		x, y := b.sides[s], o.sides[s]
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	}
	return true
}

// Rank returns the best-first position of price on side and true if the
// level exists; otherwise the rank a level at price would take if inserted
// (the number of strictly better levels) and false.
func (b *Book) Rank(side Side, price int64) (rank int, found bool) {
	side &= 1
	lv := b.sides[side]
	i, ok := search(lv, price^mask(side))
	if ok {
		return len(lv) - 1 - i, true
	}
	return len(lv) - i, false
}
