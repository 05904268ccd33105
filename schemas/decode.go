package schemas

import "math"

// field identifies a known top-level key of a Kafka record.
type field uint8

const (
	fType field = iota
	fSymbol
	fTS
	fBase
	fQuote
	fPriceScale
	fSizeScale
	fTickSize
	fLotSize
	fStatus
	fSeq
	fBids
	fAsks
	fTradeID
	fPrice
	fSize
	fSide
	fEpoch
	numFields
)

var fieldNames = [numFields]string{
	"type", "symbol", "ts", "base", "quote", "price_scale", "size_scale",
	"tick_size", "lot_size", "status", "seq", "bids", "asks", "trade_id",
	"price", "size", "side", "epoch",
}

// fieldErr is a problem found in one field's value. It is only turned into
// a DecodeError when the field matters for the record's type, so that
// fields unknown to a type are ignored whatever they hold.
type fieldErr struct {
	reason Reason
	msg    string
	val    []byte // offending value, quoted (truncated) in the detail
	level  int    // level index for bids/asks, else -1
}

// decoder holds the state of one DecodeRecord call.
type decoder struct {
	scanner
	r       *Record
	present uint32 // bit per field
	errs    [numFields]fieldErr
	typ     []byte
	side    []byte
	zeroIdx [2]int // first level with a zero size, per side; -1 if none
	ts      uint64
	pScale  uint64
	sScale  uint64
}

// DecodeRecord decodes one Kafka record value into r, which is reset first
// and may be reused across calls to avoid allocations. Unknown fields are
// ignored at any depth; a duplicate key takes the last value. On failure it
// returns a *DecodeError and the content of r is unspecified.
func DecodeRecord(data []byte, r *Record) error {
	r.Reset()
	d := decoder{r: r}
	d.data = data
	d.scratch = &r.scratch
	d.zeroIdx = [2]int{-1, -1}
	if !d.object() {
		return &DecodeError{Reason: ReasonInvalidJSON, Detail: d.syntaxDetail()}
	}
	if e := d.finish(); e != nil {
		return e
	}
	return nil
}

func (d *decoder) syntaxDetail() string {
	if d.synPos < len(d.data) {
		return d.synMsg + " at offset " + itoa(d.synPos) + " (" + quote(d.data[d.synPos:d.synPos+1]) + ")"
	}
	return d.synMsg + " at offset " + itoa(d.synPos)
}

// object scans the whole input: one object, then only whitespace.
func (d *decoder) object() bool {
	d.ws()
	if !d.expect('{', "expected '{'") {
		return false
	}
	d.ws()
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			if d.peek() != '"' {
				return d.fail("expected object key")
			}
			key, ok := d.str()
			if !ok {
				return false
			}
			d.ws()
			if !d.expect(':', "expected ':'") {
				return false
			}
			d.ws()
			if !d.value(key) {
				return false
			}
			d.ws()
			if d.peek() == ',' {
				d.pos++
				d.ws()
				continue
			}
			if !d.expect('}', "expected ',' or '}'") {
				return false
			}
			break
		}
	}
	d.ws()
	if d.pos != len(d.data) {
		return d.fail("trailing data after the object")
	}
	return true
}

// value decodes the value of a top-level key.
func (d *decoder) value(key []byte) bool {
	r := d.r
	switch string(key) {
	case "type":
		return d.stringField(fType, &d.typ)
	case "symbol":
		return d.stringField(fSymbol, &r.Symbol)
	case "ts":
		return d.intField(fTS, &d.ts, math.MaxInt64)
	case "base":
		return d.stringField(fBase, &r.Base)
	case "quote":
		return d.stringField(fQuote, &r.Quote)
	case "price_scale":
		return d.intField(fPriceScale, &d.pScale, maxScale)
	case "size_scale":
		return d.intField(fSizeScale, &d.sScale, maxScale)
	case "tick_size":
		return d.stringField(fTickSize, &r.TickSize)
	case "lot_size":
		return d.stringField(fLotSize, &r.LotSize)
	case "status":
		return d.stringField(fStatus, &r.Status)
	case "seq":
		return d.intField(fSeq, &r.Seq, math.MaxUint64)
	case "bids":
		return d.levelsField(fBids, &r.Bids, 0)
	case "asks":
		return d.levelsField(fAsks, &r.Asks, 1)
	case "trade_id":
		return d.stringField(fTradeID, &r.TradeID)
	case "price":
		return d.stringField(fPrice, &r.Price)
	case "size":
		return d.stringField(fSize, &r.Size)
	case "side":
		return d.stringField(fSide, &d.side)
	case "epoch":
		return d.intField(fEpoch, &r.Epoch, MaxEpoch)
	}
	return d.skip(2)
}

// seen marks f present and forgets an earlier occurrence's error.
func (d *decoder) seen(f field) {
	d.present |= 1 << f
	d.errs[f] = fieldErr{level: -1}
}

func (d *decoder) has(f field) bool { return d.present&(1<<f) != 0 }

// wrongType skips the value at start and records an invalid_field error.
func (d *decoder) wrongType(f field, start int, msg string) bool {
	if !d.skip(2) {
		return false
	}
	d.errs[f] = fieldErr{reason: ReasonInvalidField, msg: msg, val: d.data[start:d.pos], level: -1}
	return true
}

func (d *decoder) stringField(f field, dst *[]byte) bool {
	d.seen(f)
	*dst = nil
	if d.peek() != '"' {
		return d.wrongType(f, d.pos, "must be a string")
	}
	b, ok := d.str()
	*dst = b
	return ok
}

// intField reads a JSON integer without sign, fraction or exponent, at
// most max.
func (d *decoder) intField(f field, dst *uint64, max uint64) bool {
	d.seen(f)
	*dst = 0
	start := d.pos
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return d.wrongType(f, start, "must be an integer")
	}
	isInt, ok := d.number()
	if !ok {
		return false
	}
	num := d.data[start:d.pos]
	bad := func(msg string) bool {
		d.errs[f] = fieldErr{reason: ReasonInvalidField, msg: msg, val: num, level: -1}
		return true
	}
	if !isInt {
		return bad("must be an integer (no fraction or exponent)")
	}
	if num[0] == '-' {
		return bad("must not be negative")
	}
	var v uint64
	for _, c := range num {
		x := uint64(c - '0')
		if v > (max-x)/10 {
			return bad("out of range (max " + utoa(max) + ")")
		}
		v = v*10 + x
	}
	*dst = v
	return true
}

// levelsField reads an array of [price, size] string pairs. The first
// malformed level is recorded and later levels are only syntax-checked.
func (d *decoder) levelsField(f field, dst *[]Level, side int) bool {
	d.seen(f)
	d.zeroIdx[side] = -1
	*dst = (*dst)[:0]
	if d.peek() != '[' {
		return d.wrongType(f, d.pos, "must be an array of [price, size] pairs")
	}
	d.pos++
	d.ws()
	if d.peek() == ']' {
		d.pos++
		return true
	}
	for idx := 0; ; idx++ {
		start := d.pos
		if d.errs[f].reason != "" {
			if !d.skip(3) {
				return false
			}
		} else {
			lv, shapeOK, ok := d.level()
			if !ok {
				return false
			}
			if !shapeOK {
				d.pos = start
				if !d.skip(3) {
					return false
				}
				d.errs[f] = fieldErr{reason: ReasonInvalidField, msg: "must be a [price, size] pair of strings",
					val: d.data[start:d.pos], level: idx}
			} else if e := checkLevel(lv, idx); e.reason != "" {
				d.errs[f] = e
			} else {
				if d.zeroIdx[side] < 0 && isZero(lv.Size) {
					d.zeroIdx[side] = idx
				}
				*dst = append(*dst, lv)
			}
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.pos++
			d.ws()
		case ']':
			d.pos++
			return true
		default:
			return d.fail("expected ',' or ']'")
		}
	}
}

// level reads ["price","size"]. shapeOK is false when the element is not
// exactly an array of two strings; the caller then re-scans it with skip.
func (d *decoder) level() (lv Level, shapeOK, ok bool) {
	if d.peek() != '[' {
		return lv, false, true
	}
	d.pos++
	d.ws()
	if d.peek() != '"' {
		return lv, false, true
	}
	if lv.Price, ok = d.str(); !ok {
		return lv, false, false
	}
	d.ws()
	if d.peek() != ',' {
		return lv, false, true
	}
	d.pos++
	d.ws()
	if d.peek() != '"' {
		return lv, false, true
	}
	if lv.Size, ok = d.str(); !ok {
		return lv, false, false
	}
	d.ws()
	if d.peek() != ']' {
		return lv, false, true
	}
	d.pos++
	return lv, true, true
}

// checkLevel applies the type-independent checks to one level.
func checkLevel(lv Level, idx int) fieldErr {
	switch {
	case !validDecimal(lv.Price):
		return fieldErr{reason: ReasonBadDecimal, msg: "price is not a plain decimal", val: lv.Price, level: idx}
	case !validDecimal(lv.Size):
		return fieldErr{reason: ReasonBadDecimal, msg: "size is not a plain decimal", val: lv.Size, level: idx}
	case lv.Size[0] == '-':
		return fieldErr{reason: ReasonNegativeSize, msg: "size is negative", val: lv.Size, level: idx}
	}
	return fieldErr{}
}
