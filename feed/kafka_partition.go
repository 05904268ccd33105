package feed

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

const (
	// batchQueue is the capacity, in Batches, of each partition's channel.
	batchQueue = 8
	// maxBatchRecords caps the records of one Batch, so a large fetch
	// response reaches the handler in pieces while it is still decoded.
	maxBatchRecords = 4096
)

// errHandlerGone reports that a partition's handler returned while the
// context was still live; its reader stops as nobody consumes the channel.
var errHandlerGone = errors.New("feed: partition handler returned early")

// partitionReader fetches one partition. Its fields are owned by the reader
// goroutine; st is what other goroutines read.
type partitionReader struct {
	c           *Consumer
	st          *partState
	pm          *partitionMetrics
	out         chan<- Batch
	handlerDone <-chan struct{}
	log         *slog.Logger
	start       string // where the partition starts: a Config.Start value

	next       int64 // offset of the next record to deliver; -1 before the start is resolved
	end        int64 // end offset when the reader started; -1 before it is resolved
	hw         int64 // high-water mark as of the last fetch
	caughtUp   bool
	announced  bool    // a Batch with CaughtUp set has been queued
	failures   int     // consecutive failed sessions
	sizeHint   int     // records returned by the previous fetch
	outOfRange bool    // the last fetch failed with OFFSET_OUT_OF_RANGE
	pending    []Batch // fetched, not yet handed to the handler
}

// run keeps one session with the partition leader open after another until
// ctx ends, backing off between failed sessions.
func (r *partitionReader) run(ctx context.Context) {
	for {
		err := r.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errHandlerGone) {
			// Nobody consumes the partition any more: report it through
			// Ready and Connected, and stop.
			r.st.caughtUp.Store(false)
			r.pm.caughtUp.Set(0)
			r.st.connected.Store(false)
			r.log.Error("feed: partition handler returned before shutdown; partition no longer consumed")
			return
		}
		r.st.connected.Store(false)
		r.pm.fetchErrors.Inc()
		lvl := slog.LevelWarn
		if r.failures > 0 {
			lvl = slog.LevelDebug
		}
		r.log.Log(ctx, lvl, "feed: partition reader failed, reconnecting",
			"err", err, "offset", r.next, "attempt", r.failures+1)
		if !sleep(ctx, backoff(r.failures, r.c.cfg.BackoffMin, r.c.cfg.BackoffMax)) {
			return
		}
		r.failures++
		r.pm.reconnects.Inc()
	}
}

// session connects to the partition leader and fetches until an error.
func (r *partitionReader) session(ctx context.Context) error {
	conn, err := r.c.dialLeader(ctx, r.st.id)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := closeOnDone(ctx, conn)
	defer stop()

	if r.next < 0 {
		start, end, fellBack, err := r.c.startOffsets(conn, r.start)
		if err != nil {
			return err
		}
		if fellBack {
			r.log.Warn("feed: broker cannot list offsets by time; starting at the earliest offset",
				"lookback", r.c.cfg.Lookback)
		}
		r.next, r.end, r.hw = start, end, end
		r.pm.lag.Set(float64(end - start))
		r.log.Info("feed: partition start resolved", "start", start, "end", end)
		r.ok()
		if err := r.checkCaughtUp(ctx); err != nil {
			return err
		}
	}
	if r.outOfRange {
		// The fetch that failed ended the previous session; the
		// position is moved on the new one, before fetching again.
		if err := r.resetOffset(ctx, conn); err != nil {
			return err
		}
	}
	fc, err := r.c.dialFetch(ctx, conn, r.st.id)
	if err != nil {
		return err
	}
	defer fc.Close()
	stopFetch := context.AfterFunc(ctx, func() { _ = fc.Close() })
	defer stopFetch()
	for {
		select {
		case <-r.handlerDone:
			return errHandlerGone
		default:
		}
		if err := r.fetch(ctx, fc); err != nil {
			r.outOfRange = errors.Is(err, kafka.OffsetOutOfRange)
			return err
		}
	}
}

// fetch runs one fetch request and hands its committed records to the
// handler. Batches are offered to the channel without blocking as they
// fill; the blocking hand-off happens after the whole response is decoded.
func (r *partitionReader) fetch(ctx context.Context, fc *fetchConn) error {
	cfg := &r.c.cfg
	p, err := fc.fetch(r.next, cfg.MaxBytes, cfg.MaxWait, cfg.DialTimeout)
	if err != nil {
		return err
	}
	hw := p.highWater

	var (
		recs   []Record
		nrecs  int
		nbytes int
	)
	next, err := committed(p, r.next, func(off int64, ts time.Time, key, value []byte) {
		if recs == nil {
			// Size the chunk like the previous fetch, so steady traffic
			// fills it without regrowing; a response that already filled
			// a chunk is large, so its next chunks get the full size.
			n := maxBatchRecords
			if nrecs < maxBatchRecords {
				n = min(max(r.sizeHint-nrecs, 16), maxBatchRecords)
			}
			recs = make([]Record, 0, n)
		}
		recs = append(recs, Record{Offset: off, Key: key, Value: value, Time: ts})
		r.next = off + 1
		nrecs++
		nbytes += len(key) + len(value)
		boundary := !r.caughtUp && r.next >= r.end
		if boundary {
			r.setCaughtUp()
		}
		if boundary || len(recs) >= maxBatchRecords {
			r.queue(Batch{Partition: r.st.id, Records: recs, HighWater: hw, CaughtUp: r.caughtUp})
			recs = nil
			r.offer()
		}
	})
	if err == nil {
		// Offsets without a delivered record (compacted away, aborted,
		// transaction markers) are skipped too.
		r.next = max(r.next, next)
	}
	r.sizeHint = nrecs
	r.pm.records.Add(float64(nrecs))
	r.pm.bytes.Add(float64(nbytes))

	if err == nil && !r.caughtUp && r.next >= r.end {
		r.setCaughtUp()
	}
	if len(recs) > 0 {
		r.queue(Batch{Partition: r.st.id, Records: recs, HighWater: hw, CaughtUp: r.caughtUp})
	}
	if err == nil {
		r.ok()
		if hw >= 0 {
			r.hw = hw
			r.pm.lag.Set(float64(max(hw-r.next, 0)))
		}
	}
	r.announce()
	if ferr := r.flush(ctx); ferr != nil {
		return ferr
	}
	return err
}

// checkCaughtUp marks the partition caught up if its position reached the
// end offset, and hands the announcement to the handler.
func (r *partitionReader) checkCaughtUp(ctx context.Context) error {
	if !r.caughtUp && r.next >= r.end {
		r.setCaughtUp()
	}
	r.announce()
	return r.flush(ctx)
}

func (r *partitionReader) setCaughtUp() {
	r.caughtUp = true
	r.log.Info("feed: partition caught up", "offset", r.next, "end", r.end)
}

// sent records that b reached the handler's channel. The partition counts
// as caught up for Ready once its first CaughtUp Batch is there.
func (r *partitionReader) sent(b *Batch) {
	r.c.fetched(r.st)
	if b.CaughtUp && !r.st.caughtUp.Load() {
		r.st.caughtUp.Store(true)
		r.pm.caughtUp.Set(1)
	}
}

// announce queues an empty Batch with CaughtUp set if the partition caught
// up but no Batch has said so yet.
func (r *partitionReader) announce() {
	if r.caughtUp && !r.announced {
		r.queue(Batch{Partition: r.st.id, HighWater: r.hw, CaughtUp: true})
	}
}

func (r *partitionReader) queue(b Batch) {
	if b.CaughtUp {
		r.announced = true
	}
	r.pending = append(r.pending, b)
}

// offer hands queued Batches to the channel while it has room.
func (r *partitionReader) offer() {
	n := 0
	for ; n < len(r.pending); n++ {
		select {
		case r.out <- r.pending[n]:
			r.sent(&r.pending[n])
			continue
		default:
		}
		break
	}
	r.drop(n)
}

// flush hands every queued Batch to the channel, waiting for room.
func (r *partitionReader) flush(ctx context.Context) error {
	n := 0
	defer func() { r.drop(n) }()
	for ; n < len(r.pending); n++ {
		select {
		case r.out <- r.pending[n]:
			r.sent(&r.pending[n])
		case <-ctx.Done():
			return ctx.Err()
		case <-r.handlerDone:
			return errHandlerGone
		}
	}
	return nil
}

// drop removes the first n queued Batches.
func (r *partitionReader) drop(n int) {
	if n == 0 {
		return
	}
	k := copy(r.pending, r.pending[n:])
	clear(r.pending[k:])
	r.pending = r.pending[:k]
}

// ok records a successful broker request.
func (r *partitionReader) ok() {
	r.st.connected.Store(true)
	r.c.fetched(r.st)
	if r.failures > 0 {
		r.log.Info("feed: partition reader reconnected", "attempts", r.failures, "offset", r.next)
		r.failures = 0
	}
}

// resetOffset moves a position the broker reported out of range to the
// nearest end of the partition's retained log: the first offset when
// records expired under the reader, the last offset when the broker lost
// records the reader had already consumed.
func (r *partitionReader) resetOffset(ctx context.Context, conn *kafka.Conn) error {
	_ = conn.SetDeadline(time.Now().Add(r.c.cfg.DialTimeout))
	first, last, err := conn.ReadOffsets()
	if err != nil {
		return err
	}
	r.ok()
	old := r.next
	r.outOfRange = false
	switch {
	case r.next < first:
		r.next = first
	case r.next > last:
		r.next = last
	default:
		return nil // in range again (the log moved meanwhile): fetch
	}
	r.pm.offsetResets.Inc()
	r.log.Warn("feed: offset out of range, moved", "from", old, "to", r.next, "first", first, "last", last)
	return r.checkCaughtUp(ctx)
}
