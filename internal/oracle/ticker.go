package oracle

import "github.com/shopspring/decimal"

// Window definition shared with the production ticker: a trade at ts (µs)
// belongs to minute floor(ts / 60 s); the window at time now holds the
// minute of now and the 1439 minutes before it.
const (
	minute  = 60_000_000
	minutes = 1440
)

func floorMinute(ts int64) int64 {
	m := ts / minute
	if ts%minute < 0 {
		m--
	}
	return m
}

type trade struct {
	ts, price, size int64
}

// Ticker keeps every trade of a symbol and computes rolling 24 h statistics
// from the full list on demand.
type Ticker struct {
	// PriceScale and SizeScale are the instrument's scales.
	PriceScale, SizeScale int

	trades []trade
}

// Add records a trade at ts (µs) with price and size mantissas.
func (t *Ticker) Add(ts, price, size int64) {
	t.trades = append(t.trades, trade{ts, price, size})
}

// RefStats has the same fields, with the same meaning and decimal
// exponents, as the production ticker's statistics.
type RefStats struct {
	// HasLast reports whether any trade was added.
	HasLast bool
	// Last and LastSize describe the last trade added, in or out of the
	// window.
	Last, LastSize int64
	// Count is the number of trades in the window.
	Count int64
	// Open is the price of the window's trade with the smallest ts (first
	// added among equal ts); High and Low are its extreme prices.
	Open, High, Low int64
	// Volume is the sum of sizes, exponent -SizeScale.
	Volume decimal.Decimal
	// QuoteVolume is the sum of price×size, exponent -(PriceScale+SizeScale).
	QuoteVolume decimal.Decimal
	// VWAP is QuoteVolume/Volume rounded half-even, exponent -PriceScale.
	VWAP decimal.Decimal
	// Change is Last-Open, exponent -PriceScale.
	Change decimal.Decimal
	// ChangePct is Change/Open×100 rounded half-even, exponent -2; zero if
	// Open is 0.
	ChangePct decimal.Decimal
}

// Stats computes the statistics of the window ending at event time now (µs):
// Last is the last trade added; the window fields cover the trades whose
// minute lies in the window. Open is the trade with the smallest ts (the
// first added among equal ts). When no trade is in the window every window
// field is zero.
func (t *Ticker) Stats(now int64) RefStats {
	ps, ss := int32(t.PriceScale), int32(t.SizeScale)
	r := RefStats{
		Volume:      decimal.New(0, -ss),
		QuoteVolume: decimal.New(0, -ps-ss),
		VWAP:        decimal.New(0, -ps),
		Change:      decimal.New(0, -ps),
		ChangePct:   decimal.New(0, -2),
	}
	if len(t.trades) > 0 {
		l := t.trades[len(t.trades)-1]
		r.HasLast, r.Last, r.LastSize = true, l.price, l.size
	}
	hi := floorMinute(now)
	lo := hi - minutes + 1
	var openTS int64
	for _, tr := range t.trades {
		m := floorMinute(tr.ts)
		if m < lo || m > hi {
			continue
		}
		p := decimal.New(tr.price, -ps)
		s := decimal.New(tr.size, -ss)
		r.Volume = r.Volume.Add(s)
		r.QuoteVolume = r.QuoteVolume.Add(p.Mul(s))
		if r.Count == 0 || tr.ts < openTS {
			openTS, r.Open = tr.ts, tr.price
		}
		if r.Count == 0 || tr.price > r.High {
			r.High = tr.price
		}
		if r.Count == 0 || tr.price < r.Low {
			r.Low = tr.price
		}
		r.Count++
	}
	if r.Count == 0 {
		return r
	}
	if !r.Volume.IsZero() {
		r.VWAP = roundHalfEven(r.QuoteVolume, r.Volume, ps)
	}
	open := decimal.New(r.Open, -ps)
	r.Change = decimal.New(r.Last, -ps).Sub(open)
	if !open.IsZero() {
		r.ChangePct = roundHalfEven(r.Change.Mul(decimal.NewFromInt(100)), open, 2)
	}
	return r
}

// roundHalfEven returns n/d rounded half to even at places decimals, with
// exponent -places, computed exactly with QuoRem.
func roundHalfEven(n, d decimal.Decimal, places int32) decimal.Decimal {
	q, rem := n.QuoRem(d, places) // n = d*q + rem, q truncated toward zero
	q = decimal.New(0, -places).Add(q)
	if rem.IsZero() {
		return q
	}
	unit := decimal.New(1, -places)
	// |rem| compared with half a unit of |d|: 2|rem| vs |d|*unit.
	c := rem.Abs().Mul(decimal.NewFromInt(2)).Cmp(d.Abs().Mul(unit))
	odd := !q.Shift(places).Mod(decimal.NewFromInt(2)).IsZero()
	if c > 0 || (c == 0 && odd) {
		if n.Sign()*d.Sign() < 0 {
			return q.Sub(unit)
		}
		return q.Add(unit)
	}
	return q
}
