package fanout_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/schemas"
)

// TestRateLimitedCarriesIDAndChannel: a command dropped by the rate limit
// is answered with rate_limited carrying its id, and its channel when it
// names exactly one, so that a client knows which command to send again.
func TestRateLimitedCarriesIDAndChannel(t *testing.T) {
	s := startServer(t, fanout.Config{MaxMessagesPerSecond: 2, MaxInvalidMessages: 100})
	s.feed(instrument("BTC-USD", 2, 3))
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"ping","id":1}`)
	c.sendText(`{"op":"ping","id":2}`) // the burst of 2 is spent
	c.sendText(`{"op":"subscribe","id":3,"channel":"trades.BTC-USD"}`)
	c.sendText(`{"op":"unsubscribe","id":4,"channels":["book.BTC-USD"]}`)
	c.sendText(`{"op":"subscribe","id":5,"channels":["book.BTC-USD","ticker.BTC-USD"]}`)
	c.sendText(`{"op":"ping","id":6}`)
	c.sendText(`{"op":"ping"}`)
	want := []struct {
		id      int64
		channel string
	}{{3, "trades.BTC-USD"}, {4, "book.BTC-USD"}, {5, ""}, {6, ""}, {0, ""}}
	for _, id := range []int64{1, 2} {
		if m := c.next(); m.Type != schemas.TypePong || m.ID != id {
			t.Fatalf("want pong %d, got %+v", id, m)
		}
	}
	for _, w := range want {
		m := c.next()
		if m.Type != schemas.TypeError || m.Code != schemas.CodeRateLimited || m.ID != w.id || m.Channel != w.channel {
			t.Fatalf("want rate_limited with id %d and channel %q, got %+v", w.id, w.channel, m)
		}
	}
}

// TestSubscribeRepliesInRequestOrder: the channels of one subscribe are
// answered in the order of the request, whichever shard owns each symbol
// and whether the answer is an acknowledgement or an error; each
// channel's initial state follows its acknowledgement. Replies to
// successive commands keep their order too.
func TestSubscribeRepliesInRequestOrder(t *testing.T) {
	s := startServer(t, fanout.Config{})
	// A second shard on the same hub owns ETH-USD: two owner goroutines.
	ctx, cancel := context.WithCancel(context.Background())
	in2 := make(chan feed.Batch, 1)
	sh2 := feed.NewShard(feed.ShardConfig{Listener: s.hub.NewGroup(), FlushEvery: 20 * time.Millisecond}, 1)
	done := make(chan struct{})
	go func() { sh2.Run(ctx, in2); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, bookBids, bookAsks))
	in2 <- feed.Batch{Records: []feed.Record{
		{Key: []byte("ETH-USD"), Value: []byte(instrument("ETH-USD", 2, 3))},
		{Key: []byte("ETH-USD"), Value: []byte(snapshot("ETH-USD", 1, bookBids, bookAsks))},
	}}
	s.sync(t)
	for s.hub.Streams("ETH-USD") == nil {
		time.Sleep(time.Millisecond)
	}
	channels := []string{"book.BTC-USD", "book.NOPE-USD", "trades.ETH-USD", "ticker.BTC-USD", "book.ETH-USD", "bok.X", "trades.BTC-USD", "ticker.ETH-USD"}
	want := []string{
		"subscribed book.BTC-USD", "snapshot book.BTC-USD",
		"error unknown_symbol book.NOPE-USD",
		"subscribed trades.ETH-USD",
		"subscribed ticker.BTC-USD", "ticker ticker.BTC-USD",
		"subscribed book.ETH-USD", "snapshot book.ETH-USD",
		"error unknown_channel bok.X",
		"subscribed trades.BTC-USD",
		"subscribed ticker.ETH-USD", "ticker ticker.ETH-USD",
		"error already_subscribed book.BTC-USD",
		"unsubscribed book.ETH-USD",
		"subscribed book.ETH-USD", "snapshot book.ETH-USD",
		"pong",
	}
	for round := range 10 {
		c := dial(t, s.url)
		c.sendText(fmt.Sprintf(`{"op":"subscribe","id":1,"channels":["%s"]}`, strings.Join(channels, `","`)))
		c.sendText(`{"op":"subscribe","id":2,"channel":"book.BTC-USD"}`)
		c.sendText(`{"op":"unsubscribe","id":3,"channel":"book.ETH-USD"}`)
		c.sendText(`{"op":"subscribe","id":4,"channel":"book.ETH-USD"}`)
		c.sendText(`{"op":"ping","id":5}`)
		var got []string
		for len(got) < len(want) {
			m := c.next()
			g := m.Type + " " + m.Channel
			if m.Type == schemas.TypeError {
				g = m.Type + " " + m.Code + " " + m.Channel
			}
			got = append(got, strings.TrimSpace(g))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("round %d: replies\n%s\nwant\n%s", round, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		c.nc.Close()
	}
}
