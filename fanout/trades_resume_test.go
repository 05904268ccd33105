package fanout_test

import (
	"fmt"
	"github.com/gobwas/ws"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// tradeAt is a trade record of sym with id "t<n>" at ts base+n.
func tradeAt(sym string, n int) string {
	return fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":"t%d","price":"100.%02d","size":"0.5","side":"buy"}`,
		sym, 1767225600000000+int64(n), n, n%100)
}

// tradesUntil reads c's trades messages until trade id last, checking
// that each message is a trades message of channel, all in frames of one
// opcode (one encoding); it returns the ids
// in order and the number of messages.
func tradesUntil(t *testing.T, c *wsClient, channel, last string) (ids []string, msgs int) {
	t.Helper()
	var op ws.OpCode
	for {
		m := c.next()
		if m.Type != schemas.TypeTrades || m.Channel != channel {
			t.Fatalf("unexpected message %+v", m)
		}
		if msgs > 0 && c.op != op {
			t.Fatalf("trades message %d in a frame of opcode %v after %v: catch-up and live in different encodings", msgs+1, c.op, op)
		}
		op = c.op
		msgs++
		for _, tr := range m.Trades {
			ids = append(ids, tr.ID)
		}
		if len(ids) > 0 && ids[len(ids)-1] == last {
			return ids, msgs
		}
	}
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint("t", i))
	}
	return out
}

// A trades subscription that resumes from a trade the history holds gets
// every later trade once, in order, then the live ones with no gap, at
// every interval, trades arriving during the resume included.
func TestTradesResumeFromHistory(t *testing.T) {
	for _, tc := range []struct{ iv, protocol string }{
		{"raw", ""}, {"100ms", ""}, {"1s", ""}, {"raw", schemas.SubprotocolBinary}, {"1s", schemas.SubprotocolBinary},
	} {
		iv := tc.iv
		t.Run(iv+"/"+tc.protocol, func(t *testing.T) {
			s := startServer(t, fanout.Config{})
			s.feed(instrument("BTC-USD", 2, 1))
			for i := 1; i <= 30; i++ {
				s.feed(tradeAt("BTC-USD", i))
			}
			s.sync(t)
			d := ws.Dialer{}
			if tc.protocol != "" {
				d.Protocols = []string{tc.protocol}
			}
			c := dialWith(t, d, s.url)
			fed := make(chan struct{})
			go func() {
				defer close(fed)
				for i := 31; i <= 60; i++ {
					s.feed(tradeAt("BTC-USD", i))
				}
			}()
			c.sendText(fmt.Sprintf(`{"op":"subscribe","id":7,"channel":"trades.BTC-USD","interval":%q,"resume":{"trades.BTC-USD":{"trade_id":"t12","ts":%d}}}`,
				iv, 1767225600000012))
			ack := c.next()
			if ack.Type != schemas.TypeSubscribed || ack.ID != 7 || ack.Resumed == nil || !*ack.Resumed || ack.ResumeReason != "" || ack.Interval != iv {
				t.Fatalf("ack %+v", ack)
			}
			<-fed
			ids, msgs := tradesUntil(t, c, "trades.BTC-USD", "t60")
			if want := idRange(13, 60); strings.Join(ids, ",") != strings.Join(want, ",") {
				t.Fatalf("trades after t12:\n got %v\nwant %v", ids, want)
			}
			if want := map[bool]ws.OpCode{false: ws.OpText, true: ws.OpBinary}[tc.protocol != ""]; c.op != want {
				t.Fatalf("catch-up in frames of opcode %v, want %v", c.op, want)
			}
			if iv == "raw" && msgs != len(ids) {
				t.Fatalf("raw: %d messages for %d trades", msgs, len(ids))
			}
			s.feed(tradeAt("BTC-USD", 61))
			if ids, _ := tradesUntil(t, c, "trades.BTC-USD", "t61"); len(ids) != 1 {
				t.Fatalf("live after the catch-up: %v", ids)
			}
		})
	}
}

// A position the history does not hold is refused with the reason
// history, and the subscription starts as a new one with the next trade.
func TestTradesResumeRefused(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 1))
	for i := 1; i <= 5; i++ {
		s.feed(tradeAt("BTC-USD", i))
	}
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":3,"channel":"trades.BTC-USD","resume":{"trades.BTC-USD":{"trade_id":"gone","ts":1767225600000004}}}`)
	ack := c.next()
	if ack.Type != schemas.TypeSubscribed || ack.Resumed == nil || *ack.Resumed || ack.ResumeReason != schemas.ResumeHistory {
		t.Fatalf("ack %+v", ack)
	}
	s.feed(tradeAt("BTC-USD", 6))
	if ids, _ := tradesUntil(t, c, "trades.BTC-USD", "t6"); len(ids) != 1 {
		t.Fatalf("after a refused position: %v", ids)
	}
	// A trade newer than any applied here comes from a replica ahead.
	ca := dial(t, s.url)
	ca.sendText(`{"op":"subscribe","id":5,"channel":"trades.BTC-USD","resume":{"trades.BTC-USD":{"trade_id":"t9","ts":1767225600000009}}}`)
	if ack := ca.next(); ack.Resumed == nil || *ack.Resumed || ack.ResumeReason != schemas.ResumeAhead {
		t.Fatalf("ack of a position ahead %+v", ack)
	}
	s.feed(tradeAt("BTC-USD", 7))
	if ids, _ := tradesUntil(t, ca, "trades.BTC-USD", "t7"); len(ids) != 1 {
		t.Fatalf("after a position ahead: %v", ids)
	}
	// Without a position, the ack has no resumed field.
	c2 := dial(t, s.url)
	c2.sendText(`{"op":"subscribe","id":4,"channel":"trades.BTC-USD","interval":"1s"}`)
	if ack := c2.next(); ack.Type != schemas.TypeSubscribed || ack.Resumed != nil {
		t.Fatalf("subscribe without a position: %+v", ack)
	}
}

// A position that lacks what the trades channel needs, or is malformed,
// is invalid_request for that channel, and nothing is subscribed.
func TestTradesResumeBadPositions(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 1))
	s.sync(t)
	c := dial(t, s.url)
	for _, pos := range []string{
		`{"epoch":1,"seq":5}`,
		`{}`,
		`{"trade_id":"t1"}`,
		`{"ts":5}`,
		`{"trade_id":"","ts":5}`,
		`{"trade_id":"t1","ts":-1}`,
		`{"trade_id":7,"ts":5}`,
		`[1]`,
	} {
		c.sendText(`{"op":"subscribe","id":9,"channel":"trades.BTC-USD","resume":{"trades.BTC-USD":` + pos + `}}`)
		m := c.next()
		if m.Type != schemas.TypeError || m.Code != schemas.CodeInvalidRequest || m.Channel != "trades.BTC-USD" || m.ID != 9 {
			t.Fatalf("position %s: %+v", pos, m)
		}
	}
	c.sendText(`{"op":"list","id":10}`)
	if m := c.next(); m.Type != schemas.TypeSubscriptions || len(m.Subscriptions) != 0 {
		t.Fatalf("subscriptions after bad positions: %+v", m)
	}
}
