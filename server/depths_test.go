package server_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// viewDigest is the SHA-256 of a view's canonical checksum string
// (websocket.md 5.7.1): equal digests mean equal views.
func viewDigest(bids, asks [][2]string) [32]byte {
	return sha256.Sum256(schemas.AppendChecksumString(nil, bids, asks))
}

// digestWatcher follows one book subscription with the client package's
// Book (which verifies every checksum), records the digest of its view at
// every seq it receives, and once, halfway, asks for a resync.
type digestWatcher struct {
	channel  string
	depth    int
	interval string
	resyncAt int // messages before the resync
	views    map[uint64][32]byte
	statuses []string // status values received
	received int
	resynced bool
	err      error
}

func (w *digestWatcher) run(ctx context.Context, url string, final func() uint64, ready *sync.WaitGroup) {
	signalled := false
	signal := func() {
		if !signalled {
			signalled = true
			ready.Done()
		}
	}
	defer signal()
	w.views = map[uint64][32]byte{}
	fail := func(err error) { w.err = fmt.Errorf("%s depth %d %s: %w", w.channel, w.depth, w.interval, err) }
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
		done := func() bool {
			f := final()
			return f != 0 && book.Seq() >= f && (w.resynced || w.resyncAt == 0)
		}
		nctx, ncancel := context.WithTimeout(ctx, 100*time.Millisecond)
		m, err := conn.Next(nctx)
		ncancel()
		if err != nil && ctx.Err() == nil && nctx.Err() != nil {
			if done() {
				return
			}
			continue // quiet: look at final again
		}
		if err != nil {
			fail(fmt.Errorf("after %d messages, book at seq %d (final %d, resynced %v): %w", w.received, book.Seq(), final(), w.resynced, err))
			return
		}
		if se := client.ServerErrorOf(m); se != nil {
			fail(se)
			return
		}
		if m.Type == schemas.TypeSubscribed {
			signal() // from here on the subscription sees every event
		}
		if m.Channel == w.channel && m.Type == schemas.TypeStatus {
			w.statuses = append(w.statuses, m.Status)
		}
		if m.Channel != w.channel || (m.Type != schemas.TypeSnapshot && m.Type != schemas.TypeUpdate) {
			continue
		}
		if m.Checksum == nil {
			fail(fmt.Errorf("%s at seq %d without checksum", m.Type, m.Seq))
			return
		}
		if err := book.Apply(m); err != nil { // gaps and checksums
			fail(err)
			return
		}
		w.received++
		w.views[book.Seq()] = viewDigest(book.Bids(), book.Asks())
		if w.received == w.resyncAt {
			if err := conn.Resync(2, []string{w.channel}); err != nil {
				fail(err)
				return
			}
		}
		if m.Type == schemas.TypeSnapshot && w.received > w.resyncAt && w.resyncAt > 0 {
			w.resynced = true
		}
		if done() {
			return
		}
	}
}

// TestEveryDepthAndInterval subscribes one client to every offered depth
// at every interval of a deep book (more levels than the largest depth),
// streams a synthetic market through the broker, and checks that every
// view a client holds, at every seq it receives, is exactly the top of an
// independent replay, that every checksum verifies, and that a resync in
// the middle of the stream continues seamlessly.
func TestEveryDepthAndInterval(t *testing.T) {
	events := 800
	if raceEnabled || testing.Short() {
		events = 300
	}
	e := startEnv(t, 1)
	rc := bootRecording(t, e, sim.Config{Symbols: 1, Levels: 1100, Seed: 11})
	ex, sym, now, keep := rc.ex, rc.sym, rc.now, rc.keep
	channel := "book." + sym

	var final struct {
		sync.Mutex
		seq uint64
	}
	finalSeq := func() uint64 { final.Lock(); defer final.Unlock(); return final.seq }
	var watchers []*digestWatcher
	for _, iv := range []string{"raw", "100ms", "1s"} {
		for _, d := range []int{1, 5, 10, 20, 50, 100, 500, 1000} {
			resyncAt := 0
			if iv == "raw" {
				resyncAt = 20
			} else if iv == "100ms" {
				resyncAt = 3
			}
			watchers = append(watchers, &digestWatcher{channel: channel, depth: d, interval: iv, resyncAt: resyncAt})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var ready, wg sync.WaitGroup
	for _, w := range watchers {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, e.url, finalSeq, &ready)
		}()
	}
	ready.Wait()

	var batch []sim.Message
	for i := range events {
		now = now.Add(2 * time.Millisecond)
		batch = ex.Next(now, batch)
		if i%500 == 499 {
			batch = ex.Snapshots(now, batch)
		}
		if len(batch) >= 50 || i == events-1 {
			keep(batch)
			e.produce(t, batch)
			batch = batch[:0]
			time.Sleep(5 * time.Millisecond) // let throttled streams tick mid-stream
		}
	}
	rep := rc.replay(t)
	last := touchDelta(rep, sym, now)
	keep(last)
	e.produce(t, last)
	rep.apply(t, last[0].Value)
	final.Lock()
	final.seq = rep.seq[sym]
	final.Unlock()
	wg.Wait()
	for _, w := range watchers {
		if w.err != nil {
			t.Fatalf("watcher: %v", w.err)
		}
	}

	checked := checkViews(t, rc.records, watchers)
	for _, w := range watchers {
		if w.resyncAt > 0 && !w.resynced {
			t.Errorf("%s depth %d %s: no snapshot after the resync", w.channel, w.depth, w.interval)
		}
	}
	t.Logf("%d views of %d subscriptions checked against the replay", checked, len(watchers))
}

// touchDelta returns a delta that doubles the size of sym's best bid, which
// every view holds, so every stream sends a message at its seq.
func touchDelta(rep *replay, sym string, now time.Time) []sim.Message {
	sc := rep.scale[sym]
	best := rep.top(sym, 1).bids[0]
	v := fmt.Appendf(nil, `{"type":"delta","symbol":%q,"ts":%d,"seq":%d,"bids":[[%q,%q]]}`,
		sym, now.UnixMicro(), rep.seq[sym]+1, best[0], format(2*mantissa(best[1], sc[1]), sc[1]))
	return []sim.Message{{Key: []byte(sym), Value: v, Time: now}}
}

// checkViews replays records (every record the exchange produced, in
// order) and compares every view a watcher held with the replay's view at
// the same seq; it returns the number of views compared.
func checkViews(t *testing.T, records [][]byte, watchers []*digestWatcher) int {
	t.Helper()
	rep := newReplay(0)
	checked := 0
	tops := map[string]view{}
	for _, v := range records {
		rep.apply(t, v)
		clear(tops)
		for _, w := range watchers {
			sym := w.channel[len("book."):]
			seq, ok := rep.seq[sym]
			if !ok {
				continue
			}
			got, ok := w.views[seq]
			if !ok {
				continue
			}
			full, ok := tops[sym]
			if !ok {
				full = rep.top(sym, 1000)
				tops[sym] = full
			}
			want := truncate(full, w.depth)
			if viewDigest(want.bids, want.asks) != got {
				t.Fatalf("%s depth %d %s: view at seq %d differs from the replay", w.channel, w.depth, w.interval, seq)
			}
			delete(w.views, seq) // a later record at the same seq is the same book
			checked++
		}
	}
	for _, w := range watchers {
		if len(w.views) != 0 {
			t.Errorf("%s depth %d %s: %d views at seqs the replay never reached", w.channel, w.depth, w.interval, len(w.views))
		}
	}
	return checked
}

// recording is a one-symbol exchange booted in an env, with every record
// it produced kept in order for the replay.
type recording struct {
	ex      *sim.Exchange
	sym     string
	now     time.Time
	records [][]byte
}

// bootRecording starts the one-symbol exchange of cfg in e, publishes its
// snapshots and waits for the book to be live.
func bootRecording(t *testing.T, e *env, cfg sim.Config) *recording {
	t.Helper()
	r := &recording{ex: sim.New(cfg), now: time.Now()}
	r.sym = r.ex.Symbols()[0]
	boot := r.ex.Snapshots(r.now, nil)
	r.keep(boot)
	e.produce(t, boot)
	e.waitLive(t, []string{r.sym})
	return r
}

// keep records msgs, which the caller produces.
func (r *recording) keep(msgs []sim.Message) {
	for _, m := range msgs {
		r.records = append(r.records, append([]byte(nil), m.Value...))
	}
}

// replay returns the replay of every record kept.
func (r *recording) replay(t *testing.T) *replay {
	rep := newReplay(0)
	for _, v := range r.records {
		rep.apply(t, v)
	}
	return rep
}
