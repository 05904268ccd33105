package fanout_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	bookBids = `[["100.00","1.000"],["99.50","2.000"],["99.00","3.000"]]`
	bookAsks = `[["100.50","1.500"],["101.00","2.500"]]`
)

func TestSubscribeSnapshotThenUpdates(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)

	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":7,"channel":"book.BTC-USD","depth":1}`)
	ack := c.next()
	if ack.Type != schemas.TypeSubscribed || ack.ID != 7 || ack.Channel != "book.BTC-USD" || ack.Depth != 1 || ack.Interval != "raw" {
		t.Fatalf("ack %+v", ack)
	}
	snap := c.next()
	if snap.Type != schemas.TypeSnapshot || snap.Seq != 10 ||
		!reflect.DeepEqual(snap.Bids, [][2]string{{"100.00", "1.000"}}) || !reflect.DeepEqual(snap.Asks, [][2]string{{"100.50", "1.500"}}) {
		t.Fatalf("snapshot %+v", snap)
	}

	// Delete the best bid: 99.50 enters the depth-1 view.
	s.feed(delta("BTC-USD", 11, `[["100.00","0"]]`, `[]`))
	u := c.next()
	if u.Type != schemas.TypeUpdate || u.FirstSeq != 11 || u.Seq != 11 ||
		!reflect.DeepEqual(u.Bids, [][2]string{{"100.00", "0.000"}, {"99.50", "2.000"}}) || len(u.Asks) != 0 {
		t.Fatalf("update %+v", u)
	}
	// A change outside the view sends nothing; the next visible one covers
	// both, and a better ask pushes the old best out of the view.
	s.feed(delta("BTC-USD", 12, `[["98.00","5"]]`, `[]`), delta("BTC-USD", 13, `[]`, `[["100.25","0.5"]]`))
	u = c.next()
	if u.FirstSeq != 12 || u.Seq != 13 || !reflect.DeepEqual(u.Asks, [][2]string{{"100.25", "0.500"}, {"100.50", "0.000"}}) {
		t.Fatalf("update %+v", u)
	}
}

func TestBadClientMessages(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	s.sync(t)

	// A bystander streams throughout and must see every event in order.
	by := dial(t, s.url)
	by.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1}`)
	by.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	c := dial(t, s.url)
	tests := []struct {
		name, msg, code string
	}{
		{"invalid json", `{"op":`, schemas.CodeInvalidJSON},
		{"not an object", `[1,2]`, schemas.CodeInvalidRequest},
		{"unknown op", `{"op":"dance","id":3}`, schemas.CodeUnknownOp},
		{"missing channel", `{"op":"subscribe"}`, schemas.CodeInvalidRequest},
		{"unknown channel kind", `{"op":"subscribe","channel":"klines.BTC-USD"}`, schemas.CodeUnknownChannel},
		{"malformed channel", `{"op":"subscribe","channel":"book"}`, schemas.CodeUnknownChannel},
		{"unknown symbol", `{"op":"subscribe","channel":"book.NOPE-USD"}`, schemas.CodeUnknownSymbol},
		{"bad depth", `{"op":"subscribe","channel":"book.BTC-USD","depth":7}`, schemas.CodeInvalidDepth},
		{"bad interval", `{"op":"subscribe","channel":"book.BTC-USD","interval":"5ms"}`, schemas.CodeInvalidInterval},
		{"bad resolution", `{"op":"subscribe","channel":"candles.BTC-USD","resolution":"4h"}`, schemas.CodeInvalidResolution},
		{"not subscribed", `{"op":"unsubscribe","channel":"book.BTC-USD"}`, schemas.CodeNotSubscribed},
	}
	seq := 1
	for _, tt := range tests {
		c.sendText(tt.msg)
		m := c.next()
		if m.Type != schemas.TypeError || m.Code != tt.code || m.Message == "" {
			t.Errorf("%s: got %+v, want error %s", tt.name, m, tt.code)
		}
		seq++
		s.feed(delta("BTC-USD", seq, fmt.Sprintf(`[["100.00","%d"]]`, seq), `[]`))
	}
	// The connection still works after all that.
	c.sendText(`{"op":"subscribe","id":9,"channel":"ticker.BTC-USD"}`)
	if m := c.next(); m.Type != schemas.TypeSubscribed || m.ID != 9 {
		t.Fatalf("subscribe after errors: %+v", m)
	}
	c.sendText(`{"op":"subscribe","id":10,"channel":"ticker.BTC-USD"}`)
	c.until(func(m *schemas.ServerMessage) bool {
		return m.Type == schemas.TypeError && m.Code == schemas.CodeAlreadySubscribed && m.ID == 10
	})

	last := uint64(1)
	for last < uint64(seq) {
		m := by.next()
		if m.Type != schemas.TypeUpdate {
			continue
		}
		if m.FirstSeq != last+1 {
			t.Fatalf("bystander gap: have %d, got %d..%d", last, m.FirstSeq, m.Seq)
		}
		last = m.Seq
	}
	if got := testutil.ToFloat64(s.m.ClientErrors.WithLabelValues(schemas.CodeUnknownOp)); got != 1 {
		t.Errorf("unknown_op errors counted %v, want 1", got)
	}
}

func TestCloseCodes(t *testing.T) {
	s := startServer(t, fanout.Config{MaxInvalidMessages: 3, Transport: wsconn.Config{MaxMessageSize: 1024}})
	s.feed(instrument("BTC-USD", 2, 3))
	s.sync(t)

	t.Run("oversized frame 1009", func(t *testing.T) {
		c := dial(t, s.url)
		c.sendText(`{"op":"ping","pad":"` + strings.Repeat("x", 2000) + `"}`)
		c.expectClose(schemas.CloseMessageTooBig)
	})
	t.Run("binary frame 1003", func(t *testing.T) {
		c := dial(t, s.url)
		c.sendFrame(ws.OpBinary, []byte{1, 2, 3})
		c.expectClose(schemas.CloseUnsupportedData)
	})
	t.Run("invalid utf-8 1007", func(t *testing.T) {
		c := dial(t, s.url)
		c.sendFrame(ws.OpText, []byte("{\"op\":\"ping\xff\"}"))
		c.expectClose(schemas.CloseInvalidPayload)
	})
	t.Run("too many invalid 4002", func(t *testing.T) {
		c := dial(t, s.url)
		for range 3 {
			c.sendText(`nonsense`)
		}
		c.expectClose(schemas.CloseTooManyErrors)
	})
	t.Run("client close is echoed", func(t *testing.T) {
		c := dial(t, s.url)
		c.sendFrame(ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
		c.expectClose(ws.StatusNormalClosure)
	})
	t.Run("ping op", func(t *testing.T) {
		c := dial(t, s.url)
		c.sendText(`{"op":"ping","id":5}`)
		if m := c.next(); m.Type != schemas.TypePong || m.ID != 5 || m.TS == 0 {
			t.Fatalf("pong %+v", m)
		}
	})
}

// A client sending faster than MaxMessagesPerSecond gets rate_limited for
// the excess (counted as invalid), and is served again once the bucket
// refills.
func TestInboundRateLimit(t *testing.T) {
	s := startServer(t, fanout.Config{MaxMessagesPerSecond: 10, MaxInvalidMessages: 100})
	c := dial(t, s.url)
	for i := 1; i <= 25; i++ {
		c.sendText(fmt.Sprintf(`{"op":"ping","id":%d}`, i))
	}
	pongs, limited := 0, 0
	for pongs+limited < 25 {
		switch m := c.next(); {
		case m.Type == schemas.TypePong:
			pongs++
		case m.Type == schemas.TypeError && m.Code == schemas.CodeRateLimited:
			limited++
		}
	}
	// A burst of 10, plus what refilled while the 25 arrived.
	if pongs < 10 || pongs > 13 || limited != 25-pongs {
		t.Errorf("%d pongs and %d rate_limited errors of 25 pings at a limit of 10/s", pongs, limited)
	}
	time.Sleep(300 * time.Millisecond) // refills 3 tokens
	c.sendText(`{"op":"ping","id":99}`)
	if m := c.next(); m.Type != schemas.TypePong || m.ID != 99 {
		t.Errorf("after the refill: %+v", m)
	}
	if got := testutil.ToFloat64(s.m.ClientErrors.WithLabelValues(schemas.CodeRateLimited)); got != float64(limited) {
		t.Errorf("rate_limited errors counted %v, want %d", got, limited)
	}
}

// MaxSubscriptions bounds a connection's subscriptions: one more is refused
// with too_many_subscriptions, and room made by an unsubscribe can be used.
func TestMaxSubscriptions(t *testing.T) {
	s := startServer(t, fanout.Config{MaxSubscriptions: 2})
	s.feed(instrument("BTC-USD", 2, 3))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":1,"channels":["ticker.BTC-USD","trades.BTC-USD","book.BTC-USD"]}`)
	c.until(func(m *schemas.ServerMessage) bool {
		return m.Type == schemas.TypeError && m.ID == 1 && m.Code == schemas.CodeTooManySubscriptions && m.Channel == "book.BTC-USD"
	})
	c.sendText(`{"op":"unsubscribe","id":2,"channel":"trades.BTC-USD"}`)
	c.sendText(`{"op":"subscribe","id":3,"channel":"book.BTC-USD"}`)
	c.until(func(m *schemas.ServerMessage) bool {
		return m.Type == schemas.TypeSubscribed && m.ID == 3 && m.Channel == "book.BTC-USD"
	})
	if got := testutil.ToFloat64(s.m.ClientErrors.WithLabelValues(schemas.CodeTooManySubscriptions)); got != 1 {
		t.Errorf("too_many_subscriptions errors counted %v, want 1", got)
	}
}

func TestIdleClientIsClosed(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{PingInterval: 50 * time.Millisecond, IdleTimeout: 300 * time.Millisecond}})
	c := dial(t, s.url)
	time.Sleep(600 * time.Millisecond) // neither reads nor answers pings
	c.expectClose(schemas.CloseIdleTimeout)
}

func TestWaitingStaleAndRecovery(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("ETH-USD", 2, 4))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.ETH-USD","depth":5}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSubscribed })
	if m := c.next(); m.Type != schemas.TypeStatus || m.Status != schemas.StatusWaiting {
		t.Fatalf("want waiting status, got %+v", m)
	}
	// A delta before any snapshot is not served.
	s.feed(delta("ETH-USD", 4, `[["10.00","1"]]`, `[]`))
	s.feed(snapshot("ETH-USD", 5, `[["10.00","1"]]`, `[["11.00","1"]]`))
	if m := c.next(); m.Type != schemas.TypeSnapshot || m.Seq != 5 {
		t.Fatalf("want snapshot 5, got %+v", m)
	}
	// A gap: the book goes stale and nothing of it is served.
	s.feed(delta("ETH-USD", 7, `[["10.00","2"]]`, `[]`), delta("ETH-USD", 8, `[["10.00","3"]]`, `[]`))
	if m := c.next(); m.Type != schemas.TypeStatus || m.Status != schemas.StatusStale {
		t.Fatalf("want stale status, got %+v", m)
	}
	s.feed(snapshot("ETH-USD", 8, `[["10.00","3"]]`, `[["11.00","1"]]`))
	if m := c.next(); m.Type != schemas.TypeSnapshot || m.Seq != 8 || m.Bids[0] != [2]string{"10.00", "3.0000"} {
		t.Fatalf("want recovery snapshot 8, got %+v", m)
	}
	s.feed(delta("ETH-USD", 9, `[["10.00","4"]]`, `[]`))
	if m := c.next(); m.Type != schemas.TypeUpdate || m.FirstSeq != 9 {
		t.Fatalf("want update 9, got %+v", m)
	}
}

func TestTradesAndTicker(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("SOL-USD", 3, 2), snapshot("SOL-USD", 1, `[["150.000","10"]]`, `[["150.100","4"]]`))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channels":["trades.SOL-USD","ticker.SOL-USD"],"interval":"raw"}`)
	var tick *schemas.ServerMessage
	for tick == nil {
		if m := c.next(); m.Type == schemas.TypeTicker {
			tick = m
		}
	}
	if tick.Bid != "150.000" || tick.BidSize != "10.00" || tick.Ask != "150.100" || tick.Last != "" {
		t.Fatalf("initial ticker %+v", tick)
	}
	s.feed(trade("SOL-USD", "t1", "150.1", "1.5", "buy"), trade("SOL-USD", "t2", "150.000", "0.25", "sell"))
	var trades []schemas.TradeMessage
	for len(trades) < 2 || tick.Count < 2 {
		m := c.next()
		switch m.Type {
		case schemas.TypeTrades:
			trades = append(trades, m.Trades...)
		case schemas.TypeTicker:
			tick = m
		}
	}
	want := []schemas.TradeMessage{
		{ID: "t1", TS: 1767225600000003, Price: "150.100", Size: "1.50", Side: "buy"},
		{ID: "t2", TS: 1767225600000003, Price: "150.000", Size: "0.25", Side: "sell"},
	}
	if !reflect.DeepEqual(trades, want) {
		t.Fatalf("trades %+v", trades)
	}
	if tick.Last != "150.000" || tick.LastSize != "0.25" || tick.Open != "150.100" || tick.High != "150.100" ||
		tick.Low != "150.000" || tick.Volume != "1.75" || tick.QuoteVolume != "262.65000" || tick.Change != "-0.100" {
		t.Fatalf("ticker %+v", tick)
	}
}

func TestThrottledBookNetChanges(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":5,"interval":"100ms"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSubscribed })
	snap := c.next()
	if snap.Type != schemas.TypeSnapshot {
		t.Fatalf("want snapshot, got %+v", snap)
	}
	// 50 events inside one flush period: a level bounces and ends where it
	// was, another ends changed.
	var vals []string
	seq := int(snap.Seq)
	for i := 1; i <= 50; i++ {
		size := "1"
		if i%2 == 1 {
			size = "7"
		}
		vals = append(vals, delta("BTC-USD", seq+i, fmt.Sprintf(`[["100.00","%s"]]`, size), fmt.Sprintf(`[["101.00","%d"]]`, i)))
	}
	s.feed(vals...)
	u := c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeUpdate && m.Seq == uint64(seq+50) })
	// A batch is applied between two flushes, so one update covers it all.
	if u.FirstSeq != snap.Seq+1 {
		t.Fatalf("update range %d..%d after snapshot %d", u.FirstSeq, u.Seq, snap.Seq)
	}
	if len(u.Bids) != 0 || !reflect.DeepEqual(u.Asks, [][2]string{{"101.00", "50.000"}}) {
		t.Fatalf("net change %+v", u)
	}
}

// TestTickerUnknownValues: websocket.md 5.8 leaves a value out when it is
// unknown. Before the symbol has a snapshot or a trade, a ticker subscriber
// gets no ticker at all (it would say nothing, with a ts of no event); with
// a trade at price 0 opening the window, change is sent and change_pct,
// 100 × change / open, is left out, at every interval.
func TestTickerUnknownValues(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("ZRO-USD", 2, 0))
	s.sync(t)
	var cs []*wsClient
	for _, iv := range []string{"raw", "100ms", "1s"} {
		c := dial(t, s.url)
		c.sendText(`{"op":"subscribe","id":1,"channel":"ticker.ZRO-USD","interval":"` + iv + `"}`)
		cs = append(cs, c)
	}
	time.Sleep(1200 * time.Millisecond) // past every interval's flush
	for _, c := range cs {
		c.sendText(`{"op":"ping","id":4}`)
		for {
			m, raw, err := c.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == schemas.TypePong {
				break
			}
			if m.Type != schemas.TypeSubscribed {
				t.Fatalf("before any snapshot or trade: %s", raw)
			}
		}
	}
	s.feed(trade("ZRO-USD", "t1", "0.00", "3", "buy"), trade("ZRO-USD", "t2", "0.05", "1", "sell"))
	for _, c := range cs {
		for {
			m, raw, err := c.read(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != schemas.TypeTicker || m.Count != 2 {
				continue
			}
			if m.TS != 1767225600000003 || m.Open != "0.00" || m.Change != "0.05" || bytes.Contains(raw, []byte("change_pct")) {
				t.Fatalf("ticker at open 0: %s", raw)
			}
			break
		}
	}
}
