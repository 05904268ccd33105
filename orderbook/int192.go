package orderbook

import (
	"math/big"
	"math/bits"
)

// int192 is a signed 192-bit two's-complement integer used for the exact
// rolling sums of the ticker. A single price×size product of two int64
// mantissas needs up to 127 bits, so a 128-bit accumulator could overflow
// after two extreme trades; 192 bits hold the sum of 2^64 such products.
type int192 struct {
	lo, mid, hi uint64
}

// wideInt64 returns v sign-extended to 192 bits.
func wideInt64(v int64) int192 {
	ext := uint64(v >> 63) // all ones if negative
	return int192{lo: uint64(v), mid: ext, hi: ext}
}

// wideMul returns the exact product a×b.
func wideMul(a, b int64) int192 {
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = -ua // two's-complement magnitude; correct for MinInt64 too
	}
	if b < 0 {
		ub = -ub
	}
	hi, lo := bits.Mul64(ua, ub)
	w := int192{lo: lo, mid: hi}
	if (a < 0) != (b < 0) {
		w = w.neg()
	}
	return w
}

func (x int192) add(y int192) int192 {
	var c uint64
	var r int192
	r.lo, c = bits.Add64(x.lo, y.lo, 0)
	r.mid, c = bits.Add64(x.mid, y.mid, c)
	r.hi, _ = bits.Add64(x.hi, y.hi, c)
	return r
}

func (x int192) sub(y int192) int192 {
	var b uint64
	var r int192
	r.lo, b = bits.Sub64(x.lo, y.lo, 0)
	r.mid, b = bits.Sub64(x.mid, y.mid, b)
	r.hi, _ = bits.Sub64(x.hi, y.hi, b)
	return r
}

func (x int192) neg() int192 { return int192{}.sub(x) }

func (x int192) isZero() bool { return x.lo|x.mid|x.hi == 0 }

// big returns x as a new big.Int.
func (x int192) big() *big.Int {
	negative := int64(x.hi) < 0
	if negative {
		x = x.neg()
	}
	var buf [24]byte
	for i := range 8 {
		buf[23-i] = byte(x.lo >> (8 * i))
		buf[15-i] = byte(x.mid >> (8 * i))
		buf[7-i] = byte(x.hi >> (8 * i))
	}
	z := new(big.Int).SetBytes(buf[:])
	if negative {
		z.Neg(z)
	}
	return z
}
