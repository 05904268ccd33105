package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/auth"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/server"
	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of the server.
type Config struct {
	// Listen is the address of /ws (and of the admin endpoints when
	// AdminListen is empty).
	Listen string `yaml:"listen"`
	// AdminListen, when set, serves /metrics, /healthz, /readyz and
	// /debug/pprof on a separate address.
	AdminListen string `yaml:"admin_listen"`
	// Pprof enables /debug/pprof on the admin endpoints.
	Pprof bool `yaml:"pprof"`
	// ShutdownTimeout bounds the graceful shutdown.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`

	HTTP      HTTP      `yaml:"http"`
	TLS       TLS       `yaml:"tls"`
	Log       Log       `yaml:"log"`
	Kafka     Kafka     `yaml:"kafka"`
	WebSocket WebSocket `yaml:"websocket"`
	Auth      Auth      `yaml:"auth"`
	History   History   `yaml:"history"`
	// TradeHistory bounds each symbol's recent trades, from which trades
	// streams resume and GET /v1/trades answers.
	TradeHistory TradeHistory `yaml:"trade_history"`
}

// History bounds the book history of each symbol, from which
// subscribers resume (market.HistoryLimits).
type History struct {
	Window Duration `yaml:"window"`
	// MaxBytes: -1 keeps no history.
	MaxBytes int `yaml:"max_bytes"`
}

// TradeHistory bounds each symbol's trade history
// (market.TradeHistoryConfig).
type TradeHistory struct {
	Window   Duration `yaml:"window"`
	MaxBytes int      `yaml:"max_bytes"`
}

// Auth configures API keys (package auth).
type Auth struct {
	// KeysFile is the API key file; empty serves everyone everything.
	KeysFile string `yaml:"keys_file"`
	// Origins is the browser Origin allow-list ("*": any; empty: pages
	// from PublicHosts only).
	Origins []string `yaml:"origins"`
	// PublicHosts are the host names (host or host:port) under which
	// clients reach the server: with Origins empty, pages served from
	// them may connect. Empty: none.
	PublicHosts []string `yaml:"public_hosts"`
	// AnonymousPlan is the plan of clients without a key, "none" to refuse
	// them; empty: the key file's "anonymous".
	AnonymousPlan string `yaml:"anonymous_plan"`
	// KeysPoll is how often the key file is checked for changes.
	KeysPoll Duration `yaml:"keys_poll"`
}

// HTTP bounds the HTTP side of each listener (server.HTTPLimits):
// requests other than WebSocket connections, which count here only until
// they are upgraded.
type HTTP struct {
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	ReadTimeout       Duration `yaml:"read_timeout"`
	WriteTimeout      Duration `yaml:"write_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
	// MaxConnections and MaxConnectionsPerAddress: -1 for no limit.
	MaxConnections           int `yaml:"max_connections"`
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// RESTBurst and RESTEvery rate-limit the REST endpoints per caller
	// (server.Config.RESTBurst, RESTEvery).
	RESTBurst int      `yaml:"rest_burst"`
	RESTEvery Duration `yaml:"rest_every"`
}

// TLS serves wss:// when both files are set.
type TLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// Log configures log/slog.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Kafka configures the consumer.
type Kafka struct {
	Brokers []string `yaml:"brokers"`
	Topic   string   `yaml:"topic"`
	// Partitions are the only partitions read (empty: every partition).
	Partitions  []int    `yaml:"partitions"`
	Start       string   `yaml:"start"` // lookback, earliest, latest
	Lookback    Duration `yaml:"lookback"`
	MaxWait     Duration `yaml:"max_wait"`
	MaxBytes    int      `yaml:"max_bytes"`
	DialTimeout Duration `yaml:"dial_timeout"`
	ClientID    string   `yaml:"client_id"`
	// FeedDownAfter and SilentAfter are the freshness bounds of the books
	// (server.Config).
	FeedDownAfter Duration `yaml:"feed_down_after"`
	SilentAfter   Duration `yaml:"silent_after"`
}

// WebSocket configures client connections.
type WebSocket struct {
	MaxConnections     int      `yaml:"max_connections"`
	MaxMessageSize     int      `yaml:"max_message_size"`
	MaxSubscriptions   int      `yaml:"max_subscriptions"`
	MaxInvalidMessages int      `yaml:"max_invalid_messages"`
	MaxMessagesPerSec  int      `yaml:"max_messages_per_second"`
	MaxQueueBytes      int      `yaml:"max_queue_bytes"`
	QueueFrames        int      `yaml:"queue_frames"`
	MaxQueueAge        Duration `yaml:"max_queue_age"`
	SocketSendBuffer   int      `yaml:"socket_send_buffer"`
	SocketNotSentLowat int      `yaml:"socket_notsent_lowat"`
	Compression        bool     `yaml:"compression"`
	CompressMinSize    int      `yaml:"compress_min_size"`
	PingInterval       Duration `yaml:"ping_interval"`
	IdleTimeout        Duration `yaml:"idle_timeout"`
	WriteTimeout       Duration `yaml:"write_timeout"`
	MaxLifetime        Duration `yaml:"max_lifetime"`
	LifetimeNotice     Duration `yaml:"lifetime_notice"`
	Poller             bool     `yaml:"poller"`
}

// Duration is a time.Duration written as "20s" in files and flags.
type Duration time.Duration

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// UnmarshalYAML reads a duration string such as "250ms" or "2m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (examples: 250ms, 20s, 2m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the defaults every other source overrides.
func Default() Config {
	return Config{
		Listen:          server.DefaultListen,
		ShutdownTimeout: Duration(server.DefaultShutdownTimeout),
		HTTP: HTTP{
			ReadHeaderTimeout:        Duration(server.DefaultReadHeaderTimeout),
			ReadTimeout:              Duration(server.DefaultReadTimeout),
			WriteTimeout:             Duration(server.DefaultWriteTimeout),
			IdleTimeout:              Duration(server.DefaultIdleTimeout),
			MaxConnections:           server.DefaultMaxConns,
			MaxConnectionsPerAddress: server.DefaultMaxConnsPerAddr,
			RESTBurst:                auth.DefaultRequestBurst,
			RESTEvery:                Duration(auth.DefaultRequestEvery),
		},
		Log: Log{Level: "info", Format: "text"},
		Kafka: Kafka{
			Brokers:       []string{"localhost:9092"},
			Topic:         feed.DefaultTopic,
			Start:         feed.StartLookback,
			Lookback:      Duration(feed.DefaultLookback),
			MaxWait:       Duration(feed.DefaultMaxWait),
			MaxBytes:      feed.DefaultMaxBytes,
			DialTimeout:   Duration(feed.DefaultDialTimeout),
			ClientID:      feed.DefaultClientID,
			FeedDownAfter: Duration(feed.DefaultFeedDownAfter),
			SilentAfter:   Duration(feed.DefaultSilentAfter),
		},
		WebSocket: WebSocket{
			MaxConnections:     0,
			MaxMessageSize:     wsconn.DefaultMaxMessageSize,
			MaxSubscriptions:   fanout.DefaultMaxSubscriptions,
			MaxInvalidMessages: fanout.DefaultMaxInvalidMessages,
			MaxMessagesPerSec:  fanout.DefaultMaxMessagesPerSecond,
			MaxQueueBytes:      wsconn.DefaultMaxQueueBytes,
			QueueFrames:        wsconn.DefaultQueueFrames,
			MaxQueueAge:        Duration(wsconn.DefaultMaxQueueAge),
			SocketSendBuffer:   0,
			SocketNotSentLowat: wsconn.DefaultSocketNotSentLowat,
			Compression:        true,
			CompressMinSize:    wsconn.DefaultCompressMinSize,
			PingInterval:       Duration(wsconn.DefaultPingInterval),
			IdleTimeout:        Duration(wsconn.DefaultIdleTimeout),
			WriteTimeout:       Duration(wsconn.DefaultWriteTimeout),
			MaxLifetime:        0,
			LifetimeNotice:     Duration(wsconn.DefaultLifetimeNotice),
			Poller:             true,
		},
		Auth:    Auth{KeysPoll: Duration(auth.DefaultKeysPoll)},
		History: History{Window: Duration(market.DefaultHistoryWindow), MaxBytes: market.DefaultHistoryMaxBytes},
		TradeHistory: TradeHistory{
			Window:   Duration(market.DefaultTradeWindow),
			MaxBytes: market.DefaultTradeMaxBytes,
		},
	}
}

// LoadFile applies the YAML file at path on top of c. Unknown keys and
// values of the wrong type are errors that name the line.
func LoadFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty file is no override at all (io.EOF).
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %s: %w", path, err)
	}
	if len(c.Auth.Origins) == 0 {
		c.Auth.Origins = nil // "origins: []" is no list, as by default
	}
	if len(c.Auth.PublicHosts) == 0 {
		c.Auth.PublicHosts = nil
	}
	if len(c.Kafka.Partitions) == 0 {
		c.Kafka.Partitions = nil // "partitions: []": every partition, as by default
	}
	return nil
}

// ApplyEnv overrides c with every MARKETFEED_* variable that lookup finds.
func ApplyEnv(c *Config, lookup func(string) (string, bool)) error {
	var errs []error
	for _, k := range keys {
		if v, ok := lookup(k.Env()); ok {
			if err := k.set(c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k.Env(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Validate reports every invalid value, each naming its key. The rules of
// the libraries the keys configure come from them (server.Config.Validate,
// which includes feed.Config.Validate, fanout.Config.Validate and
// auth.ValidatePublicHost); the file adds its own: every key shows its
// default, so a zero or empty value where a library would substitute its
// default is refused, and limits spell "no limit" as -1.
func (c *Config) Validate() error {
	v := &validation{}
	bad, positive := v.bad, v.positive
	v.set("listen", c.Listen, " (host:port or :port)")
	c.validateLog(v)
	c.validateKafka(v)
	c.validateWebSocket(v)
	positive("trade_history.window", c.TradeHistory.Window)
	if c.TradeHistory.MaxBytes < 1 {
		bad("trade_history.max_bytes", "must be positive")
	}
	positive("shutdown_timeout", c.ShutdownTimeout)
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	if c.HTTP.MaxConnections < -1 || c.HTTP.MaxConnections == 0 {
		bad("http.max_connections", "must be positive, or -1 for unlimited")
	}
	if c.HTTP.MaxConnectionsPerAddress < -1 || c.HTTP.MaxConnectionsPerAddress == 0 {
		bad("http.max_connections_per_address", "must be positive, or -1 for unlimited")
	}
	if c.HTTP.RESTBurst < 1 {
		bad("http.rest_burst", "must be positive")
	}
	positive("http.rest_every", c.HTTP.RESTEvery)
	if c.Kafka.MaxBytes < 1<<10 {
		bad("kafka.max_bytes", "must be at least 1024")
	}
	positive("auth.keys_poll", c.Auth.KeysPoll)
	positive("history.window", c.History.Window)
	if c.History.MaxBytes != -1 && c.History.MaxBytes < market.HistoryEntryBytes {
		bad("history.max_bytes", "must be at least %d, or -1 for no history", market.HistoryEntryBytes)
	}
	if c.Auth.KeysFile == "" && (len(c.Auth.Origins) > 0 || len(c.Auth.PublicHosts) > 0 || c.Auth.AnonymousPlan != "") {
		bad("auth", "origins, public_hosts and anonymous_plan apply only with keys_file")
	}
	v.library(c.Server(nil).Validate())
	return v.err()
}

// YAML renders c as a configuration file.
func (c *Config) YAML() []byte {
	out, err := yaml.Marshal(c)
	if err != nil {
		panic("config: marshal: " + err.Error()) // plain data cannot fail
	}
	return out
}

// Logger builds the slog logger c.Log describes, writing to w.
func (c *Config) Logger(w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Log.Format, "json") {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
