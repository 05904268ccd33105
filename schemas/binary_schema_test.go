package schemas

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/shopspring/decimal"
)

// The encoders against marketfeed.sbe.xml: the schema is read with
// encoding/xml, every block's offsets are computed from its types, and a
// decoder driven by the schema alone (no knowledge of the Go layout)
// reads every shared vector; what it reads, renamed to the JSON field
// names, must be the vector's JSON message.

type sbeSchema struct {
	ID        int          `xml:"id,attr"`
	Version   int          `xml:"version,attr"`
	ByteOrder string       `xml:"byteOrder,attr"`
	Types     sbeTypes     `xml:"types"`
	Messages  []sbeMessage `xml:"message"`
}

type sbeTypes struct {
	Types      []sbeType      `xml:"type"`
	Composites []sbeComposite `xml:"composite"`
	Enums      []sbeEnum      `xml:"enum"`
}

type sbeType struct {
	Name      string `xml:"name,attr"`
	Primitive string `xml:"primitiveType,attr"`
	Length    string `xml:"length,attr"`
	Presence  string `xml:"presence,attr"`
	NullValue string `xml:"nullValue,attr"`
}

type sbeComposite struct {
	Name  string    `xml:"name,attr"`
	Types []sbeType `xml:"type"`
}

type sbeEnum struct {
	Name     string `xml:"name,attr"`
	Encoding string `xml:"encodingType,attr"`
	Values   []struct {
		Name  string `xml:"name,attr"`
		Value string `xml:",chardata"`
	} `xml:"validValue"`
}

type sbeField struct {
	Name   string `xml:"name,attr"`
	Type   string `xml:"type,attr"`
	Offset int    `xml:"offset,attr"`
}

type sbeGroup struct {
	Name        string     `xml:"name,attr"`
	Dimension   string     `xml:"dimensionType,attr"`
	BlockLength int        `xml:"blockLength,attr"`
	Fields      []sbeField `xml:"field"`
	Data        []sbeField `xml:"data"`
}

type sbeMessage struct {
	Name        string     `xml:"name,attr"`
	ID          uint16     `xml:"id,attr"`
	BlockLength int        `xml:"blockLength,attr"`
	Fields      []sbeField `xml:"field"`
	Groups      []sbeGroup `xml:"group"`
	Data        []sbeField `xml:"data"`
}

var sbePrimitiveSize = map[string]int{"uint8": 1, "int8": 1, "char": 1, "uint16": 2, "int16": 2,
	"uint32": 4, "int32": 4, "uint64": 8, "int64": 8}

func loadSBE(t *testing.T) *sbeSchema {
	t.Helper()
	raw, err := os.ReadFile("marketfeed.sbe.xml")
	if err != nil {
		t.Fatal(err)
	}
	var s sbeSchema
	if err := xml.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func (s *sbeSchema) composite(name string) *sbeComposite {
	for i := range s.Types.Composites {
		if s.Types.Composites[i].Name == name {
			return &s.Types.Composites[i]
		}
	}
	return nil
}

// size returns the encoded size of the named type (primitive, type,
// composite or enum).
func (s *sbeSchema) size(t *testing.T, name string) int {
	if n, ok := sbePrimitiveSize[name]; ok {
		return n
	}
	for _, ty := range s.Types.Types {
		if ty.Name == name {
			return sbePrimitiveSize[ty.Primitive]
		}
	}
	if c := s.composite(name); c != nil {
		n := 0
		for _, ty := range c.Types {
			if ty.Length == "0" {
				continue
			}
			n += sbePrimitiveSize[ty.Primitive]
		}
		return n
	}
	for _, e := range s.Types.Enums {
		if e.Name == name {
			return sbePrimitiveSize[e.Encoding]
		}
	}
	t.Fatalf("unknown type %q", name)
	return 0
}

// checkBlock checks that fields follow one another without gap or
// overlap and fill blockLength.
func (s *sbeSchema) checkBlock(t *testing.T, where string, fields []sbeField, blockLength int) {
	off := 0
	for _, f := range fields {
		if f.Offset != off {
			t.Errorf("%s.%s at offset %d, the types before it end at %d", where, f.Name, f.Offset, off)
		}
		off = f.Offset + s.size(t, f.Type)
	}
	if off != blockLength {
		t.Errorf("%s: fields end at %d, blockLength is %d", where, off, blockLength)
	}
}

func TestBinarySchemaLayout(t *testing.T) {
	s := loadSBE(t)
	if s.ID != BinarySchemaID || s.Version != BinarySchemaVersion || s.ByteOrder != "littleEndian" {
		t.Errorf("schema id %d version %d %s, the encoders write %d, %d, little-endian", s.ID, s.Version, s.ByteOrder, BinarySchemaID, BinarySchemaVersion)
	}
	if n := s.size(t, "messageHeader"); n != binHeaderSize {
		t.Errorf("messageHeader is %d bytes, the encoders write %d", n, binHeaderSize)
	}
	if n := s.size(t, "groupSizeEncoding"); n != binGroupSize {
		t.Errorf("groupSizeEncoding is %d bytes, the encoders write %d", n, binGroupSize)
	}
	want := map[uint16]int{TemplateSnapshot: binSnapshotRoot, TemplateUpdate: binUpdateRoot, TemplateStatus: binStatusRoot,
		TemplateBBO: binBBORoot, TemplateTicker: binTickerRoot, TemplateTickers: binTickersRoot, TemplateTrades: binTradesRoot,
		TemplateCandles: binCandlesRoot}
	for _, m := range s.Messages {
		if bl, ok := want[m.ID]; !ok || bl != m.BlockLength {
			t.Errorf("%s (id %d): blockLength %d, the encoders write %d", m.Name, m.ID, m.BlockLength, bl)
		}
		delete(want, m.ID)
		s.checkBlock(t, m.Name, m.Fields, m.BlockLength)
		for _, g := range m.Groups {
			s.checkBlock(t, m.Name+"."+g.Name, g.Fields, g.BlockLength)
		}
	}
	for id := range want {
		t.Errorf("template %d is not in the schema", id)
	}
}

// sbeReader reads values at offsets, as the schema says.
type sbeReader struct {
	s *sbeSchema
	p []byte
}

// value reads the field of type name at off: an integer (*big.Int), nil
// for a null, or an enum's value name.
func (r *sbeReader) value(t *testing.T, name string, off int) any {
	if c := r.s.composite(name); c != nil { // Int128: lo, then hi
		lo := new(big.Int).SetUint64(le.Uint64(r.p[off:]))
		hiType := c.Types[1]
		hi := int64(le.Uint64(r.p[off+8:]))
		if hiType.Presence == "optional" && strconv.FormatInt(hi, 10) == hiType.NullValue {
			return nil
		}
		v := new(big.Int).Lsh(big.NewInt(hi), 64)
		return v.Or(v, lo)
	}
	for _, e := range r.s.Types.Enums {
		if e.Name == name {
			for _, v := range e.Values {
				if v.Value == strconv.Itoa(int(r.p[off])) {
					return v.Name
				}
			}
			t.Fatalf("enum %s: no value %d", name, r.p[off])
		}
	}
	prim, null := name, ""
	for _, ty := range r.s.Types.Types {
		if ty.Name == name {
			prim = ty.Primitive
			if ty.Presence == "optional" {
				null = ty.NullValue
			}
		}
	}
	var v *big.Int
	switch prim {
	case "uint8":
		v = big.NewInt(int64(r.p[off]))
	case "uint16":
		v = big.NewInt(int64(le.Uint16(r.p[off:])))
	case "uint32":
		v = big.NewInt(int64(le.Uint32(r.p[off:])))
	case "uint64":
		v = new(big.Int).SetUint64(le.Uint64(r.p[off:]))
	case "int64":
		v = big.NewInt(int64(le.Uint64(r.p[off:])))
	default:
		t.Fatalf("type %s: primitive %q", name, prim)
	}
	if null != "" && v.String() == null {
		return nil
	}
	return v
}

// block reads fields at base into a map by field name.
func (r *sbeReader) block(t *testing.T, fields []sbeField, base int) map[string]any {
	out := map[string]any{}
	for _, f := range fields {
		out[f.Name] = r.value(t, f.Type, base+f.Offset)
	}
	return out
}

// str reads a varStringEncoding at *off.
func (r *sbeReader) str(off *int) string {
	n := int(le.Uint16(r.p[*off:]))
	v := string(r.p[*off+2 : *off+2+n])
	*off += 2 + n
	return v
}

// sbeDecode decodes p by the schema alone: the root fields, each group's
// entries (fields and data), then the data, by name.
func sbeDecode(t *testing.T, s *sbeSchema, p []byte) (string, map[string]any) {
	r := &sbeReader{s: s, p: p}
	bl, id := int(le.Uint16(p)), le.Uint16(p[2:])
	var m *sbeMessage
	for i := range s.Messages {
		if s.Messages[i].ID == id {
			m = &s.Messages[i]
		}
	}
	if m == nil {
		t.Fatalf("template %d not in the schema", id)
	}
	out := r.block(t, m.Fields, 8)
	off := 8 + bl
	for _, g := range m.Groups {
		gbl, n := int(le.Uint16(p[off:])), int(le.Uint32(p[off+2:]))
		off += 6
		entries := []map[string]any{}
		for range n {
			e := r.block(t, g.Fields, off)
			off += gbl
			for _, d := range g.Data {
				e[d.Name] = r.str(&off)
			}
			entries = append(entries, e)
		}
		out[g.Name] = entries
	}
	for _, d := range m.Data {
		out[d.Name] = r.str(&off)
	}
	if off != len(p) {
		t.Errorf("%s: the schema accounts for %d bytes of %d", m.Name, off, len(p))
	}
	return m.Name, out
}

// sbeJSON turns what sbeDecode read into the JSON message: field names in
// snake case, mantissas as decimal strings at their scales (binary.md),
// nulls, a served state, no reason and no snapshot left out, booleans
// and resolutions by their JSON names.
func sbeJSON(name string, v map[string]any) map[string]any {
	types := map[string]string{"BookSnapshot": TypeSnapshot, "BookUpdate": TypeUpdate, "BookStatus": TypeStatus,
		"BBO": TypeBBO, "Ticker": TypeTicker, "Tickers": TypeTickers, "Trades": TypeTrades, "Candles": TypeCandles}
	return sbeObject(types[name], v, 0, 0)
}

func sbeObject(typ string, v map[string]any, ps, ss int) map[string]any {
	out := map[string]any{}
	if typ != "" {
		out["type"] = typ
	}
	if p, ok := v["priceScale"].(*big.Int); ok {
		ps, ss = int(p.Int64()), int(v["sizeScale"].(*big.Int).Int64())
	}
	scale := map[string]int{"bid": ps, "ask": ps, "last": ps, "open": ps, "high": ps, "low": ps, "close": ps, "price": ps, "vwap": ps,
		"change": ps, "bidSize": ss, "askSize": ss, "lastSize": ss, "size": ss, "volume": ss, "quoteVolume": ps + ss, "changePct": 2}
	for k, x := range v {
		key := snake(k)
		switch x := x.(type) {
		case nil:
		case string:
			switch {
			case (k == "status" && x == "served") || (k == "reason" && x == "none") || (k == "snapshot" && x == "F"):
				continue
			case k == "snapshot" || k == "final": // BooleanType
				out[key] = x == "T"
			case k == "resolution": // m1 is "1m"
				out[key] = x[1:] + x[:1]
			default:
				out[key] = x
			}
		case *big.Int:
			if k == "priceScale" || k == "sizeScale" {
				continue
			}
			if sc, ok := scale[k]; ok {
				out[key] = decimal.NewFromBigInt(x, -int32(sc)).StringFixed(int32(sc))
			} else {
				out[key] = json.Number(x.String())
			}
		case []map[string]any:
			list := []any{}
			for _, e := range x {
				switch k {
				case "bids", "asks":
					list = append(list, []any{fixedpoint.Format(e["price"].(*big.Int).Int64(), ps), fixedpoint.Format(e["size"].(*big.Int).Int64(), ss)})
				case "tickers":
					list = append(list, sbeObject(TypeTicker, e, 0, 0))
				default:
					list = append(list, sbeObject("", e, ps, ss))
				}
			}
			out[key] = list
		}
	}
	return out
}

// snake turns a schema field name into its JSON name (bidSize → bid_size).
func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestBinaryVectorsAgainstSchema(t *testing.T) {
	s := loadSBE(t)
	for _, c := range binaryCases() {
		name, v := sbeDecode(t, s, c.bin)
		got := sbeJSON(name, v)
		var want map[string]any
		d := json.NewDecoder(bytes.NewReader(c.json))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Errorf("%s: read by the schema\n%v\nthe JSON message\n%v", c.name, got, want)
		}
	}
}

// normalize makes a decoded value comparable: every number and string as
// its text.
func normalize(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			out[k] = normalize(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = normalize(x)
		}
		return out
	default:
		return fmt.Sprint(v)
	}
}
