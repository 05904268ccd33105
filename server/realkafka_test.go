package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/kafkatest"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/server"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The tests of this file run against a real Apache Kafka cluster
// (MARKETFEED_KAFKA_BROKERS; scripts/kafka.sh starts one) and skip without
// one. Each creates its own topic. The exchange is a franz-go producer
// (acks=all, idempotent), the consumer is the server's own.

// realEnv is a topic on the real cluster, a server consuming it from its
// first record, and a producer.
type realEnv struct {
	*env
	admin *kafkatest.Admin
	topic string
	reg   *prometheus.Registry
}

func startRealEnv(t *testing.T, partitions, replicas int, configs map[string]string, fc feed.Config, opts ...kgo.Opt) *realEnv {
	t.Helper()
	brokers := kafkatest.Brokers(t)
	admin := kafkatest.NewAdmin(t, brokers, opts...)
	topic := admin.CreateTopic(partitions, replicas, configs)
	reg := prometheus.NewRegistry()
	fc.Brokers, fc.Topic, fc.Start = brokers, topic, feed.StartEarliest
	srv, _ := runServer(t, server.Config{Feed: fc, Registry: reg})
	return &realEnv{env: &env{srv: srv, url: "ws://" + srv.Addr() + "/ws"}, admin: admin, topic: topic, reg: reg}
}

func (e *realEnv) records(msgs []sim.Message) []*kgo.Record {
	rs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		rs[i] = &kgo.Record{Topic: e.topic, Key: m.Key, Value: m.Value, Timestamp: m.Time}
	}
	return rs
}

func (e *realEnv) produceReal(t *testing.T, msgs []sim.Message) {
	t.Helper()
	e.admin.ProduceSync(e.records(msgs)...)
}

// txn produces msgs in one transaction and commits or aborts it; the
// producer must have a transactional id.
func (e *realEnv) txn(t *testing.T, msgs []sim.Message, commit bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.admin.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.Client.ProduceSync(ctx, e.records(msgs)...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := e.admin.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
		t.Fatal(err)
	}
}

// marketRun is a run of the synthetic exchange checked through WebSocket
// clients: every book view a client holds must equal the replay at its
// seq, every stream must end at the last seq, and at the end every book
// of every symbol, at depth 1000, must equal the replay's.
type marketRun struct {
	symbols int
	events  int // events after the boot snapshots
	chunk   int // events per produce call
	// during, when set, is called after the chunk that ends at event
	// index at (the producer then goes on).
	at     int
	during func()
	// transactional makes the exchange produce every chunk in a committed
	// transaction, each followed by an aborted one holding a wrong delta
	// per symbol at the seq the next committed delta takes.
	transactional bool
	// streams are the depth and interval of each client, per symbol; nil
	// means depths 1, 20 and 100 raw and depth 10 at 100ms.
	streams []stream
}

type stream struct {
	depth    int
	interval string
}

// throttled are streams that a burst of records (the consumer catching up
// after a broker outage) does not push past their queue budget on a busy
// machine: a raw stream may be evicted then (close 4001), the server's
// policy for a client that cannot keep up.
var throttled = []stream{{1, "100ms"}, {10, "100ms"}, {50, "1s"}}

// run produces the market into e and checks the clients; it returns the
// number of views checked.
func (mk marketRun) run(t *testing.T, e *realEnv) int {
	t.Helper()
	ex := sim.New(sim.Config{Symbols: mk.symbols, Seed: 42})
	symbols := ex.Symbols()
	now := time.Now()
	rep := newReplay(100)
	produce := func(msgs []sim.Message) {
		for _, m := range msgs {
			rep.apply(t, m.Value)
		}
		if !mk.transactional {
			e.produceReal(t, msgs)
			return
		}
		e.txn(t, msgs, true)
		var wrong []sim.Message
		for _, sym := range symbols {
			wrong = append(wrong, touchDelta(rep, sym, now)...)
		}
		e.txn(t, wrong, false)
	}
	produce(ex.Snapshots(now, nil))
	e.waitLive(t, symbols)

	var (
		mu    sync.Mutex
		final = map[string]uint64{}
	)
	finalOf := func(sym string) func() uint64 {
		return func() uint64 { mu.Lock(); defer mu.Unlock(); return final[sym] }
	}
	var watchers []*bookWatcher
	for _, sym := range symbols[:2] {
		streams := mk.streams
		if streams == nil {
			streams = []stream{{1, "raw"}, {20, "raw"}, {100, "raw"}, {10, "100ms"}}
		}
		for _, st := range streams {
			watchers = append(watchers, &bookWatcher{channel: "book." + sym, depth: st.depth, interval: st.interval})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var ready, wg sync.WaitGroup
	for _, w := range watchers {
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, e.url, finalOf(w.channel[len("book."):]), &ready)
		}()
	}
	ready.Wait()

	var batch []sim.Message
	for i := range mk.events {
		now = now.Add(time.Millisecond)
		batch = ex.Next(now, batch)
		if i%1000 == 999 {
			batch = ex.Snapshots(now, batch)
		}
		if len(batch) >= mk.chunk || i == mk.at {
			produce(batch)
			batch = batch[:0]
		}
		if i == mk.at && mk.during != nil {
			mk.during()
		}
	}
	for _, m := range batch {
		rep.apply(t, m.Value)
	}
	for _, sym := range symbols {
		now = now.Add(time.Millisecond)
		batch = append(batch, touchDelta(rep, sym, now)...)
		rep.apply(t, batch[len(batch)-1].Value)
	}
	mu.Lock()
	for _, sym := range symbols {
		final[sym] = rep.seq[sym]
	}
	mu.Unlock()
	if mk.transactional {
		e.txn(t, batch, true)
	} else {
		e.produceReal(t, batch)
	}
	wg.Wait()

	checked := checkReplayViews(t, watchers, rep)
	allLive := true
	for _, sym := range symbols {
		allLive = allLive && allAt(e.srv, []string{sym}, rep.seq)
	}
	if !allLive {
		t.Errorf("not every book is live at its last seq")
	}
	// Every book, whole (depth 1000), equals the replay's.
	checkFinalBooks(t, e.url, rep, symbols)
	t.Logf("%d client views checked against the replay", checked)
	return checked
}

// noGap checks that the server saw no sequence gap, no offset reset and
// no rejected record.
func (e *realEnv) noGap(t *testing.T) {
	t.Helper()
	for _, m := range []string{"sequence_gaps_total", "offset_resets_total", "records_rejected_total"} {
		if v := metricSum(t, e.reg, m); v != 0 {
			t.Errorf("%s = %v, want 0", m, v)
		}
	}
}

// TestRealKafkaEndToEnd is the end-to-end book test on real Kafka: a
// synthetic market in 3 partitions, clients at several depths and
// intervals, every view equal to the replay at its seq.
func TestRealKafkaEndToEnd(t *testing.T) {
	e := startRealEnv(t, 3, 1, nil, feed.Config{})
	if n := (marketRun{symbols: 4, events: 5000, chunk: 200, at: -1}).run(t, e); n == 0 {
		t.Fatal("no view checked")
	}
	e.noGap(t)
}

// TestRealKafkaBrokerRestart restarts the broker leading the partitions
// (a controlled shutdown, then a start on the same data) in the middle of
// the stream: the server reconnects and resumes where it was, with no gap,
// no duplicate and every view equal to the replay.
func TestRealKafkaBrokerRestart(t *testing.T) {
	kafkatest.NeedControl(t)
	e := startRealEnv(t, 2, 1, nil, feed.Config{})
	t.Cleanup(func() { kafkatest.Up(t) })
	var leaders []int32
	mk := marketRun{symbols: 4, events: 4000, chunk: 200, at: 1999, streams: throttled, during: func() {
		ps, err := e.admin.Metadata(e.topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			leaders = append(leaders, p.Leader)
		}
		kafkatest.StopNode(t, ps[0].Leader)
		time.Sleep(time.Second)
		kafkatest.StartNode(t, ps[0].Leader)
	}}
	mk.run(t, e)
	e.noGap(t)
	if metricSum(t, e.reg, "reconnects_total") == 0 {
		t.Errorf("no reconnection counted across a broker restart (leaders %v)", leaders)
	}
}

// partitionRecords returns marketfeed_feed_records_total of one partition.
func partitionRecords(t *testing.T, reg *prometheus.Registry, partition int32) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "marketfeed_feed_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "partition" && l.GetValue() == fmt.Sprint(partition) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// followBound is how long the consumer may take to read from a partition's
// new leader after its old leader died. The cluster fences the dead broker
// once it has missed heartbeats for broker.session.timeout.ms (3 s in the
// test cluster, Kafka's default is 9 s; heartbeats every 0.5 s) and elects
// a leader among the in-sync replicas at once, after a new controller
// election (1 s) if the dead broker was the active controller: 4.5 s. The
// reader retries meanwhile with a backoff capped at feed.DefaultBackoffMax
// (5 s), so its first attempt after the election comes at most 5 s later;
// then one dial, one metadata request and one fetch (2 s on a loaded
// machine).
const followBound = 4500*time.Millisecond + feed.DefaultBackoffMax + 2*time.Second

// TestRealKafkaClusterLeaderKill runs on three brokers with replication
// factor 3 (min.insync.replicas 2, producer acks=all) and kills the leader
// of a partition with SIGKILL in the middle of the stream, while the
// exchange keeps producing. No record is lost or repeated (no gap, no
// reset, no rejected record), every client view equals the replay, and the
// consumer reads from the new leader within followBound of the kill.
func TestRealKafkaClusterLeaderKill(t *testing.T) {
	kafkatest.NeedControl(t)
	if n := kafkatest.NewAdmin(t, kafkatest.Brokers(t)).BrokerCount(); n < 3 {
		t.Skipf("needs 3 brokers, the cluster has %d (scripts/kafka.sh start --brokers 3)", n)
	}
	e := startRealEnv(t, 2, 3, map[string]string{"min.insync.replicas": "2", "unclean.leader.election.enable": "false"}, feed.Config{})
	t.Cleanup(func() { kafkatest.Up(t) })
	var (
		followed = make(chan time.Duration, 1)
		victim   int32
	)
	mk := marketRun{symbols: 4, events: 6000, chunk: 200, at: 2999, streams: throttled, during: func() {
		ps, err := e.admin.Metadata(e.topic)
		if err != nil {
			t.Fatal(err)
		}
		victim = ps[0].Leader
		_, end, err := e.admin.Offsets(e.topic, ps[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		// The server has read everything so far: what it reads next
		// comes from the new leader.
		waitUntil(t, 20*time.Second, "the server to read partition 0 to its end", func() bool {
			return partitionRecords(t, e.reg, ps[0].ID) >= float64(end)
		})
		kafkatest.Kill(t, victim)
		killed := time.Now()
		go func() {
			for time.Since(killed) < time.Minute {
				if partitionRecords(t, e.reg, ps[0].ID) > float64(end) {
					followed <- time.Since(killed)
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			followed <- -1
		}()
	}}
	mk.run(t, e)
	e.noGap(t)
	d := <-followed
	ps, err := e.admin.Metadata(e.topic)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed node %d, leader of partition 0; new leader %d; the consumer read from it %v after the kill", victim, ps[0].Leader, d)
	if d < 0 || d > followBound {
		t.Errorf("consumer followed the new leader after %v, bound %v", d, followBound)
	}
	if ps[0].Leader == victim {
		t.Errorf("partition 0 still led by the killed node %d", victim)
	}
}

// waitUntil polls cond until it holds or fails t after timeout.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRealKafkaTransactionalExchange: the exchange writes in transactions
// and aborts some, each aborted one holding a wrong delta per symbol at the
// seq its next committed delta takes. The server reads read_committed and
// drops aborted records: no wrong book, no rejected record (a wrong delta
// applied would make the right one a duplicate seq), every view equal to
// the replay of the committed records.
func TestRealKafkaTransactionalExchange(t *testing.T) {
	e := startRealEnv(t, 2, 1, nil, feed.Config{}, kgo.TransactionalID(fmt.Sprintf("marketfeed-test-%d", time.Now().UnixNano())))
	(marketRun{symbols: 4, events: 3000, chunk: 300, at: -1, transactional: true}).run(t, e)
	e.noGap(t)
}
