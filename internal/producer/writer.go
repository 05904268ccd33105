package producer

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Defaults applied by NewWriter to zero Config fields. Those kafka-go
// would apply anyway are stated here so that a publisher's settings can be
// read in one place.
const (
	// DefaultBatchTimeout is the default Config.BatchTimeout: a batch is
	// sent at the latest this long after its first record, low latency
	// rather than kafka-go's 1s.
	DefaultBatchTimeout = 2 * time.Millisecond
	// DefaultBatchSize is the default Config.BatchSize, in records
	// (kafka-go's).
	DefaultBatchSize = 100
	// DefaultBatchBytes is the default Config.BatchBytes (kafka-go's
	// 1 MiB).
	DefaultBatchBytes = 1 << 20
	// DefaultRequiredAcks is the default Config.RequiredAcks: the
	// partition leader has written the batch.
	DefaultRequiredAcks = kafka.RequireOne
	// WriteTimeout and ReadTimeout bound writing a produce request and
	// reading its response (kafka-go's defaults).
	WriteTimeout = 10 * time.Second
	// ReadTimeout: see WriteTimeout.
	ReadTimeout = 10 * time.Second
	// MaxAttempts is how often kafka-go tries a batch before WriteMessages
	// reports its failure (kafka-go's default); the publisher retries on
	// top of it.
	MaxAttempts = 10
)

// ErrConfig reports an invalid Config; the returned error wraps it and
// names the field.
var ErrConfig = errors.New("producer: invalid config")

// Config configures NewWriter. The zero value of every field except
// Brokers and Topic selects its documented default. Every Writer balances
// by key (kafka.Hash: a symbol always lands in one partition), writes
// synchronously (Async false: WriteMessages returns once the batch is
// acknowledged, so a symbol's records stay in order), and does not
// compress.
type Config struct {
	// Brokers lists bootstrap brokers as host:port. Required.
	Brokers []string
	// Topic is the topic written to. Required.
	Topic string
	// BatchTimeout is how long a batch may wait for more records before it
	// is sent. Zero means DefaultBatchTimeout (2ms).
	BatchTimeout time.Duration
	// BatchSize is the most records of one batch. Zero means
	// DefaultBatchSize (100).
	BatchSize int
	// BatchBytes is the largest batch, in bytes. Zero means
	// DefaultBatchBytes (1 MiB).
	BatchBytes int64
	// RequiredAcks is the acknowledgement a batch waits for:
	// kafka.RequireOne or kafka.RequireAll (every in-sync replica). Zero
	// means DefaultRequiredAcks (RequireOne); a publisher always waits for
	// one.
	RequiredAcks kafka.RequiredAcks
	// AutoCreateTopic lets the first write create a missing topic with
	// the cluster's defaults. Default off: the topic should be created
	// with its partition count on purpose.
	AutoCreateTopic bool
	// Transport carries the requests. Nil means kafka.DefaultTransport,
	// which caches metadata: a writer that must see a topic or partitions
	// created since an earlier writer of the same process needs a
	// Transport of its own.
	Transport kafka.RoundTripper
}

func (c Config) withDefaults() Config {
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.RequiredAcks == 0 {
		c.RequiredAcks = DefaultRequiredAcks
	}
	return c
}

// Validate reports every invalid field of c (with its defaults applied),
// each error wrapping ErrConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, a...)))
	}
	if len(c.Brokers) == 0 {
		bad("Brokers", "at least one broker is required")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil || strings.TrimSpace(b) == "" {
			bad("Brokers", "%q is not host:port", b)
		}
	}
	if c.Topic == "" {
		bad("Topic", "must be set")
	}
	if c.BatchTimeout < 0 {
		bad("BatchTimeout", "negative duration %v", c.BatchTimeout)
	}
	if c.BatchSize < 0 {
		bad("BatchSize", "%d is negative", c.BatchSize)
	}
	if c.BatchBytes < 0 {
		bad("BatchBytes", "%d is negative", c.BatchBytes)
	}
	if c.RequiredAcks != kafka.RequireOne && c.RequiredAcks != kafka.RequireAll {
		bad("RequiredAcks", "%v is neither RequireOne nor RequireAll", c.RequiredAcks)
	}
	return errors.Join(errs...)
}

// NewWriter returns the Writer cfg describes, or the errors of
// cfg.Validate. The caller closes it.
func NewWriter(cfg Config) (*kafka.Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Topic:                  cfg.Topic,
		Balancer:               &kafka.Hash{},
		BatchTimeout:           cfg.BatchTimeout,
		BatchSize:              cfg.BatchSize,
		BatchBytes:             cfg.BatchBytes,
		RequiredAcks:           cfg.RequiredAcks,
		WriteTimeout:           WriteTimeout,
		ReadTimeout:            ReadTimeout,
		MaxAttempts:            MaxAttempts,
		AllowAutoTopicCreation: cfg.AutoCreateTopic,
		Transport:              cfg.Transport,
	}, nil
}

// MustNewWriter is NewWriter for a fixed Config known to be valid (tests,
// tools): it panics on an invalid one.
func MustNewWriter(cfg Config) *kafka.Writer {
	w, err := NewWriter(cfg)
	if err != nil {
		panic(err)
	}
	return w
}
