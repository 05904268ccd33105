package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
)

// Config tunes the WebSocket server. The zero value is usable: every zero
// field takes the default stated on it, applied once by NewHub.
type Config struct {
	// MaxMessageSize is the largest client message accepted, in bytes; a
	// larger frame closes the connection with 1009. Zero means
	// wsconn.DefaultMaxMessageSize (4096).
	MaxMessageSize int
	// PingInterval is how often the server pings each client. Zero means
	// wsconn.DefaultPingInterval (20s).
	PingInterval time.Duration
	// IdleTimeout closes a connection (code 4000) from which no frame,
	// pong included, arrived for this long. Zero means
	// wsconn.DefaultIdleTimeout (60s).
	IdleTimeout time.Duration
	// MaxQueueAge is the lateness budget of a connection: how old its
	// oldest unsent frame may be. Past half of it, a connection with book
	// or ticker subscriptions that conflate ("lag":"snapshot", the default)
	// skips them ahead to a fresh state (lag.go); past all of it, a
	// connection that cannot conflate is evicted as a slow consumer (4001).
	// Zero means wsconn.DefaultMaxQueueAge (5s); WriteTimeout applies when
	// shorter.
	MaxQueueAge time.Duration
	// WriteTimeout bounds how long a client may take nothing at all: a
	// connection whose socket accepts no byte for this long is evicted as
	// a slow consumer (the frame begun is completed within CloseLinger and
	// the close frame follows; if the socket takes nothing more, it is
	// cut). Zero means wsconn.DefaultWriteTimeout (10s).
	WriteTimeout time.Duration
	// MaxQueueBytes is the per-connection budget of queued, unsent bytes.
	// A book or ticker message of a subscription that conflates on lag
	// that would take the queue past half of it starts a skip-ahead
	// instead of being queued; any other message (trades, replies,
	// subscriptions with "lag":"evict") that would take it past all of it
	// evicts the client as a slow consumer (4001). Zero means
	// wsconn.DefaultMaxQueueBytes (4 MiB).
	MaxQueueBytes int
	// QueueFrames is the size of each connection's lock-free ring of
	// queued frames, rounded up to a power of two. It is not a budget:
	// frames beyond it wait in an overflow list (taken under a mutex)
	// until the writer catches up. Each slot costs 9 bytes of every
	// connection. Zero means wsconn.DefaultQueueFrames (256).
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
	// long paths. Zero means wsconn.DefaultSocketNotSentLowat (16 KiB);
	// negative leaves the kernel's default
	// (no bound).
	SocketNotSentLowat int
	// MaxSubscriptions per connection. Zero means DefaultMaxSubscriptions
	// (100).
	MaxSubscriptions int
	// MaxMessagesPerSecond bounds the commands a client may send (a token
	// bucket with a burst of one second's worth); an excess command is
	// dropped with a rate_limited error, which counts as invalid (see
	// MaxInvalidMessages). An API key's plan may set a lower limit. Zero
	// means DefaultMaxMessagesPerSecond (50); negative means unlimited.
	MaxMessagesPerSecond int
	// MaxInvalidMessages is how many invalid client messages a connection
	// may send before it is closed with 4002. Zero means
	// DefaultMaxInvalidMessages (20).
	MaxInvalidMessages int
	// CloseLinger is how long the server gives a closing connection's
	// socket to take the rest of the frame being written and the close
	// frame, and how long it then waits for the client's close frame.
	// Zero means wsconn.DefaultCloseLinger (2s). (Once taken, what the client still has to read is
	// delivered before the socket is closed, for WriteTimeout at most.)
	CloseLinger time.Duration
	// Logger receives connection-level events. Nil means slog.Default().
	Logger *slog.Logger
	// DisableCompression refuses permessage-deflate. By default it is
	// negotiated with every client that offers it.
	DisableCompression bool
	// CompressMinSize is the smallest market-data message compressed for
	// clients that negotiated compression; smaller ones go out plain.
	// Zero means wsconn.DefaultCompressMinSize (256 bytes).
	CompressMinSize int
	// MaxLifetime closes every connection (code 4005) after this long,
	// give or take 10 % so that reconnects spread out, announced by a
	// notice LifetimeNotice before. Zero means connections live for ever.
	MaxLifetime time.Duration
	// LifetimeNotice is how long before the lifetime close the notice is
	// sent. Zero means wsconn.DefaultLifetimeNotice (30s); it is capped at
	// half of MaxLifetime.
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

// The session's defaults: what a zero field of Config means. The
// transport's fields take wsconn's defaults (wsconn.DefaultPingInterval,
// ...).
const (
	DefaultMaxSubscriptions     = 100
	DefaultMaxMessagesPerSecond = 50
	DefaultMaxInvalidMessages   = 20
)

// Transport returns the transport's part of c (wsconn.Config).
func (c Config) Transport() wsconn.Config {
	return wsconn.Config{
		MaxMessageSize:     c.MaxMessageSize,
		PingInterval:       c.PingInterval,
		IdleTimeout:        c.IdleTimeout,
		MaxQueueAge:        c.MaxQueueAge,
		WriteTimeout:       c.WriteTimeout,
		MaxQueueBytes:      c.MaxQueueBytes,
		QueueFrames:        c.QueueFrames,
		SocketSendBuffer:   c.SocketSendBuffer,
		SocketNotSentLowat: c.SocketNotSentLowat,
		CloseLinger:        c.CloseLinger,
		DisableCompression: c.DisableCompression,
		CompressMinSize:    c.CompressMinSize,
		MaxLifetime:        c.MaxLifetime,
		LifetimeNotice:     c.LifetimeNotice,
		DisablePoller:      c.DisablePoller,
		Logger:             c.Logger,
	}
}

// setTransport sets c's transport fields from t.
func (c *Config) setTransport(t wsconn.Config) {
	c.MaxMessageSize, c.PingInterval, c.IdleTimeout = t.MaxMessageSize, t.PingInterval, t.IdleTimeout
	c.MaxQueueAge, c.WriteTimeout, c.MaxQueueBytes, c.QueueFrames = t.MaxQueueAge, t.WriteTimeout, t.MaxQueueBytes, t.QueueFrames
	c.SocketSendBuffer, c.SocketNotSentLowat, c.CloseLinger = t.SocketSendBuffer, t.SocketNotSentLowat, t.CloseLinger
	c.DisableCompression, c.CompressMinSize = t.DisableCompression, t.CompressMinSize
	c.MaxLifetime, c.LifetimeNotice, c.DisablePoller, c.Logger = t.MaxLifetime, t.LifetimeNotice, t.DisablePoller, t.Logger
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.setTransport(c.Transport().WithDefaults())
	if c.MaxSubscriptions == 0 {
		c.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if c.MaxMessagesPerSecond == 0 {
		c.MaxMessagesPerSecond = DefaultMaxMessagesPerSecond
	}
	if c.MaxInvalidMessages == 0 {
		c.MaxInvalidMessages = DefaultMaxInvalidMessages
	}
	return c
}

// ErrConfig reports an invalid Config; every *FieldError wraps it.
var ErrConfig = errors.New("fanout: invalid config")

// FieldError is one invalid field of a Config. Validate and NewHub report
// one per invalid field, joined; each wraps ErrConfig.
type FieldError struct {
	// Field names the Config field: "MaxSubscriptions", "IdleTimeout"…
	Field string
	// Reason says what is wrong with its value.
	Reason string
	// Err is the transport's *wsconn.FieldError when the field is one of
	// the transport's (Transport), nil for a field of the session.
	Err error
}

func (e *FieldError) Error() string { return ErrConfig.Error() + ": " + e.Field + ": " + e.Reason }

// Unwrap returns ErrConfig and, for a transport field, the transport's
// error.
func (e *FieldError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrConfig, e.Err}
	}
	return []error{ErrConfig}
}

// Validate reports every invalid field of c as joined *FieldError values,
// nil if NewHub accepts it. Zero fields take their defaults first
// (WithDefaults: DefaultMaxSubscriptions, DefaultMaxInvalidMessages, and
// the transport's, wsconn.DefaultMaxMessageSize...). The transport's
// fields follow wsconn.Config.Validate (each error then wraps the
// *wsconn.FieldError as well); the session's rules are MaxConnections not
// negative (zero is unlimited), MaxSubscriptions and MaxInvalidMessages at
// least 1. MaxMessagesPerSecond takes any value (negative: unlimited).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	for _, e := range unjoin(c.Transport().Validate()) {
		var fe *wsconn.FieldError
		if errors.As(e, &fe) {
			e = &FieldError{Field: fe.Field, Reason: fe.Reason, Err: fe}
		}
		errs = append(errs, e)
	}
	bad := func(field, format string, a ...any) {
		errs = append(errs, &FieldError{Field: field, Reason: fmt.Sprintf(format, a...)})
	}
	if c.MaxConnections < 0 {
		bad("MaxConnections", "must be 0 (unlimited) or positive, not %d", c.MaxConnections)
	}
	if c.MaxSubscriptions < 1 {
		bad("MaxSubscriptions", "must be positive, not %d", c.MaxSubscriptions)
	}
	if c.MaxInvalidMessages < 1 {
		bad("MaxInvalidMessages", "must be positive, not %d", c.MaxInvalidMessages)
	}
	return errors.Join(errs...)
}

// unjoin returns the errors joined in err (errors.Join), nil for nil.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err != nil {
		return []error{err}
	}
	return nil
}
