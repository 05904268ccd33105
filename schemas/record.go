package schemas

// RecordType is the "type" of a Kafka record.
type RecordType uint8

// Kafka record types.
const (
	// RecordInvalid is the zero value; no decoded record has it.
	RecordInvalid RecordType = iota
	// RecordInstrument defines a symbol's scales, increments and status.
	RecordInstrument
	// RecordSnapshot is the full book of a symbol after event Seq.
	RecordSnapshot
	// RecordDelta is one book event: absolute sizes at changed prices.
	RecordDelta
	// RecordTrade is one execution.
	RecordTrade
)

var recordTypeNames = [...]string{"invalid", "instrument", "snapshot", "delta", "trade"}

// String returns the wire name of t ("instrument", "snapshot", "delta",
// "trade"), or "invalid".
func (t RecordType) String() string {
	if int(t) < len(recordTypeNames) {
		return recordTypeNames[t]
	}
	return "invalid"
}

// Side is the aggressor side of a trade.
type Side uint8

// Trade sides.
const (
	// SideNone is the zero value; no decoded trade has it.
	SideNone Side = iota
	// SideBuy: the buyer took liquidity.
	SideBuy
	// SideSell: the seller took liquidity.
	SideSell
)

var sideNames = [...]string{"none", "buy", "sell"}

// String returns the wire name of s ("buy", "sell"), or "none".
func (s Side) String() string {
	if int(s) < len(sideNames) {
		return sideNames[s]
	}
	return "none"
}

// Level is one [price, size] pair. The byte slices alias the decoded input
// (or the Record's scratch buffer when the JSON string had escapes): they are
// valid until the next DecodeRecord into the same Record or until the input
// buffer is reused.
type Level struct {
	Price, Size []byte
}

// Record is one decoded Kafka record. Only the fields of its Type are set;
// the others are zero. Byte slices alias the input or the Record's scratch
// buffer (see Level) and must not be modified.
type Record struct {
	// Type is the record type.
	Type RecordType
	// Symbol is the instrument symbol (1–32 of A-Z a-z 0-9 - _ . /).
	Symbol []byte
	// TS is the exchange time of the event, µs since the Unix epoch.
	TS int64

	// Base and Quote are the instrument's assets; nil when absent.
	Base, Quote []byte
	// PriceScale and SizeScale are the numbers of fractional digits of
	// prices and sizes (0..18).
	PriceScale, SizeScale int
	// TickSize and LotSize are the price and size increments as decimal
	// strings; nil when absent (one unit at the scale).
	TickSize, LotSize []byte
	// Status is "trading", "halted" or "closed"; "trading" when absent.
	Status []byte

	// Seq is the book event number of a snapshot or delta.
	Seq uint64
	// Epoch is the publisher's numbering of a snapshot or delta: it grows
	// each time the publisher restarts its sequence (kafka.md §4.1); 0
	// when absent.
	Epoch uint64
	// Bids and Asks are the levels of a snapshot or delta, in input order.
	Bids, Asks []Level

	// TradeID is the exchange's trade identifier.
	TradeID []byte
	// Price and Size are the trade's decimal price and size.
	Price, Size []byte
	// Side is the trade's aggressor side.
	Side Side

	scratch []byte // unescaped strings
}

// Reset clears r, keeping the capacity of its level slices and buffers.
func (r *Record) Reset() {
	*r = Record{
		Bids:    r.Bids[:0],
		Asks:    r.Asks[:0],
		scratch: r.scratch[:0],
	}
}

// clearOthers zeroes the fields that do not belong to r.Type.
func (r *Record) clearOthers() {
	if r.Type != RecordInstrument {
		r.Base, r.Quote, r.TickSize, r.LotSize, r.Status = nil, nil, nil, nil, nil
		r.PriceScale, r.SizeScale = 0, 0
	}
	if r.Type != RecordSnapshot && r.Type != RecordDelta {
		r.Seq, r.Epoch = 0, 0
		r.Bids, r.Asks = r.Bids[:0], r.Asks[:0]
	}
	if r.Type != RecordTrade {
		r.TradeID, r.Price, r.Size = nil, nil, nil
		r.Side = SideNone
	}
}
