package client

import (
	"fmt"
	"testing"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/shopspring/decimal"
)

// benchMessages are the market-data messages of the decode benchmarks,
// each in both encodings: a depth-20 snapshot, a two-level update, a bbo,
// a one-trade trades message and a full ticker.
func benchMessages() (names []string, json, bin [][]byte) {
	sc := schemas.Scales{Price: 2, Size: 8}
	var bids, asks []orderbook.Level
	for i := range int64(20) {
		bids = append(bids, orderbook.Level{Price: 6412310 - 10*i, Size: 50000000 + i})
		asks = append(asks, orderbook.Level{Price: 6412320 + 10*i, Size: 30000000 + i})
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
	add := func(name string, j, b []byte) {
		names, json, bin = append(names, name), append(json, j), append(bin, b)
	}
	add("snapshot-20", schemas.AppendSnapshot(nil, "book.BTC-USD", 1042, 0, ts, 4026326789, bids, asks, sc),
		schemas.AppendBinarySnapshot(nil, "book.BTC-USD", 1042, 0, ts, 4026326789, bids, asks, sc))
	add("update", schemas.AppendUpdate(nil, "book.BTC-USD", 1043, 1045, 0, ts, 2695600627, upd, nil, sc),
		schemas.AppendBinaryUpdate(nil, "book.BTC-USD", 1043, 1045, 0, ts, 2695600627, upd, nil, sc))
	add("bbo", schemas.AppendBBO(nil, "bbo.BTC-USD", 1045, 0, ts, bids[0], asks[0], true, true, sc),
		schemas.AppendBinaryBBO(nil, "bbo.BTC-USD", 1045, 0, ts, bids[0], asks[0], true, true, sc))
	add("trade", schemas.AppendTrades(nil, "trades.BTC-USD", tr, sc), schemas.AppendBinaryTrades(nil, "trades.BTC-USD", tr, sc))
	add("ticker", schemas.AppendTicker(nil, "ticker.BTC-USD", ts, book, &st, sc, "", ""),
		schemas.AppendBinaryTicker(nil, "ticker.BTC-USD", ts, book, &st, sc, "", ""))
	return names, json, bin
}

// BenchmarkDecode measures the client's decoding of one market-data
// message into a ServerMessage (Decode), JSON against binary; bytes is
// the message's size.
func BenchmarkDecode(b *testing.B) {
	names, js, bin := benchMessages()
	for i, name := range names {
		for _, enc := range []struct {
			name   string
			p      []byte
			binary bool
		}{{"json", js[i], false}, {"bin", bin[i], true}} {
			b.Run(fmt.Sprintf("%s/%s", name, enc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Decode(enc.p, enc.binary); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(enc.p)), "bytes")
			})
		}
	}
}
