package feed

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// keyPartitions maps each key to the partition its records are in.
func keyPartitions(got map[int][]Record) map[string]int {
	out := map[string]int{}
	for p, rs := range got {
		for _, r := range rs {
			out[string(r.Key)] = p
		}
	}
	return out
}

// TestConsumerReadsOnlyConfiguredPartitions: with Config.Partitions a
// consumer reads those partitions and no other, every record of them once,
// and is Ready when they have caught up.
func TestConsumerReadsOnlyConfiguredPartitions(t *testing.T) {
	const parts = 4
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	pre := messages(0, 1600, time.Now())
	produce(t, addrs, pre)

	all := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest})
	all.waitCaughtUp(t, parts)
	where := keyPartitions(all.col.records())
	all.stop(t)

	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, Partitions: []int{3, 1}})
	waitFor(t, 20*time.Second, "Ready", tc.Ready)
	if got := tc.Partitions(); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("Partitions() = %v, want [1 3]", got)
	}
	// Live records after catch-up too.
	more := messages(len(pre), 800, time.Now())
	produce(t, addrs, more)
	var want []kafka.Message
	for _, m := range append(pre, more...) {
		if p := where[string(m.Key)]; p == 1 || p == 3 {
			want = append(want, m)
		}
	}
	if len(want) == 0 || len(want) == len(pre)+len(more) {
		t.Fatalf("test keys are not spread over the partitions: %v", where)
	}
	waitFor(t, 20*time.Second, "records of partitions 1 and 3", func() bool { return tc.col.count() >= len(want) })
	time.Sleep(100 * time.Millisecond) // a record of another partition would show up now
	got := tc.col.records()
	for p := range got {
		if p != 1 && p != 3 {
			t.Fatalf("records of partition %d delivered", p)
		}
	}
	checkDelivery(t, want, got)
	tc.col.mu.Lock()
	started := len(tc.col.started)
	tc.col.mu.Unlock()
	if started != 2 {
		t.Fatalf("%d partition handlers started, want 2", started)
	}
	if n := metricValue(t, tc.m.partitions); n != 2 {
		t.Fatalf("partitions gauge %v, want 2", n)
	}
	if n := sumVec(t, tc.m.records, parts); n != float64(len(want)) {
		t.Fatalf("records metric %v, want %d", n, len(want))
	}
	if n := metricValue(t, tc.m.lag.WithLabelValues(strconv.Itoa(0))); n != 0 {
		t.Fatalf("lag of an unread partition reported: %v", n)
	}
}

// TestConsumerWaitsForConfiguredPartition: a configured partition the
// topic does not have keeps the consumer not Ready (it would serve a
// universe with a hole) until the partition is created.
func TestConsumerWaitsForConfiguredPartition(t *testing.T) {
	cl := newCluster(t, 2)
	addrs := cl.ListenAddrs()
	produce(t, addrs, messages(0, 400, time.Now()))
	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest, Partitions: []int{1, 2}, PartitionRefresh: 50 * time.Millisecond})
	waitFor(t, 20*time.Second, "partition 1 caught up", func() bool {
		bs := tc.col.partitionBatches(1)
		return len(bs) > 0 && bs[len(bs)-1].CaughtUp
	})
	time.Sleep(200 * time.Millisecond) // several listings
	if tc.Ready() {
		t.Fatal("Ready while configured partition 2 does not exist")
	}
	if got := tc.Partitions(); !slices.Equal(got, []int{1}) {
		t.Fatalf("Partitions() = %v, want [1]", got)
	}
	client := &kafka.Client{Addr: kafka.TCP(addrs...)}
	resp, err := client.CreatePartitions(context.Background(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: testTopic, Count: 4}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for topic, err := range resp.Errors {
		if err != nil {
			t.Fatalf("create partitions %s: %v", topic, err)
		}
	}
	waitFor(t, 20*time.Second, "Ready once partition 2 exists", tc.Ready)
	if got := tc.Partitions(); !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("Partitions() = %v, want [1 2] (3 was added but is not configured)", got)
	}
}
