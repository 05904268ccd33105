package fanout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// dialProtocols connects offering protocols (none when empty), reads the
// welcome, and returns the client, the response's Sec-WebSocket-Protocol
// header ("" when absent; the raw cases below read the header itself) and
// the welcome.
func dialProtocols(t *testing.T, url string, protocols ...string) (*wsClient, string, *schemas.ServerMessage) {
	t.Helper()
	d := ws.Dialer{Protocols: protocols}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	c := &wsClient{t: t, nc: nc, br: br}
	t.Cleanup(func() { nc.Close() })
	w := c.next()
	if w.Type != schemas.TypeWelcome || c.op != ws.OpText {
		t.Fatalf("first message %+v (opcode %v), want a welcome text frame", w, c.op)
	}
	return c, hs.Protocol, w
}

// rawUpgrade sends an upgrade request to url with the given
// Sec-WebSocket-Protocol header lines and returns the response.
func rawUpgrade(t *testing.T, url string, protocolLines ...string) *http.Response {
	t.Helper()
	host := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/ws")
	nc, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, l := range protocolLines {
		req += "Sec-WebSocket-Protocol: " + l + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestSubprotocolNegotiation: the subprotocol a client offers chooses the
// encoding of its market data (websocket.md section 2.1); control
// messages are text frames on both.
func TestSubprotocolNegotiation(t *testing.T) {
	s := startServer(t, fanout.Config{})
	s.feed(instrument("BTC-USD", 2, 3), snapshot("BTC-USD", 10, bookBids, bookAsks))
	s.sync(t)
	const js, bin = schemas.SubprotocolJSON, schemas.SubprotocolBinary
	for _, tc := range []struct {
		name     string
		offer    []string
		header   string
		encoding string
	}{
		{"none offered", nil, "", "json"},
		{"json", []string{js}, js, "json"},
		{"bin", []string{bin}, bin, "bin"},
		{"json then bin", []string{js, bin}, js, "json"},
		{"bin then json", []string{bin, js}, bin, "bin"},
		{"unknown then bin", []string{"mqtt", bin}, bin, "bin"},
		{"unknown then json", []string{"marketfeed.v2.bin", js}, js, "json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, header, w := dialProtocols(t, s.url, tc.offer...)
			if header != tc.header || w.Encoding != tc.encoding {
				t.Fatalf("offer %q: Sec-WebSocket-Protocol %q, welcome encoding %q; want %q, %q", tc.offer, header, w.Encoding, tc.header, tc.encoding)
			}
			c.sendText(`{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":1}`)
			if ack := c.next(); ack.Type != schemas.TypeSubscribed || c.op != ws.OpText {
				t.Fatalf("ack %+v in opcode %v, want a subscribed text frame", ack, c.op)
			}
			snap := c.next()
			want := map[string]ws.OpCode{"json": ws.OpText, "bin": ws.OpBinary}[tc.encoding]
			if snap.Type != schemas.TypeSnapshot || snap.Seq != 10 || c.op != want || snap.Bids[0] != [2]string{"100.00", "1.000"} {
				t.Fatalf("snapshot %+v in opcode %v, want opcode %v", snap, c.op, want)
			}
			c.sendText(`{"op":"ping","id":2}`)
			if p := c.next(); p.Type != schemas.TypePong || c.op != ws.OpText {
				t.Fatalf("pong %+v in opcode %v", p, c.op)
			}
		})
	}

	t.Run("unknown only", func(t *testing.T) {
		resp := rawUpgrade(t, s.url, "mqtt, marketfeed.v2.bin")
		defer resp.Body.Close()
		var m schemas.ServerMessage
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Content-Type") != "application/json" ||
			m.Type != schemas.TypeError || m.Code != schemas.CodeUnsupportedProtocol ||
			!strings.Contains(m.Message, js) || !strings.Contains(m.Message, bin) {
			t.Fatalf("status %d %q, body %+v", resp.StatusCode, resp.Header.Get("Content-Type"), m)
		}
		if n := testutil.ToFloat64(s.m.ClientErrors.WithLabelValues(schemas.CodeUnsupportedProtocol)); n != 1 {
			t.Errorf("unsupported_protocol counted %v times, want 1", n)
		}
	})
	t.Run("none offered, raw", func(t *testing.T) {
		resp := rawUpgrade(t, s.url)
		defer resp.Body.Close()
		if _, ok := resp.Header["Sec-Websocket-Protocol"]; resp.StatusCode != http.StatusSwitchingProtocols || ok {
			t.Fatalf("status %d, header %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("offer over two header lines", func(t *testing.T) {
		resp := rawUpgrade(t, s.url, "mqtt", bin)
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Protocol") != bin {
			t.Fatalf("status %d, Sec-WebSocket-Protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
		}
	})
}
