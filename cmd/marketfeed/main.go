// Command marketfeed streams an exchange's market data from Kafka to
// WebSocket clients.
//
//	marketfeed serve   consume a Kafka topic and serve WebSocket clients
//	marketfeed demo    the same, on an embedded broker fed by a synthetic exchange
//	marketfeed watch   show a channel live in the terminal
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
	"github.com/marketfeed/marketfeed/demo"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/server"
)

const usage = `marketfeed streams an exchange's market data from Kafka to WebSocket clients.

Usage:
  marketfeed serve [flags]           consume Kafka and serve WebSocket clients
  marketfeed demo [flags]            embedded broker + synthetic exchange + server
  marketfeed watch [flags] CHANNEL   show book.SYM, ticker.SYM or trades.SYM live
  marketfeed keys create|list|revoke|show [flags]   manage API keys

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

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "marketfeed: ignoring %s=%q: not a duration\n", name, v)
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

func runServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	listen := fs.String("listen", env("MARKETFEED_LISTEN", ":8080"), "HTTP/WebSocket listen address (env MARKETFEED_LISTEN)")
	brokers := fs.String("brokers", env("MARKETFEED_BROKERS", "localhost:9092"), "comma-separated Kafka bootstrap brokers (env MARKETFEED_BROKERS)")
	topic := fs.String("topic", env("MARKETFEED_TOPIC", "marketdata"), "Kafka topic (env MARKETFEED_TOPIC)")
	start := fs.String("start", env("MARKETFEED_START", feed.StartLookback), "where to start reading: lookback, earliest or latest (env MARKETFEED_START)")
	lookback := fs.Duration("lookback", envDuration("MARKETFEED_LOOKBACK", 2*time.Minute), "with -start lookback: how far back to start; must cover a snapshot period (env MARKETFEED_LOOKBACK)")
	logLevel := fs.String("log-level", env("MARKETFEED_LOG_LEVEL", "info"), "debug, info, warn or error (env MARKETFEED_LOG_LEVEL)")
	keys := fs.String("keys", env("MARKETFEED_KEYS", ""), "API key file; empty serves everyone everything (env MARKETFEED_KEYS)")
	origins := fs.String("origins", env("MARKETFEED_ORIGINS", ""), "with -keys: comma-separated browser origins allowed to connect, * for any; empty: same host only (env MARKETFEED_ORIGINS)")
	anonymous := fs.String("anonymous-plan", env("MARKETFEED_ANONYMOUS_PLAN", ""), `with -keys: plan for clients without a key, "none" to refuse them; empty: the key file's "anonymous" (env MARKETFEED_ANONYMOUS_PLAN)`)
	_ = fs.Parse(args)
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		AnonymousPlan: *anonymous,
		Keys:          *keys,
		Origins:       splitList(*origins),
		Listen:        *listen,
		Feed: feed.Config{
			Brokers:  strings.Split(*brokers, ","),
			Topic:    *topic,
			Start:    *start,
			Lookback: *lookback,
		},
		Logger: log,
	})
	if err != nil {
		return err
	}
	reloadOnHangup(ctx, srv, log)
	return srv.Run(ctx)
}

func runDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	listen := fs.String("listen", env("MARKETFEED_LISTEN", "127.0.0.1:8080"), "HTTP/WebSocket listen address (env MARKETFEED_LISTEN)")
	symbols := fs.Int("symbols", 20, "number of symbols the synthetic exchange trades")
	rate := fs.Float64("rate", 200, "exchange events per second")
	partitions := fs.Int("partitions", 4, "partitions of the embedded topic")
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
		Listen:     *listen,
		Symbols:    *symbols,
		Rate:       *rate,
		Partitions: *partitions,
		Keys:       *keys,
		Open:       *open,
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
	raw := fs.Bool("raw", false, "print every message as one JSON line instead of the live view")
	key := fs.String("key", env("MARKETFEED_API_KEY", ""), "API key, sent as a bearer token (env MARKETFEED_API_KEY)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: marketfeed watch [flags] CHANNEL   (book.SYM, ticker.SYM or trades.SYM)")
		fs.PrintDefaults()
	}
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	return watch.Run(ctx, watch.Config{
		URL:      *url,
		Channel:  fs.Arg(0),
		Depth:    *depth,
		Interval: *interval,
		Raw:      *raw,
		Header:   bearer(*key),
		Color:    watch.IsTerminal(os.Stdout) && os.Getenv("NO_COLOR") == "",
		Log:      os.Stderr,
	}, os.Stdout)
}
