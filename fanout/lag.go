package fanout

import (
	"sync"
	"time"
)

// The snapshot lag policy. A connection whose subscriptions are all book
// subscriptions made with "lag":"snapshot" is not evicted when it exceeds
// its queue budget. Instead:
//
//  1. The enqueue that finds the budget exceeded sets lagging (one
//     compare-and-swap) and starts skipAhead on a goroutine of its own;
//     from then on every frame offered to the connection is dropped, so
//     nothing after the first dropped frame is ever queued.
//  2. skipAhead detaches each subscription from its stream on the stream's
//     owner goroutine and waits until all are detached: no owner enqueues
//     anything of those streams afterwards.
//  3. The writer discards every frame it pops while lagging; skipAhead
//     waits until the queue is empty (the write in progress, if any, has
//     ended). If it cannot empty within MaxQueueAge (or WriteTimeout if shorter),
//     the client is evicted.
//  4. skipAhead clears lagging and, on each owner, attaches every current
//     subscription again, as a new subscriber without acknowledgement: a
//     raw stream sends a snapshot at once, a throttled one at its next
//     flush.
//
// What the client received before the drop is a contiguous prefix of each
// stream (frames are written in order, and none is queued after the first
// drop), so it sees updates up to some seq, then a snapshot that replaces
// its book.

// updateLagSet publishes the connection's subscriptions if every one of
// them allows a skip-ahead, nil otherwise. Read goroutine only.
func (c *Conn) updateLagSet() {
	if len(c.subs) == 0 {
		c.lagSubs.Store(nil)
		return
	}
	list := make([]*subscription, 0, len(c.subs))
	for _, s := range c.subs {
		if !s.lag {
			c.lagSubs.Store(nil)
			return
		}
		list = append(list, s)
	}
	c.lagSubs.Store(&list)
}

// skipAhead runs steps 2 to 4 above.
func (c *Conn) skipAhead() {
	subs := c.lagSubs.Load()
	if subs == nil { // the connection is ending
		c.evict()
		return
	}
	var wg sync.WaitGroup
	for _, s := range *subs {
		wg.Add(1)
		if !s.topic.post(func() { s.topic.detach(c, s); wg.Done() }) {
			wg.Done()
		}
	}
	wg.Wait()
	deadline := time.Now().Add(c.hub.writeBudget)
	for c.queued.Load() != 0 && c.closing.Load() == nil {
		if time.Now().After(deadline) {
			c.evict()
			return
		}
		c.kick()
		time.Sleep(time.Millisecond)
	}
	if c.closing.Load() != nil {
		return
	}
	c.hub.metrics.LagSnapshots.Inc()
	c.lagging.Store(false)
	// Subscriptions made while lagging were refused by their owners
	// (their acknowledgement could not be queued); they are attached here
	// with the others. The reader published them before posting.
	subs = c.lagSubs.Load()
	if subs == nil {
		return
	}
	for _, s := range *subs {
		s.topic.post(func() { s.topic.reattach(c, s) })
	}
}

// detach removes c's book subscription s from its stream. Owner goroutine.
func (t *Topic) detach(c *Conn, s *subscription) {
	if bs := t.bookStream(s.depth, s.interval, false); bs != nil {
		if !bs.subs.remove(c) {
			bs.joining.remove(c)
		}
		if bs.subs.len()+bs.joining.len() == 0 {
			t.dropBookStream(bs)
		}
	}
}

// reattach adds c's book subscription s to its stream again, with a fresh
// snapshot, unless s has ended or c is closing. Owner goroutine.
func (t *Topic) reattach(c *Conn, s *subscription) {
	if s.gone.Load() || c.isClosing() {
		return
	}
	t.detach(c, s) // attached meanwhile by a subscribe that raced the skip-ahead
	bs := t.bookStream(s.depth, s.interval, true)
	switch {
	case t.state != Live:
		if c.enqueue(t.statusFrame()) {
			bs.subs.add(c)
		}
	case s.interval == Raw:
		if c.sendData(t.snapshotFrame(bs)) {
			bs.subs.add(c)
		}
	default:
		bs.joining.add(c)
	}
	if bs.subs.len()+bs.joining.len() == 0 {
		t.dropBookStream(bs)
	}
}
