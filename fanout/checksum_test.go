package fanout

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/fixed"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// inline is an Owner that runs work at once (tests on one goroutine).
type inline struct{}

func (inline) Exec(fn func()) bool { fn(); return true }

func checksumTopic(tb testing.TB, levels, priceScale, sizeScale int, seed uint64) *Topic {
	tb.Helper()
	hub, err := NewHub(Config{}, NewMetrics(nil))
	if err != nil {
		tb.Fatal(err)
	}
	book := orderbook.New()
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range int64(levels) {
		book.Set(orderbook.Bid, 1_000_000-1-i*int64(1+r.IntN(3)), 1+r.Int64N(1e9))
		book.Set(orderbook.Ask, 1_000_000+1+i*int64(1+r.IntN(3)), 1+r.Int64N(1e9))
	}
	return hub.NewTopic("X", inline{}, book, orderbook.NewTicker(priceScale, sizeScale), priceScale, sizeScale)
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
						side[s] = append(side[s], [2]string{fixed.Format(l.Price, sc[0]), fixed.Format(l.Size, sc[1])})
					}
				}
				if got, want := tp.viewChecksum(depth), schemas.BookChecksum(side[0], side[1]); got != want {
					t.Fatalf("scales %v, %d levels, depth %d: viewChecksum %d, BookChecksum %d", sc, levels, depth, got, want)
				}
			}
		}
	}
}

// BenchmarkViewChecksum measures the checksum of one view, the cost added
// to every book message a stream emits (once per stream, not per
// subscriber).
func BenchmarkViewChecksum(b *testing.B) {
	for _, depth := range []int{1, 20, 100, 1000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			tp := checksumTopic(b, 1200, 2, 8, 1)
			tp.viewChecksum(depth) // size the buffer
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tp.viewChecksum(depth)
			}
		})
	}
}
