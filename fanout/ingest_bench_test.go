package fanout_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/sim"
)

// BenchmarkIngest measures the ingest path as the server runs it without
// subscribers: decoding pre-encoded Kafka records, applying them to the
// market state (feed.Shard.Apply) and telling the hub's Group, on one
// goroutine (a synthetic market of 20 symbols: deltas of one to four
// level changes, trades, periodic snapshots). feed's BenchmarkShardApply
// is the same without the Group. It reports level changes per second.
func BenchmarkIngest(b *testing.B) {
	wl, err := sim.NewWorkload(sim.Config{Seed: 3}, 1<<16)
	if err != nil {
		b.Fatal(err)
	}
	boot, recs, changes := wl.Boot, wl.Records, wl.Changes
	// Each pass applies the records to a fresh shard that has read the
	// boot snapshots (untimed), so every record is applied.
	var sh *feed.Shard
	fresh := func() {
		hub, err := fanout.NewHub(fanout.Config{}, fanout.NewMetrics(nil))
		if err != nil {
			b.Fatal(err)
		}
		sh = feed.NewShard(feed.ShardConfig{Listener: hub.NewGroup(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, 0)
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
