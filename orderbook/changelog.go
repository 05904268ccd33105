package orderbook

// ChangeLog records, per side, each price changed since the last Reset, with
// its size at the time of the first change, which is its size at the last
// flush point. Record the value returned by Book.Set:
//
//	log.Record(side, price, book.Set(side, price, size))
//
// A ChangeLog is reused across flushes: Reset is O(1) and, once its tables
// have grown to the largest batch seen, Record does not allocate. The zero
// value is ready to use. Like Book, it is not safe for concurrent use.
type ChangeLog struct {
	sides [2]changeSet
}

// Record notes that price on side changed and that its size before the
// change was prevSize. Only the first prevSize recorded for a price since
// the last Reset is kept.
func (c *ChangeLog) Record(side Side, price, prevSize int64) {
	c.sides[side&1].record(price, prevSize)
}

// Reset forgets every recorded change (start of a new flush interval).
func (c *ChangeLog) Reset() {
	c.sides[Bid].reset()
	c.sides[Ask].reset()
}

// Len returns the number of distinct (side, price) pairs recorded since the
// last Reset.
func (c *ChangeLog) Len() int { return len(c.sides[Bid].list) + len(c.sides[Ask].list) }

// Prev returns the size recorded for price on side at its first change since
// the last Reset, and whether price changed at all.
func (c *ChangeLog) Prev(side Side, price int64) (prevSize int64, changed bool) {
	return c.sides[side&1].lookup(price)
}

// change is one recorded price with its size at the flush point.
type change struct {
	price, prev int64
}

// slot is an open-addressing hash slot. A slot is occupied only when its gen
// equals the set's current generation, so Reset need not clear the table.
type slot struct {
	price int64
	idx   int32
	gen   uint32
}

// changeSet is the change log of one side: changes in recording order plus
// a linear-probing hash index over them.
type changeSet struct {
	list  []change
	slots []slot // length is zero or a power of two
	shift uint   // 64 - log2(len(slots))
	gen   uint32
}

const fib = 0x9E3779B97F4A7C15 // 2^64 / golden ratio, for Fibonacci hashing

func (s *changeSet) home(price int64) int {
	return int((uint64(price) * fib) >> s.shift)
}

func (s *changeSet) reset() {
	s.list = s.list[:0]
	s.gen++
	if s.gen == 0 { // wrapped: stale slots could look current
		clear(s.slots)
		s.gen = 1
	}
}

func (s *changeSet) lookup(price int64) (int64, bool) {
	if len(s.list) == 0 {
		return 0, false
	}
	m := len(s.slots) - 1
	for i := s.home(price); ; i = (i + 1) & m {
		sl := &s.slots[i]
		if sl.gen != s.gen {
			return 0, false
		}
		if sl.price == price {
			return s.list[sl.idx].prev, true
		}
	}
}

func (s *changeSet) record(price, prev int64) {
	if s.gen == 0 {
		s.gen = 1
	}
	if 2*(len(s.list)+1) > len(s.slots) {
		s.grow()
	}
	m := len(s.slots) - 1
	for i := s.home(price); ; i = (i + 1) & m {
		sl := &s.slots[i]
		if sl.gen != s.gen {
			*sl = slot{price: price, idx: int32(len(s.list)), gen: s.gen}
			s.list = append(s.list, change{price: price, prev: prev})
			return
		}
		if sl.price == price {
			return
		}
	}
}

// grow doubles the hash table (minimum 16 slots) and re-indexes the list.
func (s *changeSet) grow() {
	n := 2 * len(s.slots)
	if n < 16 {
		n = 16
	}
	s.slots = make([]slot, n)
	s.shift = 64
	for k := n; k > 1; k >>= 1 {
		s.shift--
	}
	m := n - 1
	for idx, ch := range s.list {
		i := s.home(ch.price)
		for s.slots[i].gen == s.gen {
			i = (i + 1) & m
		}
		s.slots[i] = slot{price: ch.price, idx: int32(idx), gen: s.gen}
	}
}
