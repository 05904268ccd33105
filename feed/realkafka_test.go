package feed

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/kafkatest"
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
// offsets have holes. The consumer delivers exactly the records the log
// holds, in offset order, catches up despite the holes and goes on with
// new records.
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
	holes := 0
	for i := 1; i < len(held); i++ {
		if held[i].Offset != held[i-1].Offset+1 {
			holes++
		}
	}
	if holes == 0 {
		t.Fatalf("compacted log without a hole in its offsets: %d records held of %d, offsets %d..%d", len(held), len(produced), held[0].Offset, held[len(held)-1].Offset)
	}
	tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: StartEarliest})
	tc.waitCaughtUp(t, 1)
	got := tc.col.records()[0]
	if len(got) < len(held) {
		t.Fatalf("delivered %d records, the log holds %d", len(got), len(held))
	}
	for i, r := range held {
		g := got[i]
		if g.Offset != r.Offset || string(g.Key) != string(r.Key) || string(g.Value) != string(r.Value) {
			t.Fatalf("record %d: got offset %d key %s, the log has offset %d key %s", i, g.Offset, g.Key, r.Offset, r.Key)
		}
	}
	// New records after the holes.
	more := messages(10_000, 100, time.Now())
	admin.ProduceSync(kgoRecords(topic, more)...)
	waitFor(t, 20*time.Second, "the new records", func() bool { return tc.col.count() >= len(got)+len(more) })
	t.Logf("compacted log: %d of %d records held, %d holes; all delivered", len(held), len(produced), holes)
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
