package broker

import (
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Defaults applied by Start to zero Config fields.
const (
	// DefaultTopic is the default Config.Topic.
	DefaultTopic = "marketdata"
	// DefaultPartitions is the default Config.Partitions.
	DefaultPartitions = 4
	// DefaultBrokers is the default Config.Brokers.
	DefaultBrokers = 1
	// DefaultAddr is the default Config.Addr: a free loopback port.
	DefaultAddr = "127.0.0.1:0"
)

// ErrConfig reports an invalid Config.
var ErrConfig = errors.New("broker: invalid config")

// Config configures an embedded broker.
type Config struct {
	// Topic is the topic created at start. Zero means "marketdata".
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
}

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
	if c.Partitions < 0 || c.Partitions > 1<<16 {
		return c, fmt.Errorf("%w: partitions %d", ErrConfig, c.Partitions)
	}
	if c.Brokers < 0 || c.Brokers > 64 {
		return c, fmt.Errorf("%w: brokers %d", ErrConfig, c.Brokers)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("%w: addr %q: %v", ErrConfig, c.Addr, err)
	}
	return c, nil
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
	c, err := kfake.NewCluster(
		kfake.NumBrokers(cfg.Brokers),
		kfake.SeedTopics(int32(cfg.Partitions), cfg.Topic),
		kfake.ListenFn(listen),
	)
	if err != nil {
		return nil, fmt.Errorf("broker: start: %w", err)
	}
	return &Broker{cfg: cfg, c: c, addrs: c.ListenAddrs()}, nil
}

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
