package fanout

import (
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// startPinger starts, once, the hub's pinger: one goroutine that queues a
// ping on every connection each PingInterval, so that connections need no
// timer of their own, and closes (4000) every polled connection from which
// no frame arrived for IdleTimeout (a connection with a read goroutine
// enforces it with its read deadline). It stops at Shutdown.
func (h *Hub) startPinger() {
	h.pingOnce.Do(func() { go h.pingLoop() })
}

// idleChecks is how many times per IdleTimeout the pinger looks for idle
// polled connections: one is closed at most IdleTimeout/idleChecks late.
const idleChecks = 8

func (h *Hub) pingLoop() {
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	idle := time.NewTicker(max(h.cfg.IdleTimeout/idleChecks, time.Millisecond))
	defer idle.Stop()
	for {
		select {
		case <-h.stopPing:
			return
		case <-t.C:
			h.mu.RLock()
			for c := range h.conns {
				c.enqueue(pingFrame) // lock-free; never blocks
			}
			h.mu.RUnlock()
		case <-idle.C:
			h.closeIdle()
		}
	}
}

// closeIdle closes the polled connections silent for longer than
// IdleTimeout.
func (h *Hub) closeIdle() {
	now, limit := h.clock(), int64(h.cfg.IdleTimeout)
	h.mu.RLock()
	for c := range h.conns {
		if c.idleFor(now, limit) {
			c.closeWith(schemas.CloseIdleTimeout, "idle timeout", "idle_timeout") // never blocks
		}
	}
	h.mu.RUnlock()
}
