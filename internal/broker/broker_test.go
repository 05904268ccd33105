package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func start(t *testing.T, cfg Config) *Broker {
	t.Helper()
	b, err := Start(cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newWriter(b *Broker) *kafka.Writer {
	return producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: b.Topic()})
}

func newReader(b *Broker, partition int) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:   b.Addrs(),
		Topic:     b.Topic(),
		Partition: partition,
		MinBytes:  1,
		MaxBytes:  1 << 20,
		MaxWait:   50 * time.Millisecond,
	})
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// keyedMessages returns n messages over keys k0..k(keys-1); the value holds
// the per-key ordinal so readers can check per-key order.
func keyedMessages(n, keys int, t0 time.Time) []kafka.Message {
	msgs := make([]kafka.Message, n)
	ord := make([]int, keys)
	for i := range msgs {
		k := i % keys
		msgs[i] = kafka.Message{
			Key:   []byte("k" + strconv.Itoa(k)),
			Value: []byte(strconv.Itoa(ord[k])),
			Time:  t0.Add(time.Duration(i) * time.Millisecond),
		}
		ord[k]++
	}
	return msgs
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		want    Config
	}{
		{name: "zero", cfg: Config{}, want: Config{Topic: "marketdata", Partitions: 4, Brokers: 1, Addr: "127.0.0.1:0"}},
		{name: "explicit", cfg: Config{Topic: "t", Partitions: 2, Brokers: 3, Addr: "localhost:0"}, want: Config{Topic: "t", Partitions: 2, Brokers: 3, Addr: "localhost:0"}},
		{name: "negative partitions", cfg: Config{Partitions: -1}, wantErr: true},
		{name: "negative brokers", cfg: Config{Brokers: -2}, wantErr: true},
		{name: "bad addr", cfg: Config{Addr: "nohostport"}, wantErr: true},
		{name: "negative retention", cfg: Config{Retention: -time.Second}, wantErr: true},
		{name: "sub-millisecond retention", cfg: Config{Retention: time.Microsecond}, wantErr: true},
		{name: "negative retention bytes", cfg: Config{RetentionBytes: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.withDefaults()
			if tc.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("err = %v, want ErrConfig", err)
				}
				if _, err := Start(tc.cfg); !errors.Is(err, ErrConfig) {
					t.Fatalf("Start err = %v, want ErrConfig", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("withDefaults = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPartitionsListed(t *testing.T) {
	for _, tc := range []struct{ brokers, partitions int }{{1, 4}, {3, 6}} {
		t.Run(fmt.Sprintf("%dx%d", tc.brokers, tc.partitions), func(t *testing.T) {
			b := start(t, Config{Brokers: tc.brokers, Partitions: tc.partitions})
			if len(b.Addrs()) != tc.brokers {
				t.Fatalf("Addrs = %v, want %d", b.Addrs(), tc.brokers)
			}
			conn, err := kafka.DialContext(ctxT(t, 10*time.Second), "tcp", b.Addrs()[0])
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			parts, err := conn.ReadPartitions(b.Topic())
			if err != nil {
				t.Fatal(err)
			}
			seen := map[int]bool{}
			leaders := map[int]bool{}
			for _, p := range parts {
				if p.Topic != b.Topic() {
					t.Errorf("partition of topic %q", p.Topic)
				}
				seen[p.ID] = true
				leaders[p.Leader.ID] = true
			}
			if len(seen) != tc.partitions {
				t.Fatalf("partitions %v, want %d", seen, tc.partitions)
			}
			if tc.brokers > 1 && len(leaders) < 2 {
				t.Errorf("leaders %v: not spread over %d brokers", leaders, tc.brokers)
			}
			// Auto creation is off: an unknown topic is not created.
			if _, err := conn.ReadPartitions("no-such-topic"); err == nil {
				t.Errorf("ReadPartitions(unknown topic) succeeded")
			}
		})
	}
}

func TestFixedAddr(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := start(t, Config{Addr: addr, Brokers: 2})
	if got := b.Addrs(); len(got) != 2 || got[0] != addr || got[1] == addr {
		t.Fatalf("Addrs = %v, want first %s", got, addr)
	}
	// The port is taken now.
	if _, err := Start(Config{Addr: addr}); err == nil {
		t.Fatalf("second Start on %s succeeded", addr)
	}
}

// TestProduceConsume writes keyed messages and reads every partition back
// with partition readers, checking per-key order, that a key stays in one
// partition, and the lag/offset queries.
func TestProduceConsume(t *testing.T) {
	for _, brokers := range []int{1, 3} {
		t.Run(fmt.Sprintf("brokers=%d", brokers), func(t *testing.T) {
			b := start(t, Config{Brokers: brokers})
			ctx := ctxT(t, 30*time.Second)
			const n, keys = 2000, 37
			w := newWriter(b)
			defer w.Close()
			msgs := keyedMessages(n, keys, time.Now())
			for i := 0; i < n; i += 250 { // several produce calls
				if err := w.WriteMessages(ctx, msgs[i:i+250]...); err != nil {
					t.Fatalf("WriteMessages: %v", err)
				}
			}

			next := map[string]int{}   // next expected ordinal per key
			partOf := map[string]int{} // partition of each key
			total := 0
			for p := 0; p < b.Partitions(); p++ {
				conn, err := kafka.DialLeader(ctx, "tcp", b.Addrs()[0], b.Topic(), p)
				if err != nil {
					t.Fatal(err)
				}
				first, last, err := conn.ReadOffsets()
				lastOnly, err2 := conn.ReadLastOffset()
				conn.Close()
				if err != nil || err2 != nil || first != 0 || last != lastOnly {
					t.Fatalf("p%d offsets first=%d last=%d lastOnly=%d err=%v/%v", p, first, last, lastOnly, err, err2)
				}

				r := newReader(b, p)
				lag, err := r.ReadLag(ctx)
				if err != nil || lag != last {
					t.Fatalf("p%d ReadLag = %d, %v; want %d", p, lag, err, last)
				}
				for i := int64(0); i < last; i++ {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						t.Fatalf("p%d read %d: %v", p, i, err)
					}
					if m.Offset != i || m.Partition != p {
						t.Fatalf("p%d got offset %d partition %d, want %d", p, m.Offset, m.Partition, i)
					}
					k := string(m.Key)
					if q, ok := partOf[k]; ok && q != p {
						t.Fatalf("key %s in partitions %d and %d", k, q, p)
					}
					partOf[k] = p
					if got, want := string(m.Value), strconv.Itoa(next[k]); got != want {
						t.Fatalf("key %s: value %s, want %s", k, got, want)
					}
					next[k]++
					total++
				}
				if lag := r.Lag(); lag != 0 {
					t.Errorf("p%d Lag after reading all = %d", p, lag)
				}
				r.Close()
			}
			if total != n || len(partOf) != keys {
				t.Fatalf("read %d messages over %d keys, want %d over %d", total, len(partOf), n, keys)
			}
		})
	}
}

// TestSetOffsetAt checks ListOffsets by timestamp through kafka-go.
func TestSetOffsetAt(t *testing.T) {
	b := start(t, Config{Partitions: 1})
	ctx := ctxT(t, 30*time.Second)
	w := newWriter(b)
	defer w.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	const n = 100
	if err := w.WriteMessages(ctx, keyedMessages(n, 5, t0)...); err != nil {
		t.Fatal(err)
	}

	for _, k := range []int{0, 1, 42, n - 1} {
		r := newReader(b, 0)
		// Record times have millisecond resolution and kafka-go truncates
		// the requested time to the millisecond: half a millisecond after
		// record k still finds record k.
		if err := r.SetOffsetAt(ctx, t0.Add(time.Duration(k)*time.Millisecond+500*time.Microsecond)); err != nil {
			t.Fatalf("SetOffsetAt(%d): %v", k, err)
		}
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Offset != int64(k) || !m.Time.Equal(t0.Add(time.Duration(k)*time.Millisecond)) {
			t.Errorf("SetOffsetAt(record %d): got offset %d time %v", k, m.Offset, m.Time)
		}
		r.Close()
	}

	// A time before every record positions at the start.
	r := newReader(b, 0)
	if err := r.SetOffsetAt(ctx, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if m, err := r.ReadMessage(ctx); err != nil || m.Offset != 0 {
		t.Errorf("SetOffsetAt(before all) read offset %d, %v", m.Offset, err)
	}
	r.Close()

	// A time after every record: offset -1, i.e. LastOffset, so the reader
	// sees only records produced afterwards.
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addrs()[0], b.Topic(), 0)
	if err != nil {
		t.Fatal(err)
	}
	off, err := conn.ReadOffset(time.Now().Add(time.Hour))
	conn.Close()
	if err != nil || off != -1 {
		t.Fatalf("ReadOffset(future) = %d, %v; want -1", off, err)
	}
	r = newReader(b, 0)
	defer r.Close()
	if err := r.SetOffsetAt(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	late := kafka.Message{Key: []byte("late"), Value: []byte("x")}
	// The reader resolves LastOffset when it starts fetching: start it
	// first, then produce.
	got := make(chan kafka.Message, 1)
	go func() {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			close(got)
			return
		}
		got <- m
	}()
	time.Sleep(200 * time.Millisecond)
	if err := w.WriteMessages(ctx, late); err != nil {
		t.Fatal(err)
	}
	m, ok := <-got
	if !ok || string(m.Key) != "late" || m.Offset != n {
		t.Fatalf("after SetOffsetAt(future) read %q at %d (ok=%v), want the late record at %d", m.Key, m.Offset, ok, n)
	}
}

// TestFaultInjection answers one Produce request with a non-retriable error
// through the cluster's fault injection.
func TestFaultInjection(t *testing.T) {
	b := start(t, Config{Partitions: 1})
	ctx := ctxT(t, 30*time.Second)
	w := newWriter(b)
	w.MaxAttempts = 1
	defer w.Close()

	h := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.MessageTooLarge})
	err := w.WriteMessages(ctx, kafka.Message{Key: []byte("a"), Value: []byte("1")})
	var werrs kafka.WriteErrors
	if !errors.As(err, &werrs) || len(werrs) != 1 || !errors.Is(werrs[0], kafka.MessageSizeTooLarge) {
		t.Fatalf("WriteMessages err = %v, want MessageSizeTooLarge", err)
	}
	if h.Hits() != 1 {
		t.Fatalf("fault hit %d times, want 1", h.Hits())
	}
	// The fault applied to one request only; the next write works.
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("a"), Value: []byte("2")}); err != nil {
		t.Fatalf("second write: %v", err)
	}
	conn, err := kafka.DialLeader(ctx, "tcp", b.Addrs()[0], b.Topic(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if last, err := conn.ReadLastOffset(); err != nil || last != 1 {
		t.Fatalf("last offset = %d, %v; want 1 (only the second record stored)", last, err)
	}
}

func TestCloseTwice(t *testing.T) {
	b, err := Start(Config{})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	b.Close()
	b.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("dial after Close succeeded")
	}
}

// TestConsumerGroup checks that a kafka-go consumer-group reader (join,
// sync, offset fetch) works against the embedded broker too.
func TestConsumerGroup(t *testing.T) {
	b := start(t, Config{})
	ctx := ctxT(t, 30*time.Second)
	w := newWriter(b)
	defer w.Close()
	const n, keys = 300, 11
	if err := w.WriteMessages(ctx, keyedMessages(n, keys, time.Now())...); err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: b.Addrs(), Topic: b.Topic(), GroupID: "marketfeed-test",
		StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond,
	})
	defer r.Close()
	next := map[string]int{}
	for i := 0; i < n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		k := string(m.Key)
		if got, want := string(m.Value), strconv.Itoa(next[k]); got != want {
			t.Fatalf("key %s: value %s, want %s", k, got, want)
		}
		next[k]++
	}
	if len(next) != keys {
		t.Fatalf("%d keys read, want %d", len(next), keys)
	}
}

// writeSized writes n records of size bytes each to partition p of b,
// record i at time t0 + i ms.
func writeSized(t *testing.T, b *Broker, p, n, size int, t0 time.Time) {
	t.Helper()
	w := &kafka.Writer{
		Addr:         kafka.TCP(b.Addrs()...),
		Topic:        b.Topic(),
		Balancer:     kafka.BalancerFunc(func(kafka.Message, ...int) int { return p }),
		BatchTimeout: time.Millisecond,
		BatchSize:    64,
		RequiredAcks: kafka.RequireOne,
	}
	defer w.Close()
	msgs := make([]kafka.Message, 0, 256)
	for i := 0; i < n; i++ {
		v := make([]byte, size)
		copy(v, strconv.Itoa(i))
		msgs = append(msgs, kafka.Message{Value: v, Time: t0.Add(time.Duration(i) * time.Millisecond)})
		if len(msgs) == cap(msgs) || i == n-1 {
			if err := w.WriteMessages(ctxT(t, 30*time.Second), msgs...); err != nil {
				t.Fatal(err)
			}
			msgs = msgs[:0]
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestRetentionBytes writes 24 MiB into a partition bounded to 512 KiB: the
// partition keeps at most its bound plus one segment, the memory of the
// deleted records is freed, and a reader from the first offset reads only
// the newest records, in order.
func TestRetentionBytes(t *testing.T) {
	const bound, size, n = 512 << 10, 1024, 24 << 10
	b := start(t, Config{Partitions: 1, RetentionBytes: bound})
	before := heapInUse()
	writeSized(t, b, 0, n, size, time.Now())
	b.ApplyRetention()
	pi := b.Cluster().PartitionInfo(b.Topic(), 0)
	if pi.HighWatermark != n {
		t.Fatalf("high watermark %d, want %d", pi.HighWatermark, n)
	}
	seg := Config{RetentionBytes: bound}.segmentBytes()
	if pi.NumBytes > bound+seg || pi.LogStartOffset < n-2*(bound+seg)/size {
		t.Fatalf("after retention: %d bytes kept from offset %d, want at most %d bytes", pi.NumBytes, pi.LogStartOffset, bound+seg)
	}
	after := heapInUse()
	if grown := int64(after) - int64(before); grown > 6*(bound+seg) {
		t.Fatalf("heap grew by %d bytes for %d bytes kept: deleted records are not freed", grown, pi.NumBytes)
	}
	t.Logf("kept offsets %d..%d (%d bytes); heap %d -> %d", pi.LogStartOffset, n-1, pi.NumBytes, before, after)

	conn, err := kafka.DialLeader(ctxT(t, 10*time.Second), "tcp", b.Addrs()[0], b.Topic(), 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := conn.ReadFirstOffset()
	conn.Close()
	if err != nil || first != pi.LogStartOffset {
		t.Fatalf("ReadFirstOffset = %d, %v; want %d", first, err, pi.LogStartOffset)
	}
	r := newReader(b, 0)
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	for want := first; want < first+100; want++ {
		m, err := r.ReadMessage(ctxT(t, 10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if m.Offset != want || !strings.HasPrefix(string(m.Value), strconv.FormatInt(want, 10)) {
			t.Fatalf("read offset %d value %.8q, want offset %d", m.Offset, m.Value, want)
		}
	}
}

// TestRetentionTime keeps records for 5 s of record time: the broker
// deletes older ones by itself within RetentionCheck, and a look-back by
// time still finds the records kept.
func TestRetentionTime(t *testing.T) {
	b := start(t, Config{Partitions: 1, Retention: 5 * time.Second})
	old := time.Now().Add(-time.Hour)
	writeSized(t, b, 0, 500, 100, old)
	now := time.Now()
	writeSized(t, b, 0, 10, 100, now)
	deadline := now.Add(RetentionCheck + 3*time.Second)
	for {
		pi := b.Cluster().PartitionInfo(b.Topic(), 0)
		if pi.LogStartOffset == 500 {
			break
		}
		if pi.LogStartOffset > 500 || time.Now().After(deadline) {
			t.Fatalf("log start offset %d, want 500 (the old records deleted, the new kept)", pi.LogStartOffset)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r := newReader(b, 0)
	defer r.Close()
	if err := r.SetOffsetAt(ctxT(t, 10*time.Second), old); err != nil {
		t.Fatal(err)
	}
	m, err := r.ReadMessage(ctxT(t, 10*time.Second))
	if err != nil || m.Offset != 500 {
		t.Fatalf("look-back read offset %d (%v), want 500", m.Offset, err)
	}
}

// Validate applies the defaults and the rules of Start.
func TestValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{{Partitions: MaxPartitions + 1}, {Brokers: MaxBrokers + 1}, {Retention: time.Microsecond}, {Addr: "x"}} {
		if err := c.Validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", c, err)
		}
	}
}
