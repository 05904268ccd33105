package candle

import (
	"math/bits"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// Int128 is a signed 128-bit integer in two's complement, the sums of a
// candle. The zero value is 0.
type Int128 struct {
	Hi int64
	Lo uint64
}

// Int128Of returns v as an Int128.
func Int128Of(v int64) Int128 { return Int128{Hi: v >> 63, Lo: uint64(v)} }

// Mul returns the exact product a × b.
func Mul(a, b int64) Int128 {
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	r := Int128{Hi: int64(hi), Lo: lo}
	if neg {
		r = r.Neg()
	}
	return r
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// Add returns x + y (wrapping, as two's complement does, beyond 2^127).
func (x Int128) Add(y Int128) Int128 {
	lo, carry := bits.Add64(x.Lo, y.Lo, 0)
	hi, _ := bits.Add64(uint64(x.Hi), uint64(y.Hi), carry)
	return Int128{Hi: int64(hi), Lo: lo}
}

// Neg returns −x.
func (x Int128) Neg() Int128 {
	lo, borrow := bits.Sub64(0, x.Lo, 0)
	hi, _ := bits.Sub64(0, uint64(x.Hi), borrow)
	return Int128{Hi: int64(hi), Lo: lo}
}

// Sign returns -1, 0 or 1.
func (x Int128) Sign() int {
	switch {
	case x.Hi < 0:
		return -1
	case x.Hi == 0 && x.Lo == 0:
		return 0
	}
	return 1
}

const e19 = 10_000_000_000_000_000_000

// AppendScaled appends x as a decimal with exactly scale fractional
// digits (x is the mantissa): "-12.3400" for -123400 at scale 4. It does
// not allocate when dst has room.
func (x Int128) AppendScaled(dst []byte, scale int) []byte {
	if x.Hi == int64(x.Lo)>>63 && scale <= fixedpoint.MaxScale {
		// Fits in an int64: the common case.
		return fixedpoint.Append(dst, int64(x.Lo), scale)
	}
	neg := x.Sign() < 0
	if neg {
		x = x.Neg()
	}
	// Digits of the magnitude, least significant first.
	var buf [48]byte
	n := 0
	hi, lo := uint64(x.Hi), x.Lo
	for hi != 0 || lo != 0 {
		qhi, rem := hi/e19, hi%e19
		qlo, r := bits.Div64(rem, lo, e19)
		hi, lo = qhi, qlo
		for i := 0; i < 19 && (r != 0 || hi != 0 || lo != 0); i++ {
			buf[n] = byte('0' + r%10)
			r /= 10
			n++
		}
	}
	for n <= scale { // at least one digit before the point
		buf[n] = '0'
		n++
	}
	if neg {
		dst = append(dst, '-')
	}
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, buf[i])
		if i == scale && scale > 0 {
			dst = append(dst, '.')
		}
	}
	return dst
}
