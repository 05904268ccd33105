package candle

// Candle is one candle: its start and the aggregate of its trades, prices
// and sizes as mantissas at the instrument's scales.
type Candle struct {
	// Start is the candle's first instant, µs since the Unix epoch, a
	// multiple of the series' period.
	Start int64
	// Open and Close are the prices of the first and last trade (in the
	// order applied); High and Low the extreme prices.
	Open, High, Low, Close int64
	// Volume is the sum of the sizes (scale: the size scale).
	Volume Int128
	// QuoteVolume is the sum of price × size (scale: price scale + size
	// scale).
	QuoteVolume Int128
	// Count is the number of trades.
	Count int64
}

// Series is the candles of one symbol at one period: the candle in
// progress and the last closed ones, at most keep of them.
type Series struct {
	period int64
	keep   int
	ring   []Candle // closed candles, a ring of at most keep
	head   int      // index of the oldest in ring when full
	closed uint64   // candles closed since the series began
	cur    Candle
	hasCur bool
	late   uint64
}

// NewSeries returns an empty series of candles of period µs that keeps
// the last keep closed candles (keep >= 1).
func NewSeries(period int64, keep int) *Series {
	return &Series{period: period, keep: max(keep, 1)}
}

// Period returns the series' period, µs.
func (s *Series) Period() int64 { return s.period }

// StartOf returns the start of the candle that holds event time ts.
func (s *Series) StartOf(ts int64) int64 {
	st := ts - ts%s.period
	if ts%s.period < 0 {
		st -= s.period
	}
	return st
}

// Advance closes the candle in progress when event time ts has reached
// its end. Call it with the time of every record of the symbol.
func (s *Series) Advance(ts int64) {
	if s.hasCur && ts >= s.cur.Start+s.period {
		s.closeCurrent()
	}
}

func (s *Series) closeCurrent() {
	if len(s.ring) < s.keep {
		s.ring = append(s.ring, s.cur)
	} else {
		s.ring[s.head] = s.cur
		s.head = (s.head + 1) % len(s.ring)
	}
	s.closed++
	s.hasCur = false
}

// Add adds a trade at event time ts of price and size (> 0) and reports
// whether it was added: a trade older than the candle in progress is
// late and left out (Late counts it). A trade at or after the end of the
// candle in progress closes it and starts the next.
func (s *Series) Add(ts, price, size int64) bool {
	s.Advance(ts)
	start := s.StartOf(ts)
	switch {
	case s.hasCur && start < s.cur.Start,
		!s.hasCur && s.closed > 0 && start <= s.lastClosed().Start:
		s.late++
		return false
	case !s.hasCur:
		s.cur = Candle{Start: start, Open: price, High: price, Low: price}
		s.hasCur = true
	}
	c := &s.cur
	c.High, c.Low, c.Close = max(c.High, price), min(c.Low, price), price
	c.Volume = c.Volume.Add(Int128Of(size))
	c.QuoteVolume = c.QuoteVolume.Add(Mul(price, size))
	c.Count++
	return true
}

func (s *Series) lastClosed() *Candle {
	i := len(s.ring) - 1
	if len(s.ring) == s.keep {
		i = (s.head + len(s.ring) - 1) % len(s.ring)
	}
	return &s.ring[i]
}

// Current returns the candle in progress; false when there is none (no
// trade since the last candle closed).
func (s *Series) Current() (Candle, bool) { return s.cur, s.hasCur }

// Closed returns how many candles closed since the series began; the
// candles closed after the first n of them are ClosedSince(n, ...).
func (s *Series) Closed() uint64 { return s.closed }

// Late returns how many trades were left out for being older than the
// candle in progress.
func (s *Series) Late() uint64 { return s.late }

// ClosedSince appends to dst, oldest first, the closed candles after the
// first n closed ones, as many as the series still keeps, and returns
// dst. ClosedSince(0, dst) gives every closed candle kept.
func (s *Series) ClosedSince(n uint64, dst []Candle) []Candle {
	if n >= s.closed {
		return dst
	}
	k := min(s.closed-n, uint64(len(s.ring)))
	for i := uint64(len(s.ring)) - k; i < uint64(len(s.ring)); i++ {
		dst = append(dst, s.ring[(uint64(s.head)+i)%uint64(len(s.ring))])
	}
	return dst
}
