package wsconn

import (
	"math/bits"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// startPinger starts, once, the transport's pinger: one goroutine that queues a
// ping on every connection each PingInterval, so that connections need no
// timer of their own, and closes (4000) every polled connection from which
// no frame arrived for IdleTimeout (a connection with a read goroutine
// enforces it with its read deadline). It stops at Shutdown.
//
// Pings are staggered: the interval is cut into pingSlots steps, each
// connection has a slot of its own (given in accept order, see pingSlot,
// so that connections spread evenly over the slots), and each step pings
// the connections of one slot. A connection is still pinged once per PingInterval, but
// connections are never pinged all at once: a burst of thousands of
// writes would delay every delivery behind it.
func (t *Transport) startPinger() {
	t.pingOnce.Do(func() { go t.pingLoop() })
}

// pingSlots is how many steps a ping interval is cut into; a power of
// two.
const pingSlots = 256

// pingSlot returns the slot of the n-th connection: n's low bits reversed,
// so that any run of consecutive connections spreads over the whole
// interval (0, 128, 64, 192, 32, ...), not over its first steps.
func pingSlot(n uint64) uint32 {
	return uint32(bits.Reverse64(n) >> (64 - bits.Len(pingSlots-1)))
}

// idleChecks is how many times per IdleTimeout the pinger looks for idle
// polled connections: one is closed at most IdleTimeout/idleChecks late.
const idleChecks = 8

func (t *Transport) pingLoop() {
	// One slot a step, or several when a step would be under a
	// millisecond (short intervals, as in tests).
	per := 1
	for per < pingSlots && t.cfg.PingInterval*time.Duration(per)/pingSlots < time.Millisecond {
		per *= 2
	}
	tick := time.NewTicker(max(t.cfg.PingInterval*time.Duration(per)/pingSlots, time.Millisecond))
	defer tick.Stop()
	idle := time.NewTicker(max(t.cfg.IdleTimeout/idleChecks, time.Millisecond))
	defer idle.Stop()
	var slot uint32
	for {
		select {
		case <-t.stopPing:
			return
		case <-tick.C:
			t.mu.RLock()
			for range per {
				for c := range t.bySlot[slot] {
					c.Send(pingFrame, Keep) // lock-free; never blocks
				}
				slot = (slot + 1) % pingSlots
			}
			t.mu.RUnlock()
		case <-idle.C:
			t.closeIdle()
		}
	}
}

// closeIdle closes the polled connections silent for longer than
// IdleTimeout.
func (t *Transport) closeIdle() {
	now, limit := t.clock(), int64(t.cfg.IdleTimeout)
	t.mu.RLock()
	for i := range t.bySlot {
		for c := range t.bySlot[i] {
			if c.idleFor(now, limit) {
				c.CloseWith(schemas.CloseIdleTimeout, "idle timeout", "idle_timeout") // never blocks
			}
		}
	}
	t.mu.RUnlock()
}
