package feed

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// BenchmarkShardApply measures decoding plus applying pre-encoded Kafka
// records (a synthetic market of 20 symbols: deltas of one to four level
// changes, trades, periodic snapshots) on one goroutine, to the market
// state only: no listener (fanout's BenchmarkIngest adds the delivery
// side without subscribers). It reports level changes per second, the figure the
// ingest path is sized by (target: at least 1,000,000 on one core).
func BenchmarkShardApply(b *testing.B) {
	ex := sim.New(sim.Config{Seed: 3})
	boot := ex.Snapshots(time.Unix(1767225600, 0), nil)
	now := time.Unix(1767225600, 0)
	var recs []sim.Message
	for i := range 1 << 16 {
		now = now.Add(time.Millisecond)
		recs = ex.Next(now, recs)
		if i%20000 == 19999 {
			recs = ex.Snapshots(now, recs)
		}
	}
	// The level changes of one pass (delta levels; snapshot levels count
	// as changes too, as the book is rebuilt from them).
	changes := 0
	var r schemas.Record
	for _, m := range recs {
		if err := schemas.DecodeRecord(m.Value, &r); err != nil {
			b.Fatal(err)
		}
		if r.Type == schemas.RecordDelta || r.Type == schemas.RecordSnapshot {
			changes += len(r.Bids) + len(r.Asks)
		}
	}
	// Each pass applies the records to a fresh shard that has read the
	// boot snapshots (untimed), so every record is applied, none rejected
	// as a replay.
	var sh *Shard
	fresh := func() {
		sh = NewShard(ShardConfig{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, 0)
		for _, m := range boot {
			sh.Apply(m.Key, m.Value)
		}
	}
	fresh()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := i % len(recs)
		if k == 0 && i > 0 {
			b.StopTimer()
			fresh()
			b.StartTimer()
		}
		sh.Apply(recs[k].Key, recs[k].Value)
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/sec, "records/s")
	b.ReportMetric(float64(b.N)*float64(changes)/float64(len(recs))/sec, "changes/s")
}
