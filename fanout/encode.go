package fanout

import (
	"strconv"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Hand-written encoders for the market-data messages. Each builds one
// complete frame that is then shared by every subscriber of the stream.
// The JSON they write is specified in schemas/websocket.md; encode_test.go
// checks it decodes into schemas.ServerMessage.

// scales are the decimal scales of one instrument.
type scales struct {
	price, size int
}

func appendLevels(b []byte, lv []orderbook.Level, sc scales) []byte {
	b = append(b, '[')
	for i, l := range lv {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[', '"')
		b = fixedpoint.Append(b, l.Price, sc.price)
		b = append(b, '"', ',', '"')
		b = fixedpoint.Append(b, l.Size, sc.size)
		b = append(b, '"', ']')
	}
	return append(b, ']')
}

// encodeSnapshot builds a book snapshot frame; checksum is that of the
// whole view (viewChecksum).
func encodeSnapshot(channel string, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc scales) []byte {
	return encodeBook(`{"type":"snapshot","channel":"`, channel, 0, seq, epoch, ts, checksum, bids, asks, sc)
}

// encodeUpdate builds a book update frame covering firstSeq..seq;
// checksum is that of the whole view after it (viewChecksum).
func encodeUpdate(channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc scales) []byte {
	return encodeBook(`{"type":"update","channel":"`, channel, firstSeq, seq, epoch, ts, checksum, bids, asks, sc)
}

// encodeBook builds a book message frame starting with head; first_seq is
// written when firstSeq is not zero (updates only: sequences start at 1).
func encodeBook(head, channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc scales) []byte {
	var f frameBuilder
	f.begin(112 + 40*(len(bids)+len(asks)))
	b := append(f.b, head...)
	b = append(b, channel...)
	b = append(b, '"')
	if firstSeq != 0 {
		b = append(b, `,"first_seq":`...)
		b = strconv.AppendUint(b, firstSeq, 10)
	}
	b = append(b, `,"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"epoch":`...)
	b = strconv.AppendUint(b, epoch, 10)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, `,"checksum":`...)
	b = strconv.AppendUint(b, uint64(checksum), 10)
	b = append(b, `,"bids":`...)
	b = appendLevels(b, bids, sc)
	b = append(b, `,"asks":`...)
	b = appendLevels(b, asks, sc)
	b = append(b, '}')
	f.b = b
	return f.finish(ws.OpText)
}

// tradeEntry is one trade waiting to be sent.
type tradeEntry struct {
	id          string
	ts          int64
	price, size int64
	side        schemas.Side
}

// encodeTrades builds a trades frame with one or more trades, oldest first.
func encodeTrades(channel string, trades []tradeEntry, sc scales) []byte {
	var f frameBuilder
	f.begin(48 + 96*len(trades))
	b := append(f.b, `{"type":"trades","channel":"`...)
	b = append(b, channel...)
	b = append(b, `","trades":[`...)
	for i, t := range trades {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendJSONString(b, t.id)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, t.ts, 10)
		b = append(b, `,"price":"`...)
		b = fixedpoint.Append(b, t.price, sc.price)
		b = append(b, `","size":"`...)
		b = fixedpoint.Append(b, t.size, sc.size)
		b = append(b, `","side":"`...)
		b = append(b, t.side.String()...)
		b = append(b, `"}`...)
	}
	b = append(b, ']', '}')
	f.b = b
	return f.finish(ws.OpText)
}

// encodeTicker builds a ticker frame from the book's best levels and the
// ticker statistics. Fields without a value are left out. A book that is
// not served is passed as nil, with its status and reason (stale only).
func encodeTicker(channel string, ts int64, book *orderbook.Book, st *orderbook.Stats, sc scales, status, reason string) []byte {
	var f frameBuilder
	f.begin(400)
	b := append(f.b, `{"type":"ticker","channel":"`...)
	b = append(b, channel...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, ts, 10)
	field := func(b []byte, name string, v int64, scale int) []byte {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':', '"')
		b = fixedpoint.Append(b, v, scale)
		return append(b, '"')
	}
	dec := func(b []byte, name string, v string) []byte {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':', '"')
		b = append(b, v...)
		return append(b, '"')
	}
	if book != nil {
		if l, ok := book.Best(orderbook.Bid); ok {
			b = field(b, "bid", l.Price, sc.price)
			b = field(b, "bid_size", l.Size, sc.size)
		}
		if l, ok := book.Best(orderbook.Ask); ok {
			b = field(b, "ask", l.Price, sc.price)
			b = field(b, "ask_size", l.Size, sc.size)
		}
	}
	if st.HasLast {
		b = field(b, "last", st.Last, sc.price)
		b = field(b, "last_size", st.LastSize, sc.size)
	}
	if st.Count > 0 {
		b = field(b, "open", st.Open, sc.price)
		b = field(b, "high", st.High, sc.price)
		b = field(b, "low", st.Low, sc.price)
		b = dec(b, "volume", st.Volume.StringFixed(int32(sc.size)))
		b = dec(b, "quote_volume", st.QuoteVolume.StringFixed(int32(sc.price+sc.size)))
		b = dec(b, "vwap", st.VWAP.StringFixed(int32(sc.price)))
		b = dec(b, "change", st.Change.StringFixed(int32(sc.price)))
		if st.HasChangePct {
			b = dec(b, "change_pct", st.ChangePct.StringFixed(2))
		}
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, st.Count, 10)
	}
	if st.HasWindow {
		b = append(b, `,"window_start":`...)
		b = strconv.AppendInt(b, st.WindowStart, 10)
	}
	if status != "" {
		b = dec(b, "status", status)
		if reason != "" {
			b = dec(b, "reason", reason)
		}
	}
	b = append(b, '}')
	f.b = b
	return f.finish(ws.OpText)
}
