package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/marketfeed/marketfeed/schemas"
)

// Options configures Dial.
type Options struct {
	// Header holds extra headers sent with the upgrade request, for example
	// Authorization. Nil sends none.
	Header http.Header
	// DialTimeout bounds the TCP connect, the WebSocket handshake and the
	// wait for the welcome message together. Zero means 10 s.
	DialTimeout time.Duration
	// WriteTimeout bounds the write of one frame. Zero means 10 s.
	WriteTimeout time.Duration
	// IdleTimeout is how long the connection may stay without any frame from
	// the server before it is considered dead. Zero means three times the
	// ping interval announced in the welcome message, or 60 s when the
	// welcome announces none. Negative disables the check.
	IdleTimeout time.Duration
	// MaxMessageSize is the largest message accepted from the server, in
	// bytes. Zero means 16 MiB.
	MaxMessageSize int64
	// Protocol is the subprotocol offered in the upgrade request:
	// schemas.SubprotocolJSON, or schemas.SubprotocolBinary for market
	// data in binary frames (schemas/binary.md), which Next and Stream
	// decode into the same messages and events as JSON. Empty offers none:
	// the server's default, JSON. Dial fails with ErrSubprotocol when the
	// server does not agree to the one offered.
	Protocol string
}

const (
	defaultDialTimeout    = 10 * time.Second
	defaultWriteTimeout   = 10 * time.Second
	defaultIdleTimeout    = 60 * time.Second
	defaultMaxMessageSize = 16 << 20
	readBufferSize        = 32 << 10
)

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = defaultMaxMessageSize
	}
	return o
}

// Conn is a client connection to a marketfeed WebSocket endpoint.
type Conn struct {
	nc  net.Conn
	opt Options

	welcome    schemas.ServerMessage
	welcomeRaw []byte
	// binary: the connection speaks schemas.SubprotocolBinary; set before
	// the reader starts.
	binary bool

	wmu       sync.Mutex
	wbuf      bytes.Buffer
	closeSent bool // a close frame was written; guarded by wmu

	idle atomic.Int64 // read idle timeout in ns; 0 = none

	msgs      chan message  // complete data messages, unbuffered
	done      chan struct{} // closed when the reader goroutine exits
	err       error         // why the reader exited; set before done is closed
	quit      chan struct{} // closed by Close
	closeOnce sync.Once
}

// Dial connects to url (ws:// or wss://), performs the WebSocket handshake
// and reads the welcome message, available afterwards from Welcome. It
// fails with ErrNoWelcome if the first message is something else, with
// ErrProtocolVersion if the server speaks another protocol version, and
// with a *CloseError if the server closes the connection first.
func Dial(ctx context.Context, url string, opt Options) (*Conn, error) {
	opt = opt.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opt.DialTimeout)
	defer cancel()

	d := ws.Dialer{Timeout: opt.DialTimeout}
	if len(opt.Header) > 0 {
		d.Header = ws.HandshakeHeaderHTTP(opt.Header)
	}
	if _, ok := schemas.EncodingOf(opt.Protocol); !ok {
		return nil, fmt.Errorf("%w: %q is not %s or %s", ErrSubprotocol, opt.Protocol, schemas.SubprotocolJSON, schemas.SubprotocolBinary)
	}
	if opt.Protocol != "" {
		d.Protocols = []string{opt.Protocol}
	}
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	if hs.Protocol != opt.Protocol {
		nc.Close()
		return nil, fmt.Errorf("%w: offered %q, the server answered %q", ErrSubprotocol, opt.Protocol, hs.Protocol)
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, readBufferSize)
	}
	// A non-nil br holds frames the server sent right after the handshake
	// and keeps reading from nc once they are consumed.

	c := &Conn{
		nc:     nc,
		opt:    opt,
		binary: hs.Protocol == schemas.SubprotocolBinary,
		msgs:   make(chan message),
		done:   make(chan struct{}),
		quit:   make(chan struct{}),
	}
	go c.readLoop(br)

	raw, err := c.NextRaw(ctx)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("client: waiting for welcome: %w", err)
	}
	if err := json.Unmarshal(raw, &c.welcome); err != nil {
		c.Close()
		return nil, fmt.Errorf("client: decoding welcome: %w", err)
	}
	if c.welcome.Type != schemas.TypeWelcome {
		c.Close()
		return nil, fmt.Errorf("%w (got %q)", ErrNoWelcome, c.welcome.Type)
	}
	if c.welcome.Protocol != schemas.ProtocolVersion {
		c.Close()
		return nil, fmt.Errorf("%w: server %d, client %d", ErrProtocolVersion, c.welcome.Protocol, schemas.ProtocolVersion)
	}
	c.welcomeRaw = raw

	idle := opt.IdleTimeout
	if idle == 0 {
		idle = defaultIdleTimeout
		if ms := c.welcome.PingIntervalMS; ms > 0 {
			idle = 3 * time.Duration(ms) * time.Millisecond
		}
	}
	if idle > 0 {
		c.idle.Store(int64(idle))
		// Covers the read the reader goroutine is blocked in right now.
		c.nc.SetReadDeadline(time.Now().Add(idle))
	}
	return c, nil
}

// Welcome returns the welcome message received by Dial.
func (c *Conn) Welcome() schemas.ServerMessage { return c.welcome }

// WelcomeRaw returns the welcome message as received, byte for byte. The
// caller must not modify it.
func (c *Conn) WelcomeRaw() []byte { return c.welcomeRaw }

// NextRaw returns the payload of the next message from the server,
// exactly as received; the caller owns the slice. On a connection of
// schemas.SubprotocolBinary, market data arrives as binary messages
// (NextFrame says which). It returns ctx.Err() when ctx ends first (the
// connection stays usable), a *CloseError once the server closed the
// connection, ErrClosed after Close, and otherwise the error that ended
// the connection. Errors other than ctx's are final.
func (c *Conn) NextRaw(ctx context.Context) ([]byte, error) {
	p, _, err := c.NextFrame(ctx)
	return p, err
}

// NextFrame is NextRaw that also reports whether the message was a binary
// one (schemas/binary.md; only on a connection of
// schemas.SubprotocolBinary) rather than JSON text.
func (c *Conn) NextFrame(ctx context.Context) (payload []byte, binary bool, err error) {
	select {
	case m := <-c.msgs:
		return m.p, m.binary, nil
	case <-c.done:
		return nil, false, c.err
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// Binary reports whether the connection speaks schemas.SubprotocolBinary.
func (c *Conn) Binary() bool { return c.binary }

// Next returns the next server message decoded into a ServerMessage. Errors
// are those of NextRaw, plus a decoding error for a message that is not a
// JSON object of the expected shape (the connection stays usable).
func (c *Conn) Next(ctx context.Context) (*schemas.ServerMessage, error) {
	raw, binary, err := c.NextFrame(ctx)
	if err != nil {
		return nil, err
	}
	return Decode(raw, binary)
}

// Done returns a channel closed when the connection has ended (closed by
// either side or broken). Messages already delivered stay valid.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close sends a close frame with code 1000 (best effort), closes the
// connection and waits for the reader goroutine to exit. It is safe to call
// more than once and concurrently with Next.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		close(c.quit)
		_ = c.writeClose(ws.StatusNormalClosure, "")
		c.nc.Close()
	})
	<-c.done
	return nil
}
