package orderbook

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// Trade is one trade as the ticker sees it.
type Trade struct {
	// TS is the exchange time in microseconds since the Unix epoch.
	TS int64
	// Price is the price mantissa at the instrument's price scale.
	Price int64
	// Size is the size mantissa at the instrument's size scale; the caller
	// ensures it is > 0.
	Size int64
}

// Stats is a snapshot of a ticker. Decimal fields carry the exponent of the
// scale stated for each (so StringFixed at that scale is lossless and their
// Exponent is fixed), including when they are zero.
type Stats struct {
	// HasLast reports whether any trade was added.
	HasLast bool
	// Last and LastSize are the price and size of the most recently added
	// trade (by arrival), kept even when it falls out of the window.
	Last, LastSize int64
	// Count is the number of trades in the window. When it is 0, Open, High,
	// Low, VWAP, Change and ChangePct are zero and not meaningful.
	Count int64
	// Open is the price of the earliest trade in the window (smallest ts;
	// the first added among equal ts). High and Low are the extreme prices
	// in the window.
	Open, High, Low int64
	// Volume is the exact sum of trade sizes in the window, at the size
	// scale.
	Volume decimal.Decimal
	// QuoteVolume is the exact sum of price×size in the window, at scale
	// priceScale+sizeScale.
	QuoteVolume decimal.Decimal
	// VWAP is QuoteVolume/Volume rounded half-even to the price scale.
	VWAP decimal.Decimal
	// Change is Last-Open, exact at the price scale.
	Change decimal.Decimal
	// ChangePct is Change/Open×100 rounded half-even to 2 decimals, when
	// HasChangePct; zero otherwise.
	ChangePct decimal.Decimal
	// HasWindow reports whether any event time was seen (Add or Advance);
	// WindowStart is then the event time (µs) from which the statistics
	// are complete: the start of the window, or the first event time the
	// ticker saw when that is later (it was created inside the window, for
	// example by a server that started reading its input there).
	HasWindow   bool
	WindowStart int64
	// HasChangePct reports whether ChangePct is defined: there are trades
	// in the window and Open is not 0.
	HasChangePct bool
}

// Ticker maintains rolling 24 h statistics of one symbol's trades, driven
// by event time only (see the package documentation for the exact window).
// The zero value is not usable; use NewTicker. A Ticker is not safe for
// concurrent use.
type Ticker struct {
	priceScale, sizeScale int

	buckets ring
	hasTS   bool
	firstTS int64 // first event time seen
	maxTS   int64 // newest event time seen
	newest  int64 // minuteOf(maxTS)

	count      int64
	vol, quote int192
	high, low  int64
	hlDirty    bool // high/low must be recomputed from the buckets

	hasLast        bool
	last, lastSize int64
}

// NewTicker returns an empty ticker for an instrument whose prices and
// sizes have the given scales. It panics if a scale is outside 0..18.
func NewTicker(priceScale, sizeScale int) *Ticker {
	if priceScale < 0 || priceScale > 18 || sizeScale < 0 || sizeScale > 18 {
		panic(fmt.Sprintf("orderbook: ticker scales %d/%d out of range 0..18", priceScale, sizeScale))
	}
	return &Ticker{priceScale: priceScale, sizeScale: sizeScale}
}

// Add adds a trade: it advances the window to tr.TS if that is the newest
// event time seen, makes tr the last trade, and adds it to the window sums
// unless its minute is already before the window. Add does not allocate once
// the bucket ring has grown.
func (t *Ticker) Add(tr Trade) {
	t.Advance(tr.TS)
	t.hasLast, t.last, t.lastSize = true, tr.Price, tr.Size
	m := minuteOf(tr.TS)
	if m <= t.newest-WindowMinutes {
		return
	}
	q := wideMul(tr.Price, tr.Size)
	t.buckets.find(m).add(&tr, q)
	t.count++
	t.vol = t.vol.add(wideInt64(tr.Size))
	t.quote = t.quote.add(q)
	switch {
	case t.count == 1:
		t.high, t.low, t.hlDirty = tr.Price, tr.Price, false
	case !t.hlDirty:
		t.high = max(t.high, tr.Price)
		t.low = min(t.low, tr.Price)
	}
}

// Advance moves the window to end at event time ts (µs) and expires the
// buckets that fall out of it. Time never moves backwards: a ts not newer
// than the newest seen is ignored. Call it with the ts of any event of the
// symbol so that the window follows exchange time between trades.
func (t *Ticker) Advance(ts int64) {
	if t.hasTS && ts <= t.maxTS {
		return
	}
	seen := t.hasTS
	if !seen {
		t.firstTS = ts
	}
	t.hasTS, t.maxTS = true, ts
	m := minuteOf(ts)
	if seen && m == t.newest {
		return
	}
	t.newest = m
	first := m - WindowMinutes + 1
	for t.buckets.n > 0 {
		b := t.buckets.at(0)
		if b.minute >= first {
			break
		}
		t.count -= b.count
		t.vol = t.vol.sub(b.vol)
		t.quote = t.quote.sub(b.quote)
		if b.high == t.high || b.low == t.low {
			t.hlDirty = true
		}
		t.buckets.popFront()
	}
	if t.count == 0 {
		t.hlDirty = false
	}
}

// refreshHighLow recomputes high and low from the buckets.
func (t *Ticker) refreshHighLow() {
	for i := 0; i < t.buckets.n; i++ {
		b := t.buckets.at(i)
		if i == 0 {
			t.high, t.low = b.high, b.low
			continue
		}
		t.high = max(t.high, b.high)
		t.low = min(t.low, b.low)
	}
	t.hlDirty = false
}

// Stats returns the current statistics. It allocates (the decimals); call it
// at publication time, not per trade.
func (t *Ticker) Stats() Stats {
	ps, ss := int32(t.priceScale), int32(t.sizeScale)
	s := Stats{
		HasLast:     t.hasLast,
		Last:        t.last,
		LastSize:    t.lastSize,
		Count:       t.count,
		Volume:      decimal.New(0, -ss),
		QuoteVolume: decimal.New(0, -ps-ss),
		VWAP:        decimal.New(0, -ps),
		Change:      decimal.New(0, -ps),
		ChangePct:   decimal.New(0, -2),
		HasWindow:   t.hasTS,
	}
	if t.hasTS {
		s.WindowStart = max(t.firstTS, (t.newest-WindowMinutes+1)*MinuteMicros)
	}
	if t.count == 0 {
		return s
	}
	if t.hlDirty {
		t.refreshHighLow()
	}
	s.High, s.Low = t.high, t.low
	s.Open = t.buckets.at(0).open

	vol, quote := t.vol.big(), t.quote.big()
	s.Volume = decimal.NewFromBigInt(vol, -ss)
	s.QuoteVolume = decimal.NewFromBigInt(quote, -ps-ss)
	if vol.Sign() != 0 {
		s.VWAP = decimal.NewFromBigInt(divRoundEven(quote, vol), -ps)
	}
	change := new(big.Int).Sub(big.NewInt(t.last), big.NewInt(s.Open))
	s.Change = decimal.NewFromBigInt(change, -ps)
	if s.Open != 0 {
		num := new(big.Int).Mul(change, big.NewInt(10000))
		s.ChangePct = decimal.NewFromBigInt(divRoundEven(num, big.NewInt(s.Open)), -2)
		s.HasChangePct = true
	}
	return s
}

// divRoundEven returns n/d rounded to the nearest integer, ties to even.
func divRoundEven(n, d *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(n, d, new(big.Int)) // truncated toward zero
	if r.Sign() == 0 {
		return q
	}
	r2 := new(big.Int).Abs(r)
	r2.Lsh(r2, 1)
	c := r2.Cmp(new(big.Int).Abs(d))
	if c > 0 || (c == 0 && q.Bit(0) == 1) {
		if (n.Sign() < 0) != (d.Sign() < 0) {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}
