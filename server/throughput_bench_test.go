package server_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/kafkatest"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
	"github.com/segmentio/kafka-go"
)

// BenchmarkKafkaToBooks measures the server's sustained consumption: it
// produces a synthetic market (20 symbols; periodic snapshots) into the
// embedded broker first, then, timed, starts a server reading the topic
// from the beginning and waits until every book has applied its last
// event. Each iteration is a fresh server on the same records. After the
// timing, every final book (depth 1000, through a WebSocket client, its
// checksum verified) is compared with an independent replay. It reports
// Kafka records (events) per second; the target is 300,000 on the
// reference machine. Run with -benchtime=1x (or 3x): one iteration
// consumes 600,000 market events.
func BenchmarkKafkaToBooks(b *testing.B) {
	const partitions = 2
	br, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: partitions})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	benchKafkaToBooks(b, br.Addrs(), br.Topic())
}

// BenchmarkKafkaToBooksRealKafka is BenchmarkKafkaToBooks against the real
// Apache Kafka cluster of MARKETFEED_KAFKA_BROKERS (scripts/kafka.sh start),
// on a topic of its own with 2 partitions; it skips without one. The
// broker runs in its own process on the same machine.
func BenchmarkKafkaToBooksRealKafka(b *testing.B) {
	brokers := kafkatest.Brokers(b)
	topic := kafkatest.NewAdmin(b, brokers).CreateTopic(2, 1, nil)
	benchKafkaToBooks(b, brokers, topic)
}

// benchKafkaToBooks populates topic with the synthetic market, then times
// fresh servers consuming it (see BenchmarkKafkaToBooks).
func benchKafkaToBooks(b *testing.B, brokers []string, topic string) {
	const events = 600_000
	// A Transport of its own: the default one caches metadata, which
	// would not know a topic created since.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	w := producer.MustNewWriter(producer.Config{Transport: tr, Brokers: brokers, Topic: topic,
		BatchSize: 5000, BatchBytes: 16 << 20, BatchTimeout: 5 * time.Millisecond})
	defer w.Close()
	ex := sim.New(sim.Config{Seed: 17})
	rep := newReplay(0)
	now := time.Now()
	records := 0
	var batch []sim.Message
	flush := func() {
		km := make([]kafka.Message, len(batch))
		for i, m := range batch {
			rep.apply(b, m.Value)
			km[i] = kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := w.WriteMessages(ctx, km...); err != nil {
			b.Fatal(err)
		}
		records += len(batch)
		batch = batch[:0]
	}
	batch = ex.Snapshots(now, batch)
	for i := range events {
		now = now.Add(10 * time.Microsecond)
		batch = ex.Next(now, batch)
		if i%100_000 == 99_999 {
			batch = ex.Snapshots(now, batch)
		}
		if len(batch) >= 20_000 {
			flush()
		}
	}
	flush()
	symbols := ex.Symbols()
	// Only the final books and seqs of the replay are needed: release the
	// rest (and the generator's arena) so that the timed part does not pay
	// for garbage collection of the benchmark's own data.
	rep.views, rep.trades, ex, batch = nil, nil, nil, nil
	runtime.GC()

	b.ReportAllocs()
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		srv, err := server.New(server.Config{
			Listen: "127.0.0.1:0",
			Feed:   feed.Config{Brokers: brokers, Topic: topic, Start: feed.StartEarliest},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- srv.Run(ctx) }()
		for !allAt(srv, symbols, rep.seq) {
			if time.Since(start) > 5*time.Minute {
				b.Fatal("books did not reach their final seq")
			}
			time.Sleep(time.Millisecond)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		checkFinalBooks(b, "ws://"+srv.Addr()+"/ws", rep, symbols)
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(records)*float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(records), "events")
}

func allAt(srv *server.Server, symbols []string, seq map[string]uint64) bool {
	for _, sym := range symbols {
		tp := srv.Hub().Streams(sym)
		if tp == nil {
			return false
		}
		if st, s := tp.State(); st != market.Live || s != seq[sym] {
			return false
		}
	}
	return true
}

// checkFinalBooks subscribes to every symbol at depth 1000 and compares the
// snapshot (checksum verified) with the replay.
func checkFinalBooks(b testing.TB, url string, rep *replay, symbols []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, url, client.Options{MaxMessageSize: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	for _, sym := range symbols {
		ch := "book." + sym
		if err := conn.Subscribe(1, []string{ch}, 1000, "raw"); err != nil {
			b.Fatal(err)
		}
		book := client.NewBook(ch)
		for !book.Synced() {
			m, err := conn.Next(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if err := book.Apply(m); err != nil {
				b.Fatal(err)
			}
			if m.Type == schemas.TypeStatus {
				b.Fatalf("%s: status %s", ch, m.Status)
			}
		}
		want := rep.top(sym, 1000)
		if book.Seq() != rep.seq[sym] || viewDigest(book.Bids(), book.Asks()) != viewDigest(want.bids, want.asks) {
			b.Fatalf("%s: final book at seq %d differs from the replay at %d", ch, book.Seq(), rep.seq[sym])
		}
	}
}
