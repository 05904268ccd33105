package fanout

import "time"

// startPinger starts, once, the hub's pinger: one goroutine that queues a
// ping on every connection each PingInterval, so that connections need no
// timer of their own. It stops at Shutdown.
func (h *Hub) startPinger() {
	h.pingOnce.Do(func() { go h.pingLoop() })
}

func (h *Hub) pingLoop() {
	t := time.NewTicker(h.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stopPing:
			return
		case <-t.C:
		}
		h.mu.RLock()
		for c := range h.conns {
			c.enqueue(pingFrame) // lock-free; never blocks
		}
		h.mu.RUnlock()
	}
}
