// Command loadgen measures marketfeed's fan-out under load: it runs a
// Kafka broker (embedded, or uses an external one), a synthetic exchange
// producing R events per second, a marketfeed server (a child process by
// default, so that its CPU time and memory are its own), and N WebSocket
// clients, each with S book subscriptions over M symbols. It prints, every
// second and at the end, the deliveries per second, sequence gaps,
// evictions, the latency from an update's exchange timestamp to its
// receipt (p50, p99, p99.9, max), and the server's CPU time per delivery
// and memory per connection, read from /proc.
//
// Only loopback is used: clients spread their source addresses over
// 127.0.0.1-127.0.0.250 so that tens of thousands of connections do not
// exhaust ephemeral ports. Runs are bounded by -warmup plus -duration.
//
//	go run ./bench/loadgen -clients 2000 -subs 5 -symbols 100 -rate 4000 -duration 20s
//	go run ./bench/loadgen -clients 15000 -subs 1 -rate 0            # idle memory
//	go run ./bench/loadgen -clients 2000 -subs 5 -rate 2000 -stalled 0.1
//	go run ./bench/loadgen -clients 2000 -subs 5 -rate 800 -slow 0.1 -trades
//	go run ./bench/loadgen -clients 2000 -subs 5 -rate 8000 -outage 10s -outage-at 5s -duration 40s
//	go run ./bench/loadgen -clients 2000 -subs 5 -rate 1000 -restart -resume
//
// -slow makes a fraction of the clients read, but at a tenth
// (-slow-factor) of the rate their subscriptions carry; they are reported
// apart, and the latency figures are the other clients'. -trades adds the
// trades channel of every subscribed symbol. -outage makes the embedded
// broker refuse every fetch for that long, -outage-at into the
// measurement, so that the server catches up a backlog afterwards.
//
// -restart stops the server after -warmup and starts a new one on the
// same address; the clients reconnect once it is ready, with -resume from
// their positions (see restart.go).
//
// -cpuprofile FILE makes the server write a Go CPU profile covering the
// measurement window (go tool pprof -top FILE), and its allocation
// profile at the window's start and end to FILE.allocs0 and FILE.allocs1
// (go tool pprof -sample_index=alloc_space -diff_base FILE.allocs0
// FILE.allocs1: what the window allocated).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/marketfeed/marketfeed/bench/internal/procstat"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type options struct {
	clients, subs, symbols, depth int
	interval                      string
	protocol                      string
	deflate                       bool
	rate                          float64
	warmup, duration, settle      time.Duration
	stalled                       float64
	stalledRcvbuf                 int
	slow, slowFactor              float64
	slowRcvbuf                    int
	trades                        bool
	outage, outageAt              time.Duration
	serverMode                    string
	partitions                    int
	dialers                       int
	restart, resume               bool
	serverOptions
}

func main() {
	var o options
	role := flag.String("role", "", "internal: -role=server runs the server child")
	flag.IntVar(&o.clients, "clients", 2000, "WebSocket clients")
	flag.IntVar(&o.subs, "subs", 5, "book subscriptions per client (distinct symbols)")
	flag.IntVar(&o.symbols, "symbols", 100, "symbols of the synthetic exchange")
	flag.IntVar(&o.depth, "depth", 20, "book depth of every subscription")
	flag.StringVar(&o.interval, "interval", "raw", "subscription interval: raw, 100ms or 1s")
	flag.StringVar(&o.protocol, "protocol", "json", "market data encoding the clients negotiate: json (no subprotocol offered) or bin (marketfeed.v1.bin)")
	flag.BoolVar(&o.deflate, "deflate", false, "clients negotiate permessage-deflate (and inflate what arrives compressed)")
	flag.Float64Var(&o.rate, "rate", 1000, "exchange events per second; 0 publishes snapshots only (idle connections)")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "time after all clients are ready before measuring")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "measurement time")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "with -rate 0: wait before reading memory")
	flag.Float64Var(&o.stalled, "stalled", 0, "fraction of clients that subscribe and then never read")
	flag.IntVar(&o.stalledRcvbuf, "stalled-rcvbuf", 0, "receive buffer of stalled clients' sockets, set before connecting (0: the kernel's default, which can hold minutes of a stalled client's data)")
	flag.Float64Var(&o.slow, "slow", 0, "fraction of clients that read at 1/-slow-factor of the rate of their subscriptions")
	flag.Float64Var(&o.slowFactor, "slow-factor", 10, "slow clients read this many times slower than their subscriptions carry")
	flag.IntVar(&o.slowRcvbuf, "slow-rcvbuf", 0, "receive buffer of slow clients' sockets, set before connecting (0: the kernel's default)")
	flag.BoolVar(&o.trades, "trades", false, "subscribe to the trades channel of every subscribed symbol too")
	flag.DurationVar(&o.outage, "outage", 0, "embedded broker: refuse every fetch for this long (a broker outage seen by the server)")
	flag.DurationVar(&o.outageAt, "outage-at", 5*time.Second, "when the outage starts, from the start of the measurement")
	flag.StringVar(&o.brokers, "brokers", "", "external Kafka brokers (comma-separated); empty starts an embedded broker")
	flag.StringVar(&o.topic, "topic", feed.DefaultTopic, "Kafka topic")
	flag.IntVar(&o.partitions, "partitions", 4, "partitions of the embedded broker's topic")
	flag.StringVar(&o.serverMode, "server", "child", "child (a separate process) or inproc")
	flag.IntVar(&o.maxQueueBytes, "max-queue-bytes", 0, "server: per-connection queue budget in bytes (0: the server's default)")
	flag.IntVar(&o.queueFrames, "queue-frames", 0, "server: per-connection queue slots (0: the server's default)")
	flag.IntVar(&o.sndbuf, "socket-sndbuf", 0, "server: SO_SNDBUF of client sockets (0: the kernel's autotuning)")
	flag.IntVar(&o.lowat, "notsent-lowat", 0, "server: TCP_NOTSENT_LOWAT of client sockets (0: the server's default, -1: no bound)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "server: write a CPU profile of the measurement window (after -warmup, for -duration) to this file, and allocation profiles at its start and end to FILE.allocs0 and FILE.allocs1")
	flag.IntVar(&o.dialers, "dialers", 32, "concurrent dials while connecting")
	flag.BoolVar(&o.restart, "restart", false, "after -warmup, restart the server (same address and topic) and measure the clients' reconnection: snapshots, resumes, the new server's CPU")
	flag.BoolVar(&o.resume, "resume", false, "with -restart: the clients reconnect with the resume position of each book")
	flag.StringVar(&o.listen, "listen", "", "internal: the server child's address")
	flag.Parse()
	var err error
	switch {
	case o.protocol != "json" && o.protocol != "bin":
		err = fmt.Errorf("-protocol %q: want json or bin", o.protocol)
	case *role == "server":
		err = runServerRole(o.serverOptions)
	default:
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// chansOf returns how many channels each client subscribes to, as a slice
// for its length.
func chansOf(o options) []struct{} {
	if o.trades {
		return make([]struct{}, 2*o.subs)
	}
	return make([]struct{}, o.subs)
}

// outage makes the embedded broker answer every fetch with a retriable
// error until the returned function is called.
func outage(b *broker.Broker) func() {
	h := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Err: kerr.NotLeaderForPartition, Count: -1})
	return h.Remove
}

// isStalled spreads the stalled clients evenly: client i is stalled when
// the running count of stalled clients steps up at i.
func isStalled(i int, frac float64) bool {
	return int(float64(i+1)*frac) > int(float64(i)*frac)
}

func publishSnapshots(ctx context.Context, ex *sim.Exchange, w *kafka.Writer) error {
	var msgs []kafka.Message
	for _, m := range ex.Snapshots(time.Now(), nil) {
		msgs = append(msgs, kafka.Message{Key: m.Key, Value: m.Value, Time: m.Time})
	}
	return w.WriteMessages(ctx, msgs...)
}

func idleReport(ctx context.Context, o options, srv *serverHandle, rss0 int64, conns int) error {
	select {
	case <-ctx.Done():
	case <-time.After(o.settle):
	}
	rss, err := procstat.RSSBytes(srv.pid)
	if err != nil {
		return err
	}
	n := serverMetric(srv.addr, "marketfeed_ws_connections ")
	fmt.Printf("idle: %d connections (server counts %.0f), %d subscriptions each\n", conns, n, o.subs)
	fmt.Printf("idle: server RSS %.1f MiB (%.1f MiB before clients): %.2f KiB per connection\n",
		float64(rss)/(1<<20), float64(rss0)/(1<<20), float64(rss-rss0)/1024/float64(conns))
	srv.collect()
	rss, _ = procstat.RSSBytes(srv.pid)
	fmt.Printf("idle: after a collection: server RSS %.1f MiB: %.2f KiB per connection\n",
		float64(rss)/(1<<20), float64(rss-rss0)/1024/float64(conns))
	heap := serverMetric(srv.addr, "go_memstats_heap_inuse_bytes ")
	stack := serverMetric(srv.addr, "go_memstats_stack_inuse_bytes ")
	g := serverMetric(srv.addr, "go_goroutines ")
	fmt.Printf("idle: server Go heap in use %.1f MiB, stacks %.1f MiB, %.0f goroutines\n", heap/(1<<20), stack/(1<<20), g)
	return nil
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range splitLines(string(b)) {
		if len(line) > 10 && line[:10] == "model name" {
			for i := range line {
				if line[i] == ':' {
					return line[i+2:]
				}
			}
		}
	}
	return "unknown"
}

func splitLines(s string) []string {
	var out []string
	for len(s) > 0 {
		i := 0
		for i < len(s) && s[i] != '\n' {
			i++
		}
		out = append(out, s[:i])
		if i < len(s) {
			i++
		}
		s = s[i:]
	}
	return out
}
