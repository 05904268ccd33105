package sim

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// recommendedWriter is the Writer documented for Publish.
func recommendedWriter(b *broker.Broker) *kafka.Writer {
	return producer.MustNewWriter(producer.Config{Brokers: b.Addrs(), Topic: b.Topic()})
}

// TestPublishRoundTrip publishes for about a second into the embedded
// broker and reads everything back with partition readers: every record is
// valid, keyed by its symbol, a symbol stays in one partition, and the
// per-symbol order replays exactly (the replayer checks seq continuity,
// snapshots against the replayed books and trades followed by their delta).
func TestPublishRoundTrip(t *testing.T) {
	b := startBroker(t)
	w := recommendedWriter(b)
	e := New(Config{Seed: 21})
	const rate = 1000
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	began := time.Now()
	err := e.Publish(ctx, w, PublishConfig{Rate: rate, SnapshotEvery: 300 * time.Millisecond})
	elapsed := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish = %v, want the context error", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r, partOf, total := readBack(t, b)
	if len(partOf) != len(e.Symbols()) || total != r.msgs {
		t.Fatalf("%d symbols in %d records, want %d symbols", len(partOf), total, len(e.Symbols()))
	}
	if max := int(rate*elapsed.Seconds()) + 1; r.events > max || r.events < 100 {
		t.Fatalf("%d events in %v at %d/s (at most %d)", r.events, elapsed, rate, max)
	}
	t.Logf("%d records, %d events (%d trades) in %v", total, r.events, r.trades, elapsed)
	for sym, bk := range r.books {
		if bk.snapshot < 2 {
			t.Errorf("%s: %d snapshot rounds, want the initial one and periodic ones", sym, bk.snapshot)
		}
	}
}

func TestPublishCanceled(t *testing.T) {
	b := startBroker(t)
	w := recommendedWriter(b)
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := New(Config{}).Publish(ctx, w, PublishConfig{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish on a canceled context = %v", err)
	}
}

// TestPublishRetriesWriteErrors makes the broker refuse a few produce
// requests mid-stream: Publish retries them with backoff, reports each
// failure, keeps publishing, and every record arrives once and in order
// (the replay checks seq continuity and the snapshots sent after the
// recovery).
func TestPublishRetriesWriteErrors(t *testing.T) {
	b := startBroker(t)
	w := recommendedWriter(b)
	w.MaxAttempts = 1
	e := New(Config{Seed: 5})
	const faults = 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var pauses []time.Duration
	var injected atomic.Bool
	cfg := PublishConfig{Rate: 500, SnapshotEvery: time.Hour, RetryMin: 20 * time.Millisecond, RetryMax: 80 * time.Millisecond,
		OnError: func(err error, failures int, retryIn time.Duration) {
			if failures != len(pauses)+1 {
				t.Errorf("failure %d reported as %d in a row", len(pauses)+1, failures)
			}
			pauses = append(pauses, retryIn)
		}}
	go func() {
		time.Sleep(300 * time.Millisecond)
		b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.NotEnoughReplicas, Count: faults})
		injected.Store(true)
	}()
	err := e.Publish(ctx, w, cfg)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish = %v, want it to retry until the context ends", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !injected.Load() || len(pauses) == 0 {
		t.Fatalf("no write failed (%d pauses)", len(pauses))
	}
	if want := []time.Duration{20, 40, 80, 80}; len(pauses) <= faults {
		for i, p := range pauses {
			if p != want[i]*time.Millisecond {
				t.Errorf("pause %d: %v, want %v", i+1, p, want[i]*time.Millisecond)
			}
		}
	}
	r, _, total := readBack(t, b)
	for sym, bk := range r.books {
		if bk.snapshot < 2 {
			t.Errorf("%s: %d snapshot rounds, want the initial one and one after the recovery", sym, bk.snapshot)
		}
	}
	t.Logf("%d write failures (pauses %v); %d records, %d events read back in order", len(pauses), pauses, total, r.events)
}

// TestPublishKeepsRetrying makes every produce request fail: Publish never
// gives up, pausing at most RetryMax between attempts, until its context
// ends.
func TestPublishKeepsRetrying(t *testing.T) {
	b := startBroker(t)
	w := recommendedWriter(b)
	w.MaxAttempts = 1
	defer w.Close()
	b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Err: kerr.InvalidRecord, Count: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var n int
	var last error
	err := New(Config{}).Publish(ctx, w, PublishConfig{RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond,
		OnError: func(err error, failures int, retryIn time.Duration) {
			n, last = failures, err
			if retryIn > 40*time.Millisecond {
				t.Errorf("pause %v beyond RetryMax", retryIn)
			}
		}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Publish = %v, want the context error", err)
	}
	var werrs kafka.WriteErrors
	if n < 5 || !errors.As(last, &werrs) {
		t.Fatalf("%d failures reported, last %T %v; want repeated kafka.WriteErrors", n, last, last)
	}
}

// readBack reads every record of b's topic with partition readers and
// replays them: every record is valid, keyed by its symbol, a symbol stays
// in one partition, and the per-symbol order replays exactly.
func readBack(t *testing.T, b *broker.Broker) (r *replayer, partOf map[string]int, total int) {
	t.Helper()
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	r = newReplayer()
	partOf = map[string]int{}
	for p := 0; p < b.Partitions(); p++ {
		conn, err := kafka.DialLeader(rctx, "tcp", b.Addrs()[0], b.Topic(), p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		rd := kafka.NewReader(kafka.ReaderConfig{
			Brokers: b.Addrs(), Topic: b.Topic(), Partition: p,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 50 * time.Millisecond,
		})
		for i := int64(0); i < last; i++ {
			m, err := rd.ReadMessage(rctx)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", p, i, err)
			}
			sym := string(m.Key)
			if q, ok := partOf[sym]; ok && q != p {
				t.Fatalf("%s in partitions %d and %d", sym, q, p)
			}
			partOf[sym] = p
			// The record time is the event time at Kafka's millisecond
			// resolution.
			rec, err := decode(m.Value)
			if err != nil || rec.TS == nil || m.Time.UnixMilli() != *rec.TS/1000 {
				t.Fatalf("record time %v, ts %v (%v)", m.Time, rec.TS, err)
			}
			if err := r.apply(m.Key, m.Value, *rec.TS); err != nil {
				t.Fatalf("partition %d offset %d: %v\n%s", p, i, err, m.Value)
			}
			total++
		}
		rd.Close()
	}
	return r, partOf, total
}
