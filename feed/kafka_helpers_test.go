package feed

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

const testTopic = "marketdata"

// newCluster starts a one-broker kfake cluster seeded with testTopic.
func newCluster(t testing.TB, partitions int, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), testTopic)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// message builds test record i: key "SYM-kk" (16 symbols), a value of
// about 150 bytes that carries i, and timestamp ts.
func message(i int, ts time.Time) kafka.Message {
	key := fmt.Sprintf("SYM-%02d", i%16)
	v := fmt.Sprintf(`{"type":"trade","symbol":%q,"ts":%d,"trade_id":"%d","price":"64123.10","size":"0.015","side":"buy","n":%d,"pad":"`,
		key, ts.UnixMicro(), i, i)
	v += strings.Repeat("x", max(0, 148-len(v))) + `"}`
	return kafka.Message{Key: []byte(key), Value: []byte(v), Time: ts}
}

func messages(from, n int, ts time.Time) []kafka.Message {
	ms := make([]kafka.Message, n)
	for i := range ms {
		ms[i] = message(from+i, ts)
	}
	return ms
}

// msgSeq extracts the n field of a value built by message.
func msgSeq(t testing.TB, v []byte) int {
	t.Helper()
	s := string(v)
	i := strings.Index(s, `"n":`)
	if i < 0 {
		t.Fatalf("value without n: %s", s)
	}
	s = s[i+4:]
	n, err := strconv.Atoi(s[:strings.IndexByte(s, ',')])
	if err != nil {
		t.Fatalf("value %s: %v", v, err)
	}
	return n
}

// produce writes msgs with a kafka-go Writer that hashes keys to partitions.
func produce(t testing.TB, addrs []string, msgs []kafka.Message) {
	t.Helper()
	// A fresh Transport per call: the default one caches metadata, which
	// would hide partitions added by a test.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := producer.MustNewWriter(producer.Config{Transport: tr, Brokers: addrs, Topic: testTopic,
		BatchSize: 5000, BatchBytes: 16 << 20, RequiredAcks: kafka.RequireAll})
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// collector is a partition handler that keeps every Batch it receives.
type collector struct {
	mu      sync.Mutex
	batches map[int][]Batch
	started map[int]int // handler invocations per partition
	n       int         // records received
}

func newCollector() *collector {
	return &collector{batches: make(map[int][]Batch), started: make(map[int]int)}
}

func (col *collector) handle(ctx context.Context, p int, in <-chan Batch) {
	col.mu.Lock()
	col.started[p]++
	col.mu.Unlock()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				return
			}
			col.mu.Lock()
			col.batches[p] = append(col.batches[p], b)
			col.n += len(b.Records)
			col.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// records returns every record received, per partition, in order.
func (col *collector) records() map[int][]Record {
	col.mu.Lock()
	defer col.mu.Unlock()
	out := make(map[int][]Record)
	for p, bs := range col.batches {
		for _, b := range bs {
			out[p] = append(out[p], b.Records...)
		}
	}
	return out
}

func (col *collector) count() int {
	col.mu.Lock()
	defer col.mu.Unlock()
	return col.n
}

// caughtUp reports whether the handlers of partitions 0..n-1 have all
// received a Batch with CaughtUp set.
func (col *collector) caughtUp(n int) bool {
	col.mu.Lock()
	defer col.mu.Unlock()
	for p := range n {
		bs := col.batches[p]
		if len(bs) == 0 || !bs[len(bs)-1].CaughtUp {
			return false
		}
	}
	return true
}

// waitCaughtUp waits for Ready and for every handler to have received its
// catch-up Batch.
func (tc *testConsumer) waitCaughtUp(t testing.TB, partitions int) {
	t.Helper()
	waitFor(t, 20*time.Second, "Ready", tc.Ready)
	waitFor(t, 5*time.Second, "handlers to receive the catch-up batches", func() bool { return tc.col.caughtUp(partitions) })
}

func (col *collector) partitionBatches(p int) []Batch {
	col.mu.Lock()
	defer col.mu.Unlock()
	return append([]Batch(nil), col.batches[p]...)
}

// testConsumer runs a Consumer until the test ends.
type testConsumer struct {
	*Consumer
	col     *collector
	m       *Metrics
	cancel  context.CancelFunc
	done    chan error
	stopped bool
}

func startConsumer(t testing.TB, cfg Config) *testConsumer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = 10 * time.Millisecond
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = 200 * time.Millisecond
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 2 * time.Second
	}
	m := NewMetrics(nil)
	c, err := NewConsumer(cfg, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tc := &testConsumer{Consumer: c, col: newCollector(), m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { tc.done <- c.Run(ctx, tc.col.handle) }()
	t.Cleanup(func() { tc.stop(t) })
	return tc
}

// stop ends Run and checks that it returns promptly.
func (tc *testConsumer) stop(t testing.TB) {
	t.Helper()
	if tc.stopped {
		return
	}
	tc.stopped = true
	tc.cancel()
	select {
	case err := <-tc.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		return slog.New(slog.NewTextHandler(tt.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// waitFor polls cond until it holds or the timeout expires.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// metricValue reads a counter or gauge.
func metricValue(t testing.TB, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatal("not a counter or gauge")
	return 0
}

// sumVec sums a metric vector over partitions 0..n-1.
func sumVec(t testing.TB, vec *prometheus.CounterVec, n int) float64 {
	t.Helper()
	s := 0.0
	for p := range n {
		s += metricValue(t, vec.WithLabelValues(strconv.Itoa(p)))
	}
	return s
}

// endOffsets lists the end offset of each partition with a plain Conn.
func endOffsets(t testing.TB, addr string, partitions int) map[int]int64 {
	t.Helper()
	out := make(map[int]int64)
	for p := range partitions {
		conn, err := kafka.DialLeader(context.Background(), "tcp", addr, testTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[p] = last
	}
	return out
}

// checkDelivery verifies received against the produced messages: every
// produced record exactly once, with key and value intact; offsets
// consecutive per partition; the records of a key within a partition in
// production order.
func checkDelivery(t testing.TB, produced []kafka.Message, got map[int][]Record) {
	t.Helper()
	want := make(map[string]string, len(produced)) // value -> key
	for _, m := range produced {
		want[string(m.Value)] = string(m.Key)
	}
	seen := make(map[string]bool, len(produced))
	total := 0
	for p, rs := range got {
		lastSeq := make(map[string]int)
		for i, r := range rs {
			if i > 0 && r.Offset != rs[i-1].Offset+1 {
				t.Fatalf("partition %d: offset %d follows %d", p, r.Offset, rs[i-1].Offset)
			}
			key, ok := want[string(r.Value)]
			if !ok {
				t.Fatalf("partition %d offset %d: unexpected value %q", p, r.Offset, r.Value)
			}
			if key != string(r.Key) {
				t.Fatalf("partition %d offset %d: key %q, want %q", p, r.Offset, r.Key, key)
			}
			if seen[string(r.Value)] {
				t.Fatalf("partition %d offset %d: duplicate %q", p, r.Offset, r.Value)
			}
			seen[string(r.Value)] = true
			n := msgSeq(t, r.Value)
			if prev, ok := lastSeq[key]; ok && n <= prev {
				t.Fatalf("partition %d key %s: record %d after %d", p, key, n, prev)
			}
			lastSeq[key] = n
			total++
		}
	}
	if total != len(produced) {
		t.Fatalf("received %d records, produced %d", total, len(produced))
	}
}

func countRecords(m map[int][]Record) int {
	n := 0
	for _, rs := range m {
		n += len(rs)
	}
	return n
}
