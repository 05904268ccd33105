package wsconn

import (
	"math/rand/v2"
	"time"

	"github.com/marketfeed/marketfeed/schemas"
)

// startLifetime arms the connection's lifetime: a notice (the frame the
// transport's lifetimeNotice builds) LifetimeNotice before the end, then a
// close with 4005. The lifetime is spread by ±10 % so that connections
// opened together do not all reconnect together.
func (c *Conn) startLifetime() {
	cfg := &c.t.cfg
	if cfg.MaxLifetime <= 0 {
		return
	}
	spread := time.Duration(float64(cfg.MaxLifetime) * (0.9 + 0.2*rand.Float64()))
	notice := cfg.LifetimeNotice
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.lifetime = time.AfterFunc(spread-notice, func() {
		if c.t.notice != nil {
			c.Send(c.t.notice(notice), Keep)
		}
		c.lmu.Lock()
		c.lifetime = time.AfterFunc(notice, func() {
			c.CloseWith(schemas.CloseLifetime, "connection lifetime reached", "lifetime")
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
