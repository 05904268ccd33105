package fanout

import (
	"testing"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/shopspring/decimal"
)

// sizeCase is one market-data message in both encodings, as payloads.
type sizeCase struct {
	name      string
	json, bin []byte
}

func sizeCases() []sizeCase {
	sc := schemas.Scales{Price: 2, Size: 8}
	var bids, asks []orderbook.Level
	for i := range int64(20) {
		bids = append(bids, orderbook.Level{Price: 6412310 - 10*i, Size: 50000000 + 1234567*i})
		asks = append(asks, orderbook.Level{Price: 6412320 + 10*i, Size: 30000000 + 7654321*i})
	}
	upd := []orderbook.Level{{Price: 6412310, Size: 0}, {Price: 6412290, Size: 300000000}}
	tr := []schemas.Trade{{ID: "987654", TS: 1767225600250000, Price: 6412310, Size: 1500000, Side: schemas.SideBuy}}
	book := orderbook.New()
	book.Set(orderbook.Bid, 6412310, 50000000)
	book.Set(orderbook.Ask, 6412320, 30000000)
	st := orderbook.Stats{HasLast: true, Last: 6412310, LastSize: 1500000, Count: 53211, Open: 6300000, High: 6450000, Low: 6290000,
		Volume: decimal.RequireFromString("1234.5"), QuoteVolume: decimal.RequireFromString("79123456.123456789"),
		VWAP: decimal.RequireFromString("64093.12"), Change: decimal.RequireFromString("1123.1"),
		ChangePct: decimal.RequireFromString("1.78"), HasChangePct: true, HasWindow: true, WindowStart: 1767139260000000}
	const ts = 1767225600300000
	// Candles: the last 500 closed one-minute candles and the one in
	// progress (a snapshot), and the one in progress alone (an update).
	cs := make([]candle.Candle, 501)
	for i := range cs {
		p := 6412310 + int64(i%7)*10
		cs[i] = candle.Candle{Start: 1767195600000000 + int64(i)*60e6, Open: p, High: p + 40, Low: p - 30, Close: p + 10,
			Volume: candle.Int128{Lo: uint64(125000000 + i)}, QuoteVolume: candle.Int128{Lo: uint64(8015237500000000 + i)}, Count: 7 + int64(i%5)}
	}
	snap := &schemas.CandlesHeader{Channel: "candles.BTC-USD", Resolution: schemas.Res1m, Snapshot: true, WindowStart: 1767139260000000, HasWindow: true}
	upd1 := &schemas.CandlesHeader{Channel: "candles.BTC-USD", Resolution: schemas.Res1m, WindowStart: 1767139260000000, HasWindow: true}
	return []sizeCase{
		{"candles-snapshot-500", schemas.AppendCandles(nil, snap, cs[:500], &cs[500], sc), schemas.AppendBinaryCandles(nil, snap, cs[:500], &cs[500], sc)},
		{"candles-update", schemas.AppendCandles(nil, upd1, nil, &cs[500], sc), schemas.AppendBinaryCandles(nil, upd1, nil, &cs[500], sc)},
		{"snapshot-20", schemas.AppendSnapshot(nil, "book.BTC-USD", 1042, 0, ts, 4026326789, bids, asks, sc),
			schemas.AppendBinarySnapshot(nil, "book.BTC-USD", 1042, 0, ts, 4026326789, bids, asks, sc)},
		{"update-2", schemas.AppendUpdate(nil, "book.BTC-USD", 1043, 1045, 0, ts, 2695600627, upd, nil, sc),
			schemas.AppendBinaryUpdate(nil, "book.BTC-USD", 1043, 1045, 0, ts, 2695600627, upd, nil, sc)},
		{"bbo", schemas.AppendBBO(nil, "bbo.BTC-USD", 1045, 0, ts, bids[0], asks[0], true, true, sc),
			schemas.AppendBinaryBBO(nil, "bbo.BTC-USD", 1045, 0, ts, bids[0], asks[0], true, true, sc)},
		{"trade", schemas.AppendTrades(nil, "trades.BTC-USD", tr, sc), schemas.AppendBinaryTrades(nil, "trades.BTC-USD", tr, sc)},
		{"ticker", schemas.AppendTicker(nil, "ticker.BTC-USD", ts, book, &st, sc, "", ""),
			schemas.AppendBinaryTicker(nil, "ticker.BTC-USD", ts, book, &st, sc, "", "")},
	}
}

// deflated returns the payload size of p compressed as the server
// compresses a frame (permessage-deflate without context takeover), or
// len(p) when compression does not make it smaller (the server then sends
// it plain).
func deflated(p []byte, op ws.OpCode) int {
	z := wsconn.Deflate(wsconn.ControlFrame(op, p))
	if z == nil {
		return len(p)
	}
	return len(wsconn.Payload(z))
}

// BenchmarkMessageBytes reports the payload bytes of each market-data
// message: JSON, binary, and both as the server sends them compressed
// with permessage-deflate (bytes-json-deflate, bytes-bin-deflate). The
// time is that of the deflate of the JSON message.
func BenchmarkMessageBytes(b *testing.B) {
	for _, c := range sizeCases() {
		b.Run(c.name, func(b *testing.B) {
			frame := wsconn.ControlFrame(ws.OpText, c.json)
			for b.Loop() {
				wsconn.Deflate(frame)
			}
			b.ReportMetric(float64(len(c.json)), "bytes-json")
			b.ReportMetric(float64(len(c.bin)), "bytes-bin")
			b.ReportMetric(float64(deflated(c.json, ws.OpText)), "bytes-json-deflate")
			b.ReportMetric(float64(deflated(c.bin, ws.OpBinary)), "bytes-bin-deflate")
		})
	}
}

// BenchmarkEncodeMessage measures the server's encode of one market-data
// frame, JSON against binary.
func BenchmarkEncodeMessage(b *testing.B) {
	sc := schemas.Scales{Price: 2, Size: 8}
	var bids, asks []orderbook.Level
	for i := range int64(20) {
		bids = append(bids, orderbook.Level{Price: 6412310 - 10*i, Size: 50000000 + i})
		asks = append(asks, orderbook.Level{Price: 6412320 + 10*i, Size: 30000000 + i})
	}
	upd := bids[:2]
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"snapshot-20/json", func() { encodeSnapshot("book.BTC-USD", 1, 0, 2, 3, bids, asks, sc) }},
		{"snapshot-20/bin", func() {
			binaryFrame(schemas.BinaryBookMessageSize("book.BTC-USD", 40), func(p []byte) []byte {
				return schemas.AppendBinarySnapshot(p, "book.BTC-USD", 1, 0, 2, 3, bids, asks, sc)
			})
		}},
		{"update-2/json", func() { encodeUpdate("book.BTC-USD", 1, 1, 0, 2, 3, upd, nil, sc) }},
		{"update-2/bin", func() {
			binaryFrame(schemas.BinaryBookMessageSize("book.BTC-USD", 2), func(p []byte) []byte {
				return schemas.AppendBinaryUpdate(p, "book.BTC-USD", 1, 1, 0, 2, 3, upd, nil, sc)
			})
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.f()
			}
		})
	}
}
