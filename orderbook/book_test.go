package orderbook

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/marketfeed/marketfeed/internal/oracle"
)

func TestSideString(t *testing.T) {
	for _, tc := range []struct {
		s    Side
		want string
	}{{Bid, "bid"}, {Ask, "ask"}} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("Side(%d).String() = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestSetReturnsPrevious(t *testing.T) {
	b := New()
	steps := []struct {
		side              Side
		price, size, prev int64
	}{
		{Bid, 100, 5, 0},
		{Bid, 100, 7, 5},
		{Bid, 100, 0, 7},
		{Bid, 100, 0, 0}, // deleting an absent level is a no-op
		{Ask, 100, 3, 0}, // sides are independent
		{Bid, 100, 1, 0},
		{Ask, math.MinInt64, 2, 0},
		{Ask, math.MaxInt64, 4, 0},
		{Ask, math.MinInt64, 9, 2},
	}
	for i, st := range steps {
		if got := b.Set(st.side, st.price, st.size); got != st.prev {
			t.Fatalf("step %d: Set(%v, %d, %d) = %d, want %d", i, st.side, st.price, st.size, got, st.prev)
		}
	}
	if l, _ := b.Best(Ask); l.Price != math.MinInt64 || l.Size != 9 {
		t.Fatalf("best ask = %+v", l)
	}
	if l := b.At(Ask, 2); l.Price != math.MaxInt64 {
		t.Fatalf("worst ask = %+v", l)
	}
}

func TestEmptyBook(t *testing.T) {
	var b Book // zero value is usable
	for _, s := range []Side{Bid, Ask} {
		if _, ok := b.Best(s); ok {
			t.Errorf("%v: Best on empty side reported a level", s)
		}
		if n := b.Len(s); n != 0 {
			t.Errorf("%v: Len = %d", s, n)
		}
		if r, found := b.Rank(s, 5); r != 0 || found {
			t.Errorf("%v: Rank = %d, %v", s, r, found)
		}
		if e := b.Edge(s, 10); e.OK {
			t.Errorf("%v: Edge on empty side is OK", s)
		}
		if got := b.Top(s, 5, nil); len(got) != 0 {
			t.Errorf("%v: Top = %v", s, got)
		}
	}
	if b.Crossed() {
		t.Error("empty book is crossed")
	}
	if !b.Equal(New()) {
		t.Error("zero book not equal to New()")
	}
}

func TestResetKeepsCapacity(t *testing.T) {
	b := New()
	for p := int64(1); p <= 100; p++ {
		b.Set(Bid, p, p)
		b.Set(Ask, 1000+p, p)
	}
	c := cap(b.sides[Bid])
	b.Reset()
	if b.Len(Bid) != 0 || b.Len(Ask) != 0 {
		t.Fatal("Reset left levels")
	}
	if cap(b.sides[Bid]) != c {
		t.Fatalf("capacity %d -> %d", c, cap(b.sides[Bid]))
	}
	if allocs := testing.AllocsPerRun(10, func() {
		for p := int64(1); p <= 100; p++ {
			b.Set(Bid, p, 1)
		}
		b.Reset()
	}); allocs != 0 {
		t.Fatalf("refill after Reset allocated %v times", allocs)
	}
}

// bookGen produces random level changes: mostly near the best price of each
// side, sometimes far away, with frequent deletes and re-adds; the two
// sides overlap so crossed books occur.
type bookGen struct {
	r         *rand.Rand
	mid, span int64
	maxSize   int64
}

func (g *bookGen) price(b *oracle.Book, bid bool) int64 {
	if g.r.IntN(2) == 0 {
		// A crossed book tends to resolve: hit the best level of the side.
		hb, okb := extreme(b.Bids, true)
		la, oka := extreme(b.Asks, false)
		if okb && oka && hb >= la {
			if bid {
				return hb
			}
			return la
		}
	}
	switch g.r.IntN(10) {
	case 0: // anywhere on the side, including far from the top
		if bid {
			return g.mid - g.r.Int64N(g.span+1)
		}
		return g.mid + g.r.Int64N(g.span+1)
	case 1: // an existing level (update or delete)
		m := b.Asks
		if bid {
			m = b.Bids
		}
		for p := range m {
			return p
		}
	}
	// near the top: geometric distance from the side's reference point
	d := int64(0)
	for g.r.IntN(4) != 0 && d < g.span {
		d++
	}
	if g.r.IntN(25) == 0 {
		d -= 4 // through the other side: crosses the book
	}
	if bid {
		return g.mid - 1 - d
	}
	return g.mid + 1 + d
}

// extreme returns the highest (high true) or lowest key of m.
func extreme(m map[int64]int64, high bool) (int64, bool) {
	var x int64
	ok := false
	for p := range m {
		if !ok || (high && p > x) || (!high && p < x) {
			x, ok = p, true
		}
	}
	return x, ok
}

func (g *bookGen) size() int64 {
	if g.r.IntN(3) == 0 {
		return 0
	}
	return 1 + g.r.Int64N(g.maxSize)
}

func sideOf(bid bool) Side {
	if bid {
		return Bid
	}
	return Ask
}

// checkBook compares every query of b with the reference ref.
func checkBook(t *testing.T, r *rand.Rand, b *Book, ref *oracle.Book) {
	t.Helper()
	for _, bid := range []bool{true, false} {
		s := sideOf(bid)
		want := ref.Top(bid, 0)
		got := b.Top(s, len(want)+5, nil)
		if len(got) != len(want) || b.Len(s) != len(want) {
			t.Fatalf("%v: %d levels (Len %d), reference has %d", s, len(got), b.Len(s), len(want))
		}
		for i := range want {
			if got[i].Price != want[i][0] || got[i].Size != want[i][1] {
				t.Fatalf("%v rank %d: got %+v, want %v", s, i, got[i], want[i])
			}
		}
		best, ok := b.Best(s)
		if ok != (len(want) > 0) || (ok && (best.Price != want[0][0] || best.Size != want[0][1])) {
			t.Fatalf("%v: Best = %+v %v, reference %v", s, best, ok, want)
		}
		if len(want) > 0 {
			k := r.IntN(len(want))
			if l := b.At(s, k); l.Price != want[k][0] || l.Size != want[k][1] {
				t.Fatalf("%v: At(%d) = %+v, want %v", s, k, l, want[k])
			}
			if r, found := b.Rank(s, want[k][0]); r != k || !found {
				t.Fatalf("%v: Rank(%d) = %d %v, want %d true", s, want[k][0], r, found, k)
			}
		}
		// Size and Rank of arbitrary prices, present or not.
		for range 3 {
			p := want0(want) - 20 + r.Int64N(41)
			if got, exp := b.Size(s, p), ref.Side(bid)[p]; got != exp {
				t.Fatalf("%v: Size(%d) = %d, want %d", s, p, got, exp)
			}
			better := 0
			for _, l := range want {
				if (bid && l[0] > p) || (!bid && l[0] < p) {
					better++
				}
			}
			_, exists := ref.Side(bid)[p]
			if rk, found := b.Rank(s, p); rk != better || found != exists {
				t.Fatalf("%v: Rank(%d) = %d %v, want %d %v", s, p, rk, found, better, exists)
			}
		}
		for _, depth := range []int{1, 5, 20} {
			e := b.Edge(s, depth)
			if len(want) == 0 {
				if e.OK {
					t.Fatalf("%v: Edge on empty side OK", s)
				}
				continue
			}
			if exp := want[min(depth, len(want))-1][0]; !e.OK || e.Price != exp {
				t.Fatalf("%v: Edge(%d) = %+v, want %d", s, depth, e, exp)
			}
		}
	}
	bids, asks := ref.Top(true, 1), ref.Top(false, 1)
	crossed := len(bids) > 0 && len(asks) > 0 && bids[0][0] >= asks[0][0]
	if b.Crossed() != crossed {
		t.Fatalf("Crossed = %v, want %v", b.Crossed(), crossed)
	}
}

func want0(levels [][2]int64) int64 {
	if len(levels) == 0 {
		return 1000
	}
	return levels[0][0]
}

func TestBookMatchesReference(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		g := &bookGen{r: r, mid: 1000, span: 150 + int64(seed)*50, maxSize: 1 + int64(seed*seed)}
		b, ref := New(), oracle.NewBook()
		for op := 0; op < 4000; op++ {
			if r.IntN(1500) == 0 {
				b.Reset()
				ref.Reset()
			} else {
				bid := r.IntN(2) == 0
				p, sz := g.price(ref, bid), g.size()
				prev := ref.Side(bid)[p]
				if got := b.Set(sideOf(bid), p, sz); got != prev {
					t.Fatalf("seed %d op %d: Set returned %d, want %d", seed, op, got, prev)
				}
				ref.Set(bid, p, sz)
			}
			checkBook(t, r, b, ref)
			if op%97 == 0 {
				checkEqual(t, r, b, ref)
			}
		}
	}
}

// checkEqual rebuilds the book from the reference in random order and checks
// Equal in both directions, then that a single difference breaks it.
func checkEqual(t *testing.T, r *rand.Rand, b *Book, ref *oracle.Book) {
	t.Helper()
	c := New()
	for _, bid := range []bool{true, false} {
		levels := ref.Top(bid, 0)
		r.Shuffle(len(levels), func(i, j int) { levels[i], levels[j] = levels[j], levels[i] })
		for _, l := range levels {
			c.Set(sideOf(bid), l[0], l[1])
		}
	}
	if !b.Equal(c) || !c.Equal(b) {
		t.Fatal("rebuilt book not Equal")
	}
	c.Set(Ask, 1<<40, 1)
	if b.Equal(c) || c.Equal(b) {
		t.Fatal("books differing by one level are Equal")
	}
	c.Set(Ask, 1<<40, 0)
	if l, ok := c.Best(Bid); ok {
		c.Set(Bid, l.Price, l.Size+1)
		if b.Equal(c) {
			t.Fatal("books differing by one size are Equal")
		}
	}
}

// TestSearchFromMatchesSearch checks the galloping search against the plain
// one for every hint, on sides of several lengths and both missing and
// present keys.
func TestSearchFromMatchesSearch(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, n := range []int{0, 1, 2, 3, 7, 64, 301} {
		lv := make([]level, n)
		k := int64(0)
		for i := range lv {
			k += 1 + r.Int64N(3)
			lv[i] = level{key: k, size: 1}
		}
		for key := int64(-1); key <= k+2; key++ {
			want, _ := search(lv, key)
			for hint := 0; hint <= n; hint++ {
				if got := searchFrom(lv, key, hint); got != want {
					t.Fatalf("n=%d key=%d hint=%d: searchFrom = %d, search = %d", n, key, hint, got, want)
				}
			}
		}
	}
}
