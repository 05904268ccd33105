package market

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// copyBook returns a copy of b.
func copyBook(b *orderbook.Book) *orderbook.Book {
	c := orderbook.New()
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		for _, l := range b.Top(side, b.Len(side), nil) {
			c.Set(side, l.Price, l.Size)
		}
	}
	return c
}

// randomDelta returns a delta record of 1 to 4 levels on the grid of defA
// (bids 9.00..9.95, asks 10.10..11.05; size 0 deletes).
func randomDelta(t testing.TB, rng *rand.Rand, seq uint64, ts int64) *schemas.Record {
	var sides [2][]string
	for range 1 + rng.IntN(4) {
		side := rng.IntN(2)
		tick := rng.IntN(20)
		price := 900 + 5*tick
		if side == 1 {
			price = 1010 + 5*tick
		}
		size := []string{"0", "0.5", "1", "2.5"}[rng.IntN(4)]
		sides[side] = append(sides[side], fmt.Sprintf(`["%d.%02d","%s"]`, price/100, price%100, size))
	}
	return rec(t, `{"type":"delta","symbol":"A","ts":%d,"epoch":1,"seq":%d,"bids":[%s],"asks":[%s]}`,
		ts, seq, strings.Join(sides[0], ","), strings.Join(sides[1], ","))
}

// The history gives, for every seq it covers, the book as it was then:
// the current book with each logged level at its recorded size; and the
// view edges and view deltas from it agree with the book at that seq.
func TestHistoryRebuildsPastBooks(t *testing.T) {
	s := live(t)
	rng := rand.New(rand.NewPCG(1, 2))
	past := map[uint64]*orderbook.Book{10: copyBook(s.Book())}
	for seq := uint64(11); seq <= 400; seq++ {
		if c := s.ApplyDelta(randomDelta(t, rng, seq, int64(seq))); !c.Applied {
			t.Fatalf("delta %d: %+v", seq, c)
		}
		past[seq] = copyBook(s.Book())
	}
	if start, ok := s.HistoryStart(); !ok || start != 10 {
		t.Fatalf("history start %d %v, want 10", start, ok)
	}
	var log orderbook.ChangeLog
	for seq := uint64(10); seq <= 400; seq += 7 {
		if !s.ChangesSince(seq, &log) {
			t.Fatalf("no history since %d", seq)
		}
		then := copyBook(s.Book())
		for side := orderbook.Bid; side <= orderbook.Ask; side++ {
			for p := int64(900); p <= 1105; p += 5 {
				if prev, changed := log.Prev(side, p); changed {
					then.Set(side, p, prev)
				}
			}
		}
		if !then.Equal(past[seq]) {
			t.Fatalf("book rebuilt at %d differs", seq)
		}
		for _, depth := range []int{1, 3, 10, 50} {
			for side := orderbook.Bid; side <= orderbook.Ask; side++ {
				e, _ := s.Book().EdgeBefore(side, depth, &log, nil)
				if want := past[seq].Edge(side, depth); e != want {
					t.Fatalf("seq %d depth %d side %v: edge %+v, want %+v", seq, depth, side, e, want)
				}
				view := past[seq].Top(side, depth, nil)
				got := applyEntries(side, view, s.Book().ViewDelta(side, depth, e, &log, nil))
				if want := s.Book().Top(side, depth, nil); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("seq %d depth %d: view delta gives %v, want %v", seq, depth, got, want)
				}
			}
		}
	}
	if s.ChangesSince(9, &log) || s.ChangesSince(401, &log) {
		t.Fatal("history claims seqs it does not cover")
	}
	if ts, ok := s.HistoryTS(123); !ok || ts != 123 {
		t.Fatalf("HistoryTS(123) = %d %v", ts, ok)
	}
}

// applyEntries applies view-delta entries to a view, best first.
func applyEntries(side orderbook.Side, view, entries []orderbook.Level) []orderbook.Level {
	b := orderbook.New()
	for _, l := range view {
		b.Set(side, l.Price, l.Size)
	}
	for _, e := range entries {
		b.Set(side, e.Price, e.Size)
	}
	return b.Top(side, b.Len(side), nil)
}

// The history keeps the changes of its time window, within its byte
// bound, and restarts or stops with the book.
func TestHistoryBounds(t *testing.T) {
	s := live(t)
	s.SetHistoryLimits(HistoryLimits{Window: 10 * time.Millisecond, MaxBytes: 100 * HistoryEntryBytes}) // 10 ms
	rng := rand.New(rand.NewPCG(3, 4))
	seq := uint64(11)
	for ; seq <= 60; seq++ {
		s.ApplyDelta(randomDelta(t, rng, seq, int64(seq)*1000)) // 1 ms apart
	}
	start, ok := s.HistoryStart()
	if !ok || start < 49 || start > 50 {
		t.Fatalf("window: start %d %v, want the last 10 ms (49 or 50)", start, ok)
	}
	for ; seq <= 1000; seq++ {
		s.ApplyDelta(randomDelta(t, rng, seq, 60_000)) // same time: only bytes bound it
	}
	start, _ = s.HistoryStart()
	if s.HistoryBytes() != 100*int64(HistoryEntryBytes) || start < 1000-100 || start > 1000-25 {
		t.Fatalf("bytes: %d bytes, start %d", s.HistoryBytes(), start)
	}
	var log orderbook.ChangeLog
	if !s.ChangesSince(start, &log) || s.ChangesSince(start-1, &log) {
		t.Fatalf("coverage around start %d", start)
	}
	// A snapshot that verifies the book keeps the history.
	top := func(side orderbook.Side) string {
		var parts []string
		for _, l := range s.Book().Top(side, 100, nil) {
			parts = append(parts, fmt.Sprintf(`["%d.%02d","%d.%d"]`, l.Price/100, l.Price%100, l.Size/10, l.Size%10))
		}
		return strings.Join(parts, ",")
	}
	if c := s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":60001,"epoch":1,"seq":1000,"bids":[%s],"asks":[%s]}`, top(orderbook.Bid), top(orderbook.Ask))); c.Snapshot != SnapshotVerified {
		t.Fatalf("verify: %+v", c)
	}
	if st, ok := s.HistoryStart(); !ok || st != start {
		t.Fatalf("after a verifying snapshot: %d %v", st, ok)
	}
	// A gap stops it; the next snapshot restarts it at its seq.
	s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":60002,"epoch":1,"seq":1005,"bids":[["9.00","1"]]}`))
	if _, ok := s.HistoryStart(); ok || s.ChangesSince(1000, &log) {
		t.Fatal("history kept across a gap")
	}
	s.ApplySnapshot(rec(t, `{"type":"snapshot","symbol":"A","ts":60003,"epoch":2,"seq":3,"bids":[["9.00","1"]],"asks":[]}`))
	if st, ok := s.HistoryStart(); !ok || st != 3 {
		t.Fatalf("after a new epoch's snapshot: %d %v", st, ok)
	}
	// Disabled: nothing is held.
	s.SetHistoryLimits(HistoryLimits{Window: -1})
	s.ApplyDelta(rec(t, `{"type":"delta","symbol":"A","ts":60004,"epoch":2,"seq":4,"bids":[["9.00","2"]]}`))
	if _, ok := s.HistoryStart(); ok || s.HistoryBytes() != 0 {
		t.Fatal("disabled history holds changes")
	}
}

// Recording in a history at its bound does not allocate.
func TestHistoryAllocs(t *testing.T) {
	s := live(t)
	s.SetHistoryLimits(HistoryLimits{MaxBytes: 256 * HistoryEntryBytes})
	rng := rand.New(rand.NewPCG(5, 6))
	rs := make([]*schemas.Record, 400)
	for i := range rs {
		rs[i] = randomDelta(t, rng, uint64(11+i), int64(i))
	}
	for _, r := range rs[:300] {
		s.ApplyDelta(r)
	}
	i := 300
	allocs := testing.AllocsPerRun(50, func() {
		if c := s.ApplyDelta(rs[i]); !c.Applied {
			t.Fatalf("delta %d: %+v", i, c)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("%v allocations per delta with a full history", allocs)
	}
}
