package sim

import (
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/schemas"
)

// encoder writes the records of the Kafka input format with
// schemas.AppendRecord: it formats the simulator's fixed-point values into
// its own text buffer and points a schemas.Record at them. Its buffers are
// reused, so a warm encoder does not allocate. Not safe for concurrent use.
type encoder struct {
	rec   schemas.Record
	text  []byte // the strings of rec
	spans []span // where each string of rec lies in text
}

// span is the position of one string in the encoder's text.
type span struct{ start, end int }

// reset starts a record of type typ.
func (e *encoder) reset(typ schemas.RecordType, symbol string, ts int64) {
	e.rec.Reset()
	e.rec.Type, e.rec.TS = typ, ts
	e.text, e.spans = e.text[:0], e.spans[:0]
	e.str(symbol)
}

// str adds s to the text.
func (e *encoder) str(s string) {
	start := len(e.text)
	e.text = append(e.text, s...)
	e.spans = append(e.spans, span{start, len(e.text)})
}

// decimal adds v at scale to the text.
func (e *encoder) decimal(v int64, scale int) {
	start := len(e.text)
	e.text = fixedpoint.Append(e.text, v, scale)
	e.spans = append(e.spans, span{start, len(e.text)})
}

// get returns the i-th string added since reset; valid once the text is
// complete (adding more may move it).
func (e *encoder) get(i int) []byte {
	s := e.spans[i]
	return e.text[s.start:s.end:s.end]
}

// finish points the record's symbol at the text and appends the record.
func (e *encoder) finish(dst []byte) []byte {
	e.rec.Symbol = e.get(0)
	return schemas.AppendRecord(dst, &e.rec)
}

func (e *encoder) appendInstrument(dst []byte, in *instrument, ts int64) []byte {
	e.reset(schemas.RecordInstrument, in.symbol, ts)
	e.str(in.base)
	e.str(in.quote)
	e.decimal(in.tick, in.priceScale)
	e.decimal(in.lot, in.sizeScale)
	e.str("trading")
	r := &e.rec
	r.PriceScale, r.SizeScale = in.priceScale, in.sizeScale
	r.Base, r.Quote, r.TickSize, r.LotSize, r.Status = e.get(1), e.get(2), e.get(3), e.get(4), e.get(5)
	return e.finish(dst)
}

// book starts a snapshot or delta at seq of epoch.
func (e *encoder) book(typ schemas.RecordType, s *symbol, epoch uint64, ts int64) {
	e.reset(typ, s.in.symbol, ts)
	e.rec.Seq, e.rec.Epoch = uint64(s.seq), epoch
}

// pair adds one level and returns its index among the strings.
func (e *encoder) pair(price, size int64, in *instrument) int {
	i := len(e.spans)
	e.decimal(price, in.priceScale)
	e.decimal(size, in.sizeScale)
	return i
}

// level returns the level whose strings start at index i.
func (e *encoder) level(i int) schemas.Level {
	return schemas.Level{Price: e.get(i), Size: e.get(i + 1)}
}

// appendSnapshot writes the full book, best levels first.
func (e *encoder) appendSnapshot(dst []byte, s *symbol, epoch uint64, ts int64) []byte {
	e.book(schemas.RecordSnapshot, s, epoch, ts)
	for _, l := range s.bids.levels {
		e.pair(l.price, l.size, &s.in)
	}
	for _, l := range s.asks.levels {
		e.pair(l.price, l.size, &s.in)
	}
	i := 1
	for range s.bids.levels {
		e.rec.Bids = append(e.rec.Bids, e.level(i))
		i += 2
	}
	for range s.asks.levels {
		e.rec.Asks = append(e.rec.Asks, e.level(i))
		i += 2
	}
	return e.finish(dst)
}

// appendDelta writes a delta carrying changes at s.seq.
func (e *encoder) appendDelta(dst []byte, s *symbol, changes []change, epoch uint64, ts int64) []byte {
	e.book(schemas.RecordDelta, s, epoch, ts)
	for _, c := range changes {
		e.pair(c.price, c.size, &s.in)
	}
	for k, c := range changes {
		if c.bid {
			e.rec.Bids = append(e.rec.Bids, e.level(1+2*k))
		} else {
			e.rec.Asks = append(e.rec.Asks, e.level(1+2*k))
		}
	}
	return e.finish(dst)
}

// appendTrade writes a trade; buy is the aggressor side.
func (e *encoder) appendTrade(dst []byte, s *symbol, id, price, size int64, buy bool, ts int64) []byte {
	e.reset(schemas.RecordTrade, s.in.symbol, ts)
	start := len(e.text)
	e.text = strconv.AppendInt(e.text, id, 10)
	e.spans = append(e.spans, span{start, len(e.text)})
	e.decimal(price, s.in.priceScale)
	e.decimal(size, s.in.sizeScale)
	r := &e.rec
	r.TradeID, r.Price, r.Size = e.get(1), e.get(2), e.get(3)
	r.Side = schemas.SideSell
	if buy {
		r.Side = schemas.SideBuy
	}
	return e.finish(dst)
}
