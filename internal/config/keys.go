package config

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key is one setting: its dotted name, what it means, and how to read and
// write it as text.
type Key struct {
	// Name is the dotted key, the YAML path and the flag name.
	Name string
	// Help says what the setting does.
	Help string
	get  func(*Config) string
	set  func(*Config, string) error
}

// Env returns the environment variable of the key.
func (k Key) Env() string {
	return "MARKETFEED_" + strings.ToUpper(strings.ReplaceAll(k.Name, ".", "_"))
}

// Keys lists every setting.
func Keys() []Key { return keys }

func str(name, help string, p func(*Config) *string) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, v string) error { *p(c) = v; return nil },
	}
}

func integer(name, help string, p func(*Config) *int) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string { return strconv.Itoa(*p(c)) },
		set: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not an integer", v)
			}
			*p(c) = n
			return nil
		},
	}
}

func boolean(name, help string, p func(*Config) *bool) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string { return strconv.FormatBool(*p(c)) },
		set: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*p(c) = b
			return nil
		},
	}
}

func list(name, help string, p func(*Config) *[]string) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string { return strings.Join(*p(c), ",") },
		set: func(c *Config, v string) error {
			*p(c) = nil
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*p(c) = append(*p(c), item)
				}
			}
			return nil
		},
	}
}

func intList(name, help string, p func(*Config) *[]int) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string {
			parts := make([]string, len(*p(c)))
			for i, n := range *p(c) {
				parts[i] = strconv.Itoa(n)
			}
			return strings.Join(parts, ",")
		},
		set: func(c *Config, v string) error {
			var out []int
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item == "" {
					continue
				}
				n, err := strconv.Atoi(item)
				if err != nil {
					return fmt.Errorf("%q is not an integer", item)
				}
				out = append(out, n)
			}
			*p(c) = out
			return nil
		},
	}
}

func duration(name, help string, p func(*Config) *Duration) Key {
	return Key{Name: name, Help: help,
		get: func(c *Config) string { return time.Duration(*p(c)).String() },
		set: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration (examples: 250ms, 20s, 2m)", v)
			}
			*p(c) = Duration(d)
			return nil
		},
	}
}

var keys = []Key{
	str("listen", "address of /ws, and of the admin endpoints unless admin_listen is set", func(c *Config) *string { return &c.Listen }),
	str("admin_listen", "separate address for /metrics, /healthz, /readyz and /debug/pprof, with HTTP limits of its own: the production setting (empty: share listen)", func(c *Config) *string { return &c.AdminListen }),
	boolean("pprof", "serve /debug/pprof on the admin endpoints", func(c *Config) *bool { return &c.Pprof }),
	duration("shutdown_timeout", "bound of the graceful shutdown after SIGTERM", func(c *Config) *Duration { return &c.ShutdownTimeout }),
	duration("http.read_header_timeout", "bound of reading an HTTP request's header (each listener)", func(c *Config) *Duration { return &c.HTTP.ReadHeaderTimeout }),
	duration("http.read_timeout", "bound of reading a whole HTTP request; a WebSocket connection is free of it once upgraded", func(c *Config) *Duration { return &c.HTTP.ReadTimeout }),
	duration("http.write_timeout", "bound of writing an HTTP response, from the end of its request (also the longest /debug/pprof profile or trace)", func(c *Config) *Duration { return &c.HTTP.WriteTimeout }),
	duration("http.idle_timeout", "an idle keep-alive HTTP connection is closed after this long", func(c *Config) *Duration { return &c.HTTP.IdleTimeout }),
	integer("http.max_connections", "open HTTP connections per listener at most, WebSocket connections not counted once upgraded; more get 503 at accept (-1: unlimited)", func(c *Config) *int { return &c.HTTP.MaxConnections }),
	integer("http.max_connections_per_address", "open HTTP connections per listener from one client IP address at most; more get 503 at accept (-1: unlimited; behind a proxy every client has its address)", func(c *Config) *int { return &c.HTTP.MaxConnectionsPerAddress }),
	integer("http.rest_burst", "REST requests a caller (an API key; an address when anonymous) may make at once", func(c *Config) *int { return &c.HTTP.RESTBurst }),
	duration("http.rest_every", "a caller's REST budget regains one request this often", func(c *Config) *Duration { return &c.HTTP.RESTEvery }),
	str("tls.cert_file", "PEM certificate chain: serve wss:// (with tls.key_file)", func(c *Config) *string { return &c.TLS.CertFile }),
	str("tls.key_file", "PEM private key of tls.cert_file", func(c *Config) *string { return &c.TLS.KeyFile }),
	str("log.level", "debug, info, warn or error", func(c *Config) *string { return &c.Log.Level }),
	str("log.format", "text or json", func(c *Config) *string { return &c.Log.Format }),
	list("kafka.brokers", "comma-separated bootstrap brokers (host:port)", func(c *Config) *[]string { return &c.Kafka.Brokers }),
	str("kafka.topic", "topic holding the market events; every partition is read unless kafka.partitions is set", func(c *Config) *string { return &c.Kafka.Topic }),
	intList("kafka.partitions", "comma-separated partitions to read, a shard of the topic: symbols of other partitions are unknown here; ready once all exist and caught up (empty: every partition)", func(c *Config) *[]int { return &c.Kafka.Partitions }),
	str("kafka.start", "where to start reading: lookback, earliest or latest", func(c *Config) *string { return &c.Kafka.Start }),
	duration("kafka.lookback", "with start lookback: how far back to start; must cover a snapshot period", func(c *Config) *Duration { return &c.Kafka.Lookback }),
	duration("kafka.max_wait", "longest a fetch waits at the broker when no record is available", func(c *Config) *Duration { return &c.Kafka.MaxWait }),
	integer("kafka.max_bytes", "largest fetch response per partition, bytes", func(c *Config) *int { return &c.Kafka.MaxBytes }),
	duration("kafka.dial_timeout", "bound of connecting and of every metadata or offset request", func(c *Config) *Duration { return &c.Kafka.DialTimeout }),
	str("kafka.client_id", "client id shown to the brokers", func(c *Config) *string { return &c.Kafka.ClientID }),
	duration("kafka.feed_down_after", "a partition not fetched this long makes its books stale (reason feed_down)", func(c *Config) *Duration { return &c.Kafka.FeedDownAfter }),
	duration("kafka.silent_after", "a book without snapshot or delta this long is stale (reason silent); above the publisher's snapshot period (negative: never)", func(c *Config) *Duration { return &c.Kafka.SilentAfter }),
	integer("websocket.max_connections", "open connections at most; more get HTTP 503 (0: unlimited)", func(c *Config) *int { return &c.WebSocket.MaxConnections }),
	integer("websocket.max_message_size", "largest client message, bytes; larger closes with 1009", func(c *Config) *int { return &c.WebSocket.MaxMessageSize }),
	integer("websocket.max_subscriptions", "subscriptions per connection at most (error too_many_subscriptions)", func(c *Config) *int { return &c.WebSocket.MaxSubscriptions }),
	integer("websocket.max_invalid_messages", "invalid client messages before a close with 4002", func(c *Config) *int { return &c.WebSocket.MaxInvalidMessages }),
	integer("websocket.max_messages_per_second", "client commands per second (burst of the same size); excess ones get error rate_limited (-1: unlimited)", func(c *Config) *int { return &c.WebSocket.MaxMessagesPerSec }),
	integer("websocket.max_queue_bytes", "unsent bytes budget of a client: past half of it, its book, bbo and ticker subscriptions conflate (skip ahead to a fresh snapshot); past all of it with what is never dropped (trades, replies, `\"lag\":\"evict\"`), it is evicted with 4001", func(c *Config) *int { return &c.WebSocket.MaxQueueBytes }),
	integer("websocket.queue_frames", "slots of each connection's lock-free ring (rounded up to a power of two; 9 bytes each per connection); not a budget: more frames wait in an overflow list", func(c *Config) *int { return &c.WebSocket.QueueFrames }),
	duration("websocket.max_queue_age", "lateness budget: age of a client's oldest unsent message; past half of it, its book, bbo and ticker subscriptions conflate; past all of it a client that cannot conflate is evicted with 4001", func(c *Config) *Duration { return &c.WebSocket.MaxQueueAge }),
	integer("websocket.socket_send_buffer", "kernel send buffer per client socket, bytes; bounds what a stalled client absorbs before its queue budget (0: the kernel's autotuning)", func(c *Config) *int { return &c.WebSocket.SocketSendBuffer }),
	integer("websocket.socket_notsent_lowat", "unsent bytes the kernel may hold per client socket (TCP_NOTSENT_LOWAT, Linux); beyond them a backlog waits in the connection's queue, where its lateness is measured and conflated (-1: no bound)", func(c *Config) *int { return &c.WebSocket.SocketNotSentLowat }),
	boolean("websocket.compression", "negotiate permessage-deflate with clients that offer it", func(c *Config) *bool { return &c.WebSocket.Compression }),
	integer("websocket.compress_min_size", "smallest market-data message compressed, bytes; smaller ones go out plain", func(c *Config) *int { return &c.WebSocket.CompressMinSize }),
	duration("websocket.ping_interval", "how often the server pings each client", func(c *Config) *Duration { return &c.WebSocket.PingInterval }),
	duration("websocket.idle_timeout", "close (4000) a client silent this long, pongs included", func(c *Config) *Duration { return &c.WebSocket.IdleTimeout }),
	duration("websocket.write_timeout", "a client whose socket takes nothing for this long is evicted (4001, after the frame being written; cut if it takes nothing more within 2 s); also how long a closed connection's socket is kept for the client to read its backlog and the close frame", func(c *Config) *Duration { return &c.WebSocket.WriteTimeout }),
	duration("websocket.max_lifetime", "close connections (4005) after this long, ±10 %, announced by a notice (0s: never)", func(c *Config) *Duration { return &c.WebSocket.MaxLifetime }),
	duration("websocket.lifetime_notice", "how long before the lifetime close the notice is sent", func(c *Config) *Duration { return &c.WebSocket.LifetimeNotice }),
	boolean("websocket.poller", "on Linux, idle plain-TCP connections wait in one epoll poller instead of a read goroutine each (false: a read goroutine per connection)", func(c *Config) *bool { return &c.WebSocket.Poller }),
	str("auth.keys_file", "API key file (see API keys); empty serves everyone everything", func(c *Config) *string { return &c.Auth.KeysFile }),
	list("auth.origins", "with keys_file: comma-separated browser origins allowed to connect, * for any (empty: pages from auth.public_hosts only)", func(c *Config) *[]string { return &c.Auth.Origins }),
	list("auth.public_hosts", "with keys_file: comma-separated host names (host, any port, or host:port) under which browsers reach the server; with auth.origins empty, pages from them may connect (the Host header is never trusted)", func(c *Config) *[]string { return &c.Auth.PublicHosts }),
	str("auth.anonymous_plan", "with keys_file: plan of clients without a key, none to refuse them (empty: the key file's anonymous)", func(c *Config) *string { return &c.Auth.AnonymousPlan }),
	duration("auth.keys_poll", "how often the key file is checked for changes (SIGHUP reloads at once)", func(c *Config) *Duration { return &c.Auth.KeysPoll }),
	duration("history.window", "exchange time of book changes each symbol keeps, from which a subscriber that reconnects resumes without a snapshot", func(c *Config) *Duration { return &c.History.Window }),
	integer("history.max_bytes", "memory of one symbol's book history at most, bytes; the oldest changes go first (-1: no history, every resume gets a snapshot)", func(c *Config) *int { return &c.History.MaxBytes }),
	duration("trade_history.window", "exchange time of recent trades each symbol keeps, back from its newest trade, for trades resume and GET /v1/trades", func(c *Config) *Duration { return &c.TradeHistory.Window }),
	integer("trade_history.max_bytes", "memory bound of each symbol's recent trades, bytes (104 a trade)", func(c *Config) *int { return &c.TradeHistory.MaxBytes }),
}

// RegisterFlags defines one flag per key on fs. Flags left unset do not
// override anything: Apply copies only the flags that were given.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, vals: map[string]*string{}}
	def := Default()
	for _, k := range keys {
		f.vals[k.Name] = fs.String(k.Name, k.get(&def), k.Help+" (env "+k.Env()+")")
	}
	return f
}

// Flags are the configuration flags of one flag set.
type Flags struct {
	fs   *flag.FlagSet
	vals map[string]*string
}

// Apply overrides c with the flags given on the command line.
func (f *Flags) Apply(c *Config) error {
	var err error
	byName := map[string]Key{}
	for _, k := range keys {
		byName[k.Name] = k
	}
	f.fs.Visit(func(fl *flag.Flag) {
		k, ok := byName[fl.Name]
		if !ok || err != nil {
			return
		}
		if e := k.set(c, *f.vals[fl.Name]); e != nil {
			err = fmt.Errorf("-%s: %w", fl.Name, e)
		}
	})
	return err
}

// Reference renders the keys as a Markdown table with their defaults.
func Reference() string {
	var b strings.Builder
	def := Default()
	b.WriteString("| key / flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, k := range keys {
		v := k.get(&def)
		if v == "" {
			v = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s |\n", k.Name, k.Env(), v, k.Help)
	}
	return b.String()
}
