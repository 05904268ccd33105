package schemas

import (
	"testing"

	"github.com/marketfeed/marketfeed/candle"
)

func TestCandlesEncoderRoundTrip(t *testing.T) {
	closed := []candle.Candle{{Start: 1767225540000000, Open: 6412000, High: 6412550, Low: 6411990, Close: 6412310,
		Volume: candle.Int128Of(125000000), QuoteVolume: candle.Int128Of(801523750000000), Count: 7}}
	// 9999999.99 × 50000000.00000000 twice: beyond 64 bits at scale 10.
	big := candle.Mul(999999999, 5_000_000_000_000_000)
	cur := candle.Candle{Start: 1767225600000000, Open: 999999999, High: 999999999, Low: 999999999, Close: 999999999,
		Volume: candle.Int128Of(10_000_000_000_000_000), QuoteVolume: big.Add(big), Count: 2}
	h := CandlesHeader{Channel: "candles.BTC-USD", Resolution: Res1m, Snapshot: true, WindowStart: 1767225480000000, HasWindow: true}
	enc := AppendCandles(nil, &h, closed, &cur, btc)
	m := decodeServer(t, enc)
	want := ServerMessage{Type: TypeCandles, Channel: "candles.BTC-USD", Resolution: "1m", Snapshot: true, WindowStart: 1767225480000000,
		Candles: []CandleMessage{
			{Start: 1767225540000000, Open: "64120.00", High: "64125.50", Low: "64119.90", Close: "64123.10",
				Volume: "1.25000000", QuoteVolume: "80152.3750000000", Count: 7, Final: true},
			{Start: 1767225600000000, Open: "9999999.99", High: "9999999.99", Low: "9999999.99", Close: "9999999.99",
				Volume: "100000000.00000000", QuoteVolume: "999999999000000.0000000000", Count: 2},
		}}
	if !equalJSON(t, m, &want) {
		t.Fatalf("%s decodes to\n%+v, want\n%+v", enc, *m, want)
	}
	h = CandlesHeader{Channel: "candles.E", Resolution: Res1d}
	enc = AppendCandles(nil, &h, nil, nil, btc)
	if want := `{"type":"candles","channel":"candles.E","resolution":"1d","candles":[]}`; string(enc) != want {
		t.Fatalf("got  %s\nwant %s", enc, want)
	}
	decodeServer(t, enc)
	buf := make([]byte, 0, CandlesMessageSize(2))
	if n := testing.AllocsPerRun(100, func() { buf = AppendCandles(buf[:0], &h, closed, &cur, btc) }); n != 0 || len(buf) > cap(buf) {
		t.Errorf("%v allocations per run, want 0", n)
	}
}

func TestResolutions(t *testing.T) {
	for r := range NumResolutions {
		if got, ok := ParseResolution(r.String()); !ok || got != r || r.Micros() <= 0 {
			t.Errorf("resolution %d: %q %v", r, r.String(), ok)
		}
	}
	if _, ok := ParseResolution("4h"); ok || Res1d.Micros() != 86_400_000_000 || DefaultInterval(ChannelCandles) != Interval1s {
		t.Error("resolution vocabulary")
	}
}
