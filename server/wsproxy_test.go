package server_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// wsProxy is a loopback TCP proxy in front of a marketfeed server that can
// fail WebSocket connections the way networks and servers do: cut them,
// and swallow one server message so that the client sees a sequence gap.
// The target can be switched, as after a server restart.
type wsProxy struct {
	t  *testing.T
	ln net.Listener

	mu     sync.Mutex
	target string
	conns  map[*proxied]struct{}
	drop   [][]byte // drop the next server frame containing all of these
	wg     sync.WaitGroup
}

type proxied struct {
	client, server net.Conn
}

func (p *proxied) close() {
	p.client.Close()
	p.server.Close()
}

func newWSProxy(t *testing.T, target string) *wsProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wsProxy{t: t, ln: ln, target: target, conns: map[*proxied]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.kill()
		p.wg.Wait()
	})
	return p
}

// url is the ws:// address of the proxied /ws endpoint.
func (p *wsProxy) url() string { return "ws://" + p.ln.Addr().String() + "/ws" }

// retarget sends new connections to addr.
func (p *wsProxy) retarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// kill cuts every current connection (TCP close, no close frame).
func (p *wsProxy) kill() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	for c := range p.conns {
		c.close()
		delete(p.conns, c)
	}
	return n
}

// dropNext swallows the next server message (on any connection) that
// contains every one of parts.
func (p *wsProxy) dropNext(parts ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range parts {
		p.drop = append(p.drop, []byte(s))
	}
}

// dropPending reports whether a drop requested by dropNext is still to
// happen.
func (p *wsProxy) dropPending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.drop) > 0
}

func (p *wsProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		s, err := net.DialTimeout("tcp", target, 5*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxied{client: c, server: s}
		p.mu.Lock()
		p.conns[pc] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(s, c)
			pc.close()
		}()
		go func() {
			defer p.wg.Done()
			p.forward(pc)
			pc.close()
			p.mu.Lock()
			delete(p.conns, pc)
			p.mu.Unlock()
		}()
	}
}

// forward copies the server's upgrade response, then its frames one by
// one, leaving out a frame selected by dropNext.
func (p *wsProxy) forward(pc *proxied) {
	r := bufio.NewReader(pc.server)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		if _, err := pc.client.Write(line); err != nil {
			return
		}
		if bytes.Equal(line, []byte("\r\n")) {
			break
		}
	}
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			return
		}
		if h.OpCode == ws.OpText && p.shouldDrop(payload) {
			continue
		}
		if err := ws.WriteHeader(pc.client, h); err != nil {
			return
		}
		if _, err := pc.client.Write(payload); err != nil {
			return
		}
	}
}

func (p *wsProxy) shouldDrop(payload []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.drop) == 0 {
		return false
	}
	for _, part := range p.drop {
		if !bytes.Contains(payload, part) {
			return false
		}
	}
	p.drop = nil
	return true
}
