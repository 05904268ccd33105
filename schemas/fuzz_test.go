package schemas

import (
	"bytes"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func refEqual(a, b *refRecord) bool { return reflect.DeepEqual(a, b) }

// trickyRecords are seeds that exercise the scanner beyond the spec
// examples.
var trickyRecords = []string{
	``,
	` `,
	`null`,
	`[]`,
	`{}`,
	`{"type":"trade"}`,
	` {"type" : "trade" , "symbol" : "A" , "ts" : 0 , "trade_id" : "x" , "price" : "-1.5" , "size" : "2" , "side" : "sell" } `,
	"{\t\"type\":\"trade\",\r\n\"symbol\":\"A\",\"ts\":1,\"trade_id\":\"\\u00e9\\ud83d\\ude00\\n\",\"price\":\"1\",\"size\":\"1\",\"side\":\"buy\"}",
	`{"\u0074ype":"trade","symbol":"A\/B","ts":1,"trade_id":"\ud800x","price":"1","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"\udc00\ud800\u0041","price":"1","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy","side":"sell","type":"trade"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy","seq":"not a number","bids":{"x":[1,2,{"y":null}]}}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":18446744073709551615,"bids":[["1","0"],["1","2"]],"trade_id":5}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":18446744073709551616,"bids":[["1","0"]]}`,
	`{"type":"delta","symbol":"A","ts":9223372036854775808,"seq":1,"bids":[["1","0"]]}`,
	`{"type":"delta","symbol":"A","ts":-0,"seq":1,"bids":[["1","0"]]}`,
	`{"type":"delta","symbol":"A","ts":1e3,"seq":1,"bids":[["1","0"]]}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":1,"bids":[["1","0"],["x","-1"],[1]]}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":1,"bids":[["1","0"],[1],["x","-1"]]}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":1,"bids":[["1","0","2"]]}`,
	`{"type":"delta","symbol":"A","ts":1,"seq":1,"bids":[["1","0"]],"bids":[]}`,
	`{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[["1","1"],["2","0"],["x","1"]],"asks":[]}`,
	`{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[["01.10","1"],["1.1","1"]],"asks":[]}`,
	`{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[["-0","1"],["0.00","1"]],"asks":[]}`,
	`{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[],"asks":[["1","1"],["2","1"],["3","1"],["4","1"],["5","1"],["6","1"],["7","1"],["8","1"],["9","1"],["10","1"],["11","1"],["12","1"],["13","1"],["14","1"],["15","1"],["16","1"],["17","1"],["018.0","1"],["18","1"]]}`,
	`{"type":"snapshot","symbol":"A","ts":1,"seq":1,"bids":[],"asks":[["1","1"],["2","1"],["3","1"],["4","1"],["5","1"],["6","1"],["7","1"],["8","1"],["9","1"],["10","1"],["11","1"],["12","1"],["13","1"],["14","1"],["15","1"],["16","1"],["17","1"],["18","1"]]}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":18,"size_scale":0,"tick_size":"9.223372036854775807","lot_size":"1.0","base":"","status":"halted"}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":18,"size_scale":0,"tick_size":"9.223372036854775808"}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":2,"size_scale":0,"tick_size":"-0.01"}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":2,"size_scale":0,"lot_size":"0"}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":2.0,"size_scale":0}`,
	`{"type":"instrument","symbol":"A","ts":1,"price_scale":2,"size_scale":0,"base":"012345678901234567890123456789012"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"","price":"1","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"0123456789012345678901234567890123","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1.","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":".5","size":"1","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"-0","side":"buy"}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":null}`,
	`{"type":5}`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy"}x`,
	`{"type":"trade","symbol":"A","ts":1,"trade_id":"1","price":"1","size":"1","side":"buy",}`,
	`{"type":"trade","symbol":"A","ts":01}`,
	`{"type":"trade","symbol":"A","ts":1,"x":tru}`,
	`{"type":"trade","symbol":"A","ts":1,"x":"\x"}`,
	"{\"type\":\"trade\",\"symbol\":\"A\",\"ts\":1,\"x\":\"\xff\"}",
	"{\"type\":\"trade\",\"symbol\":\"A\",\"ts\":1,\"x\":\"\x01\"}",
	`{"type":"trade","symbol":"A","ts":1,"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	`{"type":"trade","symbol":"A","ts":1,"x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
}

// seedCorpus returns the spec examples and the tricky records.
func seedCorpus(t testing.TB) [][]byte {
	var out [][]byte
	for _, ex := range extractExamples(t, "kafka.md") {
		out = append(out, bytes.TrimSpace(ex.body))
	}
	for _, s := range trickyRecords {
		out = append(out, []byte(s))
	}
	return out
}

// checkDifferential compares DecodeRecord with the reference decoder on
// data and checks the encoder round trip and the schema on accepted input.
func checkDifferential(t *testing.T, data []byte) {
	t.Helper()
	var r Record
	// Decode something else first so that state left from an earlier
	// record cannot hide.
	prev := []byte(`{"type":"instrument","symbol":"PREV","ts":7,"base":"\u0042","quote":"Q","price_scale":3,"size_scale":4,"tick_size":"0.005","lot_size":"1","status":"closed","bids":[["1","1"]],"seq":9,"price":"1","side":"buy"}`)
	if err := DecodeRecord(prev, &r); err != nil {
		t.Fatal(err)
	}
	err := DecodeRecord(data, &r)
	ref, rerr := refDecode(data)
	if rerr != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("input %q: DecodeRecord = %v, reference rejects with %s/%q", data, err, rerr.Reason, rerr.Field)
		}
		if de.Reason != rerr.Reason || de.Field != rerr.Field {
			t.Fatalf("input %q: DecodeRecord = %s/%q (%v), reference = %s/%q", data, de.Reason, de.Field, err, rerr.Reason, rerr.Field)
		}
		if len(de.Error()) > 300 {
			t.Fatalf("error message too long: %d bytes", len(de.Error()))
		}
		return
	}
	if err != nil {
		t.Fatalf("input %q: DecodeRecord = %v, reference accepts", data, err)
	}
	got := toRef(&r)
	if !refEqual(got, ref) {
		t.Fatalf("input %q:\nDecodeRecord = %+v\nreference    = %+v", data, got, ref)
	}
	if verr := validate(t, KafkaRecordSchema, data); verr != nil {
		t.Fatalf("input %q: accepted by DecodeRecord but not by the schema: %v", data, verr)
	}
	// Canonical re-encoding decodes to the same record and is stable.
	enc := AppendRecord(nil, &r)
	var r2 Record
	if err := DecodeRecord(enc, &r2); err != nil {
		t.Fatalf("re-encoded %q does not decode: %v", enc, err)
	}
	if got2 := toRef(&r2); !refEqual(got2, got) {
		t.Fatalf("round trip through %q: %+v, want %+v", enc, got2, got)
	}
	if enc2 := AppendRecord(nil, &r2); !bytes.Equal(enc, enc2) {
		t.Fatalf("encoding not canonical: %q then %q", enc, enc2)
	}
}

func TestDifferentialSeeds(t *testing.T) {
	for _, s := range seedCorpus(t) {
		checkDifferential(t, s)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, s := range seedCorpus(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDifferential(t, data)
	})
}

// mutate applies one structural edit to a seed: the split/mutate fuzz
// target explores the neighbourhood of valid records, where most bugs of a
// scanner hide.
func mutate(seed []byte, pos uint16, op uint8, b byte) []byte {
	if len(seed) == 0 {
		return []byte{b}
	}
	p := int(pos) % (len(seed) + 1)
	whitespace := []byte{' ', '\t', '\n', '\r'}
	switch op % 8 {
	case 0: // insert a byte
		return slices.Concat(seed[:p], []byte{b}, seed[p:])
	case 1: // delete a byte
		if p == len(seed) {
			p--
		}
		return slices.Concat(seed[:p], seed[p+1:])
	case 2: // replace a byte
		if p == len(seed) {
			p--
		}
		out := slices.Clone(seed)
		out[p] = b
		return out
	case 3: // truncate
		return seed[:p]
	case 4: // split and join with whitespace
		return slices.Concat(seed[:p], whitespace[b%4:b%4+1], seed[p:])
	case 5: // repeat the tail
		return slices.Concat(seed, seed[p:])
	case 6: // swap the two halves
		return slices.Concat(seed[p:], seed[:p])
	default: // duplicate a span in place
		end := min(len(seed), p+int(b))
		return slices.Concat(seed[:end], seed[p:end], seed[end:])
	}
}

func FuzzDecodeRecordMutate(f *testing.F) {
	seeds := seedCorpus(f)
	for i := range seeds {
		f.Add(uint8(i), uint16(i*7), uint8(i), byte('"'+i))
	}
	f.Fuzz(func(t *testing.T, seed uint8, pos uint16, op uint8, b byte) {
		data := mutate(seeds[int(seed)%len(seeds)], pos, op, b)
		checkDifferential(t, data)
		// A prefix and a suffix of the mutated record, fed separately.
		cut := int(pos) % (len(data) + 1)
		checkDifferential(t, data[:cut])
		checkDifferential(t, data[cut:])
	})
}
