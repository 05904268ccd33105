package feed

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons added by the shard to those of schemas.DecodeError
// and of the market state (market.ReasonOffTick, ...), under the names of
// the rejection metric.
const (
	ReasonKeyMismatch   = "key_mismatch"   // record key differs from its symbol
	ReasonUnknownSymbol = "unknown_symbol" // no instrument definition seen yet
)

// Defaults of the freshness bounds of ShardConfig.
const (
	// DefaultFeedDownAfter is the default ShardConfig.FeedDownAfter.
	DefaultFeedDownAfter = 2 * time.Second
	// DefaultSilentAfter is the default ShardConfig.SilentAfter.
	DefaultSilentAfter = 30 * time.Second
)

// ShardConfig configures the shards that own the market state.
type ShardConfig struct {
	// Listener is told of every change of the shard's symbols (a
	// fanout.Group delivers them to WebSocket clients); one listener per
	// shard, as it runs on the shard's goroutine. Nil means none.
	Listener Listener
	// Metrics counts applied and rejected records. Nil means unregistered.
	Metrics *IngestMetrics
	// Logger, nil means slog.Default().
	Logger *slog.Logger
	// FlushEvery is the period of Listener.Tick, the period of the finest
	// throttled interval. Zero means 100ms (schemas.Every100ms); tests may
	// shorten it. The freshness checks run at this period too.
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
	// History bounds the book history of each symbol (the zero value:
	// market's defaults, 60s and 1 MiB).
	History market.HistoryLimits
	// Trades bounds each symbol's trade history (market.TradeHistoryConfig:
	// 5m and 1 MiB by default).
	Trades market.TradeHistoryConfig
	// TradeHistory measures the trade histories' memory. Nil means
	// unregistered.
	TradeHistory *TradeHistoryMetrics
}

// Shard owns the market state of the symbols of one partition and tells
// its listener of every change. Its Run goroutine is the only one that
// touches them; other goroutines reach them through Exec.
type Shard struct {
	cfg       ShardConfig
	partition int
	symbols   map[string]*market.Symbol
	listener  Listener
	cmds      chan func()
	done      chan struct{}
	log       *slog.Logger
	m         *IngestMetrics

	rec      schemas.Record
	scratch  market.Scratch // parsed levels of the record being applied
	feedDown bool           // the partition could not be fetched for FeedDownAfter
	started  time.Time      // when the shard was created
	checked  time.Time      // time of the last freshness check
	// histBytes is the history memory of the shard's symbols last added
	// to the HistoryBytes gauge.
	histBytes int64

	// Counters resolved once: WithLabelValues is a map lookup.
	appliedDelta, appliedTrade prometheus.Counter

	position atomic.Int64 // offset of the next record to apply; -1 before the first
	offset   int64        // offset of the record being applied; -1 when unknown (Apply called directly)
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
		cfg.FlushEvery = schemas.Every100ms.Period()
	}
	if cfg.FeedDownAfter == 0 {
		cfg.FeedDownAfter = DefaultFeedDownAfter
	}
	if cfg.SilentAfter == 0 {
		cfg.SilentAfter = DefaultSilentAfter
	}
	if cfg.TradeHistory == nil {
		cfg.TradeHistory = NewTradeHistoryMetrics(nil)
	}
	cfg.Trades = cfg.Trades.WithDefaults()
	sh := &Shard{
		cfg:       cfg,
		partition: partition,
		symbols:   make(map[string]*market.Symbol),
		listener:  cfg.Listener,
		cmds:      make(chan func(), 1024),
		done:      make(chan struct{}),
		log:       cfg.Logger.With("partition", partition),
		m:         cfg.Metrics,

		appliedDelta: cfg.Metrics.Applied.WithLabelValues("delta"),
		appliedTrade: cfg.Metrics.Applied.WithLabelValues("trade"),
	}
	if sh.listener == nil {
		sh.listener = nopListener{}
	}
	sh.position.Store(-1)
	sh.offset = -1
	sh.started = time.Now()
	return sh
}

// Exec runs fn on the shard's goroutine; it implements market.Owner.
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
// Exec requests and ticking the listener every FlushEvery in between. It has the
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
				s.offset = b.Records[i].Offset
				s.Apply(b.Records[i].Key, b.Records[i].Value)
			}
			s.offset = -1
			if n := len(b.Records); n > 0 {
				s.position.Store(b.Records[n-1].Offset + 1)
			}
		case fn := <-s.cmds:
			fn()
		case now := <-flush.C:
			s.CheckFreshness(now)
			s.listener.Tick()
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
	sym := s.symbols[string(r.Symbol)]
	if r.Type == schemas.RecordInstrument {
		s.applyInstrument(sym, r)
		return
	}
	if sym == nil {
		s.reject(ReasonUnknownSymbol, nil)
		return
	}
	switch r.Type {
	case schemas.RecordSnapshot:
		s.applySnapshot(sym, r)
	case schemas.RecordDelta:
		s.applyDelta(sym, r)
	case schemas.RecordTrade:
		s.applyTrade(sym, r)
	}
}

func (s *Shard) reject(reason string, err error) {
	s.m.Rejected.WithLabelValues(reason).Inc()
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("record rejected", "reason", reason, "err", err)
	}
}
