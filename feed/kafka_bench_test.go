package feed

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// consumeAll runs a fresh Consumer from the earliest offset until its
// handlers have counted want records, and returns the bytes they saw.
func consumeAll(b *testing.B, brokers []string, want int64) int64 {
	b.Helper()
	c, err := NewConsumer(Config{
		Brokers: brokers,
		Start:   StartEarliest,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n, bytes atomic.Int64
	done := make(chan struct{})
	handler := func(ctx context.Context, _ int, in <-chan Batch) {
		for {
			select {
			case bt, ok := <-in:
				if !ok {
					return
				}
				sz := 0
				for i := range bt.Records {
					sz += len(bt.Records[i].Key) + len(bt.Records[i].Value)
				}
				bytes.Add(int64(sz))
				if n.Add(int64(len(bt.Records))) >= want && len(bt.Records) > 0 {
					select {
					case <-done:
					default:
						if n.Load() >= want {
							close(done)
						}
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx, handler) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("consumed %d of %d records", n.Load(), want)
	}
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}
	return bytes.Load()
}

// BenchmarkConsumer measures records per second from a kfake broker holding
// 200,000 records of about 150 bytes in 4 partitions, through a Consumer, to
// handlers that count them. One op consumes the whole topic.
func BenchmarkConsumer(b *testing.B) {
	const parts, total = 4, 200_000
	cl := newCluster(b, parts)
	addrs := cl.ListenAddrs()
	now := time.Now()
	for i := 0; i < total; i += 50_000 {
		produce(b, addrs, messages(i, 50_000, now))
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		bytes += consumeAll(b, addrs, total)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(total*b.N)/sec, "records/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
}

// BenchmarkConsumerSynthetic is BenchmarkConsumer against a broker that
// answers every fetch from one canned batch of 150-byte records, which
// takes the broker's log reads out of the measurement.
func BenchmarkConsumerSynthetic(b *testing.B) {
	const parts, total = 4, 1_000_000
	cl := newCluster(b, parts, kfake.SyntheticFetch(kfake.SyntheticBatch{RecordBytes: 150}))
	addrs := cl.ListenAddrs()
	b.ReportAllocs()
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		bytes += consumeAll(b, addrs, total)
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(total*b.N)/sec, "records/s")
	b.ReportMetric(float64(bytes)/sec/1e6, "MB/s")
}
