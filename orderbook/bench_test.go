package orderbook

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

type benchOp struct {
	side        Side
	price, size int64
}

const benchMid = 1_000_000

// fullBook returns a book with depth contiguous levels per side around
// benchMid.
func fullBook(depth int) *Book {
	b := New()
	for i := range int64(depth) {
		b.Set(Bid, benchMid-1-i, 1+i%7)
		b.Set(Ask, benchMid+1+i, 1+i%5)
	}
	return b
}

// topOps returns n level changes whose distance from the best level is
// geometric (P(d) = 0.3 × 0.7^d, mean ≈ 2.3 levels, capped at depth-1):
// about a quarter delete, the rest insert or update, so the book keeps its
// depth.
func topOps(r *rand.Rand, n, depth int) []benchOp {
	ops := make([]benchOp, n)
	for i := range ops {
		d := int64(0)
		for r.IntN(10) < 7 && d < int64(depth)-1 {
			d++
		}
		size := 1 + r.Int64N(100)
		if r.IntN(4) == 0 {
			size = 0
		}
		if i%2 == 0 {
			ops[i] = benchOp{Bid, benchMid - 1 - d, size}
		} else {
			ops[i] = benchOp{Ask, benchMid + 1 + d, size}
		}
	}
	return ops
}

// uniformOps returns n level changes at uniformly random ranks (worst case
// for the tail-best layout: half the side moves on insert and delete).
func uniformOps(r *rand.Rand, n, depth int) []benchOp {
	ops := make([]benchOp, n)
	for i := range ops {
		d := r.Int64N(int64(depth))
		size := 1 + r.Int64N(100)
		if r.IntN(2) == 0 {
			size = 0
		}
		ops[i] = benchOp{Side(i & 1), benchMid - 1 - d, size}
		if i&1 == 1 {
			ops[i].price = benchMid + 1 + d
		}
	}
	return ops
}

var depths = []int{100, 1000, 5000}

// BenchmarkSet measures one level change with changes concentrated near the
// top of the book (geometric distance from the best level).
func BenchmarkSet(b *testing.B) { benchSet(b, 1, topOps) }

// BenchmarkSetUniform measures level changes at uniformly random ranks.
func BenchmarkSetUniform(b *testing.B) { benchSet(b, 2, uniformOps) }

// benchSet runs level changes from gen (seeded with seed and the depth) on
// a full book at each of depths.
func benchSet(b *testing.B, seed uint64, gen func(*rand.Rand, int, int) []benchOp) {
	for _, depth := range depths {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			bk := fullBook(depth)
			ops := gen(rand.New(rand.NewPCG(seed, uint64(depth))), 1<<14, depth)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				op := &ops[i&(len(ops)-1)]
				bk.Set(op.side, op.price, op.size)
			}
		})
	}
}

// BenchmarkSetWithMutex is BenchmarkSet at depth 1000 with an uncontended
// mutex around each call: the cost a locked book would pay on every change.
func BenchmarkSetWithMutex(b *testing.B) {
	bk := fullBook(1000)
	ops := topOps(rand.New(rand.NewPCG(1, 1000)), 1<<14, 1000)
	var mu sync.Mutex
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op := &ops[i&(len(ops)-1)]
		mu.Lock()
		bk.Set(op.side, op.price, op.size)
		mu.Unlock()
	}
}

// BenchmarkViewDelta measures one flush: capture the edges, apply events of
// 1-4 level changes near the top (recording them), and compute the entries
// for both sides. raw flushes after each event, batch after 50 events.
func BenchmarkViewDelta(b *testing.B) {
	for _, tc := range []struct {
		name          string
		depth, events int
	}{
		{"raw/depth=20", 20, 1},
		{"raw/depth=1000", 1000, 1},
		{"batch50/depth=20", 20, 50},
		{"batch50/depth=100", 100, 50},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bk := fullBook(2000)
			r := rand.New(rand.NewPCG(3, uint64(tc.depth)))
			ops := topOps(r, 1<<14, 2000)
			sizes := make([]int, 1<<10)
			for i := range sizes {
				sizes[i] = 1 + r.IntN(4)
			}
			var log ChangeLog
			dst := make([]Level, 0, 4*tc.depth)
			k := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				before := [2]Edge{bk.Edge(Bid, tc.depth), bk.Edge(Ask, tc.depth)}
				log.Reset()
				for e := 0; e < tc.events; e++ {
					for range sizes[(i+e)&(len(sizes)-1)] {
						op := &ops[k&(len(ops)-1)]
						k++
						log.Record(op.side, op.price, bk.Set(op.side, op.price, op.size))
					}
				}
				dst = bk.ViewDelta(Bid, tc.depth, before[Bid], &log, dst[:0])
				dst = bk.ViewDelta(Ask, tc.depth, before[Ask], &log, dst)
			}
		})
	}
}

// BenchmarkTickerAdd measures Add in steady state: the window already spans
// a full day of trades every 7 s and keeps sliding.
func BenchmarkTickerAdd(b *testing.B) {
	tk := NewTicker(2, 8)
	ts := int64(1_767_225_600_000_000)
	for range 2 * 24 * 3600 / 7 {
		ts += 7_000_000
		tk.Add(Trade{TS: ts, Price: 6_412_310, Size: 1_500_000})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts += 7_000_000
		tk.Add(Trade{TS: ts, Price: 6_412_310 + int64(i&1023), Size: 1_500_000 + int64(i&511)})
	}
}

// BenchmarkTickerStats measures Stats on a full window (it converts the sums
// to decimals and allocates; it runs at publication time, not per trade).
func BenchmarkTickerStats(b *testing.B) {
	tk := NewTicker(2, 8)
	ts := int64(1_767_225_600_000_000)
	for i := range 24 * 3600 / 7 {
		ts += 7_000_000
		tk.Add(Trade{TS: ts, Price: 6_412_310 + int64(i%1000), Size: 1_500_000})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = tk.Stats()
	}
}
