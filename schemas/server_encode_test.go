package schemas

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
)

var btc = Scales{Price: 2, Size: 8}

func TestServerEncodersGolden(t *testing.T) {
	bids := []orderbook.Level{{Price: 6412310, Size: 50000000}, {Price: 6412300, Size: 125000000}}
	asks := []orderbook.Level{{Price: 6412320, Size: 30000000}}
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"snapshot", AppendSnapshot(nil, "book.BTC-USD", 1042, 0, 1767225600123456, 3115306130, bids, asks, btc),
			`{"type":"snapshot","channel":"book.BTC-USD","seq":1042,"epoch":0,"ts":1767225600123456,"checksum":3115306130,"bids":[["64123.10","0.50000000"],["64123.00","1.25000000"]],"asks":[["64123.20","0.30000000"]]}`},
		{"empty snapshot", AppendSnapshot(nil, "book.E", 0, 7, 0, 0, nil, nil, Scales{}),
			`{"type":"snapshot","channel":"book.E","seq":0,"epoch":7,"ts":0,"checksum":0,"bids":[],"asks":[]}`},
		{"update", AppendUpdate(nil, "book.BTC-USD", 1043, 1044, 9, 1767225600200000, 42, bids[:1], []orderbook.Level{{Price: 6412330, Size: 0}}, btc),
			`{"type":"update","channel":"book.BTC-USD","first_seq":1043,"seq":1044,"epoch":9,"ts":1767225600200000,"checksum":42,"bids":[["64123.10","0.50000000"]],"asks":[["64123.30","0.00000000"]]}`},
		{"trades", AppendTrades(nil, "trades.BTC-USD", []Trade{
			{ID: "987654", TS: 1767225600300000, Price: 6412310, Size: 1500000, Side: SideBuy},
			{ID: "q\"\n", TS: 1767225600300001, Price: -5, Size: 1, Side: SideSell}}, btc),
			`{"type":"trades","channel":"trades.BTC-USD","trades":[{"id":"987654","ts":1767225600300000,"price":"64123.10","size":"0.01500000","side":"buy"},` +
				`{"id":"q\"\u000a","ts":1767225600300001,"price":"-0.05","size":"0.00000001","side":"sell"}]}`},
	}
	for _, tc := range tests {
		if string(tc.got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
		if err := validate(t, ServerMessageSchema, tc.got); err != nil {
			t.Errorf("%s: %s fails the schema: %v", tc.name, tc.got, err)
		}
	}
}

// randomLevels returns n levels with random mantissas, extremes included.
func randomLevels(rng *rand.Rand, n int) []orderbook.Level {
	out := make([]orderbook.Level, n)
	for i := range out {
		out[i] = orderbook.Level{Price: rng.Int64N(math.MaxInt64), Size: rng.Int64N(1 << uint(rng.IntN(63)))}
		switch rng.IntN(8) {
		case 0:
			out[i].Price = math.MaxInt64
		case 1:
			out[i].Size = 0
		case 2:
			out[i].Price = -rng.Int64N(1e12)
		}
	}
	return out
}

// checkLevels compares decoded [price, size] strings with the levels they
// encode: byte-exact at the scales, exactly scale fractional digits.
func checkLevels(t *testing.T, what string, got [][2]string, want []orderbook.Level, sc Scales) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d levels, want %d", what, len(got), len(want))
	}
	for i, l := range want {
		if got[i][0] != fixedpoint.Format(l.Price, sc.Price) || got[i][1] != fixedpoint.Format(l.Size, sc.Size) {
			t.Fatalf("%s level %d: %v, want %v at scales %v", what, i, got[i], l, sc)
		}
		for k, scale := range [2]int{sc.Price, sc.Size} {
			v, err := fixedpoint.Parse(got[i][k], scale)
			frac := len(got[i][k]) - 1 - strings.IndexByte(got[i][k], '.')
			if err != nil || v != [2]int64{l.Price, l.Size}[k] || (scale > 0 && frac != scale) {
				t.Fatalf("%s level %d: %q does not parse back at scale %d (%v)", what, i, got[i][k], scale, err)
			}
		}
	}
}

func decodeServer(t *testing.T, enc []byte) *ServerMessage {
	t.Helper()
	var m ServerMessage
	if err := json.Unmarshal(enc, &m); err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	if err := validate(t, ServerMessageSchema, enc); err != nil {
		t.Fatalf("%s fails the schema: %v", enc, err)
	}
	return &m
}

// TestBookEncodersRoundTrip decodes random snapshots and updates at every
// scale and compares every value.
func TestBookEncodersRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 400 {
		sc := Scales{Price: rng.IntN(fixedpoint.MaxScale + 1), Size: rng.IntN(fixedpoint.MaxScale + 1)}
		bids, asks := randomLevels(rng, rng.IntN(20)), randomLevels(rng, rng.IntN(20))
		seq, epoch, ts, ck := rng.Uint64N(1<<53), rng.Uint64N(1<<53), rng.Int64N(1<<53), rng.Uint32()
		ch := "book.S-" + strconv.Itoa(i)
		var enc []byte
		first := uint64(0)
		if i%2 == 0 {
			for _, side := range [][]orderbook.Level{bids, asks} {
				for k := range side {
					side[k].Size = max(side[k].Size, 1) // a snapshot has no empty level
				}
			}
			enc = AppendSnapshot(nil, ch, seq, epoch, ts, ck, bids, asks, sc)
		} else {
			first = 1 + rng.Uint64N(seq+1)
			enc = AppendUpdate(nil, ch, first, seq, epoch, ts, ck, bids, asks, sc)
		}
		m := decodeServer(t, enc)
		wantType := map[bool]string{true: TypeSnapshot, false: TypeUpdate}[i%2 == 0]
		if m.Type != wantType || m.Channel != ch || m.FirstSeq != first || m.Seq != seq || m.Epoch != epoch ||
			m.TS != ts || m.Checksum == nil || *m.Checksum != ck {
			t.Fatalf("%s decodes to %+v", enc, m)
		}
		checkLevels(t, "bids", m.Bids, bids, sc)
		checkLevels(t, "asks", m.Asks, asks, sc)
	}
}

func TestTradesEncoderRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 300 {
		sc := Scales{Price: rng.IntN(19), Size: rng.IntN(19)}
		trades := make([]Trade, 1+rng.IntN(5))
		for i := range trades {
			trades[i] = Trade{ID: "t" + strconv.Itoa(rng.IntN(1e6)) + []string{"", "\"", "\\", "\x01", "é"}[rng.IntN(5)],
				TS: rng.Int64N(1 << 53), Price: rng.Int64N(math.MaxInt64) - rng.Int64N(1e9), Size: 1 + rng.Int64N(1e15),
				Side: Side(1 + rng.IntN(2))}
		}
		enc := AppendTrades(nil, "trades.X", trades, sc)
		m := decodeServer(t, enc)
		if m.Type != TypeTrades || m.Channel != "trades.X" || len(m.Trades) != len(trades) {
			t.Fatalf("%s decodes to %+v", enc, m)
		}
		for i, tr := range trades {
			want := TradeMessage{ID: tr.ID, TS: tr.TS, Price: fixedpoint.Format(tr.Price, sc.Price),
				Size: fixedpoint.Format(tr.Size, sc.Size), Side: tr.Side.String()}
			if m.Trades[i] != want {
				t.Fatalf("%s: trade %d decodes to %+v, want %+v", enc, i, m.Trades[i], want)
			}
		}
	}
}

func TestTickerEncoderRoundTrip(t *testing.T) {
	book := orderbook.New()
	book.Set(orderbook.Bid, 6412310, 50000000)
	book.Set(orderbook.Ask, 6412320, 30000000)
	tk := orderbook.NewTicker(btc.Price, btc.Size)
	tk.Add(orderbook.Trade{TS: 1767225600000000, Price: 6400000, Size: 100000000})
	tk.Add(orderbook.Trade{TS: 1767225600100000, Price: 6412310, Size: 1500000})
	st := tk.Stats()
	enc := AppendTicker(nil, "ticker.BTC-USD", 1767225600100000, book, &st, btc, "", "")
	m := decodeServer(t, enc)
	want := ServerMessage{Type: TypeTicker, Channel: "ticker.BTC-USD", TS: 1767225600100000,
		Bid: "64123.10", BidSize: "0.50000000", Ask: "64123.20", AskSize: "0.30000000",
		Last: "64123.10", LastSize: "0.01500000", Open: "64000.00", High: "64123.10", Low: "64000.00",
		Volume: "1.01500000", QuoteVolume: "64961.8465000000", VWAP: "64001.82", Change: "123.10", ChangePct: "0.19",
		Count: 2, WindowStart: st.WindowStart}
	if !st.HasChangePct || !st.HasWindow || !equalJSON(t, m, &want) {
		t.Fatalf("%s decodes to\n%+v, want\n%+v", enc, *m, want)
	}

	empty := orderbook.NewTicker(0, 0).Stats()
	enc = AppendTicker(nil, "ticker.E", 5, nil, &empty, Scales{}, StatusStale, ReasonFeedDown)
	if want := `{"type":"ticker","channel":"ticker.E","ts":5,"status":"stale","reason":"feed_down"}`; string(enc) != want {
		t.Fatalf("got  %s\nwant %s", enc, want)
	}
	decodeServer(t, enc)
}

func TestBBOEncoderRoundTrip(t *testing.T) {
	bid, ask := orderbook.Level{Price: 6412310, Size: 50000000}, orderbook.Level{Price: 6412320, Size: 30000000}
	enc := AppendBBO(nil, "bbo.BTC-USD", 1045, 3, 1767225600300000, bid, ask, true, true, btc)
	m := decodeServer(t, enc)
	want := ServerMessage{Type: TypeBBO, Channel: "bbo.BTC-USD", Seq: 1045, Epoch: 3, TS: 1767225600300000,
		Bid: "64123.10", BidSize: "0.50000000", Ask: "64123.20", AskSize: "0.30000000"}
	if !equalJSON(t, m, &want) {
		t.Fatalf("%s decodes to\n%+v, want\n%+v", enc, *m, want)
	}
	enc = AppendBBO(nil, "bbo.E", 7, 0, 5, orderbook.Level{}, ask, false, true, btc)
	if want := `{"type":"bbo","channel":"bbo.E","seq":7,"epoch":0,"ts":5,"ask":"64123.20","ask_size":"0.30000000"}`; string(enc) != want {
		t.Fatalf("got  %s\nwant %s", enc, want)
	}
	decodeServer(t, enc)
	if len(enc) > BBOMessageSize {
		t.Fatalf("%d bytes, more than BBOMessageSize", len(enc))
	}
}

func equalJSON(t *testing.T, a, b *ServerMessage) bool {
	t.Helper()
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return string(x) == string(y)
}

func TestServerEncodersAllocs(t *testing.T) {
	bids, asks := randomLevels(rand.New(rand.NewPCG(1, 1)), 50), randomLevels(rand.New(rand.NewPCG(2, 2)), 50)
	trades := []Trade{{ID: "1", TS: 1, Price: 2, Size: 3, Side: SideBuy}, {ID: "é\"", TS: 4, Price: 5, Size: 6, Side: SideSell}}
	buf := make([]byte, 0, 1<<14)
	var ck []byte = make([]byte, 0, 1<<12)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendSnapshot(buf[:0], "book.X", 1, 2, 3, 4, bids, asks, btc)
		buf = AppendUpdate(buf[:0], "book.X", 1, 2, 3, 4, 5, bids[:2], asks[:1], btc)
		buf = AppendTrades(buf[:0], "trades.X", trades, btc)
		buf = AppendBBO(buf[:0], "bbo.X", 1, 2, 3, bids[0], asks[0], true, true, btc)
		ck = AppendChecksumLevelFixed(ck[:0], bids[0], btc)
		_ = ChecksumSides(ck, ck)
	}); n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func benchLevels(n int) []orderbook.Level {
	lv := make([]orderbook.Level, n)
	for i := range lv {
		lv[i] = orderbook.Level{Price: 6412310 - int64(i), Size: 50000000 + int64(i)*7}
	}
	return lv
}

func BenchmarkAppendSnapshot50(b *testing.B) {
	bids, asks := benchLevels(50), benchLevels(50)
	buf := AppendSnapshot(nil, "book.BTC-USD", 1042, 0, 1767225600123456, 1, bids, asks, btc)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		buf = AppendSnapshot(buf[:0], "book.BTC-USD", 1042, 0, 1767225600123456, 1, bids, asks, btc)
	}
}

func BenchmarkAppendUpdate2(b *testing.B) {
	bids, asks := benchLevels(1), benchLevels(1)
	buf := AppendUpdate(nil, "book.BTC-USD", 1043, 1043, 0, 1767225600123456, 1, bids, asks, btc)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		buf = AppendUpdate(buf[:0], "book.BTC-USD", 1043, 1043, 0, 1767225600123456, 1, bids, asks, btc)
	}
}

func BenchmarkAppendTrades3(b *testing.B) {
	trades := []Trade{{ID: "987654", TS: 1767225600300000, Price: 6412310, Size: 1500000, Side: SideBuy},
		{ID: "987655", TS: 1767225600300001, Price: 6412300, Size: 1, Side: SideSell},
		{ID: "987656", TS: 1767225600300002, Price: 6412300, Size: 2, Side: SideSell}}
	buf := AppendTrades(nil, "trades.BTC-USD", trades, btc)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for range b.N {
		buf = AppendTrades(buf[:0], "trades.BTC-USD", trades, btc)
	}
}
