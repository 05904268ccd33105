package schemas

import "math"

// The binary encoding of the market-data messages (binary.md), spoken on
// connections that negotiated the subprotocol SubprotocolBinary. It follows
// the encoding rules of FIX Simple Binary Encoding: every message is a
// message header, a fixed root block, repeating groups, then variable-length
// data, all little-endian; marketfeed.sbe.xml is the message schema.

// Subprotocols of the WebSocket protocol (Sec-WebSocket-Protocol,
// websocket.md section 2). A client that offers none speaks
// SubprotocolJSON.
const (
	// SubprotocolJSON: every message is a JSON text frame.
	SubprotocolJSON = "marketfeed.v1.json"
	// SubprotocolBinary: market data in binary frames (binary.md),
	// control messages in JSON text frames.
	SubprotocolBinary = "marketfeed.v1.bin"
)

// Encoding is the codec of a connection's market-data messages, chosen by
// the negotiated subprotocol. The zero value is EncodingJSON.
type Encoding uint8

// Encodings.
const (
	// EncodingJSON: market data as JSON text frames (SubprotocolJSON).
	EncodingJSON Encoding = iota
	// EncodingBinary: market data as binary frames (SubprotocolBinary).
	EncodingBinary
	// NumEncodings is the number of encodings.
	NumEncodings
)

var encodingNames = [NumEncodings]string{"json", "bin"}

// String returns the encoding's name as the welcome message announces it
// ("json", "bin").
func (e Encoding) String() string {
	if e < NumEncodings {
		return encodingNames[e]
	}
	return "unknown"
}

// EncodingOf returns the encoding of subprotocol p ("" is the default,
// EncodingJSON) and whether p is one the server speaks.
func EncodingOf(p string) (Encoding, bool) {
	switch p {
	case "", SubprotocolJSON:
		return EncodingJSON, true
	case SubprotocolBinary:
		return EncodingBinary, true
	}
	return 0, false
}

// The schema's identity, in every message header.
const (
	// BinarySchemaID is the schemaId of marketfeed.sbe.xml.
	BinarySchemaID = 1
	// BinarySchemaVersion is the version of marketfeed.sbe.xml the encoders
	// write. A decoder reads messages of this version and later ones
	// (later versions only append fields to blocks and add templates).
	BinarySchemaVersion = 1
)

// Template ids of the binary messages (the templateId of the header).
const (
	TemplateSnapshot uint16 = 1
	TemplateUpdate   uint16 = 2
	TemplateStatus   uint16 = 3
	TemplateBBO      uint16 = 4
	TemplateTicker   uint16 = 5
	TemplateTickers  uint16 = 6
	TemplateTrades   uint16 = 7
	TemplateCandles  uint16 = 8
)

// Sizes of the fixed parts of the binary messages, in bytes.
const (
	binHeaderSize   = 8  // blockLength, templateId, schemaId, version: uint16 each
	binGroupSize    = 6  // blockLength uint16, numInGroup uint32
	binVarLenSize   = 2  // length uint16 of a varString
	binSnapshotRoot = 30 // seq, epoch, ts, checksum, priceScale, sizeScale
	binUpdateRoot   = 38 // firstSeq before the snapshot's fields
	binStatusRoot   = 2  // status, reason
	binBBORoot      = 58 // seq, epoch, ts, bid, bidSize, ask, askSize, scales
	binTickerRoot   = 180
	binTickersRoot  = 8  // ts
	binTradesRoot   = 2  // priceScale, sizeScale
	binCandlesRoot  = 12 // windowStart, resolution, snapshot, priceScale, sizeScale
	binLevelEntry   = 16 // price, size
	binTradeEntry   = 25 // ts, price, size, side
	binCandleEntry  = 81 // start, open, high, low, close, volume, quoteVolume, count, final
)

// BinaryNullInt64 is the null value of an optional int64 field (a bbo's
// empty side, a ticker's unknown value): -2^63, which no fixed-point value
// takes (fixedpoint's magnitude bound is 2^63-1).
const BinaryNullInt64 = math.MinInt64

// Book states of the binary status and ticker messages (BookState enum).
// The JSON vocabulary is StatusWaiting and StatusStale; 0 is a served book
// (a ticker without status).
var binStatus = [...]string{"", StatusWaiting, StatusStale}

// Stale reasons of the binary status and ticker messages (StaleReason
// enum); 0 is none.
var binReason = [...]string{"", ReasonGap, ReasonFeedDown, ReasonSilent, ReasonCrossed}

// binOther is the enum value of a status or reason the binary vocabulary
// does not know; the server never sends it.
const binOther = 255

func binCode(vocab []string, s string) uint8 {
	for i, v := range vocab {
		if v == s {
			return uint8(i)
		}
	}
	return binOther
}
