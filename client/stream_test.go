package client

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client/internal/wstest"
)

// eventLog records a Stream's events (kind, channel, book seq and state)
// for the test goroutine.
type eventLog struct {
	mu     sync.Mutex
	events []Event
	books  [][3]any // seq, state, bids of Book at each book event
	signal chan struct{}
}

func newEventLog() *eventLog { return &eventLog{signal: make(chan struct{}, 1)} }

func (l *eventLog) handle(ev *Event) error {
	l.mu.Lock()
	e := *ev
	e.Book = nil
	l.events = append(l.events, e)
	if ev.Book != nil {
		l.books = append(l.books, [3]any{ev.Book.Seq(), ev.Book.State(), ev.Book.Bids()})
	}
	l.mu.Unlock()
	select {
	case l.signal <- struct{}{}:
	default:
	}
	return nil
}

func (l *eventLog) kinds() []EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []EventKind
	for _, e := range l.events {
		k = append(k, e.Kind)
	}
	return k
}

// waitFor waits until cond holds on the recorded events.
func (l *eventLog) waitFor(t *testing.T, what string, cond func([]Event) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		ok := cond(l.events)
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-l.signal:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; events %v", what, l.kinds())
		}
	}
}

func runStream(t *testing.T, cfg StreamConfig, h Handler) (stop func() error) {
	t.Helper()
	s, err := NewStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, h) }()
	var once sync.Once
	var runErr error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(5 * time.Second):
				runErr = errors.New("Run did not return after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { stop() })
	return stop
}

func expectCmd(t *testing.T, p *wstest.Peer, op, channel string) map[string]any {
	t.Helper()
	cmd, err := p.ReadCommand()
	if err != nil {
		t.Errorf("reading %s: %v", op, err)
		return nil
	}
	if cmd["op"] != op || cmd["channel"] != channel {
		t.Errorf("command %v, want %s of %s", cmd, op, channel)
	}
	return cmd
}

func TestStreamResyncsOnGapAndReconnects(t *testing.T) {
	const ch = "book.BTC-USD"
	var gotKey string
	s := wstest.NewServerReject(t, func(h http.Header) int { gotKey = h.Get("X-API-Key"); return 0 }, func(p *wstest.Peer) {
		p.Welcome()
		cmd := expectCmd(t, p, "subscribe", ch)
		if cmd["depth"] != 5.0 || cmd["interval"] != "raw" {
			t.Errorf("subscribe %v, want depth 5 raw", cmd)
		}
		p.WriteJSON(map[string]any{"type": "subscribed", "id": cmd["id"], "channel": ch})
		if p.N == 1 {
			p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":10,"bids":[["100.0","1"]],"asks":[["101.0","1"]]}`)
			p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":11,"seq":12,"bids":[["100.5","2"]]}`)
			// A gap: 13..14 are missing.
			p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":15,"seq":15,"bids":[["99.0","2"]]}`)
			rs := expectCmd(t, p, "resync", ch)
			// In-flight update before the fresh snapshot: ignored.
			p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":16,"seq":16,"bids":[["98.0","2"]]}`)
			p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":20,"bids":[["100.2","3"]],"asks":[["101.0","1"]]}`)
			// Another gap, and this time the server refuses the resync:
			// the client subscribes again instead.
			p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":22,"seq":22,"bids":[["99.0","2"]]}`)
			rs2 := expectCmd(t, p, "resync", ch)
			if rs2["id"] == rs["id"] {
				t.Errorf("resync ids repeat: %v", rs2["id"])
			}
			p.WriteJSON(map[string]any{"type": "error", "id": rs2["id"], "code": "not_subscribed", "message": "not subscribed", "channel": ch})
			un := expectCmd(t, p, "unsubscribe", ch)
			sub := expectCmd(t, p, "subscribe", ch)
			p.WriteJSON(map[string]any{"type": "unsubscribed", "id": un["id"], "channel": ch})
			p.WriteJSON(map[string]any{"type": "subscribed", "id": sub["id"], "channel": ch})
			p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":25,"bids":[["100.2","3"]],"asks":[["101.0","1"]]}`)
			p.WriteClose(4001, "slow consumer")
			p.WaitClosed()
			return
		}
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":30,"bids":[["100.3","4"]],"asks":[["101.0","1"]]}`)
		p.WaitClosed()
	})
	log := newEventLog()
	stop := runStream(t, StreamConfig{
		URL: s.URL, APIKey: "k1", RetryMin: 10 * time.Millisecond, Tick: time.Millisecond,
		Subscriptions: []Subscription{{Channel: ch, Depth: 5, Interval: "raw"}},
	}, log.handle)
	log.waitFor(t, "the snapshot after reconnecting", func(ev []Event) bool {
		return slices.ContainsFunc(ev, func(e Event) bool { return e.Kind == EventBook && e.Msg.Seq == 30 })
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if gotKey != "k1" {
		t.Errorf("X-API-Key header %q, want k1", gotKey)
	}
	want := []EventKind{
		EventConnecting, EventConnected, EventSubscribed, EventBook, EventBook, EventResync,
		EventBook, EventBook, EventResync, EventError, EventMessage, EventSubscribed, EventBook, EventDisconnected,
		EventConnecting, EventConnected, EventSubscribed, EventBook,
	}
	// Ticks (every millisecond, to exercise the timed waits) aside:
	got := slices.DeleteFunc(log.kinds(), func(k EventKind) bool { return k == EventTick })
	if !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	var resync, disc Event
	for _, e := range log.events {
		switch e.Kind {
		case EventResync:
			resync = e
		case EventDisconnected:
			disc = e
		}
	}
	if !errors.Is(resync.Err, ErrGap) || resync.Channel != ch {
		t.Errorf("resync event %+v, want ErrGap on %s", resync, ch)
	}
	var ce *CloseError
	if !errors.As(disc.Err, &ce) || ce.Code != 4001 || disc.Delay < 5*time.Millisecond || disc.Delay > 10*time.Millisecond {
		t.Errorf("disconnected event %+v, want close 4001 and a delay in [5ms, 10ms]", disc)
	}
	type bk = [3]any
	wantBooks := []bk{
		{uint64(10), BookSynced, [][2]string{{"100.0", "1"}}},
		{uint64(12), BookSynced, [][2]string{{"100.5", "2"}, {"100.0", "1"}}},
		{uint64(12), BookGap, [][2]string{{"100.5", "2"}, {"100.0", "1"}}},
		{uint64(12), BookGap, [][2]string{{"100.5", "2"}, {"100.0", "1"}}},
		{uint64(20), BookSynced, [][2]string{{"100.2", "3"}}},
		{uint64(20), BookGap, [][2]string{{"100.2", "3"}}},
		{uint64(25), BookSynced, [][2]string{{"100.2", "3"}}},
		{uint64(30), BookSynced, [][2]string{{"100.3", "4"}}},
	}
	if len(log.books) != len(wantBooks) {
		t.Fatalf("book states %v, want %v", log.books, wantBooks)
	}
	for i := range wantBooks {
		if log.books[i][0] != wantBooks[i][0] || log.books[i][1] != wantBooks[i][1] || !slices.Equal(log.books[i][2].([][2]string), wantBooks[i][2].([][2]string)) {
			t.Errorf("book state %d: %v, want %v", i, log.books[i], wantBooks[i])
		}
	}
}

func TestStreamRefusalsAndRateLimit(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		a := expectCmd(t, p, "subscribe", "ticker.NOPE")
		b := expectCmd(t, p, "subscribe", "trades.BTC-USD")
		p.WriteJSON(map[string]any{"type": "error", "id": a["id"], "code": "unknown_symbol", "channel": "ticker.NOPE"})
		p.WriteJSON(map[string]any{"type": "error", "id": b["id"], "code": "rate_limited"})
		again := expectCmd(t, p, "subscribe", "trades.BTC-USD")
		p.WriteJSON(map[string]any{"type": "subscribed", "id": again["id"], "channel": "trades.BTC-USD"})
		p.WriteText(`{"type":"trades","channel":"trades.BTC-USD","trades":[{"id":"1","ts":1,"price":"1.5","size":"2","side":"buy"}]}`)
		p.WriteText(`not json`)
		p.WaitClosed()
	})
	log := newEventLog()
	stop := runStream(t, StreamConfig{
		URL: s.URL, RetryMin: 5 * time.Millisecond, Tick: 5 * time.Millisecond,
		Subscriptions: []Subscription{{Channel: "ticker.NOPE"}, {Channel: "trades.BTC-USD"}},
	}, log.handle)
	log.waitFor(t, "the trades, a decoding error and a tick", func(ev []Event) bool {
		var trades, bad, tick bool
		for _, e := range ev {
			trades = trades || e.Kind == EventTrades
			bad = bad || (e.Kind == EventError && string(e.Raw) == "not json")
			tick = tick || (e.Kind == EventTick && trades)
		}
		return trades && bad && tick
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	var refused []string
	for _, e := range log.events {
		if e.Kind == EventRefused {
			var se *ServerError
			if !errors.As(e.Err, &se) {
				t.Errorf("refusal without a ServerError: %+v", e)
				continue
			}
			refused = append(refused, e.Channel+" "+se.Code)
		}
	}
	if want := []string{"ticker.NOPE unknown_symbol", "trades.BTC-USD rate_limited"}; !slices.Equal(refused, want) {
		t.Errorf("refusals %v, want %v", refused, want)
	}
}

func TestStreamFatalAndHandlerErrors(t *testing.T) {
	s := wstest.NewServerReject(t, func(http.Header) int { return http.StatusUnauthorized }, func(*wstest.Peer) {})
	st, err := NewStream(StreamConfig{URL: s.URL, Subscriptions: []Subscription{{Channel: "ticker.A"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Run(context.Background(), func(*Event) error { return nil }); err == nil || !fatal(err) {
		t.Errorf("Run against a 401 = %v, want a fatal error", err)
	}
	stopErr := errors.New("enough")
	ok := wstest.NewServer(t, func(p *wstest.Peer) { p.Welcome(); p.WaitClosed() })
	st, _ = NewStream(StreamConfig{URL: ok.URL, Subscriptions: []Subscription{{Channel: "ticker.A"}}})
	err = st.Run(context.Background(), func(ev *Event) error {
		if ev.Kind == EventConnected {
			return stopErr
		}
		return nil
	})
	if err != stopErr {
		t.Errorf("Run = %v, want the handler's error", err)
	}
	for _, bad := range []StreamConfig{{}, {URL: "ws://x"}, {URL: "ws://x", Subscriptions: []Subscription{{Channel: "a"}, {Channel: "a"}}}} {
		if _, err := NewStream(bad); !errors.Is(err, ErrStreamConfig) {
			t.Errorf("NewStream(%+v) = %v, want ErrStreamConfig", bad, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, time.Second
	for failures := range 40 {
		full := min(lo<<min(failures, 10), hi)
		for range 50 {
			d := backoff(lo, hi, failures)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", failures, d, full/2, full)
			}
		}
	}
}

// A notice (here: the connection's lifetime is ending) makes the Stream
// leave the connection and reconnect at once, before the server closes.
func TestStreamReconnectsOnNotice(t *testing.T) {
	const ch = "book.BTC-USD"
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		cmd := expectCmd(t, p, "subscribe", ch)
		p.WriteJSON(map[string]any{"type": "subscribed", "id": cmd["id"], "channel": ch})
		if p.N == 1 {
			p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":10,"bids":[["100.0","1"]],"asks":[]}`)
			p.WriteText(`{"type":"notice","code":"lifetime","message":"connection lifetime reached","close_in_ms":30000}`)
			p.WaitClosed() // the client goes first
			return
		}
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":11,"bids":[["100.0","2"]],"asks":[]}`)
		p.WaitClosed()
	})
	log := newEventLog()
	runStream(t, StreamConfig{
		URL: s.URL, RetryMin: 200 * time.Millisecond, RetryMax: time.Minute,
		Subscriptions: []Subscription{{Channel: ch, Depth: 5, Interval: "raw"}},
	}, log.handle)
	log.waitFor(t, "the snapshot of the second connection", func(ev []Event) bool {
		return slices.ContainsFunc(ev, func(e Event) bool { return e.Kind == EventBook && e.Msg.Seq == 11 })
	})
	want := []EventKind{
		EventConnecting, EventConnected, EventSubscribed, EventBook, EventNotice, EventDisconnected,
		EventConnecting, EventConnected, EventSubscribed, EventBook,
	}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	notice, disc := log.events[4], log.events[5]
	if notice.Msg.Code != "lifetime" || notice.Msg.CloseInMS != 30000 {
		t.Errorf("notice event %+v", notice.Msg)
	}
	if !errors.Is(disc.Err, ErrNotice) || disc.Delay > 200*time.Millisecond {
		t.Errorf("disconnected event: %v after %v, want ErrNotice within RetryMin", disc.Err, disc.Delay)
	}
}
