package orderbook

// MinuteMicros is the width of a ticker bucket in microseconds.
const MinuteMicros int64 = 60_000_000

// WindowMinutes is the number of one-minute buckets in the ticker window.
const WindowMinutes = 1440

// minuteOf returns floor(ts / MinuteMicros), correct for negative ts.
func minuteOf(ts int64) int64 {
	m := ts / MinuteMicros
	if ts%MinuteMicros < 0 {
		m--
	}
	return m
}

// bucket aggregates the trades of one minute.
type bucket struct {
	minute       int64
	count        int64
	openTS, open int64 // earliest trade by ts (first arrival among equal ts)
	high, low    int64
	vol, quote   int192
}

func (b *bucket) add(tr *Trade, quote int192) {
	if b.count == 0 {
		b.openTS, b.open, b.high, b.low = tr.TS, tr.Price, tr.Price, tr.Price
	} else {
		if tr.TS < b.openTS {
			b.openTS, b.open = tr.TS, tr.Price
		}
		b.high = max(b.high, tr.Price)
		b.low = min(b.low, tr.Price)
	}
	b.count++
	b.vol = b.vol.add(wideInt64(tr.Size))
	b.quote = b.quote.add(quote)
}

// ring is a deque of non-empty buckets sorted by minute, oldest at head.
// It never holds more than WindowMinutes buckets, so its capacity stops
// growing there and steady-state use does not allocate.
type ring struct {
	buf     []bucket
	head, n int
}

// at returns the bucket at logical position i (0 = oldest).
func (r *ring) at(i int) *bucket {
	j := r.head + i
	if j >= len(r.buf) {
		j -= len(r.buf)
	}
	return &r.buf[j]
}

func (r *ring) grow() {
	c := min(max(16, 2*len(r.buf)), WindowMinutes)
	if c <= r.n {
		c = r.n + 1 // unreachable while the window invariant holds
	}
	nb := make([]bucket, c)
	for i := 0; i < r.n; i++ {
		nb[i] = *r.at(i)
	}
	r.buf, r.head = nb, 0
}

// popFront removes the oldest bucket.
func (r *ring) popFront() {
	r.head++
	if r.head == len(r.buf) {
		r.head = 0
	}
	r.n--
}

// insert inserts an empty bucket for minute at logical position pos and
// returns it.
func (r *ring) insert(pos int, minute int64) *bucket {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.n++
	for i := r.n - 1; i > pos; i-- {
		*r.at(i) = *r.at(i - 1)
	}
	b := r.at(pos)
	*b = bucket{minute: minute}
	return b
}

// find returns the bucket for minute, creating it in order if needed.
func (r *ring) find(minute int64) *bucket {
	if r.n > 0 {
		if last := r.at(r.n - 1); last.minute == minute {
			return last
		} else if last.minute < minute {
			return r.insert(r.n, minute)
		}
	}
	lo, hi := 0, r.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if r.at(m).minute < minute {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < r.n && r.at(lo).minute == minute {
		return r.at(lo)
	}
	return r.insert(lo, minute)
}
