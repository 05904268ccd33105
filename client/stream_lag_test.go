package client

import (
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client/internal/wstest"
	"github.com/marketfeed/marketfeed/schemas"
)

// TestStreamSendsLag checks that a Subscription's lag policy reaches the
// subscribe command, with its other options.
func TestStreamSendsLag(t *testing.T) {
	got := make(chan map[string]any, 1)
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		cmd := expectCmd(t, p, "subscribe", "book.BTC-USD")
		got <- cmd
		p.WaitClosed()
	})
	runStream(t, StreamConfig{URL: s.URL, Subscriptions: []Subscription{
		{Channel: "book.BTC-USD", Depth: 5, Interval: "1s", Lag: schemas.LagEvict}}}, newEventLog().handle)
	select {
	case cmd := <-got:
		if cmd["lag"] != schemas.LagEvict || cmd["depth"] != 5.0 || cmd["interval"] != "1s" {
			t.Errorf("subscribe %v, want depth 5, interval 1s, lag evict", cmd)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no subscribe command")
	}
}
