package fixedpoint

import (
	"errors"
	"math"
	"strconv"

	"github.com/shopspring/decimal"
)

// MaxScale is the largest scale supported: 10^18 still fits in an int64.
const MaxScale = 18

// Errors returned by Parse and ParseBytes.
var (
	// ErrSyntax reports a string that is not a plain decimal number
	// ("123", "-0.5", "64123.10"; no exponent, no '+', no spaces).
	ErrSyntax = errors.New("fixed: invalid decimal syntax")
	// ErrPrecision reports more non-zero fractional digits than the scale.
	ErrPrecision = errors.New("fixed: more fractional digits than the scale allows")
	// ErrRange reports a value whose mantissa does not fit in an int64.
	ErrRange = errors.New("fixed: value out of range")
	// ErrScale reports a scale outside 0..MaxScale.
	ErrScale = errors.New("fixed: scale out of range")
)

var pow10 = [MaxScale + 1]int64{
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000,
	1000000000, 10000000000, 100000000000, 1000000000000, 10000000000000,
	100000000000000, 1000000000000000, 10000000000000000,
	100000000000000000, 1000000000000000000,
}

// Pow10 returns 10^n for 0 <= n <= MaxScale.
func Pow10(n int) int64 { return pow10[n] }

// Parse parses s as a decimal number at the given scale and returns its
// mantissa. Trailing fractional zeros beyond the scale are accepted
// ("1.500" at scale 2 is 150); any other digit beyond it is ErrPrecision.
func Parse(s string, scale int) (int64, error) {
	return parse(s, scale)
}

// ParseBytes is Parse for a byte slice; it does not allocate.
func ParseBytes(b []byte, scale int) (int64, error) {
	return parse(b, scale)
}

func parse[T string | []byte](s T, scale int) (int64, error) {
	if scale < 0 || scale > MaxScale {
		return 0, ErrScale
	}
	n := len(s)
	i := 0
	neg := false
	if n > 0 && s[0] == '-' {
		neg = true
		i = 1
	}
	if i == n {
		return 0, ErrSyntax
	}
	var v uint64
	const limit = uint64(math.MaxInt64) // magnitude bound; -MaxInt64-1 is not needed
	digits := 0
	for ; i < n && s[i] != '.'; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, ErrSyntax
		}
		if v > (limit-uint64(c-'0'))/10 {
			return 0, ErrRange
		}
		v = v*10 + uint64(c-'0')
		digits++
	}
	if digits == 0 {
		return 0, ErrSyntax // ".5" and "-.5" are not accepted
	}
	frac := 0
	if i < n { // s[i] == '.'
		i++
		if i == n {
			return 0, ErrSyntax // "5." is not accepted
		}
		for ; i < n; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, ErrSyntax
			}
			if frac < scale {
				if v > (limit-uint64(c-'0'))/10 {
					return 0, ErrRange
				}
				v = v*10 + uint64(c-'0')
				frac++
			} else if c != '0' {
				// keep scanning for syntax errors first
				for i++; i < n; i++ {
					if s[i] < '0' || s[i] > '9' {
						return 0, ErrSyntax
					}
				}
				return 0, ErrPrecision
			}
		}
	}
	for ; frac < scale; frac++ {
		if v > limit/10 {
			return 0, ErrRange
		}
		v *= 10
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// Append appends v at the given scale to dst with exactly scale fractional
// digits ("0.05" for 5 at scale 2, "-1.50" for -150) and returns the
// extended slice. It does not allocate when dst has room.
func Append(dst []byte, v int64, scale int) []byte {
	if scale <= 0 {
		return strconv.AppendInt(dst, v, 10)
	}
	var u uint64
	if v < 0 {
		dst = append(dst, '-')
		u = uint64(-(v + 1)) + 1 // safe for MinInt64
	} else {
		u = uint64(v)
	}
	var buf [24]byte
	i := len(buf)
	for k := 0; k < scale; k++ {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
	}
	i--
	buf[i] = '.'
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// Format returns v at the given scale as a string; see Append.
func Format(v int64, scale int) string {
	var b [24]byte
	return string(Append(b[:0], v, scale))
}

// ToDecimal returns v at the given scale as an exact decimal.Decimal.
func ToDecimal(v int64, scale int) decimal.Decimal {
	return decimal.New(v, -int32(scale))
}

// FromDecimal returns the mantissa of d at the given scale, or ErrPrecision
// if d has more significant fractional digits than the scale, or ErrRange if
// the mantissa does not fit in an int64.
func FromDecimal(d decimal.Decimal, scale int) (int64, error) {
	if scale < 0 || scale > MaxScale {
		return 0, ErrScale
	}
	shifted := d.Shift(int32(scale))
	if !shifted.Equal(shifted.Truncate(0)) {
		return 0, ErrPrecision
	}
	bi := shifted.BigInt()
	if !bi.IsInt64() {
		return 0, ErrRange
	}
	return bi.Int64(), nil
}
