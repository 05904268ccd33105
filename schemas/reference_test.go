package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds a deliberately simple reference decoder for Kafka records,
// built on encoding/json and regular expressions straight from kafka.md. The
// differential tests require DecodeRecord to take the same accept/reject
// decision (same reason and field) and to produce the same values.

// refRecord is the reference decoder's result; optional fields are pointers.
type refRecord struct {
	Type                  string
	Symbol                string
	TS                    int64
	Base, Quote           *string
	PriceScale, SizeScale int
	TickSize, LotSize     *string
	Status                string
	Seq, Epoch            uint64
	Bids, Asks            [][2]string
	TradeID, Price, Size  string
	Side                  string
}

type refError struct {
	Reason Reason
	Field  string
}

var (
	refSymbolRE  = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,32}$`)
	refDecimalRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	refIntegerRE = regexp.MustCompile(`^[0-9]+$`)
)

// refNesting returns the deepest nesting of objects and arrays in valid
// JSON, counting brackets outside strings.
func refNesting(data []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// refValue decodes one raw JSON value into any, numbers as json.Number.
func refValue(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil && !errors.Is(err, io.EOF) {
		panic("reference: value of valid JSON does not decode: " + err.Error())
	}
	return v
}

type refDecoder struct {
	m map[string]json.RawMessage
}

func (d *refDecoder) get(name string) (any, bool) {
	raw, ok := d.m[name]
	if !ok {
		return nil, false
	}
	return refValue(raw), true
}

func fail(reason Reason, field string) *refError { return &refError{reason, field} }

// str returns a string field; present=false when absent.
func (d *refDecoder) str(name string, required bool) (s string, present bool, e *refError) {
	v, ok := d.get(name)
	if !ok {
		if required {
			return "", false, fail(ReasonMissingField, name)
		}
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", true, fail(ReasonInvalidField, name)
	}
	return s, true, nil
}

// uint returns a required non-negative integer field <= max.
func (d *refDecoder) uint(name string, max uint64) (uint64, *refError) {
	v, ok := d.get(name)
	if !ok {
		return 0, fail(ReasonMissingField, name)
	}
	n, isNum := v.(json.Number)
	if !isNum || !refIntegerRE.MatchString(string(n)) {
		return 0, fail(ReasonInvalidField, name)
	}
	u, err := strconv.ParseUint(string(n), 10, 64)
	if err != nil || u > max {
		return 0, fail(ReasonInvalidField, name)
	}
	return u, nil
}

func refRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("reference: big.Rat rejects decimal " + s)
	}
	return r
}

// levels decodes bids or asks; snapshot levels must have sizes > 0 and
// unique prices.
func (d *refDecoder) levels(name string, required, snapshot bool) ([][2]string, *refError) {
	v, ok := d.get(name)
	if !ok {
		if required {
			return nil, fail(ReasonMissingField, name)
		}
		return nil, nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, fail(ReasonInvalidField, name)
	}
	var out [][2]string
	for _, el := range arr {
		pair, isArr := el.([]any)
		if !isArr || len(pair) != 2 {
			return nil, fail(ReasonInvalidField, name)
		}
		price, ok1 := pair[0].(string)
		size, ok2 := pair[1].(string)
		switch {
		case !ok1 || !ok2:
			return nil, fail(ReasonInvalidField, name)
		case !refDecimalRE.MatchString(price), !refDecimalRE.MatchString(size):
			return nil, fail(ReasonBadDecimal, name)
		case strings.HasPrefix(size, "-"):
			return nil, fail(ReasonNegativeSize, name)
		case snapshot && refRat(size).Sign() == 0:
			return nil, fail(ReasonInvalidField, name)
		}
		out = append(out, [2]string{price, size})
	}
	// A price repeated within a snapshot side is the consumer's
	// duplicate_level (kafka.md section 5), not a decoding error.
	return out, nil
}

// increment checks tick_size / lot_size against its scale.
func (d *refDecoder) increment(name string, scale int) (*string, *refError) {
	s, present, e := d.str(name, false)
	if e != nil || !present {
		return nil, e
	}
	if !refDecimalRE.MatchString(s) {
		return nil, fail(ReasonBadDecimal, name)
	}
	r := refRat(s)
	units := new(big.Rat).Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
	if r.Sign() <= 0 || !units.IsInt() || units.Num().Cmp(big.NewInt(math.MaxInt64)) > 0 {
		return nil, fail(ReasonInvalidField, name)
	}
	return &s, nil
}

// refDecode is the reference for DecodeRecord.
func refDecode(data []byte) (*refRecord, *refError) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if !utf8.Valid(data) || !json.Valid(data) || len(trimmed) == 0 || trimmed[0] != '{' || refNesting(data) > maxDepth {
		return nil, fail(ReasonInvalidJSON, "")
	}
	d := refDecoder{}
	if err := json.Unmarshal(data, &d.m); err != nil {
		panic("reference: valid object does not unmarshal: " + err.Error())
	}
	rec := &refRecord{}
	var e *refError
	if rec.Type, _, e = d.str("type", true); e != nil {
		return nil, e
	}
	switch rec.Type {
	case "instrument", "snapshot", "delta", "trade":
	default:
		return nil, fail(ReasonUnknownType, "type")
	}
	if rec.Symbol, _, e = d.str("symbol", true); e != nil {
		return nil, e
	}
	if !refSymbolRE.MatchString(rec.Symbol) {
		return nil, fail(ReasonInvalidField, "symbol")
	}
	ts, e := d.uint("ts", math.MaxInt64)
	if e != nil {
		return nil, e
	}
	rec.TS = int64(ts)
	switch rec.Type {
	case "instrument":
		e = d.instrument(rec)
	case "snapshot", "delta":
		e = d.book(rec)
	case "trade":
		e = d.trade(rec)
	}
	if e != nil {
		return nil, e
	}
	return rec, nil
}

func (d *refDecoder) instrument(rec *refRecord) *refError {
	for _, name := range []string{"base", "quote"} {
		s, present, e := d.str(name, false)
		if e != nil {
			return e
		}
		if len(s) > 32 {
			return fail(ReasonInvalidField, name)
		}
		if present {
			if name == "base" {
				rec.Base = &s
			} else {
				rec.Quote = &s
			}
		}
	}
	ps, e := d.uint("price_scale", 18)
	if e != nil {
		return e
	}
	ss, e := d.uint("size_scale", 18)
	if e != nil {
		return e
	}
	rec.PriceScale, rec.SizeScale = int(ps), int(ss)
	if rec.TickSize, e = d.increment("tick_size", rec.PriceScale); e != nil {
		return e
	}
	if rec.LotSize, e = d.increment("lot_size", rec.SizeScale); e != nil {
		return e
	}
	status, present, e := d.str("status", false)
	if e != nil {
		return e
	}
	if !present {
		status = "trading"
	}
	if status != "trading" && status != "halted" && status != "closed" {
		return fail(ReasonInvalidField, "status")
	}
	rec.Status = status
	return nil
}

func (d *refDecoder) book(rec *refRecord) *refError {
	snapshot := rec.Type == "snapshot"
	var e *refError
	if rec.Seq, e = d.uint("seq", math.MaxUint64); e != nil {
		return e
	}
	if _, ok := d.get("epoch"); ok {
		if rec.Epoch, e = d.uint("epoch", 1<<53-1); e != nil {
			return e
		}
	}
	if rec.Bids, e = d.levels("bids", snapshot, snapshot); e != nil {
		return e
	}
	if rec.Asks, e = d.levels("asks", snapshot, snapshot); e != nil {
		return e
	}
	if !snapshot && len(rec.Bids)+len(rec.Asks) == 0 {
		return fail(ReasonInvalidField, "bids")
	}
	return nil
}

func (d *refDecoder) trade(rec *refRecord) *refError {
	var e *refError
	if rec.TradeID, _, e = d.str("trade_id", true); e != nil {
		return e
	}
	if len(rec.TradeID) == 0 || len(rec.TradeID) > 64 {
		return fail(ReasonInvalidField, "trade_id")
	}
	if rec.Price, _, e = d.str("price", true); e != nil {
		return e
	}
	if !refDecimalRE.MatchString(rec.Price) {
		return fail(ReasonBadDecimal, "price")
	}
	if rec.Size, _, e = d.str("size", true); e != nil {
		return e
	}
	switch {
	case !refDecimalRE.MatchString(rec.Size):
		return fail(ReasonBadDecimal, "size")
	case strings.HasPrefix(rec.Size, "-"):
		return fail(ReasonNegativeSize, "size")
	case refRat(rec.Size).Sign() == 0:
		return fail(ReasonInvalidField, "size")
	}
	if rec.Side, _, e = d.str("side", true); e != nil {
		return e
	}
	if rec.Side != "buy" && rec.Side != "sell" {
		return fail(ReasonInvalidField, "side")
	}
	return nil
}

// toRef converts a decoded Record to the reference representation.
func toRef(r *Record) *refRecord {
	opt := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := string(b)
		return &s
	}
	lv := func(levels []Level) [][2]string {
		var out [][2]string
		for _, l := range levels {
			out = append(out, [2]string{string(l.Price), string(l.Size)})
		}
		return out
	}
	side := ""
	if r.Side != SideNone {
		side = r.Side.String()
	}
	return &refRecord{
		Type: r.Type.String(), Symbol: string(r.Symbol), TS: r.TS,
		Base: opt(r.Base), Quote: opt(r.Quote), PriceScale: r.PriceScale, SizeScale: r.SizeScale,
		TickSize: opt(r.TickSize), LotSize: opt(r.LotSize), Status: string(r.Status),
		Seq: r.Seq, Epoch: r.Epoch, Bids: lv(r.Bids), Asks: lv(r.Asks),
		TradeID: string(r.TradeID), Price: string(r.Price), Size: string(r.Size), Side: side,
	}
}
