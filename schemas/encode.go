package schemas

import "strconv"

// appendRecordLevels appends `,"key":` and the levels of a record as a JSON
// array of [price, size] strings.
func appendRecordLevels(dst []byte, key string, levels []Level) []byte {
	dst = append(appendKey(dst, key), '[')
	for i, lv := range levels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendJSONString(dst, lv.Price)
		dst = append(dst, ',')
		dst = appendJSONString(dst, lv.Size)
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// AppendRecord appends r to dst as canonical compact JSON and returns the
// extended slice. Fields come in the order of the examples of kafka.md
// (type, symbol, ts, then the fields of the type; epoch before seq); only
// the fields of r.Type are written, optional instrument fields only when
// non-nil, bids and asks always (possibly []), epoch only when not 0.
// Strings are escaped with AppendJSONString. It does not validate r:
// DecodeRecord of the output succeeds exactly when r holds a valid record.
// It does not allocate when dst has room.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, r.Type.String()...)
	dst = append(dst, '"')
	dst = appendStringField(dst, "symbol", r.Symbol)
	dst = appendIntField(dst, "ts", r.TS)
	switch r.Type {
	case RecordInstrument:
		dst = appendInstrument(dst, r)
	case RecordSnapshot, RecordDelta:
		if r.Epoch != 0 {
			dst = appendUintField(dst, "epoch", r.Epoch)
		}
		dst = appendUintField(dst, "seq", r.Seq)
		dst = appendRecordLevels(dst, "bids", r.Bids)
		dst = appendRecordLevels(dst, "asks", r.Asks)
	case RecordTrade:
		dst = appendStringField(dst, "trade_id", r.TradeID)
		dst = appendStringField(dst, "price", r.Price)
		dst = appendStringField(dst, "size", r.Size)
		dst = append(appendKey(dst, "side"), '"')
		dst = append(dst, r.Side.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendInstrument appends the fields of an instrument record after ts.
func appendInstrument(dst []byte, r *Record) []byte {
	if r.Base != nil {
		dst = appendStringField(dst, "base", r.Base)
	}
	if r.Quote != nil {
		dst = appendStringField(dst, "quote", r.Quote)
	}
	dst = strconv.AppendInt(appendKey(dst, "price_scale"), int64(r.PriceScale), 10)
	dst = strconv.AppendInt(appendKey(dst, "size_scale"), int64(r.SizeScale), 10)
	if r.TickSize != nil {
		dst = appendStringField(dst, "tick_size", r.TickSize)
	}
	if r.LotSize != nil {
		dst = appendStringField(dst, "lot_size", r.LotSize)
	}
	if r.Status != nil {
		dst = appendStringField(dst, "status", r.Status)
	}
	return dst
}
