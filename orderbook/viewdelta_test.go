package orderbook

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/internal/oracle"
)

// client is a subscriber's view: per side, price → size of the top depth
// levels, maintained only by applying ViewDelta entries.
type client struct {
	depth int
	view  [2]map[int64]int64
}

func newClient(depth int, ref *oracle.Book) *client {
	c := &client{depth: depth, view: [2]map[int64]int64{{}, {}}}
	for _, bid := range []bool{true, false} {
		for _, l := range ref.Top(bid, depth) {
			c.view[sideOf(bid)][l[0]] = l[1]
		}
	}
	return c
}

// apply applies entries to side s, failing on entries out of best-first
// order and on entries that do not change the view (a set to the size the
// client already holds, or a delete of a level it does not hold).
func (c *client) apply(s Side, entries []Level) error {
	v := c.view[s]
	for i, e := range entries {
		if i > 0 {
			prev := entries[i-1].Price
			if (s == Bid && prev <= e.Price) || (s == Ask && prev >= e.Price) {
				return fmt.Errorf("entries not strictly best-first: %v", entries)
			}
		}
		old, held := v[e.Price]
		switch {
		case e.Size < 0:
			return fmt.Errorf("negative size in %+v", e)
		case e.Size == 0 && !held:
			return fmt.Errorf("delete of %d, which the client does not hold", e.Price)
		case e.Size == 0:
			delete(v, e.Price)
		case held && old == e.Size:
			return fmt.Errorf("redundant entry %+v for an unchanged level in view", e)
		default:
			v[e.Price] = e.Size
		}
	}
	return nil
}

func (c *client) check(s Side, ref *oracle.Book) error {
	want := ref.Top(s == Bid, c.depth)
	v := c.view[s]
	if len(v) != len(want) {
		return fmt.Errorf("%v view has %d levels, want %d (%v vs %v)", s, len(v), len(want), v, want)
	}
	for _, l := range want {
		if v[l[0]] != l[1] {
			return fmt.Errorf("%v view at %d = %d, want %d", s, l[0], v[l[0]], l[1])
		}
	}
	return nil
}

// TestViewDeltaMatchesReference runs random events through one book and
// keeps a simulated client per depth in sync by ViewDelta alone: raw streams
// flush after every event, throttled streams after batches of events.
func TestViewDeltaMatchesReference(t *testing.T) {
	for _, depth := range []int{1, 5, 20, 100} {
		var full, short int // flushes (per side) with a full / not full view
		for _, throttled := range []bool{false, true} {
			for seed := uint64(1); seed <= 3; seed++ {
				name := fmt.Sprintf("depth=%d/throttled=%v/seed=%d", depth, throttled, seed)
				t.Run(name, func(t *testing.T) {
					f, s := runViewDelta(t, depth, throttled, seed)
					full += f
					short += s
				})
			}
		}
		// Both regimes must have been exercised: views overflowing the
		// depth (levels pushed out and pulled in) and views holding the
		// whole side.
		if total := full + short; full < total/10 || short < total/50 {
			t.Errorf("depth %d: %d flushes with a full view, %d with a short one", depth, full, short)
		}
	}
}

// runViewDelta runs one stream and returns the number of side flushes with
// the side deeper than the view and with the side within the view.
func runViewDelta(t *testing.T, depth int, throttled bool, seed uint64) (full, short int) {
	r := rand.New(rand.NewPCG(seed, uint64(depth)))
	g := &bookGen{r: r, mid: 10_000, span: 2*int64(depth) + 40, maxSize: 3}
	b, ref := New(), oracle.NewBook()
	for i := range g.span { // about 3/4 of the prices within the span
		if r.IntN(4) != 0 {
			b.Set(Bid, g.mid-1-i, 1+i%3)
			ref.Set(true, g.mid-1-i, 1+i%3)
		}
		if r.IntN(4) != 0 {
			b.Set(Ask, g.mid+1+i, 1+i%3)
			ref.Set(false, g.mid+1+i, 1+i%3)
		}
	}
	c := newClient(depth, ref)
	var log ChangeLog
	var entries []Level
	emitted := 0
	// Each side drifts towards a target number of levels that changes every
	// 50 flushes, so views are sometimes full and sometimes short.
	var targets [2]int
	for flush := 0; flush < 600; flush++ {
		if flush%50 == 0 {
			targets = [2]int{1 + r.IntN(2*depth+10), 1 + r.IntN(2*depth+10)}
		}
		before := [2]Edge{b.Edge(Bid, depth), b.Edge(Ask, depth)}
		log.Reset()
		events := 1
		if throttled {
			events = 1 + r.IntN(12)
		}
		set := func(bid bool, p, sz int64) {
			log.Record(sideOf(bid), p, b.Set(sideOf(bid), p, sz))
			ref.Set(bid, p, sz)
		}
		for range events {
			switch k := r.IntN(60); {
			case k == 0: // a burst that reshapes the view
				for range 2*depth + r.IntN(20) {
					bid := r.IntN(2) == 0
					set(bid, g.price(ref, bid), g.size())
				}
			case k == 1: // a sweep removing the top levels of a side
				bid := r.IntN(2) == 0
				for _, l := range ref.Top(bid, 1+r.IntN(depth+5)) {
					set(bid, l[0], 0)
				}
			default:
				for range 1 + r.IntN(4) {
					bid := r.IntN(2) == 0
					n, target := b.Len(sideOf(bid)), targets[sideOf(bid)]
					switch {
					case n < target && r.IntN(3) != 0: // grow: insert anywhere
						d := r.Int64N(g.span)
						p := g.mid - 1 - d
						if !bid {
							p = g.mid + 1 + d
						}
						set(bid, p, 1+r.Int64N(g.maxSize))
					case n > target && r.IntN(3) != 0: // shrink: delete any level
						all := ref.Top(bid, 0)
						set(bid, all[r.IntN(len(all))][0], 0)
					default:
						set(bid, g.price(ref, bid), g.size())
					}
				}
			}
		}
		for _, s := range []Side{Bid, Ask} {
			entries = b.ViewDelta(s, depth, before[s], &log, entries[:0])
			emitted += len(entries)
			if err := c.apply(s, entries); err != nil {
				t.Fatalf("flush %d: %v", flush, err)
			}
			if err := c.check(s, ref); err != nil {
				t.Fatalf("flush %d: %v (entries %v)", flush, err, entries)
			}
			if b.Len(s) > depth {
				full++
			} else {
				short++
			}
		}
	}
	if emitted == 0 {
		t.Fatal("no entries emitted at all")
	}
	return full, short
}

// TestViewDeltaCases checks hand-built situations with the expected entries
// derived by reasoning about the view.
func TestViewDeltaCases(t *testing.T) {
	type change struct {
		side        Side
		price, size int64
	}
	base := []change{{Bid, 100, 1}, {Bid, 99, 2}, {Bid, 98, 3}, {Bid, 97, 4}, {Ask, 101, 1}, {Ask, 102, 2}, {Ask, 103, 3}}
	cases := []struct {
		name    string
		depth   int
		side    Side
		changes []change
		want    []Level
	}{
		{"size update in view", 2, Bid, []change{{Bid, 99, 5}}, []Level{{99, 5}}},
		{"change outside view", 2, Bid, []change{{Bid, 97, 9}}, nil},
		{"same size is no change", 2, Bid, []change{{Bid, 100, 1}}, nil},
		{"insert pushes worst out", 2, Bid, []change{{Bid, 101, 7}}, []Level{{101, 7}, {99, 0}}},
		{"delete pulls next in", 2, Bid, []change{{Bid, 100, 0}}, []Level{{100, 0}, {98, 3}}},
		{"insert then delete", 2, Bid, []change{{Bid, 105, 1}, {Bid, 105, 0}}, nil},
		{"delete then re-add", 2, Bid, []change{{Bid, 100, 0}, {Bid, 100, 1}}, nil},
		{"two inserts push two out", 2, Ask, []change{{Ask, 99, 1}, {Ask, 100, 1}}, []Level{{99, 1}, {100, 1}, {101, 0}, {102, 0}}},
		{"ask delete pulls in", 2, Ask, []change{{Ask, 101, 0}}, []Level{{101, 0}, {103, 3}}},
		{"side emptied", 5, Ask, []change{{Ask, 101, 0}, {Ask, 102, 0}, {Ask, 103, 0}}, []Level{{101, 0}, {102, 0}, {103, 0}}},
		{"short view grows", 5, Ask, []change{{Ask, 110, 4}}, []Level{{110, 4}}},
		{"other side untouched", 2, Ask, []change{{Bid, 100, 0}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := New()
			for _, c := range base {
				b.Set(c.side, c.price, c.size)
			}
			before := b.Edge(tc.side, tc.depth)
			var log ChangeLog
			for _, c := range tc.changes {
				log.Record(c.side, c.price, b.Set(c.side, c.price, c.size))
			}
			got := b.ViewDelta(tc.side, tc.depth, before, &log, nil)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestViewDeltaFromEmptySide(t *testing.T) {
	b := New()
	before := b.Edge(Bid, 3)
	var log ChangeLog
	for _, p := range []int64{10, 12, 11, 9} {
		log.Record(Bid, p, b.Set(Bid, p, p))
	}
	got := b.ViewDelta(Bid, 3, before, &log, nil)
	want := []Level{{12, 12}, {11, 11}, {10, 10}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
