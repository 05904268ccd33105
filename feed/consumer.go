package feed

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Record is one Kafka record.
type Record struct {
	// Offset is the record's offset in its partition.
	Offset int64
	// Key is the record key (the symbol); nil when the record has none.
	Key []byte
	// Value is the record value (one JSON object).
	Value []byte
	// Time is the record timestamp (millisecond precision).
	Time time.Time
}

// Batch is a run of consecutive records of one partition, in offset order.
//
// The receiver owns a Batch and everything it references: Records is
// allocated for every Batch, and the Key and Value of each record point
// into a buffer allocated for the fetch response that carried it; the
// Consumer never touches either again, so they may be retained (a
// retained Key or Value keeps its response's buffer alive).
type Batch struct {
	// Partition is the partition the records come from.
	Partition int
	// Records are the records, offsets increasing. A Batch carries no
	// record only when it announces that the partition caught up without
	// a record to carry the news (the partition was empty, or the start
	// offset was already at its end).
	Records []Record
	// HighWater is the partition high-water mark as of the fetch that
	// returned these records; HighWater minus the last offset minus one is
	// the lag.
	HighWater int64
	// CaughtUp is true once the partition has reached the end offset it
	// had when its reader started (bootstrap done), and stays true on
	// every later Batch. The first Batch with CaughtUp true ends exactly at
	// that offset.
	CaughtUp bool
}

// Consumer reads every partition of one topic, or those of
// Config.Partitions. See the package documentation for its behaviour and
// concurrency contract.
type Consumer struct {
	cfg    Config
	m      *Metrics
	log    *slog.Logger
	dialer *kafka.Dialer

	started   atomic.Bool
	listingOK atomic.Bool // the last listing of partitions succeeded
	origin    time.Time   // origin of partState.lastFetch
	nextSeed  atomic.Uint32
	// warnedMissing: a partition of Config.Partitions was found missing.
	warnedMissing atomic.Bool

	mu    sync.Mutex
	parts map[int]*partState
}

// partState is what Ready and Connected read from a partition reader.
type partState struct {
	id        int
	caughtUp  atomic.Bool
	connected atomic.Bool
	lastFetch atomic.Int64 // time since Consumer.origin of the last fetch or hand-off, ns; 0 before any
}

// NewConsumer validates cfg (after applying its defaults) and returns a
// Consumer. A nil m means fresh unregistered Metrics. NewConsumer does not
// contact the brokers.
func NewConsumer(cfg Config, m *Metrics) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Consumer{
		cfg: cfg,
		m:   m,
		log: cfg.Logger.With("topic", cfg.Topic),
		dialer: &kafka.Dialer{
			ClientID:  cfg.ClientID,
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
		},
		parts:  make(map[int]*partState),
		origin: time.Now(),
	}, nil
}

// Run discovers the topic's partitions (those of Config.Partitions when it
// is set) and, for each, starts one reader goroutine that fetches records
// and sends Batches on a channel it creates, and calls
// handler(ctx, partition, ch) in a new goroutine that owns that partition. The handler must return when ch is closed or ctx ends; the
// reader closes ch when ctx ends. Partitions are listed again every
// PartitionRefresh; added partitions get their own reader and handler.
//
// Broker errors never end Run: readers reconnect with capped, jittered
// exponential backoff, logging and counting each failure. Run returns nil
// once ctx has ended and every reader and handler has returned. It returns
// ErrNilHandler or ErrAlreadyRun at once on misuse.
func (c *Consumer) Run(ctx context.Context, handler func(ctx context.Context, partition int, in <-chan Batch)) error {
	if handler == nil {
		return ErrNilHandler
	}
	if !c.started.CompareAndSwap(false, true) {
		return ErrAlreadyRun
	}
	var wg sync.WaitGroup
	defer wg.Wait()

	failures := 0
	// Partitions of the first successful listing start at Config.Start;
	// those that appear later did not exist when the consumer started, so
	// all their records are new: they start at their earliest offset.
	start := c.cfg.Start
	for ctx.Err() == nil {
		ids, err := c.listPartitions(ctx)
		wait := c.cfg.PartitionRefresh
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.listingOK.Store(false)
			c.m.metadataErrors.Inc()
			lvl := slog.LevelWarn
			if failures > 0 {
				lvl = slog.LevelDebug
			}
			c.log.Log(ctx, lvl, "feed: listing partitions failed", "err", err, "attempt", failures+1)
			wait = backoff(failures, c.cfg.BackoffMin, c.cfg.BackoffMax)
			failures++
		} else {
			if failures > 0 {
				c.log.Info("feed: listing partitions recovered", "attempts", failures)
			}
			failures = 0
			c.listingOK.Store(true)
			ids = c.selectPartitions(ctx, ids)
			for _, id := range ids {
				if st := c.addPartition(id); st != nil {
					c.startPartition(ctx, &wg, st, start, handler)
				}
			}
			start = StartEarliest
		}
		if !sleep(ctx, wait) {
			break
		}
	}
	return nil
}

// selectPartitions returns the ids of the topic's partitions this consumer
// reads: all of them, or those of Config.Partitions. A listed partition
// the topic lacks is logged (at Warn the first time it is seen missing).
func (c *Consumer) selectPartitions(ctx context.Context, ids []int) []int {
	if len(c.cfg.Partitions) == 0 {
		return ids
	}
	var missing []int
	for _, p := range c.cfg.Partitions {
		if !slices.Contains(ids, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		lvl := slog.LevelDebug
		if !c.warnedMissing.Swap(true) {
			lvl = slog.LevelWarn
		}
		c.log.Log(ctx, lvl, "feed: configured partitions are not in the topic; not ready until they are",
			"missing", missing, "topic_partitions", len(ids))
	}
	return slices.DeleteFunc(ids, func(id int) bool { return !slices.Contains(c.cfg.Partitions, id) })
}

// addPartition registers partition id and returns its state, or nil when
// it is already known.
func (c *Consumer) addPartition(id int) *partState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.parts[id]; ok {
		return nil
	}
	st := &partState{id: id}
	c.parts[id] = st
	c.m.partitions.Set(float64(len(c.parts)))
	return st
}

// startPartition starts the reader and the handler of one partition.
func (c *Consumer) startPartition(ctx context.Context, wg *sync.WaitGroup, st *partState, start string,
	handler func(context.Context, int, <-chan Batch)) {
	ch := make(chan Batch, batchQueue)
	handlerDone := make(chan struct{})
	r := &partitionReader{
		c:           c,
		st:          st,
		pm:          c.m.partition(st.id),
		out:         ch,
		handlerDone: handlerDone,
		log:         c.log.With("partition", st.id),
		start:       start,
		next:        -1,
		end:         -1,
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer close(handlerDone)
		handler(ctx, st.id, ch)
	}()
	go func() {
		defer wg.Done()
		defer close(ch)
		r.run(ctx)
	}()
	c.log.Info("feed: consuming partition", "partition", st.id, "start", start)
}

// Partitions returns the partitions being consumed, in increasing order.
func (c *Consumer) Partitions() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]int, 0, len(c.parts))
	for id := range c.parts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Ready reports whether at least one partition is known, every partition
// of Config.Partitions (when set) is known, and every known partition has
// caught up: its first Batch with CaughtUp set has been sent on its
// channel (the handler may still be applying it). A partition added
// later is not caught up until its reader reaches the end it saw at its
// start; a partition whose handler returned early is never caught up.
func (c *Consumer) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.parts) == 0 {
		return false
	}
	for _, p := range c.cfg.Partitions {
		if c.parts[p] == nil {
			return false // listed but not (yet) in the topic
		}
	}
	for _, st := range c.parts {
		if !st.caughtUp.Load() {
			return false
		}
	}
	return true
}

// Connected reports whether the brokers answer: the last listing of
// partitions succeeded and the last request of every partition reader
// succeeded (a reader whose handler returned early counts as failed). Every broker request carries a deadline (DialTimeout, plus
// MaxWait for fetches), so a broker that stops answering turns Connected
// false within that bound.
func (c *Consumer) Connected() bool {
	if !c.listingOK.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.parts) == 0 {
		return false
	}
	for _, st := range c.parts {
		if !st.connected.Load() {
			return false
		}
	}
	return true
}

// LastFetch returns when the reader of partition last got a successful
// answer from the broker or handed records to its handler; the zero Time
// before either happened or for an unknown partition. A healthy idle reader
// gets an answer every MaxWait, so the age of LastFetch measures how long
// the partition has been unreachable. Safe from any goroutine.
func (c *Consumer) LastFetch(partition int) time.Time {
	c.mu.Lock()
	st := c.parts[partition]
	c.mu.Unlock()
	if st == nil {
		return time.Time{}
	}
	d := st.lastFetch.Load()
	if d == 0 {
		return time.Time{}
	}
	return c.origin.Add(time.Duration(d))
}

// fetched records a successful broker answer or a hand-off of partition st.
func (c *Consumer) fetched(st *partState) {
	st.lastFetch.Store(max(int64(time.Since(c.origin)), 1))
}
