package feed

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigDefaults(t *testing.T) {
	got := Config{Brokers: []string{"h:1"}}.withDefaults()
	if got.Topic != "marketdata" || got.Start != StartLookback || got.Lookback != 2*time.Minute ||
		got.MaxWait != 50*time.Millisecond || got.MaxBytes != 8<<20 || got.DialTimeout != 5*time.Second ||
		got.PartitionRefresh != 30*time.Second || got.BackoffMin != 100*time.Millisecond ||
		got.BackoffMax != 5*time.Second || got.ClientID != "marketfeed" || got.Logger != slog.Default() {
		t.Fatalf("defaults not applied: %+v", got)
	}
	set := Config{Brokers: []string{"h:1"}, Topic: "t", Start: StartEarliest, Lookback: time.Hour, MaxWait: time.Second,
		MaxBytes: 1, DialTimeout: time.Second, PartitionRefresh: time.Second, BackoffMin: time.Second,
		BackoffMax: time.Minute, ClientID: "x"}
	if got := set.withDefaults(); got.Logger == nil || got.Topic != "t" || got.Start != StartEarliest ||
		got.Lookback != time.Hour || got.MaxBytes != 1 || got.BackoffMax != time.Minute || got.ClientID != "x" {
		t.Fatalf("explicit values overridden: %+v", got)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"localhost:9092"}}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string // "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no brokers", func(c *Config) { c.Brokers = nil }, "Brokers"},
		{"empty broker", func(c *Config) { c.Brokers = []string{" "} }, "Brokers"},
		{"broker without port", func(c *Config) { c.Brokers = []string{"localhost"} }, "Brokers"},
		{"start earliest", func(c *Config) { c.Start = StartEarliest }, ""},
		{"start latest", func(c *Config) { c.Start = StartLatest }, ""},
		{"bad start", func(c *Config) { c.Start = "oldest" }, "Start"},
		{"negative lookback", func(c *Config) { c.Lookback = -time.Second }, "Lookback"},
		{"negative max wait", func(c *Config) { c.MaxWait = -1 }, "MaxWait"},
		{"negative dial timeout", func(c *Config) { c.DialTimeout = -1 }, "DialTimeout"},
		{"negative refresh", func(c *Config) { c.PartitionRefresh = -1 }, "PartitionRefresh"},
		{"negative max bytes", func(c *Config) { c.MaxBytes = -1 }, "MaxBytes"},
		{"huge max bytes", func(c *Config) { c.MaxBytes = 2 << 30 }, "MaxBytes"},
		{"partitions", func(c *Config) { c.Partitions = []int{0, 3} }, ""},
		{"negative partition", func(c *Config) { c.Partitions = []int{-1} }, "Partitions"},
		{"partition listed twice", func(c *Config) { c.Partitions = []int{2, 0, 2} }, "Partitions"},
		{"backoff min above max", func(c *Config) { c.BackoffMin, c.BackoffMax = time.Minute, time.Second }, "BackoffMin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			c, err := NewConsumer(cfg, nil)
			if tt.field == "" {
				if err != nil || c == nil {
					t.Fatalf("NewConsumer: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("NewConsumer error %v, want ErrConfig naming %s", err, tt.field)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	for attempt := range 12 {
		// Reference: lo·2^attempt capped at hi.
		want := hi
		if attempt < 6 && lo<<attempt < hi {
			want = lo << attempt
		}
		seen := make(map[time.Duration]bool)
		for range 200 {
			d := backoff(attempt, lo, hi)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Fatalf("attempt %d: only %d distinct delays, jitter missing", attempt, len(seen))
		}
	}
	if d := backoff(1000, lo, hi); d < hi/2 || d > hi {
		t.Fatalf("huge attempt: %v", d)
	}
}

func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := NewMetrics(reg), NewMetrics(reg)
	a.records.WithLabelValues("0").Add(2)
	b.records.WithLabelValues("0").Add(3)
	if v := metricValue(t, a.records.WithLabelValues("0")); v != 5 {
		t.Fatalf("shared counter = %v, want 5", v)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "marketfeed_feed_records_total"
	}
	if !found {
		t.Fatal("marketfeed_feed_records_total not registered")
	}
}

func TestRunMisuse(t *testing.T) {
	c, err := NewConsumer(Config{Brokers: []string{"127.0.0.1:1"}, Logger: testLogger(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), nil); !errors.Is(err, ErrNilHandler) {
		t.Fatalf("nil handler: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx, newCollector().handle) }()
	waitFor(t, 5*time.Second, "first listing to fail", func() bool { return metricValue(t, c.m.metadataErrors) > 0 })
	if err := c.Run(ctx, newCollector().handle); !errors.Is(err, ErrAlreadyRun) {
		t.Fatalf("second Run: %v", err)
	}
	if c.Connected() || c.Ready() {
		t.Fatal("Connected or Ready without a broker")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestConsumerDeliversEveryRecordOnce covers bootstrap, catch-up and live
// records on four partitions.
func TestConsumerDeliversEveryRecordOnce(t *testing.T) {
	const parts = 4
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	pre := messages(0, 4000, time.Now())
	produce(t, addrs, pre)
	ends := endOffsets(t, addrs[0], parts)

	tc := startConsumer(t, Config{Brokers: addrs, Start: StartEarliest})
	tc.waitCaughtUp(t, parts)
	if !tc.Connected() {
		t.Fatal("Ready but not Connected")
	}
	// Nothing was produced since: at catch-up, exactly the pre-existing
	// records have arrived, and the first CaughtUp batch ends at the end.
	checkDelivery(t, pre, tc.col.records())
	for p := range parts {
		bs := tc.col.partitionBatches(p)
		first := -1
		for i, b := range bs {
			if b.Partition != p {
				t.Fatalf("batch for partition %d on channel %d", b.Partition, p)
			}
			if b.CaughtUp && first < 0 {
				first = i
			}
			if !b.CaughtUp && first >= 0 {
				t.Fatalf("partition %d: CaughtUp went back to false", p)
			}
		}
		if first < 0 {
			t.Fatalf("partition %d: no CaughtUp batch", p)
		}
		if rs := bs[first].Records; ends[p] > 0 && (len(rs) == 0 || rs[len(rs)-1].Offset != ends[p]-1) {
			t.Fatalf("partition %d: first CaughtUp batch does not end at offset %d", p, ends[p]-1)
		}
		if ends[p] == 0 && len(bs[first].Records) != 0 {
			t.Fatalf("partition %d: empty partition announced with records", p)
		}
	}

	// Live records keep flowing, in several produce calls.
	all := pre
	for round := range 3 {
		more := messages(len(all), 500+round*100, time.Now())
		produce(t, addrs, more)
		all = append(all, more...)
	}
	waitFor(t, 20*time.Second, "live records", func() bool { return tc.col.count() >= len(all) })
	time.Sleep(50 * time.Millisecond) // a duplicate would show up now
	checkDelivery(t, all, tc.col.records())
	if got := sumVec(t, tc.m.records, parts); got != float64(len(all)) {
		t.Fatalf("records metric %v, want %d", got, len(all))
	}
	if e, r := sumVec(t, tc.m.fetchErrors, parts), sumVec(t, tc.m.reconnects, parts); e != 0 || r != 0 {
		t.Fatalf("healthy broker: %v fetch errors, %v reconnects", e, r)
	}
	for p := range parts {
		if lag := metricValue(t, tc.m.lag.WithLabelValues(strconv.Itoa(p))); lag != 0 {
			t.Fatalf("partition %d lag %v after consuming everything", p, lag)
		}
	}
	tc.stop(t)
	tc.col.mu.Lock()
	defer tc.col.mu.Unlock()
	for p := range parts {
		if n := tc.col.started[p]; n != 1 {
			t.Fatalf("partition %d handler started %d times", p, n)
		}
	}
}

func TestConsumerStartModes(t *testing.T) {
	const parts = 4
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	now := time.Now()
	old := messages(0, 400, now.Add(-time.Hour))
	recent := messages(400, 400, now.Add(-20*time.Second))
	produce(t, addrs, old)
	produce(t, addrs, recent)
	existing := append(append([]kafka.Message(nil), old...), recent...)

	// Records produced live by one subtest are in the log for the next:
	// lookback (their timestamps are recent) and earliest include them.
	var live []kafka.Message
	tests := []struct {
		start string
		want  func() []kafka.Message // delivered at catch-up
	}{
		{StartLatest, func() []kafka.Message { return nil }},
		{StartLookback, func() []kafka.Message { return append(append([]kafka.Message(nil), recent...), live...) }},
		{StartEarliest, func() []kafka.Message { return append(append([]kafka.Message(nil), existing...), live...) }},
	}
	for _, tt := range tests {
		t.Run(tt.start, func(t *testing.T) {
			want := tt.want()
			tc := startConsumer(t, Config{Brokers: addrs, Start: tt.start, Lookback: time.Minute})
			tc.waitCaughtUp(t, parts)
			checkDelivery(t, want, tc.col.records())
			for p := range parts {
				bs := tc.col.partitionBatches(p)
				if len(bs) == 0 || !bs[len(bs)-1].CaughtUp {
					t.Fatalf("partition %d: no CaughtUp batch", p)
				}
			}
			more := messages(800+len(live), 200, time.Now())
			produce(t, addrs, more)
			live = append(live, more...)
			want = append(want, more...)
			waitFor(t, 20*time.Second, "live records", func() bool { return tc.col.count() >= len(want) })
			time.Sleep(20 * time.Millisecond)
			checkDelivery(t, want, tc.col.records())
		})
	}
}

// TestLookbackFallback makes the broker refuse offset listings by time: the
// consumer must start at the earliest offset.
func TestLookbackFallback(t *testing.T) {
	const parts = 2
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	old := messages(0, 300, time.Now().Add(-time.Hour))
	produce(t, addrs, old)

	// Refuse every listing by time (timestamp >= 0; -1 and -2 ask for the
	// end and the start).
	h := cl.Fault(kfake.Fault{
		Keys: []kmsg.Key{kmsg.ListOffsets}, Err: kerr.UnsupportedForMessageFormat, Count: -1,
		When: func(kreq kmsg.Request) bool {
			for _, rt := range kreq.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					if rp.Timestamp >= 0 {
						return true
					}
				}
			}
			return false
		},
	})

	tc := startConsumer(t, Config{Brokers: addrs, Start: StartLookback, Lookback: time.Minute})
	tc.waitCaughtUp(t, parts)
	checkDelivery(t, old, tc.col.records())
	if n := h.Hits(); n < parts {
		t.Fatalf("time lookups refused %d times, want >= %d", n, parts)
	}
}

// TestConsumerSlowHandler blocks the handlers well past the broker
// deadlines while records pile up: the readers must wait without failing
// and deliver everything once released.
func TestConsumerSlowHandler(t *testing.T) {
	const parts = 2
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	// Small producer batches, so that fetches return few records each.
	var pre []kafka.Message
	for i := range 40 {
		more := messages(i*500, 500, time.Now())
		produce(t, addrs, more)
		pre = append(pre, more...)
	}

	gate := make(chan struct{})
	col := newCollector()
	var received atomic.Int64
	handler := func(ctx context.Context, p int, in <-chan Batch) {
		select {
		case <-gate:
		case <-ctx.Done():
			return
		}
		// Drain through the collector, counting the hand-offs.
		mid := make(chan Batch)
		go func() {
			defer close(mid)
			for b := range in {
				received.Add(1)
				mid <- b
			}
		}()
		col.handle(ctx, p, mid)
	}
	m := NewMetrics(nil)
	c, err := NewConsumer(Config{Brokers: addrs, Start: StartEarliest, DialTimeout: 500 * time.Millisecond,
		MaxBytes: 64 << 10, Logger: testLogger(t)}, m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, handler) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// With MaxBytes 64 KiB the readers need many fetches; blocked, they
	// stop once the channel holds batchQueue Batches, for longer than a
	// fetch deadline (MaxWait + DialTimeout).
	time.Sleep(time.Second)
	if c.Ready() {
		t.Fatal("Ready while the handlers have not taken the catch-up batches")
	}
	close(gate)
	waitFor(t, 20*time.Second, "all records", func() bool { return col.count() >= len(pre) })
	waitFor(t, 5*time.Second, "Ready", c.Ready)
	checkDelivery(t, pre, col.records())
	if e := sumVec(t, m.fetchErrors, parts); e != 0 {
		t.Fatalf("a slow handler caused %v fetch errors", e)
	}
	if n := received.Load(); n <= 2*batchQueue {
		t.Fatalf("only %d batches: the channels never filled", n)
	}
}

// TestConsumerHandlerReturnsEarly: a handler that gives up stops its
// partition's reader and shows in Connected; the others keep going and Run
// still returns on cancel.
func TestConsumerHandlerReturnsEarly(t *testing.T) {
	const parts = 2
	cl := newCluster(t, parts)
	addrs := cl.ListenAddrs()
	col := newCollector()
	handler := func(ctx context.Context, p int, in <-chan Batch) {
		if p == 0 {
			return
		}
		col.handle(ctx, p, in)
	}
	c, err := NewConsumer(Config{Brokers: addrs, Start: StartEarliest, Logger: testLogger(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, handler) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return")
		}
	}()
	waitFor(t, 10*time.Second, "partition 1 to catch up", func() bool { return len(col.partitionBatches(1)) > 0 })
	waitFor(t, 10*time.Second, "Connected to report the dead partition", func() bool { return !c.Connected() })
	if c.Ready() {
		t.Fatal("Ready with a partition nobody consumes")
	}
	produce(t, addrs, messages(0, 100, time.Now()))
	waitFor(t, 10*time.Second, "partition 1 records", func() bool { return len(col.records()[1]) > 0 })
}
