package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// epochKey is a view's position: publisher epoch and seq.
type epochKey struct{ epoch, seq uint64 }

// epochWatcher follows one book subscription with client.Book (which
// checks continuity, epochs and checksums) and records the digest of its
// view at every (epoch, seq) and when each status and snapshot arrived.
type epochWatcher struct {
	channel  string
	depth    int
	interval string

	mu        sync.Mutex
	views     map[epochKey][32]byte
	statuses  []string // status:reason
	statusAt  []time.Time
	snapAt    []time.Time
	snapEpoch []uint64
	err       error
}

func (w *epochWatcher) run(ctx context.Context, url string, done func(epoch, seq uint64) bool, ready *sync.WaitGroup) {
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			ready.Done()
		}
	}
	defer signal()
	w.views = map[epochKey][32]byte{}
	fail := func(err error) {
		w.mu.Lock()
		w.err = fmt.Errorf("%s depth %d %s: %w", w.channel, w.depth, w.interval, err)
		w.mu.Unlock()
	}
	conn, err := client.Dial(ctx, url, client.Options{MaxMessageSize: 1 << 20})
	if err != nil {
		fail(err)
		return
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{w.channel}, w.depth, w.interval); err != nil {
		fail(err)
		return
	}
	book := client.NewBook(w.channel)
	for {
		nctx, ncancel := context.WithTimeout(ctx, 100*time.Millisecond)
		m, err := conn.Next(nctx)
		ncancel()
		if err != nil && ctx.Err() == nil && nctx.Err() != nil {
			if book.Synced() && done(book.Epoch(), book.Seq()) {
				return
			}
			continue
		}
		if err != nil {
			fail(err)
			return
		}
		if m.Type == schemas.TypeSubscribed {
			signal()
		}
		if m.Channel != w.channel {
			continue
		}
		now := time.Now()
		w.mu.Lock()
		switch m.Type {
		case schemas.TypeStatus:
			w.statuses = append(w.statuses, m.Status+":"+m.Reason)
			w.statusAt = append(w.statusAt, now)
		case schemas.TypeSnapshot:
			w.snapAt = append(w.snapAt, now)
			w.snapEpoch = append(w.snapEpoch, m.Epoch)
		}
		w.mu.Unlock()
		if err := book.Apply(m); err != nil {
			fail(err)
			return
		}
		if m.Type != schemas.TypeSnapshot && m.Type != schemas.TypeUpdate {
			continue
		}
		w.mu.Lock()
		w.views[epochKey{book.Epoch(), book.Seq()}] = viewDigest(book.Bids(), book.Asks())
		w.mu.Unlock()
		if done(book.Epoch(), book.Seq()) {
			return
		}
	}
}

// statusesSince returns the statuses received after t and when the first
// arrived.
func (w *epochWatcher) statusesSince(t time.Time) ([]string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	var first time.Time
	for i, at := range w.statusAt {
		if at.After(t) {
			if first.IsZero() {
				first = at
			}
			out = append(out, w.statuses[i])
		}
	}
	return out, first
}

// snapshotSince returns when the first snapshot after t arrived, and its
// epoch.
func (w *epochWatcher) snapshotSince(t time.Time) (time.Time, uint64, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, at := range w.snapAt {
		if at.After(t) {
			return at, w.snapEpoch[i], true
		}
	}
	return time.Time{}, 0, false
}

// epochTouch returns a delta of the given epoch that doubles sym's best
// bid, so every view sends a message at its seq.
func epochTouch(rep *replay, sym string, epoch uint64, now time.Time) sim.Message {
	sc := rep.scale[sym]
	best := rep.top(sym, 1).bids[0]
	v := fmt.Appendf(nil, `{"type":"delta","symbol":%q,"ts":%d,"epoch":%d,"seq":%d,"bids":[[%q,%q]]}`,
		sym, now.UnixMicro(), epoch, rep.seq[sym]+1, best[0], format(2*mantissa(best[1], sc[1]), sc[1]))
	return sim.Message{Key: []byte(sym), Value: v, Time: now}
}

// checkEpochViews replays records and compares every view a watcher held
// with the replay's view at the same epoch and seq.
func checkEpochViews(t *testing.T, records [][]byte, ws []*epochWatcher) int {
	t.Helper()
	rep := newReplay(0)
	epochs := map[string]uint64{}
	checked := 0
	for _, v := range records {
		var probe struct {
			Type, Symbol string
			Epoch        uint64
		}
		if err := json.Unmarshal(v, &probe); err != nil {
			t.Fatal(err)
		}
		rep.apply(t, v)
		if probe.Type != "snapshot" && probe.Type != "delta" {
			continue
		}
		epochs[probe.Symbol] = probe.Epoch
		full := rep.top(probe.Symbol, 1000)
		for _, w := range ws {
			if w.channel != "book."+probe.Symbol {
				continue
			}
			k := epochKey{probe.Epoch, rep.seq[probe.Symbol]}
			got, ok := w.views[k]
			if !ok {
				continue
			}
			want := truncate(full, w.depth)
			if viewDigest(want.bids, want.asks) != got {
				t.Fatalf("%s depth %d %s: view at epoch %d seq %d differs from the replay", w.channel, w.depth, w.interval, k.epoch, k.seq)
			}
			delete(w.views, k)
			checked++
		}
	}
	for _, w := range ws {
		if len(w.views) != 0 {
			t.Errorf("%s depth %d %s: %d views at positions the replay never reached", w.channel, w.depth, w.interval, len(w.views))
		}
	}
	return checked
}

// startEpochWatchers subscribes a raw depth-20 and a 100ms depth-10
// watcher to every symbol.
func startEpochWatchers(ctx context.Context, t *testing.T, url string, symbols []string, done func(sym string, epoch, seq uint64) bool, wg *sync.WaitGroup) []*epochWatcher {
	t.Helper()
	var ws []*epochWatcher
	var ready sync.WaitGroup
	for _, sym := range symbols {
		for _, w := range []*epochWatcher{
			{channel: "book." + sym, depth: 20, interval: "raw"},
			{channel: "book." + sym, depth: 10, interval: "100ms"},
		} {
			ws = append(ws, w)
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, url, func(epoch, seq uint64) bool { return done(sym, epoch, seq) }, &ready)
			}()
		}
	}
	ready.Wait()
	return ws
}

// epochFinals is the (epoch, seq) each symbol's stream ends at, filled once
// the test has produced the last record.
type epochFinals struct{ finals[epochKey] }

func (f *epochFinals) done(sym string, epoch, seq uint64) bool {
	k, ok := f.lookup(sym)
	return ok && epoch == k.epoch && seq >= k.seq
}

// TestPublisherRestartWithNewEpoch: the exchange's publisher restarts
// mid-stream and numbers every symbol's events from a lower seq, in a new
// epoch. Every book is live again at the new epoch's snapshots (well within
// one snapshot period), every subscriber sees a snapshot of the new epoch,
// and every view every client held, at every epoch and seq, equals the
// replay of what the exchange published.
func TestPublisherRestartWithNewEpoch(t *testing.T) {
	e := startEnv(t, 2)
	r := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartEarliest})
	const epochA, epochB = 1767225600000000, 1767225900000000
	mk := newMarket(t, e, sim.Config{Symbols: 4, Seed: 5, Epoch: epochA})
	symbols := mk.ex.Symbols()
	mk.boot()
	waitLiveOn(t, r.srv, symbols, 20*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fin epochFinals
	var wg sync.WaitGroup
	ws := startEpochWatchers(ctx, t, r.url, symbols, fin.done, &wg)
	mk.events(300, nil)

	// The restarted publisher numbers every symbol below the seq the first
	// run reached.
	mk.ex = lowerSeqs(t, mk, 4, epochB, 0)
	restart := time.Now()
	mk.boot()
	waitFor(t, "every book live at the new epoch", sim.DefaultSnapshotEvery, func() bool {
		for _, sym := range symbols {
			tp := r.srv.Hub().Streams(sym)
			if st, _ := tp.State(); st != market.Live || tp.Epoch() != epochB {
				return false
			}
		}
		return true
	})
	took := time.Since(restart)
	mk.events(300, nil)
	final := map[string]epochKey{}
	for _, sym := range symbols {
		mk.now = mk.now.Add(time.Millisecond)
		mk.send([]sim.Message{epochTouch(mk.rep, sym, epochB, mk.now)}, nil)
		final[sym] = epochKey{epochB, mk.rep.seq[sym]}
	}
	fin.set(final)
	wg.Wait()
	for _, w := range ws {
		if w.err != nil {
			t.Fatalf("watcher: %v", w.err)
		}
		at, ep, ok := w.snapshotSince(restart)
		if !ok || ep != epochB {
			t.Fatalf("%s %s: no snapshot of the new epoch (snapshots of epochs %v)", w.channel, w.interval, w.snapEpoch)
		}
		if d := at.Sub(restart); d > sim.DefaultSnapshotEvery {
			t.Errorf("%s %s: new epoch's snapshot %v after the restart, beyond one snapshot period", w.channel, w.interval, d)
		}
		if len(w.statuses) != 0 {
			t.Errorf("%s %s: statuses %v during a restart with epochs", w.channel, w.interval, w.statuses)
		}
	}
	if n := metricSum(t, r.reg, "records_rejected_total"); n != 0 {
		t.Errorf("%v records rejected", n)
	}
	checked := checkEpochViews(t, mk.records, ws)
	t.Logf("all books live %v after the restart; %d views checked", took, checked)
}

// lowerSeqs returns the exchange of a restarted publisher (n symbols,
// epoch) whose every symbol starts more than margin below the seq mk's
// market reached.
func lowerSeqs(t *testing.T, mk *simMarket, n int, epoch uint64, margin uint64) *sim.Exchange {
	t.Helper()
	for seed := int64(2); seed < 500; seed++ {
		lower := true
		for _, m := range sim.New(sim.Config{Symbols: n, Seed: seed}).Snapshots(mk.now, nil) {
			var p struct {
				Type, Symbol string
				Seq          uint64
			}
			_ = json.Unmarshal(m.Value, &p)
			if p.Type == "snapshot" && p.Seq+margin >= mk.rep.seq[p.Symbol] {
				lower = false
			}
		}
		if lower {
			return sim.New(sim.Config{Symbols: n, Seed: seed, Epoch: epoch})
		}
	}
	t.Fatal("no seed numbers every symbol lower")
	return nil
}

// TestBrokerOutageIsAnnounced: the broker stops answering for 10 s. Every
// book subscriber gets a stale status (feed_down) within 3 s, /v1/symbols
// and the metrics say the same, and after the broker is back every
// subscriber gets a fresh snapshot, from which the stream continues and
// equals the replay.
func TestBrokerOutageIsAnnounced(t *testing.T) {
	e := startEnv(t, 2)
	r := runFeedServer(t, feed.Config{Brokers: e.broker.Addrs(), Start: feed.StartEarliest})
	const epoch = 1767225600000000
	mk := newMarket(t, e, sim.Config{Symbols: 4, Seed: 7, Epoch: epoch})
	symbols := mk.ex.Symbols()
	mk.boot()
	waitLiveOn(t, r.srv, symbols, 20*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var fin epochFinals
	var wg sync.WaitGroup
	ws := startEpochWatchers(ctx, t, r.url, symbols, fin.done, &wg)
	mk.events(200, nil)
	waitFor(t, "the events to reach the server", 10*time.Second, func() bool {
		for _, sym := range symbols {
			if _, seq := r.srv.Hub().Streams(sym).State(); seq != mk.rep.seq[sym] {
				return false
			}
		}
		return true
	})

	var down atomic.Bool
	cl := e.broker.Cluster()
	cl.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		if down.Load() {
			return nil, errors.New("broker down"), true
		}
		return nil, nil, false
	})
	down.Store(true)
	outage := time.Now()
	waitFor(t, "every subscriber told", 3*time.Second, func() bool {
		for _, w := range ws {
			if st, _ := w.statusesSince(outage); len(st) == 0 {
				return false
			}
		}
		return true
	})
	for _, w := range ws {
		st, at := w.statusesSince(outage)
		if st[0] != "stale:feed_down" {
			t.Errorf("%s %s: statuses %v, want stale:feed_down", w.channel, w.interval, st)
		}
		t.Logf("%s %s: %s after %v", w.channel, w.interval, st[0], at.Sub(outage).Round(time.Millisecond))
	}
	for _, st := range r.srv.Hub().Symbols() {
		if st.State != "stale" || st.Reason != schemas.ReasonFeedDown {
			t.Errorf("/v1/symbols during the outage: %+v", st)
		}
	}
	if n := metricSum(t, r.reg, "marketfeed_books_stale"); n != float64(len(symbols)) {
		t.Errorf("marketfeed_books_stale sums to %v, want %d", n, len(symbols))
	}
	resp, err := http.Get("http://" + r.srv.Addr() + "/v1/symbols")
	if err != nil {
		t.Fatal(err)
	}
	var listed []fanout.SymbolStatus
	if err := json.NewDecoder(resp.Body).Decode(&listed); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(listed) != len(symbols) || listed[0].Reason != schemas.ReasonFeedDown || listed[0].Epoch != epoch {
		t.Errorf("/v1/symbols: %+v", listed)
	}

	time.Sleep(10*time.Second - time.Since(outage))
	down.Store(false)
	back := time.Now()
	waitFor(t, "a snapshot for every subscriber", 20*time.Second, func() bool {
		for _, w := range ws {
			if _, _, ok := w.snapshotSince(back); !ok {
				return false
			}
		}
		return true
	})
	t.Logf("snapshots after the broker came back within %v", time.Since(back).Round(time.Millisecond))
	mk.events(200, nil)
	final := map[string]epochKey{}
	for _, sym := range symbols {
		mk.now = mk.now.Add(time.Millisecond)
		mk.send([]sim.Message{epochTouch(mk.rep, sym, epoch, mk.now)}, nil)
		final[sym] = epochKey{epoch, mk.rep.seq[sym]}
	}
	fin.set(final)
	wg.Wait()
	for _, w := range ws {
		if w.err != nil {
			t.Fatalf("watcher: %v", w.err)
		}
	}
	for _, st := range r.srv.Hub().Symbols() {
		if st.State != "live" {
			t.Errorf("after the outage: %+v", st)
		}
	}
	t.Logf("%d views checked", checkEpochViews(t, mk.records, ws))
}

// TestRestartWithoutEpochGoesSilent: a publisher without epochs restarts
// and numbers lower. Every record of the new run is rejected, so the books
// stop advancing; instead of staying live they are announced stale
// (silent) once kafka.silent_after has passed.
func TestRestartWithoutEpochGoesSilent(t *testing.T) {
	e := startEnv(t, 2)
	reg := prometheus.NewRegistry()
	srv, _ := runServer(t, server.Config{
		Feed:        feed.Config{Brokers: e.broker.Addrs(), Topic: "marketdata", Start: feed.StartEarliest, DialTimeout: time.Second},
		Registry:    reg,
		SilentAfter: 2 * time.Second,
	})
	url := "ws://" + srv.Addr() + "/ws"
	mk := newMarket(t, e, sim.Config{Symbols: 3, Seed: 5})
	symbols := mk.ex.Symbols()
	mk.boot()
	waitLiveOn(t, srv, symbols, 20*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var fin epochFinals
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	ws := startEpochWatchers(ctx, t, url, symbols, fin.done, &wg)
	mk.events(100, nil)

	// A restarted publisher numbering every symbol well below (a seed
	// whose seqs stay below the first run's for the whole test), producing
	// for longer than the silence bound.
	mk.ex = lowerSeqs(t, mk, 3, 0, 5000)
	restart := time.Now()
	mk.boot()
	for time.Since(restart) < 3500*time.Millisecond {
		mk.events(20, nil)
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range ws {
		st, at := w.statusesSince(restart)
		if len(st) == 0 || st[0] != "stale:silent" {
			t.Errorf("%s %s: statuses %v after a restart without epochs, want stale:silent", w.channel, w.interval, st)
			continue
		}
		t.Logf("%s %s: %s after %v", w.channel, w.interval, st[0], at.Sub(restart).Round(time.Millisecond))
	}
	if n := metricSum(t, reg, "records_rejected_total"); n == 0 {
		t.Error("the renumbered records were not rejected")
	}
}
