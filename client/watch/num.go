package watch

import (
	"strings"

	"github.com/shopspring/decimal"
)

// Exact decimal arithmetic for display values; prices and sizes never pass
// through binary floating point.

// fracDigits returns the number of fractional digits of a decimal string.
func fracDigits(s string) int {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

// spreadMid returns ask-bid at the larger scale of the two, and the mid
// price (bid+ask)/2 with one more digit only when needed. ok is false when
// a value does not parse.
func spreadMid(bid, ask string) (spread, mid string, ok bool) {
	b, err1 := decimal.NewFromString(bid)
	a, err2 := decimal.NewFromString(ask)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	scale := max(fracDigits(bid), fracDigits(ask))
	spread = a.Sub(b).StringFixed(int32(scale))
	mid = a.Add(b).Mul(decimal.New(5, -1)).StringFixed(int32(scale + 1))
	if strings.HasSuffix(mid, "0") && scale > 0 {
		mid = mid[:len(mid)-1]
	} else if strings.HasSuffix(mid, ".0") {
		mid = mid[:len(mid)-2]
	}
	return spread, mid, true
}

// sign returns -1, 0 or +1 for a decimal string (0 when it does not parse).
func sign(s string) int {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0
	}
	return d.Sign()
}

// Partial blocks from one eighth to seven eighths of a cell.
var eighths = [...]string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar draws size relative to maxSize in at most width cells, with
// eighth-cell resolution; a positive size always shows at least one
// eighth. It returns "" when a value does not parse or maxSize is not
// positive.
func bar(size string, maxSize decimal.Decimal, width int) string {
	s, err := decimal.NewFromString(size)
	if err != nil || maxSize.Sign() <= 0 || s.Sign() <= 0 || width <= 0 {
		return ""
	}
	units := s.Mul(decimal.NewFromInt(int64(width)*8)).DivRound(maxSize, 0)
	if units.Cmp(decimal.NewFromInt(int64(width)*8)) > 0 {
		units = decimal.NewFromInt(int64(width) * 8)
	}
	n := units.IntPart()
	if n < 1 {
		n = 1
	}
	return strings.Repeat("█", int(n/8)) + eighths[n%8]
}

// maxDecimal returns the largest parsable value among the sizes of levels.
func maxDecimal(levels ...[][2]string) decimal.Decimal {
	m := decimal.Zero
	for _, side := range levels {
		for _, l := range side {
			if d, err := decimal.NewFromString(l[1]); err == nil && d.Cmp(m) > 0 {
				m = d
			}
		}
	}
	return m
}
