// Package wstest runs scripted WebSocket servers on loopback for the tests
// of the client packages. Each accepted connection is upgraded with
// gobwas/ws and handed to a script that writes server frames and reads the
// client's frames.
//
// Concurrency: a Server accepts and serves connections in its own
// goroutines; a Peer belongs to the script goroutine that received it.
package wstest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Timeout bounds every read and write of a Peer, so that a broken test
// fails instead of hanging.
const Timeout = 5 * time.Second

// Server is a loopback WebSocket server running a script per connection.
type Server struct {
	// URL is the ws:// address of the /ws endpoint.
	URL string

	tb     testing.TB
	ln     net.Listener
	script func(*Peer)
	reject func(http.Header) int

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	n     int
	wg    sync.WaitGroup
}

// NewServer starts a server that runs script for each accepted connection
// and stops it when the test ends.
func NewServer(tb testing.TB, script func(*Peer)) *Server {
	return NewServerReject(tb, nil, script)
}

// NewServerReject is NewServer with a check of the upgrade request's
// headers: a non-zero status from reject refuses the upgrade with it.
func NewServerReject(tb testing.TB, reject func(http.Header) int, script func(*Peer)) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	s := &Server{
		URL:    "ws://" + ln.Addr().String() + "/ws",
		tb:     tb,
		ln:     ln,
		script: script,
		reject: reject,
		conns:  make(map[net.Conn]struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	tb.Cleanup(s.Close)
	return s
}

// Accepted returns how many connections were accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// Close stops accepting, closes every connection and waits for the scripts.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.n++
		n := s.n
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c, n)
	}
}

func (s *Server) serve(c net.Conn, n int) {
	defer s.wg.Done()
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	p := &Peer{N: n, Header: http.Header{}, conn: c, r: bufio.NewReader(c)}
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			p.Path = string(uri)
			return nil
		},
		OnHeader: func(key, value []byte) error {
			p.Header.Add(string(key), string(value))
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			if s.reject != nil {
				if code := s.reject(p.Header); code != 0 {
					return nil, ws.RejectConnectionError(ws.RejectionStatus(code))
				}
			}
			return ws.HandshakeHeaderString(""), nil
		},
	}
	c.SetDeadline(time.Now().Add(Timeout))
	if _, err := u.Upgrade(readWriter{p.r, c}); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	s.script(p)
}

type readWriter struct {
	io.Reader
	io.Writer
}

// Peer is the server side of one connection.
type Peer struct {
	// N is the connection's number, 1 for the first accepted.
	N int
	// Path is the request URI of the upgrade request.
	Path string
	// Header holds the upgrade request's non-WebSocket headers.
	Header http.Header

	conn net.Conn
	r    *bufio.Reader
}

// Frame is one frame received from the client, unmasked.
type Frame struct {
	Op      ws.OpCode
	Fin     bool
	Payload []byte
}

// WriteFrame writes one unmasked frame.
func (p *Peer) WriteFrame(op ws.OpCode, fin bool, payload []byte) error {
	p.conn.SetWriteDeadline(time.Now().Add(Timeout))
	return ws.WriteFrame(p.conn, ws.NewFrame(op, fin, payload))
}

// WriteText writes s as one text frame.
func (p *Peer) WriteText(s string) error { return p.WriteFrame(ws.OpText, true, []byte(s)) }

// WriteJSON writes v encoded as JSON in one text frame.
func (p *Peer) WriteJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.WriteFrame(ws.OpText, true, b)
}

// WritePing writes a ping frame.
func (p *Peer) WritePing(payload []byte) error { return p.WriteFrame(ws.OpPing, true, payload) }

// WriteClose writes a close frame with code and reason.
func (p *Peer) WriteClose(code int, reason string) error {
	return p.WriteFrame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

// ErrNotMasked reports a client frame without a mask.
var ErrNotMasked = errors.New("wstest: client frame not masked")

// ReadFrame reads one client frame and unmasks it.
func (p *Peer) ReadFrame() (Frame, error) {
	p.conn.SetReadDeadline(time.Now().Add(Timeout))
	h, err := ws.ReadHeader(p.r)
	if err != nil {
		return Frame{}, err
	}
	if !h.Masked {
		return Frame{}, ErrNotMasked
	}
	b := make([]byte, h.Length)
	if _, err := io.ReadFull(p.r, b); err != nil {
		return Frame{}, err
	}
	ws.Cipher(b, h.Mask, 0)
	return Frame{Op: h.OpCode, Fin: h.Fin, Payload: b}, nil
}

// CloseFrameError is returned by ReadText when the client sent a close
// frame.
type CloseFrameError struct {
	Code   int
	Reason string
}

// Error describes the close code and reason.
func (e *CloseFrameError) Error() string {
	return fmt.Sprintf("wstest: client closed (code %d: %s)", e.Code, e.Reason)
}

// ReadText reads the next text frame from the client, skipping pong
// frames. A close frame yields a *CloseFrameError.
func (p *Peer) ReadText() ([]byte, error) {
	for {
		f, err := p.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f.Op {
		case ws.OpText:
			return f.Payload, nil
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return nil, &CloseFrameError{Code: int(code), Reason: reason}
		case ws.OpPong:
			continue
		default:
			return nil, fmt.Errorf("wstest: unexpected opcode %v", f.Op)
		}
	}
}

// ReadCommand reads the next text frame and decodes it as a JSON object.
func (p *Peer) ReadCommand() (map[string]any, error) {
	b, err := p.ReadText()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("wstest: client sent %q: %w", b, err)
	}
	return m, nil
}

// Welcome writes a protocol 1 welcome message.
func (p *Peer) Welcome() error {
	return p.WriteText(`{"type":"welcome","protocol":1,"server":"marketfeed","ping_interval_ms":20000,"ts":1767225600000000}`)
}

// WaitClosed reads and discards client frames until the client closes the
// connection or Timeout passes.
func (p *Peer) WaitClosed() {
	for {
		if _, err := p.ReadFrame(); err != nil {
			return
		}
	}
}
