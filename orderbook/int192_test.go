package orderbook

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestInt192MatchesBig accumulates random products and values with add and
// sub, including the int64 extremes, and compares with big.Int after every
// step; the sums run far beyond 128 bits.
func TestInt192MatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 9))
	extremes := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64}
	pick := func() int64 {
		if r.IntN(3) == 0 {
			return extremes[r.IntN(len(extremes))]
		}
		return int64(r.Uint64())
	}
	var acc int192
	want := new(big.Int)
	for i := 0; i < 20000; i++ {
		a, b := pick(), pick()
		var term int192
		termBig := new(big.Int)
		if r.IntN(4) == 0 {
			term, termBig = wideInt64(a), big.NewInt(a)
		} else {
			term, termBig = wideMul(a, b), new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
		}
		if got := term.big(); got.Cmp(termBig) != 0 {
			t.Fatalf("term %d×%d: got %v, want %v", a, b, got, termBig)
		}
		if r.IntN(3) == 0 {
			acc = acc.sub(term)
			want.Sub(want, termBig)
		} else {
			acc = acc.add(term)
			want.Add(want, termBig)
		}
		if got := acc.big(); got.Cmp(want) != 0 {
			t.Fatalf("step %d: got %v, want %v", i, got, want)
		}
		if acc.isZero() != (want.Sign() == 0) {
			t.Fatalf("step %d: isZero = %v for %v", i, acc.isZero(), want)
		}
	}
	if want.BitLen() <= 128 {
		t.Fatalf("sums stayed within 128 bits (%d); test does not exercise the high limb", want.BitLen())
	}
}

func TestDivRoundEven(t *testing.T) {
	cases := []struct{ n, d, want int64 }{
		{7, 2, 4}, {5, 2, 2}, {-5, 2, -2}, {-7, 2, -4}, {5, -2, -2},
		{7, 3, 2}, {8, 3, 3}, {-8, 3, -3}, {6, 3, 2}, {1, 4, 0}, {3, 4, 1},
		{-1, 4, 0}, {-3, 4, -1}, {25, 10, 2}, {35, 10, 4}, {0, 5, 0},
	}
	for _, tc := range cases {
		got := divRoundEven(big.NewInt(tc.n), big.NewInt(tc.d))
		if got.Int64() != tc.want {
			t.Errorf("divRoundEven(%d, %d) = %v, want %d", tc.n, tc.d, got, tc.want)
		}
	}
}
