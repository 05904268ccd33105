package fanout_test

import (
	"testing"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
)

// bboOf reduces a bbo message to what the test compares.
type bboOf struct {
	seq                    uint64
	bid, bidSz, ask, askSz string
}

func gotBBO(t *testing.T, m *schemas.ServerMessage) bboOf {
	t.Helper()
	if m.Type != schemas.TypeBBO {
		t.Fatalf("want bbo, got %+v", m)
	}
	return bboOf{m.Seq, m.Bid, m.BidSize, m.Ask, m.AskSize}
}

// TestBBORawAndStatus follows a raw bbo subscription through waiting, a
// snapshot, deltas that change the top and deltas that do not, a gap and
// the recovery.
func TestBBORawAndStatus(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("ETH-USD", 2, 4))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","id":1,"channel":"bbo.ETH-USD"}`)
	if m := c.next(); m.Type != schemas.TypeSubscribed || m.Interval != "raw" || m.Depth != 0 {
		t.Fatalf("want subscribed raw without depth, got %+v", m)
	}
	if m := c.next(); m.Type != schemas.TypeStatus || m.Channel != "bbo.ETH-USD" || m.Status != schemas.StatusWaiting {
		t.Fatalf("want waiting status, got %+v", m)
	}
	s.feed(snapshot("ETH-USD", 5, `[["10.00","1"],["9.00","2"]]`, `[["11.00","1"]]`))
	if g, w := gotBBO(t, c.next()), (bboOf{5, "10.00", "1.0000", "11.00", "1.0000"}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	// Seq 6 changes a level below the top: no bbo. Seq 7 empties the asks.
	s.feed(delta("ETH-USD", 6, `[["9.00","3"]]`, `[]`), delta("ETH-USD", 7, `[]`, `[["11.00","0"]]`))
	if g, w := gotBBO(t, c.next()), (bboOf{7, "10.00", "1.0000", "", ""}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	s.feed(delta("ETH-USD", 8, `[["10.00","1.5"]]`, `[]`))
	if g, w := gotBBO(t, c.next()), (bboOf{8, "10.00", "1.5000", "", ""}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	// A gap: the bbo says stale, then the recovered top, at once.
	s.feed(delta("ETH-USD", 10, `[["10.00","2"]]`, `[]`))
	if m := c.next(); m.Type != schemas.TypeStatus || m.Channel != "bbo.ETH-USD" || m.Status != schemas.StatusStale || m.Reason != schemas.ReasonGap {
		t.Fatalf("want stale gap, got %+v", m)
	}
	s.feed(snapshot("ETH-USD", 12, `[["10.00","1.5"]]`, `[["10.50","4"]]`))
	if g, w := gotBBO(t, c.next()), (bboOf{12, "10.00", "1.5000", "10.50", "4.0000"}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	// A second subscriber gets the current top on subscribe.
	d := dial(t, s.url)
	d.sendText(`{"op":"subscribe","channel":"bbo.ETH-USD","interval":"1s"}`)
	d.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSubscribed })
	if g, w := gotBBO(t, d.next()), (bboOf{12, "10.00", "1.5000", "10.50", "4.0000"}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
}

// TestBBOThrottled checks that a throttled bbo carries the top at the end
// of the interval, and nothing when the interval changed nothing at the
// top.
func TestBBOThrottled(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 1, 2), snapshot("BTC-USD", 1, `[["100.0","1"]]`, `[["101.0","1"]]`))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"bbo.BTC-USD","interval":"100ms"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSubscribed })
	if g, w := gotBBO(t, c.next()), (bboOf{1, "100.0", "1.00", "101.0", "1.00"}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	// Three tops in one batch (one flush at most sees the batch whole),
	// then a change below the top and a change that is undone.
	s.feed(delta("BTC-USD", 2, `[["100.5","1"]]`, `[]`), delta("BTC-USD", 3, `[["100.5","2"]]`, `[]`),
		delta("BTC-USD", 4, `[]`, `[["100.8","3"]]`))
	if g, w := gotBBO(t, c.next()), (bboOf{4, "100.5", "2.00", "100.8", "3.00"}); g != w {
		t.Fatalf("got %+v, want %+v", g, w)
	}
	s.feed(delta("BTC-USD", 5, `[["99.0","1"]]`, `[]`), delta("BTC-USD", 6, `[]`, `[["100.8","1"]]`),
		delta("BTC-USD", 7, `[]`, `[["100.8","3"]]`))
	s.sync(t)
	s.feed(delta("BTC-USD", 8, `[["100.5","5"]]`, `[]`))
	// Seq 5..7 may have been flushed apart (7's top equals 4's, 6's does
	// not): the stream may say 6 and 7, but its last word is seq 8.
	for {
		g := gotBBO(t, c.next())
		if g.seq == 8 {
			if w := (bboOf{8, "100.5", "5.00", "100.8", "3.00"}); g != w {
				t.Fatalf("got %+v, want %+v", g, w)
			}
			break
		}
		if g.seq == 5 || g.seq > 8 {
			t.Fatalf("unexpected bbo %+v", g)
		}
	}
}
