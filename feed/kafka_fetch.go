package feed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
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
// are encoded and decoded with kafka-go's protocol package rather than
// kafka.Conn.ReadBatchWith, whose batches hide the record batch headers
// (producer id, transactional and control flags) and drop the response's
// list of aborted transactions: without them, records of aborted
// transactions and transaction markers would be delivered as data.
type fetchConn struct {
	nc net.Conn
	rw struct {
		*bufio.Reader
		io.Writer
	}
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
	fc.rw.Reader = bufio.NewReaderSize(nc, 64<<10)
	fc.rw.Writer = nc
	return fc, nil
}

func (fc *fetchConn) Close() error { return fc.nc.Close() }

// fetch asks for the records from offset on, read_committed, and returns
// the partition's part of the response; a partition error is returned as
// a kafka.Error.
func (fc *fetchConn) fetch(offset int64, maxBytes int, maxWait, timeout time.Duration) (*fetchapi.ResponsePartition, error) {
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
	msg, err := protocol.RoundTrip(&fc.rw, fc.version, fc.corr, fc.clientID, req)
	if err != nil {
		return nil, err
	}
	res := msg.(*fetchapi.Response)
	if res.ErrorCode != 0 {
		return nil, kafka.Error(res.ErrorCode)
	}
	if len(res.Topics) != 1 || len(res.Topics[0].Partitions) != 1 {
		return nil, errors.New("feed: fetch response without the partition asked for")
	}
	p := &res.Topics[0].Partitions[0]
	if p.Partition != fc.part || res.Topics[0].Topic != fc.topic {
		return nil, fmt.Errorf("feed: fetch response for %s/%d, asked %s/%d", res.Topics[0].Topic, p.Partition, fc.topic, fc.part)
	}
	if p.ErrorCode != 0 {
		return nil, kafka.Error(p.ErrorCode)
	}
	return p, nil
}

// committed calls yield for every data record of p at or after offset from
// that is not part of an aborted transaction, in offset order, and returns
// the offset after the last record of the response, data, aborted or
// control (from if it held none). This is the read_committed filtering of
// the Kafka consumer protocol: an aborted transaction of producer P starts
// at the first offset the response lists for it and ends at P's abort
// marker; the broker returns only records below the last stable offset,
// so every transaction seen is decided.
func committed(p *fetchapi.ResponsePartition, from int64, yield func(off int64, ts time.Time, key, value []byte)) (int64, error) {
	next := from
	if p.RecordSet.Records == nil {
		return next, nil
	}
	batches := []protocol.RecordReader{p.RecordSet.Records}
	if s, ok := p.RecordSet.Records.(*protocol.RecordStream); ok {
		batches = s.Records
	}
	pending := slices.Clone(p.AbortedTransactions)
	slices.SortFunc(pending, func(a, b fetchapi.ResponseTransaction) int { return int(a.FirstOffset - b.FirstOffset) })
	aborting := map[int64]bool{} // producers inside an aborted transaction
	for _, b := range batches {
		switch bt := b.(type) {
		case *protocol.ControlBatch:
			for {
				rec, err := bt.ReadRecord()
				if err != nil {
					break
				}
				next = max(next, rec.Offset+1)
				cr, err := protocol.ReadControlRecord(rec)
				if err == nil && cr.Type == controlAbort {
					delete(aborting, bt.ProducerID)
				}
			}
		case *protocol.RecordBatch:
			for len(pending) > 0 && pending[0].FirstOffset <= bt.BaseOffset {
				aborting[pending[0].ProducerID] = true
				pending = pending[1:]
			}
			skip := bt.Attributes.Transactional() && aborting[bt.ProducerID]
			if err := records(bt.Records, from, skip, &next, yield); err != nil {
				return next, err
			}
		default: // message sets of the old formats: never transactional
			if err := records(b, from, false, &next, yield); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// records reads the records of one batch, advancing *next past each, and
// yields those at or after from unless skip.
func records(rr protocol.RecordReader, from int64, skip bool, next *int64,
	yield func(off int64, ts time.Time, key, value []byte)) error {
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		*next = max(*next, rec.Offset+1)
		if skip || rec.Offset < from {
			closeBytes(rec.Key)
			closeBytes(rec.Value)
			continue
		}
		kl, vl := byteLen(rec.Key), byteLen(rec.Value)
		buf := make([]byte, kl+vl)
		var key, value []byte
		if rec.Key != nil {
			key = buf[:kl:kl]
			if _, err := io.ReadFull(rec.Key, key); err != nil {
				return err
			}
			closeBytes(rec.Key)
		}
		if rec.Value != nil {
			value = buf[kl:]
			if _, err := io.ReadFull(rec.Value, value); err != nil {
				return err
			}
			closeBytes(rec.Value)
		}
		yield(rec.Offset, rec.Time, key, value)
	}
}

func byteLen(b protocol.Bytes) int {
	if b == nil {
		return 0
	}
	return b.Len()
}

func closeBytes(b protocol.Bytes) {
	if b != nil {
		_ = b.Close()
	}
}
