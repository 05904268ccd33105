package client

// Decimal helpers on the protocol's plain decimal strings
// (-?[0-9]+(\.[0-9]+)?). Comparison works digit by digit on the strings, so
// it is exact at any scale and any magnitude, and "64123.1" equals
// "64123.10".

// validDecimal reports whether s has the protocol's decimal syntax.
func validDecimal(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == start {
		return false
	}
	if i == len(s) {
		return true
	}
	if s[i] != '.' {
		return false
	}
	i++
	start = i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i > start && i == len(s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isZeroDecimal reports whether every digit of the valid decimal s is 0.
func isZeroDecimal(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '0' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// cmpDecimal compares two valid decimals by value: -1 if a < b, 0 if
// equal, +1 if a > b.
func cmpDecimal(a, b string) int {
	na := len(a) > 0 && a[0] == '-' && !isZeroDecimal(a)
	nb := len(b) > 0 && b[0] == '-' && !isZeroDecimal(b)
	switch {
	case na && !nb:
		return -1
	case !na && nb:
		return 1
	case na && nb:
		return -cmpMagnitude(a[1:], b[1:])
	}
	return cmpMagnitude(trimSign(a), trimSign(b))
}

func trimSign(s string) string {
	if len(s) > 0 && s[0] == '-' {
		return s[1:]
	}
	return s
}

// cmpMagnitude compares two unsigned valid decimals.
func cmpMagnitude(a, b string) int {
	ai, af := splitDecimal(a)
	bi, bf := splitDecimal(b)
	ai, bi = trimLeadingZeros(ai), trimLeadingZeros(bi)
	if len(ai) != len(bi) {
		if len(ai) < len(bi) {
			return -1
		}
		return 1
	}
	if ai != bi {
		if ai < bi {
			return -1
		}
		return 1
	}
	for i := 0; i < len(af) || i < len(bf); i++ {
		da, db := digitAt(af, i), digitAt(bf, i)
		if da != db {
			if da < db {
				return -1
			}
			return 1
		}
	}
	return 0
}

func splitDecimal(s string) (intPart, frac string) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func trimLeadingZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}

func digitAt(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return '0'
}
