package feed

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fixedpoint"
	"github.com/marketfeed/marketfeed/orderbook"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons added by the shard to those of schemas.DecodeError.
const (
	ReasonKeyMismatch   = "key_mismatch"   // record key differs from its symbol
	ReasonUnknownSymbol = "unknown_symbol" // no instrument definition seen yet
	ReasonPrecision     = "precision"      // more fractional digits than the instrument's scale
	ReasonOutOfRange    = "out_of_range"   // value too large for the instrument's scale
	ReasonOffTick       = "off_tick"       // price not a multiple of the tick size
	ReasonOffLot        = "off_lot"        // size not a multiple of the lot size
	ReasonSeqBackwards  = "seq_backwards"  // delta sequence not above the book's
	ReasonStaleSnapshot = "stale_snapshot" // snapshot older than the live book
	ReasonDuplicate     = "duplicate_level"
	ReasonOldEpoch      = "old_epoch" // snapshot or delta of an epoch older than the book's
)

// Defaults of the freshness bounds of ShardConfig.
const (
	// DefaultFeedDownAfter is the default ShardConfig.FeedDownAfter.
	DefaultFeedDownAfter = 2 * time.Second
	// DefaultSilentAfter is the default ShardConfig.SilentAfter.
	DefaultSilentAfter = 30 * time.Second
)

// ShardConfig configures the shards that own the books.
type ShardConfig struct {
	// Hub receives the topics of the symbols. Required.
	Hub *fanout.Hub
	// Metrics counts applied and rejected records. Nil means unregistered.
	Metrics *IngestMetrics
	// Logger, nil means slog.Default().
	Logger *slog.Logger
	// FlushEvery is the period of the finest throttled interval. Zero means
	// 100ms; tests may shorten it. The freshness checks run at this period
	// too.
	FlushEvery time.Duration
	// LastFetch returns when the partition's reader last got an answer
	// from the broker or handed records over (Consumer.LastFetch). Nil
	// disables the feed-down check.
	LastFetch func() time.Time
	// FeedDownAfter is how long the partition may go without a fetch
	// before its books are announced stale with reason feed_down. Zero
	// means DefaultFeedDownAfter (2s).
	FeedDownAfter time.Duration
	// SilentAfter is how long a served book may go without an applied or
	// verified snapshot or delta before it is announced stale with reason
	// silent; it must exceed the publisher's snapshot period. Zero means
	// DefaultSilentAfter (30s); negative disables the check.
	SilentAfter time.Duration
}

// Shard owns the books, tickers and topics of the symbols of one partition.
// Its Run goroutine is the only one that touches them; other goroutines
// reach them through Exec.
type Shard struct {
	cfg       ShardConfig
	partition int
	symbols   map[string]*symbolState
	topics    []*fanout.Streams
	cmds      chan func()
	done      chan struct{}
	log       *slog.Logger
	m         *IngestMetrics

	rec        schemas.Record
	levels     [2][]orderbook.Level // parsed levels of the record being applied
	flushTicks int
	feedDown   bool      // the partition could not be fetched for FeedDownAfter
	started    time.Time // when the shard was created

	// Counters resolved once: WithLabelValues is a map lookup.
	appliedDelta, appliedTrade prometheus.Counter

	position atomic.Int64 // offset of the next record to apply; -1 before the first
}

type symbolState struct {
	name                  string
	priceScale, sizeScale int
	tick, lot             int64
	book                  *orderbook.Book
	ticker                *orderbook.Ticker
	topic                 *fanout.Streams
	// state is the book's sequence state: Waiting (no snapshot), Live
	// (following the sequence), Stale (the sequence broke). Whether the
	// book is served also depends on crossed, silent and the shard's
	// feedDown (staleReason).
	state  fanout.BookState
	seq    uint64
	epoch  uint64 // publisher epoch of seq
	bookTS int64  // exchange time of the record that brought the book to seq
	// crossed: the book became crossed; cleared only by a snapshot that
	// leaves it uncrossed.
	crossed bool
	// advanced: a snapshot or delta was accepted since the last freshness
	// check, which then sets quietSince.
	advanced   bool
	quietSince time.Time
	silent     bool
}

// NewShard returns the shard of one partition.
func NewShard(cfg ShardConfig, partition int) *Shard {
	if cfg.Metrics == nil {
		cfg.Metrics = NewIngestMetrics(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.FlushEvery == 0 {
		cfg.FlushEvery = 100 * time.Millisecond
	}
	if cfg.FeedDownAfter == 0 {
		cfg.FeedDownAfter = DefaultFeedDownAfter
	}
	if cfg.SilentAfter == 0 {
		cfg.SilentAfter = DefaultSilentAfter
	}
	sh := &Shard{
		cfg:       cfg,
		partition: partition,
		symbols:   make(map[string]*symbolState),
		cmds:      make(chan func(), 1024),
		done:      make(chan struct{}),
		log:       cfg.Logger.With("partition", partition),
		m:         cfg.Metrics,

		appliedDelta: cfg.Metrics.Applied.WithLabelValues("delta"),
		appliedTrade: cfg.Metrics.Applied.WithLabelValues("trade"),
	}
	sh.position.Store(-1)
	sh.started = time.Now()
	return sh
}

// Exec runs fn on the shard's goroutine; it implements fanout.Owner.
func (s *Shard) Exec(fn func()) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.cmds <- fn:
		return true
	case <-s.done:
		return false
	}
}

// Position returns the offset of the next record the shard would apply
// (the last applied record's offset plus one), or -1 before it applied any
// record of a batch. Safe from any goroutine.
func (s *Shard) Position() int64 { return s.position.Load() }

// Run applies the batches of in until it is closed or ctx ends, serving
// Exec requests and flushing throttled streams in between. It has the
// signature Consumer.Run expects of a partition handler's body.
func (s *Shard) Run(ctx context.Context, in <-chan Batch) {
	defer close(s.done)
	flush := time.NewTicker(s.cfg.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return
			}
			for i := range b.Records {
				s.Apply(b.Records[i].Key, b.Records[i].Value)
			}
			if n := len(b.Records); n > 0 {
				s.position.Store(b.Records[n-1].Offset + 1)
			}
		case fn := <-s.cmds:
			fn()
		case now := <-flush.C:
			s.CheckFreshness(now)
			s.flushTicks++
			for _, t := range s.topics {
				t.Flush(fanout.Every100ms)
				if s.flushTicks%10 == 0 {
					t.Flush(fanout.Every1s)
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// Apply decodes and applies one record. It must run on the shard's
// goroutine (Run calls it; tests and benchmarks may call it directly on a
// shard that is not running).
func (s *Shard) Apply(key, value []byte) {
	if err := schemas.DecodeRecord(value, &s.rec); err != nil {
		var de *schemas.DecodeError
		if errors.As(err, &de) {
			s.reject(string(de.Reason), err)
		} else {
			s.reject(string(schemas.ReasonInvalidJSON), err)
		}
		return
	}
	r := &s.rec
	if len(key) > 0 && !bytes.Equal(key, r.Symbol) {
		s.reject(ReasonKeyMismatch, nil)
		return
	}
	st := s.symbols[string(r.Symbol)]
	if r.Type == schemas.RecordInstrument {
		s.applyInstrument(st, r)
		return
	}
	if st == nil {
		s.reject(ReasonUnknownSymbol, nil)
		return
	}
	st.ticker.Advance(r.TS)
	switch r.Type {
	case schemas.RecordSnapshot:
		s.applySnapshot(st, r)
	case schemas.RecordDelta:
		s.applyDelta(st, r)
	case schemas.RecordTrade:
		s.applyTrade(st, r)
	}
}

func (s *Shard) reject(reason string, err error) {
	s.m.Rejected.WithLabelValues(reason).Inc()
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("record rejected", "reason", reason, "err", err)
	}
}

func (s *Shard) applyInstrument(st *symbolState, r *schemas.Record) {
	tick, lot := int64(1), int64(1)
	var err error
	if r.TickSize != nil {
		if tick, err = fixedpoint.ParseBytes(r.TickSize, r.PriceScale); err != nil || tick <= 0 {
			s.rejectValue(err, "tick_size")
			return
		}
	}
	if r.LotSize != nil {
		if lot, err = fixedpoint.ParseBytes(r.LotSize, r.SizeScale); err != nil || lot <= 0 {
			s.rejectValue(err, "lot_size")
			return
		}
	}
	s.m.Applied.WithLabelValues("instrument").Inc()
	if st == nil {
		name := string(r.Symbol)
		st = &symbolState{
			name:       name,
			priceScale: r.PriceScale, sizeScale: r.SizeScale,
			tick: tick, lot: lot,
			book:   orderbook.New(),
			ticker: orderbook.NewTicker(r.PriceScale, r.SizeScale),
			state:  fanout.Waiting,
		}
		st.advanced = true
		st.topic = s.cfg.Hub.NewStreams(name, s, st.book, st.ticker, r.PriceScale, r.SizeScale)
		s.symbols[name] = st
		s.topics = append(s.topics, st.topic)
		s.log.Info("instrument defined", "symbol", name, "price_scale", r.PriceScale, "size_scale", r.SizeScale)
		return
	}
	st.tick, st.lot = tick, lot
	if st.priceScale != r.PriceScale || st.sizeScale != r.SizeScale {
		s.log.Warn("instrument scale changed; book waits for the next snapshot", "symbol", st.name)
		st.priceScale, st.sizeScale = r.PriceScale, r.SizeScale
		st.book.Reset()
		st.ticker = orderbook.NewTicker(r.PriceScale, r.SizeScale)
		st.state, st.crossed, st.silent = fanout.Waiting, false, false
		st.topic.Redefine(r.PriceScale, r.SizeScale, st.ticker)
	}
}

// rejectValue rejects a record for a decimal that does not fit the
// instrument.
func (s *Shard) rejectValue(err error, field string) {
	switch {
	case errors.Is(err, fixedpoint.ErrPrecision):
		s.reject(ReasonPrecision, err)
	case errors.Is(err, fixedpoint.ErrRange):
		s.reject(ReasonOutOfRange, err)
	case err == nil:
		s.reject(string(schemas.ReasonInvalidField), errors.New(field+" must be positive"))
	default:
		s.reject(string(schemas.ReasonBadDecimal), err)
	}
}

// parseLevels converts the record's levels at the instrument's scales into
// s.levels, checking the tick and lot grid. On failure it has counted the
// rejection and returns false.
func (s *Shard) parseLevels(st *symbolState, r *schemas.Record) bool {
	for side, in := range [2][]schemas.Level{r.Bids, r.Asks} {
		out := s.levels[side][:0]
		for _, l := range in {
			p, err := fixedpoint.ParseBytes(l.Price, st.priceScale)
			if err != nil {
				s.rejectValue(err, "price")
				return false
			}
			q, err := fixedpoint.ParseBytes(l.Size, st.sizeScale)
			if err != nil {
				s.rejectValue(err, "size")
				return false
			}
			if p%st.tick != 0 {
				s.reject(ReasonOffTick, nil)
				return false
			}
			if q%st.lot != 0 {
				s.reject(ReasonOffLot, nil)
				return false
			}
			out = append(out, orderbook.Level{Price: p, Size: q})
		}
		s.levels[side] = out
	}
	return true
}

func (s *Shard) applySnapshot(st *symbolState, r *schemas.Record) {
	newEpoch := r.Epoch > st.epoch
	switch {
	case r.Epoch < st.epoch:
		s.reject(ReasonOldEpoch, nil)
		return
	case !newEpoch && st.state == fanout.Live && r.Seq < st.seq:
		s.reject(ReasonStaleSnapshot, nil)
		return
	}
	if !s.parseLevels(st, r) {
		return
	}
	// Best first on each side; equal neighbours are duplicate prices.
	slices.SortFunc(s.levels[orderbook.Bid], func(a, b orderbook.Level) int { return cmp.Compare(b.Price, a.Price) })
	slices.SortFunc(s.levels[orderbook.Ask], func(a, b orderbook.Level) int { return cmp.Compare(a.Price, b.Price) })
	for _, lv := range s.levels {
		for i := 1; i < len(lv); i++ {
			if lv[i].Price == lv[i-1].Price {
				s.reject(ReasonDuplicate, nil)
				return
			}
		}
	}
	outcome := "applied"
	switch {
	case newEpoch && st.state != fanout.Waiting:
		outcome = "new_epoch"
		s.log.Info("snapshot of a new publisher epoch; book replaced", "symbol", st.name,
			"epoch", r.Epoch, "seq", r.Seq, "old_epoch", st.epoch, "old_seq", st.seq)
	case !newEpoch && st.state == fanout.Live && r.Seq == st.seq:
		if s.bookEquals(st.book) {
			s.m.Snapshots.WithLabelValues("verified").Inc()
			st.advanced = true
			if st.silent || st.crossed {
				// Confirmed: fresh again, and crossed only if it still is.
				st.silent, st.crossed = false, st.book.Crossed()
				s.serve(st)
			}
			return
		}
		outcome = "corrected"
		s.log.Warn("snapshot differs from the book at the same sequence; book replaced", "symbol", st.name, "seq", r.Seq)
	}
	st.book.Reset()
	for side, lv := range s.levels {
		for _, l := range lv {
			st.book.Set(orderbook.Side(side), l.Price, l.Size)
		}
	}
	if st.state == fanout.Stale || st.crossed {
		s.log.Info("book recovered from snapshot", "symbol", st.name, "seq", r.Seq)
	}
	st.state, st.epoch, st.seq, st.bookTS = fanout.Live, r.Epoch, r.Seq, r.TS
	st.advanced, st.silent = true, false
	st.crossed = st.book.Crossed()
	s.m.Snapshots.WithLabelValues(outcome).Inc()
	s.m.Applied.WithLabelValues("snapshot").Inc()
	if st.crossed {
		s.m.Crossed.Inc()
		s.log.Warn("snapshot of a crossed book; book stale until a snapshot that is not", "symbol", st.name, "seq", r.Seq)
	}
	if reason := s.staleReason(st); reason != "" {
		st.topic.Stale(reason)
		st.topic.Track(st.epoch, st.seq, st.bookTS)
		return
	}
	st.topic.ResetEpoch(st.epoch, st.seq, st.bookTS)
}

// staleReason returns why a book whose sequence state is Live or Stale is
// not served, "" when it is served.
func (s *Shard) staleReason(st *symbolState) string {
	switch {
	case st.state == fanout.Stale:
		return schemas.ReasonGap
	case st.crossed:
		return schemas.ReasonCrossed
	case s.feedDown:
		return schemas.ReasonFeedDown
	case st.silent:
		return schemas.ReasonSilent
	}
	return ""
}

// serve brings the topic's serving state in line with st after a change of
// freshness: stale with the current reason, or served again from a fresh
// snapshot of the book.
func (s *Shard) serve(st *symbolState) {
	if st.state == fanout.Waiting {
		return
	}
	if reason := s.staleReason(st); reason != "" {
		st.topic.Stale(reason)
		return
	}
	if state, _ := st.topic.State(); state != fanout.Live {
		st.topic.ResetEpoch(st.epoch, st.seq, st.bookTS)
	}
}

// CheckFreshness applies the freshness bounds at time now: books of a
// partition that could not be fetched for FeedDownAfter become stale
// (feed_down), books that nothing advanced for SilentAfter become stale
// (silent), and books whose cause went away are served again from a fresh
// snapshot. Run calls it every FlushEvery; it must run on the shard's
// goroutine.
func (s *Shard) CheckFreshness(now time.Time) {
	if s.cfg.LastFetch != nil {
		// Before the first fetch, the bound counts from the shard's start.
		last := s.cfg.LastFetch()
		if last.Before(s.started) {
			last = s.started
		}
		down := now.Sub(last) > s.cfg.FeedDownAfter
		if down != s.feedDown {
			s.feedDown = down
			if down {
				s.log.Warn("partition not fetched; its books are stale until it is", "bound", s.cfg.FeedDownAfter)
			} else {
				s.log.Info("partition fetched again; books served from fresh snapshots")
			}
			for _, st := range s.symbols {
				// Silence is measured from the recovery, not across the
				// outage.
				st.quietSince, st.silent = now, false
				s.serve(st)
			}
		}
	}
	if s.cfg.SilentAfter < 0 || s.feedDown {
		return
	}
	for _, st := range s.symbols {
		switch {
		case st.advanced:
			st.advanced = false
			st.quietSince = now
		case !st.silent && st.state == fanout.Live && now.Sub(st.quietSince) > s.cfg.SilentAfter:
			st.silent = true
			s.log.Warn("book silent; stale until a snapshot or delta arrives", "symbol", st.name, "bound", s.cfg.SilentAfter)
			s.serve(st)
		}
	}
}

func (s *Shard) bookEquals(b *orderbook.Book) bool {
	for side, lv := range s.levels {
		if b.Len(orderbook.Side(side)) != len(lv) {
			return false
		}
		for i, l := range lv {
			if b.At(orderbook.Side(side), i) != l {
				return false
			}
		}
	}
	return true
}

func (s *Shard) applyDelta(st *symbolState, r *schemas.Record) {
	if r.Epoch < st.epoch {
		s.reject(ReasonOldEpoch, nil)
		return
	}
	if st.state != fanout.Live {
		s.m.Skipped.WithLabelValues(st.state.String()).Inc()
		return
	}
	if r.Epoch > st.epoch {
		// The publisher renumbered: nothing of the new epoch can be
		// applied before its snapshot.
		s.m.Gaps.Inc()
		s.m.Skipped.WithLabelValues(fanout.Stale.String()).Inc()
		s.log.Warn("delta of a new publisher epoch; book stale until its snapshot", "symbol", st.name, "have", st.epoch, "got", r.Epoch)
		st.state = fanout.Stale
		s.serve(st)
		return
	}
	if r.Seq <= st.seq {
		s.reject(ReasonSeqBackwards, nil)
		return
	}
	if !s.parseLevels(st, r) {
		// Not applied and its sequence not consumed: if the exchange meant
		// it, the next delta shows a gap and the book goes stale.
		return
	}
	if r.Seq != st.seq+1 {
		s.m.Gaps.Inc()
		s.log.Warn("sequence gap; book stale until the next snapshot", "symbol", st.name, "have", st.seq, "got", r.Seq)
		st.state = fanout.Stale
		s.serve(st)
		return
	}
	for side, lv := range s.levels {
		for _, l := range lv {
			st.topic.SetLevel(orderbook.Side(side), l.Price, l.Size)
		}
	}
	st.seq, st.bookTS = r.Seq, r.TS
	st.advanced, st.silent = true, false
	s.appliedDelta.Inc()
	if st.book.Crossed() {
		s.m.Crossed.Inc()
		if !st.crossed {
			st.crossed = true
			s.log.Warn("book crossed; stale until a snapshot that is not", "symbol", st.name, "seq", r.Seq)
		}
	}
	reason := s.staleReason(st)
	if reason != "" {
		st.topic.Stale(reason) // before Applied, which then emits nothing
	}
	st.topic.Applied(r.Seq, r.TS)
	if reason == "" {
		s.serve(st) // silent until this delta: served again
	}
}

func (s *Shard) applyTrade(st *symbolState, r *schemas.Record) {
	p, err := fixedpoint.ParseBytes(r.Price, st.priceScale)
	if err != nil {
		s.rejectValue(err, "price")
		return
	}
	q, err := fixedpoint.ParseBytes(r.Size, st.sizeScale)
	if err != nil || q <= 0 {
		s.rejectValue(err, "size")
		return
	}
	st.ticker.Add(orderbook.Trade{TS: r.TS, Price: p, Size: q})
	st.topic.Trade(string(r.TradeID), r.TS, p, q, r.Side)
	s.appliedTrade.Inc()
}
