package schemas

import "strconv"

const hexDigits = "0123456789abcdef"

// appendString appends b as a JSON string. Quotes, backslashes and control
// characters are escaped; invalid UTF-8 bytes become \ufffd, so the output
// is always valid JSON.
func appendString(dst, b []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			if n := validRune(b, i); n > 0 {
				i += n
				continue
			}
		}
		dst = append(dst, b[start:i]...)
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			dst = append(dst, `\ufffd`...)
		}
		i++
		start = i
	}
	dst = append(dst, b[start:]...)
	return append(dst, '"')
}

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendLevels(dst []byte, key string, levels []Level) []byte {
	dst = appendKey(dst, key)
	dst = append(dst, '[')
	for i, lv := range levels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendString(dst, lv.Price)
		dst = append(dst, ',')
		dst = appendString(dst, lv.Size)
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// AppendRecord appends r to dst as canonical compact JSON and returns the
// extended slice. Fields come in the order of kafka.md; only the fields of
// r.Type are written, optional instrument fields only when non-nil, bids
// and asks always (possibly []), epoch only when not 0. It does not validate r: DecodeRecord of
// the output succeeds exactly when r holds a valid record.
func AppendRecord(dst []byte, r *Record) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, r.Type.String()...)
	dst = append(dst, '"')
	dst = appendKey(dst, "symbol")
	dst = appendString(dst, r.Symbol)
	dst = appendKey(dst, "ts")
	dst = strconv.AppendInt(dst, r.TS, 10)
	switch r.Type {
	case RecordInstrument:
		if r.Base != nil {
			dst = appendString(appendKey(dst, "base"), r.Base)
		}
		if r.Quote != nil {
			dst = appendString(appendKey(dst, "quote"), r.Quote)
		}
		dst = strconv.AppendInt(appendKey(dst, "price_scale"), int64(r.PriceScale), 10)
		dst = strconv.AppendInt(appendKey(dst, "size_scale"), int64(r.SizeScale), 10)
		if r.TickSize != nil {
			dst = appendString(appendKey(dst, "tick_size"), r.TickSize)
		}
		if r.LotSize != nil {
			dst = appendString(appendKey(dst, "lot_size"), r.LotSize)
		}
		if r.Status != nil {
			dst = appendString(appendKey(dst, "status"), r.Status)
		}
	case RecordSnapshot, RecordDelta:
		dst = strconv.AppendUint(appendKey(dst, "seq"), r.Seq, 10)
		if r.Epoch != 0 {
			dst = strconv.AppendUint(appendKey(dst, "epoch"), r.Epoch, 10)
		}
		dst = appendLevels(dst, "bids", r.Bids)
		dst = appendLevels(dst, "asks", r.Asks)
	case RecordTrade:
		dst = appendString(appendKey(dst, "trade_id"), r.TradeID)
		dst = appendString(appendKey(dst, "price"), r.Price)
		dst = appendString(appendKey(dst, "size"), r.Size)
		dst = append(appendKey(dst, "side"), '"')
		dst = append(dst, r.Side.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
