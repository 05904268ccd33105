package fanout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// readFrameStrict reads one whole server frame; a connection that ends
// inside a frame is an error, as a client sees it.
func readFrameStrict(c *wsClient, timeout time.Duration) (ws.Frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	f, err := ws.ReadFrame(c.br)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return f, fmt.Errorf("connection ended without a close frame: %w", err)
	}
	return f, err
}

// TestBurstReadingClientKeepsStream: a catch-up burst (as after a broker
// outage) of updates on five symbols reaches a client that reads as fast
// as it can, through a ring of only 16 frames. The ring is not a budget:
// the client, which asked never to be conflated ("lag":"evict"), is not
// evicted and receives every update in order.
func TestBurstReadingClientKeepsStream(t *testing.T) {
	const perSymbol = 2000
	syms := []string{"AAA-USD", "BBB-USD", "CCC-USD", "DDD-USD", "EEE-USD"}
	s := startServer(t, fanout.Config{Transport: wsconn.Config{QueueFrames: 16}})
	for _, sym := range syms {
		s.feed(instrument(sym, 2, 3), snapshot(sym, 1, bookBids, bookAsks))
	}
	s.sync(t)
	c := dial(t, s.url)
	c.sendText(`{"op":"subscribe","channels":["book.AAA-USD","book.BBB-USD","book.CCC-USD","book.DDD-USD","book.EEE-USD"],"depth":1,"lag":"evict"}`)
	for range syms {
		c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	}
	// One burst: every symbol's updates in a single batch.
	var recs []string
	for i := 2; i <= perSymbol+1; i++ {
		for _, sym := range syms {
			recs = append(recs, delta(sym, i, fmt.Sprintf(`[["100.00","%d.000"]]`, i), `[]`))
		}
	}
	s.feed(recs...)
	last := map[string]uint64{}
	for _, sym := range syms {
		last["book."+sym] = 1
	}
	for done := 0; done < len(syms); {
		f, err := readFrameStrict(c, 10*time.Second)
		if err != nil {
			t.Fatalf("after %v: %v", last, err)
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			t.Fatalf("reading client closed %d %q (at %v)", code, reason, last)
		case ws.OpText:
		default:
			continue
		}
		var m schemas.ServerMessage
		if err := json.Unmarshal(f.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type != schemas.TypeUpdate {
			t.Fatalf("unexpected %s", f.Payload)
		}
		if m.FirstSeq != last[m.Channel]+1 {
			t.Fatalf("%s: update %d..%d after %d", m.Channel, m.FirstSeq, m.Seq, last[m.Channel])
		}
		last[m.Channel] = m.Seq
		if m.Seq == perSymbol+1 {
			done++
		}
	}
	if n := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); n != 0 {
		t.Fatalf("%v evictions", n)
	}
}

// TestSlowReaderGetsCloseFrame: a client that reads, but only 50 messages
// a second of depth-1000 books, and will not be conflated ("lag":"evict"),
// falls behind its budget. It is evicted with a close frame 4001 that
// follows whole frames: every frame it reads is complete, and the last is
// the close frame, not a connection cut inside a frame.
func TestSlowReaderGetsCloseFrame(t *testing.T) {
	const levels = 1000
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueAge: time.Second, SocketSendBuffer: 32 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, levels, 0))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1000,"lag":"evict"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // about 200 snapshots of 40 KB a second
		defer wg.Done()
		for i := 2; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			s.feed(bigSnapshot("BTC-USD", i, levels, i))
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	start := time.Now()
	frames := 0
	for {
		f, err := readFrameStrict(c, 20*time.Second)
		if err != nil {
			t.Fatalf("after %d frames in %v: %v", frames, time.Since(start), err)
		}
		frames++
		if f.Header.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != schemas.CloseSlowConsumer {
				t.Fatalf("close %d %q, want %d", code, reason, schemas.CloseSlowConsumer)
			}
			t.Logf("closed %d %q after %d frames in %v", code, reason, frames, time.Since(start))
			break
		}
		if f.Header.OpCode == ws.OpText && !json.Valid(f.Payload) {
			t.Fatalf("frame %d is not a whole message", frames)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); n != 1 {
		t.Fatalf("%v slow-consumer disconnects, want 1", n)
	}
}

// bookCheck follows one book channel as a client does: updates must
// continue the view (first_seq = previous seq + 1), a snapshot may jump
// ahead, and every snapshot must hold the book of its seq (round v sets
// the best bid's size to v+1).
type bookCheck struct {
	last, snaps, updates uint64
}

func (b *bookCheck) message(t *testing.T, m *schemas.ServerMessage, levels int) {
	t.Helper()
	switch m.Type {
	case schemas.TypeSnapshot:
		b.snaps++
		if m.Seq < b.last {
			t.Fatalf("snapshot at seq %d after seq %d", m.Seq, b.last)
		}
		if want := fmt.Sprintf("%d.000", m.Seq+1); len(m.Bids) != levels || m.Bids[0][1] != want {
			t.Fatalf("snapshot at seq %d: %d levels, best bid size %s, want %d and %s", m.Seq, len(m.Bids), m.Bids[0][1], levels, want)
		}
	case schemas.TypeUpdate:
		b.updates++
		if m.FirstSeq != b.last+1 {
			t.Fatalf("update %d-%d after seq %d: a gap", m.FirstSeq, m.Seq, b.last)
		}
	default:
		return
	}
	b.last = m.Seq
}

// slowFeed feeds rounds deltas of the 100-level book, about one a
// millisecond, and a trade every tradeEvery deltas (none if 0); it
// returns the number of trades.
func slowFeed(s *testServer, rounds, tradeEvery int) int {
	trades := 0
	for i := 2; i <= rounds+1; i++ {
		recs := []string{delta("BTC-USD", i, roundLevels(100, i), "[]")}
		if tradeEvery > 0 && i%tradeEvery == 0 {
			trades++
			recs = append(recs, trade("BTC-USD", fmt.Sprint(trades), "10000.00", "0.001", "buy"))
		}
		s.feed(recs...)
		time.Sleep(time.Millisecond)
	}
	return trades
}

// TestLagConflatesSlowReader: a client that reads, but about a tenth of
// what its book and raw ticker subscriptions carry, with the default lag
// policy. It is never evicted: its book skips ahead to fresh snapshots,
// what it sees is a correct stream (contiguous updates, snapshots of the
// right seq), it ends at the book's last seq, and its ticker ends at the
// book's last best bid.
func TestLagConflatesSlowReader(t *testing.T) {
	const rounds = 2500
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 512 << 10, MaxQueueAge: time.Second, SocketSendBuffer: 16 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, roundLevels(100, 1), `[["10001.00","1.000"]]`))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100}`)
	var b bookCheck
	b.message(t, c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot }), 100)
	c.sendText(`{"op":"subscribe","channel":"ticker.BTC-USD","interval":"raw"}`)

	go slowFeed(s, rounds, 0)
	// Round v sets the best bid's size to v+1.
	tickers, lastBid, final := 0, "", fmt.Sprintf("%d.000", rounds+2)
	for b.last < rounds+1 || lastBid != final {
		m, _, err := c.read(20 * time.Second)
		if err != nil {
			t.Fatalf("at seq %d, ticker bid size %s: %v", b.last, lastBid, err)
		}
		switch m.Channel {
		case "book.BTC-USD":
			b.message(t, m, 100)
		case "ticker.BTC-USD":
			if m.Type == schemas.TypeTicker {
				tickers++
				lastBid = m.BidSize
			}
		}
		time.Sleep(3 * time.Millisecond)
	}
	if n := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); n != 0 {
		t.Fatalf("%v evictions, want none", n)
	}
	if n := testutil.ToFloat64(s.m.LagSnapshots); n < 1 {
		t.Fatal("no conflation: the test did not exercise it")
	}
	t.Logf("%v conflations; the client saw %d snapshots, %d updates and %d tickers", testutil.ToFloat64(s.m.LagSnapshots), b.snaps, b.updates, tickers)
}

// TestLagKeepsTrades: the slow reader also subscribes to the symbol's
// trades. Its book conflates as before; its trades are never dropped: it
// receives every trade, in order, and is not evicted, since the trades
// alone fit its budget.
func TestLagKeepsTrades(t *testing.T) {
	const rounds = 2500
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 512 << 10, MaxQueueAge: time.Second, SocketSendBuffer: 16 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, roundLevels(100, 1), `[["10001.00","1.000"]]`))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"],"depth":100}`)
	var b bookCheck
	b.message(t, c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot }), 100)

	ntrades := make(chan int, 1)
	go func() { ntrades <- slowFeed(s, rounds, 25) }()
	var got []string
	for b.last < rounds+1 || len(got) < rounds/25 {
		m, _, err := c.read(20 * time.Second)
		if err != nil {
			t.Fatalf("at seq %d, %d trades: %v", b.last, len(got), err)
		}
		switch m.Channel {
		case "book.BTC-USD":
			b.message(t, m, 100)
		case "trades.BTC-USD":
			for _, tr := range m.Trades {
				got = append(got, tr.ID)
			}
		}
		time.Sleep(3 * time.Millisecond)
	}
	n := <-ntrades
	for i, id := range got {
		if id != fmt.Sprint(i+1) {
			t.Fatalf("trade %d has id %s: trades lost or reordered (%s)", i+1, id, strings.Join(got[max(0, i-3):i+1], ","))
		}
	}
	if len(got) != n {
		t.Fatalf("%d trades received, %d sent", len(got), n)
	}
	if v := testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")); v != 0 {
		t.Fatalf("%v evictions, want none", v)
	}
	if v := testutil.ToFloat64(s.m.LagSnapshots); v < 1 {
		t.Fatal("no conflation: the test did not exercise it")
	}
	t.Logf("%v conflations; %d snapshots, %d updates, %d trades", testutil.ToFloat64(s.m.LagSnapshots), b.snaps, b.updates, len(got))
}

// TestLagTradesTooSlowEvicted: when the trades alone outrun the slow
// reader, conflating its book is not enough: it is evicted with 4001, in a
// close frame that follows whole frames.
func TestLagTradesTooSlowEvicted(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueBytes: 512 << 10, MaxQueueAge: time.Second, SocketSendBuffer: 16 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 1, roundLevels(100, 1), `[["10001.00","1.000"]]`))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channels":["book.BTC-USD","trades.BTC-USD"],"depth":100}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // 20 trades a millisecond or so, with the book changing
		defer wg.Done()
		id := strings.Repeat("x", 50)
		for i := 2; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			recs := []string{delta("BTC-USD", i, roundLevels(100, i), "[]")}
			for k := range 20 {
				recs = append(recs, trade("BTC-USD", fmt.Sprintf("%d-%d-%s", i, k, id), "10000.00", "0.001", "buy"))
			}
			s.feed(recs...)
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for frames := 0; ; frames++ {
		f, err := readFrameStrict(c, 20*time.Second)
		if err != nil {
			t.Fatalf("after %d frames: %v", frames, err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != schemas.CloseSlowConsumer {
				t.Fatalf("close %d %q, want %d", code, reason, schemas.CloseSlowConsumer)
			}
			break
		}
		if f.Header.OpCode == ws.OpText && !json.Valid(f.Payload) {
			t.Fatalf("frame %d is not a whole message", frames)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPingsStaggered: connections are pinged at phases of their own,
// spread over the ping interval, not all at once; each is still pinged
// once per interval.
func TestPingsStaggered(t *testing.T) {
	const conns, interval = 32, 640 * time.Millisecond
	s := startServer(t, fanout.Config{Transport: wsconn.Config{PingInterval: interval}})
	type pings struct{ first, second time.Time }
	got := make([]pings, conns)
	var wg sync.WaitGroup
	clients := make([]*wsClient, conns)
	for i := range clients {
		clients[i] = dial(t, s.url)
	}
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.nc.SetReadDeadline(time.Now().Add(4 * interval))
			for n := 0; n < 2; {
				f, err := ws.ReadFrame(c.br)
				if err != nil {
					return
				}
				if f.Header.OpCode != ws.OpPing {
					continue
				}
				_ = wsutil.WriteClientMessage(c.nc, ws.OpPong, f.Payload)
				if n == 0 {
					got[i].first = time.Now()
				} else {
					got[i].second = time.Now()
				}
				n++
			}
		}()
	}
	wg.Wait()
	var firsts []time.Time
	for i, p := range got {
		if p.second.IsZero() {
			t.Fatalf("connection %d: fewer than two pings in %v", i, 4*interval)
		}
		if d := p.second.Sub(p.first); d < interval/2 || d > interval*3/2 {
			t.Fatalf("connection %d: pings %v apart, interval %v", i, d, interval)
		}
		firsts = append(firsts, p.first)
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i].Before(firsts[j]) })
	// The first pings of all connections, as a set of phases: the largest
	// gap between consecutive ones (around the circle) must leave most of
	// the interval covered.
	span := firsts[len(firsts)-1].Sub(firsts[0])
	if span < interval/2 {
		t.Fatalf("first pings of %d connections within %v of each other; want them spread over the %v interval", conns, span, interval)
	}
	t.Logf("first pings spread over %v", span)
}

// TestStalledConflatingClientCut: a client that conflates on lag but whose
// socket accepts nothing at all is not kept for ever: once it has taken
// nothing for WriteTimeout it is evicted, and, as no close frame can get
// through, its socket is cut after the linger. A healthy client of the
// same stream is unaffected.
func TestStalledConflatingClientCut(t *testing.T) {
	const levels = 100
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxQueueAge: 300 * time.Millisecond, WriteTimeout: time.Second, CloseLinger: 200 * time.Millisecond, SocketSendBuffer: 4096}})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, levels, 0))
	s.sync(t)
	stalled := dialSmallWindow(t, s.url)
	stalled.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100}`)
	healthy := dial(t, s.url)
	healthy.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":100}`)
	healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	for i := 2; testutil.ToFloat64(s.m.Disconnects.WithLabelValues("slow_consumer")) == 0; i++ {
		if i > 2000 {
			t.Fatal("stalled client was not evicted")
		}
		s.feed(bigSnapshot("BTC-USD", i, levels, i))
		healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot && m.Seq == uint64(i) })
		time.Sleep(5 * time.Millisecond)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.hub.ConnCount() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("connections %d, want 1", s.hub.ConnCount())
		}
		time.Sleep(10 * time.Millisecond)
	}
	healthy.sendText(`{"op":"ping","id":1}`)
	healthy.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypePong })
}

// TestShutdownSlowReaderGetsCloseFrame: at shutdown, a client still far
// behind in reading its queue (it reads, slowly) is not cut when the
// shutdown's time runs out: half-way to the deadline the rest of its queue
// is dropped and it gets the close frame 1001 after whole frames.
func TestShutdownSlowReaderGetsCloseFrame(t *testing.T) {
	const levels = 1000
	s := startServer(t, fanout.Config{Transport: wsconn.Config{SocketSendBuffer: 32 << 10}})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, levels, 0))
	s.sync(t)
	c := dialSmallWindow(t, s.url)
	c.sendText(`{"op":"subscribe","channel":"book.BTC-USD","depth":1000,"lag":"evict"}`)
	c.until(func(m *schemas.ServerMessage) bool { return m.Type == schemas.TypeSnapshot })
	for i := 2; i <= 60; i++ { // about 2.4 MB queued, far more than it reads in the shutdown's time
		s.feed(bigSnapshot("BTC-USD", i, levels, i))
	}
	s.sync(t)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done <- s.hub.Shutdown(ctx)
	}()
	for frames := 0; ; frames++ {
		f, err := readFrameStrict(c, 10*time.Second)
		if err != nil {
			t.Fatalf("after %d frames in %v: %v", frames, time.Since(start), err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			if code != ws.StatusGoingAway {
				t.Fatalf("close %d, want 1001", code)
			}
			t.Logf("close 1001 after %d frames in %v", frames, time.Since(start))
			break
		}
		if f.Header.OpCode == ws.OpText && !json.Valid(f.Payload) {
			t.Fatalf("frame %d is not a whole message", frames)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
