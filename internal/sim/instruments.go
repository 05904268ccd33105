package sim

import (
	"fmt"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// spec is a human-readable instrument template; decimals are strings so the
// table is exact.
type spec struct {
	symbol, base, quote   string
	priceScale, sizeScale int
	price, tick, lot      string // reference price, tick size, lot size
	minSize, maxSize      string // range of generated level sizes
	weight                int    // relative event frequency
}

// builtin lists the first symbols with realistic names, prices and scales.
var builtin = []spec{
	{"BTC-USD", "BTC", "USD", 2, 8, "64000.00", "0.01", "0.00000001", "0.0001", "2.5", 4},
	{"ETH-USD", "ETH", "USD", 2, 6, "3400.00", "0.01", "0.000001", "0.001", "40", 4},
	{"SOL-USD", "SOL", "USD", 3, 4, "150.000", "0.001", "0.01", "0.1", "500", 3},
	{"DOGE-USD", "DOGE", "USD", 6, 0, "0.160000", "0.000001", "1", "10", "250000", 2},
	{"XRP-USD", "XRP", "USD", 4, 1, "0.5200", "0.0001", "0.1", "1", "50000", 2},
	{"ADA-USD", "ADA", "USD", 4, 1, "0.4500", "0.0001", "0.1", "1", "40000", 1},
	{"AVAX-USD", "AVAX", "USD", 3, 3, "35.000", "0.001", "0.001", "0.1", "800", 1},
	{"LINK-USD", "LINK", "USD", 3, 2, "18.000", "0.001", "0.01", "0.5", "2000", 1},
	{"LTC-USD", "LTC", "USD", 2, 6, "85.00", "0.01", "0.000001", "0.01", "300", 1},
	{"DOT-USD", "DOT", "USD", 4, 2, "7.0000", "0.0001", "0.01", "1", "5000", 1},
	{"EUR-USD", "EUR", "USD", 5, 2, "1.08500", "0.00001", "1000.00", "1000", "5000000", 3},
	{"GBP-USD", "GBP", "USD", 5, 2, "1.27000", "0.00001", "1000.00", "1000", "3000000", 2},
	{"USD-JPY", "USD", "JPY", 3, 2, "151.500", "0.001", "1000.00", "1000", "5000000", 2},
	{"AUD-USD", "AUD", "USD", 5, 2, "0.66000", "0.00001", "1000.00", "1000", "2000000", 1},
	{"AAPL", "AAPL", "USD", 2, 0, "190.00", "0.01", "1", "1", "2000", 2},
	{"MSFT", "MSFT", "USD", 2, 0, "420.00", "0.01", "1", "1", "1500", 2},
	{"NVDA", "NVDA", "USD", 2, 0, "120.00", "0.01", "1", "1", "5000", 2},
	{"TSLA", "TSLA", "USD", 2, 0, "250.00", "0.01", "1", "1", "3000", 1},
	{"AMZN", "AMZN", "USD", 2, 0, "180.00", "0.01", "1", "1", "2000", 1},
	{"GOOGL", "GOOGL", "USD", 2, 0, "170.00", "0.01", "1", "1", "2000", 1},
}

// generated returns the template of symbol number n (1-based) beyond the
// built-in list: SYM021-USD, SYM022-USD, ... with scales and prices derived
// from n.
func generated(n int) spec {
	ps, ss := 2+n%3, n%4
	whole := 5 + (n*37)%495
	name := fmt.Sprintf("SYM%03d", n)
	return spec{
		symbol: name + "-USD", base: name, quote: "USD",
		priceScale: ps, sizeScale: ss,
		price:   fixedpoint.Format(int64(whole)*fixedpoint.Pow10(ps), ps),
		tick:    fixedpoint.Format(1, ps),
		lot:     fixedpoint.Format(1, ss),
		minSize: "1", maxSize: "5000",
		weight: 1,
	}
}

// instrument is a parsed spec: all prices in units of 10^-priceScale, sizes
// in units of 10^-sizeScale.
type instrument struct {
	symbol, base, quote   string
	priceScale, sizeScale int
	ref, tick             int64 // reference price and tick, price units
	lot                   int64 // size units
	minLots, maxLots      int64 // range of generated level sizes, in lots
	weight                int
}

func mustParse(s string, scale int) int64 {
	v, err := fixedpoint.Parse(s, scale)
	if err != nil {
		panic(fmt.Sprintf("sim: instrument table: %q at scale %d: %v", s, scale, err))
	}
	return v
}

func (s spec) instrument() instrument {
	in := instrument{
		symbol: s.symbol, base: s.base, quote: s.quote,
		priceScale: s.priceScale, sizeScale: s.sizeScale,
		ref:    mustParse(s.price, s.priceScale),
		tick:   mustParse(s.tick, s.priceScale),
		lot:    mustParse(s.lot, s.sizeScale),
		weight: s.weight,
	}
	in.ref -= in.ref % in.tick
	in.minLots = max(1, mustParse(s.minSize, s.sizeScale)/in.lot)
	in.maxLots = max(in.minLots, mustParse(s.maxSize, s.sizeScale)/in.lot)
	return in
}

// instruments returns the first n instruments.
func instruments(n int) []instrument {
	out := make([]instrument, n)
	for i := range out {
		if i < len(builtin) {
			out[i] = builtin[i].instrument()
		} else {
			out[i] = generated(i + 1).instrument()
		}
	}
	return out
}
