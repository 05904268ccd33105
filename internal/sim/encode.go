package sim

import (
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// Record types of the Kafka input format.
const (
	typeInstrument = "instrument"
	typeSnapshot   = "snapshot"
	typeDelta      = "delta"
	typeTrade      = "trade"
)

// Symbols only contain characters that need no JSON escaping (checked by
// the tests), so names are written verbatim.

func appendHeader(dst []byte, typ, symbol string, ts int64) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","symbol":"`...)
	dst = append(dst, symbol...)
	dst = append(dst, `","ts":`...)
	return strconv.AppendInt(dst, ts, 10)
}

func appendDecimal(dst []byte, v int64, scale int) []byte {
	dst = append(dst, '"')
	dst = fixedpoint.Append(dst, v, scale)
	return append(dst, '"')
}

func appendPair(dst []byte, price, size int64, in *instrument) []byte {
	dst = append(dst, '[')
	dst = appendDecimal(dst, price, in.priceScale)
	dst = append(dst, ',')
	dst = appendDecimal(dst, size, in.sizeScale)
	return append(dst, ']')
}

func appendInstrument(dst []byte, in *instrument, ts int64) []byte {
	dst = appendHeader(dst, typeInstrument, in.symbol, ts)
	dst = append(dst, `,"base":"`...)
	dst = append(dst, in.base...)
	dst = append(dst, `","quote":"`...)
	dst = append(dst, in.quote...)
	dst = append(dst, `","price_scale":`...)
	dst = strconv.AppendInt(dst, int64(in.priceScale), 10)
	dst = append(dst, `,"size_scale":`...)
	dst = strconv.AppendInt(dst, int64(in.sizeScale), 10)
	dst = append(dst, `,"tick_size":`...)
	dst = appendDecimal(dst, in.tick, in.priceScale)
	dst = append(dst, `,"lot_size":`...)
	dst = appendDecimal(dst, in.lot, in.sizeScale)
	return append(dst, `,"status":"trading"}`...)
}

func appendLevels(dst []byte, levels []level, in *instrument) []byte {
	dst = append(dst, '[')
	for i, l := range levels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPair(dst, l.price, l.size, in)
	}
	return append(dst, ']')
}

// appendEpoch writes the epoch field, unless epoch is 0.
func appendEpoch(dst []byte, epoch uint64) []byte {
	if epoch == 0 {
		return dst
	}
	dst = append(dst, `,"epoch":`...)
	return strconv.AppendUint(dst, epoch, 10)
}

// appendSnapshot writes the full book, best levels first.
func appendSnapshot(dst []byte, s *symbol, epoch uint64, ts int64) []byte {
	dst = appendHeader(dst, typeSnapshot, s.in.symbol, ts)
	dst = appendEpoch(dst, epoch)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, s.seq, 10)
	dst = append(dst, `,"bids":`...)
	dst = appendLevels(dst, s.bids.levels, &s.in)
	dst = append(dst, `,"asks":`...)
	dst = appendLevels(dst, s.asks.levels, &s.in)
	return append(dst, '}')
}

// appendChanges writes the changes of one side as a JSON array.
func appendChanges(dst []byte, changes []change, bid bool, in *instrument) []byte {
	dst = append(dst, '[')
	first := true
	for _, c := range changes {
		if c.bid != bid {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendPair(dst, c.price, c.size, in)
	}
	return append(dst, ']')
}

// appendDelta writes a delta carrying changes at s.seq.
func appendDelta(dst []byte, s *symbol, changes []change, epoch uint64, ts int64) []byte {
	dst = appendHeader(dst, typeDelta, s.in.symbol, ts)
	dst = appendEpoch(dst, epoch)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendInt(dst, s.seq, 10)
	dst = append(dst, `,"bids":`...)
	dst = appendChanges(dst, changes, true, &s.in)
	dst = append(dst, `,"asks":`...)
	dst = appendChanges(dst, changes, false, &s.in)
	return append(dst, '}')
}

// appendTrade writes a trade; buy is the aggressor side.
func appendTrade(dst []byte, s *symbol, id, price, size int64, buy bool, ts int64) []byte {
	dst = appendHeader(dst, typeTrade, s.in.symbol, ts)
	dst = append(dst, `,"trade_id":"`...)
	dst = strconv.AppendInt(dst, id, 10)
	dst = append(dst, `","price":`...)
	dst = appendDecimal(dst, price, s.in.priceScale)
	dst = append(dst, `,"size":`...)
	dst = appendDecimal(dst, size, s.in.sizeScale)
	if buy {
		return append(dst, `,"side":"buy"}`...)
	}
	return append(dst, `,"side":"sell"}`...)
}
