package fanout_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// rawClient reads whole frames and inflates compressed ones.
type rawClient struct {
	t        *testing.T
	c        *wsClient
	deflated int       // compressed frames received
	op       ws.OpCode // opcode of the last message
}

// dialDeflate connects negotiating permessage-deflate and offering the
// given subprotocols, if any.
func dialDeflate(t *testing.T, url string, protocols ...string) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}, Protocols: protocols}
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != wsflate.ExtensionName {
		t.Fatalf("compression not negotiated: %v", hs.Extensions)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return &rawClient{t: t, c: &wsClient{t: t, nc: nc, br: br}}
}

// next returns the next data payload, inflated if it was compressed.
func (r *rawClient) next() []byte {
	r.t.Helper()
	_ = r.c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := ws.ReadFrame(r.c.br)
		if err != nil {
			r.t.Fatal(err)
		}
		if f.Header.OpCode.IsControl() {
			continue
		}
		r.op = f.Header.OpCode
		if f.Header.Rsv1() {
			r.deflated++
			if f, err = wsflate.DecompressFrame(f); err != nil {
				r.t.Fatal(err)
			}
		}
		return f.Payload
	}
}

// sendCompressed sends a compressed text message.
func (r *rawClient) sendCompressed(s string) {
	r.t.Helper()
	f, err := wsflate.CompressFrame(ws.NewTextFrame([]byte(s)))
	if err != nil {
		r.t.Fatal(err)
	}
	if err := ws.WriteFrame(r.c.nc, ws.MaskFrame(f)); err != nil {
		r.t.Fatal(err)
	}
}

func plainNext(t *testing.T, c *wsClient) []byte {
	t.Helper()
	_, raw, err := c.read(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestCompressedAndPlainClientsGetIdenticalMessages: a client that
// negotiated permessage-deflate decodes exactly the messages a plain client
// receives; large ones arrive compressed, small ones plain; its own
// compressed commands are understood.
func TestCompressedAndPlainClientsGetIdenticalMessages(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), bigSnapshot("BTC-USD", 1, 100, 0))
	s.sync(t)

	plain := dial(t, s.url)
	z := dialDeflate(t, s.url)
	if m := z.next(); !bytes.Contains(m, []byte(`"type":"welcome"`)) {
		t.Fatalf("welcome: %s", m)
	}
	sub := `{"op":"subscribe","channel":"book.BTC-USD","depth":100}`
	plain.sendText(sub)
	z.sendCompressed(sub)
	for range 2 { // ack and snapshot
		if p, c := plainNext(t, plain), z.next(); !bytes.Equal(p, c) {
			t.Fatalf("plain %s\ncompressed %s", p, c)
		}
	}
	for i := 2; i < 40; i++ {
		if i%10 == 0 {
			s.feed(bigSnapshot("BTC-USD", i, 100, i)) // large: compressed
		} else {
			s.feed(delta("BTC-USD", i, fmt.Sprintf(`[["%d.00","%d"]]`, 10000-i%5, i), `[]`)) // small: plain
		}
		if p, c := plainNext(t, plain), z.next(); !bytes.Equal(p, c) {
			t.Fatalf("message %d differs:\nplain %s\ncompressed %s", i, p, c)
		}
	}
	if z.deflated < 4 {
		t.Fatalf("only %d compressed frames", z.deflated)
	}
}

func TestCompressedMessageTooBigWhenInflated(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{MaxMessageSize: 1024}})
	z := dialDeflate(t, s.url)
	z.next()                                                                      // welcome
	z.sendCompressed(`{"op":"ping","pad":"` + strings.Repeat("a", 100000) + `"}`) // ~100 bytes compressed
	z.c.expectClose(schemas.CloseMessageTooBig)
}

func TestReservedBitsWithoutCompressionClose1002(t *testing.T) {
	s := startServer(t, fanout.Config{Transport: wsconn.Config{DisableCompression: true}})
	c := dial(t, s.url)
	f, _ := wsflate.CompressFrame(ws.NewTextFrame([]byte(`{"op":"ping"}`)))
	if err := ws.WriteFrame(c.nc, ws.MaskFrame(f)); err != nil {
		t.Fatal(err)
	}
	c.expectClose(schemas.CloseProtocolError)
}
