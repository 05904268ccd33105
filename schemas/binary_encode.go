package schemas

import (
	"encoding/binary"
	"math/big"

	"github.com/marketfeed/marketfeed/candle"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/shopspring/decimal"
)

// Encoders of the binary market-data messages (binary.md), the twins of
// the JSON encoders of server_encode.go: each takes the same arguments as
// its JSON twin, appends one complete binary message to a caller's buffer
// and does not allocate when the buffer has room (AppendBinaryTicker
// excepted, as AppendTicker). DecodeBinary of the output gives the
// ServerMessage that decoding the JSON twin's output gives; the tests
// check that, and the layout against marketfeed.sbe.xml.

var le = binary.LittleEndian

// appendBinHeader appends the message header of a message of template
// whose root block is blockLength bytes.
func appendBinHeader(dst []byte, blockLength int, template uint16) []byte {
	dst = le.AppendUint16(dst, uint16(blockLength))
	dst = le.AppendUint16(dst, template)
	dst = le.AppendUint16(dst, BinarySchemaID)
	return le.AppendUint16(dst, BinarySchemaVersion)
}

// appendBinGroup appends a group's dimension: its entries' block length
// and their number.
func appendBinGroup(dst []byte, blockLength, n int) []byte {
	dst = le.AppendUint16(dst, uint16(blockLength))
	return le.AppendUint32(dst, uint32(n))
}

// appendBinString appends s as a varString: uint16 length, then the
// bytes. Longer strings are cut at 65535 bytes; the channel names and
// trade ids the server sends are far shorter (a trade id is bounded by
// the Kafka record's limits, kafka.md).
func appendBinString(dst []byte, s string) []byte {
	if len(s) > 0xFFFF {
		s = s[:0xFFFF]
	}
	dst = le.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBinInt64(dst []byte, v int64) []byte { return le.AppendUint64(dst, uint64(v)) }

// appendBinLevels appends a group of price levels.
func appendBinLevels(dst []byte, levels []orderbook.Level) []byte {
	dst = appendBinGroup(dst, binLevelEntry, len(levels))
	for _, l := range levels {
		dst = appendBinInt64(dst, l.Price)
		dst = appendBinInt64(dst, l.Size)
	}
	return dst
}

// appendBinScales appends the priceScale and sizeScale fields.
func appendBinScales(dst []byte, sc Scales) []byte {
	return append(dst, uint8(sc.Price), uint8(sc.Size))
}

// BinaryBookMessageSize is the encoded size of a binary snapshot or update
// message of channel with n levels in all, for sizing buffers.
func BinaryBookMessageSize(channel string, n int) int {
	return binHeaderSize + binUpdateRoot + 2*binGroupSize + n*binLevelEntry + binVarLenSize + len(channel)
}

// AppendBinarySnapshot is AppendSnapshot in the binary encoding (template
// TemplateSnapshot).
func AppendBinarySnapshot(dst []byte, channel string, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	dst = appendBinHeader(dst, binSnapshotRoot, TemplateSnapshot)
	return appendBinBook(dst, channel, seq, epoch, ts, checksum, bids, asks, sc)
}

// AppendBinaryUpdate is AppendUpdate in the binary encoding (template
// TemplateUpdate).
func AppendBinaryUpdate(dst []byte, channel string, firstSeq, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	dst = appendBinHeader(dst, binUpdateRoot, TemplateUpdate)
	dst = le.AppendUint64(dst, firstSeq)
	return appendBinBook(dst, channel, seq, epoch, ts, checksum, bids, asks, sc)
}

// appendBinBook appends the fields, groups and channel that snapshots and
// updates share.
func appendBinBook(dst []byte, channel string, seq, epoch uint64, ts int64, checksum uint32, bids, asks []orderbook.Level, sc Scales) []byte {
	dst = le.AppendUint64(dst, seq)
	dst = le.AppendUint64(dst, epoch)
	dst = appendBinInt64(dst, ts)
	dst = le.AppendUint32(dst, checksum)
	dst = appendBinScales(dst, sc)
	dst = appendBinLevels(dst, bids)
	dst = appendBinLevels(dst, asks)
	return appendBinString(dst, channel)
}

// AppendBinaryStatus appends the binary status message of channel (a book
// or bbo channel): status StatusWaiting or StatusStale and, when stale,
// its reason ("" otherwise).
func AppendBinaryStatus(dst []byte, channel, status, reason string) []byte {
	dst = appendBinHeader(dst, binStatusRoot, TemplateStatus)
	dst = appendBinState(dst, status, reason)
	return appendBinString(dst, channel)
}

// BinaryBBOMessageSize is the encoded size of a binary bbo message of
// channel, for sizing buffers.
func BinaryBBOMessageSize(channel string) int {
	return binHeaderSize + binBBORoot + binVarLenSize + len(channel)
}

// AppendBinaryBBO is AppendBBO in the binary encoding (template
// TemplateBBO): an empty side has BinaryNullInt64 as price and size.
func AppendBinaryBBO(dst []byte, channel string, seq, epoch uint64, ts int64, bid, ask orderbook.Level, bidOK, askOK bool, sc Scales) []byte {
	dst = appendBinHeader(dst, binBBORoot, TemplateBBO)
	dst = le.AppendUint64(dst, seq)
	dst = le.AppendUint64(dst, epoch)
	dst = appendBinInt64(dst, ts)
	dst = appendBinOptLevel(dst, bid, bidOK)
	dst = appendBinOptLevel(dst, ask, askOK)
	dst = appendBinScales(dst, sc)
	return appendBinString(dst, channel)
}

// appendBinOptLevel appends a level's price and size, or two nulls.
func appendBinOptLevel(dst []byte, l orderbook.Level, ok bool) []byte {
	if !ok {
		l = orderbook.Level{Price: BinaryNullInt64, Size: BinaryNullInt64}
	}
	dst = appendBinInt64(dst, l.Price)
	return appendBinInt64(dst, l.Size)
}

// BinaryTradesMessageSize is the encoded size of a binary trades message
// of channel with n trades whose ids are idLen bytes long in all.
func BinaryTradesMessageSize(channel string, n, idLen int) int {
	return binHeaderSize + binTradesRoot + binGroupSize + n*(binTradeEntry+binVarLenSize) + idLen + binVarLenSize + len(channel)
}

// AppendBinaryTrades is AppendTrades in the binary encoding (template
// TemplateTrades).
func AppendBinaryTrades(dst []byte, channel string, trades []Trade, sc Scales) []byte {
	dst = appendBinHeader(dst, binTradesRoot, TemplateTrades)
	dst = appendBinScales(dst, sc)
	dst = appendBinGroup(dst, binTradeEntry, len(trades))
	for i := range trades {
		t := &trades[i]
		dst = appendBinInt64(dst, t.TS)
		dst = appendBinInt64(dst, t.Price)
		dst = appendBinInt64(dst, t.Size)
		dst = append(dst, uint8(t.Side))
		dst = appendBinString(dst, t.ID)
	}
	return appendBinString(dst, channel)
}

// BinaryTickerMessageSize is the encoded size of a binary ticker message
// of channel, for sizing buffers.
func BinaryTickerMessageSize(channel string) int {
	return binHeaderSize + binTickerRoot + binVarLenSize + len(channel)
}

// AppendBinaryTicker is AppendTicker in the binary encoding (template
// TemplateTicker): a value without a value is null (BinaryNullInt64, or
// the null Int128 for the window's decimals). The window's decimals are
// converted by the decimal and math/big packages, which allocate.
func AppendBinaryTicker(dst []byte, channel string, ts int64, book *orderbook.Book, st *orderbook.Stats, sc Scales, status, reason string) []byte {
	dst = appendBinHeader(dst, binTickerRoot, TemplateTicker)
	dst = appendBinInt64(dst, ts)
	var bid, ask orderbook.Level
	var bidOK, askOK bool
	if book != nil {
		bid, bidOK = book.Best(orderbook.Bid)
		ask, askOK = book.Best(orderbook.Ask)
	}
	dst = appendBinOptLevel(dst, bid, bidOK)
	dst = appendBinOptLevel(dst, ask, askOK)
	dst = appendBinOptLevel(dst, orderbook.Level{Price: st.Last, Size: st.LastSize}, st.HasLast)
	win := st.Count > 0
	dst = appendBinOpt(dst, st.Open, win)
	dst = appendBinOpt(dst, st.High, win)
	dst = appendBinOpt(dst, st.Low, win)
	dst = appendBinOpt(dst, st.Count, win)
	dst = appendBinOpt(dst, st.WindowStart, st.HasWindow)
	dst = appendBinDecimal(dst, st.Volume, sc.Size, win)
	dst = appendBinDecimal(dst, st.QuoteVolume, sc.Price+sc.Size, win)
	dst = appendBinDecimal(dst, st.VWAP, sc.Price, win)
	dst = appendBinDecimal(dst, st.Change, sc.Price, win)
	dst = appendBinDecimal(dst, st.ChangePct, 2, win && st.HasChangePct)
	dst = appendBinState(dst, status, reason)
	dst = appendBinScales(dst, sc)
	return appendBinString(dst, channel)
}

// appendBinState appends the status and reason fields ("" is 0).
func appendBinState(dst []byte, status, reason string) []byte {
	return append(dst, binCode(binStatus[:], status), binCode(binReason[:], reason))
}

// appendBinOpt appends v, or the null int64 when !ok.
func appendBinOpt(dst []byte, v int64, ok bool) []byte {
	if !ok {
		v = BinaryNullInt64
	}
	return appendBinInt64(dst, v)
}

// appendBinDecimal appends d at scale as an Int128 mantissa (lo uint64,
// then hi int64), rounded to scale as the JSON encoder's StringFixed
// rounds it, or the null Int128 when !ok. A mantissa of 2^126 or more in
// magnitude is sent as null: no ticker value comes near it (the quote
// volume of 2^62 trades of the largest price and size).
func appendBinDecimal(dst []byte, d decimal.Decimal, scale int, ok bool) []byte {
	var lo uint64
	hi := int64(BinaryNullInt64)
	if ok {
		if l, h, fits := int128Of(d.Round(int32(scale)).Shift(int32(scale)).BigInt()); fits {
			lo, hi = l, h
		}
	}
	dst = le.AppendUint64(dst, lo)
	return appendBinInt64(dst, hi)
}

// int128Of returns b as the two 64-bit halves of a two's complement
// Int128, or false when |b| >= 2^126.
func int128Of(b *big.Int) (lo uint64, hi int64, ok bool) {
	if b.IsInt64() {
		v := b.Int64()
		return uint64(v), v >> 63, true
	}
	if b.BitLen() > 126 {
		return 0, 0, false
	}
	var a, h big.Int
	a.Abs(b)
	mlo := a.Uint64()
	mhi := h.Rsh(&a, 64).Uint64()
	if b.Sign() < 0 {
		mlo = ^mlo + 1
		mhi = ^mhi
		if mlo == 0 {
			mhi++
		}
	}
	return mlo, int64(mhi), true
}

// AppendBinaryTickers is AppendTickers in the binary encoding (template
// TemplateTickers): its tickers group holds the given binary ticker
// messages (each as AppendBinaryTicker encodes it), in order, each entry
// being the message's root block and channel.
func AppendBinaryTickers(dst []byte, ts int64, tickers [][]byte) []byte {
	dst = appendBinHeader(dst, binTickersRoot, TemplateTickers)
	dst = appendBinInt64(dst, ts)
	dst = appendBinGroup(dst, binTickerRoot, len(tickers))
	for _, t := range tickers {
		dst = append(dst, t[binHeaderSize:]...)
	}
	return appendBinString(dst, TickersChannel)
}

// BinaryCandlesMessageSize is the encoded size of a binary candles
// message of channel with n candles, for sizing buffers.
func BinaryCandlesMessageSize(channel string, n int) int {
	return binHeaderSize + binCandlesRoot + binGroupSize + n*binCandleEntry + binVarLenSize + len(channel)
}

// AppendBinaryCandles is AppendCandles in the binary encoding (template
// TemplateCandles): the closed candles (final), oldest first, then the
// candle in progress cur when it is not nil; the window start is null
// when h has none. It does not allocate when dst has room.
func AppendBinaryCandles(dst []byte, h *CandlesHeader, closed []candle.Candle, cur *candle.Candle, sc Scales) []byte {
	dst = appendBinHeader(dst, binCandlesRoot, TemplateCandles)
	dst = appendBinOpt(dst, h.WindowStart, h.HasWindow)
	dst = append(dst, uint8(h.Resolution), binBool(h.Snapshot))
	dst = appendBinScales(dst, sc)
	n := len(closed)
	if cur != nil {
		n++
	}
	dst = appendBinGroup(dst, binCandleEntry, n)
	for i := range closed {
		dst = appendBinCandle(dst, &closed[i], true)
	}
	if cur != nil {
		dst = appendBinCandle(dst, cur, false)
	}
	return appendBinString(dst, h.Channel)
}

// appendBinCandle appends a candles group entry.
func appendBinCandle(dst []byte, c *candle.Candle, final bool) []byte {
	dst = appendBinInt64(dst, c.Start)
	dst = appendBinInt64(dst, c.Open)
	dst = appendBinInt64(dst, c.High)
	dst = appendBinInt64(dst, c.Low)
	dst = appendBinInt64(dst, c.Close)
	dst = appendBinInt128(dst, c.Volume)
	dst = appendBinInt128(dst, c.QuoteVolume)
	dst = appendBinInt64(dst, c.Count)
	return append(dst, binBool(final))
}

// appendBinInt128 appends x as an Int128 (lo uint64, then hi int64).
func appendBinInt128(dst []byte, x candle.Int128) []byte {
	dst = le.AppendUint64(dst, x.Lo)
	return appendBinInt64(dst, x.Hi)
}

// binBool is the BooleanType value of b.
func binBool(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
