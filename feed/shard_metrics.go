package feed

import "github.com/prometheus/client_golang/prometheus"

// IngestMetrics count what the shards do with the records they read.
// Labels are fixed sets of reasons and record types.
type IngestMetrics struct {
	// Applied counts records applied, by type.
	Applied *prometheus.CounterVec
	// Rejected counts records refused as invalid, by reason; the book is
	// left untouched by a rejected record.
	Rejected *prometheus.CounterVec
	// Skipped counts valid book records not applied because the book was
	// waiting for its first snapshot or stale after a gap, by state.
	Skipped *prometheus.CounterVec
	// Gaps counts sequence gaps, each of which made a book stale.
	Gaps prometheus.Counter
	// Snapshots counts snapshots by outcome: "applied" (book replaced),
	// "verified" (identical to the book held), "corrected" (same sequence,
	// different content: the book was replaced), "new_epoch" (a publisher
	// epoch above the book's: the book was replaced whatever its seq).
	Snapshots *prometheus.CounterVec
	// Crossed counts events after which a book was crossed.
	Crossed prometheus.Counter
	// HistoryBytes is the memory of the book histories of every symbol
	// (market.Symbol.HistoryBytes), summed by each shard at its tick.
	HistoryBytes prometheus.Gauge
	// CandleLate counts trades left out of a resolution's candles for
	// being older than its candle in progress.
	CandleLate prometheus.Counter
}

// NewIngestMetrics creates the collectors and registers them with reg; a
// nil reg leaves them unregistered.
func NewIngestMetrics(reg prometheus.Registerer) *IngestMetrics {
	m := &IngestMetrics{
		Applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_feed_records_applied_total", Help: "Records applied to books and tickers, by type.",
		}, []string{"type"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_feed_records_rejected_total", Help: "Invalid records skipped, by reason.",
		}, []string{"reason"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_feed_records_skipped_total", Help: "Book records not applied while a book waits for a snapshot, by book state.",
		}, []string{"state"}),
		Gaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_feed_sequence_gaps_total", Help: "Sequence gaps detected; each makes a book stale until its next snapshot.",
		}),
		Snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_feed_snapshots_total", Help: "Snapshots by outcome: applied, verified, corrected, new_epoch.",
		}, []string{"outcome"}),
		Crossed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_feed_crossed_books_total", Help: "Events after which a book was crossed (best bid >= best ask); such a book is stale until a snapshot that is not.",
		}),
		HistoryBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "marketfeed_history_bytes", Help: "Memory of the book histories from which subscribers resume, over all symbols.",
		}),
		CandleLate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "marketfeed_feed_candle_late_trades_total", Help: "Trades left out of the candles of a resolution for being older than its candle in progress (closed candles are final).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Applied, m.Rejected, m.Skipped, m.Gaps, m.Snapshots, m.Crossed, m.HistoryBytes, m.CandleLate)
	}
	return m
}
