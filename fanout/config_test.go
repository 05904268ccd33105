package fanout_test

import (
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
)

// The zero Config takes the session's and the transport's named
// defaults, and Validate refuses what either part refuses.
func TestConfigDefaultsAndValidation(t *testing.T) {
	c := fanout.Config{}.WithDefaults()
	if c.MaxSubscriptions != fanout.DefaultMaxSubscriptions || c.MaxMessagesPerSecond != fanout.DefaultMaxMessagesPerSecond ||
		c.MaxInvalidMessages != fanout.DefaultMaxInvalidMessages || c.PingInterval != wsconn.DefaultPingInterval ||
		c.IdleTimeout != wsconn.DefaultIdleTimeout || c.MaxQueueBytes != wsconn.DefaultMaxQueueBytes ||
		c.QueueFrames != wsconn.DefaultQueueFrames || c.CloseLinger != wsconn.DefaultCloseLinger || c.Logger == nil {
		t.Fatalf("defaults %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := (fanout.Config{QueueFrames: 100}).WithDefaults().QueueFrames; got != 128 {
		t.Fatalf("QueueFrames 100 rounds to %d, want 128", got)
	}
	for name, bad := range map[string]fanout.Config{
		"idle not above ping": {PingInterval: time.Minute, IdleTimeout: time.Minute},
		"tiny messages":       {MaxMessageSize: 10},
		"tiny queue":          {MaxQueueBytes: 100},
		"negative conns":      {MaxConnections: -1},
		"negative subs":       {MaxSubscriptions: -1},
	} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if _, err := fanout.NewHub(bad, nil); err == nil {
			t.Errorf("%s: NewHub accepted it", name)
		}
	}
}
