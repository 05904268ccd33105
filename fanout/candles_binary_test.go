package fanout_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// candleTrade is a trade record at exchange time ts.
func candleTrade(sym, id, price, size, side string, ts int64) string {
	return fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":%q,"price":%q,"size":%q,"side":%q}`, sym, ts, id, price, size, side)
}

// TestBinaryAndJSONCandlesAgree: a JSON and a binary subscriber of the
// same candles channels (raw and throttled) receive the same messages,
// binary frames for the binary one: the snapshot, the candle in progress
// after each trade, a candle closed by the next minute's trade, and the
// snapshot that follows a redefinition of the scales.
func TestBinaryAndJSONCandlesAgree(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, `[["100.00","1.000"]]`, `[["101.00","1.000"]]`),
		candleTrade("BTC-USD", "1", "100.50", "1.000", "buy", 1767225600000003),
		candleTrade("BTC-USD", "2", "100.25", "2.000", "sell", 1767225600000004))
	s.sync(t)
	jc, _, _ := dialProtocols(t, s.url)
	bc, _, _ := dialProtocols(t, s.url, schemas.SubprotocolBinary)
	rj, rb := newReceived(), newReceived()
	for _, c := range []*wsClient{jc, bc} {
		c.sendText(`{"op":"subscribe","channel":"candles.BTC-USD","resolution":"1m","interval":"raw"}`)
	}
	collect(t, jc, rj, ws.OpText, 300*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 300*time.Millisecond)
	s.feed(candleTrade("BTC-USD", "3", "100.75", "0.500", "buy", 1767225610000000),
		candleTrade("BTC-USD", "4", "99999999.99", "999999.999", "buy", 1767225620000000), // a quote volume past 2^63 at scale 5
		candleTrade("BTC-USD", "5", "99999999.99", "999999.999", "buy", 1767225630000000),
		candleTrade("BTC-USD", "6", "101.00", "1.000", "sell", 1767225660000000)) // closes the first minute
	s.sync(t)
	collect(t, jc, rj, ws.OpText, 300*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 300*time.Millisecond)
	s.feed(instrument("BTC-USD", 4, 3), candleTrade("BTC-USD", "7", "100.1234", "0.500", "buy", 1767225670000000))
	s.sync(t)
	collect(t, jc, rj, ws.OpText, 300*time.Millisecond)
	collect(t, bc, rb, ws.OpBinary, 300*time.Millisecond)

	got := rb.msgs["candles.BTC-USD"]
	if !reflect.DeepEqual(rj.msgs, rb.msgs) {
		t.Fatalf("JSON subscriber got\n%+v\nbinary subscriber got\n%+v", rj.msgs["candles.BTC-USD"], got)
	}
	var snaps, finals int
	var sawBig bool
	for _, m := range got {
		if m.Snapshot {
			snaps++
		}
		for _, k := range m.Candles {
			if k.Final {
				finals++
			}
			sawBig = sawBig || k.QuoteVolume == "199999999780351.37502"
		}
	}
	// The subscribe's snapshot, 4 updates (the last with the closed
	// candle), the redefinition's snapshot and the first candle at the new
	// scales.
	if len(got) != 7 || snaps != 2 || finals != 1 || !sawBig {
		t.Fatalf("%d messages, %d snapshots, %d final candles, big quote volume %v: %+v", len(got), snaps, finals, sawBig, got)
	}
	if k := got[6].Candles; len(k) != 1 || k[0].Open != "100.1234" || k[0].QuoteVolume != "50.0617000" {
		t.Fatalf("the first candle at the new scales: %+v", got[6])
	}
}

// TestCandlesEncodeOncePerEncoding: a candles stream encodes each message
// once per encoding its subscribers use, the snapshot too (shared by the
// subscribers that join unchanged candles), and nothing for an encoding
// nobody uses.
func TestCandlesEncodeOncePerEncoding(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, `[["100.00","1.000"]]`, `[["101.00","1.000"]]`),
		candleTrade("BTC-USD", "1", "100.50", "1.000", "buy", 1767225600000003))
	s.sync(t)
	encoded := func(e schemas.Encoding) float64 { return testutil.ToFloat64(s.m.Encoded.WithLabelValues(e.String())) }
	sub := `{"op":"subscribe","channel":"candles.BTC-USD","resolution":"5m","interval":"raw"}`
	next := func(c *wsClient) []byte {
		for {
			m, raw, err := c.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == schemas.TypeCandles {
				return raw
			}
		}
	}
	join := func(n int, protocols ...string) ([]*wsClient, [][]byte) {
		var cs []*wsClient
		var snaps [][]byte
		for range n {
			c, _, _ := dialProtocols(t, s.url, protocols...)
			c.sendText(sub)
			snaps = append(snaps, next(c))
			cs = append(cs, c)
		}
		return cs, snaps
	}
	j0, b0 := encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	jsonSubs, _ := join(2)
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 1 || b != 0 {
		t.Fatalf("two JSON subscribers' snapshot: %v JSON and %v binary encodings, want 1 and 0", j, b)
	}
	j0, b0 = encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	binSubs, snaps := join(2, schemas.SubprotocolBinary)
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 0 || b != 1 {
		t.Fatalf("two binary subscribers' snapshot: %v JSON and %v binary encodings, want 0 and 1", j, b)
	}
	if !bytes.Equal(snaps[0], snaps[1]) || binSubs[1].op != ws.OpBinary {
		t.Fatalf("binary snapshots differ (opcode %v): %x and %x", binSubs[1].op, snaps[0], snaps[1])
	}

	j0, b0 = encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	const trades = 3
	for i := range trades {
		s.feed(candleTrade("BTC-USD", fmt.Sprint(10+i), "100.50", "1.000", "buy", 1767225600000010+int64(i)))
		s.sync(t)
	}
	var got [2][][]byte
	for i, c := range binSubs {
		for range trades {
			got[i] = append(got[i], next(c))
		}
	}
	for _, c := range jsonSubs {
		for range trades {
			next(c)
		}
	}
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != trades || b != trades {
		t.Fatalf("both encodings: %v JSON and %v binary encodings of %d updates, want %d each", j, b, trades, trades)
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("binary subscribers got different bytes:\n%x\n%x", got[0], got[1])
	}

	for _, c := range binSubs {
		c.nc.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.hub.ConnCount() != 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	s.sync(t)
	j0, b0 = encoded(schemas.EncodingJSON), encoded(schemas.EncodingBinary)
	s.feed(candleTrade("BTC-USD", "20", "100.50", "1.000", "buy", 1767225600000020))
	s.sync(t)
	for _, c := range jsonSubs {
		next(c)
	}
	if j, b := encoded(schemas.EncodingJSON)-j0, encoded(schemas.EncodingBinary)-b0; j != 1 || b != 0 {
		t.Fatalf("after the binary subscribers left: %v JSON and %v binary encodings, want 1 and 0", j, b)
	}
}
