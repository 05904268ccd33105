package schemas

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// randomRecord builds a valid record of a random type. Strings that
// DecodeRecord passes through unchanged (trade_id, base, quote) get
// characters that need escaping.
func randomRecord(rng *rand.Rand) *Record {
	str := func(n int) []byte {
		alphabet := []string{"a", "Z", "9", `"`, `\`, "\n", "\x01", "é", "😀", "/", " "}
		var b strings.Builder
		for range n {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return []byte(b.String())
	}
	dec := func(neg bool, positive bool) []byte {
		s := strconv.FormatUint(rng.Uint64N(1_000_000), 10)
		if rng.IntN(2) == 0 {
			s += "." + strconv.Itoa(rng.IntN(1000))
		}
		if positive {
			s = "1" + s
		}
		if neg && rng.IntN(2) == 0 {
			s = "-" + s
		}
		return []byte(s)
	}
	r := &Record{Type: RecordType(1 + rng.IntN(4)), Symbol: []byte("S-" + strconv.Itoa(rng.IntN(1000))), TS: rng.Int64()}
	switch r.Type {
	case RecordInstrument:
		r.PriceScale, r.SizeScale = rng.IntN(19), rng.IntN(19)
		if rng.IntN(2) == 0 {
			r.Base, r.Quote = str(rng.IntN(6)), str(rng.IntN(6))
		}
		if rng.IntN(2) == 0 {
			r.TickSize = []byte("1")
			r.LotSize = []byte("2.0")
		}
		r.Status = []byte([]string{"trading", "halted", "closed"}[rng.IntN(3)])
	case RecordSnapshot, RecordDelta:
		r.Seq = rng.Uint64()
		for i := range 1 + rng.IntN(30) {
			// Distinct prices: the index is part of the integer digits.
			lv := Level{Price: []byte(strconv.Itoa(i) + "0" + strconv.Itoa(rng.IntN(10))), Size: dec(false, r.Type == RecordSnapshot)}
			if rng.IntN(2) == 0 {
				r.Bids = append(r.Bids, lv)
			} else {
				r.Asks = append(r.Asks, lv)
			}
		}
	case RecordTrade:
		r.TradeID = append([]byte("t"), str(rng.IntN(8))...)
		r.Price, r.Size = dec(true, false), dec(false, true)
		r.Side = Side(1 + rng.IntN(2))
	}
	return r
}

func TestAppendRecordRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var got Record
	for range 2000 {
		r := randomRecord(rng)
		enc := AppendRecord(nil, r)
		if !json.Valid(enc) {
			t.Fatalf("AppendRecord wrote invalid JSON %q", enc)
		}
		if err := DecodeRecord(enc, &got); err != nil {
			t.Fatalf("DecodeRecord(%s): %v", enc, err)
		}
		if a, b := toRef(&got), toRef(r); !refEqual(a, b) {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", enc, a, b)
		}
		if err := validate(t, KafkaRecordSchema, enc); err != nil {
			t.Fatalf("AppendRecord output %s fails the schema: %v", enc, err)
		}
	}
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	inputs := []string{"", "plain", `q"b\s/`, "\x00\x1f\x7f", "tab\tnl\ncr\r", "é😀", "bad\xffutf8\xc3", "\u2028"}
	for _, in := range inputs {
		enc := appendJSONString(nil, []byte(in))
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Errorf("appendJSONString(%q) = %s: %v", in, enc, err)
			continue
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD the same way.
		want, _ := json.Marshal(in)
		var wantStr string
		if err := json.Unmarshal(want, &wantStr); err != nil {
			t.Fatal(err)
		}
		if got != wantStr {
			t.Errorf("appendJSONString(%q) decodes to %q, want %q", in, got, wantStr)
		}
	}
}

// TestAppendRecordGolden re-encodes the valid examples of kafka.md that are
// already in canonical form (every field of the type present, in order;
// the decoder fills in an absent status):
// decoding and encoding them gives back the same bytes.
func TestAppendRecordGolden(t *testing.T) {
	for _, ex := range []string{
		`{"type":"instrument","symbol":"BTC-USD","ts":1767225600000000,"base":"BTC","quote":"USD","price_scale":2,"size_scale":8,"tick_size":"0.01","lot_size":"0.00000001","status":"trading"}`,
		`{"type":"snapshot","symbol":"BTC-USD","ts":1767225600100000,"seq":1042,"bids":[["64123.10","0.50000000"],["64123.00","1.25"]],"asks":[["64123.20","0.3"]]}`,
		`{"type":"snapshot","symbol":"ETH-USD","ts":1767225600100000,"seq":0,"bids":[],"asks":[]}`,
		`{"type":"snapshot","symbol":"BTC-USD","ts":1767225900000000,"epoch":1767225895000000,"seq":1,"bids":[["64123.00","1.25"]],"asks":[["64123.20","0.25"]]}`,
		`{"type":"delta","symbol":"BTC-USD","ts":1767225600200000,"seq":1043,"bids":[["64123.10","0"]],"asks":[["64123.30","2.0"]]}`,
		`{"type":"trade","symbol":"BTC-USD","ts":1767225600250000,"trade_id":"987654","price":"64123.10","size":"0.015","side":"buy"}`,
	} {
		var r Record
		if err := DecodeRecord([]byte(ex), &r); err != nil {
			t.Fatalf("%s: %v", ex, err)
		}
		if got := AppendRecord(nil, &r); string(got) != ex {
			t.Errorf("re-encoded\n got %s\nwant %s", got, ex)
		}
	}
	r := Record{Type: RecordTrade, Symbol: []byte("X"), TS: 1, TradeID: []byte("a\"\\\n\x01é\xff"),
		Price: []byte("1"), Size: []byte("2"), Side: SideSell}
	want := `{"type":"trade","symbol":"X","ts":1,"trade_id":"a\"\\\u000a\u0001é\ufffd","price":"1","size":"2","side":"sell"}`
	if got := AppendRecord(nil, &r); string(got) != want {
		t.Errorf("escaping:\n got %s\nwant %s", got, want)
	}
}
