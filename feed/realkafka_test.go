package feed

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/kafkatest"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of this file run against a real Apache Kafka cluster
// (MARKETFEED_KAFKA_BROKERS; scripts/kafka.sh starts one) and skip without
// one. Each creates its own topic.

func kgoRecords(topic string, msgs []kafka.Message) []*kgo.Record {
	rs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		rs[i] = &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	}
	return rs
}

// TestRealKafkaDelivery: every record exactly once, in order, with its
// key and value, from a topic of 4 partitions.
func TestRealKafkaDelivery(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	admin := kafkatest.NewAdmin(t, brokers)
	topic := admin.CreateTopic(4, 1, nil)
	msgs := messages(0, 20_000, time.Now())
	admin.ProduceSync(kgoRecords(topic, msgs[:10_000])...)
	tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: StartEarliest})
	tc.waitCaughtUp(t, 4)
	admin.ProduceSync(kgoRecords(topic, msgs[10_000:])...)
	waitFor(t, 30*time.Second, "every record", func() bool { return tc.col.count() >= len(msgs) })
	checkDelivery(t, msgs, tc.col.records())
}

// TestRealKafkaPartitionAdded adds partitions to the topic while the
// consumer runs: it finds them at its next listing and delivers their
// records from their first, with the old partitions undisturbed.
func TestRealKafkaPartitionAdded(t *testing.T) {
	for _, start := range []string{StartLookback, StartLatest} {
		t.Run(start, func(t *testing.T) {
			brokers := kafkatest.Brokers(t)
			admin := kafkatest.NewAdmin(t, brokers)
			topic := admin.CreateTopic(2, 1, nil)
			tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: start, PartitionRefresh: 300 * time.Millisecond})
			tc.waitCaughtUp(t, 2)
			msgs := messages(0, 4000, time.Now())
			admin.ProduceSync(kgoRecords(topic, msgs[:2000])...)
			waitFor(t, 20*time.Second, "the first records", func() bool { return tc.col.count() >= 2000 })

			admin.AddPartitions(topic, 4)
			admin = kafkatest.NewAdmin(t, brokers) // a producer that knows the new partitions
			// Written before the consumer can have listed the new
			// partitions: they must be delivered all the same.
			admin.ProduceSync(kgoRecords(topic, msgs[2000:])...)
			waitFor(t, 20*time.Second, "4 partitions", func() bool { return len(tc.Partitions()) == 4 })
			tc.waitCaughtUp(t, 4)
			waitFor(t, 20*time.Second, "every record", func() bool { return tc.col.count() >= len(msgs) })
			got := tc.col.records()
			if len(got[2])+len(got[3]) == 0 {
				t.Fatal("no record from the added partitions")
			}
			checkDelivery(t, msgs, got)
		})
	}
}

// TestRealKafkaLargeRecords produces records just under the broker's
// max.message.bytes (1 MiB, Kafka's default), between small ones, with a
// fetch size (Config.MaxBytes) smaller than one of them: each is delivered
// whole, in order.
func TestRealKafkaLargeRecords(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	const maxMessage = 1048588 // Kafka's default message.max.bytes
	admin := kafkatest.NewAdmin(t, brokers, kgo.ProducerBatchMaxBytes(maxMessage), kgo.ProducerBatchCompression(kgo.NoCompression()))
	topic := admin.CreateTopic(1, 1, map[string]string{"max.message.bytes": fmt.Sprint(maxMessage)})
	now := time.Now()
	var msgs []kafka.Message
	for i := range 12 {
		m := message(i, now)
		if i%3 == 1 {
			// Record overhead: batch header 61 bytes, record header
			// and lengths about 20.
			pad := maxMessage - 200 - len(m.Value)
			m.Value = append(m.Value[:len(m.Value)-2:len(m.Value)-2], []byte(strings.Repeat("y", pad)+`"}`)...)
		}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		admin.ProduceSync(kgoRecords(topic, []kafka.Message{m})...)
	}
	tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: StartEarliest, MaxBytes: 256 << 10})
	waitFor(t, 30*time.Second, "every record", func() bool { return tc.col.count() >= len(msgs) })
	checkDelivery(t, msgs, tc.col.records())
	if big := len(msgs[1].Value); big < maxMessage-300 {
		t.Fatalf("large record of %d bytes", big)
	}
}

// TestRealKafkaCompactedTopic reads a compacted topic: the log cleaner
// removed all but the last record of each key from the older segments, so
// offsets have holes. The consumer delivers records of the log as
// produced, in offset order, the last of every key among them, catches up
// despite the holes and goes on with new records.
func TestRealKafkaCompactedTopic(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	admin := kafkatest.NewAdmin(t, brokers)
	topic := admin.CreateTopic(1, 1, map[string]string{
		"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.001",
		"min.compaction.lag.ms": "0", "delete.retention.ms": "100",
	})
	var produced []kafka.Message
	for round := range 5 {
		// Segments roll by record time (segment.ms past the first
		// record's timestamp): each round is stamped anew.
		// Keys cycle through 16 symbols, with a key of its own every
		// 50th record: compaction keeps those, and the last of each
		// symbol, so the cleaned log has holes.
		ms := messages(round*1000, 1000, time.Now())
		for i := range ms {
			if i%50 == 7 {
				ms[i].Key = fmt.Appendf(nil, "U-%d-%d", round, i)
			}
		}
		admin.ProduceSync(kgoRecords(topic, ms)...)
		produced = append(produced, ms...)
		time.Sleep(150 * time.Millisecond) // the next produce rolls the segment
	}
	// The log as the broker holds it, read with another client, once the
	// cleaner has run.
	var held []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	for {
		held = readAll(t, brokers, topic)
		if len(held) < len(produced) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log cleaner did not compact %s (still %d records)", topic, len(held))
		}
		roll := messages(9000, 1, time.Now())
		admin.ProduceSync(kgoRecords(topic, roll)...)
		produced = append(produced, roll...)
		time.Sleep(500 * time.Millisecond)
		held = nil
	}
	// The cleaner may go on while the consumer reads, so the consumer can
	// see a log compacted further than held: check what compaction
	// guarantees. Every record delivered is the one produced at its
	// offset (the only producer wrote them in order from offset 0),
	// offsets increase, and the last record of every key is delivered.
	tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: StartEarliest})
	tc.waitCaughtUp(t, 1)
	got := tc.col.records()[0]
	lastOf := map[string]int{}
	for i, m := range produced {
		lastOf[string(m.Key)] = i
	}
	seen := map[int64]bool{}
	holes := 0
	for i, g := range got {
		if g.Offset >= int64(len(produced)) || string(g.Value) != string(produced[g.Offset].Value) ||
			string(g.Key) != string(produced[g.Offset].Key) {
			t.Fatalf("record %d at offset %d is not the record produced there", i, g.Offset)
		}
		if i > 0 && g.Offset <= got[i-1].Offset {
			t.Fatalf("offset %d after %d", g.Offset, got[i-1].Offset)
		}
		if i > 0 && g.Offset != got[i-1].Offset+1 {
			holes++
		}
		seen[g.Offset] = true
	}
	for key, off := range lastOf {
		if !seen[int64(off)] {
			t.Fatalf("the last record of key %s (offset %d) was not delivered", key, off)
		}
	}
	if holes == 0 || len(got) >= len(produced) {
		t.Fatalf("compaction not seen by the consumer: %d of %d records, %d holes", len(got), len(produced), holes)
	}
	// New records after the holes.
	more := messages(10_000, 100, time.Now())
	admin.ProduceSync(kgoRecords(topic, more)...)
	waitFor(t, 20*time.Second, "the new records", func() bool { return tc.col.count() >= len(got)+len(more) })
	t.Logf("compacted log: %d of %d records delivered, %d holes (another reader saw %d)", len(got), len(produced), holes, len(held))
}

// readAll reads every record of partition 0 of topic with a franz-go
// consumer.
func readAll(t *testing.T, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	admin := kafkatest.NewAdmin(t, brokers)
	_, end, err := admin.Offsets(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// simRecords converts messages of the synthetic exchange and notes the last
// seq of each symbol's book records in last.
func simRecords(t *testing.T, topic string, msgs []sim.Message, last map[string]uint64) []*kgo.Record {
	t.Helper()
	rs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		var v struct {
			Type, Symbol string
			Seq          uint64
		}
		if err := json.Unmarshal(m.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Type == "snapshot" || v.Type == "delta" {
			last[v.Symbol] = v.Seq
		}
		rs[i] = &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	}
	return rs
}

// gatedShard runs a Shard behind a gate: while paused, the handler takes
// no Batch, so the partition's channel fills and its reader stops
// fetching, as behind a slow handler.
type gatedShard struct {
	syms   symbolIndex
	im     *IngestMetrics
	shard  *Shard
	paused atomic.Bool
}

func newGatedShard(t *testing.T) *gatedShard {
	t.Helper()
	g := &gatedShard{im: NewIngestMetrics(nil)}
	g.shard = NewShard(ShardConfig{Listener: &g.syms, Metrics: g.im, Logger: testLogger(t)}, 0)
	return g
}

func (g *gatedShard) handle(ctx context.Context, _ int, in <-chan Batch) {
	fwd := make(chan Batch)
	done := make(chan struct{})
	go func() { defer close(done); g.shard.Run(ctx, fwd) }()
	defer func() { close(fwd); <-done }()
	for {
		for g.paused.Load() {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case b, ok := <-in:
			if !ok {
				return
			}
			select {
			case fwd <- b:
			case <-ctx.Done():
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// at reports whether every symbol's book is live at its seq in want.
func (g *gatedShard) at(want map[string]uint64) bool {
	for sym, seq := range want {
		st, ok := g.syms.status(sym)
		if !ok {
			return false
		}
		if st.State != market.Live || st.Seq != seq {
			return false
		}
	}
	return true
}

// TestRealKafkaRetentionGap: records expire by retention before the
// consumer read them (its handler was slow, so its reader had stopped
// fetching). The reader's position falls out of range and moves to the
// first retained offset (an offset reset, counted); the books see the
// sequence gap and go stale (counted; nothing served), and recover at the
// next snapshot.
func TestRealKafkaRetentionGap(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	admin := kafkatest.NewAdmin(t, brokers)
	topic := admin.CreateTopic(1, 1, nil)
	g := newGatedShard(t)
	cfg := Config{Brokers: brokers, Topic: topic, Start: StartEarliest, MaxBytes: 16 << 10,
		Logger: testLogger(t), BackoffMin: 10 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	m := NewMetrics(nil)
	c, err := NewConsumer(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx, g.handle) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	})

	ex := sim.New(sim.Config{Symbols: 4, Seed: 3})
	last := map[string]uint64{}
	now := time.Now()
	events := func(n int) []sim.Message {
		var out []sim.Message
		for range n {
			now = now.Add(time.Millisecond)
			out = ex.Next(now, out)
		}
		return out
	}
	admin.ProduceSync(simRecords(t, topic, append(ex.Snapshots(now, nil), events(300)...), last)...)
	waitFor(t, 20*time.Second, "live books", func() bool { return g.at(last) })

	// The handler stalls; the exchange goes on. The reader fetches at
	// most 16 KiB a time, fills the channel and stops, far behind.
	g.paused.Store(true)
	for range 60 {
		admin.ProduceSync(simRecords(t, topic, events(50), last)...)
	}
	one := "1"
	admin.SetConfig(topic, "retention.ms", &one)
	waitFor(t, 60*time.Second, "retention to delete the log", func() bool {
		start, end, err := admin.Offsets(topic, 0)
		return err == nil && start == end
	})
	admin.SetConfig(topic, "retention.ms", nil)
	lost, _, _ := admin.Offsets(topic, 0)

	// Deltas that follow the lost ones (a gap), then a snapshot of every
	// book, then more deltas.
	admin.ProduceSync(simRecords(t, topic, events(200), last)...)
	admin.ProduceSync(simRecords(t, topic, append(ex.Snapshots(now, nil), events(100)...), last)...)
	g.paused.Store(false)

	waitFor(t, 30*time.Second, "books recovered at their last seq", func() bool { return g.at(last) })
	if n := metricValue(t, m.offsetResets.WithLabelValues("0")); n != 1 {
		t.Errorf("%v offset resets, want 1", n)
	}
	if n := metricValue(t, g.im.Gaps); n == 0 {
		t.Error("no sequence gap seen across the deleted records")
	}
	if n := metricValue(t, g.im.Skipped.WithLabelValues(market.Stale.String())); n == 0 {
		t.Error("no record skipped while stale")
	}
	t.Logf("log deleted up to offset %d; %v gaps, %v records skipped while stale, %v snapshots applied",
		lost, metricValue(t, g.im.Gaps), metricValue(t, g.im.Skipped.WithLabelValues(market.Stale.String())),
		metricValue(t, g.im.Snapshots.WithLabelValues("applied")))
}
