// Command marketfeed streams an exchange's market data from Kafka to
// WebSocket clients.
//
//	marketfeed serve   consume a Kafka topic and serve WebSocket clients
//	marketfeed demo    the same, on an embedded broker fed by a synthetic exchange
//	marketfeed watch   show a channel live in the terminal
//	marketfeed simulate  publish a synthetic exchange into a Kafka cluster
//	marketfeed config  print or validate the effective configuration
//	marketfeed keys    manage the API key file (create, list, revoke, show)
//
// Run "marketfeed <command> -h" for the flags of each command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/marketfeed/marketfeed/client/watch"
	"github.com/marketfeed/marketfeed/internal/config"
	"github.com/marketfeed/marketfeed/internal/demo"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/server"
)

const usage = `marketfeed streams an exchange's market data from Kafka to WebSocket clients.

Usage:
  marketfeed serve [flags]           consume Kafka and serve WebSocket clients
  marketfeed demo [flags]            embedded broker + synthetic exchange + server
  marketfeed watch [flags] CHANNEL   show book.SYM, bbo.SYM, ticker.SYM, trades.SYM, candles.SYM or tickers live
  marketfeed simulate [flags]        publish a synthetic exchange into a Kafka cluster
  marketfeed config print|validate   show the effective configuration, or check it
  marketfeed keys create|list|revoke|show [flags]   manage API keys

Configuration: defaults < YAML file (-config) < MARKETFEED_* environment < flags.

Run "marketfeed COMMAND -h" for the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = runServe(ctx, os.Args[2:])
	case "demo":
		err = runDemo(ctx, os.Args[2:])
	case "watch":
		err = runWatch(ctx, os.Args[2:])
	case "simulate":
		err = runSimulate(ctx, os.Args[2:])
	case "config":
		err = runConfig(os.Args[2:])
	case "keys":
		err = runKeys(os.Args[2:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "marketfeed: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "marketfeed:", err)
		os.Exit(1)
	}
}

// env returns the environment variable name, or def when it is unset.
func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// serveFlags defines the configuration flags shared by serve and config.
func serveFlags(name string) (*flag.FlagSet, *string, *config.Flags) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	file := fs.String("config", env("MARKETFEED_CONFIG", ""), "YAML configuration file (env MARKETFEED_CONFIG)")
	return fs, file, config.RegisterFlags(fs)
}

func runServe(ctx context.Context, args []string) error {
	fs, file, flags := serveFlags("serve")
	_ = fs.Parse(args)
	cfg, err := config.Resolve(*file, os.LookupEnv, flags)
	if err != nil {
		return err
	}
	log := cfg.Logger(os.Stderr)
	srv, err := server.New(cfg.Server(log))
	if err != nil {
		return err
	}
	reloadOnHangup(ctx, srv, log)
	return srv.Run(ctx)
}

// runConfig prints the effective configuration or validates it.
func runConfig(args []string) error {
	if len(args) == 0 || (args[0] != "print" && args[0] != "validate") {
		return errors.New("usage: marketfeed config print|validate [-config FILE] [flags]")
	}
	fs, file, flags := serveFlags("config " + args[0])
	_ = fs.Parse(args[1:])
	cfg, err := config.Resolve(*file, os.LookupEnv, flags)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if args[0] == "print" {
		_, err = os.Stdout.Write(cfg.YAML())
		return err
	}
	fmt.Println("configuration is valid")
	return nil
}

// runSimulate publishes the synthetic exchange into a Kafka cluster.
func runSimulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("simulate", flag.ExitOnError)
	def := config.Default().Kafka // the server's kafka.brokers and kafka.topic
	brokers := fs.String("brokers", env("MARKETFEED_KAFKA_BROKERS", strings.Join(def.Brokers, ",")), "comma-separated Kafka bootstrap brokers (env MARKETFEED_KAFKA_BROKERS)")
	topic := fs.String("topic", env("MARKETFEED_KAFKA_TOPIC", def.Topic), "topic to publish to (env MARKETFEED_KAFKA_TOPIC)")
	symbols := fs.Int("symbols", sim.DefaultSymbols, "number of symbols")
	rate := fs.Float64("rate", sim.DefaultRate, "events per second")
	snapshotEvery := fs.Duration("snapshot-every", sim.DefaultSnapshotEvery, "period of instrument definitions and snapshots")
	seed := fs.Int64("seed", sim.DefaultSeed, "seed of the random market")
	epoch := fs.Uint64("epoch", 0, "publisher epoch of the run's snapshots and deltas (0: the start time in µs, so every run has a larger one)")
	_ = fs.Parse(args)
	if *epoch == 0 {
		*epoch = sim.NewEpoch(time.Now())
	}
	w, err := producer.NewWriter(producer.Config{
		Brokers: strings.Split(*brokers, ","), Topic: *topic, AutoCreateTopic: true,
	})
	if err != nil {
		return err
	}
	defer w.Close()
	fmt.Fprintf(os.Stderr, "publishing %d symbols at %.0f events/s to %s on %s, epoch %d\n", *symbols, *rate, *topic, *brokers, *epoch)
	return sim.New(sim.Config{Symbols: *symbols, Seed: *seed, Epoch: *epoch}).
		Publish(ctx, w, sim.PublishConfig{Rate: *rate, SnapshotEvery: *snapshotEvery,
			OnError: func(err error, failures int, retryIn time.Duration) {
				fmt.Fprintf(os.Stderr, "write failed (%d in a row), retrying in %v: %v\n", failures, retryIn, err)
			}})
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	listen := fs.String("listen", env("MARKETFEED_LISTEN", demo.DefaultListen), "HTTP/WebSocket listen address (env MARKETFEED_LISTEN)")
	symbols := fs.Int("symbols", demo.DefaultSymbols, "number of symbols the synthetic exchange trades")
	rate := fs.Float64("rate", demo.DefaultRate, "exchange events per second")
	partitions := fs.Int("partitions", demo.DefaultPartitions, "partitions of the embedded topic")
	retention := fs.Duration("retention", demo.DefaultRetention, "how long the embedded broker keeps a record")
	retentionBytes := fs.Int64("retention-bytes", demo.DefaultRetentionBytes, "record bytes the embedded broker keeps per partition")
	logLevel := fs.String("log-level", env("MARKETFEED_LOG_LEVEL", "warn"), "debug, info, warn or error (env MARKETFEED_LOG_LEVEL)")
	keys := fs.String("keys", "", "API key file; empty: a temporary one with an anonymous plan and a printed demo key")
	open := fs.Bool("open", false, "serve everyone everything, without API keys")
	anonymous := fs.String("anonymous-plan", "", `plan of the key file for clients without a key, "none" to refuse them; empty: the key file's "anonymous"`)
	_ = fs.Parse(args)
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	return demo.Run(ctx, demo.Config{
		Listen:         *listen,
		Symbols:        *symbols,
		Rate:           *rate,
		Partitions:     *partitions,
		Retention:      *retention,
		RetentionBytes: *retentionBytes,
		Keys:           *keys,
		Open:           *open,
		Server: func(c *server.Config) {
			c.AnonymousPlan = *anonymous
		},
		Out:    os.Stdout,
		Logger: log,
	})
}

func runWatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ExitOnError)
	url := fs.String("url", env("MARKETFEED_URL", "ws://127.0.0.1:8080/ws"), "server WebSocket URL (env MARKETFEED_URL)")
	depth := fs.Int("depth", 10, "book depth: 1, 5, 10, 20, 50, 100, 500 or 1000")
	interval := fs.String("interval", "100ms", "update interval: raw, 100ms or 1s")
	apiKey := fs.String("api-key", env("MARKETFEED_API_KEY", ""), "API key sent in the X-API-Key header (env MARKETFEED_API_KEY)")
	resolution := fs.String("resolution", "", "candles resolution: 1m, 5m, 15m, 1h or 1d (default: the server's, 1m)")
	raw := fs.Bool("raw", false, "print every message as one JSON line instead of the live view")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marketfeed watch [flags] CHANNEL   (book.SYM, bbo.SYM, ticker.SYM, trades.SYM, candles.SYM or tickers)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	return watch.Run(ctx, watch.Config{
		URL:        *url,
		Channel:    fs.Arg(0),
		Depth:      *depth,
		Interval:   *interval,
		Resolution: *resolution,
		Raw:        *raw,
		APIKey:     *apiKey,
		Color:      watch.IsTerminal(os.Stdout) && os.Getenv("NO_COLOR") == "",
		Log:        os.Stderr,
	}, os.Stdout)
}
