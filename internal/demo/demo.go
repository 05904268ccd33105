// Package demo runs marketfeed with no setup: an embedded Kafka-protocol
// broker, a synthetic exchange publishing into it, and the server
// consuming from it, all in one process.
//
// Concurrency: Run blocks until its context ends; it starts its own
// goroutines and stops them all before returning.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/server"
)

// Defaults applied to zero Config fields (and used by the demo command's
// flags). The embedded broker keeps at most DefaultRetentionBytes of
// records per partition, for at most DefaultRetention, so the demo runs
// for days in bounded memory.
const (
	// DefaultListen is the default Config.Listen: loopback only.
	DefaultListen = "127.0.0.1:8080"
	// DefaultPartitions is the default Config.Partitions.
	DefaultPartitions = broker.DefaultPartitions
	// DefaultSymbols is the default Config.Symbols.
	DefaultSymbols = sim.DefaultSymbols
	// DefaultRate is the default Config.Rate, in events per second.
	DefaultRate = sim.DefaultRate
	// DefaultSnapshotEvery is the default Config.SnapshotEvery.
	DefaultSnapshotEvery = sim.DefaultSnapshotEvery
	// DefaultSeed is the default Config.Seed.
	DefaultSeed = sim.DefaultSeed
	// DefaultRetention is the default Config.Retention.
	DefaultRetention = 10 * time.Minute
	// DefaultRetentionBytes is the default Config.RetentionBytes.
	DefaultRetentionBytes = 8 << 20
)

// Config configures the demo.
type Config struct {
	// Listen is the server's HTTP address. Empty means DefaultListen
	// ("127.0.0.1:8080").
	Listen string
	// Topic is the Kafka topic. Empty means feed.DefaultTopic
	// ("marketdata").
	Topic string
	// Partitions of the topic. Zero means DefaultPartitions (4).
	Partitions int
	// Symbols the synthetic exchange trades. Zero means DefaultSymbols
	// (20).
	Symbols int
	// Rate is the exchange's events per second. Zero means DefaultRate
	// (200).
	Rate float64
	// SnapshotEvery is the exchange's snapshot period. Zero means
	// DefaultSnapshotEvery (5s).
	SnapshotEvery time.Duration
	// Seed makes the market reproducible. Zero means DefaultSeed (1).
	Seed int64
	// Retention is how long the embedded broker keeps a record (by record
	// time). Zero means DefaultRetention (10m).
	Retention time.Duration
	// RetentionBytes bounds the record bytes the embedded broker keeps per
	// partition. Zero means DefaultRetentionBytes (8 MiB).
	RetentionBytes int64
	// Out receives the instructions printed once serving. Nil means
	// io.Discard.
	Out io.Writer
	// Logger, nil means slog.Default().
	Logger *slog.Logger
	// Server adjusts the server's configuration before it starts (the
	// demo fills in Listen, Feed.Brokers, Feed.Topic and the keys first).
	// Optional.
	Server func(*server.Config)
	// Open serves every client everything, without API keys.
	Open bool
	// Keys is the API key file. Empty means a temporary file (see
	// WriteKeyFile) with an anonymous plan that covers the browser page
	// (depth up to 20, intervals of 100ms or slower, a ticker of every
	// symbol and 10 more subscriptions, 20 commands per second) and one
	// printed demo key with every right (raw, depth 1000).
	Keys string
}

func (c Config) withDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Topic == "" {
		c.Topic = feed.DefaultTopic
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Symbols == 0 {
		c.Symbols = DefaultSymbols
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.RetentionBytes == 0 {
		c.RetentionBytes = DefaultRetentionBytes
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports whether cfg, its defaults applied, is one Run can
// start: the embedded broker's rules (broker.Config.Validate) for
// Partitions, Retention and RetentionBytes.
func (c Config) Validate() error {
	return c.withDefaults().broker().Validate()
}

// broker is the embedded broker's configuration.
func (c Config) broker() broker.Config {
	return broker.Config{Topic: c.Topic, Partitions: c.Partitions,
		Retention: c.Retention, RetentionBytes: c.RetentionBytes}
}

// Run starts the broker, the exchange and the server, prints what to do
// next, and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	b, err := broker.Start(cfg.broker())
	if err != nil {
		return fmt.Errorf("demo: start embedded broker: %w", err)
	}
	defer b.Close()

	scfg := server.Config{
		Listen: cfg.Listen,
		Feed:   feed.Config{Brokers: b.Addrs(), Topic: cfg.Topic, Start: feed.StartEarliest},
		Logger: cfg.Logger,
	}
	var demoKey string
	if !cfg.Open {
		path, secret, cleanup, err := keyFile(cfg)
		if err != nil {
			return fmt.Errorf("demo: key file: %w", err)
		}
		defer cleanup()
		scfg.Keys, scfg.Origins, demoKey = path, []string{"*"}, secret
	}
	if cfg.Server != nil {
		cfg.Server(&scfg)
	}
	srv, err := server.New(scfg)
	if err != nil {
		return err
	}

	w, err := producer.NewWriter(producer.Config{Brokers: b.Addrs(), Topic: cfg.Topic})
	if err != nil {
		return err
	}
	defer w.Close()
	ex := sim.New(sim.Config{Symbols: cfg.Symbols, Seed: cfg.Seed})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	pubErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := ex.Publish(ctx, w, sim.PublishConfig{Rate: cfg.Rate, SnapshotEvery: cfg.SnapshotEvery})
		if err != nil && !errors.Is(err, context.Canceled) {
			pubErr <- err
			cancel()
		}
	}()
	printInstructions(cfg.Out, srv.Addr(), b.Addrs(), ex.Symbols())
	printKeys(cfg.Out, scfg.Keys, demoKey, watchCommand(srv.Addr()), ex.Symbols())
	fmt.Fprintln(cfg.Out, "\nPress Ctrl-C to stop.")
	err = srv.Run(ctx)
	cancel()
	wg.Wait()
	select {
	case perr := <-pubErr:
		return fmt.Errorf("demo: exchange stopped: %w", perr)
	default:
	}
	return err
}

// watchCommand is the command line of watch against the server at addr.
func watchCommand(addr string) string {
	cmd := "go run ./cmd/marketfeed watch"
	if addr != "127.0.0.1:8080" {
		cmd += " -url ws://" + addr + "/ws"
	}
	return cmd
}

func printInstructions(out io.Writer, addr string, brokers []string, symbols []string) {
	watchCmd := watchCommand(addr)
	first := "BTC-USD"
	if len(symbols) > 0 {
		first = symbols[0]
	}
	second := first
	if len(symbols) > 1 {
		second = symbols[1]
	}
	fmt.Fprintf(out, `marketfeed demo: an embedded Kafka broker (%s), a synthetic exchange
publishing %d symbols into it, and marketfeed serving them.

  Live page   http://%[3]s/   (open it in a browser)
  WebSocket   ws://%[3]s/ws
  Symbols     http://%[3]s/v1/symbols
  Metrics     http://%[3]s/metrics
  Readiness   http://%[3]s/readyz

Watch it live, in another terminal:
  %[6]s book.%[4]s
  %[6]s ticker.%[5]s
  %[6]s -raw trades.%[4]s

Or speak the protocol yourself (schemas/websocket.md), e.g. send
  %[7]s
`, brokers[0], len(symbols), addr, first, second, watchCmd, subscribeExample(first))
}

// subscribeExample is the subscribe command the demo prints for symbol:
// one the anonymous plan allows.
func subscribeExample(symbol string) string {
	return `{"op":"subscribe","id":1,"channel":"book.` + symbol + `","depth":10,"interval":"100ms"}`
}
