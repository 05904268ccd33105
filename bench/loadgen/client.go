package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/schemas"
)

// totals are the counters every client adds to.
type totals struct {
	updates   atomic.Uint64 // book updates received
	snapshots atomic.Uint64
	other     atomic.Uint64 // other data messages (acks, welcome, status)
	bytes     atomic.Uint64
	gaps      atomic.Uint64 // updates whose first_seq is not the previous seq + 1
	trades    atomic.Uint64 // trades messages
	evicted   atomic.Uint64 // close frames with 4001
	closed    atomic.Uint64 // other close frames
	cut       atomic.Uint64 // connections ended without a close frame (or inside a frame)
	resnaps   atomic.Uint64 // snapshots after the first of a subscription: conflations seen
	connected atomic.Int64
	ready     atomic.Int64 // clients that have a snapshot of every subscription
	hists     [16]hist     // latency of updates, sharded by client
}

// sub is one book subscription of a client.
type sub struct {
	channel []byte
	seq     uint64 // seq of the last snapshot or update; 0 before the snapshot
	epoch   uint64 // epoch of seq
	back    bool   // -restart: resumed or snapshot since the reconnection
}

// client is one simulated WebSocket client: one goroutine reading raw
// frames and parsing only the fields it checks.
type client struct {
	id      int
	nc      net.Conn
	br      *bufio.Reader
	subs    []sub
	hist    *hist
	t       *totals
	stalled bool
	haveAll int
	books   int // book subscriptions
	// binary: the client negotiated the binary subprotocol, whose market
	// data arrives in binary frames.
	binary bool
	// readRate, when positive, paces the client to that many messages a
	// second: a slow reader, which reads, but slowly.
	readRate float64
	read     int
	start    time.Time
	// fr and zbuf inflate compressed messages (-deflate).
	fr   io.ReadCloser
	zbuf bytes.Buffer
	// What a reconnection needs (-restart): where, what, and the run's
	// shared state (nil: no reconnection).
	url      string
	channels []string
	depth    int
	interval string
	rcvbuf   int
	again    *reconnects
	pending  int // book subscriptions not back yet after a reconnection
	deflate  bool
}

// dial connects client id from source address 127.0.0.(1 + id%250),
// offering the binary subprotocol if bin and permessage-deflate if
// deflate, and subscribes it to channels.
// A positive rcvbuf sets the socket's receive buffer before the handshake
// (a client on a thin link); zero leaves the kernel's default.
func dial(ctx context.Context, url string, id int, channels []string, depth int, interval string, bin, deflate bool, rcvbuf int, t *totals) (*client, error) {
	c := &client{id: id, hist: &t.hists[id%len(t.hists)], t: t,
		url: url, channels: channels, depth: depth, interval: interval, rcvbuf: rcvbuf,
		binary: bin, deflate: deflate}
	for _, ch := range channels {
		if strings.HasPrefix(ch, "book.") {
			c.subs = append(c.subs, sub{channel: []byte(ch)})
			c.books++
		}
	}
	nc, br, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.nc, c.br = nc, br
	if err := c.write(c.subscribeMessage(false)); err != nil {
		nc.Close()
		return nil, err
	}
	t.connected.Add(1)
	return c, nil
}

// write sends one text message.
func (c *client) write(p []byte) error { return wsutil.WriteClientMessage(c.nc, ws.OpText, p) }

// connect opens the client's WebSocket connection.
func (c *client) connect(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	id, rcvbuf := c.id, c.rcvbuf
	d := ws.Dialer{
		ReadBufferSize: 2048,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+id%250))}}
			if rcvbuf > 0 {
				nd.Control = func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) {
						_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
					})
				}
			}
			return nd.DialContext(ctx, network, addr)
		},
	}
	if c.binary {
		d.Protocols = []string{schemas.SubprotocolBinary}
	}
	if c.deflate {
		d.Extensions = []httphead.Option{wsflate.DefaultParameters.Option()}
	}
	nc, br, _, err := d.Dial(ctx, c.url)
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 2048)
	}
	return nc, br, nil
}

// run reads until the connection ends or ctx is done; in a -restart run
// it then reconnects once the run opens the gate, and reads again.
func (c *client) run(ctx context.Context) {
	defer c.t.connected.Add(-1)
	for {
		c.readAll(ctx)
		if c.again == nil || ctx.Err() != nil || !c.redial(ctx) {
			return
		}
	}
}

// readAll reads until the connection ends or ctx is done.
func (c *client) readAll(ctx context.Context) {
	nc := c.nc
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	defer nc.Close()
	var hdr [14]byte
	buf := make([]byte, 0, 1024)
	c.start = time.Now()
	for {
		if c.readRate > 0 {
			c.read++
			if d := time.Until(c.start.Add(time.Duration(float64(c.read) / c.readRate * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		if _, err := io.ReadFull(c.br, hdr[:2]); err != nil {
			c.gone(ctx)
			return
		}
		op := ws.OpCode(hdr[0] & 0x0f)
		n := int64(hdr[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(c.br, hdr[2:4]); err != nil {
				c.gone(ctx)
				return
			}
			n = int64(binary.BigEndian.Uint16(hdr[2:4]))
		case 127:
			if _, err := io.ReadFull(c.br, hdr[2:10]); err != nil {
				c.gone(ctx)
				return
			}
			n = int64(binary.BigEndian.Uint64(hdr[2:10]))
		}
		if n > 64<<20 {
			c.t.cut.Add(1)
			return
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, n)
		}
		p := buf[:n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			c.gone(ctx)
			return
		}
		now := time.Now().UnixMicro()
		c.t.bytes.Add(uint64(n))
		if hdr[0]&0x40 != 0 { // RSV1: a compressed message
			var err error
			if p, err = c.inflate(p); err != nil {
				c.t.cut.Add(1)
				return
			}
		}
		switch op {
		case ws.OpText:
			c.message(p, now)
		case ws.OpBinary:
			c.binaryMessage(p, now)
		case ws.OpPing:
			_ = wsutil.WriteClientMessage(c.nc, ws.OpPong, p)
		case ws.OpClose:
			if len(p) >= 2 && binary.BigEndian.Uint16(p) == 4001 {
				c.t.evicted.Add(1)
			} else {
				c.t.closed.Add(1)
			}
			return
		}
	}
}

func (c *client) gone(ctx context.Context) {
	if ctx.Err() == nil {
		c.t.cut.Add(1)
	}
}

var (
	kUpdate   = []byte(`{"type":"update"`)
	kSnapshot = []byte(`{"type":"snapshot"`)
	kTrades   = []byte(`{"type":"trades"`)
	kChannel  = []byte(`"channel":"`)
	kFirst    = []byte(`"first_seq":`)
	kSeq      = []byte(`"seq":`)
	kTS       = []byte(`"ts":`)
)

// message checks one text message: sequence continuity of book updates
// per subscription and the latency from the update's exchange time.
func (c *client) message(p []byte, now int64) {
	update := bytes.HasPrefix(p, kUpdate)
	if !update && !bytes.HasPrefix(p, kSnapshot) {
		if bytes.HasPrefix(p, kSubscribed) {
			c.subscribed(p)
		}
		if bytes.HasPrefix(p, kTrades) {
			c.t.trades.Add(1)
		}
		c.t.other.Add(1)
		return
	}
	s := c.find(p)
	if s == nil {
		c.t.other.Add(1)
		return
	}
	c.book(s, update, field(p, kFirst), field(p, kSeq), field(p, kEpoch), int64(field(p, kTS)), now)
}

// book counts a snapshot or update of subscription s covering first..seq
// (first 0 for a snapshot) of epoch at exchange time ts.
func (c *client) book(s *sub, update bool, first, seq, epoch uint64, ts, now int64) {
	if !update {
		c.t.snapshots.Add(1)
		if s.seq == 0 {
			c.haveAll++
			if c.haveAll == c.books {
				c.t.ready.Add(1)
			}
		} else {
			c.t.resnaps.Add(1)
			if c.again != nil {
				c.isBack(s)
			}
		}
		s.seq, s.epoch = seq, epoch
		return
	}
	c.t.updates.Add(1)
	if s.seq == 0 {
		return // before its snapshot: cannot happen with a correct server
	}
	if first != s.seq+1 {
		c.t.gaps.Add(1)
	}
	s.seq = seq
	c.hist.record(now - ts)
}

func (c *client) find(p []byte) *sub {
	i := bytes.Index(p, kChannel)
	if i < 0 {
		return nil
	}
	rest := p[i+len(kChannel):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return c.findChannel(rest[:j])
}

func (c *client) findChannel(ch []byte) *sub {
	for k := range c.subs {
		if bytes.Equal(c.subs[k].channel, ch) {
			return &c.subs[k]
		}
	}
	return nil
}

// field returns the unsigned integer that follows key, or 0.
func field(p, key []byte) uint64 {
	i := bytes.Index(p, key)
	if i < 0 {
		return 0
	}
	var v uint64
	for _, b := range p[i+len(key):] {
		if b < '0' || b > '9' {
			break
		}
		v = v*10 + uint64(b-'0')
	}
	return v
}

// binaryMessage checks one binary market-data message (schemas/binary.md)
// as message does a JSON one, reading the fields at their offsets.
func (c *client) binaryMessage(p []byte, now int64) {
	le := binary.LittleEndian
	if len(p) < 8 {
		c.t.other.Add(1)
		return
	}
	root, tpl := int(le.Uint16(p)), le.Uint16(p[2:])
	update := tpl == schemas.TemplateUpdate
	if !update && tpl != schemas.TemplateSnapshot {
		if tpl == schemas.TemplateTrades {
			c.t.trades.Add(1)
		}
		c.t.other.Add(1)
		return
	}
	b := p[8:]
	if len(b) < root {
		c.t.other.Add(1)
		return
	}
	var first uint64
	if update {
		first, b = le.Uint64(b), b[8:]
	}
	seq, epoch, ts := le.Uint64(b), le.Uint64(b[8:]), int64(le.Uint64(b[16:]))
	// The channel follows the two level groups.
	off := 8 + root
	for range 2 {
		if len(p) < off+6 {
			c.t.other.Add(1)
			return
		}
		off += 6 + int(le.Uint16(p[off:]))*int(le.Uint32(p[off+2:]))
	}
	if len(p) < off+2 || len(p) < off+2+int(le.Uint16(p[off:])) {
		c.t.other.Add(1)
		return
	}
	s := c.findChannel(p[off+2 : off+2+int(le.Uint16(p[off:]))])
	if s == nil {
		c.t.other.Add(1)
		return
	}
	c.book(s, update, first, seq, epoch, ts, now)
}

// deflateTail ends every message compressed without context takeover
// (RFC 7692 section 7.2.2); the sender strips it.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// inflate decompresses one permessage-deflate message.
func (c *client) inflate(p []byte) ([]byte, error) {
	src := io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail))
	if c.fr == nil {
		c.fr = flate.NewReader(src)
	} else if err := c.fr.(flate.Resetter).Reset(src, nil); err != nil {
		return nil, err
	}
	c.zbuf.Reset()
	if _, err := c.zbuf.ReadFrom(c.fr); err != nil && err != io.ErrUnexpectedEOF {
		return nil, err
	}
	return c.zbuf.Bytes(), nil
}
