package feed

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// ErrReadBackStalled reports a read back that stopped short of the end it
// set out to reach: the broker returned nothing more below it (a
// transaction still open holds the records back).
var ErrReadBackStalled = errors.New("feed: read back of the log stalled before its end")

// ReadSince reads partition back from the first record whose timestamp
// is at or after since up to the partition's end offset as of the call,
// calling fn with each committed record in offset order (key and value
// alias a fetch buffer: valid during the call), until fn returns false.
// It returns that end offset: every record of the partition below it was
// offered, unless fn stopped the read. The read has its own connections
// (never the partition reader's) and the isolation of the consumer
// (read_committed); ctx bounds it. Safe from any goroutine.
func (c *Consumer) ReadSince(ctx context.Context, partition int, since time.Time, fn func(offset int64, key, value []byte) bool) (int64, error) {
	return c.readBack(ctx, partition, func(conn *kafka.Conn) (int64, error) { return conn.ReadOffset(since) }, fn)
}

// ReadFrom is ReadSince from the record at offset on (the first retained
// one when the log no longer has offset).
func (c *Consumer) ReadFrom(ctx context.Context, partition int, offset int64, fn func(offset int64, key, value []byte) bool) (int64, error) {
	return c.readBack(ctx, partition, func(conn *kafka.Conn) (int64, error) {
		first, err := conn.ReadFirstOffset()
		return max(first, offset), err
	}, fn)
}

// readBack reads partition from the offset start gives (on a connection
// to its leader; negative: nothing) to its end offset.
func (c *Consumer) readBack(ctx context.Context, partition int, start func(*kafka.Conn) (int64, error), fn func(offset int64, key, value []byte) bool) (int64, error) {
	conn, err := c.dialLeader(ctx, partition)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := closeOnDone(ctx, conn)
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	end, err := conn.ReadLastOffset()
	if err != nil {
		return 0, err
	}
	from, err := start(conn)
	if err != nil {
		return 0, err
	}
	if from < 0 || from >= end {
		return end, nil // nothing that recent
	}
	fc, err := c.dialFetch(ctx, conn, partition)
	if err != nil {
		return 0, err
	}
	defer fc.Close()
	stopFetch := context.AfterFunc(ctx, func() { _ = fc.Close() })
	defer stopFetch()
	more := true
	for next := from; next < end && more; {
		p, err := fc.fetch(next, c.cfg.MaxBytes, c.cfg.MaxWait, c.cfg.DialTimeout)
		if err != nil {
			return 0, fmt.Errorf("partition %d at offset %d: %w", partition, next, err)
		}
		n, err := committed(p, next, func(off int64, _ time.Time, key, value []byte) {
			if more && off < end {
				more = fn(off, key, value)
			}
		})
		if err != nil {
			return 0, err
		}
		if n <= next {
			return 0, ErrReadBackStalled
		}
		next = n
	}
	return end, nil
}
