package feed

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go/compress"
)

// kv is one test record.
type kv struct{ key, value string }

// appendBatch appends a v2 record batch of records at offsets base, base+1,
// ... with the given producer and attributes (compressing the records when
// attrs names a codec).
func appendBatch(t testing.TB, dst []byte, base, producer int64, attrs int16, recs ...kv) []byte {
	t.Helper()
	var body []byte
	for i, r := range recs {
		var rec []byte
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, int64(i)) // timestamp delta (ms)
		rec = binary.AppendVarint(rec, int64(i)) // offset delta
		rec = binary.AppendVarint(rec, int64(len(r.key)))
		rec = append(rec, r.key...)
		rec = binary.AppendVarint(rec, int64(len(r.value)))
		rec = append(rec, r.value...)
		rec = binary.AppendVarint(rec, 0) // headers
		body = binary.AppendVarint(body, int64(len(rec)))
		body = append(body, rec...)
	}
	if codec := attrs & attrCodec; codec != 0 {
		var buf bytes.Buffer
		w := compress.Compression(codec).Codec().NewWriter(&buf)
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		body = buf.Bytes()
	}
	h := make([]byte, 0, 61)
	h = binary.BigEndian.AppendUint64(h, uint64(base))
	h = binary.BigEndian.AppendUint32(h, uint32(49+len(body)))
	h = binary.BigEndian.AppendUint32(h, 0) // leader epoch
	h = append(h, 2)                        // magic
	h = binary.BigEndian.AppendUint32(h, 0) // crc, below
	h = binary.BigEndian.AppendUint16(h, uint16(attrs))
	h = binary.BigEndian.AppendUint32(h, uint32(max(len(recs)-1, 0)))
	h = binary.BigEndian.AppendUint64(h, 1_700_000_000_000) // base timestamp
	h = binary.BigEndian.AppendUint64(h, 1_700_000_000_000)
	h = binary.BigEndian.AppendUint64(h, uint64(producer))
	h = binary.BigEndian.AppendUint16(h, 0) // producer epoch
	h = binary.BigEndian.AppendUint32(h, 0) // base sequence
	h = binary.BigEndian.AppendUint32(h, uint32(len(recs)))
	b := append(h, body...)
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], castagnoli))
	return append(dst, b...)
}

// marker is a control record: commit or abort of producer's transaction.
func appendMarker(t testing.TB, dst []byte, off, producer int64, typ int16) []byte {
	key := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(typ))
	return appendBatch(t, dst, off, producer, attrTransactional|attrControl, kv{string(key), "\x00\x00\x00\x00\x00\x00"})
}

func collect(t *testing.T, p *fetchPartition, from int64) ([]string, int64) {
	t.Helper()
	var got []string
	next, err := committed(p, from, func(off int64, ts time.Time, key, value []byte) {
		got = append(got, string(value))
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, next
}

// TestCommittedFilter: aborted transactions of one producer, interleaved
// with another producer's committed one and with plain records, are
// dropped with the markers; compressed batches are read; a truncated last
// batch is left for the next fetch.
func TestCommittedFilter(t *testing.T) {
	const pa, pb = 7, 9
	var b []byte
	b = appendBatch(t, b, 0, -1, 0, kv{"k", "plain0"}, kv{"k", "plain1"})
	b = appendBatch(t, b, 2, pa, attrTransactional, kv{"k", "a-aborted2"}, kv{"k", "a-aborted3"})
	b = appendBatch(t, b, 4, pb, attrTransactional|int16(compress.Gzip), kv{"k", "b-committed4"}, kv{"k", "b-committed5"})
	b = appendBatch(t, b, 6, pa, attrTransactional, kv{"k", "a-aborted6"})
	b = appendMarker(t, b, 7, pb, controlCommit)
	b = appendMarker(t, b, 8, pa, controlAbort)
	b = appendBatch(t, b, 9, pa, attrTransactional|int16(compress.Snappy), kv{"k", "a-committed9"})
	b = appendMarker(t, b, 10, pa, controlCommit)
	b = appendBatch(t, b, 11, -1, int16(compress.Zstd), kv{"", "plain11"}, kv{"k", "plain12"})
	full := len(b)
	b = appendBatch(t, b, 13, -1, 0, kv{"k", "truncated13"})
	p := &fetchPartition{records: b[:len(b)-3], aborted: []abortedTxn{{producer: pa, first: 2}}}

	got, next := collect(t, p, 0)
	want := []string{"plain0", "plain1", "b-committed4", "b-committed5", "a-committed9", "plain11", "plain12"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if next != 13 {
		t.Errorf("next %d, want 13 (the truncated batch is fetched again)", next)
	}
	// From the middle of a batch: the records before the position are
	// not delivered again.
	got, _ = collect(t, &fetchPartition{records: b[:full], aborted: p.aborted}, 5)
	if want := []string{"b-committed5", "a-committed9", "plain11", "plain12"}; !slices.Equal(got, want) {
		t.Fatalf("from 5: got %q, want %q", got, want)
	}
	// Without the aborted list (read_uncommitted), everything but the
	// markers would pass: the list is what filters.
	got, _ = collect(t, &fetchPartition{records: b[:full]}, 0)
	if len(got) != 10 {
		t.Fatalf("without the aborted list: %d records, want 10", len(got))
	}
}

// TestCommittedRejectsCorruption: a CRC mismatch and an old message format
// are errors, not records.
func TestCommittedRejectsCorruption(t *testing.T) {
	b := appendBatch(t, nil, 0, -1, 0, kv{"k", "v"})
	bad := slices.Clone(b)
	bad[len(bad)-2] ^= 1
	if _, err := committed(&fetchPartition{records: bad}, 0, func(int64, time.Time, []byte, []byte) {
		t.Fatal("record from a corrupt batch")
	}); err == nil {
		t.Error("CRC mismatch not reported")
	}
	old := slices.Clone(b)
	old[16] = 1
	if _, err := committed(&fetchPartition{records: old}, 0, func(int64, time.Time, []byte, []byte) {}); err == nil {
		t.Error("message format v1 not reported")
	}
}

// FuzzFetchResponse: any bytes as a fetch response or as record batches
// yield an error or records, never a panic, and offsets only increase.
func FuzzFetchResponse(f *testing.F) {
	var b []byte
	b = appendBatch(f, b, 0, -1, 0, kv{"BTC-USD", `{"type":"trade"}`})
	b = appendBatch(f, b, 1, 5, attrTransactional|int16(compress.Gzip), kv{"k", "v"}, kv{"", ""})
	b = appendMarker(f, b, 3, 5, controlAbort)
	resp := binary.BigEndian.AppendUint32(nil, 1) // correlation id
	resp = binary.BigEndian.AppendUint32(resp, 0) // throttle
	resp = binary.BigEndian.AppendUint16(resp, 0) // error
	resp = binary.BigEndian.AppendUint32(resp, 0) // session
	resp = binary.BigEndian.AppendUint32(resp, 1) // topics
	resp = binary.BigEndian.AppendUint16(resp, 1)
	resp = append(resp, 't')
	resp = binary.BigEndian.AppendUint32(resp, 1) // partitions
	resp = binary.BigEndian.AppendUint32(resp, 0)
	resp = binary.BigEndian.AppendUint16(resp, 0)
	resp = binary.BigEndian.AppendUint64(resp, 4)          // high water
	resp = binary.BigEndian.AppendUint64(resp, 4)          // last stable
	resp = binary.BigEndian.AppendUint64(resp, 0)          // log start
	resp = binary.BigEndian.AppendUint32(resp, 1)          // aborted
	resp = binary.BigEndian.AppendUint64(resp, 5)          // producer
	resp = binary.BigEndian.AppendUint64(resp, 1)          // first offset
	resp = binary.BigEndian.AppendUint32(resp, 0xffffffff) // preferred replica
	resp = binary.BigEndian.AppendUint32(resp, uint32(len(b)))
	resp = append(resp, b...)
	f.Add(resp)
	f.Add(resp[:len(resp)-5])
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseFetchResponse(data, 11, 1, "t", 0)
		if err != nil {
			p = &fetchPartition{records: data}
		}
		last := int64(-1)
		_, _ = committed(p, 0, func(off int64, _ time.Time, _, _ []byte) {
			if off <= last {
				t.Fatalf("offset %d after %d", off, last)
			}
			last = off
		})
	})
}

// BenchmarkCommitted measures the read_committed filtering of one fetch
// response: 100 uncompressed batches of 100 records of 150 bytes.
func BenchmarkCommitted(b *testing.B) {
	recs := make([]kv, 100)
	for i := range recs {
		recs[i] = kv{"BTC-USD", string(bytes.Repeat([]byte{'x'}, 150))}
	}
	var data []byte
	for i := range 100 {
		data = appendBatch(b, data, int64(i*100), -1, 0, recs...)
	}
	p := &fetchPartition{records: data}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if _, err := committed(p, 0, func(int64, time.Time, []byte, []byte) { n++ }); err != nil || n != 10_000 {
			b.Fatal(n, err)
		}
	}
}
