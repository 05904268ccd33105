package fanout

import (
	"math/rand/v2"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// startLifetime arms the connection's lifetime: a notice LifetimeNotice
// before the end, then a close with 4005. The lifetime is spread by ±10 %
// so that connections opened together do not all reconnect together.
func (c *Conn) startLifetime() {
	cfg := &c.hub.cfg
	if cfg.MaxLifetime <= 0 {
		return
	}
	spread := time.Duration(float64(cfg.MaxLifetime) * (0.9 + 0.2*rand.Float64()))
	notice := cfg.LifetimeNotice
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.lifetime = time.AfterFunc(spread-notice, func() {
		c.send(&schemas.ServerMessage{
			Type:      schemas.TypeNotice,
			Code:      schemas.NoticeLifetime,
			Message:   "connection lifetime reached; reconnect within " + notice.String(),
			CloseInMS: notice.Milliseconds(),
			TS:        time.Now().UnixMicro(),
		})
		c.lmu.Lock()
		c.lifetime = time.AfterFunc(notice, func() {
			c.closeWith(schemas.CloseLifetime, "connection lifetime reached", "lifetime")
		})
		c.lmu.Unlock()
	})
}

// stopLifetime disarms the lifetime timers of a connection that ended.
func (c *Conn) stopLifetime() {
	c.lmu.Lock()
	if c.lifetime != nil {
		c.lifetime.Stop()
	}
	c.lmu.Unlock()
}

// noticeShutdown tells the client the server is going away; the close
// with 1001 follows it in the same queue.
func (c *Conn) noticeShutdown() {
	c.send(&schemas.ServerMessage{
		Type:    schemas.TypeNotice,
		Code:    schemas.NoticeShutdown,
		Message: "server shutting down; reconnect",
		TS:      time.Now().UnixMicro(),
	})
}
