package fanout

import (
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// resync validates a resync of one channel and hands it to the symbol's
// owner, which sends the subscription a fresh snapshot.
func (c *Conn) resync(id int64, channel string) bool {
	c.smu.Lock()
	s, ok := c.subs[channel]
	c.smu.Unlock()
	if !ok {
		c.sendError(id, schemas.CodeNotSubscribed, "not subscribed to "+channel, channel)
		return false
	}
	if s.kind != schemas.ChannelBook {
		c.sendError(id, schemas.CodeInvalidRequest, "resync applies to book channels only", channel)
		return false
	}
	// Posted without smu: a subscription ended meanwhile (Recheck) is left
	// out, as its unsubscribe may reach the owner first.
	s.streams.post(func() {
		if !s.gone.Load() {
			s.streams.resync(c, s)
		}
	})
	c.hub.metrics.Resyncs.Inc()
	return true
}

// resync sends c's book subscription s a fresh snapshot of its view,
// consistent with the stream: a raw stream's snapshot is taken now at the
// sequence the stream's views are at; a throttled subscriber rejoins the
// stream and gets its snapshot at the next flush, where everybody's update
// is taken, and no update in between. When the book is not served the
// subscriber gets the status; the snapshot follows on recovery.
func (t *Streams) resync(c *Conn, s *subscription) {
	bs := t.bookStream(s.depth, s.interval, false)
	if bs == nil {
		return // unsubscribed meanwhile
	}
	if bs.resuming.remove(c) {
		bs.subs.add(c, s.lag) // it asks for a snapshot instead
	}
	switch {
	case t.sym.State() != market.Live:
		c.enqueueKind(t.statusFrameFor(t.chBook, c), stateKind(s.lag))
	case s.interval == schemas.Raw:
		c.sendData(t.snapshotFrameFor(bs, c), stateKind(s.lag))
	case bs.subs.remove(c):
		bs.joining.add(c, s.lag)
	default:
		// Already joining (or gone): a snapshot is on its way.
	}
}
