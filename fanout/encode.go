package fanout

import (
	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
)

// Frames of the market-data messages. The JSON is written by the schemas
// encoders (schemas/server_encode.go, tested against the decoders there);
// each frame is built once and shared by every subscriber of the stream.

// tradeEntry is one trade waiting to be sent.
type tradeEntry = schemas.Trade

// encodeSnapshot builds a book snapshot frame; checksum is that of the
// whole view (viewChecksum).
func encodeSnapshot(channel string, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc schemas.Scales) []byte {
	var f frameBuilder
	f.begin(schemas.BookMessageSize(len(bids) + len(asks)))
	f.b = schemas.AppendSnapshot(f.b, channel, seq, epoch, ts, checksum, bids, asks, sc)
	return f.finish(ws.OpText)
}

// encodeUpdate builds a book update frame covering firstSeq..seq;
// checksum is that of the whole view after it (viewChecksum).
func encodeUpdate(channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc schemas.Scales) []byte {
	var f frameBuilder
	f.begin(schemas.BookMessageSize(len(bids) + len(asks)))
	f.b = schemas.AppendUpdate(f.b, channel, firstSeq, seq, epoch, ts, checksum, bids, asks, sc)
	return f.finish(ws.OpText)
}

// encodeTrades builds a trades frame with one or more trades, oldest first.
func encodeTrades(channel string, trades []tradeEntry, sc schemas.Scales) []byte {
	var f frameBuilder
	f.begin(schemas.TradesMessageSize(len(trades)))
	f.b = schemas.AppendTrades(f.b, channel, trades, sc)
	return f.finish(ws.OpText)
}
