package schemas

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

func mustDecode(t *testing.T, s string) *Record {
	t.Helper()
	var r Record
	if err := DecodeRecord([]byte(s), &r); err != nil {
		t.Fatalf("DecodeRecord(%s): %v", s, err)
	}
	return &r
}

func TestDecodeRecordInstrument(t *testing.T) {
	r := mustDecode(t, `{"type":"instrument","symbol":"BTC-USD","ts":1767225600000000,"base":"BTC","quote":"USD",`+
		`"price_scale":2,"size_scale":8,"tick_size":"0.01","lot_size":"0.00000001","status":"halted"}`)
	if r.Type != RecordInstrument || string(r.Symbol) != "BTC-USD" || r.TS != 1767225600000000 ||
		string(r.Base) != "BTC" || string(r.Quote) != "USD" || r.PriceScale != 2 || r.SizeScale != 8 ||
		string(r.TickSize) != "0.01" || string(r.LotSize) != "0.00000001" || string(r.Status) != "halted" {
		t.Errorf("decoded %+v", r)
	}
	r = mustDecode(t, `{"type":"instrument","symbol":"X","ts":0,"price_scale":0,"size_scale":18}`)
	if r.Base != nil || r.Quote != nil || r.TickSize != nil || r.LotSize != nil || string(r.Status) != "trading" {
		t.Errorf("absent optional fields decoded as %+v", r)
	}
}

func TestDecodeRecordBook(t *testing.T) {
	r := mustDecode(t, `{"type":"snapshot","symbol":"BTC-USD","ts":5,"seq":1042,`+
		`"bids":[["64123.10","0.5"],["64123.00","1.25"]],"asks":[["64123.20","0.3"]],"price":"9"}`)
	want := []Level{{[]byte("64123.10"), []byte("0.5")}, {[]byte("64123.00"), []byte("1.25")}}
	if r.Type != RecordSnapshot || r.Seq != 1042 || len(r.Bids) != 2 || len(r.Asks) != 1 {
		t.Fatalf("decoded %+v", r)
	}
	for i, lv := range want {
		if string(r.Bids[i].Price) != string(lv.Price) || string(r.Bids[i].Size) != string(lv.Size) {
			t.Errorf("bid %d = %s/%s, want %s/%s", i, r.Bids[i].Price, r.Bids[i].Size, lv.Price, lv.Size)
		}
	}
	if r.Price != nil {
		t.Errorf("a field of another type leaked into the record: price %q", r.Price)
	}
	r = mustDecode(t, `{"type":"delta","symbol":"A","ts":1,"seq":18446744073709551615,"asks":[["1","0"],["1","2"]]}`)
	if r.Type != RecordDelta || r.Seq != 1<<64-1 || len(r.Bids) != 0 || len(r.Asks) != 2 {
		t.Errorf("decoded %+v", r)
	}
}

// epoch is optional on snapshots and deltas (0 when absent), at most
// 2^53−1, and an unknown field of other types.
func TestDecodeRecordEpoch(t *testing.T) {
	r := mustDecode(t, `{"type":"snapshot","symbol":"A","ts":1,"epoch":9007199254740991,"seq":3,"bids":[],"asks":[]}`)
	if r.Epoch != 1<<53-1 || r.Seq != 3 {
		t.Errorf("decoded epoch %d seq %d", r.Epoch, r.Seq)
	}
	if r = mustDecode(t, `{"type":"delta","symbol":"A","ts":1,"seq":4,"bids":[["1","1"]]}`); r.Epoch != 0 {
		t.Errorf("absent epoch decoded as %d", r.Epoch)
	}
	if r = mustDecode(t, `{"type":"trade","symbol":"A","ts":1,"epoch":-1,"trade_id":"1","price":"1","size":"1","side":"buy"}`); r.Epoch != 0 {
		t.Errorf("trade epoch decoded as %d", r.Epoch)
	}
	var rec Record
	for _, in := range []string{
		`{"type":"delta","symbol":"A","ts":1,"epoch":9007199254740992,"seq":4,"bids":[["1","1"]]}`,
		`{"type":"snapshot","symbol":"A","ts":1,"epoch":"7","seq":4,"bids":[],"asks":[]}`,
		`{"type":"snapshot","symbol":"A","ts":1,"epoch":1.5,"seq":4,"bids":[],"asks":[]}`,
	} {
		var de *DecodeError
		if err := DecodeRecord([]byte(in), &rec); !errors.As(err, &de) || de.Reason != ReasonInvalidField || de.Field != "epoch" {
			t.Errorf("%s: %v, want invalid_field epoch", in, err)
		}
	}
	enc := AppendRecord(nil, mustDecode(t, `{"type":"delta","symbol":"A","ts":1,"epoch":77,"seq":4,"bids":[["1","1"]]}`))
	if !strings.Contains(string(enc), `"epoch":77`) {
		t.Errorf("AppendRecord lost the epoch: %s", enc)
	}
}

func TestDecodeRecordTrade(t *testing.T) {
	r := mustDecode(t, `{"type":"trade","symbol":"ETH-USD","ts":9223372036854775807,"trade_id":"t\"1\u00e9",`+
		`"price":"-3.5","size":"0.001","side":"sell","seq":"ignored"}`)
	if r.Type != RecordTrade || r.TS != 1<<63-1 || string(r.TradeID) != "t\"1é" || string(r.Price) != "-3.5" ||
		string(r.Size) != "0.001" || r.Side != SideSell || r.Seq != 0 {
		t.Errorf("decoded %+v", r)
	}
}

func TestDecodeRecordErrors(t *testing.T) {
	const trade = `"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy"`
	const snap = `"type":"snapshot","symbol":"A","ts":1,"seq":1`
	tests := []struct {
		in     string
		reason Reason
		field  string
	}{
		{``, ReasonInvalidJSON, ""},
		{`[]`, ReasonInvalidJSON, ""},
		{`{` + trade + `}{}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":[1,]}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":"\u12G4"}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":01}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":1.}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":nul}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":"` + "\xc3\x28" + `"}`, ReasonInvalidJSON, ""},
		{`{` + trade + `,"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, ReasonInvalidJSON, ""},
		{`{"symbol":"A"}`, ReasonMissingField, "type"},
		{`{"type":["trade"]}`, ReasonInvalidField, "type"},
		{`{"type":"Trade","symbol":"A","ts":1}`, ReasonUnknownType, "type"},
		{`{"type":"trade","ts":1}`, ReasonMissingField, "symbol"},
		{`{"type":"trade","symbol":"","ts":1}`, ReasonInvalidField, "symbol"},
		{`{"type":"trade","symbol":"A"}`, ReasonMissingField, "ts"},
		{`{"type":"trade","symbol":"A","ts":-1}`, ReasonInvalidField, "ts"},
		{`{"type":"trade","symbol":"A","ts":"1"}`, ReasonInvalidField, "ts"},
		{`{"type":"instrument","symbol":"A","ts":1,"size_scale":1}`, ReasonMissingField, "price_scale"},
		{`{"type":"instrument","symbol":"A","ts":1,"price_scale":1,"size_scale":1,"lot_size":"1e-8"}`, ReasonBadDecimal, "lot_size"},
		{`{"type":"instrument","symbol":"A","ts":1,"price_scale":1,"size_scale":1,"lot_size":"0.0"}`, ReasonInvalidField, "lot_size"},
		{`{"type":"instrument","symbol":"A","ts":1,"price_scale":1,"size_scale":1,"status":"open"}`, ReasonInvalidField, "status"},
		{`{` + snap + `,"asks":[]}`, ReasonMissingField, "bids"},
		{`{` + snap + `,"bids":[["1","1"]],"asks":[["2","1"],["3"]]}`, ReasonInvalidField, "asks"},
		// A repeated price is left to the consumer (duplicate_level); the
		// level after it is still checked.
		{`{` + snap + `,"bids":[["1","1"],["1.000","2"],["1.5","-1"]],"asks":[]}`, ReasonNegativeSize, "bids"},
		{`{` + snap + `,"bids":[["1","1"],["+2","2"]],"asks":[]}`, ReasonBadDecimal, "bids"},
		{`{` + snap + `,"bids":null,"asks":[]}`, ReasonInvalidField, "bids"},
		{`{"type":"delta","symbol":"A","ts":1,"bids":[["1","1"]]}`, ReasonMissingField, "seq"},
		{`{"type":"delta","symbol":"A","ts":1,"seq":1}`, ReasonInvalidField, "bids"},
		{`{"type":"delta","symbol":"A","ts":1,"seq":1,"asks":[["1","-0.0"]]}`, ReasonNegativeSize, "asks"},
		{`{"type":"trade","symbol":"A","ts":1,"price":"1","size":"1","side":"buy"}`, ReasonMissingField, "trade_id"},
		{`{` + trade + `,"trade_id":7}`, ReasonInvalidField, "trade_id"},
		{`{` + trade + `,"price":"1,5"}`, ReasonBadDecimal, "price"},
		{`{` + trade + `,"size":"-1"}`, ReasonNegativeSize, "size"},
		{`{` + trade + `,"size":"0"}`, ReasonInvalidField, "size"},
		{`{` + trade + `,"side":"BUY"}`, ReasonInvalidField, "side"},
	}
	for _, tt := range tests {
		var r Record
		err := DecodeRecord([]byte(tt.in), &r)
		var de *DecodeError
		if !errors.As(err, &de) || de.Reason != tt.reason || de.Field != tt.field {
			t.Errorf("DecodeRecord(%s) = %v, want %s %q", tt.in, err, tt.reason, tt.field)
			continue
		}
		// The reference decoder agrees with every table entry.
		if _, rerr := refDecode([]byte(tt.in)); rerr == nil || rerr.Reason != tt.reason || rerr.Field != tt.field {
			t.Errorf("reference(%s) = %+v, want %s %q", tt.in, rerr, tt.reason, tt.field)
		}
	}
	// Depth 64 (the record and 63 arrays) is the limit; one more level
	// is rejected in the table above.
	ok := `{` + trade + `,"x":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`
	if err := DecodeRecord([]byte(ok), new(Record)); err != nil {
		t.Errorf("nesting of 64: %v", err)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	long := strings.Repeat("9", 500)
	var r Record
	err := DecodeRecord([]byte(`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"`+long+`"}`), &r)
	msg := err.Error()
	if !strings.HasPrefix(msg, `schemas: invalid_field "side": `) {
		t.Errorf("message %q lacks the reason and field", msg)
	}
	if strings.Count(msg, "9") > maxQuote {
		t.Errorf("message quotes %d bytes of input: %q", strings.Count(msg, "9"), msg)
	}
	err = DecodeRecord([]byte(`{"type":"trade"`+long), &r)
	if msg := err.Error(); !strings.HasPrefix(msg, "schemas: invalid_json: ") || len(msg) > 120 {
		t.Errorf("syntax error message %q", msg)
	}
}

// within reports whether b points into buf.
func within(b, buf []byte) bool {
	if len(b) == 0 || len(buf) == 0 {
		return false
	}
	p, start := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return p >= start && p < start+uintptr(len(buf))
}

func TestDecodeRecordAliasing(t *testing.T) {
	in := []byte(`{"type":"trade","symbol":"A","ts":1,"trade_id":"x\ty","price":"1","size":"2","side":"buy"}`)
	in = []byte(strings.Replace(string(in), "\t", `\t`, 1))
	var r Record
	if err := DecodeRecord(in, &r); err != nil {
		t.Fatal(err)
	}
	if !within(r.Symbol, in) || !within(r.Price, in) || !within(r.Size, in) {
		t.Error("strings without escapes do not alias the input")
	}
	if within(r.TradeID, in) || string(r.TradeID) != "x\ty" {
		t.Errorf("escaped trade_id %q aliases the input", r.TradeID)
	}
}

func TestDecodeRecordReuseDoesNotAllocate(t *testing.T) {
	inputs := [][]byte{
		benchDelta,
		benchSnapshot,
		[]byte(`{"type":"instrument","symbol":"A\u002dB","ts":1,"base":"\u00e9","price_scale":2,"size_scale":8,"x":{"y":[1,2.5e3,true,null]}}`),
	}
	var r Record
	for _, in := range inputs {
		if err := DecodeRecord(in, &r); err != nil {
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(20, func() { _ = DecodeRecord(in, &r) }); n != 0 {
			t.Errorf("DecodeRecord(%.40s...) allocates %.1f times per call with a reused Record", in, n)
		}
	}
}

func TestStringers(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{RecordInvalid.String(), "invalid"}, {RecordInstrument.String(), "instrument"},
		{RecordSnapshot.String(), "snapshot"}, {RecordDelta.String(), "delta"}, {RecordTrade.String(), "trade"},
		{RecordType(99).String(), "invalid"},
		{SideNone.String(), "none"}, {SideBuy.String(), "buy"}, {SideSell.String(), "sell"}, {Side(9).String(), "none"},
		{ChannelBook.String(), "book"}, {ChannelTicker.String(), "ticker"}, {ChannelTrades.String(), "trades"}, {ChannelBBO.String(), "bbo"},
		{ChannelKind(0).String(), ""},
		{OpSubscribe.String(), "subscribe"}, {OpUnsubscribe.String(), "unsubscribe"}, {OpPing.String(), "ping"},
		{OpList.String(), "list"}, {Op(0).String(), ""},
	} {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

// TestDecodeLeavesDuplicatePrices: a snapshot side repeating a price
// decodes, levels as sent; the consumer, which knows the instrument's
// scale, rejects it as duplicate_level (kafka.md section 5).
func TestDecodeLeavesDuplicatePrices(t *testing.T) {
	var r Record
	in := `{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[],"asks":[["64123.20","1"],["64123.2","2"]]}`
	if err := DecodeRecord([]byte(in), &r); err != nil {
		t.Fatalf("DecodeRecord = %v", err)
	}
	if len(r.Asks) != 2 || string(r.Asks[0].Price) != "64123.20" || string(r.Asks[1].Price) != "64123.2" {
		t.Fatalf("asks %+v", r.Asks)
	}
}
