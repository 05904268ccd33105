package schemas

import (
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
)

// Limits of the Kafka record format (kafka.md).
const (
	// MaxSymbolLen is the longest symbol, in bytes.
	MaxSymbolLen = 32
	// MaxAssetLen is the longest base or quote asset name, in bytes.
	MaxAssetLen = 32
	// MaxTradeIDLen is the longest trade_id, in bytes.
	MaxTradeIDLen = 64
	// MaxEpoch is the largest publisher epoch, 2^53−1: exact in a
	// JavaScript number.
	MaxEpoch = 1<<53 - 1
	maxScale = fixedpoint.MaxScale
)

// ValidSymbol reports whether s is a valid symbol: 1–32 characters of
// A-Z a-z 0-9 - _ . /.
func ValidSymbol[S ~string | ~[]byte](s S) bool {
	if len(s) == 0 || len(s) > MaxSymbolLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/') {
			return false
		}
	}
	return true
}

// validDecimal reports whether b is -?[0-9]+(\.[0-9]+)?.
func validDecimal(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	n := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == n {
		return false
	}
	if i == len(b) {
		return true
	}
	if b[i] != '.' {
		return false
	}
	i++
	n = i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i > n && i == len(b)
}

// isZero reports whether the valid decimal b has only zero digits.
func isZero(b []byte) bool {
	for _, c := range b {
		if c >= '1' && c <= '9' {
			return false
		}
	}
	return true
}

func itoa(i int) string    { return strconv.Itoa(i) }
func utoa(u uint64) string { return strconv.FormatUint(u, 10) }

// errFor converts a recorded field problem into a DecodeError.
func errFor(f field, e fieldErr) *DecodeError {
	detail := e.msg
	if e.level >= 0 {
		detail = "level " + itoa(e.level) + ": " + detail
	}
	if e.val != nil {
		detail += ": " + quote(e.val)
	}
	return &DecodeError{Reason: e.reason, Field: fieldNames[f], Detail: detail}
}

func (d *decoder) invalid(f field, msg string, val []byte) *DecodeError {
	return errFor(f, fieldErr{reason: ReasonInvalidField, msg: msg, val: val, level: -1})
}

// check returns the error of field f, or missing_field when required and
// absent.
func (d *decoder) check(f field, required bool) *DecodeError {
	if !d.has(f) {
		if required {
			return &DecodeError{Reason: ReasonMissingField, Field: fieldNames[f], Detail: "required field is absent"}
		}
		return nil
	}
	if e := d.errs[f]; e.reason != "" {
		return errFor(f, e)
	}
	return nil
}

// finish applies the per-type rules in the documented order: type, symbol,
// ts, then the type's fields in the order of kafka.md.
func (d *decoder) finish() *DecodeError {
	r := d.r
	if e := d.check(fType, true); e != nil {
		return e
	}
	switch string(d.typ) {
	case "instrument":
		r.Type = RecordInstrument
	case "snapshot":
		r.Type = RecordSnapshot
	case "delta":
		r.Type = RecordDelta
	case "trade":
		r.Type = RecordTrade
	default:
		return &DecodeError{Reason: ReasonUnknownType, Field: "type", Detail: "unknown record type " + quote(d.typ)}
	}
	if e := d.check(fSymbol, true); e != nil {
		return e
	}
	if !ValidSymbol(r.Symbol) {
		return d.invalid(fSymbol, "must be 1-32 characters of A-Z a-z 0-9 - _ . /", r.Symbol)
	}
	if e := d.check(fTS, true); e != nil {
		return e
	}
	r.TS = int64(d.ts)
	var e *DecodeError
	switch r.Type {
	case RecordInstrument:
		e = d.finishInstrument()
	case RecordSnapshot:
		e = d.finishBook(true)
	case RecordDelta:
		e = d.finishBook(false)
	case RecordTrade:
		e = d.finishTrade()
	}
	if e != nil {
		return e
	}
	r.clearOthers()
	return nil
}

func (d *decoder) finishInstrument() *DecodeError {
	r := d.r
	if e := d.asset(fBase, r.Base); e != nil {
		return e
	}
	if e := d.asset(fQuote, r.Quote); e != nil {
		return e
	}
	if e := d.check(fPriceScale, true); e != nil {
		return e
	}
	if e := d.check(fSizeScale, true); e != nil {
		return e
	}
	r.PriceScale, r.SizeScale = int(d.pScale), int(d.sScale)
	if e := d.increment(fTickSize, r.TickSize, r.PriceScale); e != nil {
		return e
	}
	if e := d.increment(fLotSize, r.LotSize, r.SizeScale); e != nil {
		return e
	}
	if e := d.check(fStatus, false); e != nil {
		return e
	}
	if !d.has(fStatus) {
		n := len(r.scratch)
		r.scratch = append(r.scratch, "trading"...)
		r.Status = r.scratch[n:]
		return nil
	}
	switch string(r.Status) {
	case "trading", "halted", "closed":
		return nil
	}
	return d.invalid(fStatus, `must be "trading", "halted" or "closed"`, r.Status)
}

// asset checks an optional base or quote.
func (d *decoder) asset(f field, v []byte) *DecodeError {
	if e := d.check(f, false); e != nil {
		return e
	}
	if len(v) > MaxAssetLen {
		return d.invalid(f, "longer than 32 bytes", v)
	}
	return nil
}

// increment checks an optional tick_size or lot_size: a decimal > 0 that
// is a whole number of units at scale.
func (d *decoder) increment(f field, v []byte, scale int) *DecodeError {
	if e := d.check(f, false); e != nil || !d.has(f) {
		return e
	}
	if !validDecimal(v) {
		return errFor(f, fieldErr{reason: ReasonBadDecimal, msg: "not a plain decimal", val: v, level: -1})
	}
	m, err := fixedpoint.ParseBytes(v, scale)
	if err != nil {
		return d.invalid(f, "not expressible at its scale", v)
	}
	if m <= 0 {
		return d.invalid(f, "must be > 0", v)
	}
	return nil
}

// finishBook checks a snapshot (full) or a delta.
func (d *decoder) finishBook(full bool) *DecodeError {
	r := d.r
	if e := d.check(fSeq, true); e != nil {
		return e
	}
	if e := d.check(fEpoch, false); e != nil {
		return e
	}
	for side, f := range [2]field{fBids, fAsks} {
		levels := r.Bids
		if side == 1 {
			levels = r.Asks
		}
		// A zero size is found only before any other level problem, so
		// it comes first in array order.
		if z := d.zeroIdx[side]; full && d.has(f) && z >= 0 {
			return errFor(f, fieldErr{reason: ReasonInvalidField, msg: "size must be > 0 in a snapshot",
				val: levels[z].Size, level: z})
		}
		if e := d.check(f, full); e != nil {
			return e
		}
	}
	if !full && len(r.Bids) == 0 && len(r.Asks) == 0 {
		return d.invalid(fBids, "a delta must change at least one level (bids and asks both empty)", nil)
	}
	return nil
}

func (d *decoder) finishTrade() *DecodeError {
	r := d.r
	if e := d.check(fTradeID, true); e != nil {
		return e
	}
	if len(r.TradeID) == 0 || len(r.TradeID) > MaxTradeIDLen {
		return d.invalid(fTradeID, "must be 1-64 bytes", r.TradeID)
	}
	if e := d.check(fPrice, true); e != nil {
		return e
	}
	if !validDecimal(r.Price) {
		return errFor(fPrice, fieldErr{reason: ReasonBadDecimal, msg: "not a plain decimal", val: r.Price, level: -1})
	}
	if e := d.check(fSize, true); e != nil {
		return e
	}
	switch {
	case !validDecimal(r.Size):
		return errFor(fSize, fieldErr{reason: ReasonBadDecimal, msg: "not a plain decimal", val: r.Size, level: -1})
	case r.Size[0] == '-':
		return errFor(fSize, fieldErr{reason: ReasonNegativeSize, msg: "size is negative", val: r.Size, level: -1})
	case isZero(r.Size):
		return d.invalid(fSize, "must be > 0", r.Size)
	}
	if e := d.check(fSide, true); e != nil {
		return e
	}
	switch string(d.side) {
	case "buy":
		r.Side = SideBuy
	case "sell":
		r.Side = SideSell
	default:
		return d.invalid(fSide, `must be "buy" or "sell"`, d.side)
	}
	return nil
}
