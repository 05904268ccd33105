package schemas

import "hash/crc32"

// Book checksums (websocket.md, section 5.7.1). The checksum of a view is
// the CRC-32 (IEEE polynomial, as in zlib and Ethernet) of its canonical
// string: for each bid level, best first, the price string, ':', the size
// string and ';'; then '|'; then the ask levels, best first, in the same
// form. The strings are the exact decimal strings of the messages, so the
// canonical string of a view is the same on the server and on any client.

// ChecksumSideSeparator separates the bids from the asks in the canonical
// string of a view.
const ChecksumSideSeparator = '|'

// AppendChecksumString appends the canonical string of a view whose levels
// are [price, size] decimal strings, best first on each side.
func AppendChecksumString(dst []byte, bids, asks [][2]string) []byte {
	for _, l := range bids {
		dst = append(dst, l[0]...)
		dst = append(dst, ':')
		dst = append(dst, l[1]...)
		dst = append(dst, ';')
	}
	dst = append(dst, ChecksumSideSeparator)
	for _, l := range asks {
		dst = append(dst, l[0]...)
		dst = append(dst, ':')
		dst = append(dst, l[1]...)
		dst = append(dst, ';')
	}
	return dst
}

// BookChecksum returns the checksum of a view whose levels are [price,
// size] decimal strings, best first on each side.
func BookChecksum(bids, asks [][2]string) uint32 {
	var buf [512]byte
	return crc32.ChecksumIEEE(AppendChecksumString(buf[:0], bids, asks))
}
