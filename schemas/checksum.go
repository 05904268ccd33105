package schemas

import (
	"hash/crc32"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
)

// Book checksums (websocket.md, section 5.7.1). The checksum of a view is
// the CRC-32 (IEEE polynomial, as in zlib and Ethernet) of its canonical
// string: for each bid level, best first, the price string, ':', the size
// string and ';'; then '|'; then the ask levels, best first, in the same
// form. The strings are the exact decimal strings of the messages, so the
// canonical string of a view is the same on the server and on any client.
//
// The pieces: AppendChecksumLevel (decimal strings) and
// AppendChecksumLevelFixed (a fixed-point level, the same bytes) write the
// text of one level; ChecksumSides hashes the texts of the two sides.
// A server can keep each side's text between messages and patch it;
// BookChecksum and AppendChecksumString are the whole-view forms.

// ChecksumSideSeparator separates the bids from the asks in the canonical
// string of a view.
const ChecksumSideSeparator = '|'

var checksumSep = []byte{ChecksumSideSeparator}

// AppendChecksumLevel appends the canonical text of one level whose price
// and size are decimal strings: price, ':', size, ';'.
func AppendChecksumLevel[S ~string | ~[]byte](dst []byte, price, size S) []byte {
	dst = append(dst, price...)
	dst = append(dst, ':')
	dst = append(dst, size...)
	return append(dst, ';')
}

// AppendChecksumLevelFixed appends the canonical text of a fixed-point
// level at the scales of sc: the same bytes as AppendChecksumLevel of the
// decimal strings a message carries for it (AppendLevels).
func AppendChecksumLevelFixed(dst []byte, l orderbook.Level, sc Scales) []byte {
	dst = fixedpoint.Append(dst, l.Price, sc.Price)
	dst = append(dst, ':')
	dst = fixedpoint.Append(dst, l.Size, sc.Size)
	return append(dst, ';')
}

// ChecksumSides returns the checksum of a view given the texts of its
// sides: bids and asks are each the concatenated level texts of a side,
// best first, without the separator.
func ChecksumSides(bids, asks []byte) uint32 {
	c := crc32.Update(0, crc32.IEEETable, bids)
	c = crc32.Update(c, crc32.IEEETable, checksumSep)
	return crc32.Update(c, crc32.IEEETable, asks)
}

// AppendChecksumString appends the canonical string of a view whose levels
// are [price, size] decimal strings, best first on each side.
func AppendChecksumString(dst []byte, bids, asks [][2]string) []byte {
	for _, l := range bids {
		dst = AppendChecksumLevel(dst, l[0], l[1])
	}
	dst = append(dst, ChecksumSideSeparator)
	for _, l := range asks {
		dst = AppendChecksumLevel(dst, l[0], l[1])
	}
	return dst
}

// BookChecksum returns the checksum of a view whose levels are [price,
// size] decimal strings, best first on each side.
func BookChecksum(bids, asks [][2]string) uint32 {
	var buf [512]byte
	return crc32.ChecksumIEEE(AppendChecksumString(buf[:0], bids, asks))
}
