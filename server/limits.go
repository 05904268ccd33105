package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of HTTPLimits, used for its zero fields (and by the config
// package for its http.* keys).
const (
	// DefaultReadHeaderTimeout bounds the reading of a request's header.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a whole request.
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds the writing of a response, from the end
	// of its request; longer than the default 30 s of /debug/pprof/profile.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxConns bounds the HTTP connections of one listener.
	DefaultMaxConns = 1024
	// DefaultMaxConnsPerAddr bounds the HTTP connections of one listener
	// from one client address.
	DefaultMaxConnsPerAddr = 64
)

// HTTPLimits bound the HTTP side of a listener: plain requests (the page,
// /v1/symbols and the REST endpoints, the admin endpoints) and WebSocket upgrade requests until
// the upgrade. A connection stops counting once it is upgraded: WebSocket
// connections have limits of their own (fanout.Config). Zero fields take
// the Default* values; a negative one means no limit.
type HTTPLimits struct {
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// those of net/http.Server.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConns bounds the open HTTP connections of the listener; more are
	// answered with 503 and closed (TLS: closed) at once.
	MaxConns int
	// MaxConnsPerAddr bounds them per client IP address in the same way.
	// Behind a reverse proxy every client has the proxy's address.
	MaxConnsPerAddr int
}

func (l HTTPLimits) withDefaults() HTTPLimits {
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0 // net/http: none
		}
	}
	dur(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	dur(&l.ReadTimeout, DefaultReadTimeout)
	dur(&l.WriteTimeout, DefaultWriteTimeout)
	dur(&l.IdleTimeout, DefaultIdleTimeout)
	if l.MaxConns == 0 {
		l.MaxConns = DefaultMaxConns
	}
	if l.MaxConnsPerAddr == 0 {
		l.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	return l
}

// httpMetrics count the HTTP connections of the listeners.
type httpMetrics struct {
	open    *prometheus.GaugeVec
	refused *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "marketfeed_http_connections",
			Help: "Open HTTP connections (WebSocket connections count once upgraded in marketfeed_ws_connections instead), by listener.",
		}, []string{"listener"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "marketfeed_http_connections_refused_total",
			Help: "HTTP connections refused at accept, by listener and reason (max_connections, max_connections_per_address).",
		}, []string{"listener", "reason"}),
	}
	reg.MustRegister(m.open, m.refused)
	return m
}

// limitListener counts the HTTP connections it accepts, in total and per
// client address, and refuses those beyond its limits. A connection stops
// counting when the HTTP server reports it hijacked (upgraded to a
// WebSocket) or closed (connState). It returns the accepted connections
// themselves, unwrapped, so that an upgraded one is still a *net.TCPConn
// (the hub's poller needs it). Safe for concurrent use.
type limitListener struct {
	net.Listener
	max, perAddr int
	refusal      []byte // written to a refused connection; nil with TLS
	open         prometheus.Gauge
	refused      map[string]prometheus.Counter

	mu     sync.Mutex
	conns  map[net.Conn]string // accepted and counted, with their address
	byAddr map[string]int
}

const (
	refusedTotal   = "max_connections"
	refusedPerAddr = "max_connections_per_address"
)

// limit wraps ln, a plain TCP listener (TLS goes on top), with lim's
// connection limits; name labels the listener's metrics.
func limit(ln net.Listener, lim HTTPLimits, tls bool, m *httpMetrics, name string) *limitListener {
	l := &limitListener{
		Listener: ln,
		max:      lim.MaxConns,
		perAddr:  lim.MaxConnsPerAddr,
		open:     m.open.WithLabelValues(name),
		refused: map[string]prometheus.Counter{
			refusedTotal:   m.refused.WithLabelValues(name, refusedTotal),
			refusedPerAddr: m.refused.WithLabelValues(name, refusedPerAddr),
		},
		conns:  map[net.Conn]string{},
		byAddr: map[string]int{},
	}
	if !tls {
		l.refusal = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: 20\r\n\r\ntoo many connections")
	}
	return l
}

// Accept returns the next connection within the limits; the others are
// refused here and never reach the HTTP server.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := c.RemoteAddr().String()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
		reason := ""
		l.mu.Lock()
		switch {
		case l.max > 0 && len(l.conns) >= l.max:
			reason = refusedTotal
		case l.perAddr > 0 && l.byAddr[addr] >= l.perAddr:
			reason = refusedPerAddr
		default:
			l.conns[c] = addr
			l.byAddr[addr]++
		}
		l.mu.Unlock()
		if reason == "" {
			l.open.Inc()
			return c, nil
		}
		l.refused[reason].Inc()
		if l.refusal != nil {
			// A fresh socket's send buffer takes it at once; the deadline
			// only guards the accept loop.
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			_, _ = c.Write(l.refusal)
		}
		c.Close()
	}
}

// connState is the HTTP server's ConnState hook: a hijacked or closed
// connection stops counting.
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	if st != http.StateHijacked && st != http.StateClosed {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	l.mu.Lock()
	addr, ok := l.conns[c]
	if ok {
		delete(l.conns, c)
		if l.byAddr[addr]--; l.byAddr[addr] == 0 {
			delete(l.byAddr, addr)
		}
	}
	l.mu.Unlock()
	if ok {
		l.open.Dec()
	}
}

// httpServer returns the http.Server of a listener with lim's timeouts,
// counting its connections in ll.
func httpServer(h http.Handler, lim HTTPLimits, ll *limitListener) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: lim.ReadHeaderTimeout,
		ReadTimeout:       lim.ReadTimeout,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       lim.IdleTimeout,
		ConnState:         ll.connState,
	}
}
