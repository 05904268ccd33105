package schemas

// dupLinear is the level count up to which firstDuplicate compares pairs
// directly instead of hashing.
const dupLinear = 16

// normPrice returns the canonical form of a valid decimal: sign (false for
// zero) and the digits without leading integer zeros or trailing fraction
// zeros, so that "064123.10" and "64123.1" compare equal.
func normPrice(p []byte) (neg bool, body []byte) {
	if p[0] == '-' {
		neg = true
		p = p[1:]
	}
	i := 0
	for i < len(p)-1 && p[i] == '0' && p[i+1] != '.' {
		i++
	}
	p = p[i:]
	for k := range p {
		if p[k] == '.' {
			j := len(p)
			for p[j-1] == '0' {
				j--
			}
			if p[j-1] == '.' {
				j--
			}
			p = p[:j]
			break
		}
	}
	if len(p) == 1 && p[0] == '0' {
		neg = false
	}
	return neg, p
}

func samePrice(a, b []byte) bool {
	an, ab := normPrice(a)
	bn, bb := normPrice(b)
	return an == bn && string(ab) == string(bb)
}

func priceHash(p []byte) uint32 {
	neg, b := normPrice(p)
	h := uint32(2166136261)
	if neg {
		h ^= '-'
		h *= 16777619
	}
	for _, c := range b {
		h ^= uint32(c)
		h *= 16777619
	}
	return h
}

// firstDuplicate returns the index of the first level whose price equals
// the price of an earlier level, or -1. tab is reusable scratch space.
func firstDuplicate(levels []Level, tab *[]int32) int {
	n := len(levels)
	if n <= dupLinear {
		for i := 1; i < n; i++ {
			for j := 0; j < i; j++ {
				if samePrice(levels[i].Price, levels[j].Price) {
					return i
				}
			}
		}
		return -1
	}
	size := 1
	for size < 2*n {
		size <<= 1
	}
	t := *tab
	if cap(t) < size {
		t = make([]int32, size)
	}
	t = t[:size]
	*tab = t
	for i := range t {
		t[i] = -1
	}
	mask := uint32(size - 1)
	for i, lv := range levels {
		for k := priceHash(lv.Price) & mask; ; k = (k + 1) & mask {
			j := t[k]
			if j < 0 {
				t[k] = int32(i)
				break
			}
			if samePrice(lv.Price, levels[j].Price) {
				return i
			}
		}
	}
	return -1
}
