package feed

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"
	"github.com/segmentio/kafka-go/protocol"
	fetchapi "github.com/segmentio/kafka-go/protocol/fetch"
)

// Fetch request versions this reader speaks: 4 is the first with an
// isolation level and aborted transactions, 11 the last kafka-go's
// protocol package encodes.
const (
	minFetchVersion = 4
	maxFetchVersion = 11
)

// isolationReadCommitted is the fetch isolation level of every reader:
// read_committed (1). See the package documentation.
const isolationReadCommitted int8 = 1

// Control record types (the key of a record in a control batch).
const (
	controlAbort  int16 = 0
	controlCommit int16 = 1
)

// fetchConn is a partition reader's connection for Fetch requests. They
// are encoded with kafka-go's protocol package and their responses decoded
// here rather than with kafka.Conn.ReadBatchWith, whose batches hide the
// record batch headers (producer id, transactional and control flags) and
// drop the response's list of aborted transactions: without them, records
// of aborted transactions and transaction markers would be delivered as
// data.
type fetchConn struct {
	nc       net.Conn
	br       *bufio.Reader
	version  int16
	corr     int32
	clientID string
	topic    string
	part     int32
}

// dialFetch opens the fetch connection to the leader conn is connected to,
// with the highest fetch version both sides speak.
func (c *Consumer) dialFetch(ctx context.Context, conn *kafka.Conn, partition int) (*fetchConn, error) {
	_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	versions, err := conn.ApiVersions()
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(versions, func(v kafka.ApiVersion) bool { return v.ApiKey == int16(protocol.Fetch) })
	if i < 0 || versions[i].MaxVersion < minFetchVersion || versions[i].MinVersion > maxFetchVersion {
		return nil, fmt.Errorf("broker speaks no fetch version in %d..%d: %w", minFetchVersion, maxFetchVersion, kafka.UnsupportedVersion)
	}
	d := net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", conn.RemoteAddr().String())
	if err != nil {
		return nil, err
	}
	fc := &fetchConn{nc: nc, version: min(versions[i].MaxVersion, maxFetchVersion),
		clientID: c.cfg.ClientID, topic: c.cfg.Topic, part: int32(partition)}
	fc.br = bufio.NewReaderSize(nc, 64<<10)
	return fc, nil
}

func (fc *fetchConn) Close() error { return fc.nc.Close() }

// maxResponse bounds the size of a fetch response the reader accepts: a
// response exceeds MaxBytes when its first record batch is larger, and
// Config.MaxBytes is at most 1 GiB.
const maxResponse = 1<<30 + 1<<20

// fetch asks for the records from offset on, read_committed, and returns
// the partition's part of the response; a partition error is returned as
// a kafka.Error.
func (fc *fetchConn) fetch(offset int64, maxBytes int, maxWait, timeout time.Duration) (*fetchPartition, error) {
	_ = fc.nc.SetDeadline(time.Now().Add(maxWait + timeout))
	fc.corr++
	req := &fetchapi.Request{
		ReplicaID:      -1,
		MaxWaitTime:    int32(maxWait.Milliseconds()),
		MinBytes:       1,
		MaxBytes:       int32(maxBytes),
		IsolationLevel: isolationReadCommitted,
		SessionID:      0,  // no fetch session:
		SessionEpoch:   -1, // every request is a full one
		Topics: []fetchapi.RequestTopic{{
			Topic: fc.topic,
			Partitions: []fetchapi.RequestPartition{{
				Partition:          fc.part,
				CurrentLeaderEpoch: -1,
				FetchOffset:        offset,
				LogStartOffset:     -1,
				PartitionMaxBytes:  int32(maxBytes),
			}},
		}},
	}
	if err := protocol.WriteRequest(fc.nc, fc.version, fc.corr, fc.clientID, req); err != nil {
		return nil, err
	}
	var size [4]byte
	if _, err := io.ReadFull(fc.br, size[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(size[:])))
	if n < 4 || n > maxResponse {
		return nil, fmt.Errorf("feed: fetch response of %d bytes", n)
	}
	// A fresh buffer per response: the records handed to the handler
	// alias it.
	buf := make([]byte, n)
	if _, err := io.ReadFull(fc.br, buf); err != nil {
		return nil, err
	}
	p, err := parseFetchResponse(buf, fc.version, fc.corr, fc.topic, fc.part)
	if err != nil {
		return nil, err
	}
	if p.errorCode != 0 {
		return nil, kafka.Error(p.errorCode)
	}
	return p, nil
}

// fetchPartition is the part of a fetch response about our partition.
type fetchPartition struct {
	errorCode  int16
	highWater  int64
	lastStable int64
	aborted    []abortedTxn // as listed by the broker
	records    []byte       // record batches; the last may be truncated
}

type abortedTxn struct{ producer, first int64 }

// errMalformed reports a fetch response or record batch that does not
// parse.
var errMalformed = errors.New("feed: malformed fetch response")

// wire reads big-endian Kafka protocol fields from b; the first read past
// the end sets bad and yields zeros.
type wire struct {
	b   []byte
	bad bool
}

func (w *wire) take(n int) []byte {
	if n < 0 || n > len(w.b) {
		w.bad, w.b = true, nil
		return nil
	}
	v := w.b[:n:n]
	w.b = w.b[n:]
	return v
}

func (w *wire) i16() int16 {
	if v := w.take(2); v != nil {
		return int16(binary.BigEndian.Uint16(v))
	}
	return 0
}

func (w *wire) i32() int32 {
	if v := w.take(4); v != nil {
		return int32(binary.BigEndian.Uint32(v))
	}
	return 0
}

func (w *wire) i64() int64 {
	if v := w.take(8); v != nil {
		return int64(binary.BigEndian.Uint64(v))
	}
	return 0
}

// varint reads a zigzag varint (Kafka's signed varint and varlong).
func (w *wire) varint() int64 {
	v, n := binary.Varint(w.b)
	if n <= 0 {
		w.bad, w.b = true, nil
		return 0
	}
	w.b = w.b[n:]
	return v
}

// parseFetchResponse parses a Fetch response body (v4 to v11, after the
// size) and returns the entry of topic/partition.
func parseFetchResponse(b []byte, version int16, corr int32, topic string, partition int32) (*fetchPartition, error) {
	w := &wire{b: b}
	if got := w.i32(); got != corr && !w.bad {
		return nil, fmt.Errorf("feed: fetch response for request %d, sent %d", got, corr)
	}
	w.i32() // throttle time
	if version >= 7 {
		if code := w.i16(); code != 0 && !w.bad {
			return nil, kafka.Error(code)
		}
		w.i32() // session id
	}
	var found *fetchPartition
	for nt := w.i32(); nt > 0 && !w.bad; nt-- {
		name := string(w.take(int(w.i16())))
		for np := w.i32(); np > 0 && !w.bad; np-- {
			p := &fetchPartition{}
			id := w.i32()
			p.errorCode = w.i16()
			p.highWater = w.i64()
			p.lastStable = w.i64()
			if version >= 5 {
				w.i64() // log start offset
			}
			if na := w.i32(); na > 0 {
				if int(na) > len(w.b)/16 {
					return nil, errMalformed
				}
				p.aborted = make([]abortedTxn, na)
				for i := range p.aborted {
					p.aborted[i] = abortedTxn{producer: w.i64(), first: w.i64()}
				}
			}
			if version >= 11 {
				w.i32() // preferred read replica
			}
			if n := w.i32(); n > 0 {
				p.records = w.take(int(n))
			}
			if name == topic && id == partition && found == nil {
				found = p
			}
		}
	}
	if w.bad {
		return nil, errMalformed
	}
	if found == nil {
		return nil, fmt.Errorf("feed: fetch response without %s/%d", topic, partition)
	}
	return found, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Record batch (message format v2) attributes.
const (
	attrCodec         = 0x07
	attrTransactional = 0x10
	attrControl       = 0x20
)

// committed calls yield for every data record of p at or after offset from
// that is not part of an aborted transaction, in offset order, and returns
// the offset after the last record batch of the response, data, aborted or
// control (from if it held none). This is the read_committed filtering of
// the Kafka consumer protocol: an aborted transaction of producer P starts
// at the first offset the response lists for it and ends at P's abort
// marker; the broker returns only records below the last stable offset,
// so every transaction seen is decided. Key and value alias the response.
// A trailing truncated batch is ignored (the next fetch starts at it).
func committed(p *fetchPartition, from int64, yield func(off int64, ts time.Time, key, value []byte)) (int64, error) {
	next := from
	txns := newAbortedTxns(p.aborted)
	b := p.records
	for {
		rb, rest, ok, err := nextBatch(b)
		if err != nil {
			return next, err
		}
		if !ok {
			return next, nil
		}
		b = rest
		switch {
		case rb.attrs&attrControl != 0:
			if isAbortMarker(rb.records) {
				txns.end(rb.producer)
			}
		case txns.aborts(&rb):
		default:
			if next, err = rb.yieldFrom(from, next, yield); err != nil {
				return next, err
			}
		}
		next = max(next, rb.last+1)
	}
}

// recordBatch is the header of one record batch (message format v2) and
// its records, which alias the response.
type recordBatch struct {
	base, last int64 // first and last offset
	baseTS     int64 // first timestamp, ms
	producer   int64 // producer id
	attrs      int16
	count      int // records
	records    []byte
}

// nextBatch splits the first record batch off b. It returns ok false at
// the end of b and before a batch truncated by the response size limit.
func nextBatch(b []byte) (rb recordBatch, rest []byte, ok bool, err error) {
	if len(b) < 17 {
		return rb, nil, false, nil
	}
	base := int64(binary.BigEndian.Uint64(b))
	length := int(int32(binary.BigEndian.Uint32(b[8:])))
	if magic := b[16]; magic != 2 {
		return rb, nil, false, fmt.Errorf("feed: record batch at offset %d in message format v%d: only v2 (Kafka 0.11 and later) is read", base, magic)
	}
	if length < 49 {
		return rb, nil, false, errMalformed
	}
	if length > len(b)-12 {
		return rb, nil, false, nil // truncated by the response size limit
	}
	batch := b[12 : 12+length]
	if crc32.Checksum(batch[9:], castagnoli) != binary.BigEndian.Uint32(batch[5:]) {
		return rb, nil, false, fmt.Errorf("feed: record batch at offset %d: CRC mismatch", base)
	}
	return recordBatch{
		base:     base,
		last:     base + int64(int32(binary.BigEndian.Uint32(batch[11:]))),
		baseTS:   int64(binary.BigEndian.Uint64(batch[15:])),
		producer: int64(binary.BigEndian.Uint64(batch[31:])),
		attrs:    int16(binary.BigEndian.Uint16(batch[9:])),
		count:    int(int32(binary.BigEndian.Uint32(batch[45:]))),
		records:  batch[49:],
	}, b[12+length:], true, nil
}

// isAbortMarker reports whether the one record of a control batch is an
// abort marker: its key is a version (int16) and a type (int16).
func isAbortMarker(recs []byte) bool {
	w := &wire{b: recs}
	w.varint() // length
	w.take(1)  // attributes
	w.varint() // timestamp delta
	w.varint() // offset delta
	key := w.take(int(w.varint()))
	return len(key) == 4 && int16(binary.BigEndian.Uint16(key[2:])) == controlAbort
}

// abortedTxns follows the aborted transactions of one fetch response
// through its batches, in offset order.
type abortedTxns struct {
	pending  []abortedTxn   // not reached yet, by first offset
	aborting map[int64]bool // producers inside an aborted transaction
}

func newAbortedTxns(aborted []abortedTxn) abortedTxns {
	pending := slices.Clone(aborted)
	slices.SortFunc(pending, func(a, b abortedTxn) int { return cmp.Compare(a.first, b.first) })
	return abortedTxns{pending: pending}
}

// aborts reports whether the data batch rb belongs to an aborted
// transaction, entering those that start at or before its last offset.
func (t *abortedTxns) aborts(rb *recordBatch) bool {
	for len(t.pending) > 0 && t.pending[0].first <= rb.last {
		if t.aborting == nil {
			t.aborting = make(map[int64]bool)
		}
		t.aborting[t.pending[0].producer] = true
		t.pending = t.pending[1:]
	}
	return rb.attrs&attrTransactional != 0 && t.aborting[rb.producer]
}

// end records producer's abort marker: its aborted transaction is over.
func (t *abortedTxns) end(producer int64) { delete(t.aborting, producer) }

// yieldFrom decompresses rb if need be and calls yield for each of its
// records at or after from and next, returning the offset after the last
// one yielded (next if none).
func (rb *recordBatch) yieldFrom(from, next int64, yield func(off int64, ts time.Time, key, value []byte)) (int64, error) {
	recs := rb.records
	if codec := rb.attrs & attrCodec; codec != 0 {
		var err error
		if recs, err = decompress(codec, recs); err != nil {
			return next, fmt.Errorf("feed: record batch at offset %d: %w", rb.base, err)
		}
	}
	w := &wire{b: recs}
	for range rb.count {
		rec := &wire{b: w.take(int(w.varint()))}
		if w.bad {
			return next, errMalformed
		}
		rec.take(1) // attributes
		ts := rb.baseTS + rec.varint()
		off := rb.base + rec.varint()
		var key, value []byte
		if n := rec.varint(); n >= 0 {
			key = rec.take(int(n))
		}
		if n := rec.varint(); n >= 0 {
			value = rec.take(int(n))
		}
		// Headers follow; the record's length already skips them.
		if rec.bad {
			return next, errMalformed
		}
		if off >= from && off >= next {
			yield(off, time.UnixMilli(ts), key, value)
			next = off + 1
		}
	}
	return next, nil
}

// decompress returns the records of a compressed batch, in a fresh buffer.
func decompress(codec int16, b []byte) ([]byte, error) {
	c := compress.Compression(codec).Codec()
	if c == nil {
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	r := c.NewReader(bytes.NewReader(b))
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, maxResponse))
}
