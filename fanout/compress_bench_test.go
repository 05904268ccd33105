package fanout

import (
	"fmt"
	"testing"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkDeflateFrame measures the cost of compressing one message (paid
// once per stream message, whatever the number of compressing subscribers)
// and reports the bytes saved.
func BenchmarkDeflateFrame(b *testing.B) {
	sc := schemas.Scales{Price: 2, Size: 8}
	for _, levels := range []int{4, 20, 100, 1000} {
		bids := make([]orderbook.Level, levels)
		asks := make([]orderbook.Level, levels)
		for i := range bids {
			bids[i] = orderbook.Level{Price: 6412310 - int64(i), Size: 12345678 + int64(i*7919)}
			asks[i] = orderbook.Level{Price: 6412311 + int64(i), Size: 87654321 - int64(i*7919)}
		}
		var frame []byte
		if levels == 4 {
			frame = encodeUpdate("book.BTC-USD", 1043, 1043, 0, 1767225600123456, 0x9e3779b9, bids[:1], asks[:1], sc)
		} else {
			frame = encodeSnapshot("book.BTC-USD", 1042, 0, 1767225600123456, 0x9e3779b9, bids, asks, sc)
		}
		b.Run(fmt.Sprintf("bytes=%d", len(frame)), func(b *testing.B) {
			b.ReportAllocs()
			var z []byte
			for b.Loop() {
				z = wsconn.Deflate(frame)
			}
			if z == nil {
				b.ReportMetric(1, "ratio")
				return
			}
			b.ReportMetric(float64(len(z))/float64(len(frame)), "ratio")
		})
	}
}
