package sim

import (
	"math/rand/v2"
	"sort"
	"testing"
)

// TestSideAgainstMap drives side.set with random operations and compares
// it with a map after each one.
func TestSideAgainstMap(t *testing.T) {
	for _, bid := range []bool{true, false} {
		rng := rand.New(rand.NewPCG(1, 2))
		s := side{bid: bid}
		ref := map[int64]int64{}
		for i := 0; i < 20000; i++ {
			p := 1 + rng.Int64N(200)
			sz := rng.Int64N(4) // 0 deletes
			s.set(p, sz)
			if sz == 0 {
				delete(ref, p)
			} else {
				ref[p] = sz
			}
			if len(s.levels) != len(ref) {
				t.Fatalf("op %d: %d levels, map has %d", i, len(s.levels), len(ref))
			}
			for j, l := range s.levels {
				if ref[l.price] != l.size || j > 0 && !s.better(s.levels[j-1].price, l.price) {
					t.Fatalf("op %d: levels %v not sorted or differ from the map", i, s.levels)
				}
			}
			q := 1 + rng.Int64N(200)
			if s.size(q) != ref[q] {
				t.Fatalf("size(%d) = %d, map %d", q, s.size(q), ref[q])
			}
		}
		prices := make([]int64, 0, len(ref))
		for p := range ref {
			prices = append(prices, p)
		}
		sort.Slice(prices, func(i, j int) bool { return s.better(prices[i], prices[j]) })
		if b, _ := s.best(); len(prices) > 0 && b != prices[0] {
			t.Fatalf("best %d, want %d", b, prices[0])
		}
		if tl, _ := s.tail(); len(prices) > 0 && tl != prices[len(prices)-1] {
			t.Fatalf("tail %d, want %d", tl, prices[len(prices)-1])
		}
	}
}

// TestInvariants checks the generator's internal state after every event:
// bids at or below the pivot, asks above it, sides sorted, sizes positive
// multiples of the lot, prices on the tick grid, depth bounded.
func TestInvariants(t *testing.T) {
	for _, cfg := range []Config{{Seed: 8}, {Seed: 9, Levels: 4, Symbols: 5, TradeRatio: 0.6}} {
		e := New(cfg)
		var dst []Message
		for i := 0; i < 20000; i++ {
			dst = e.Next(t0, dst[:0])
			for _, s := range e.syms {
				for _, sd := range []*side{&s.bids, &s.asks} {
					if len(sd.levels) == 0 || len(sd.levels) > e.cfg.Levels+4 {
						t.Fatalf("event %d %s: %d levels", i, s.in.symbol, len(sd.levels))
					}
					for j, l := range sd.levels {
						if l.size <= 0 || l.size%s.in.lot != 0 || l.price <= 0 || l.price%s.in.tick != 0 ||
							j > 0 && !sd.better(sd.levels[j-1].price, l.price) ||
							sd.bid && l.price > s.pivot || !sd.bid && l.price <= s.pivot {
							t.Fatalf("event %d %s: bad level %v (bid %v, pivot %d)", i, s.in.symbol, l, sd.bid, s.pivot)
						}
					}
				}
			}
		}
	}
}
