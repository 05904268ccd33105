package schemas

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/shopspring/decimal"
)

// checkTwins checks that the binary message decodes to what its JSON twin
// decodes to.
func checkTwins(t *testing.T, bin, text []byte) {
	t.Helper()
	want := decodeServer(t, text)
	var got ServerMessage
	if err := DecodeBinary(bin, &got); err != nil {
		t.Fatalf("DecodeBinary(%x): %v", bin, err)
	}
	if !reflect.DeepEqual(&got, want) {
		t.Fatalf("binary decodes to\n%+v\nits JSON twin to\n%+v", got, *want)
	}
}

// TestBinaryBookRoundTrip encodes random snapshots and updates at every
// scale, extremes included, in both encodings and compares the decodings.
func TestBinaryBookRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 400 {
		sc := Scales{Price: rng.IntN(fixedpoint.MaxScale + 1), Size: rng.IntN(fixedpoint.MaxScale + 1)}
		bids, asks := randomLevels(rng, rng.IntN(30)), randomLevels(rng, rng.IntN(30))
		seq, epoch, ts, ck := rng.Uint64(), rng.Uint64N(1<<53), rng.Int64N(1<<62), rng.Uint32()
		ch := "book.S-" + strconv.Itoa(i)
		if i%2 == 0 {
			for _, side := range [][]orderbook.Level{bids, asks} {
				for k := range side {
					side[k].Size = max(side[k].Size, 1) // a snapshot has no empty level
				}
			}
			checkTwins(t, AppendBinarySnapshot(nil, ch, seq, epoch, ts, ck, bids, asks, sc), AppendSnapshot(nil, ch, seq, epoch, ts, ck, bids, asks, sc))
			continue
		}
		first := 1 + rng.Uint64N(max(seq, 1))
		bin := AppendBinaryUpdate(nil, ch, first, seq, epoch, ts, ck, bids, asks, sc)
		if len(bin) != BinaryBookMessageSize(ch, len(bids)+len(asks)) {
			t.Fatalf("update of %d levels is %d bytes, BinaryBookMessageSize says %d", len(bids)+len(asks), len(bin), BinaryBookMessageSize(ch, len(bids)+len(asks)))
		}
		checkTwins(t, bin, AppendUpdate(nil, ch, first, seq, epoch, ts, ck, bids, asks, sc))
	}
}

// TestBinaryTickerRoundTrip encodes random tickers, with values beyond
// int64 in the window's decimals, in both encodings.
func TestBinaryTickerRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	rdec := func(scale int) decimal.Decimal {
		d := decimal.New(rng.Int64()-math.MaxInt64/2, -int32(scale))
		if rng.IntN(3) == 0 {
			d = d.Mul(decimal.New(rng.Int64N(1e12), 0))
		}
		return d
	}
	for i := range 300 {
		sc := Scales{Price: rng.IntN(9), Size: rng.IntN(9)}
		book := orderbook.New()
		if rng.IntN(4) > 0 {
			book.Set(orderbook.Bid, rng.Int64N(1e12), 1+rng.Int64N(1e12))
		}
		if rng.IntN(4) > 0 {
			book.Set(orderbook.Ask, 1e12+rng.Int64N(1e12), 1+rng.Int64N(1e12))
		}
		st := orderbook.Stats{HasLast: rng.IntN(2) == 0, Last: rng.Int64(), LastSize: rng.Int64N(1e15),
			HasWindow: rng.IntN(2) == 0, WindowStart: rng.Int64N(1 << 60)}
		if rng.IntN(3) > 0 {
			st.Count, st.Open, st.High, st.Low = 1+rng.Int64N(1e9), rng.Int64(), rng.Int64(), -rng.Int64()
			st.Volume, st.QuoteVolume, st.VWAP, st.Change = rdec(sc.Size).Abs(), rdec(sc.Price+sc.Size).Abs(), rdec(sc.Price), rdec(sc.Price)
			st.HasChangePct = rng.IntN(2) == 0
			st.ChangePct = rdec(2)
		}
		status, reason, b := "", "", book
		switch rng.IntN(4) {
		case 0:
			status, reason, b = StatusStale, []string{ReasonGap, ReasonFeedDown, ReasonSilent, ReasonCrossed}[rng.IntN(4)], nil
		case 1:
			status, b = StatusWaiting, nil
		}
		ch := "ticker.S-" + strconv.Itoa(i)
		bin := AppendBinaryTicker(nil, ch, rng.Int64N(1<<60), b, &st, sc, status, reason)
		text := AppendTicker(nil, ch, int64(le.Uint64(bin[8:])), b, &st, sc, status, reason)
		if len(bin) != BinaryTickerMessageSize(ch) {
			t.Fatalf("ticker is %d bytes, BinaryTickerMessageSize says %d", len(bin), BinaryTickerMessageSize(ch))
		}
		checkTwins(t, bin, text)
	}
}

func TestBinaryTradesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 300 {
		sc := Scales{Price: rng.IntN(19), Size: rng.IntN(19)}
		trades := make([]Trade, 1+rng.IntN(5))
		idLen := 0
		for i := range trades {
			trades[i] = Trade{ID: "t" + strconv.Itoa(rng.IntN(1e6)) + []string{"", "\"", "\\", "\x01", "é"}[rng.IntN(5)],
				TS: rng.Int64N(1 << 62), Price: rng.Int64() - math.MaxInt64/2, Size: 1 + rng.Int64N(math.MaxInt64-1),
				Side: Side(1 + rng.IntN(2))}
			idLen += len(trades[i].ID)
		}
		bin := AppendBinaryTrades(nil, "trades.X", trades, sc)
		if len(bin) != BinaryTradesMessageSize("trades.X", len(trades), idLen) {
			t.Fatalf("trades are %d bytes, BinaryTradesMessageSize says %d", len(bin), BinaryTradesMessageSize("trades.X", len(trades), idLen))
		}
		checkTwins(t, bin, AppendTrades(nil, "trades.X", trades, sc))
	}
}

// TestBinaryCandlesRoundTrip encodes random candles at every scale, with
// sums beyond int64 and the quote volume's scale past 18, in both
// encodings.
func TestBinaryCandlesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	sum := func() candle.Int128 {
		switch rng.IntN(3) {
		case 0:
			return candle.Int128Of(rng.Int64())
		case 1:
			return candle.Mul(rng.Int64(), rng.Int64())
		}
		return candle.Mul(rng.Int64(), rng.Int64()).Add(candle.Mul(rng.Int64(), rng.Int64()))
	}
	for i := range 300 {
		sc := Scales{Price: rng.IntN(fixedpoint.MaxScale + 1), Size: rng.IntN(fixedpoint.MaxScale + 1)}
		all := make([]candle.Candle, rng.IntN(6))
		for k := range all {
			all[k] = candle.Candle{Start: rng.Int64N(1 << 60), Open: rng.Int64() - math.MaxInt64/2, High: rng.Int64(), Low: -rng.Int64(),
				Close: rng.Int64() - math.MaxInt64/2, Volume: sum(), QuoteVolume: sum(), Count: 1 + rng.Int64N(math.MaxInt64-1)}
		}
		closed, cur := all, (*candle.Candle)(nil)
		if len(all) > 0 && rng.IntN(2) == 0 {
			closed, cur = all[:len(all)-1], &all[len(all)-1]
		}
		h := CandlesHeader{Channel: "candles.S-" + strconv.Itoa(i), Resolution: Resolution(rng.IntN(int(NumResolutions))),
			Snapshot: rng.IntN(2) == 0, HasWindow: rng.IntN(2) == 0, WindowStart: rng.Int64N(1 << 60)}
		bin := AppendBinaryCandles(nil, &h, closed, cur, sc)
		if len(bin) != BinaryCandlesMessageSize(h.Channel, len(all)) {
			t.Fatalf("%d candles are %d bytes, BinaryCandlesMessageSize says %d", len(all), len(bin), BinaryCandlesMessageSize(h.Channel, len(all)))
		}
		checkTwins(t, bin, AppendCandles(nil, &h, closed, cur, sc))
	}
}

// TestBinaryEncodersAllocs: with room in the buffer, the encoders of the
// hot messages do not allocate.
func TestBinaryEncodersAllocs(t *testing.T) {
	bids := []orderbook.Level{{Price: 6412310, Size: 50000000}, {Price: 6412300, Size: 125000000}}
	asks := []orderbook.Level{{Price: 6412320, Size: 30000000}}
	trades := []Trade{{ID: "987654", TS: 1, Price: 2, Size: 3, Side: SideBuy}}
	tk := [][]byte{AppendBinaryTicker(nil, "ticker.BTC-USD", 1, nil, &orderbook.Stats{}, btc, "", "")}
	kc := []candle.Candle{{Start: 1, Open: 2, High: 3, Low: 1, Close: 2, Volume: candle.Int128Of(4), QuoteVolume: candle.Mul(1<<62, 8), Count: 2}}
	ch := CandlesHeader{Channel: "candles.BTC-USD", Resolution: Res5m, Snapshot: true, WindowStart: 1, HasWindow: true}
	buf := make([]byte, 0, 4096)
	for name, f := range map[string]func(){
		"snapshot": func() { buf = AppendBinarySnapshot(buf[:0], "book.BTC-USD", 1, 2, 3, 4, bids, asks, btc) },
		"update":   func() { buf = AppendBinaryUpdate(buf[:0], "book.BTC-USD", 1, 2, 3, 4, 5, bids, asks, btc) },
		"status":   func() { buf = AppendBinaryStatus(buf[:0], "book.BTC-USD", StatusStale, ReasonGap) },
		"bbo":      func() { buf = AppendBinaryBBO(buf[:0], "bbo.BTC-USD", 1, 2, 3, bids[0], asks[0], true, true, btc) },
		"trades":   func() { buf = AppendBinaryTrades(buf[:0], "trades.BTC-USD", trades, btc) },
		"tickers":  func() { buf = AppendBinaryTickers(buf[:0], 1, tk) },
		"candles":  func() { buf = AppendBinaryCandles(buf[:0], &ch, kc, &kc[0], btc) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

// TestDecodeBinaryMalformed: every truncation of every vector is an
// error, never a panic or a message; an unknown template and a later
// version's longer blocks are handled as binary.md says.
func TestDecodeBinaryMalformed(t *testing.T) {
	var m ServerMessage
	for _, c := range binaryCases() {
		for n := range len(c.bin) {
			var be *BinaryError
			if err := DecodeBinary(c.bin[:n], &m); !errors.As(err, &be) {
				t.Fatalf("%s cut at %d bytes: %v", c.name, n, err)
			}
		}
	}
	unknown := AppendBinaryStatus(nil, "book.X", StatusWaiting, "")
	le.PutUint16(unknown[2:], TemplateCandles+1)
	if err := DecodeBinary(unknown, &m); !errors.Is(err, ErrBinaryTemplate) {
		t.Errorf("unknown template: %v", err)
	}
	for _, bad := range []func(p []byte){
		func(p []byte) { le.PutUint16(p[4:], 2) },    // another schema
		func(p []byte) { le.PutUint16(p[6:], 0) },    // an older version
		func(p []byte) { le.PutUint16(p[0:], 29) },   // a block shorter than version 1's
		func(p []byte) { p[8+28] = 19 },              // a scale above 18
		func(p []byte) { le.PutUint32(p[40:], 1e6) }, // more bids than bytes
	} {
		p := AppendBinarySnapshot(nil, "book.X", 1, 0, 2, 3, []orderbook.Level{{Price: 1, Size: 1}}, nil, btc)
		bad(p)
		var be *BinaryError
		if err := DecodeBinary(p, &m); !errors.As(err, &be) {
			t.Errorf("%x: %v, want a *BinaryError", p, err)
		}
	}
	// Candles: an unknown resolution, a boolean other than 0 and 1, a null
	// sum.
	kc := []candle.Candle{{Start: 1, Open: 2, High: 3, Low: 1, Close: 2, Volume: candle.Int128Of(4), QuoteVolume: candle.Int128Of(8), Count: 2}}
	for _, bad := range []func(p []byte){
		func(p []byte) { p[8+8] = uint8(NumResolutions) },                            // resolution
		func(p []byte) { p[8+9] = 2 },                                                // snapshot
		func(p []byte) { p[8+binCandlesRoot+binGroupSize+80] = 7 },                   // final
		func(p []byte) { le.PutUint64(p[8+binCandlesRoot+binGroupSize+48:], 1<<63) }, // volume
		func(p []byte) { le.PutUint16(p[0:], binCandlesRoot-1) },                     // root block
		func(p []byte) { le.PutUint16(p[8+binCandlesRoot:], binCandleEntry-1) },      // entry block
		func(p []byte) { p[8+10] = 19 },                                              // price scale
		func(p []byte) { le.PutUint32(p[8+binCandlesRoot+2:], 3) },                   // more candles than bytes
	} {
		h := CandlesHeader{Channel: "candles.X", Resolution: Res1m}
		p := AppendBinaryCandles(nil, &h, kc, nil, btc)
		bad(p)
		var be *BinaryError
		if err := DecodeBinary(p, &m); !errors.As(err, &be) {
			t.Errorf("%x: %v, want a *BinaryError", p, err)
		}
	}
	// A later version: two more bytes in the root block and in each level,
	// which a version 1 decoder skips.
	p := AppendBinarySnapshot(nil, "book.X", 1, 0, 2, 3, nil, nil, btc)
	later := append([]byte(nil), p[:8+binSnapshotRoot]...)
	le.PutUint16(later[0:], binSnapshotRoot+2)
	le.PutUint16(later[6:], BinarySchemaVersion+1)
	later = append(later, 0xAA, 0xBB)
	later = appendBinGroup(later, binLevelEntry+2, 1)
	later = append(appendBinInt64(appendBinInt64(later, 6412310), 50000000), 0xCC, 0xDD)
	later = appendBinGroup(later, binLevelEntry, 0)
	later = appendBinString(later, "book.X")
	if err := DecodeBinary(later, &m); err != nil || len(m.Bids) != 1 || m.Bids[0] != [2]string{"64123.10", "0.50000000"} || m.Channel != "book.X" {
		t.Errorf("later version: %v, %+v", err, m)
	}
}
