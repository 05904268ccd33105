package schemas

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/shopspring/decimal"
)

// ErrBinaryTemplate reports a binary message of a template this decoder
// does not know (a later version's message type): clients skip it, as
// they skip JSON messages of an unknown type.
var ErrBinaryTemplate = errors.New("schemas: unknown binary template")

// BinaryError reports a malformed binary message.
type BinaryError struct {
	// Offset is where in the message the problem was found.
	Offset int
	// Detail says what is wrong.
	Detail string
}

func (e *BinaryError) Error() string {
	return fmt.Sprintf("schemas: malformed binary message at byte %d: %s", e.Offset, e.Detail)
}

// binReader reads a binary message front to back; the first problem
// sticks and makes every later read return zero.
type binReader struct {
	p   []byte
	off int
	err *BinaryError
}

func (r *binReader) fail(detail string) {
	if r.err == nil {
		r.err = &BinaryError{Offset: r.off, Detail: detail}
	}
}

// take returns the next n bytes, or nil (and fails) past the end.
func (r *binReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.p)-r.off {
		r.fail("truncated")
		return nil
	}
	b := r.p[r.off : r.off+n]
	r.off += n
	return b
}

func (r *binReader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *binReader) u16() uint16 {
	if b := r.take(2); b != nil {
		return le.Uint16(b)
	}
	return 0
}

func (r *binReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return le.Uint32(b)
	}
	return 0
}

func (r *binReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return le.Uint64(b)
	}
	return 0
}

func (r *binReader) i64() int64 { return int64(r.u64()) }

// enter starts a block of blockLength bytes of which the decoder knows
// the first known; leave(end) skips the rest (fields of a later version).
func (r *binReader) enter(blockLength, known int) (end int) {
	if r.err == nil && blockLength < known {
		r.fail("block length " + strconv.Itoa(blockLength) + " shorter than " + strconv.Itoa(known))
	}
	if r.err == nil && blockLength > len(r.p)-r.off {
		r.fail("truncated")
	}
	return r.off + blockLength
}

func (r *binReader) leave(end int) {
	if r.err == nil {
		r.off = end
	}
}

// str reads a varString.
func (r *binReader) str() string {
	n := int(r.u16())
	return string(r.take(n))
}

// group reads a group's dimension: the entries' block length (at least
// known) and their number, which must fit in what is left.
func (r *binReader) group(known int) (blockLength, n int) {
	blockLength, n = int(r.u16()), int(r.u32())
	if r.err == nil && blockLength < known {
		r.fail("group block length " + strconv.Itoa(blockLength) + " shorter than " + strconv.Itoa(known))
	}
	if r.err == nil && n > (len(r.p)-r.off)/blockLength {
		r.fail("group of " + strconv.Itoa(n) + " entries longer than the message")
	}
	if r.err != nil {
		return 0, 0
	}
	return blockLength, n
}

// scales reads the priceScale and sizeScale fields.
func (r *binReader) scales() Scales {
	sc := Scales{Price: int(r.u8()), Size: int(r.u8())}
	if sc.Price > fixedpoint.MaxScale || sc.Size > fixedpoint.MaxScale {
		r.fail("scale above " + strconv.Itoa(fixedpoint.MaxScale))
		return Scales{}
	}
	return sc
}

// BinaryTemplateOf returns the templateId of binary message p, or an
// error when p is not a message of this schema (too short for a header,
// another schemaId, a version before BinarySchemaVersion).
func BinaryTemplateOf(p []byte) (uint16, error) {
	r := binReader{p: p}
	_, tpl := r.header()
	if r.err != nil {
		return 0, r.err
	}
	return tpl, nil
}

// header reads the message header: the root block's length and the
// template.
func (r *binReader) header() (blockLength int, template uint16) {
	blockLength, template = int(r.u16()), r.u16()
	schema, version := r.u16(), r.u16()
	switch {
	case r.err != nil:
	case schema != BinarySchemaID:
		r.fail("schemaId " + strconv.Itoa(int(schema)) + ", not " + strconv.Itoa(BinarySchemaID))
	case version < BinarySchemaVersion:
		r.fail("version " + strconv.Itoa(int(version)) + " before " + strconv.Itoa(BinarySchemaVersion))
	}
	return blockLength, template
}

// DecodeBinary decodes binary message p (binary.md) into m, which is reset
// first: m is then what decoding the JSON twin of the message gives
// (prices and sizes as decimal strings at the message's scales). A
// message of an unknown template is ErrBinaryTemplate, a malformed one a
// *BinaryError; fields and templates of later versions are skipped.
func DecodeBinary(p []byte, m *ServerMessage) error {
	*m = ServerMessage{}
	r := binReader{p: p}
	blockLength, tpl := r.header()
	if r.err != nil {
		return r.err
	}
	switch tpl {
	case TemplateSnapshot, TemplateUpdate:
		r.book(m, blockLength, tpl == TemplateUpdate)
	case TemplateStatus:
		end := r.enter(blockLength, binStatusRoot)
		m.Type = TypeStatus
		m.Status, m.Reason = r.state()
		r.leave(end)
		if r.err == nil && m.Status == "" {
			r.fail("status of a served book")
		}
	case TemplateBBO:
		r.bbo(m, blockLength)
	case TemplateTicker:
		r.ticker(m, blockLength)
	case TemplateTickers:
		r.tickers(m, blockLength)
	case TemplateTrades:
		r.trades(m, blockLength)
	case TemplateCandles:
		r.candles(m, blockLength)
	default:
		return ErrBinaryTemplate
	}
	m.Channel = r.str()
	if r.err != nil {
		return r.err
	}
	return nil
}

// state reads the status and reason fields; an unknown status reads as
// stale, an unknown reason as "unknown".
func (r *binReader) state() (status, reason string) {
	s, rs := r.u8(), r.u8()
	switch {
	case int(s) < len(binStatus):
		status = binStatus[s]
	default:
		status = StatusStale
	}
	switch {
	case int(rs) < len(binReason):
		reason = binReason[rs]
	default:
		reason = "unknown"
	}
	return status, reason
}

func (r *binReader) book(m *ServerMessage, blockLength int, update bool) {
	m.Type = TypeSnapshot
	known := binSnapshotRoot
	if update {
		m.Type, known = TypeUpdate, binUpdateRoot
	}
	end := r.enter(blockLength, known)
	if update {
		m.FirstSeq = r.u64()
	}
	m.Seq, m.Epoch, m.TS = r.u64(), r.u64(), r.i64()
	ck := r.u32()
	m.Checksum = &ck
	sc := r.scales()
	r.leave(end)
	m.Bids = r.levels(sc)
	m.Asks = r.levels(sc)
}

// levels reads a group of price levels.
func (r *binReader) levels(sc Scales) [][2]string {
	bl, n := r.group(binLevelEntry)
	out := make([][2]string, n)
	for i := range out {
		end := r.off + bl
		out[i] = [2]string{fixedpoint.Format(r.i64(), sc.Price), fixedpoint.Format(r.i64(), sc.Size)}
		r.leave(end)
	}
	return out
}

// optLevel reads an optional price and size: both null, or neither.
func (r *binReader) optLevel(sc Scales) (price, size string) {
	p, s := r.i64(), r.i64()
	if (p == BinaryNullInt64) != (s == BinaryNullInt64) {
		r.fail("one of a price and its size is null")
	}
	if p == BinaryNullInt64 || r.err != nil {
		return "", ""
	}
	return fixedpoint.Format(p, sc.Price), fixedpoint.Format(s, sc.Size)
}

func (r *binReader) bbo(m *ServerMessage, blockLength int) {
	m.Type = TypeBBO
	end := r.enter(blockLength, binBBORoot)
	m.Seq, m.Epoch, m.TS = r.u64(), r.u64(), r.i64()
	start := r.off
	r.off += 32
	sc := r.scales()
	r.off = start
	m.Bid, m.BidSize = r.optLevel(sc)
	m.Ask, m.AskSize = r.optLevel(sc)
	r.leave(end)
}

func (r *binReader) ticker(m *ServerMessage, blockLength int) {
	m.Type = TypeTicker
	end := r.enter(blockLength, binTickerRoot)
	r.tickerBlock(m)
	r.leave(end)
}

// tickerBlock reads the fields of a ticker's root block (the block of a
// tickers entry too).
func (r *binReader) tickerBlock(m *ServerMessage) {
	if r.err != nil {
		return
	}
	start := r.off
	r.off = start + binTickerRoot - 2
	sc := r.scales()
	r.off = start
	m.TS = r.i64()
	m.Bid, m.BidSize = r.optLevel(sc)
	m.Ask, m.AskSize = r.optLevel(sc)
	m.Last, m.LastSize = r.optLevel(sc)
	m.Open, m.High, m.Low = r.optPrice(sc), r.optPrice(sc), r.optPrice(sc)
	if c := r.i64(); c != BinaryNullInt64 {
		m.Count = c
	}
	if w := r.i64(); w != BinaryNullInt64 {
		m.WindowStart = w
	}
	m.Volume = r.decimal128(sc.Size)
	m.QuoteVolume = r.decimal128(sc.Price + sc.Size)
	m.VWAP = r.decimal128(sc.Price)
	m.Change = r.decimal128(sc.Price)
	m.ChangePct = r.decimal128(2)
	m.Status, m.Reason = r.state()
	r.off += 2 // the scales, read first
}

// optPrice reads an optional price.
func (r *binReader) optPrice(sc Scales) string {
	if v := r.i64(); v != BinaryNullInt64 && r.err == nil {
		return fixedpoint.Format(v, sc.Price)
	}
	return ""
}

// decimal128 reads an optional Int128 mantissa and formats it at scale.
func (r *binReader) decimal128(scale int) string {
	lo, hi := r.u64(), r.i64()
	if r.err != nil || hi == BinaryNullInt64 {
		return ""
	}
	if hi == int64(lo)>>63 && scale <= fixedpoint.MaxScale {
		return fixedpoint.Format(int64(lo), scale)
	}
	var b, l big.Int
	b.SetInt64(hi)
	b.Lsh(&b, 64)
	b.Or(&b, l.SetUint64(lo))
	return decimal.NewFromBigInt(&b, -int32(scale)).StringFixed(int32(scale))
}

func (r *binReader) tickers(m *ServerMessage, blockLength int) {
	m.Type = TypeTickers
	end := r.enter(blockLength, binTickersRoot)
	m.TS = r.i64()
	r.leave(end)
	bl, n := r.group(binTickerRoot)
	m.Tickers = make([]ServerMessage, n)
	for i := range m.Tickers {
		t := &m.Tickers[i]
		t.Type = TypeTicker
		end := r.off + bl
		r.tickerBlock(t)
		r.leave(end)
		t.Channel = r.str()
	}
}

func (r *binReader) trades(m *ServerMessage, blockLength int) {
	m.Type = TypeTrades
	end := r.enter(blockLength, binTradesRoot)
	sc := r.scales()
	r.leave(end)
	bl, n := r.group(binTradeEntry)
	m.Trades = make([]TradeMessage, n)
	for i := range m.Trades {
		t := &m.Trades[i]
		end := r.off + bl
		t.TS = r.i64()
		t.Price = fixedpoint.Format(r.i64(), sc.Price)
		t.Size = fixedpoint.Format(r.i64(), sc.Size)
		side := Side(r.u8())
		if r.err == nil && side != SideBuy && side != SideSell {
			r.fail("trade side " + strconv.Itoa(int(side)))
		}
		t.Side = side.String()
		r.leave(end)
		t.ID = r.str()
	}
}

// boolean reads a BooleanType field: 0 false, 1 true.
func (r *binReader) boolean() bool {
	v := r.u8()
	if r.err == nil && v > 1 {
		r.fail("boolean " + strconv.Itoa(int(v)))
	}
	return v == 1
}

func (r *binReader) candles(m *ServerMessage, blockLength int) {
	m.Type = TypeCandles
	end := r.enter(blockLength, binCandlesRoot)
	if w := r.i64(); w != BinaryNullInt64 {
		m.WindowStart = w
	}
	res := Resolution(r.u8())
	if r.err == nil && res >= NumResolutions {
		r.fail("resolution " + strconv.Itoa(int(res)))
	}
	m.Resolution = res.String()
	m.Snapshot = r.boolean()
	sc := r.scales()
	r.leave(end)
	bl, n := r.group(binCandleEntry)
	m.Candles = make([]CandleMessage, n)
	for i := range m.Candles {
		c := &m.Candles[i]
		end := r.off + bl
		c.Start = r.i64()
		c.Open = fixedpoint.Format(r.i64(), sc.Price)
		c.High = fixedpoint.Format(r.i64(), sc.Price)
		c.Low = fixedpoint.Format(r.i64(), sc.Price)
		c.Close = fixedpoint.Format(r.i64(), sc.Price)
		c.Volume = r.sum128(sc.Size)
		c.QuoteVolume = r.sum128(sc.Price + sc.Size)
		c.Count = r.i64()
		c.Final = r.boolean()
		r.leave(end)
	}
}

// sum128 reads a candle's Int128 sum, never null, and formats it at
// scale.
func (r *binReader) sum128(scale int) string {
	if r.err == nil && len(r.p)-r.off >= 16 && int64(le.Uint64(r.p[r.off+8:])) == BinaryNullInt64 {
		r.fail("null candle sum")
	}
	return r.decimal128(scale)
}
