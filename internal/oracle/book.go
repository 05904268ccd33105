package oracle

import "sort"

// Book is an L2 book as two maps from price to size. Absent prices have no
// level; a stored size is always > 0.
type Book struct {
	// Bids and Asks map each price of the side to its size.
	Bids, Asks map[int64]int64
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{Bids: map[int64]int64{}, Asks: map[int64]int64{}}
}

// Side returns the bid (bid true) or ask map.
func (b *Book) Side(bid bool) map[int64]int64 {
	if bid {
		return b.Bids
	}
	return b.Asks
}

// Set sets the size at price on the bid (bid true) or ask side; size 0
// deletes the level.
func (b *Book) Set(bid bool, price, size int64) {
	m := b.Side(bid)
	if size == 0 {
		delete(m, price)
		return
	}
	m[price] = size
}

// Reset removes every level.
func (b *Book) Reset() {
	b.Bids = map[int64]int64{}
	b.Asks = map[int64]int64{}
}

// Top returns the n best (price, size) pairs of a side, best first: highest
// price first for bids, lowest first for asks. n <= 0 means all levels.
func (b *Book) Top(bid bool, n int) [][2]int64 {
	m := b.Side(bid)
	out := make([][2]int64, 0, len(m))
	for p, s := range m {
		out = append(out, [2]int64{p, s})
	}
	sort.Slice(out, func(i, j int) bool {
		if bid {
			return out[i][0] > out[j][0]
		}
		return out[i][0] < out[j][0]
	})
	if n > 0 && n < len(out) {
		out = out[:n]
	}
	return out
}
