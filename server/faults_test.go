package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// running is a server started by runFeedServer.
type running struct {
	srv  *server.Server
	reg  *prometheus.Registry
	url  string
	stop func()
}

// runFeedServer starts a server with its own registry on fc's brokers
// (topic marketdata); stop ends it (also at cleanup).
func runFeedServer(t *testing.T, fc feed.Config) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	fc.Topic = "marketdata"
	if fc.DialTimeout == 0 {
		fc.DialTimeout = time.Second
	}
	srv, stop := runServer(t, server.Config{Feed: fc, Registry: reg})
	return &running{srv: srv, reg: reg, url: "ws://" + srv.Addr() + "/ws", stop: stop}
}

// metricSum sums every sample of the metrics whose name ends in suffix.
func metricSum(t *testing.T, reg *prometheus.Registry, suffix string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if !strings.HasSuffix(mf.GetName(), suffix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// waitLiveOn waits until every symbol's book is served by srv and returns
// how long that took.
func waitLiveOn(t *testing.T, srv *server.Server, symbols []string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		live := 0
		for _, sym := range symbols {
			if tp := srv.Hub().Streams(sym); tp != nil {
				if st, _ := tp.State(); st == market.Live {
					live++
				}
			}
		}
		if live == len(symbols) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%d of %d symbols live after %v", live, len(symbols), within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// simMarket drives a sim exchange into the broker and remembers every record
// the exchange made (produced or lost) for the replay.
type simMarket struct {
	t       *testing.T
	e       *env
	ex      *sim.Exchange
	now     time.Time
	records [][]byte
	rep     *replay
}

func newMarket(t *testing.T, e *env, cfg sim.Config) *simMarket {
	return &simMarket{t: t, e: e, ex: sim.New(cfg), now: time.Now(), rep: newReplay(0)}
}

// send produces msgs except those lost says are lost upstream.
func (m *simMarket) send(msgs []sim.Message, lost func(sim.Message) bool) {
	var out []sim.Message
	for _, msg := range msgs {
		v := append([]byte(nil), msg.Value...)
		m.records = append(m.records, v)
		m.rep.apply(m.t, v)
		if lost == nil || !lost(msg) {
			out = append(out, msg)
		}
	}
	if len(out) > 0 {
		m.e.produce(m.t, out)
	}
}

func (m *simMarket) boot() { m.send(m.ex.Snapshots(m.now, nil), nil) }

func (m *simMarket) snapshots() {
	m.now = m.now.Add(time.Millisecond)
	m.send(m.ex.Snapshots(m.now, nil), nil)
}

// events produces n market events in chunks of 50.
func (m *simMarket) events(n int, lost func(sim.Message) bool) {
	var batch []sim.Message
	for i := range n {
		m.now = m.now.Add(time.Millisecond)
		batch = m.ex.Next(m.now, batch)
		if len(batch) >= 50 || i == n-1 {
			m.send(batch, lost)
			batch = batch[:0]
		}
	}
}

// finish ends every symbol's stream with a delta every view shows and
// returns the final seq of each symbol.
func (m *simMarket) finish() map[string]uint64 {
	final := map[string]uint64{}
	for _, sym := range m.ex.Symbols() {
		m.now = m.now.Add(time.Millisecond)
		m.send(touchDelta(m.rep, sym, m.now), nil)
		final[sym] = m.rep.seq[sym]
	}
	return final
}

// watch starts watchers (depth 20 raw and depth 10 at 100ms for each
// symbol) on url and waits until they are subscribed.
func watch(ctx context.Context, t *testing.T, url string, symbols []string, final func(string) uint64, wg *sync.WaitGroup) []*digestWatcher {
	t.Helper()
	var ws []*digestWatcher
	var ready sync.WaitGroup
	for _, sym := range symbols {
		for _, w := range []*digestWatcher{
			{channel: "book." + sym, depth: 20, interval: "raw"},
			{channel: "book." + sym, depth: 10, interval: "100ms"},
		} {
			ws = append(ws, w)
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, url, func() uint64 { return final(sym) }, &ready)
			}()
		}
	}
	ready.Wait()
	return ws
}

func watchersOK(t *testing.T, ws []*digestWatcher) {
	t.Helper()
	for _, w := range ws {
		if w.err != nil {
			t.Fatalf("watcher: %v", w.err)
		}
	}
}

// finals is a table of where each symbol's stream ends (a seq, or an epoch
// and seq) that the watchers read while the test fills it.
type finals[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// lookup returns sym's entry and whether the test has set it.
func (f *finals[V]) lookup(sym string) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[sym]
	return v, ok
}

func (f *finals[V]) get(sym string) V { v, _ := f.lookup(sym); return v }

func (f *finals[V]) set(m map[string]V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m = m
}

// TestBrokerFaultsAndLostRecords streams to clients while the broker
// fails fetches (NotLeaderForPartition, dropped connections) and while
// records of one symbol are lost upstream. The faults must cause
// reconnects and a seamless resume; the lost records a stale status and a
// recovery at the next snapshot. Every view a client holds, at every seq,
// equals the replay of what the exchange did.
func TestBrokerFaultsAndLostRecords(t *testing.T) {
	e := startEnv(t, 2)
	// startEnv's server reads from the earliest offset; this test runs its
	// own to read its metrics.
	r := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartEarliest, BackoffMin: 10 * time.Millisecond})
	mk := newMarket(t, e, sim.Config{Symbols: 3, Seed: 5})
	symbols := mk.ex.Symbols()
	mk.boot()
	waitLiveOn(t, r.srv, symbols, 20*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fin finals[uint64]
	var wg sync.WaitGroup
	ws := watch(ctx, t, r.url, symbols, fin.get, &wg)

	cl := e.broker.Cluster()
	mk.events(300, nil)
	h := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "marketdata", Err: kerr.NotLeaderForPartition, Count: 6})
	mk.events(300, nil)
	var dropped atomic.Int64
	cl.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		if dropped.Add(1) > 4 {
			return nil, nil, false
		}
		cl.KeepControl()
		return nil, errors.New("connection dropped by test"), true
	})
	mk.events(300, nil)
	deadline := time.Now().Add(10 * time.Second)
	for (h.Hits() < 6 || dropped.Load() < 4) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if h.Hits() < 6 || dropped.Load() < 4 {
		t.Fatalf("faults fired: %d not-leader, %d dropped", h.Hits(), dropped.Load())
	}

	// Upstream loses three deltas of symbols[0]; the next ones show the gap.
	lostSym, lost := symbols[0], 0
	mk.events(200, func(m sim.Message) bool {
		if string(m.Key) == lostSym && lost < 3 && strings.Contains(string(m.Value), `"type":"delta"`) {
			lost++
			return true
		}
		return false
	})
	if lost != 3 {
		t.Fatalf("lost %d deltas, want 3", lost)
	}
	mk.events(100, nil)
	mk.snapshots() // the periodic snapshot recovers the book
	mk.events(200, nil)
	fin.set(mk.finish())
	wg.Wait()
	watchersOK(t, ws)

	checked := checkViews(t, mk.records, ws)
	for _, w := range ws {
		stale := strings.Contains(strings.Join(w.statuses, ","), "stale")
		if want := w.channel == "book."+lostSym; stale != want {
			t.Errorf("%s %s: statuses %v, stale expected %v", w.channel, w.interval, w.statuses, want)
		}
	}
	if g := metricSum(t, r.reg, "gaps_total"); g < 1 {
		t.Errorf("gaps counted: %v", g)
	}
	if rc := metricSum(t, r.reg, "reconnects_total"); rc < 1 {
		t.Errorf("reconnects counted: %v", rc)
	}
	t.Logf("%d views checked; %d not-leader faults, %d dropped connections", checked, h.Hits(), min(dropped.Load(), 4))
}

// TestRestartServesCorrectBooks stops a server mid-stream and starts new
// ones on the same topic: one with the look-back start serves correct
// books again as soon as it has read its window, without any new
// snapshot; one that starts at the end of the topic serves nothing until
// the next periodic definition and snapshot, then correct books. Clients of
// both verify every view against the replay.
func TestRestartServesCorrectBooks(t *testing.T) {
	e := startEnv(t, 2)
	mk := newMarket(t, e, sim.Config{Symbols: 3, Seed: 9})
	symbols := mk.ex.Symbols()
	a := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartLookback, Lookback: time.Minute})
	mk.boot()
	waitLiveOn(t, a.srv, symbols, 20*time.Second)
	mk.events(400, nil)
	a.stop() // mid-stream
	mk.events(400, nil)

	// Look-back start: the window holds the definitions and snapshots.
	b := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartLookback, Lookback: time.Minute})
	took := waitLiveOn(t, b.srv, symbols, 20*time.Second)
	t.Logf("look-back restart: all books live %v after start", took)
	// Latest start: nothing is served before the next snapshot.
	c := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartLatest})
	deadline := time.Now().Add(20 * time.Second)
	for !c.srv.Ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fin finals[uint64]
	var wg sync.WaitGroup
	wsB := watch(ctx, t, b.url, symbols, fin.get, &wg)
	mk.events(300, nil)
	for _, sym := range symbols {
		// No definition seen yet: the symbol is unknown (subscribers get
		// unknown_symbol), never served from a partial book.
		if tp := c.srv.Hub().Streams(sym); tp != nil {
			if st, _ := tp.State(); st == market.Live {
				t.Fatalf("%s live on a server that has seen no snapshot", sym)
			}
		}
	}
	mk.snapshots()
	took = waitLiveOn(t, c.srv, symbols, 20*time.Second)
	t.Logf("latest-start server: all books live %v after the periodic snapshot", took)
	wsC := watch(ctx, t, c.url, symbols, fin.get, &wg)
	mk.events(300, nil)
	fin.set(mk.finish())
	wg.Wait()
	watchersOK(t, wsB)
	watchersOK(t, wsC)
	checked := checkViews(t, mk.records, append(wsB, wsC...))
	for _, w := range append(wsB, wsC...) {
		if len(w.statuses) != 0 {
			t.Errorf("%s after the restart: statuses %v, want none", w.channel, w.statuses)
		}
	}
	t.Logf("%d views checked", checked)
}
