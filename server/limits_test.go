package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/server"
)

// dialFrom opens a TCP connection to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a keep-alive GET on c and returns the response status.
func get(t *testing.T, c net.Conn, br *bufio.Reader, path string) int {
	t.Helper()
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: feed.example.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// refused reports whether the server refused c at accept: a 503, without
// waiting for a request, then the end of the connection.
func refused(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Logf("refusal: %q, %v", b, err)
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(b))), nil)
	if err != nil {
		t.Logf("refusal: %q, %v", b, err)
		return false
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode == http.StatusServiceUnavailable && string(body) == "too many connections"
}

// TestHTTPLimits: an idle keep-alive connection is closed after the idle
// timeout; HTTP connections are bounded per client address and per
// listener, WebSocket connections do not count once upgraded, refusals
// are counted, and the admin listener answers while the public one is
// flooded.
func TestHTTPLimits(t *testing.T) {
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const perAddr, total = 8, 20
	srv, _ := runServer(t, server.Config{
		AdminListen: "127.0.0.1:0",
		HTTP: server.HTTPLimits{IdleTimeout: 300 * time.Millisecond, ReadHeaderTimeout: 30 * time.Second,
			MaxConns: total, MaxConnsPerAddr: perAddr},
		Feed: feed.Config{Brokers: b.Addrs(), Start: feed.StartEarliest},
	})
	addr := srv.Addr()

	// Idle keep-alive connections end after the idle timeout.
	start := time.Now()
	idle := dialFrom(t, "127.0.0.1", addr)
	ibr := bufio.NewReader(idle)
	if code := get(t, idle, ibr, "/v1/symbols"); code != http.StatusOK {
		t.Fatalf("/v1/symbols: %d", code)
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := ibr.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle keep-alive connection: read %d bytes, %v; want EOF after the idle timeout", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("idle connection closed after %v", d)
	}

	// WebSocket connections do not count once upgraded.
	for range total + 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		nc, _, _, err := ws.Dialer{}.Dial(ctx, "ws://"+addr+"/ws")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
	}

	// Connections in the middle of a request header (a slow client, or a
	// flood) count until the limits.
	var flood []net.Conn
	open := func(src string) net.Conn {
		c := dialFrom(t, src, addr)
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\n"); err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
		return c
	}
	for range perAddr {
		open("127.0.0.1")
	}
	if !refused(t, dialFrom(t, "127.0.0.1", addr)) {
		t.Fatalf("connection %d from one address was not refused", perAddr+1)
	}
	// Another address is served meanwhile.
	other := dialFrom(t, "127.0.0.2", addr)
	if code := get(t, other, bufio.NewReader(other), "/v1/symbols"); code != http.StatusOK {
		t.Fatalf("another address: /v1/symbols %d", code)
	}
	other.Close()
	waitFor(t, "the closed connection to stop counting", 5*time.Second, func() bool {
		return strings.Contains(metrics(t, srv), `marketfeed_http_connections{listener="public"} `+strconv.Itoa(perAddr))
	})
	for i := perAddr; i < total; i++ {
		open("127.0.0." + strconv.Itoa(2+i/perAddr))
	}
	if !refused(t, dialFrom(t, "127.0.0.9", addr)) {
		t.Fatalf("connection %d of the listener was not refused", total+1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, _, err := (ws.Dialer{}).Dial(ctx, "ws://"+addr+"/ws"); err == nil {
		t.Fatal("upgrade accepted with the listener's HTTP connections at their limit")
	}

	// The admin listener is not affected, and the refusals are counted.
	m := metrics(t, srv)
	for _, want := range []string{
		`marketfeed_http_connections{listener="public"} ` + strconv.Itoa(total),
		`marketfeed_http_connections_refused_total{listener="public",reason="max_connections"} 2`,
		`marketfeed_http_connections_refused_total{listener="public",reason="max_connections_per_address"} 1`,
		`marketfeed_ws_connections ` + strconv.Itoa(total+5),
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}

	// Once the flood ends, its connections stop counting.
	for _, c := range flood {
		c.Close()
	}
	waitFor(t, "the flood's connections to stop counting", 5*time.Second, func() bool {
		return strings.Contains(metrics(t, srv), `marketfeed_http_connections{listener="public"} 0`+"\n")
	})
	c := dialFrom(t, "127.0.0.1", addr)
	if code := get(t, c, bufio.NewReader(c), "/v1/symbols"); code != http.StatusOK {
		t.Fatalf("after the flood: /v1/symbols %d", code)
	}
}

// metrics fetches the admin listener's /metrics.
func metrics(t *testing.T, srv *server.Server) string {
	t.Helper()
	resp, err := http.Get("http://" + srv.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(body)
}

// TestHTTPLimitsWithTLS: under TLS the count sees every accepted socket
// and lets go of upgraded ones as without TLS: many wss:// connections
// from one address outnumber the per-address bound, while a TLS
// connection beyond the bound is closed at accept.
func TestHTTPLimitsWithTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const perAddr = 3
	srv, _ := runServer(t, server.Config{
		TLSCertFile: certFile, TLSKeyFile: keyFile, AdminListen: "127.0.0.1:0",
		HTTP: server.HTTPLimits{MaxConnsPerAddr: perAddr},
		Feed: feed.Config{Brokers: b.Addrs(), Start: feed.StartEarliest},
	})
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	for range 3 * perAddr {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		nc, _, _, err := ws.Dialer{TLSConfig: tlsCfg}.Dial(ctx, "wss://"+srv.Addr()+"/ws")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
	}
	waitFor(t, "upgraded connections to stop counting", 5*time.Second, func() bool {
		return strings.Contains(metrics(t, srv), `marketfeed_http_connections{listener="public"} 0`+"\n")
	})
	for range perAddr {
		c := tls.Client(dialFrom(t, "127.0.0.1", srv.Addr()), tlsCfg)
		if err := c.Handshake(); err != nil {
			t.Fatal(err)
		}
	}
	c := tls.Client(dialFrom(t, "127.0.0.1", srv.Addr()), tlsCfg)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err == nil {
		t.Fatalf("TLS connection %d from one address was served", perAddr+1)
	}
	if m := metrics(t, srv); !strings.Contains(m, `marketfeed_http_connections_refused_total{listener="public",reason="max_connections_per_address"} 1`+"\n") {
		t.Error("the refusal is not counted")
	}
}
