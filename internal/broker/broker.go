package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/marketfeed/marketfeed/feed"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Defaults applied by Start to zero Config fields.
const (
	// DefaultTopic is the default Config.Topic: the consumer's
	// (feed.DefaultTopic), so that a server with default settings reads
	// the topic an embedded broker creates.
	DefaultTopic = feed.DefaultTopic
	// DefaultPartitions is the default Config.Partitions.
	DefaultPartitions = 4
	// DefaultBrokers is the default Config.Brokers.
	DefaultBrokers = 1
	// DefaultAddr is the default Config.Addr: a free loopback port.
	DefaultAddr = "127.0.0.1:0"
	// RetentionCheck is how often a broker with a retention bound deletes
	// the records beyond it (Kafka's log.cleaner.backoff.ms).
	RetentionCheck = time.Second
	// MaxSegmentBytes is the largest log segment of a topic with a
	// retention bound (Kafka's segment.bytes): records are freed a whole
	// segment at a time, so a partition holds at most its bound plus one
	// segment. With RetentionBytes set, a segment is an eighth of it, at
	// least MinSegmentBytes.
	MaxSegmentBytes = 1 << 20
	// MinSegmentBytes is the smallest log segment (see MaxSegmentBytes).
	MinSegmentBytes = 16 << 10
	// MaxPartitions is the largest Config.Partitions accepted.
	MaxPartitions = 1 << 16
	// MaxBrokers is the largest Config.Brokers accepted.
	MaxBrokers = 64
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("broker: invalid config")

// Config configures an embedded broker.
type Config struct {
	// Topic is the topic created at start. Zero means DefaultTopic
	// ("marketdata").
	Topic string
	// Partitions is the topic's partition count. Zero means 4.
	Partitions int
	// Brokers is the number of brokers in the cluster; partition leaders
	// are spread over them. Zero means 1.
	Brokers int
	// Addr is the host:port the first broker listens on; the other brokers
	// listen on free ports of the same host. Zero means "127.0.0.1:0" (a
	// free loopback port).
	Addr string
	// Retention is how long the topic keeps a record (Kafka's
	// retention.ms, by record time): older records are deleted within
	// RetentionCheck. Zero keeps every record while the broker runs.
	Retention time.Duration
	// RetentionBytes bounds the record bytes each partition keeps (Kafka's
	// retention.bytes, per partition): the oldest records beyond it are
	// deleted within RetentionCheck. Zero means no bound.
	RetentionBytes int64
}

// Validate reports whether c, its defaults applied, is a Config Start
// accepts; the error wraps ErrConfig.
func (c Config) Validate() error {
	_, err := c.withDefaults()
	return err
}

// withDefaults returns c with every zero field set to its default, and
// the error of its first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Brokers == 0 {
		c.Brokers = DefaultBrokers
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	return c, c.validate()
}

// validate checks a Config with its defaults applied.
func (c Config) validate() error {
	if c.Partitions < 0 || c.Partitions > MaxPartitions {
		return fmt.Errorf("%w: partitions %d (1..%d)", ErrConfig, c.Partitions, MaxPartitions)
	}
	if c.Brokers < 0 || c.Brokers > MaxBrokers {
		return fmt.Errorf("%w: brokers %d (1..%d)", ErrConfig, c.Brokers, MaxBrokers)
	}
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < time.Millisecond) {
		return fmt.Errorf("%w: retention %v (0 or at least 1ms)", ErrConfig, c.Retention)
	}
	if c.RetentionBytes < 0 {
		return fmt.Errorf("%w: retention bytes %d", ErrConfig, c.RetentionBytes)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: addr %q: %v", ErrConfig, c.Addr, err)
	}
	return nil
}

// Broker is a running embedded Kafka-protocol cluster.
type Broker struct {
	cfg   Config
	c     *kfake.Cluster
	addrs []string
	once  sync.Once
}

// Start starts a cluster per cfg with the topic already created, and returns
// once it accepts connections.
func Start(cfg Config) (*Broker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	var mu sync.Mutex
	first := true
	listen := func(network, _ string) (net.Listener, error) {
		mu.Lock()
		addr := net.JoinHostPort(host, "0")
		if first {
			addr, first = cfg.Addr, false
		}
		mu.Unlock()
		return net.Listen(network, addr)
	}
	opts := []kfake.Opt{kfake.NumBrokers(cfg.Brokers), kfake.ListenFn(listen)}
	topicCfg := cfg.topicConfig()
	if topicCfg == nil {
		opts = append(opts, kfake.SeedTopics(int32(cfg.Partitions), cfg.Topic))
	} else {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{
			"log.cleaner.backoff.ms": strconv.FormatInt(RetentionCheck.Milliseconds(), 10),
		}))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	if topicCfg != nil {
		if err := c.CreateTopic(cfg.Topic, int32(cfg.Partitions), topicCfg); err != nil {
			c.Close()
			return nil, fmt.Errorf("broker: create topic %s: %w", cfg.Topic, err)
		}
	}
	return &Broker{cfg: cfg, c: c, addrs: c.ListenAddrs()}, nil
}

// topicConfig returns the Kafka configuration of the topic that carries
// the retention bounds, or nil when there are none.
func (c Config) topicConfig() map[string]string {
	if c.Retention == 0 && c.RetentionBytes == 0 {
		return nil
	}
	m := map[string]string{"segment.bytes": strconv.FormatInt(c.segmentBytes(), 10)}
	if c.Retention > 0 {
		m["retention.ms"] = strconv.FormatInt(c.Retention.Milliseconds(), 10)
	}
	if c.RetentionBytes > 0 {
		m["retention.bytes"] = strconv.FormatInt(c.RetentionBytes, 10)
	}
	return m
}

// segmentBytes is the log segment size of a topic with retention bounds.
func (c Config) segmentBytes() int64 {
	seg := int64(MaxSegmentBytes)
	if c.RetentionBytes > 0 {
		seg = min(seg, max(c.RetentionBytes/8, MinSegmentBytes))
	}
	return seg
}

// ApplyRetention deletes at once the records beyond the retention bounds,
// as the broker does every RetentionCheck. It is a no-op without bounds.
func (b *Broker) ApplyRetention() { b.c.ApplyRetention() }

// Addrs returns the bootstrap addresses (host:port), one per broker, the
// first broker's first.
func (b *Broker) Addrs() []string { return append([]string(nil), b.addrs...) }

// Topic returns the name of the topic created at start.
func (b *Broker) Topic() string { return b.cfg.Topic }

// Partitions returns the partition count of the topic created at start.
func (b *Broker) Partitions() int { return b.cfg.Partitions }

// Cluster returns the underlying cluster, for fault injection in tests.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close shuts the cluster down and drops its data. Clients see their
// connections closed.
func (b *Broker) Close() { b.once.Do(b.c.Close) }
