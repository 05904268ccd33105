package fixedpoint

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// randomAtScale returns a random decimal string written exactly at scale
// (the form the server writes and an exchange normally sends): an
// optional '-', integer digits without leading zeros, and exactly scale
// fractional digits; never a negative zero.
func randomAtScale(r *rand.Rand, scale int) string {
	intDigits := r.IntN(19 - scale + 1)
	var b strings.Builder
	if intDigits == 0 {
		b.WriteByte('0')
	} else {
		b.WriteByte(byte('1' + r.IntN(9)))
		for range intDigits - 1 {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	if scale > 0 {
		b.WriteByte('.')
		for range scale {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
	}
	s := b.String()
	if r.IntN(3) == 0 && strings.Trim(s, "0.") != "" {
		s = "-" + s
	}
	return s
}

// TestStringRoundTripAtScale checks that a decimal string at the
// instrument's scale comes back byte for byte through Parse and Append,
// for every scale and magnitudes up to the int64 limit; and that other
// spellings of the same value (trailing zeros added or trimmed) come back
// in the canonical form at the scale, as the decimal library writes it.
func TestStringRoundTripAtScale(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for scale := 0; scale <= MaxScale; scale++ {
		for range 2000 {
			s := randomAtScale(r, scale)
			v, err := Parse(s, scale)
			if err != nil {
				if len(strings.TrimLeft(s, "-")) >= 19 { // beyond int64 at this scale
					continue
				}
				t.Fatalf("Parse(%q, %d): %v", s, scale, err)
			}
			if got := string(Append(nil, v, scale)); got != s {
				t.Fatalf("scale %d: %q came back as %q", scale, s, got)
			}
			other := s
			if r.IntN(2) == 0 {
				if scale == 0 {
					other += "."
				}
				other += strings.Repeat("0", 1+r.IntN(4))
			} else if scale > 0 {
				other = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
			}
			w, err := Parse(other, scale)
			if err != nil || w != v {
				t.Fatalf("Parse(%q, %d) = %d, %v; want %d", other, scale, w, err, v)
			}
			want := decimal.RequireFromString(other).StringFixed(int32(scale))
			if got := Format(w, scale); got != want {
				t.Fatalf("%q at scale %d: Format %q, decimal %q", other, scale, got, want)
			}
		}
	}
	// The extremes.
	for scale := 0; scale <= MaxScale; scale++ {
		for _, v := range []int64{9223372036854775807, -9223372036854775807} {
			s := Format(v, scale)
			if back, err := Parse(s, scale); err != nil || back != v || Format(back, scale) != s {
				t.Fatalf("extreme %d at scale %d via %q: %d, %v", v, scale, s, back, err)
			}
		}
	}
}
