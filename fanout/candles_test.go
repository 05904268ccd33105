package fanout_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestLagCandles has a client with a raw candles subscription stop reading
// while trades arrive fast. It is not evicted: its queued candles are
// dropped and the subscription restarts from a fresh snapshot, so the
// candle in progress it sees only grows (one trade per update before the
// drop, a jump at the snapshot) and ends with every trade.
func TestLagCandles(t *testing.T) {
	const trades = 3000
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 64 << 10, WriteTimeout: 20 * time.Second}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, `[["100.00","1.000"]]`, `[["101.00","1.000"]]`))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"candles.BTC-USD","resolution":"15m","interval":"raw"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeCandles && m.Snapshot })
	for i := 1; i <= trades; i++ {
		s.feed(trade("BTC-USD", fmt.Sprint(i), "100.50", "1.000", "buy"))
		if i%100 == 0 {
			s.sync(t)
		}
	}
	s.sync(t)
	var count int64
	snaps, updates := 0, 0
	for count < trades {
		m, _, err := c.read(30 * time.Second)
		if err != nil {
			t.Fatalf("after %d candles messages: %v", snaps+updates, err)
		}
		if m.Type != schemas.TypeCandles {
			continue
		}
		if m.Resolution != "15m" || len(m.Candles) != 1 {
			t.Fatalf("candles message %+v", m)
		}
		k := m.Candles[0]
		switch {
		case m.Snapshot:
			snaps++
			if k.Count <= count {
				t.Fatalf("snapshot with %d trades after %d", k.Count, count)
			}
		case k.Count != count+1:
			t.Fatalf("update with %d trades after %d: a lost update", k.Count, count)
		default:
			updates++
		}
		count = k.Count
		if want := fmt.Sprintf("%d.000", count); k.Volume != want || k.Final || k.Start != 1767225600000000 {
			t.Fatalf("candle %+v, want volume %s in progress", k, want)
		}
	}
	if n := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); n != 0 {
		t.Fatalf("%v slow-consumer evictions, want none", n)
	}
	if testutil.ToFloat64(s.m.LagSnapshots) < 1 || snaps < 1 {
		t.Fatalf("%v skip-aheads, %d snapshots: the client never lagged", testutil.ToFloat64(s.m.LagSnapshots), snaps)
	}
	t.Logf("%d snapshots and %d updates for %d trades", snaps, updates, trades)
	c.sendText(`{"op":"ping","id":7}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypePong })
}

// TestCompressedTickers: clients that negotiated permessage-deflate get
// the same tickers messages as a plain client, compressed.
func TestCompressedTickers(t *testing.T) {
	s := startServer(t, fanout.Config{})
	for i := range 8 {
		sym := fmt.Sprintf("S%d-USD", i)
		s.feed(instrument(sym, 2, 3), snapshot(sym, 1, `[["100.00","1.000"]]`, `[["101.00","2.000"]]`),
			trade(sym, "1", "100.50", "1.500", "buy"))
	}
	s.sync(t)
	plain := dial(t, s.url)
	zs := []*rawClient{dialDeflate(t, s.url), dialDeflate(t, s.url)}
	sub := `{"op":"subscribe","channel":"tickers","interval":"100ms"}`
	plain.sendText(sub)
	for _, z := range zs {
		z.next() // welcome
		z.sendCompressed(sub)
	}
	byTS := map[int64][]byte{}
	for len(byTS) < 4 {
		m, raw, err := plain.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeTickers && len(m.Tickers) == 8 {
			byTS[m.TS] = raw
		}
	}
	for i, z := range zs {
		matched := 0
		for range 4 {
			raw := z.next()
			var m schemas.ServerMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if p, ok := byTS[m.TS]; ok && m.Type == schemas.TypeTickers {
				if !bytes.Equal(p, raw) {
					t.Fatalf("client %d: plain %s\ncompressed %s", i, p, raw)
				}
				matched++
			}
		}
		if matched == 0 || z.deflated == 0 {
			t.Fatalf("client %d: %d messages matched, %d compressed frames", i, matched, z.deflated)
		}
	}
}

// TestCandlesSnapshotAndRedefinition: subscribers joining unchanged
// candles get the same snapshot bytes, with the trades so far; a
// redefinition of the instrument's scales starts the candles anew, with
// a snapshot, and the next trade opens a candle at the new scales.
func TestCandlesSnapshotAndRedefinition(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, `[["100.00","1.000"]]`, `[["101.00","1.000"]]`),
		trade("BTC-USD", "1", "100.50", "1.000", "buy"), trade("BTC-USD", "2", "100.25", "2.000", "sell"))
	s.sync(t)
	var raws [][]byte
	var a *wsClient
	for range 2 {
		c := dial(t, s.url)
		c.sendText(`{"op":"subscribe","channel":"candles.BTC-USD","resolution":"1h","interval":"raw"}`)
		for {
			m, raw, err := c.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == schemas.TypeCandles {
				if !m.Snapshot || len(m.Candles) != 1 || m.Candles[0].Count != 2 || m.Candles[0].Close != "100.25" || m.WindowStart != 1767225600000001 {
					t.Fatalf("snapshot %s", raw)
				}
				raws = append(raws, raw)
				break
			}
		}
		if a == nil {
			a = c
		}
	}
	if !bytes.Equal(raws[0], raws[1]) {
		t.Fatalf("snapshots differ:\n%s\n%s", raws[0], raws[1])
	}
	s.feed(instrument("BTC-USD", 4, 3))
	m := a.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeCandles })
	if !m.Snapshot || len(m.Candles) != 0 || m.Resolution != "1h" {
		t.Fatalf("after the redefinition: %+v", m)
	}
	s.feed(trade("BTC-USD", "3", "100.1234", "0.500", "buy"))
	m = a.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeCandles })
	if m.Snapshot || len(m.Candles) != 1 || m.Candles[0].Open != "100.1234" || m.Candles[0].QuoteVolume != "50.0617000" || m.Candles[0].Count != 1 {
		t.Fatalf("the first candle at the new scales: %+v", m)
	}
}
