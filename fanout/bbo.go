package fanout

import (
	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// bboStream is the bbo output at one interval: the book's best bid and
// ask, sent when either changes (raw) or at the end of each interval when
// it changed (throttled). Every message is encoded once and shared.
type bboStream struct {
	subs subscribers
	// top is the top of the book the stream's last bbo carried (ok: the
	// side had a level); sent is false before the first bbo and after a
	// status, when the next bbo is due whatever the top.
	top  bboTop
	sent bool
}

// bboTop is the best level of each side of a book; ok marks a side that
// has one.
type bboTop struct {
	level [2]orderbook.Level
	ok    [2]bool
}

// currentTop returns the book's top.
func (t *Streams) currentTop() bboTop {
	var b bboTop
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		b.level[side], b.ok[side] = t.book.Best(side)
	}
	return b
}

// bboFrame builds the bbo frame of top at the book's current seq.
func (t *Streams) bboFrame(top bboTop) []byte {
	var f frameBuilder
	f.begin(schemas.BBOMessageSize)
	f.b = schemas.AppendBBO(f.b, t.chBBO, t.sym.Seq(), t.sym.Epoch(), t.sym.BookTS(),
		top.level[orderbook.Bid], top.level[orderbook.Ask], top.ok[orderbook.Bid], top.ok[orderbook.Ask], t.sc())
	return f.finish(ws.OpText)
}

// bboEmit sends s the current top if it differs from the stream's last
// bbo, or whatever it is when force is set. The book is served.
func (t *Streams) bboEmit(s *bboStream, force bool) {
	if s == nil || s.subs.len() == 0 {
		return
	}
	top := t.currentTop()
	if s.sent && !force && top == s.top {
		return
	}
	f := t.bboFrames(top, s.subs.encodings())
	s.subs.sendFrames(&f, t.sym.BookTS())
	s.top, s.sent = top, true
}

// bboApplied sends the raw bbo stream the top after a delta of the
// served book, if it changed.
func (t *Streams) bboApplied() { t.bboEmit(t.bbo[schemas.Raw], false) }

// bboFlush sends the bbo stream of interval iv the top at the end of the
// interval, if it changed and the book is served.
func (t *Streams) bboFlush(iv schemas.Interval) {
	if t.sym.State() == market.Live {
		t.bboEmit(t.bbo[iv], false)
	}
}

// bboReset sends every bbo stream the top of a book replaced by a
// snapshot or served again, changed or not.
func (t *Streams) bboReset() {
	for _, s := range t.bbo {
		t.bboEmit(s, true)
	}
}

// bboNotServing sends every bbo stream the book's status: the book is
// not served. The next bbo follows when it is served again.
func (t *Streams) bboNotServing() {
	var set encSet
	for _, s := range t.bbo {
		if s != nil {
			set |= s.subs.encodings()
		}
	}
	f := t.statusFrames(t.chBBO, set)
	for _, s := range t.bbo {
		if s == nil || s.subs.len() == 0 {
			continue
		}
		s.subs.sendFrames(&f, -1)
		s.sent = false
	}
}

// attachBBO adds c's bbo subscription s to its stream and sends its
// initial state: the current top, or the book's status when it is not
// served. A subscriber whose initial state is refused is not attached.
func (t *Streams) attachBBO(c *Conn, s *subscription) {
	bs := t.bbo[s.interval]
	if bs == nil {
		bs = &bboStream{}
		t.bbo[s.interval] = bs
	}
	kind := stateKind(s.lag)
	if t.sym.State() != market.Live {
		if c.enqueueKind(t.statusFrameFor(t.chBBO, c), kind) {
			bs.subs.add(c, s.lag)
		}
	} else {
		top := t.currentTop()
		f := t.bboFrames(top, encOf(c.enc))
		if c.sendData(f.of(c), kind) {
			if bs.subs.len() == 0 {
				bs.top, bs.sent = top, true
			}
			bs.subs.add(c, s.lag)
		}
	}
	if bs.subs.len() == 0 {
		t.bbo[s.interval] = nil
	}
}

// detachBBO removes c's bbo subscription s from its stream.
func (t *Streams) detachBBO(c *Conn, s *subscription) {
	if bs := t.bbo[s.interval]; bs != nil {
		bs.subs.remove(c)
		if bs.subs.len() == 0 {
			t.bbo[s.interval] = nil
		}
	}
}
