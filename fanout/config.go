package fanout

import (
	"errors"
	"log/slog"
	"math/bits"
	"time"
)

// Config tunes the WebSocket server. The zero value is usable: every zero
// field takes the default stated on it, applied once by NewHub.
type Config struct {
	// MaxMessageSize is the largest client message accepted, in bytes; a
	// larger frame closes the connection with 1009. Zero means 4096.
	MaxMessageSize int
	// PingInterval is how often the server pings each client. Zero means 20s.
	PingInterval time.Duration
	// IdleTimeout closes a connection (code 4000) from which no frame,
	// pong included, arrived for this long. Zero means 60s.
	IdleTimeout time.Duration
	// MaxQueueAge is the lateness budget of a connection: how old its
	// oldest unsent frame may be. Past half of it, a connection with book
	// or ticker subscriptions that conflate ("lag":"snapshot", the default)
	// skips them ahead to a fresh state (lag.go); past all of it, a
	// connection that cannot conflate is evicted as a slow consumer (4001).
	// Zero means 5s; WriteTimeout applies when shorter.
	MaxQueueAge time.Duration
	// WriteTimeout bounds how long a client may take nothing at all: a
	// connection whose socket accepts no byte for this long is evicted as
	// a slow consumer (the frame begun is completed within CloseLinger and
	// the close frame follows; if the socket takes nothing more, it is
	// cut). Zero means 10s.
	WriteTimeout time.Duration
	// MaxQueueBytes is the per-connection budget of queued, unsent bytes.
	// A book or ticker message of a subscription that conflates on lag
	// that would take the queue past half of it starts a skip-ahead
	// instead of being queued; any other message (trades, replies,
	// subscriptions with "lag":"evict") that would take it past all of it
	// evicts the client as a slow consumer (4001). Zero means 4 MiB.
	MaxQueueBytes int
	// QueueFrames is the size of each connection's lock-free ring of
	// queued frames, rounded up to a power of two. It is not a budget:
	// frames beyond it wait in an overflow list (taken under a mutex)
	// until the writer catches up. Each slot costs 9 bytes of every
	// connection. Zero means 256.
	QueueFrames int
	// SocketSendBuffer sets the kernel send buffer (SO_SNDBUF) of each
	// client socket. It bounds what a stalled client's socket absorbs before
	// its queue budget starts to fill: with the kernel's autotuning (zero,
	// the default) that can be several MiB per connection, minutes of a
	// quiet stream.
	SocketSendBuffer int
	// SocketNotSentLowat bounds the bytes the kernel holds unsent for each
	// client socket (TCP_NOTSENT_LOWAT, Linux only): past it, a client's
	// backlog waits in its connection's queue, where the server sees how
	// late it is and can conflate it, rather than hidden in the kernel.
	// Bytes in flight are not counted, so it does not limit throughput on
	// long paths. Zero means 16 KiB; negative leaves the kernel's default
	// (no bound).
	SocketNotSentLowat int
	// MaxSubscriptions per connection. Zero means 100.
	MaxSubscriptions int
	// MaxMessagesPerSecond bounds the commands a client may send (a token
	// bucket with a burst of one second's worth); an excess command is
	// dropped with a rate_limited error, which counts as invalid (see
	// MaxInvalidMessages). An API key's plan may set a lower limit. Zero
	// means 50; negative means unlimited.
	MaxMessagesPerSecond int
	// MaxInvalidMessages is how many invalid client messages a connection
	// may send before it is closed with 4002. Zero means 20.
	MaxInvalidMessages int
	// CloseLinger is how long the server gives a closing connection's
	// socket to take the rest of the frame being written and the close
	// frame, and how long it then waits for the client's close frame.
	// Zero means 2s. (Once taken, what the client still has to read is
	// delivered before the socket is closed, for WriteTimeout at most.)
	CloseLinger time.Duration
	// Logger receives connection-level events. Nil means slog.Default().
	Logger *slog.Logger
	// DisableCompression refuses permessage-deflate. By default it is
	// negotiated with every client that offers it.
	DisableCompression bool
	// CompressMinSize is the smallest market-data message compressed for
	// clients that negotiated compression; smaller ones go out plain.
	// Zero means 256 bytes.
	CompressMinSize int
	// MaxLifetime closes every connection (code 4005) after this long,
	// give or take 10 % so that reconnects spread out, announced by a
	// notice LifetimeNotice before. Zero means connections live for ever.
	MaxLifetime time.Duration
	// LifetimeNotice is how long before the lifetime close the notice is
	// sent. Zero means 30s; it is capped at half of MaxLifetime.
	LifetimeNotice time.Duration
	// MaxConnections bounds the open connections; an upgrade beyond it is
	// refused with HTTP 503 and counted. Zero means unlimited.
	MaxConnections int
	// Authorizer decides who may connect and what each connection may
	// receive. Nil means every client may connect and receive everything.
	Authorizer Authorizer
	// DisablePoller gives every connection a read goroutine of its own for
	// its whole life. By default (false), on Linux, plain TCP connections
	// wait for client data in the hub's epoll poller and hold no goroutine
	// and no read buffer while idle; TLS connections, and every connection
	// on other systems, always have a read goroutine. See doc.go.
	DisablePoller bool
}

func (c Config) withDefaults() Config {
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = 4096
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.MaxQueueBytes == 0 {
		c.MaxQueueBytes = 4 << 20
	}
	if c.MaxQueueAge == 0 {
		c.MaxQueueAge = 5 * time.Second
	}
	if c.SocketNotSentLowat == 0 {
		c.SocketNotSentLowat = 16 << 10
	}
	if c.QueueFrames == 0 {
		c.QueueFrames = 256
	}
	if c.QueueFrames > 0 {
		c.QueueFrames = 1 << bits.Len(uint(c.QueueFrames-1))
	}
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = 100
	}
	if c.MaxMessagesPerSecond == 0 {
		c.MaxMessagesPerSecond = 50
	}
	if c.MaxInvalidMessages == 0 {
		c.MaxInvalidMessages = 20
	}
	if c.CompressMinSize == 0 {
		c.CompressMinSize = 256
	}
	if c.LifetimeNotice == 0 {
		c.LifetimeNotice = 30 * time.Second
	}
	if c.MaxLifetime > 0 && c.LifetimeNotice > c.MaxLifetime/2 {
		c.LifetimeNotice = c.MaxLifetime / 2
	}
	if c.CloseLinger == 0 {
		c.CloseLinger = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxMessageSize < 64:
		return errors.New("fanout: MaxMessageSize must be at least 64 bytes")
	case c.PingInterval < 0 || c.IdleTimeout < 0 || c.WriteTimeout < 0 || c.MaxQueueAge < 0 || c.CloseLinger < 0 || c.MaxLifetime < 0 || c.LifetimeNotice < 0:
		return errors.New("fanout: durations must not be negative")
	case c.IdleTimeout <= c.PingInterval:
		return errors.New("fanout: IdleTimeout must be longer than PingInterval")
	case c.MaxQueueBytes < 4096:
		return errors.New("fanout: MaxQueueBytes must be at least 4096")
	case c.MaxConnections < 0:
		return errors.New("fanout: MaxConnections must not be negative")
	case c.SocketSendBuffer < 0:
		return errors.New("fanout: SocketSendBuffer must not be negative")
	case c.QueueFrames < 16 || c.QueueFrames > 1<<20:
		return errors.New("fanout: QueueFrames must be between 16 and 1048576")
	case c.MaxSubscriptions < 1 || c.MaxInvalidMessages < 1:
		return errors.New("fanout: MaxSubscriptions and MaxInvalidMessages must be positive")
	}
	return nil
}
