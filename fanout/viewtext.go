package fanout

import (
	"cmp"
	"slices"

	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// viewText is a book stream's view as its canonical checksum string
// (schemas.BookChecksum), kept between messages so that an update costs
// the formatting of its entries and one CRC pass over the bytes instead of
// formatting the whole view again. Owner goroutine only.
type viewText struct {
	valid bool
	sides [2]sideText
}

// sideText is one side: the prices best first and, for each, the byte
// offset of its "price:size;" in buf (off has one more element, len(buf)).
type sideText struct {
	prices []int64
	off    []int
	buf    []byte
}

func (s *sideText) reset() {
	s.prices, s.off, s.buf = s.prices[:0], append(s.off[:0], 0), s.buf[:0]
}

// appendLevel appends the canonical form of one level.
func appendLevel(b []byte, l orderbook.Level, sc schemas.Scales) []byte {
	return schemas.AppendChecksumLevelFixed(b, l, sc)
}

// rebuild sets the text to the top depth levels of each side of book.
func (v *viewText) rebuild(book *orderbook.Book, depth int, sc schemas.Scales) {
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		s := &v.sides[side]
		s.reset()
		for i := range min(depth, book.Len(side)) {
			l := book.At(side, i)
			s.prices = append(s.prices, l.Price)
			s.buf = appendLevel(s.buf, l, sc)
			s.off = append(s.off, len(s.buf))
		}
	}
	v.valid = true
}

// update brings the text from the stream's previous view to the current
// one, given the entries of the update message (or rebuilds it from the
// book when it is not valid), and returns the view's checksum. scratch is
// reused for formatting and returned.
func (v *viewText) update(book *orderbook.Book, depth int, bids, asks []orderbook.Level, sc schemas.Scales, scratch []byte) (uint32, []byte) {
	if v.valid {
		scratch = v.sides[orderbook.Bid].apply(orderbook.Bid, bids, sc, scratch)
		scratch = v.sides[orderbook.Ask].apply(orderbook.Ask, asks, sc, scratch)
		v.valid = len(v.sides[0].prices) <= depth && len(v.sides[1].prices) <= depth
	}
	if !v.valid {
		v.rebuild(book, depth, sc)
	}
	return v.checksum(), scratch
}

// apply sets the levels of entries (size zero deletes) on side, whose
// prices are ordered best first (descending for bids). scratch is reused
// for the formatted level and returned.
func (s *sideText) apply(side orderbook.Side, entries []orderbook.Level, sc schemas.Scales, scratch []byte) []byte {
	for _, e := range entries {
		i, found := slices.BinarySearchFunc(s.prices, e.Price, func(p, q int64) int {
			if side == orderbook.Bid {
				return cmp.Compare(q, p)
			}
			return cmp.Compare(p, q)
		})
		var text []byte
		if e.Size != 0 {
			scratch = appendLevel(scratch[:0], e, sc)
			text = scratch
		} else if !found {
			continue
		}
		start, end := s.off[i], s.off[i]
		if found {
			end = s.off[i+1]
		}
		s.buf = slices.Replace(s.buf, start, end, text...)
		delta := len(text) - (end - start)
		switch {
		case e.Size == 0: // delete level i
			s.prices = slices.Delete(s.prices, i, i+1)
			s.off = slices.Delete(s.off, i+1, i+2)
			for k := i + 1; k < len(s.off); k++ {
				s.off[k] += delta
			}
		case found: // replace level i
			for k := i + 1; k < len(s.off); k++ {
				s.off[k] += delta
			}
		default: // insert at i
			s.prices = slices.Insert(s.prices, i, e.Price)
			s.off = slices.Insert(s.off, i+1, start+len(text))
			for k := i + 2; k < len(s.off); k++ {
				s.off[k] += delta
			}
		}
	}
	return scratch
}

// checksum returns the CRC-32 of the text.
func (v *viewText) checksum() uint32 {
	return schemas.ChecksumSides(v.sides[orderbook.Bid].buf, v.sides[orderbook.Ask].buf)
}
