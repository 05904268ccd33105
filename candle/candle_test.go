package candle

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// bigScaled formats v (a big integer mantissa) at scale with math/big.
func bigScaled(v *big.Int, scale int) string {
	neg := v.Sign() < 0
	digits := new(big.Int).Abs(v).String()
	for len(digits) <= scale {
		digits = "0" + digits
	}
	s := digits
	if scale > 0 {
		s = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func TestInt128SumsAndFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var x Int128
		want := new(big.Int)
		for range 1 + r.IntN(50) {
			a, b := r.Int64()>>r.IntN(63), r.Int64()>>r.IntN(63)
			if r.IntN(3) == 0 {
				a = -a
			}
			x = x.Add(Mul(a, b))
			want.Add(want, new(big.Int).Mul(big.NewInt(a), big.NewInt(b)))
		}
		scale := r.IntN(37)
		if got, w := string(x.AppendScaled(nil, scale)), bigScaled(want, scale); got != w {
			t.Fatalf("scale %d: got %s, want %s", scale, got, w)
		}
	}
	for _, c := range []struct {
		v     int64
		scale int
		want  string
	}{{0, 0, "0"}, {0, 3, "0.000"}, {-5, 2, "-0.05"}, {123456, 4, "12.3456"}} {
		if got := string(Int128Of(c.v).AppendScaled(nil, c.scale)); got != c.want {
			t.Errorf("%d at %d: got %s, want %s", c.v, c.scale, got, c.want)
		}
	}
}

func TestSeriesBoundariesAndRing(t *testing.T) {
	const min = 60_000_000
	s := NewSeries(min, 3)
	s.Add(0, 100, 2)       // candle 0 opens at a boundary
	s.Add(min-1, 90, 1)    // last µs of candle 0
	s.Add(min, 110, 1)     // exactly at the boundary: candle 1
	s.Advance(3*min + 5)   // closes candle 1; minute 2 has no trade, no candle
	s.Add(3*min+5, 105, 4) // candle 3
	if s.Add(2*min, 1, 1) {
		t.Fatal("a trade of a closed period was added")
	}
	got := s.ClosedSince(0, nil)
	if len(got) != 2 || got[0].Start != 0 || got[1].Start != min || s.Closed() != 2 || s.Late() != 1 {
		t.Fatalf("closed %+v (closed %d, late %d)", got, s.Closed(), s.Late())
	}
	c0 := got[0]
	if c0.Open != 100 || c0.High != 100 || c0.Low != 90 || c0.Close != 90 || c0.Count != 2 ||
		c0.Volume != Int128Of(3) || c0.QuoteVolume != Int128Of(290) {
		t.Fatalf("candle 0 %+v", c0)
	}
	if cur, ok := s.Current(); !ok || cur.Start != 3*min || cur.Count != 1 {
		t.Fatalf("current %+v %v", cur, ok)
	}
	for i := int64(4); i < 9; i++ {
		s.Add(i*min, i, 1)
	}
	got = s.ClosedSince(0, nil)
	if len(got) != 3 || got[0].Start != 5*min || got[2].Start != 7*min {
		t.Fatalf("ring %+v", got)
	}
	if got = s.ClosedSince(s.Closed()-1, nil); len(got) != 1 || got[0].Start != 7*min {
		t.Fatalf("since %+v", got)
	}
}
