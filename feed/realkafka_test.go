package feed

import (
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
