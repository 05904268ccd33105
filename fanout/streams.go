package fanout

import (
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// bookStream is one distinct book output: a depth at an interval. Every
// message is encoded once and shared by all its subscribers.
type bookStream struct {
	depth int
	iv    schemas.Interval
	subs  subscribers
	// joining subscribers of a throttled stream wait for the next flush,
	// where their snapshot is taken at the same point as everybody's update.
	joining subscribers
	// resuming subscribers wait to join from their own seq (resume.go).
	resuming resumers
	// edge is the worst price inside the view at the last emission.
	edge [2]orderbook.Edge
	// emitted is the sequence the subscribers' views are at.
	emitted uint64
	// text is the subscribers' view as its checksum string; not valid
	// when the stream's view was moved on without a message.
	text viewText
}

// tickerStream is the ticker output at one interval.
type tickerStream struct {
	subs  subscribers
	dirty bool // changed since the last flush (throttled only)
}

// tradesStream is the trades output at one interval.
type tradesStream struct {
	subs    subscribers
	pending []tradeEntry // trades since the last flush (throttled only)
	// joining subscribers (throttled, resumed) wait for the next flush
	// with their catch-up (trades_resume.go).
	joining []tradeJoiner
}

// subscribe adds c's subscription s, acknowledges it, and sends the
// initial state: a book snapshot (at once for raw, at the next flush for a
// throttled stream) or a status when the book is not served; the current
// ticker; nothing for trades, which start with the next trade (attach,
// lag.go).
func (t *Streams) subscribe(c *Conn, s *subscription, id int64) {
	info := s.info()
	ack := &schemas.ServerMessage{Type: schemas.TypeSubscribed, ID: id, Channel: s.channel, Depth: info.Depth, Interval: info.Interval, Resolution: info.Resolution}
	resume := t.resumeAck(s, ack)
	if !c.enqueue(messageFrame(ack)) {
		return
	}
	if resume {
		t.attachResumed(c, s)
		return
	}
	t.attach(c, s)
}

// unsubscribe removes c's subscription s and, if ack, confirms it; nothing
// of that stream follows the confirmation.
func (t *Streams) unsubscribe(c *Conn, s *subscription, id int64, ack bool) {
	t.detach(c, s)
	if ack {
		c.send(&schemas.ServerMessage{Type: schemas.TypeUnsubscribed, ID: id, Channel: s.channel})
	}
}

// bookStream finds the stream for depth and interval, creating it when
// create is set.
func (t *Streams) bookStream(depth int, iv schemas.Interval, create bool) *bookStream {
	for _, bs := range t.books {
		if bs.depth == depth && bs.iv == iv {
			return bs
		}
	}
	if !create {
		return nil
	}
	bs := &bookStream{depth: depth, iv: iv, emitted: t.sym.Seq()}
	bs.edge = [2]orderbook.Edge{t.book.Edge(orderbook.Bid, depth), t.book.Edge(orderbook.Ask, depth)}
	t.sym.UseLog(iv)
	t.books = append(t.books, bs)
	return bs
}

func (t *Streams) dropBookStream(bs *bookStream) {
	for i, x := range t.books {
		if x == bs {
			t.books = append(t.books[:i], t.books[i+1:]...)
			t.sym.ReleaseLog(bs.iv)
			return
		}
	}
}
