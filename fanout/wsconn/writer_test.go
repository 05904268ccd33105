package wsconn

import (
	"bufio"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/prometheus/client_golang/prometheus"
)

// countingConn is a real socket that counts the writes made to it; not a
// *net.TCPConn, so the writer coalesces, as it does for a TLS connection.
type countingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

type nopHandler struct{}

func (nopHandler) HandleText([]byte) bool { return true }
func (nopHandler) Conflates() bool        { return false }
func (nopHandler) Lag()                   {}
func (nopHandler) Ending()                {}
func (nopHandler) Ended()                 {}

func testMetrics() Metrics {
	h := func(name string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name})
	}
	return Metrics{
		MessagesSent:    prometheus.NewCounter(prometheus.CounterOpts{Name: "sent"}),
		BytesSent:       prometheus.NewCounter(prometheus.CounterOpts{Name: "bytes"}),
		Disconnects:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "disconnects"}, []string{"reason"}),
		DeliveryLatency: h("latency"),
		WriteBatch:      h("batch"),
	}
}

// loopback returns both ends of a real TCP connection on loopback.
func loopback(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// On a socket without vectored writes (TLS), the frames queued while a
// write is in progress go out in one write, in order, not one write each.
func TestCoalescedBatchIsOneWrite(t *testing.T) {
	tr, err := New(Config{}, testMetrics(), nil)
	if err != nil {
		t.Fatal(err)
	}
	server, client := loopback(t)
	cc := &countingConn{Conn: server}
	c := newConn(tr, cc, nopHandler{})
	if !c.coalesce {
		t.Fatal("a socket without writev does not coalesce")
	}
	const n = 50
	c.running.Store(true) // as if a writer were busy: the frames queue up
	for i := range n {
		if !c.Send(TextFrame(fmt.Appendf(nil, "frame %d", i)), Keep) {
			t.Fatalf("frame %d refused", i)
		}
	}
	c.running.Store(false)
	c.kick()

	br := bufio.NewReader(client)
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range n {
		f, err := ws.ReadFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("frame %d", i); f.Header.OpCode != ws.OpText || string(f.Payload) != want {
			t.Fatalf("frame %d: %v %q, want text %q", i, f.Header.OpCode, f.Payload, want)
		}
	}
	if w := cc.writes.Load(); w != 1 {
		t.Fatalf("%d frames queued together took %d writes, want 1", n, w)
	}
}
