package fanout

import (
	"hash/crc32"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// viewChecksum is the plain computation the streams' incremental
// checksums (viewText) must agree with: the checksum of the top depth
// levels of each side of the streams' book, formatted in one pass.
func (t *Streams) viewChecksum(depth int) uint32 {
	var b []byte
	for side := orderbook.Bid; side <= orderbook.Ask; side++ {
		if side == orderbook.Ask {
			b = append(b, schemas.ChecksumSideSeparator)
		}
		n := min(depth, t.book.Len(side))
		for i := range n {
			l := t.book.At(side, i)
			b = fixedpoint.Append(b, l.Price, t.sc().Price)
			b = append(b, ':')
			b = fixedpoint.Append(b, l.Size, t.sc().Size)
			b = append(b, ';')
		}
	}
	return crc32.ChecksumIEEE(b)
}
