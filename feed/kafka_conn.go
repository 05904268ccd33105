package feed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"
)

// metadata lists the partitions of the topic, asking the bootstrap brokers
// in turn (starting with a different one on each call) until one answers.
func (c *Consumer) metadata(ctx context.Context) ([]kafka.Partition, error) {
	n := len(c.cfg.Brokers)
	first := int(c.nextSeed.Add(1)) % n
	var errs []error
	for i := range n {
		addr := c.cfg.Brokers[(first+i)%n]
		parts, err := c.metadataFrom(ctx, addr)
		if err == nil {
			return parts, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return nil, errors.Join(errs...)
}

func (c *Consumer) metadataFrom(ctx context.Context, addr string) ([]kafka.Partition, error) {
	conn, err := c.dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := closeOnDone(ctx, conn)
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	parts, err := conn.ReadPartitions(c.cfg.Topic)
	if err != nil {
		return nil, err
	}
	parts = slices.DeleteFunc(parts, func(p kafka.Partition) bool { return p.Topic != c.cfg.Topic })
	if len(parts) == 0 {
		return nil, kafka.UnknownTopicOrPartition
	}
	return parts, nil
}

// listPartitions returns the topic's partition ids in increasing order.
func (c *Consumer) listPartitions(ctx context.Context) ([]int, error) {
	parts, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// dialLeader looks up the current leader of partition id and connects to
// it. The connection's offset is unset; the caller seeks.
func (c *Consumer) dialLeader(ctx context.Context, id int) (*kafka.Conn, error) {
	parts, err := c.metadata(ctx)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(parts, func(p kafka.Partition) bool { return p.ID == id })
	if i < 0 {
		return nil, fmt.Errorf("partition %d: %w", id, kafka.UnknownTopicOrPartition)
	}
	if parts[i].Leader.Host == "" {
		return nil, fmt.Errorf("partition %d: %w", id, kafka.LeaderNotAvailable)
	}
	return c.dialer.DialPartition(ctx, "tcp", "", parts[i])
}

// startOffsets returns where a partition's reader starts (at position
// start, a Config.Start value) and the partition's end offset at that
// moment, on a connection to its leader. fellBack reports
// that the broker could not list offsets by time and the start is the
// earliest offset instead of the look-back position.
func (c *Consumer) startOffsets(conn *kafka.Conn, position string) (start, end int64, fellBack bool, err error) {
	_ = conn.SetDeadline(time.Now().Add(c.cfg.DialTimeout))
	if end, err = conn.ReadLastOffset(); err != nil {
		return 0, 0, false, err
	}
	switch position {
	case StartLatest:
		return end, end, false, nil
	case StartEarliest:
		start, err = conn.ReadFirstOffset()
		return start, end, false, err
	}
	start, err = conn.ReadOffset(time.Now().Add(-c.cfg.Lookback))
	if err != nil && timeLookupUnsupported(err) {
		start, err = conn.ReadFirstOffset()
		return start, end, true, err
	}
	if err != nil {
		return 0, 0, false, err
	}
	if start < 0 || start > end {
		// No record is that recent (-1), or one arrived after end was
		// read: nothing before end is in the window.
		start = end
	}
	return start, end, false, nil
}

// timeLookupUnsupported reports the errors a broker answers when it cannot
// list offsets by timestamp (old protocol or message format).
func timeLookupUnsupported(err error) bool {
	return errors.Is(err, kafka.UnsupportedVersion) ||
		errors.Is(err, kafka.UnsupportedForMessageFormat) ||
		errors.Is(err, kafka.InvalidRequest)
}

// closeOnDone closes conn when ctx ends, unblocking any request in flight.
// The returned func stops the watch.
func closeOnDone(ctx context.Context, conn *kafka.Conn) func() bool {
	return context.AfterFunc(ctx, func() { _ = conn.Close() })
}

// backoff returns the delay before retry number attempt+1: lo doubled per
// failure, capped at hi, jittered uniformly into [d/2, d].
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 0; i < attempt && d < hi; i++ {
		d *= 2
	}
	if d > hi || d <= 0 {
		d = hi
	}
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// sleep waits for d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
