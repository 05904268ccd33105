package oracle

import (
	"sort"

	"github.com/shopspring/decimal"
)

// CandleTrade is a trade as the exchange wrote it: its time (µs) and its
// price and size as decimal strings.
type CandleTrade struct {
	TS          int64
	Price, Size string
}

// RefCandle is a candle as the protocol writes it: decimal strings at the
// instrument's scales (quote volume at price scale + size scale).
type RefCandle struct {
	Start                                       int64
	Open, High, Low, Close, Volume, QuoteVolume string
	Count                                       int64
}

// Candles computes the candles of period µs of trades (in the order
// applied) from scratch: a trade at ts belongs to the candle that starts
// at floor(ts / period) × period; a period without trades has no candle.
// The candles come sorted by start.
func Candles(trades []CandleTrade, period int64, priceScale, sizeScale int) []RefCandle {
	type acc struct {
		start                  int64
		open, high, low, close decimal.Decimal
		vol, quote             decimal.Decimal
		n                      int64
	}
	by := map[int64]*acc{}
	for _, tr := range trades {
		start := tr.TS / period * period
		if tr.TS%period < 0 {
			start -= period
		}
		p, s := decimal.RequireFromString(tr.Price), decimal.RequireFromString(tr.Size)
		a := by[start]
		if a == nil {
			a = &acc{start: start, open: p, high: p, low: p}
			by[start] = a
		}
		if p.GreaterThan(a.high) {
			a.high = p
		}
		if p.LessThan(a.low) {
			a.low = p
		}
		a.close = p
		a.vol = a.vol.Add(s)
		a.quote = a.quote.Add(p.Mul(s))
		a.n++
	}
	out := make([]RefCandle, 0, len(by))
	for _, a := range by {
		ps, ss := int32(priceScale), int32(sizeScale)
		out = append(out, RefCandle{Start: a.start, Open: a.open.StringFixed(ps), High: a.high.StringFixed(ps),
			Low: a.low.StringFixed(ps), Close: a.close.StringFixed(ps), Volume: a.vol.StringFixed(ss),
			QuoteVolume: a.quote.StringFixed(ps + ss), Count: a.n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
