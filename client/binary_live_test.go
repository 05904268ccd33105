package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// exchangeFeed is the real server over an embedded broker, with the
// synthetic exchange whose events the test publishes.
type exchangeFeed struct {
	url, sym string
	ex       *sim.Exchange
	w        *kafka.Writer
}

func startExchangeFeed(t *testing.T) *exchangeFeed {
	t.Helper()
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0",
		Feed:   feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	f := &exchangeFeed{ex: sim.New(sim.Config{Symbols: 1, Seed: 11, Levels: 12, TradeRatio: 0.2}),
		w: &kafka.Writer{Addr: kafka.TCP(b.Addrs()...), Topic: b.Topic(), BatchTimeout: 2 * time.Millisecond}}
	t.Cleanup(func() { f.w.Close() })
	f.sym = f.ex.Symbols()[0]
	f.publish(t, f.ex.Snapshots(time.Now(), nil))
	for deadline := time.Now().Add(30 * time.Second); ; {
		if st := srv.Hub().Streams(f.sym); st != nil {
			if s, _ := st.State(); s == market.Live {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not live after 30s", f.sym)
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.url = "ws://" + srv.Addr() + "/ws"
	return f
}

func (f *exchangeFeed) publish(t *testing.T, msgs []sim.Message) {
	t.Helper()
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.w.WriteMessages(ctx, km...); err != nil {
		t.Fatal(err)
	}
}

// events publishes n events of the exchange; skip drops the n-th delta
// (0: none), a gap the server sees.
func (f *exchangeFeed) events(t *testing.T, n, skip int) {
	t.Helper()
	var msgs []sim.Message
	deltas := 0
	for range n {
		for _, m := range f.ex.Next(time.Now(), nil) {
			if bytes.Contains(m.Value, []byte(`"type":"delta"`)) {
				deltas++
				if deltas == skip {
					continue
				}
			}
			msgs = append(msgs, m)
		}
	}
	f.publish(t, msgs)
}

// recorder keeps what a Stream's handler saw: each market-data event as
// its decoded message (JSON), and for book events the local book after it.
type recorder struct {
	mu     sync.Mutex
	log    []string
	seq    uint64
	synced bool
	errs   []error
}

func (r *recorder) handle(ev *client.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case client.EventBook, client.EventStatus, client.EventTrades, client.EventBBO, client.EventTicker:
		m, _ := json.Marshal(ev.Msg)
		line := ev.Kind.String() + " " + string(m)
		if ev.Book != nil {
			line += " book " + ev.Book.State().String() + " " + strconv.FormatUint(ev.Book.Seq(), 10) + " " + strconv.FormatUint(uint64(ev.Book.Checksum()), 10)
			r.seq, r.synced = ev.Book.Seq(), ev.Book.Synced()
		}
		r.log = append(r.log, line)
	case client.EventResync, client.EventError, client.EventRefused:
		r.errs = append(r.errs, errors.Join(errors.New(ev.Kind.String()), ev.Err))
	}
	return nil
}

func (r *recorder) state() (uint64, bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq, r.synced, len(r.log)
}

// TestStreamBinaryMatchesJSON runs Streams of each subprotocol on the same
// channels of the real server (raw and throttled books, bbo, ticker,
// trades) through exchange traffic, a gap and its recovery: the binary
// and the JSON Stream deliver the same events, with the same verified
// local book at every seq.
func TestStreamBinaryMatchesJSON(t *testing.T) {
	f := startExchangeFeed(t)
	raw := []client.Subscription{{Channel: "book." + f.sym, Depth: 10}, {Channel: "bbo." + f.sym},
		{Channel: "trades." + f.sym}, {Channel: "ticker." + f.sym, Interval: "100ms"}}
	throttled := []client.Subscription{{Channel: "book." + f.sym, Depth: 5, Interval: "100ms"}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var recs [4]*recorder
	for i := range recs {
		subs, proto := raw, ""
		if i >= 2 {
			subs = throttled
		}
		if i%2 == 1 {
			proto = schemas.SubprotocolBinary
		}
		s, err := client.NewStream(client.StreamConfig{URL: f.url, Subscriptions: subs, Dial: client.Options{Protocol: proto}})
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = &recorder{}
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Run(ctx, recs[i].handle) }()
	}
	// waitAll waits until every Stream's book is synced at seq at least
	// (0: any) and nothing has arrived for a while.
	waitAll := func(seq uint64) {
		deadline := time.Now().Add(30 * time.Second)
		for _, r := range recs {
			for {
				s, ok, _ := r.state()
				if ok && s >= seq {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("book not synced at %d: at %d (%v)", seq, s, ok)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		time.Sleep(400 * time.Millisecond)
	}
	waitAll(0)
	start, _, _ := recs[0].state()
	for range 6 { // over several flushes of the throttled streams
		f.events(t, 50, 0)
		time.Sleep(120 * time.Millisecond)
	}
	waitAll(start + 1)
	f.events(t, 50, 10) // a gap at the 10th delta: stale
	time.Sleep(300 * time.Millisecond)
	f.publish(t, f.ex.Snapshots(time.Now(), nil)) // the recovery
	f.events(t, 200, 0)
	final, _, _ := recs[0].state()
	waitAll(final)
	time.Sleep(300 * time.Millisecond)
	cancel()
	wg.Wait()

	for i, r := range recs {
		if len(r.errs) > 0 {
			t.Errorf("stream %d: %v", i, r.errs)
		}
	}
	for _, pair := range [][2]int{{0, 1}, {2, 3}} {
		j, b := recs[pair[0]].log, recs[pair[1]].log
		if len(j) < 10 {
			t.Errorf("JSON stream %d: only %d events", pair[0], len(j))
		}
		if !reflect.DeepEqual(j, b) {
			for k := range min(len(j), len(b)) {
				if j[k] != b[k] {
					t.Fatalf("event %d of %d/%d differs:\nJSON   %s\nbinary %s", k, len(j), len(b), j[k], b[k])
				}
			}
			t.Fatalf("JSON stream has %d events, binary %d", len(j), len(b))
		}
	}
	t.Logf("events: raw %d, throttled %d", len(recs[0].log), len(recs[2].log))
	stale := false
	for _, l := range recs[1].log {
		stale = stale || bytes.Contains([]byte(l), []byte(`"status":"stale","reason":"gap"`))
	}
	if !stale {
		t.Error("the binary stream saw no gap status")
	}
}
