package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// bboSeen is one bbo message (or, with status set, a status message) a
// bboWatcher received.
type bboSeen struct {
	status string
	seq    uint64
	top    [4]string // bid, bid_size, ask, ask_size
}

// bboWatcher holds a bbo subscription and records every message of it
// until a bbo at the symbol's final seq.
type bboWatcher struct {
	sym, interval string
	seen          []bboSeen
	err           error
}

func (w *bboWatcher) run(ctx context.Context, url string, final func() (uint64, bool), ready *sync.WaitGroup) {
	defer func() {
		if ready != nil {
			ready.Done()
		}
	}()
	c, err := client.Dial(ctx, url, client.Options{})
	if err != nil {
		w.err = err
		return
	}
	defer c.Close()
	if err := c.Subscribe(1, []string{"bbo." + w.sym}, 0, w.interval); err != nil {
		w.err = err
		return
	}
	for {
		mctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		m, err := c.Next(mctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if f, ok := final(); ok && len(w.seen) > 0 && w.seen[len(w.seen)-1].seq == f {
				return
			}
			continue
		}
		if err != nil {
			w.err = fmt.Errorf("bbo.%s %s after %d messages: %w", w.sym, w.interval, len(w.seen), err)
			return
		}
		switch m.Type {
		case schemas.TypeSubscribed:
			if m.Interval != w.interval {
				w.err = fmt.Errorf("subscribed at %s, want %s", m.Interval, w.interval)
				return
			}
			ready.Done()
			ready = nil
		case schemas.TypeStatus:
			w.seen = append(w.seen, bboSeen{status: m.Status + ":" + m.Reason})
		case schemas.TypeBBO:
			w.seen = append(w.seen, bboSeen{seq: m.Seq, top: [4]string{m.Bid, m.BidSize, m.Ask, m.AskSize}})
		default:
			w.err = fmt.Errorf("unexpected %s message", m.Type)
			return
		}
	}
}

// topAt returns the replay's top of sym at seq (a replay of depth 1).
func topAt(rep *replay, sym string, seq uint64) ([4]string, bool) {
	v, ok := rep.views[sym][seq]
	if !ok {
		return [4]string{}, false
	}
	var top [4]string
	if len(v.bids) > 0 {
		top[0], top[1] = v.bids[0][0], v.bids[0][1]
	}
	if len(v.asks) > 0 {
		top[2], top[3] = v.asks[0][0], v.asks[0][1]
	}
	return top, true
}

// TestBBOFollowsTheBook streams a synthetic market, with deltas of one
// symbol lost upstream (the book goes stale and recovers at the next
// snapshot), to bbo subscriptions at every interval, and checks that
// every bbo equals the book's top at its seq in an independent replay,
// that a raw subscription misses no change of the top while the book is
// served, and that a throttled one sends only changes.
func TestBBOFollowsTheBook(t *testing.T) {
	e := startEnv(t, 2)
	mk := newMarket(t, e, sim.Config{Symbols: 3, Seed: 11})
	mk.rep = newReplay(1)
	symbols := mk.ex.Symbols()
	mk.boot()
	e.waitLive(t, symbols)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var fin finals[uint64]
	var ready, wg sync.WaitGroup
	var ws []*bboWatcher
	for _, sym := range symbols[:2] {
		for _, iv := range []string{"raw", "100ms", "1s"} {
			w := &bboWatcher{sym: sym, interval: iv}
			ws = append(ws, w)
			ready.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.run(ctx, e.url, func() (uint64, bool) { return fin.lookup(sym) }, &ready)
			}()
		}
	}
	ready.Wait()

	mk.events(1500, nil)
	lost := 0
	mk.events(300, func(m sim.Message) bool {
		if string(m.Key) == symbols[0] && lost < 2 && strings.Contains(string(m.Value), `"type":"delta"`) {
			lost++
			return true
		}
		return false
	})
	mk.snapshots()
	mk.events(1500, nil)
	fin.set(mk.finish())
	wg.Wait()

	checked := 0
	for _, w := range ws {
		if w.err != nil {
			t.Fatal(w.err)
		}
		checked += checkBBO(t, mk.rep, w, w.sym == symbols[0])
	}
	t.Logf("%d bbo messages checked against the replay", checked)
}

// checkBBO checks one watcher's messages against the replay; stale says
// the book went stale and recovered during the run.
func checkBBO(t *testing.T, rep *replay, w *bboWatcher, stale bool) int {
	t.Helper()
	name := "bbo." + w.sym + " " + w.interval
	var prev *bboSeen // the last bbo while the book is served
	sawStale, recovered := false, false
	for i := range w.seen {
		m := &w.seen[i]
		if m.status != "" {
			sawStale = sawStale || m.status == "stale:gap"
			prev = nil
			continue
		}
		recovered = recovered || sawStale
		want, ok := topAt(rep, w.sym, m.seq)
		if !ok || m.top != want {
			t.Fatalf("%s message %d at seq %d: %v, the book's top %v (known %v)", name, i, m.seq, m.top, want, ok)
		}
		if prev != nil {
			if m.seq <= prev.seq {
				t.Fatalf("%s: seq %d after %d", name, m.seq, prev.seq)
			}
			if m.top == prev.top {
				t.Fatalf("%s: seq %d repeats the top of %d", name, m.seq, prev.seq)
			}
			for s := prev.seq + 1; w.interval == "raw" && s < m.seq; s++ {
				if top, ok := topAt(rep, w.sym, s); ok && top != prev.top {
					t.Fatalf("%s: the top changed at seq %d (%v), between bbo messages at %d and %d", name, s, top, prev.seq, m.seq)
				}
			}
		}
		prev = m
	}
	if final := rep.seq[w.sym]; prev == nil || prev.seq != final {
		t.Fatalf("%s ended at %+v, want seq %d", name, prev, final)
	}
	if stale && (!sawStale || !recovered) {
		t.Errorf("%s: stale %v, recovered %v; want both", name, sawStale, recovered)
	}
	if !stale && sawStale {
		t.Errorf("%s: stale although nothing was lost", name)
	}
	return len(w.seen)
}
