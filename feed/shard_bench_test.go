package feed

import (
	"io"
	"log/slog"
	"testing"

	"github.com/marketfeed/marketfeed/internal/sim"
)

// BenchmarkShardApply measures decoding plus applying pre-encoded Kafka
// records (a synthetic market of 20 symbols: deltas of one to four level
// changes, trades, periodic snapshots) on one goroutine, to the market
// state only: no listener (fanout's BenchmarkIngest adds the delivery
// side without subscribers). It reports level changes per second, the figure the
// ingest path is sized by (target: at least 1,000,000 on one core).
func BenchmarkShardApply(b *testing.B) {
	wl, err := sim.NewWorkload(sim.Config{Seed: 3}, 1<<16)
	if err != nil {
		b.Fatal(err)
	}
	boot, recs, changes := wl.Boot, wl.Records, wl.Changes
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
