package fanout

import (
	"hash/crc32"

	"github.com/marketfeed/marketfeed/fixed"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// viewChecksum returns the checksum of the top depth levels of each side of
// the topic's book, as schemas.BookChecksum computes it from the decimal
// strings a client holds. It runs once per emitted book message of a
// stream (not per subscriber): one pass over the view, formatting each
// level at the instrument's scales into a reused buffer, then one CRC-32.
// Owner goroutine only.
func (t *Topic) viewChecksum(depth int) uint32 {
	b := t.ckbuf[:0]
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		if side == orderbook.Ask {
			b = append(b, schemas.ChecksumSideSeparator)
		}
		n := min(depth, t.book.Len(side))
		for i := range n {
			l := t.book.At(side, i)
			b = fixed.Append(b, l.Price, t.sc.price)
			b = append(b, ':')
			b = fixed.Append(b, l.Size, t.sc.size)
			b = append(b, ';')
		}
	}
	t.ckbuf = b
	return crc32.ChecksumIEEE(b)
}
