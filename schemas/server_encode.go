package schemas

import (
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
)

// Encoders of the market-data server messages (websocket.md, section 5),
// written straight from the server's fixed-point book, trades and ticker.
// Each appends one complete JSON message to a caller's buffer and does not
// allocate when the buffer has room (AppendTicker excepted: see there).
// Decoding the output into a ServerMessage gives back the values; the
// tests check that, and the output against the JSON Schema.
//
// Channel names are written verbatim: a name that ParseChannel accepts
// needs no escaping.

// Scales are the decimal scales of one instrument: the numbers of
// fractional digits (0..fixedpoint.MaxScale) of its prices and sizes.
// Every decimal of a message is written with exactly its scale's digits.
type Scales struct {
	Price, Size int
}

// AppendDecimal appends v at scale as a quoted JSON decimal string with
// exactly scale fractional digits ("64123.10" for 6412310 at scale 2).
func AppendDecimal(dst []byte, v int64, scale int) []byte {
	dst = append(dst, '"')
	dst = fixedpoint.Append(dst, v, scale)
	return append(dst, '"')
}

// AppendLevels appends levels as a JSON array of ["price","size"] decimal
// strings at the scales of sc, in the order given.
func AppendLevels(dst []byte, levels []orderbook.Level, sc Scales) []byte {
	dst = append(dst, '[')
	for i, l := range levels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[', '"')
		dst = fixedpoint.Append(dst, l.Price, sc.Price)
		dst = append(dst, '"', ',', '"')
		dst = fixedpoint.Append(dst, l.Size, sc.Size)
		dst = append(dst, '"', ']')
	}
	return append(dst, ']')
}

// BookMessageSize is an estimate of the encoded size of a snapshot or
// update message with n levels in all, for sizing buffers.
func BookMessageSize(n int) int { return 112 + 40*n }

// AppendSnapshot appends a snapshot message of channel: the view's levels
// best first, at seq of epoch, exchange time ts (µs), and the checksum of
// the whole view (ViewChecksum).
func AppendSnapshot(dst []byte, channel string, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	return appendBook(dst, `{"type":"snapshot","channel":"`, channel, 0, seq, epoch, ts, checksum, bids, asks, sc)
}

// AppendUpdate appends an update message of channel covering the events
// firstSeq..seq (firstSeq >= 1) of epoch: the levels that changed (size 0
// deletes), exchange time ts (µs) of the last event, and the checksum of
// the whole view after it.
func AppendUpdate(dst []byte, channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	return appendBook(dst, `{"type":"update","channel":"`, channel, firstSeq, seq, epoch, ts, checksum, bids, asks, sc)
}

// appendBook appends a book message starting with head; first_seq is
// written when firstSeq is not zero (updates only: sequences start at 1).
func appendBook(dst []byte, head, channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	dst = append(dst, head...)
	dst = append(dst, channel...)
	dst = append(dst, '"')
	if firstSeq != 0 {
		dst = append(dst, `,"first_seq":`...)
		dst = strconv.AppendUint(dst, firstSeq, 10)
	}
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"epoch":`...)
	dst = strconv.AppendUint(dst, epoch, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"checksum":`...)
	dst = strconv.AppendUint(dst, uint64(checksum), 10)
	dst = append(dst, `,"bids":`...)
	dst = AppendLevels(dst, bids, sc)
	dst = append(dst, `,"asks":`...)
	dst = AppendLevels(dst, asks, sc)
	return append(dst, '}')
}

// Trade is one trade of a trades message, price and size in fixed point
// at the instrument's scales.
type Trade struct {
	// ID is the exchange's trade identifier (escaped on output).
	ID string
	// TS is the exchange time of the trade, µs since the Unix epoch.
	TS int64
	// Price and Size are the mantissas of the trade's price and size.
	Price, Size int64
	// Side is the aggressor side.
	Side Side
}

// TradesMessageSize is an estimate of the encoded size of a trades
// message with n trades, for sizing buffers.
func TradesMessageSize(n int) int { return 48 + 96*n }

// AppendTrades appends a trades message of channel with trades, oldest
// first.
func AppendTrades(dst []byte, channel string, trades []Trade, sc Scales) []byte {
	dst = append(dst, `{"type":"trades","channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","trades":[`...)
	for i := range trades {
		t := &trades[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"id":`...)
		dst = appendJSONString(dst, t.ID)
		dst = append(dst, `,"ts":`...)
		dst = strconv.AppendInt(dst, t.TS, 10)
		dst = append(dst, `,"price":"`...)
		dst = fixedpoint.Append(dst, t.Price, sc.Price)
		dst = append(dst, `","size":"`...)
		dst = fixedpoint.Append(dst, t.Size, sc.Size)
		dst = append(dst, `","side":"`...)
		dst = append(dst, t.Side.String()...)
		dst = append(dst, `"}`...)
	}
	return append(dst, ']', '}')
}

// TickerMessageSize is an estimate of the encoded size of a ticker
// message, for sizing buffers.
const TickerMessageSize = 400

// AppendTicker appends a ticker message of channel at exchange time ts
// (µs) from the book's best levels and the ticker statistics st. Fields
// without a value are left out. A book that is not served is passed as
// nil, with its status (StatusWaiting, StatusStale) and, when stale, its
// reason; both are "" for a served book. The window statistics are
// formatted by the decimal package, which allocates their strings.
func AppendTicker(dst []byte, channel string, ts int64, book *orderbook.Book, st *orderbook.Stats, sc Scales, status, reason string) []byte {
	dst = append(dst, `{"type":"ticker","channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	if book != nil {
		if l, ok := book.Best(orderbook.Bid); ok {
			dst = appendDecimalField(dst, "bid", l.Price, sc.Price)
			dst = appendDecimalField(dst, "bid_size", l.Size, sc.Size)
		}
		if l, ok := book.Best(orderbook.Ask); ok {
			dst = appendDecimalField(dst, "ask", l.Price, sc.Price)
			dst = appendDecimalField(dst, "ask_size", l.Size, sc.Size)
		}
	}
	if st.HasLast {
		dst = appendDecimalField(dst, "last", st.Last, sc.Price)
		dst = appendDecimalField(dst, "last_size", st.LastSize, sc.Size)
	}
	if st.Count > 0 {
		dst = appendWindow(dst, st, sc)
	}
	if st.HasWindow {
		dst = appendIntField(dst, "window_start", st.WindowStart)
	}
	if status != "" {
		dst = appendRawStringField(dst, "status", status)
		if reason != "" {
			dst = appendRawStringField(dst, "reason", reason)
		}
	}
	return append(dst, '}')
}

// appendWindow appends the statistics of a ticker window with trades.
func appendWindow(dst []byte, st *orderbook.Stats, sc Scales) []byte {
	dst = appendDecimalField(dst, "open", st.Open, sc.Price)
	dst = appendDecimalField(dst, "high", st.High, sc.Price)
	dst = appendDecimalField(dst, "low", st.Low, sc.Price)
	dst = appendRawStringField(dst, "volume", st.Volume.StringFixed(int32(sc.Size)))
	dst = appendRawStringField(dst, "quote_volume", st.QuoteVolume.StringFixed(int32(sc.Price+sc.Size)))
	dst = appendRawStringField(dst, "vwap", st.VWAP.StringFixed(int32(sc.Price)))
	dst = appendRawStringField(dst, "change", st.Change.StringFixed(int32(sc.Price)))
	if st.HasChangePct {
		dst = appendRawStringField(dst, "change_pct", st.ChangePct.StringFixed(2))
	}
	return appendIntField(dst, "count", st.Count)
}

// appendDecimalField appends `,"name":"v"` with v at scale.
func appendDecimalField(dst []byte, name string, v int64, scale int) []byte {
	return AppendDecimal(appendKey(dst, name), v, scale)
}

// appendRawStringField appends `,"name":"v"` with v verbatim (a decimal or
// a vocabulary word, which need no escaping).
func appendRawStringField(dst []byte, name, v string) []byte {
	dst = append(appendKey(dst, name), '"')
	dst = append(dst, v...)
	return append(dst, '"')
}

// BBOMessageSize is an estimate of the encoded size of a bbo message,
// for sizing buffers.
const BBOMessageSize = 192

// AppendBBO appends a bbo message of channel: the book's best bid and ask
// (a side whose ok is false is empty and left out) at seq of epoch,
// exchange time ts (µs) of event seq.
func AppendBBO(dst []byte, channel string, seq, epoch uint64, ts int64, bid, ask orderbook.Level, bidOK, askOK bool, sc Scales) []byte {
	dst = append(dst, `{"type":"bbo","channel":"`...)
	dst = append(dst, channel...)
	dst = append(dst, `","seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"epoch":`...)
	dst = strconv.AppendUint(dst, epoch, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	if bidOK {
		dst = appendDecimalField(dst, "bid", bid.Price, sc.Price)
		dst = appendDecimalField(dst, "bid_size", bid.Size, sc.Size)
	}
	if askOK {
		dst = appendDecimalField(dst, "ask", ask.Price, sc.Price)
		dst = appendDecimalField(dst, "ask_size", ask.Size, sc.Size)
	}
	return append(dst, '}')
}

// AppendTickers appends the tickers message at ts: its "tickers" array
// holds the given ticker messages (each as AppendTicker encodes it), in
// order.
func AppendTickers(dst []byte, ts int64, tickers [][]byte) []byte {
	dst = append(dst, `{"type":"tickers","channel":"tickers","ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `,"tickers":[`...)
	for i, t := range tickers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, t...)
	}
	return append(dst, "]}"...)
}
