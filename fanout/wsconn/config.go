package wsconn

import (
	"errors"
	"log/slog"
	"math/bits"
	"time"

	"github.com/marketfeed/marketfeed/internal/configerr"
)

// The transport's defaults: what a zero field of Config means.
const (
	DefaultMaxMessageSize     = 4096
	DefaultPingInterval       = 20 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultMaxQueueAge        = 5 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxQueueBytes      = 4 << 20
	DefaultQueueFrames        = 256
	DefaultSocketNotSentLowat = 16 << 10
	DefaultCloseLinger        = 2 * time.Second
	DefaultCompressMinSize    = 256
	DefaultLifetimeNotice     = 30 * time.Second
)

// Bounds that Validate enforces.
const (
	MinMessageSize = 64
	MinQueueBytes  = 4096
	MinQueueFrames = 16
	MaxQueueFrames = 1 << 20
)

// Config tunes the transport of every connection. The zero value is
// usable: every zero field takes the default stated on it (WithDefaults).
// The hub (package fanout) holds one as fanout.Config.Transport.
type Config struct {
	// MaxMessageSize is the largest client message accepted, in bytes; a
	// larger frame closes the connection with 1009. Zero means
	// DefaultMaxMessageSize (4096).
	MaxMessageSize int
	// PingInterval is how often the server pings each client. Zero means
	// DefaultPingInterval (20s).
	PingInterval time.Duration
	// IdleTimeout closes a connection (code 4000) from which no frame,
	// pong included, arrived for this long. Zero means DefaultIdleTimeout
	// (60s).
	IdleTimeout time.Duration
	// MaxQueueAge is the lateness budget of a connection: how old its
	// oldest unsent frame may be. Past half of it, a connection with book
	// or ticker subscriptions that conflate ("lag":"snapshot", the default)
	// skips them ahead to a fresh state (the hub's lag.go); past all of
	// it, a connection that cannot conflate is evicted as a slow consumer
	// (4001). Zero means DefaultMaxQueueAge (5s); WriteTimeout applies
	// when shorter.
	MaxQueueAge time.Duration
	// WriteTimeout bounds how long a client may take nothing at all: a
	// connection whose socket accepts no byte for this long is evicted as
	// a slow consumer (the frame begun is completed within CloseLinger and
	// the close frame follows; if the socket takes nothing more, it is
	// cut). Zero means DefaultWriteTimeout (10s).
	WriteTimeout time.Duration
	// MaxQueueBytes is the per-connection budget of queued, unsent bytes.
	// A book or ticker message of a subscription that conflates on lag
	// that would take the queue past half of it starts a skip-ahead
	// instead of being queued; any other message (trades, replies,
	// subscriptions with "lag":"evict") that would take it past all of it
	// evicts the client as a slow consumer (4001). Zero means
	// DefaultMaxQueueBytes (4 MiB).
	MaxQueueBytes int
	// QueueFrames is the size of each connection's lock-free ring of
	// queued frames, rounded up to a power of two. It is not a budget:
	// frames beyond it wait in an overflow list (taken under a mutex)
	// until the writer catches up. Each slot costs 9 bytes of every
	// connection. Zero means DefaultQueueFrames (256).
	QueueFrames int
	// SocketSendBuffer sets the kernel send buffer (SO_SNDBUF) of each
	// client socket. It bounds what a stalled client's socket absorbs
	// before its queue budget starts to fill: with the kernel's autotuning
	// (zero, the default) that can be several MiB per connection, minutes
	// of a quiet stream.
	SocketSendBuffer int
	// SocketNotSentLowat bounds the bytes the kernel holds unsent for each
	// client socket (TCP_NOTSENT_LOWAT, Linux only): past it, a client's
	// backlog waits in its connection's queue, where the server sees how
	// late it is and can conflate it, rather than hidden in the kernel.
	// Bytes in flight are not counted, so it does not limit throughput on
	// long paths. Zero means DefaultSocketNotSentLowat (16 KiB); negative
	// leaves the kernel's default (no bound).
	SocketNotSentLowat int
	// CloseLinger is how long the server gives a closing connection's
	// socket to take the rest of the frame being written and the close
	// frame, and how long it then waits for the client's close frame.
	// Zero means DefaultCloseLinger (2s). (Once taken, what the client
	// still has to read is delivered before the socket is closed, for
	// WriteTimeout at most.)
	CloseLinger time.Duration
	// DisableCompression refuses permessage-deflate. By default it is
	// negotiated with every client that offers it.
	DisableCompression bool
	// CompressMinSize is the smallest market-data message compressed for
	// clients that negotiated compression (Conn.Compresses); smaller ones
	// go out plain. Zero means DefaultCompressMinSize (256 bytes).
	CompressMinSize int
	// MaxLifetime closes every connection (code 4005) after this long,
	// give or take 10 % so that reconnects spread out, announced by a
	// notice LifetimeNotice before. Zero means connections live for ever.
	MaxLifetime time.Duration
	// LifetimeNotice is how long before the lifetime close the notice is
	// sent. Zero means DefaultLifetimeNotice (30s); it is capped at half
	// of MaxLifetime.
	LifetimeNotice time.Duration
	// DisablePoller gives every connection a read goroutine of its own for
	// its whole life. By default (false), on Linux, plain TCP connections
	// wait for client data in the epoll poller and hold no goroutine and
	// no read buffer while idle; TLS connections, and every connection on
	// other systems, always have a read goroutine.
	DisablePoller bool
	// Logger receives transport events. Nil means slog.Default() (the
	// hub's Logger, when the hub holds the Config).
	Logger *slog.Logger
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.MaxMessageSize, DefaultMaxMessageSize)
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.MaxQueueAge, DefaultMaxQueueAge)
	defInt(&c.MaxQueueBytes, DefaultMaxQueueBytes)
	defInt(&c.SocketNotSentLowat, DefaultSocketNotSentLowat)
	defInt(&c.QueueFrames, DefaultQueueFrames)
	if c.QueueFrames > 0 {
		c.QueueFrames = 1 << bits.Len(uint(c.QueueFrames-1))
	}
	defInt(&c.CompressMinSize, DefaultCompressMinSize)
	def(&c.LifetimeNotice, DefaultLifetimeNotice)
	if c.MaxLifetime > 0 && c.LifetimeNotice > c.MaxLifetime/2 {
		c.LifetimeNotice = c.MaxLifetime / 2
	}
	def(&c.CloseLinger, DefaultCloseLinger)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ErrConfig reports an invalid Config; every *FieldError wraps it.
var ErrConfig = errors.New("wsconn: invalid config")

// FieldError is one invalid field of a Config: Sentinel ErrConfig, Field
// its name ("MaxMessageSize", "IdleTimeout"…), Err nil. Validate and New
// report one per invalid field, joined; each wraps ErrConfig.
type FieldError = configerr.FieldError

// Validate reports every invalid field of c as joined *FieldError values,
// nil if New accepts it. Zero fields take their defaults first
// (WithDefaults: DefaultMaxMessageSize, DefaultPingInterval, ...), and
// QueueFrames is checked once rounded up to a power of two. The rules:
// MaxMessageSize at least MinMessageSize, MaxQueueBytes at least
// MinQueueBytes, QueueFrames between MinQueueFrames and MaxQueueFrames,
// IdleTimeout longer than PingInterval, no negative duration and no
// negative SocketSendBuffer.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, configerr.New(ErrConfig, field, nil, format, a...))
	}
	if c.MaxMessageSize < MinMessageSize {
		bad("MaxMessageSize", "must be at least %d bytes, not %d", MinMessageSize, c.MaxMessageSize)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"PingInterval", c.PingInterval},
		{"IdleTimeout", c.IdleTimeout},
		{"MaxQueueAge", c.MaxQueueAge},
		{"WriteTimeout", c.WriteTimeout},
		{"CloseLinger", c.CloseLinger},
		{"MaxLifetime", c.MaxLifetime},
		{"LifetimeNotice", c.LifetimeNotice},
	} {
		if d.v < 0 {
			bad(d.field, "negative duration %v", d.v)
		}
	}
	if c.IdleTimeout >= 0 && c.IdleTimeout <= c.PingInterval {
		bad("IdleTimeout", "must be longer than PingInterval (%v), not %v", c.PingInterval, c.IdleTimeout)
	}
	if c.MaxQueueBytes < MinQueueBytes {
		bad("MaxQueueBytes", "must be at least %d, not %d", MinQueueBytes, c.MaxQueueBytes)
	}
	if c.SocketSendBuffer < 0 {
		bad("SocketSendBuffer", "must be 0 (the kernel's autotuning) or positive, not %d", c.SocketSendBuffer)
	}
	if c.QueueFrames < MinQueueFrames || c.QueueFrames > MaxQueueFrames {
		bad("QueueFrames", "must be between %d and %d once rounded up to a power of two", MinQueueFrames, MaxQueueFrames)
	}
	return errors.Join(errs...)
}
