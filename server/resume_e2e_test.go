package server_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// resumeEnv is a broker, servers on it, a simulated exchange and the
// reference replay of everything produced.
type resumeEnv struct {
	*env
	ex   *sim.Exchange
	rep  *replay
	now  time.Time
	syms []string
}

func newResumeEnv(t *testing.T, history market.HistoryLimits, ex *sim.Exchange) *resumeEnv {
	t.Helper()
	e := startEnv(t, 2)
	if history != (market.HistoryLimits{}) {
		srv, _ := runServer(t, server.Config{History: history,
			Feed: feed.Config{Brokers: e.broker.Addrs(), Topic: e.broker.Topic(), Start: feed.StartEarliest}})
		e.srv, e.url = srv, "ws://"+srv.Addr()+"/ws"
	}
	r := &resumeEnv{env: e, ex: ex, rep: newReplay(1000), now: time.Now(), syms: ex.Symbols()}
	r.produce(t, ex.Snapshots(r.now, nil))
	e.waitLive(t, r.syms)
	return r
}

func (r *resumeEnv) produce(t *testing.T, msgs []sim.Message) {
	t.Helper()
	for _, m := range msgs {
		r.rep.apply(t, m.Value)
	}
	r.env.produce(t, msgs)
}

// events produces n exchange events, 1 ms of exchange time apart.
func (r *resumeEnv) events(t *testing.T, n int) {
	t.Helper()
	var batch []sim.Message
	for range n {
		r.now = r.now.Add(time.Millisecond)
		batch = r.ex.Next(r.now, batch)
	}
	r.produce(t, batch)
}

// position returns the resume position of book (its channel, epoch, seq).
func position(book *client.Book) schemas.Resume {
	return schemas.Resume{Channel: book.Channel(), Epoch: int64(book.Epoch()), Seq: int64(book.Seq()), HasSeq: true}
}

// subscribeResume dials url, subscribes to book's channel at depth and
// interval with its position and returns the connection and the
// subscribed reply.
func subscribeResume(t *testing.T, ctx context.Context, url string, book *client.Book, depth int, interval string, pos []schemas.Resume) (*client.Conn, *schemas.ServerMessage) {
	t.Helper()
	return subscribeResumeWith(t, ctx, url, client.Options{}, book, depth, interval, pos)
}

// subscribeResumeWith is subscribeResume with the client's options (its
// subprotocol).
func subscribeResumeWith(t *testing.T, ctx context.Context, url string, opt client.Options, book *client.Book, depth int, interval string, pos []schemas.Resume) (*client.Conn, *schemas.ServerMessage) {
	t.Helper()
	conn, err := client.Dial(ctx, url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SubscribeWith(1, []string{book.Channel()}, client.SubscribeOptions{Depth: depth, Interval: interval, Resume: pos}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeError {
			t.Fatalf("subscribe refused: %s %s", m.Code, m.Message)
		}
		if m.Type == schemas.TypeSubscribed {
			return conn, m
		}
	}
}

// follow applies conn's book messages to book until its view equals the
// reference's current view, checking every view against the reference
// at its seq and that each came in the connection's encoding; it returns
// the number of snapshots received.
func (r *resumeEnv) follow(t *testing.T, ctx context.Context, conn *client.Conn, book *client.Book, depth int) (snapshots int) {
	t.Helper()
	sym := book.Channel()[len("book."):]
	want := truncate(r.rep.top(sym, 1000), depth)
	for !(book.Synced() && reflect.DeepEqual(book.Bids(), want.bids) && reflect.DeepEqual(book.Asks(), want.asks)) {
		p, bin, err := conn.NextFrame(ctx)
		if err != nil {
			t.Fatalf("%s at seq %d: %v", book.Channel(), book.Seq(), err)
		}
		m, err := client.Decode(p, bin)
		if err != nil {
			t.Fatal(err)
		}
		if m.Channel != book.Channel() {
			continue
		}
		if bin != conn.Binary() {
			t.Fatalf("%s: a %s in a binary frame %v on a connection whose market data is binary %v", book.Channel(), m.Type, bin, conn.Binary())
		}
		if m.Type == schemas.TypeSnapshot {
			snapshots++
		}
		if err := book.Apply(m); err != nil {
			t.Fatalf("%s: %v", book.Channel(), err)
		}
		if !book.Synced() {
			continue
		}
		at, ok := r.rep.views[sym][book.Seq()]
		if !ok {
			t.Fatalf("%s: synced at seq %d, which the reference never reached", book.Channel(), book.Seq())
		}
		at = truncate(at, depth)
		if !reflect.DeepEqual(book.Bids(), at.bids) || !reflect.DeepEqual(book.Asks(), at.asks) {
			t.Fatalf("%s at seq %d differs from the reference", book.Channel(), book.Seq())
		}
	}
	return snapshots
}

// checkResumed checks the resumed fields of a subscribed reply.
func checkResumed(t *testing.T, ack *schemas.ServerMessage, resumed bool, reason string) {
	t.Helper()
	if ack.Resumed == nil || *ack.Resumed != resumed || ack.ResumeReason != reason {
		got := "absent"
		if ack.Resumed != nil {
			got = fmt.Sprint(*ack.Resumed)
		}
		t.Fatalf("subscribed %s: resumed %s reason %q, want %v %q", ack.Channel, got, ack.ResumeReason, resumed, reason)
	}
}

// A client that left for a short while resumes at every interval and
// depth: "resumed":true, no snapshot, no gap, and its book equals the
// reference at every seq; a position at the book's seq resumes too.
func TestResumeShortDisconnect(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{}, sim.New(sim.Config{Symbols: 2, Seed: 11, Epoch: 5}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range []struct {
		depth    int
		interval string
		protocol string
	}{{20, "raw", ""}, {5, "raw", ""}, {1000, "raw", ""}, {10, "100ms", ""}, {50, "1s", ""},
		{20, "raw", schemas.SubprotocolBinary}, {10, "100ms", schemas.SubprotocolBinary}} {
		t.Run(fmt.Sprintf("%s/%d/%s", tc.interval, tc.depth, tc.protocol), func(t *testing.T) {
			opt := client.Options{Protocol: tc.protocol}
			book := client.NewBook("book." + r.syms[0])
			conn, _ := subscribeResumeWith(t, ctx, r.url, opt, book, tc.depth, tc.interval, nil)
			r.events(t, 300)
			r.follow(t, ctx, conn, book, tc.depth)
			conn.Close()
			r.events(t, 300) // while away
			conn, ack := subscribeResumeWith(t, ctx, r.url, opt, book, tc.depth, tc.interval, []schemas.Resume{position(book)})
			checkResumed(t, ack, true, "")
			if conn.Binary() != (tc.protocol == schemas.SubprotocolBinary) {
				t.Fatalf("connection binary %v, offered %q", conn.Binary(), tc.protocol)
			}
			if n := r.follow(t, ctx, conn, book, tc.depth); n != 0 {
				t.Fatalf("%d snapshots after a resume", n)
			}
			r.events(t, 300) // and live from there
			if n := r.follow(t, ctx, conn, book, tc.depth); n != 0 {
				t.Fatalf("%d snapshots after a resume", n)
			}
			conn.Close()
			// At the book's own seq: nothing to catch up.
			conn, ack = subscribeResumeWith(t, ctx, r.url, opt, book, tc.depth, tc.interval, []schemas.Resume{position(book)})
			checkResumed(t, ack, true, "")
			r.events(t, 200)
			if n := r.follow(t, ctx, conn, book, tc.depth); n != 0 {
				t.Fatalf("%d snapshots after a resume at the current seq", n)
			}
		})
	}
}

// A position the server cannot continue from gets "resumed":false with
// its reason and a snapshot (or the status) as a new subscription does:
// older than the history, ahead of the server, of another epoch, or a
// book not served.
func TestResumeRefused(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{MaxBytes: 64 * market.HistoryEntryBytes}, sim.New(sim.Config{Symbols: 1, Seed: 12, Epoch: 5}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	book := client.NewBook("book." + r.syms[0])
	conn, _ := subscribeResume(t, ctx, r.url, book, 10, "raw", nil)
	r.events(t, 50)
	r.follow(t, ctx, conn, book, 10)
	conn.Close()
	refused := func(pos schemas.Resume, reason string) {
		t.Helper()
		conn, ack := subscribeResume(t, ctx, r.url, book, 10, "raw", []schemas.Resume{pos})
		checkResumed(t, ack, false, reason)
		m, err := conn.Next(ctx)
		if err != nil || m.Type != schemas.TypeSnapshot {
			t.Fatalf("%s: first message %+v, %v; want a snapshot", reason, m, err)
		}
		if err := book.Apply(m); err != nil {
			t.Fatal(err)
		}
		if n := r.follow(t, ctx, conn, book, 10); n != 0 {
			t.Fatalf("%s: %d more snapshots", reason, n)
		}
		conn.Close()
	}
	// Long away: the history (64 changes) no longer reaches back.
	old := position(book)
	r.events(t, 200)
	refused(old, schemas.ResumeHistory)
	ahead := position(book)
	ahead.Seq += 1000
	refused(ahead, schemas.ResumeAhead)
	other := position(book)
	other.Epoch++
	refused(other, schemas.ResumeEpoch)

	// A new publisher epoch replaced the book: the old position is of
	// another epoch.
	pos := position(book)
	r.ex = sim.New(sim.Config{Symbols: 1, Seed: 13, Epoch: 6})
	r.produce(t, r.ex.Snapshots(r.now, nil))
	deadline := time.Now().Add(10 * time.Second)
	for r.srv.Hub().Streams(r.syms[0]).Epoch() != 6 {
		if time.Now().After(deadline) {
			t.Fatal("the new epoch's snapshot was not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	refused(pos, schemas.ResumeEpoch)
	if book.Epoch() != 6 {
		t.Fatalf("book at epoch %d after the new epoch's snapshot", book.Epoch())
	}

	// A gap makes the book stale: not served, and its status follows.
	pos = position(book)
	r.env.produce(t, []sim.Message{{Key: []byte(r.syms[0]), Time: r.now,
		Value: fmt.Appendf(nil, `{"type":"delta","symbol":%q,"ts":%d,"epoch":6,"seq":%d,"bids":[[%q,%q]],"asks":[]}`,
			r.syms[0], r.now.UnixMicro(), book.Seq()+5, book.Bids()[0][0], book.Bids()[0][1])}})
	deadline = time.Now().Add(10 * time.Second)
	for st, _ := r.srv.Hub().Streams(r.syms[0]).State(); st != market.Stale; st, _ = r.srv.Hub().Streams(r.syms[0]).State() {
		if time.Now().After(deadline) {
			t.Fatal("the book did not go stale")
		}
		time.Sleep(5 * time.Millisecond)
	}
	conn, ack := subscribeResume(t, ctx, r.url, book, 10, "raw", []schemas.Resume{pos})
	checkResumed(t, ack, false, schemas.ResumeNotServed)
	m, err := conn.Next(ctx)
	if err != nil || m.Type != schemas.TypeStatus || m.Status != schemas.StatusStale || m.Reason != schemas.ReasonGap {
		t.Fatalf("after a not_served resume: %+v, %v", m, err)
	}
	checkResumeMetrics(t, r.srv.Addr(), map[string]int{schemas.ResumeHistory: 1, schemas.ResumeAhead: 1, schemas.ResumeEpoch: 2, schemas.ResumeNotServed: 1})
}

// checkResumeMetrics checks the server's count of book resumes refused
// by reason, and that its history gauge is exposed.
func checkResumeMetrics(t *testing.T, addr string, refused map[string]int) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for reason, n := range refused {
		line := fmt.Sprintf("marketfeed_ws_resumes_total{kind=\"book\",result=%q} %d\n", reason, n)
		if !strings.Contains(string(body), line) {
			t.Errorf("metrics lack %q", line)
		}
	}
	if !strings.Contains(string(body), "\nmarketfeed_history_bytes ") {
		t.Error("metrics lack marketfeed_history_bytes")
	}
}

// bbo, ticker, tickers and candles resume with their current state (for
// candles, their snapshot); a book position without epoch and seq is
// invalid_request.
func TestResumeStateChannels(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{}, sim.New(sim.Config{Symbols: 1, Seed: 14}))
	r.events(t, 50)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, r.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sym := r.syms[0]
	cmd := fmt.Sprintf(`{"op":"subscribe","id":3,"channels":["bbo.%[1]s","ticker.%[1]s","tickers","candles.%[1]s"],"resume":{"bbo.%[1]s":{"epoch":0,"seq":1},"ticker.%[1]s":{},"tickers":{},"candles.%[1]s":{}}}`, sym)
	if err := conn.SendRaw([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"bbo." + sym: schemas.TypeBBO, "ticker." + sym: schemas.TypeTicker, "tickers": schemas.TypeTickers,
		"candles." + sym: schemas.TypeCandles}
	acked := map[string]bool{}
	for len(want) > 0 {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", want, err)
		}
		switch {
		case m.Type == schemas.TypeSubscribed:
			checkResumed(t, m, true, "")
			acked[m.Channel] = true
		case m.Type == want[m.Channel] && acked[m.Channel]:
			if m.Type == schemas.TypeCandles && !m.Snapshot {
				t.Fatalf("candles resumed with %+v, want their snapshot", m)
			}
			delete(want, m.Channel)
		}
	}
	bad := fmt.Sprintf(`{"op":"subscribe","id":4,"channel":"book.%[1]s","resume":{"book.%[1]s":{}}}`, sym)
	if err := conn.SendRaw([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == 4 {
			if m.Type != schemas.TypeError || m.Code != schemas.CodeInvalidRequest {
				t.Fatalf("book resume without epoch and seq: %+v", m)
			}
			return
		}
	}
}

// bookAt returns a client book holding the reference's view of sym at
// seq, at depth, as a client that stopped there holds it.
func (r *resumeEnv) bookAt(t *testing.T, sym string, seq uint64, epoch uint64, depth int) *client.Book {
	t.Helper()
	v, ok := r.rep.views[sym][seq]
	if !ok {
		t.Fatalf("the reference has no view of %s at %d", sym, seq)
	}
	v = truncate(v, depth)
	ck := schemas.BookChecksum(v.bids, v.asks)
	book := client.NewBook("book." + sym)
	m := &schemas.ServerMessage{Type: schemas.TypeSnapshot, Channel: book.Channel(), Seq: seq, Epoch: epoch, Bids: v.bids, Asks: v.asks, Checksum: &ck}
	if err := book.Apply(m); err != nil {
		t.Fatal(err)
	}
	return book
}

// A client resumes from any seq the history holds, wherever the stream
// it joins is: before, at or after its own seq, with the views equal or
// not; every depth and interval; then follows live with no gap.
func TestResumeFromAnySeq(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{}, sim.New(sim.Config{Symbols: 1, Seed: 15, Epoch: 4}))
	sym := r.syms[0]
	first := r.rep.seq[sym]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// A subscriber of each stream keeps it alive, so the resumers join
	// streams that have their own positions.
	for _, iv := range []string{"raw", "100ms", "1s"} {
		for _, depth := range []int{1, 10} {
			subscribeResume(t, ctx, r.url, client.NewBook("book."+sym), depth, iv, nil)
		}
	}
	r.events(t, 1500)
	rng := rand.New(rand.NewPCG(15, 16))
	for _, iv := range []string{"raw", "100ms", "1s"} {
		for _, depth := range []int{1, 10, 1000} {
			last := r.rep.seq[sym]
			for range 4 {
				seq := first + uint64(rng.Int64N(int64(last-first+1)))
				book := r.bookAt(t, sym, seq, 4, depth)
				conn, ack := subscribeResume(t, ctx, r.url, book, depth, iv, []schemas.Resume{position(book)})
				checkResumed(t, ack, true, "")
				// Until an update moved the resumed book on: its first_seq
				// was seq+1, or Apply would have failed.
				for book.Seq() == seq {
					r.events(t, 20)
					if n := r.follow(t, ctx, conn, book, depth); n != 0 {
						t.Fatalf("%s depth %d from %d: %d snapshots", iv, depth, seq, n)
					}
				}
				conn.Close()
			}
		}
	}
}

// A resync sent while a resumed subscription waits to join gets the
// snapshot, and the channel goes on from it with no gap.
func TestResumeThenResync(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{}, sim.New(sim.Config{Symbols: 1, Seed: 16, Epoch: 2}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, iv := range []string{"raw", "1s"} {
		book := client.NewBook("book." + r.syms[0])
		conn, _ := subscribeResume(t, ctx, r.url, book, 10, iv, nil)
		r.events(t, 200)
		r.follow(t, ctx, conn, book, 10)
		conn.Close()
		r.events(t, 200)
		conn, ack := subscribeResume(t, ctx, r.url, book, 10, iv, []schemas.Resume{position(book)})
		checkResumed(t, ack, true, "")
		if err := conn.Resync(2, []string{book.Channel()}); err != nil {
			t.Fatal(err)
		}
		r.events(t, 200)
		snapshots := r.follow(t, ctx, conn, book, 10)
		if iv != "raw" && snapshots != 1 {
			t.Fatalf("%s: %d snapshots after a resync, want 1", iv, snapshots)
		}
		conn.Close()
	}
}
