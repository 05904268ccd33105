package fanout

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// inline is an Owner that runs work at once (tests on one goroutine).
type inline struct{}

func (inline) Exec(fn func()) bool { fn(); return true }

func checksumTopic(tb testing.TB, levels, priceScale, sizeScale int, seed uint64) *Streams {
	tb.Helper()
	hub, err := NewHub(Config{}, NewMetrics(nil))
	if err != nil {
		tb.Fatal(err)
	}
	sym := market.NewSymbol(market.Instrument{Symbol: "X", PriceScale: priceScale, SizeScale: sizeScale, Tick: 1, Lot: 1}, inline{}, nil)
	book := sym.Book()
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range int64(levels) {
		book.Set(orderbook.Bid, 1_000_000-1-i*int64(1+r.IntN(3)), 1+r.Int64N(1e9))
		book.Set(orderbook.Ask, 1_000_000+1+i*int64(1+r.IntN(3)), 1+r.Int64N(1e9))
	}
	return hub.NewStreams(sym)
}

// TestViewChecksumMatchesStrings checks the server's checksum, computed from
// integer levels, against schemas.BookChecksum over the decimal strings a
// client receives, for every depth, several scales and short books.
func TestViewChecksumMatchesStrings(t *testing.T) {
	for _, sc := range [][2]int{{0, 0}, {2, 8}, {8, 2}, {5, 3}, {12, 18}} {
		for _, levels := range []int{0, 3, 1200} {
			tp := checksumTopic(t, levels, sc[0], sc[1], uint64(levels))
			for _, depth := range []int{1, 5, 10, 20, 50, 100, 500, 1000} {
				var side [2][][2]string
				for s := orderbook.Bid; s <= orderbook.Ask; s++ {
					for _, l := range tp.book.Top(s, depth, nil) {
						side[s] = append(side[s], [2]string{fixedpoint.Format(l.Price, sc[0]), fixedpoint.Format(l.Size, sc[1])})
					}
				}
				if got, want := tp.viewChecksum(depth), schemas.BookChecksum(side[0], side[1]); got != want {
					t.Fatalf("scales %v, %d levels, depth %d: viewChecksum %d, BookChecksum %d", sc, levels, depth, got, want)
				}
			}
		}
	}
}

// viewStep applies one random event of 1-4 level changes near the top (or,
// sometimes, anywhere) to the topic's book, and returns the entries a
// stream of depth would send, as emitDelta computes them.
func viewStep(tp *Streams, r *rand.Rand, depth int) (bids, asks []orderbook.Level) {
	edge := [2]orderbook.Edge{tp.book.Edge(orderbook.Bid, depth), tp.book.Edge(orderbook.Ask, depth)}
	var log orderbook.ChangeLog
	for range 1 + r.IntN(4) {
		side := orderbook.Side(r.IntN(2))
		n := tp.book.Len(side)
		var price int64
		switch {
		case n > 0 && r.IntN(3) > 0: // an existing level near the top
			price = tp.book.At(side, min(n-1, r.IntN(min(n, 2*depth+1)))).Price
		case side == orderbook.Bid:
			price = 1_000_000 - 1 - r.Int64N(int64(3*depth+10))
		default:
			price = 1_000_000 + 1 + r.Int64N(int64(3*depth+10))
		}
		size := r.Int64N(1e9)
		if r.IntN(3) == 0 {
			size = 0
		}
		log.Record(side, price, tp.book.Set(side, price, size))
	}
	bids = tp.book.ViewDelta(orderbook.Bid, depth, edge[orderbook.Bid], &log, nil)
	asks = tp.book.ViewDelta(orderbook.Ask, depth, edge[orderbook.Ask], &log, nil)
	return bids, asks
}

// TestViewTextIncremental checks the streams' incremental checksum text
// against the plain computation after every event, for every depth.
func TestViewTextIncremental(t *testing.T) {
	for _, depth := range []int{1, 5, 10, 20, 50, 100, 500, 1000} {
		for _, sc := range [][2]int{{2, 8}, {0, 3}} {
			tp := checksumTopic(t, depth+depth/2+3, sc[0], sc[1], uint64(depth))
			r := rand.New(rand.NewPCG(uint64(depth), 9))
			var v viewText
			v.rebuild(tp.book, depth, tp.sc())
			var scratch []byte
			for i := range 3000 {
				bids, asks := viewStep(tp, r, depth)
				var got uint32
				got, scratch = v.update(tp.book, depth, bids, asks, tp.sc(), scratch)
				if want := tp.viewChecksum(depth); got != want {
					t.Fatalf("depth %d scales %v event %d: incremental %d, plain %d", depth, sc, i, got, want)
				}
			}
		}
	}
}

// BenchmarkViewTextUpdate measures the checksum of an update message as
// the streams compute it: the entries of one event (1-4 level changes near
// the top) patched into the stream's text, then one CRC pass.
func BenchmarkViewTextUpdate(b *testing.B) {
	for _, depth := range []int{1, 20, 100, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			tp := checksumTopic(b, 1200, 2, 8, 1)
			r := rand.New(rand.NewPCG(5, 6))
			steps := make([][2][]orderbook.Level, 256)
			// Pre-compute the entries of a run of events, then replay
			// them on a text copy reset at each wrap.
			var start viewText
			start.rebuild(tp.book, depth, tp.sc())
			for i := range steps {
				bids, asks := viewStep(tp, r, depth)
				steps[i] = [2][]orderbook.Level{bids, asks}
			}
			v := cloneText(&start)
			var scratch []byte
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % len(steps)
				if k == 0 && i > 0 {
					b.StopTimer()
					v = cloneText(&start)
					b.StartTimer()
				}
				_, scratch = v.update(tp.book, depth, steps[k][0], steps[k][1], tp.sc(), scratch)
			}
		})
	}
}

func cloneText(v *viewText) *viewText {
	c := &viewText{valid: v.valid}
	for i := range c.sides {
		c.sides[i] = sideText{
			prices: append(make([]int64, 0, 2*cap(v.sides[i].prices)), v.sides[i].prices...),
			off:    append(make([]int, 0, 2*cap(v.sides[i].off)), v.sides[i].off...),
			buf:    append(make([]byte, 0, 2*cap(v.sides[i].buf)), v.sides[i].buf...),
		}
	}
	return c
}

// BenchmarkViewChecksum measures the checksum of a whole view formatted
// from the book, as for a snapshot message (and for an update when the
// stream's text is not valid).
func BenchmarkViewChecksum(b *testing.B) {
	for _, depth := range []int{1, 20, 100, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			tp := checksumTopic(b, 1200, 2, 8, 1)
			var v viewText
			v.rebuild(tp.book, depth, tp.sc()) // size the buffers
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				v.rebuild(tp.book, depth, tp.sc())
				v.checksum()
			}
		})
	}
}

// TestViewTextMatchesBookChecksum checks the streams' incremental checksum
// against the whole-view form clients use (schemas.BookChecksum over the
// decimal strings of the view) after every event.
func TestViewTextMatchesBookChecksum(t *testing.T) {
	for _, depth := range []int{1, 10, 100} {
		sc := [2]int{2, 8}
		tp := checksumTopic(t, depth+depth/2+3, sc[0], sc[1], uint64(depth)+7)
		r := rand.New(rand.NewPCG(uint64(depth), 11))
		var v viewText
		v.rebuild(tp.book, depth, tp.sc())
		var scratch []byte
		for i := range 1000 {
			bids, asks := viewStep(tp, r, depth)
			var got uint32
			got, scratch = v.update(tp.book, depth, bids, asks, tp.sc(), scratch)
			var side [2][][2]string
			for s := orderbook.Bid; s <= orderbook.Ask; s++ {
				for _, l := range tp.book.Top(s, depth, nil) {
					side[s] = append(side[s], [2]string{fixedpoint.Format(l.Price, sc[0]), fixedpoint.Format(l.Size, sc[1])})
				}
			}
			if want := schemas.BookChecksum(side[0], side[1]); got != want {
				t.Fatalf("depth %d event %d: incremental %d, BookChecksum %d", depth, i, got, want)
			}
		}
	}
}
