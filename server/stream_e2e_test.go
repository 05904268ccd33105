package server_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// startServer runs a server consuming b from its earliest records; stop
// shuts it down (clients get close 1001) and may be called more than once.
func startServer(t *testing.T, b *broker.Broker) (*server.Server, func()) {
	t.Helper()
	return runServer(t, server.Config{Feed: feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest}})
}

// streamRecorder runs a client.Stream and records the verified views it
// sees, the events that tell how it healed, and its last synced seq.
type streamRecorder struct {
	channel string
	depth   int

	mu        sync.Mutex
	views     []view
	last      view
	kinds     map[client.EventKind]int
	stale     int
	closeCode map[int]int
	notices   int // disconnections ahead of an announced close
}

func (r *streamRecorder) handle(ev *client.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[ev.Kind]++
	switch ev.Kind {
	case client.EventBook:
		if ev.Channel == r.channel && ev.Book.Synced() {
			v := view{seq: ev.Book.Seq(), bids: ev.Book.Bids(), asks: ev.Book.Asks()}
			r.views = append(r.views, v)
			r.last = v
		}
	case client.EventStatus:
		if ev.Msg.Status == schemas.StatusStale {
			r.stale++
		}
	case client.EventDisconnected:
		var ce *client.CloseError
		switch {
		case errors.As(ev.Err, &ce):
			r.closeCode[ce.Code]++
		case errors.Is(ev.Err, client.ErrNotice):
			r.notices++ // left ahead of an announced close
		}
	}
	return nil
}

func (r *streamRecorder) lastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last.seq
}

// TestStreamHealsAgainstRealServer runs client.Streams through a proxy
// that swallows a book update (a gap the client sees), cuts every
// connection, and is then pointed at a second server while the first one
// shuts down (a shutdown notice, then close 1001); meanwhile the exchange itself skips a delta (the
// server goes stale and recovers at the next snapshot). With no help from
// the handler, every book each Stream reports as synced equals the
// reference replay at its seq, and the final books equal the server's.
func TestStreamHealsAgainstRealServer(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srvA, stopA := startServer(t, b)
	srvB, _ := startServer(t, b)
	w := producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: "marketdata"})
	t.Cleanup(func() { w.Close() })
	envA := &env{broker: b, srv: srvA, writer: w}
	envB := &env{broker: b, srv: srvB, writer: w}

	ex := sim.New(sim.Config{Symbols: 3, Seed: 7})
	symbols := ex.Symbols()
	now := time.Now()
	rep := newReplay(50)
	produce := func(msgs []sim.Message) {
		for _, m := range msgs {
			rep.apply(t, m.Value)
		}
		envA.produce(t, msgs)
	}
	produce(ex.Snapshots(now, nil))
	envA.waitLive(t, symbols)
	envB.waitLive(t, symbols)

	proxy := newWSProxy(t, srvA.Addr())
	recs := []*streamRecorder{
		{channel: "book." + symbols[0], depth: 10},
		{channel: "book." + symbols[1], depth: 50},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range recs {
		r.kinds, r.closeCode = map[client.EventKind]int{}, map[int]int{}
		s, err := client.NewStream(client.StreamConfig{
			URL: proxy.url(), APIKey: "test-key", RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
			Subscriptions: []client.Subscription{
				{Channel: r.channel, Depth: r.depth, Interval: "raw"},
				{Channel: "trades." + r.channel[len("book."):]},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, r.handle); err != nil {
				t.Errorf("%s: Run = %v", r.channel, err)
			}
		}()
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitUntil("the first books", func() bool { return recs[0].lastSeq() > 0 && recs[1].lastSeq() > 0 })

	// events produces n exchange events in batches; skip drops the first
	// delta of skipSym from what is published (the reference applies it).
	events := func(n int, skipSym string) {
		var batch []sim.Message
		for i := range n {
			now = now.Add(time.Millisecond)
			batch = ex.Next(now, batch)
			if len(batch) >= 100 || i == n-1 {
				for _, m := range batch {
					rep.apply(t, m.Value)
				}
				if skipSym != "" {
					for i, m := range batch {
						if string(m.Key) == skipSym && bytes.HasPrefix(m.Value, []byte(`{"type":"delta"`)) {
							batch = append(batch[:i:i], batch[i+1:]...)
							skipSym = ""
							break
						}
					}
				}
				envA.produce(t, batch)
				batch = batch[:0]
			}
		}
	}

	// 1. A book update swallowed on the way: the client sees a gap.
	events(300, "")
	proxy.dropNext(`"type":"update"`, `"channel":"`+recs[0].channel+`"`)
	events(300, "")
	waitUntil("the swallowed update", func() bool { return !proxy.dropPending() })
	// 2. Every connection cut.
	events(300, "")
	if n := proxy.kill(); n == 0 {
		t.Errorf("no connection to cut")
	}
	// 3. The exchange skips a delta; its next snapshot heals the server.
	events(300, symbols[1])
	events(300, "")
	produce(ex.Snapshots(now, nil))
	// 4. The server shuts down and a second one takes over.
	events(300, "")
	proxy.retarget(srvB.Addr())
	stopA()
	events(300, "")

	final := map[string]uint64{}
	for _, sym := range symbols {
		final[sym] = rep.seq[sym]
	}
	for _, r := range recs {
		sym := r.channel[len("book."):]
		waitUntil(r.channel+" at the final seq", func() bool { return r.lastSeq() == final[sym] })
	}
	cancel()
	wg.Wait()

	for _, r := range recs {
		sym := r.channel[len("book."):]
		for _, v := range r.views {
			want, ok := rep.views[sym][v.seq]
			if !ok {
				t.Fatalf("%s: synced at seq %d, which the reference never reached", r.channel, v.seq)
			}
			want = truncate(want, r.depth)
			if !reflect.DeepEqual(v.bids, want.bids) || !reflect.DeepEqual(v.asks, want.asks) {
				t.Fatalf("%s at seq %d:\n got bids %v asks %v\nwant bids %v asks %v", r.channel, v.seq, v.bids, v.asks, want.bids, want.asks)
			}
		}
		// The server's own view now: a fresh subscription's snapshot.
		fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := client.Dial(fctx, "ws://"+srvB.Addr()+"/ws", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		book := client.NewBook(r.channel)
		if err := conn.Subscribe(1, []string{r.channel}, r.depth, "raw"); err != nil {
			t.Fatal(err)
		}
		for !book.Synced() {
			m, err := conn.Next(fctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := book.Apply(m); err != nil {
				t.Fatal(err)
			}
		}
		fcancel()
		conn.Close()
		if book.Seq() != r.last.seq || !reflect.DeepEqual(book.Bids(), r.last.bids) || !reflect.DeepEqual(book.Asks(), r.last.asks) {
			t.Errorf("%s: local book at seq %d differs from the server's at seq %d", r.channel, r.last.seq, book.Seq())
		}
		t.Logf("%s: %d synced views checked; events %v; closes %v; stale %d", r.channel, len(r.views), r.kinds, r.closeCode, r.stale)
		// The shutdown announces itself (a notice, then 1001): the Stream
		// leaves on the notice, or on the close if it comes first.
		if r.kinds[client.EventDisconnected] < 2 || r.closeCode[1001]+r.notices < 1 {
			t.Errorf("%s: %d disconnections (closes %v, notices %d), want a cut and the shutdown", r.channel,
				r.kinds[client.EventDisconnected], r.closeCode, r.notices)
		}
	}
	if recs[0].kinds[client.EventResync] < 1 {
		t.Errorf("%s: no resync after the swallowed update", recs[0].channel)
	}
	if recs[1].stale < 1 {
		t.Errorf("%s: the exchange's gap was not reported as stale", recs[1].channel)
	}
}
