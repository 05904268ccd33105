package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/fanout"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

func httpStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminEndpointsAndMetrics: the admin listener carries health,
// readiness and metrics apart from client traffic, and the counters move as
// records and clients flow.
func TestAdminEndpointsAndMetrics(t *testing.T) {
	b, err := broker.Start(broker.Config{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv, _ := runServer(t, server.Config{
		AdminListen: "127.0.0.1:0", Pprof: true,
		Feed: feed.Config{Brokers: b.Addrs(), Start: feed.StartEarliest},
	})
	admin := "http://" + srv.AdminAddr()
	if srv.AdminAddr() == srv.Addr() {
		t.Fatal("admin shares the client listener")
	}
	if code := httpStatus(t, "http://"+srv.Addr()+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the client listener: %d", code)
	}
	for _, p := range []string{"/healthz", "/debug/pprof/"} {
		if code := httpStatus(t, admin+p); code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
	}

	e := &env{broker: b, srv: srv, url: "ws://" + srv.Addr() + "/ws"}
	e.writer = newWriter(b)
	defer e.writer.Close()
	ex := sim.New(sim.Config{Symbols: 3, Seed: 9})
	e.produce(t, ex.Snapshots(time.Now(), nil))
	e.waitLive(t, ex.Symbols())
	waitFor(t, "readiness", 10*time.Second, func() bool { return httpStatus(t, admin+"/readyz") == http.StatusOK })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, e.url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Subscribe(1, []string{"book." + ex.Symbols()[0]}, 5, "raw"); err != nil {
		t.Fatal(err)
	}
	// The subscription exists once its snapshot arrived; events produced
	// before that could all be applied before it and never reach it.
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeSnapshot {
			break
		}
	}
	sentBefore := metric(t, srv.AdminAddr(), "marketfeed_ws_messages_sent_total")
	var msgs []sim.Message
	now := time.Now()
	for range 300 {
		now = now.Add(time.Millisecond)
		msgs = ex.Next(now, msgs)
	}
	e.produce(t, msgs)
	for got := 0; got < 5; {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeUpdate {
			got++
		}
	}
	checks := map[string]float64{
		"marketfeed_ws_connections":                              1,
		"marketfeed_ws_subscriptions":                            1,
		`marketfeed_books{state="live"}`:                         3,
		`marketfeed_feed_records_applied_total{type="delta"}`:    1,
		`marketfeed_feed_records_applied_total{type="snapshot"}`: 3,
	}
	for sample, min := range checks {
		if got := metric(t, srv.AdminAddr(), sample); got < min {
			t.Errorf("%s = %v, want at least %v", sample, got, min)
		}
	}
	if after := metric(t, srv.AdminAddr(), "marketfeed_ws_messages_sent_total"); after < sentBefore+5 {
		t.Errorf("messages sent %v → %v", sentBefore, after)
	}
	// Delivery latency and queue depth are sampled on the writes above; a
	// resync is counted.
	if err := conn.Resync(2, []string{"book." + ex.Symbols()[0]}); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == schemas.TypeSnapshot {
			break
		}
	}
	for sample, min := range map[string]float64{
		"marketfeed_ws_delivery_latency_seconds_count": 1,
		"marketfeed_ws_queue_depth_frames_count":       1, // writes; frames may share one
		"marketfeed_ws_resyncs_total":                  1,
	} {
		if got := metric(t, srv.AdminAddr(), sample); got < min {
			t.Errorf("%s = %v, want at least %v", sample, got, min)
		}
	}
	// The simulator stamps events with the wall clock: every latency
	// sample is below a minute.
	if n, under := metric(t, srv.AdminAddr(), "marketfeed_ws_delivery_latency_seconds_count"),
		metric(t, srv.AdminAddr(), `marketfeed_ws_delivery_latency_seconds_bucket{le="8.192"}`); under != n {
		t.Errorf("latency samples: %v in all, %v under 8.192 s", n, under)
	}
}

// TestReadinessFollowsTheBroker: /readyz turns 503 when the broker goes
// away and 200 when it is back on the same address.
func TestReadinessFollowsTheBroker(t *testing.T) {
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	srv, _ := runServer(t, server.Config{
		Feed: feed.Config{Brokers: []string{addr}, Start: feed.StartEarliest, DialTimeout: time.Second, BackoffMax: 200 * time.Millisecond},
	})
	ready := "http://" + srv.Addr() + "/readyz"
	waitFor(t, "ready", 10*time.Second, func() bool { return httpStatus(t, ready) == http.StatusOK })
	b.Close()
	waitFor(t, "not ready without a broker", 10*time.Second, func() bool { return httpStatus(t, ready) == http.StatusServiceUnavailable })
	b2, err := broker.Start(broker.Config{Partitions: 1, Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	waitFor(t, "ready again", 15*time.Second, func() bool { return httpStatus(t, ready) == http.StatusOK })
}

// TestTLSClientStreams: with a certificate the listener speaks wss://.
func TestTLSClientStreams(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv, _ := runServer(t, server.Config{
		TLSCertFile: certFile, TLSKeyFile: keyFile,
		Feed: feed.Config{Brokers: b.Addrs(), Start: feed.StartEarliest},
	})
	e := &env{broker: b, srv: srv, writer: newWriter(b)}
	defer e.writer.Close()
	ex := sim.New(sim.Config{Symbols: 1, Seed: 3})
	e.produce(t, ex.Snapshots(time.Now(), nil))
	e.waitLive(t, ex.Symbols())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	nc, _, _, err := d.Dial(ctx, "wss://"+srv.Addr()+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := wsutil.WriteClientText(nc, []byte(`{"op":"subscribe","channel":"book.`+ex.Symbols()[0]+`"}`)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, want := range []string{`"type":"welcome"`, `"type":"subscribed"`, `"type":"snapshot"`} {
		msg, err := wsutil.ReadServerText(nc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg), want) {
			t.Fatalf("got %s, want %s", msg, want)
		}
	}
}

// TestMaxConnectionsUnderABurst: exactly the limit is admitted, however
// many connect at once; the rest get 503 before the upgrade.
func TestMaxConnectionsUnderABurst(t *testing.T) {
	b, err := broker.Start(broker.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const limit, burst = 5, 40
	srv, _ := runServer(t, server.Config{
		WS:   fanout.Config{MaxConnections: limit},
		Feed: feed.Config{Brokers: b.Addrs()},
	})
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			nc, _, _, err := ws.Dial(ctx, "ws://"+srv.Addr()+"/ws")
			var se ws.StatusError
			switch {
			case err == nil:
				ok.Add(1)
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
			case errors.As(err, &se) && int(se) == http.StatusServiceUnavailable:
				refused.Add(1)
			default:
				t.Errorf("dial: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != limit || refused.Load() != burst-limit {
		t.Fatalf("%d admitted, %d refused; want %d and %d", ok.Load(), refused.Load(), limit, burst-limit)
	}
	// A slot frees when a connection ends.
	conns[0].Close()
	waitFor(t, "a free slot", 5*time.Second, func() bool { return srv.Hub().ConnCount() == limit-1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, _, _, err := ws.Dial(ctx, "ws://"+srv.Addr()+"/ws")
	if err != nil {
		t.Fatalf("dial after a slot freed: %v", err)
	}
	nc.Close()
	for _, c := range conns[1:] {
		c.Close()
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "marketfeed test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
