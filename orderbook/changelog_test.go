package orderbook

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestChangeLogKeepsFirstPrev(t *testing.T) {
	var c ChangeLog
	steps := []struct {
		side        Side
		price, prev int64
	}{
		{Bid, 100, 5}, {Bid, 100, 7}, {Ask, 100, 1}, {Bid, 101, 0},
		{Ask, 100, 9}, {Bid, math.MinInt64, 3}, {Bid, math.MinInt64, 4},
	}
	for _, st := range steps {
		c.Record(st.side, st.price, st.prev)
	}
	want := []struct {
		side    Side
		price   int64
		prev    int64
		changed bool
	}{
		{Bid, 100, 5, true}, {Ask, 100, 1, true}, {Bid, 101, 0, true},
		{Bid, math.MinInt64, 3, true}, {Ask, 101, 0, false}, {Bid, 99, 0, false},
	}
	for _, w := range want {
		if p, ok := c.Prev(w.side, w.price); p != w.prev || ok != w.changed {
			t.Errorf("Prev(%v, %d) = %d %v, want %d %v", w.side, w.price, p, ok, w.prev, w.changed)
		}
	}
	if c.Len() != 4 {
		t.Errorf("Len = %d, want 4", c.Len())
	}
	c.Reset()
	if c.Len() != 0 {
		t.Errorf("Len after Reset = %d", c.Len())
	}
	if _, ok := c.Prev(Bid, 100); ok {
		t.Error("price still recorded after Reset")
	}
	c.Record(Bid, 100, 8)
	if p, ok := c.Prev(Bid, 100); p != 8 || !ok {
		t.Errorf("Prev after Reset and Record = %d %v, want 8 true", p, ok)
	}
}

// TestChangeLogMatchesMap drives the log through growth and many Resets and
// compares it with a map after each batch.
func TestChangeLogMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var c ChangeLog
	for batch := 0; batch < 300; batch++ {
		n := r.IntN(1 + batch*3)
		want := [2]map[int64]int64{{}, {}}
		for range n {
			s := Side(r.IntN(2))
			p := r.Int64N(int64(2*n+1)) * 1000 // collisions and repeats
			v := r.Int64N(100)
			if _, ok := want[s][p]; !ok {
				want[s][p] = v
			}
			c.Record(s, p, v)
		}
		if c.Len() != len(want[0])+len(want[1]) {
			t.Fatalf("batch %d: Len = %d, want %d", batch, c.Len(), len(want[0])+len(want[1]))
		}
		for s := range want {
			for p, v := range want[s] {
				if got, ok := c.Prev(Side(s), p); !ok || got != v {
					t.Fatalf("batch %d: Prev(%d, %d) = %d %v, want %d", batch, s, p, got, ok, v)
				}
			}
			if _, ok := c.Prev(Side(s), 1); ok { // never recorded (not a multiple of 1000)
				t.Fatalf("batch %d: phantom entry", batch)
			}
		}
		c.Reset()
	}
}

func TestChangeLogGenerationWrap(t *testing.T) {
	var c ChangeLog
	c.Record(Bid, 1, 1)
	c.Record(Bid, 2, 2)
	c.sides[Bid].gen = math.MaxUint32 - 1
	c.Reset() // stale slots now carry an older generation
	c.Record(Bid, 3, 3)
	c.Reset() // generation wraps: table must be cleared
	if _, ok := c.Prev(Bid, 3); ok {
		t.Fatal("entry survived generation wrap")
	}
	c.Record(Bid, 3, 30)
	if p, ok := c.Prev(Bid, 3); !ok || p != 30 || c.Len() != 1 {
		t.Fatalf("after wrap: Prev = %d %v, Len = %d", p, ok, c.Len())
	}
}

func TestChangeLogSteadyStateNoAlloc(t *testing.T) {
	var c ChangeLog
	fill := func() {
		for p := int64(0); p < 500; p++ {
			c.Record(Side(p&1), p, p)
		}
		c.Reset()
	}
	fill()
	if a := testing.AllocsPerRun(20, fill); a != 0 {
		t.Fatalf("Record allocated %v times per batch", a)
	}
}
