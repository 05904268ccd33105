package feed

import (
	"errors"
	"log/slog"
	"math"
	"net"
	"strings"
	"time"

	"github.com/marketfeed/marketfeed/internal/configerr"
)

// Errors returned by this package.
var (
	// ErrConfig reports an invalid Config; the returned error wraps it and
	// names the offending field.
	ErrConfig = errors.New("feed: invalid config")
	// ErrAlreadyRun reports a second call to Consumer.Run: a Consumer
	// consumes once.
	ErrAlreadyRun = errors.New("feed: consumer already run")
	// ErrNilHandler reports a nil handler passed to Consumer.Run.
	ErrNilHandler = errors.New("feed: nil handler")
)

// Start positions accepted in Config.Start.
const (
	// StartLookback starts each partition at the first record whose
	// timestamp is at or after now minus Config.Lookback.
	StartLookback = "lookback"
	// StartEarliest starts each partition at its first retained record.
	StartEarliest = "earliest"
	// StartLatest starts each partition at its end: only records produced
	// after the consumer started are delivered.
	StartLatest = "latest"
)

// Config configures a Consumer. The zero value of every field except
// Brokers selects its documented default.
type Config struct {
	// Brokers lists bootstrap brokers as host:port. Required.
	Brokers []string
	// Topic is the topic to consume. Empty means DefaultTopic
	// ("marketdata").
	Topic string
	// Partitions, when not empty, are the only partitions of Topic that
	// are read (a shard of the topic: the symbols of other partitions are
	// unknown to this consumer). Ready then also waits until every listed
	// partition exists in the topic. Empty means every partition,
	// including partitions added later.
	Partitions []int
	// Start is where each partition starts: StartLookback, StartEarliest
	// or StartLatest. Empty means StartLookback. It applies to the
	// partitions of the first listing; a partition added later starts at
	// its earliest offset.
	Start string
	// Lookback is the look-back window of StartLookback: each partition
	// starts at the first record whose timestamp is at or after
	// now-Lookback. If the broker cannot list offsets by time the
	// partition starts at its earliest record instead. The window must
	// cover at least one snapshot period of the publisher, so that every
	// symbol sees an instrument definition and a snapshot. Zero means 2m.
	Lookback time.Duration
	// MaxWait is how long the broker may hold a fetch while no record is
	// available. It bounds idle round trips, not delivery latency: records
	// are returned as soon as the broker has any. Zero means 50ms.
	MaxWait time.Duration
	// MaxBytes bounds the size of one fetch response per partition. Zero
	// means 8 MiB.
	MaxBytes int
	// DialTimeout bounds connecting to a broker and every metadata or
	// offset request; a fetch may take MaxWait plus DialTimeout before the
	// connection is deemed dead. Zero means 5s.
	DialTimeout time.Duration
	// PartitionRefresh is how often the topic's partitions are listed
	// again so that added partitions are consumed. Zero means 30s.
	PartitionRefresh time.Duration
	// BackoffMin is the first delay before reconnecting after a broker
	// error; it doubles with each consecutive failure. Zero means 100ms.
	BackoffMin time.Duration
	// BackoffMax caps the reconnect delay. Each delay is jittered to a
	// random value between half and all of it. Zero means 5s.
	BackoffMax time.Duration
	// ClientID identifies the consumer to the brokers. Empty means
	// "marketfeed".
	ClientID string
	// Logger receives connection events. Nil means slog.Default().
	Logger *slog.Logger
}

// Defaults applied to zero Config fields (by NewConsumer and Validate);
// the configuration file's kafka.* keys default to them as well.
const (
	// DefaultTopic is the default Config.Topic: the topic publishers write
	// market events to unless told otherwise.
	DefaultTopic = "marketdata"
	// DefaultLookback is the default Config.Lookback.
	DefaultLookback = 2 * time.Minute
	// DefaultMaxWait is the default Config.MaxWait.
	DefaultMaxWait = 50 * time.Millisecond
	// DefaultMaxBytes is the default Config.MaxBytes: 8 MiB.
	DefaultMaxBytes = 8 << 20
	// MaxMaxBytes is the largest Config.MaxBytes accepted: 1 GiB.
	MaxMaxBytes = 1 << 30
	// DefaultDialTimeout is the default Config.DialTimeout.
	DefaultDialTimeout = 5 * time.Second
	// DefaultPartitionRefresh is the default Config.PartitionRefresh.
	DefaultPartitionRefresh = 30 * time.Second
	// DefaultBackoffMin is the default Config.BackoffMin.
	DefaultBackoffMin = 100 * time.Millisecond
	// DefaultBackoffMax is the default Config.BackoffMax.
	DefaultBackoffMax = 5 * time.Second
	// DefaultClientID is the default Config.ClientID.
	DefaultClientID = "marketfeed"
)

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Topic == "" {
		cfg.Topic = DefaultTopic
	}
	if cfg.Start == "" {
		cfg.Start = StartLookback
	}
	if cfg.Lookback == 0 {
		cfg.Lookback = DefaultLookback
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.PartitionRefresh == 0 {
		cfg.PartitionRefresh = DefaultPartitionRefresh
	}
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax == 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return cfg
}

// FieldError is one invalid field of a Config: Sentinel ErrConfig, Field
// its name ("Brokers", "MaxWait"…), Err nil. Validate and NewConsumer
// report one per invalid field, joined; each wraps ErrConfig.
type FieldError = configerr.FieldError

// Validate reports every invalid field of cfg, its defaults applied, as
// joined *FieldError values; nil if NewConsumer accepts it.
func (cfg Config) Validate() error { return cfg.withDefaults().validate() }

// validate checks a Config that already has its defaults applied.
func (cfg Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, configerr.New(ErrConfig, field, nil, format, args...))
	}
	if len(cfg.Brokers) == 0 {
		bad("Brokers", "at least one broker is required")
	}
	for _, b := range cfg.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil || strings.TrimSpace(b) == "" {
			bad("Brokers", "%q is not host:port", b)
		}
	}
	switch cfg.Start {
	case StartLookback, StartEarliest, StartLatest:
	default:
		bad("Start", "%q is not one of %s, %s, %s", cfg.Start, StartLookback, StartEarliest, StartLatest)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"Lookback", cfg.Lookback},
		{"MaxWait", cfg.MaxWait},
		{"DialTimeout", cfg.DialTimeout},
		{"PartitionRefresh", cfg.PartitionRefresh},
		{"BackoffMin", cfg.BackoffMin},
		{"BackoffMax", cfg.BackoffMax},
	} {
		if d.v < 0 {
			bad(d.name, "negative duration %v", d.v)
		}
	}
	seen := make(map[int]bool, len(cfg.Partitions))
	for _, p := range cfg.Partitions {
		if p < 0 || p > math.MaxInt32 {
			bad("Partitions", "%d is not a partition number (0..2^31-1)", p)
		} else if seen[p] {
			bad("Partitions", "partition %d is listed twice", p)
		}
		seen[p] = true
	}
	if cfg.MaxBytes < 0 || cfg.MaxBytes > MaxMaxBytes {
		bad("MaxBytes", "%d is outside 1..1GiB", cfg.MaxBytes)
	}
	if cfg.BackoffMin > cfg.BackoffMax {
		bad("BackoffMin", "%v exceeds BackoffMax %v", cfg.BackoffMin, cfg.BackoffMax)
	}
	return errors.Join(errs...)
}
