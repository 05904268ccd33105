package feed

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/kafkatest"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnProducer is a transactional franz-go producer.
type txnProducer struct {
	t     *testing.T
	cl    *kgo.Client
	topic string
}

func newTxnProducer(t *testing.T, brokers []string, topic, id string) *txnProducer {
	a := kafkatest.NewAdmin(t, brokers, kgo.TransactionalID(fmt.Sprintf("%s-%s", topic, id)))
	return &txnProducer{t: t, cl: a.Client, topic: topic}
}

func (p *txnProducer) begin() {
	p.t.Helper()
	if err := p.cl.BeginTransaction(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *txnProducer) produce(msgs []kafka.Message) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.cl.ProduceSync(ctx, kgoRecords(p.topic, msgs)...).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *txnProducer) end(commit bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		p.t.Fatal(err)
	}
}

// TestRealKafkaReadCommitted checks the consumer's isolation level,
// read_committed, on one partition written by two transactional producers
// and a plain one:
//   - records of a transaction still open are not delivered, nor anything
//     after them, until it commits, and the consumer is not ready before;
//   - records of aborted transactions and the transaction markers are never
//     delivered, including when an aborted transaction interleaves with a
//     committed one of another producer;
//   - everything else arrives once, in offset order.
//
// A read_uncommitted reader of the same partition sees the aborted records:
// they are in the log.
func TestRealKafkaReadCommitted(t *testing.T) {
	brokers := kafkatest.Brokers(t)
	testReadCommitted(t, brokers, kafkatest.NewAdmin(t, brokers).CreateTopic(1, 1, nil))
}

// TestReadCommitted is TestRealKafkaReadCommitted on the in-process
// broker.
func TestReadCommitted(t *testing.T) {
	testReadCommitted(t, newCluster(t, 1).ListenAddrs(), testTopic)
}

func testReadCommitted(t *testing.T, brokers []string, topic string) {
	admin := kafkatest.NewAdmin(t, brokers)
	a := newTxnProducer(t, brokers, topic, "a")
	b := newTxnProducer(t, brokers, topic, "b")
	now := time.Now()
	msgs := messages(0, 60, now)
	plain := func(from, to int) { admin.ProduceSync(kgoRecords(topic, msgs[from:to])...) }
	var want []kafka.Message
	keep := func(from, to int) { want = append(want, msgs[from:to]...) }

	a.begin()
	a.produce(msgs[0:10])
	plain(10, 15)
	tc := startConsumer(t, Config{Brokers: brokers, Topic: topic, Start: StartEarliest})
	time.Sleep(1500 * time.Millisecond)
	if n := tc.col.count(); n != 0 {
		t.Fatalf("%d records delivered while the transaction before them is open", n)
	}
	if tc.Ready() {
		t.Fatal("ready before the records written before the start were read")
	}
	a.end(true)
	keep(0, 15)
	waitFor(t, 20*time.Second, "the committed transaction", func() bool { return tc.col.count() >= 15 })
	tc.waitCaughtUp(t, 1)

	a.begin()
	a.produce(msgs[15:25])
	a.end(false)
	plain(25, 30)
	keep(25, 30)
	a.begin()
	a.produce(msgs[30:40])
	a.end(true)
	keep(30, 40)

	// Interleaved: a aborts, b commits.
	a.begin()
	b.begin()
	a.produce(msgs[40:45])
	b.produce(msgs[45:50])
	a.produce(msgs[50:55])
	b.end(true)
	a.end(false)
	keep(45, 50)
	plain(55, 60)
	keep(55, 60)

	waitFor(t, 20*time.Second, "every committed record", func() bool { return tc.col.count() >= len(want) })
	time.Sleep(200 * time.Millisecond)
	got := tc.col.records()[0]
	if len(got) != len(want) {
		t.Errorf("delivered %d records, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if string(got[i].Value) != string(want[i].Value) {
			t.Fatalf("record %d (offset %d): got n=%d, want n=%d", i, got[i].Offset, msgSeq(t, got[i].Value), msgSeq(t, want[i].Value))
		}
		if i > 0 && got[i].Offset <= got[i-1].Offset {
			t.Fatalf("offset %d after %d", got[i].Offset, got[i-1].Offset)
		}
	}

	// The aborted records are there for a reader that does not filter.
	_, end, err := admin.Offsets(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var all []int
	for len(all) < 60 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { all = append(all, msgSeq(t, r.Value)) })
	}
	slices.Sort(all)
	if len(all) != 60 || all[15] != 15 || all[40] != 40 {
		t.Errorf("read_uncommitted reader saw %d records (log end %d), want all 60", len(all), end)
	}
}
