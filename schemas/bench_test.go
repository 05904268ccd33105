package schemas

import (
	"strconv"
	"testing"
)

var (
	benchDelta    = []byte(`{"type":"delta","symbol":"BTC-USD","ts":1767225600200000,"seq":1043,"bids":[["64123.10","0"],["64122.90","3.50000000"]],"asks":[["64123.30","2.00000000"]]}`)
	benchSnapshot = makeSnapshot(50)
)

// makeSnapshot builds a snapshot of n levels in total, alternately bids
// below 64123.00 and asks above it, in steps of 0.10.
func makeSnapshot(n int) []byte {
	r := Record{Type: RecordSnapshot, Symbol: []byte("BTC-USD"), TS: 1767225600100000, Seq: 1042}
	cents := func(c int) []byte {
		return []byte(strconv.Itoa(c/100) + "." + strconv.Itoa(100 + c%100)[1:])
	}
	for i := 0; i < n; i++ {
		size := []byte("0." + strconv.Itoa(100000000 + (i+1)*7919)[1:])
		if i%2 == 0 {
			r.Bids = append(r.Bids, Level{Price: cents(6412300 - i*10), Size: size})
		} else {
			r.Asks = append(r.Asks, Level{Price: cents(6412310 + i*10), Size: size})
		}
	}
	return AppendRecord(nil, &r)
}

func benchmarkDecode(b *testing.B, in []byte) {
	var r Record
	if err := DecodeRecord(in, &r); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeRecord(in, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecordDelta3(b *testing.B) { benchmarkDecode(b, benchDelta) }

func BenchmarkDecodeRecordSnapshot50(b *testing.B) { benchmarkDecode(b, benchSnapshot) }

func BenchmarkAppendRecordSnapshot50(b *testing.B) {
	var r Record
	if err := DecodeRecord(benchSnapshot, &r); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRecord(buf[:0], &r)
	}
}

func BenchmarkParseCommand(b *testing.B) {
	in := []byte(`{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":20,"interval":"raw"}`)
	var c Command
	b.ReportAllocs()
	for b.Loop() {
		if err := ParseCommand(in, &c); err != nil {
			b.Fatal(err)
		}
	}
}
