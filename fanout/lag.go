package fanout

import (
	"sync"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
)

// Conflation on lag. Books, bbo and tickers are state: a subscriber that falls
// behind needs the current state, not every step. Their subscriptions
// conflate by default ("lag":"snapshot"); trades, control-plane messages
// and subscriptions made with "lag":"evict" are never dropped.
//
// A connection is behind when a state frame would take its unsent bytes
// past MaxQueueBytes/2, or when the oldest unsent frame is older than
// MaxQueueAge/2 (the transport's writer checks, package wsconn). If it has
// subscriptions that conflate (wsconn.Handler's Conflates), it skips ahead:
//
//  1. the transport sets lagging (one compare-and-swap) and skipAhead
//     starts on a goroutine of its own (wsconn.Handler's Lag); from then
//     on every state frame offered to the connection is refused, and a
//     subscriber set that has a frame refused drops the connection
//     (subscribers.send), so nothing of those streams after the first
//     refused frame is ever queued.
//  2. skipAhead detaches each conflating subscription from its stream on
//     the stream's owner goroutine and waits until all are detached: no
//     owner enqueues anything of those streams afterwards, and frames an
//     owner was enqueueing when lagging was set are in the queue.
//  3. It then queues a fence (wsconn.Conn.Fence). The writer drops every
//     state frame it pops while lagging (and those of its batch not yet
//     begun); when it pops the fence, no state frame is left before it. If
//     the fence is not reached within WriteTimeout, the client is evicted.
//  4. Fence clears lagging and skipAhead, on each owner, attaches every current
//     conflating subscription again, as a new subscriber without
//     acknowledgement: a raw book stream sends a snapshot at once, a
//     throttled one at its next flush, a ticker its current state.
//
// Trades and the other frames keep flowing meanwhile. What the client
// received of each state stream before the drop is a contiguous prefix
// (frames are written in order, none is queued after the first refused),
// so it sees updates up to some seq, then a snapshot that replaces its
// book. A connection is evicted (4001) only when what is never dropped
// passes MaxQueueBytes, or its oldest unsent frame MaxQueueAge.
//
// A subscribe that runs on its owner while the connection is lagging has
// its initial state refused and is not attached; the reader published it
// in lagSubs before posting it, so step 4 attaches it.

// updateLagSet publishes the connection's subscriptions that conflate on
// lag, nil if there are none. Read goroutine only.
func (c *Conn) updateLagSet() {
	var list []*subscription
	for _, s := range c.subs {
		if s.lag {
			list = append(list, s)
		}
	}
	if len(list) == 0 {
		c.lagSubs.Store(nil)
		return
	}
	c.lagSubs.Store(&list)
}

// skipAhead runs steps 2 to 4 above (wsconn.Handler's Lag, on a
// goroutine of its own; the transport has set lagging).
func (c *Conn) skipAhead() {
	var subs []*subscription
	if p := c.lagSubs.Load(); p != nil {
		subs = *p
	}
	var wg sync.WaitGroup
	for _, s := range subs {
		wg.Add(1)
		if !s.streams.post(func() { s.streams.detach(c, s); wg.Done() }) {
			wg.Done()
		}
	}
	wg.Wait()
	if !c.ws.Fence() {
		return // closed or evicted meanwhile
	}
	c.hub.metrics.LagSnapshots.Inc()
	// Subscriptions made while lagging were not attached by their owners
	// (their initial state was refused); they are attached here with the
	// others. The reader published them before posting.
	p := c.lagSubs.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.streams.post(func() { s.streams.reattach(c, s) })
	}
}

// detach removes c's subscription s from its stream (unsubscribe, and a
// skip-ahead of a state subscription before it attaches again). Owner
// goroutine.
func (t *Streams) detach(c *Conn, s *subscription) {
	switch s.kind {
	case schemas.ChannelBook:
		if bs := t.bookStream(s.depth, s.interval, false); bs != nil {
			if !bs.subs.remove(c) && !bs.joining.remove(c) {
				bs.resuming.remove(c)
			}
			if bs.subs.len()+bs.joining.len()+len(bs.resuming) == 0 {
				t.dropBookStream(bs)
			}
		}
	case schemas.ChannelBBO:
		t.detachBBO(c, s)
	case schemas.ChannelCandles:
		t.detachCandles(c, s)
	case schemas.ChannelTicker:
		if ts := t.tickers[s.interval]; ts != nil {
			ts.subs.remove(c)
			if ts.subs.len() == 0 {
				t.tickers[s.interval] = nil
			}
		}
	case schemas.ChannelTrades:
		if tr := t.trades[s.interval]; tr != nil {
			if !tr.subs.remove(c) {
				tr.removeJoiner(c)
			}
			if !tr.active() {
				t.trades[s.interval] = nil
			}
		}
	}
}

// reattach adds c's subscription s to its stream again, with a fresh
// state, unless s has ended or c is closing. Owner goroutine.
func (t *Streams) reattach(c *Conn, s *subscription) {
	if s.gone.Load() || c.isClosing() {
		return
	}
	t.detach(c, s) // attached meanwhile by a subscribe that raced the skip-ahead
	t.attach(c, s)
}

// attach adds c's subscription s to its stream and sends its initial
// state (see subscribe). A subscriber whose initial state is refused is
// not attached: a skip-ahead will attach it. Owner goroutine.
func (t *Streams) attach(c *Conn, s *subscription) {
	kind := stateKind(s.lag)
	switch s.kind {
	case schemas.ChannelBook:
		bs := t.bookStream(s.depth, s.interval, true)
		switch {
		case t.sym.State() != market.Live:
			if c.enqueueKind(t.statusFrameFor(t.chBook, c), kind) {
				bs.subs.add(c, s.lag)
			}
		case s.interval == schemas.Raw:
			if c.sendData(t.snapshotFrameFor(bs, c), kind) {
				bs.subs.add(c, s.lag)
			}
		default:
			bs.joining.add(c, s.lag)
		}
		if bs.subs.len()+bs.joining.len()+len(bs.resuming) == 0 {
			t.dropBookStream(bs)
		}
	case schemas.ChannelBBO:
		t.attachBBO(c, s)
	case schemas.ChannelCandles:
		t.attachCandles(c, s)
	case schemas.ChannelTicker:
		ts := t.tickers[s.interval]
		if ts == nil {
			ts = &tickerStream{}
			t.tickers[s.interval] = ts
		}
		// A ticker that reflects no event yet is not sent; its first
		// message follows with the first event.
		if f, ok := t.tickerFrames(encOf(c.enc)); !ok || c.sendData(f.of(c), kind) {
			ts.subs.add(c, s.lag)
		}
		if ts.subs.len() == 0 {
			t.tickers[s.interval] = nil
		}
	case schemas.ChannelTrades:
		tr := t.trades[s.interval]
		if tr == nil {
			tr = &tradesStream{}
			t.trades[s.interval] = tr
		}
		tr.subs.add(c, false)
	}
}
