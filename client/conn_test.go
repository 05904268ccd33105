package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/marketfeed/marketfeed/client/internal/wstest"
	"github.com/marketfeed/marketfeed/schemas"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialT(t *testing.T, s *wstest.Server, opt Options) *Conn {
	t.Helper()
	c, err := Dial(testCtx(t), s.URL, opt)
	if err != nil {
		t.Fatalf(
			"Dial: %v",
			err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// expectCommand reads one client command and compares it with want.
func expectCommand(t *testing.T, p *wstest.Peer, want string) {
	t.Helper()
	got, err := p.ReadText()
	if err != nil {
		t.Errorf("reading command: %v", err)
		return
	}
	if string(got) != want {
		t.Errorf("command = %s, want %s", got, want)
	}
}

func TestSessionBookPingClose(t *testing.T) {
	pong := make(chan []byte, 1)
	echo := make(chan int, 1)
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		expectCommand(t, p, `{"op":"subscribe","id":1,"channel":"book.BTC-USD","depth":10,"interval":"raw"}`)
		p.WriteText(`{"type":"subscribed","id":1,"channel":"book.BTC-USD","depth":10,"interval":"raw"}`)
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":100,"ts":1,"bids":[["100.10","1.00"],["100.00","2.00"]],"asks":[["100.20","3.00"],["100.30","4.00"]]}`)
		p.WritePing([]byte("hb-1"))
		f, err := p.ReadFrame()
		if err != nil || f.Op != ws.OpPong {
			t.Errorf("after ping: frame %v, %v; want pong", f.Op, err)
		}
		pong <- f.Payload
		p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":101,"seq":102,"ts":2,"bids":[["100.10","0.00"],["100.15","5.00"]]}`)
		p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":103,"seq":103,"ts":3,"asks":[["100.20","0.50"]]}`)
		p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":105,"seq":106,"ts":4,"asks":[["100.25","1.00"]]}`)
		p.WriteClose(4001, "slow consumer")
		_, err = p.ReadText()
		var ce *wstest.CloseFrameError
		if errors.As(err, &ce) {
			echo <- ce.Code
		} else {
			t.Errorf("after close: %v, want a close frame", err)
			echo <- 0
		}
	})
	c := dialT(t, s, Options{})
	if w := c.Welcome(); w.Type != schemas.TypeWelcome || w.Protocol != 1 || w.Server != "marketfeed" || w.PingIntervalMS != 20000 {
		t.Fatalf("welcome = %+v", w)
	}
	if !bytes.HasPrefix(c.WelcomeRaw(), []byte(`{"type":"welcome"`)) {
		t.Fatalf("WelcomeRaw = %s", c.WelcomeRaw())
	}
	if err := c.Subscribe(1, []string{"book.BTC-USD"}, 10, "raw"); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	m, err := c.Next(ctx)
	if err != nil || m.Type != schemas.TypeSubscribed || m.ID != 1 || m.Depth != 10 {
		t.Fatalf("Next = %+v, %v; want subscribed", m, err)
	}
	book := NewBook("book.BTC-USD")
	var applyErrs []error
	for range 4 { // snapshot and three updates
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		applyErrs = append(applyErrs, book.Apply(m))
	}
	if p := <-pong; string(p) != "hb-1" {
		t.Errorf("pong payload %q, want hb-1", p)
	}
	for i, err := range applyErrs[:3] {
		if err != nil {
			t.Errorf("Apply #%d: %v", i, err)
		}
	}
	if !errors.Is(applyErrs[3], ErrGap) || book.Synced() || book.State() != BookGap {
		t.Errorf("gap update: err %v, state %v; want ErrGap, gap", applyErrs[3], book.State())
	}
	if book.Seq() != 103 {
		t.Errorf("Seq = %d, want 103", book.Seq())
	}
	wantBids := [][2]string{{"100.15", "5.00"}, {"100.00", "2.00"}}
	wantAsks := [][2]string{{"100.20", "0.50"}, {"100.30", "4.00"}}
	if fmt.Sprint(book.Bids()) != fmt.Sprint(wantBids) || fmt.Sprint(book.Asks()) != fmt.Sprint(wantAsks) {
		t.Errorf("book = %v / %v, want %v / %v", book.Bids(), book.Asks(), wantBids, wantAsks)
	}
	for range 2 { // the close error is final
		_, err = c.Next(ctx)
		var ce *CloseError
		if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "slow consumer" {
			t.Fatalf("Next after close frame = %v, want CloseError{4001, slow consumer}", err)
		}
	}
	if code := <-echo; code != 4001 {
		t.Errorf("client echoed close code %d, want 4001", code)
	}
	if err := c.SendRaw([]byte(`{}`)); err == nil {
		t.Errorf("SendRaw after close succeeded")
	}
}

func TestCommands(t *testing.T) {
	want := []string{
		`{"op":"subscribe","channels":["ticker.BTC-USD","trades.ETH-USD"]}`,
		`{"op":"subscribe","id":7,"channel":"ticker.BTC-USD","interval":"1s"}`,
		`{"op":"unsubscribe","id":8,"channels":["ticker.BTC-USD","trades.ETH-USD"]}`,
		`{"op":"unsubscribe","channel":"book.BTC-USD"}`,
		`{"op":"ping","id":9}`,
		`{"op":"list","id":10}`,
		`not json at all`,
	}
	got := make(chan []string, 1)
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		var cmds []string
		for range want {
			b, err := p.ReadText()
			if err != nil {
				t.Errorf("read: %v", err)
				break
			}
			cmds = append(cmds, string(b))
		}
		got <- cmds
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	if err := c.Subscribe(0, nil, 0, ""); !errors.Is(err, ErrNoChannels) {
		t.Errorf("Subscribe(no channels) = %v, want ErrNoChannels", err)
	}
	if err := c.Unsubscribe(0, []string{}); !errors.Is(err, ErrNoChannels) {
		t.Errorf("Unsubscribe(no channels) = %v, want ErrNoChannels", err)
	}
	steps := []func() error{
		func() error { return c.Subscribe(0, []string{"ticker.BTC-USD", "trades.ETH-USD"}, 0, "") },
		func() error { return c.Subscribe(7, []string{"ticker.BTC-USD"}, 0, "1s") },
		func() error { return c.Unsubscribe(8, []string{"ticker.BTC-USD", "trades.ETH-USD"}) },
		func() error { return c.Unsubscribe(0, []string{"book.BTC-USD"}) },
		func() error { return c.Ping(9) },
		func() error { return c.List(10) },
		func() error { return c.SendRaw([]byte("not json at all")) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	cmds := <-got
	if len(cmds) != len(want) {
		t.Fatalf("server got %d commands, want %d", len(cmds), len(want))
	}
	for i := range want {
		if cmds[i] != want[i] {
			t.Errorf("command %d = %s, want %s", i, cmds[i], want[i])
		}
	}
}

func TestUpgradeHeaders(t *testing.T) {
	reject := func(h http.Header) int {
		if h.Get("Authorization") != "Bearer good" {
			return http.StatusUnauthorized
		}
		return 0
	}
	path := make(chan string, 1)
	s := wstest.NewServerReject(t, reject, func(p *wstest.Peer) {
		path <- p.Path
		p.Welcome()
		p.WaitClosed()
	})
	c, err := Dial(testCtx(t), s.URL, Options{Header: http.Header{"Authorization": {"Bearer good"}}})
	if err != nil {
		t.Fatalf("Dial with token: %v", err)
	}
	c.Close()
	if p := <-path; p != "/ws" {
		t.Errorf("request path %q, want /ws", p)
	}
	_, err = Dial(testCtx(t), s.URL, Options{Header: http.Header{"Authorization": {"Bearer bad"}}})
	var se ws.StatusError
	if !errors.As(err, &se) || int(se) != http.StatusUnauthorized {
		t.Errorf("Dial with bad token = %v, want status 401", err)
	}
}

func TestDialFailures(t *testing.T) {
	tests := []struct {
		name   string
		script func(*wstest.Peer)
		opt    Options
		check  func(error) bool
	}{
		{
			name:   "first message not a welcome",
			script: func(p *wstest.Peer) { p.WriteText(`{"type":"pong"}`) },
			check:  func(err error) bool { return errors.Is(err, ErrNoWelcome) },
		},
		{
			name:   "other protocol version",
			script: func(p *wstest.Peer) { p.WriteText(`{"type":"welcome","protocol":2}`) },
			check:  func(err error) bool { return errors.Is(err, ErrProtocolVersion) },
		},
		{
			name:   "closed before welcome",
			script: func(p *wstest.Peer) { p.WriteClose(1008, "policy") },
			check: func(err error) bool {
				var ce *CloseError
				return errors.As(err, &ce) && ce.Code == 1008 && ce.Reason == "policy"
			},
		},
		{
			name:   "subprotocol not agreed",
			script: func(p *wstest.Peer) { p.Welcome() },
			opt:    Options{Protocol: schemas.SubprotocolBinary},
			check:  func(err error) bool { return errors.Is(err, ErrSubprotocol) },
		},
		{
			name:   "unknown subprotocol",
			script: func(p *wstest.Peer) { p.Welcome() },
			opt:    Options{Protocol: "marketfeed.v9.bin"},
			check:  func(err error) bool { return errors.Is(err, ErrSubprotocol) },
		},
		{
			name:   "no welcome in time",
			script: func(p *wstest.Peer) { p.WaitClosed() },
			opt:    Options{DialTimeout: 200 * time.Millisecond},
			check:  func(err error) bool { return errors.Is(err, context.DeadlineExceeded) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wstest.NewServer(t, func(p *wstest.Peer) {
				tt.script(p)
				p.WaitClosed()
			})
			c, err := Dial(testCtx(t), s.URL, tt.opt)
			if err == nil {
				c.Close()
				t.Fatalf("Dial succeeded")
			}
			if !tt.check(err) {
				t.Errorf("Dial error = %v", err)
			}
		})
	}
}

func TestServerViolations(t *testing.T) {
	tests := []struct {
		name      string
		script    func(*wstest.Peer)
		wantErr   error
		wantClose int
	}{
		{
			name:      "binary frame",
			script:    func(p *wstest.Peer) { p.WriteFrame(ws.OpBinary, true, []byte("x")) },
			wantErr:   ErrBinaryMessage,
			wantClose: 1003,
		},
		{
			name:      "message too large",
			script:    func(p *wstest.Peer) { p.WriteText(strings.Repeat("x", 201)) },
			wantErr:   ErrMessageTooLarge,
			wantClose: 1009,
		},
		{
			name: "fragments too large together",
			script: func(p *wstest.Peer) {
				p.WriteFrame(ws.OpText, false, bytes.Repeat([]byte("x"), 120))
				p.WriteFrame(ws.OpContinuation, true, bytes.Repeat([]byte("x"), 120))
			},
			wantErr:   ErrMessageTooLarge,
			wantClose: 1009,
		},
		{
			name:      "invalid UTF-8",
			script:    func(p *wstest.Peer) { p.WriteFrame(ws.OpText, true, []byte{'"', 0xff, '"'}) },
			wantErr:   ErrInvalidUTF8,
			wantClose: 1007,
		},
		{
			name:      "continuation without message",
			script:    func(p *wstest.Peer) { p.WriteFrame(ws.OpContinuation, true, []byte("x")) },
			wantErr:   ErrProtocol,
			wantClose: 1002,
		},
		{
			name: "text inside fragmented message",
			script: func(p *wstest.Peer) {
				p.WriteFrame(ws.OpText, false, []byte("a"))
				p.WriteFrame(ws.OpText, true, []byte("b"))
			},
			wantErr:   ErrProtocol,
			wantClose: 1002,
		},
		{
			name:      "fragmented ping",
			script:    func(p *wstest.Peer) { p.WriteFrame(ws.OpPing, false, nil) },
			wantErr:   ErrProtocol,
			wantClose: 1002,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan int, 1)
			s := wstest.NewServer(t, func(p *wstest.Peer) {
				p.Welcome()
				tt.script(p)
				_, err := p.ReadText()
				var ce *wstest.CloseFrameError
				if errors.As(err, &ce) {
					closed <- ce.Code
				} else {
					closed <- -1
				}
			})
			c := dialT(t, s, Options{MaxMessageSize: 200})
			_, err := c.Next(testCtx(t))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Next = %v, want %v", err, tt.wantErr)
			}
			if code := <-closed; code != tt.wantClose {
				t.Errorf("close code %d, want %d", code, tt.wantClose)
			}
		})
	}
}

func TestCloseWithoutCode(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		p.WriteFrame(ws.OpClose, true, nil)
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	_, err := c.Next(testCtx(t))
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 1005 {
		t.Errorf("Next = %v, want CloseError 1005", err)
	}
}

func TestFragmentedMessageWithPing(t *testing.T) {
	pong := make(chan string, 1)
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		p.WriteFrame(ws.OpText, false, []byte(`{"type":"pong",`))
		p.WritePing([]byte("mid"))
		p.WriteFrame(ws.OpContinuation, false, []byte(`"id":`))
		p.WriteFrame(ws.OpContinuation, true, []byte(`42}`))
		f, err := p.ReadFrame()
		if err != nil || f.Op != ws.OpPong {
			t.Errorf("frame %v, %v; want pong", f.Op, err)
		}
		pong <- string(f.Payload)
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	if got := <-pong; got != "mid" {
		t.Errorf("pong payload %q, want mid", got)
	}
	raw, err := c.NextRaw(testCtx(t))
	if err != nil || string(raw) != `{"type":"pong","id":42}` {
		t.Errorf("NextRaw = %s, %v", raw, err)
	}
}

func TestNextContextLeavesConnUsable(t *testing.T) {
	release := make(chan struct{})
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		<-release
		p.WriteText(`{"type":"pong","id":5}`)
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next = %v, want DeadlineExceeded", err)
	}
	close(release)
	m, err := c.Next(testCtx(t))
	if err != nil || m.Type != schemas.TypePong || m.ID != 5 {
		t.Fatalf("Next = %+v, %v; want pong 5", m, err)
	}
}

func TestDecodeErrorKeepsConn(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		p.WriteText(`[1,2]`)
		p.WriteText(`{"type":"pong","id":6}`)
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	ctx := testCtx(t)
	if _, err := c.Next(ctx); err == nil {
		t.Fatalf("Next decoded a JSON array")
	}
	if m, err := c.Next(ctx); err != nil || m.ID != 6 {
		t.Fatalf("Next = %+v, %v; want pong 6", m, err)
	}
}

func TestLocalClose(t *testing.T) {
	closed := make(chan int, 1)
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		_, err := p.ReadText()
		var ce *wstest.CloseFrameError
		if errors.As(err, &ce) {
			closed <- ce.Code
		} else {
			closed <- -1
		}
	})
	c := dialT(t, s, Options{})
	blocked := make(chan error, 1)
	go func() {
		_, err := c.Next(context.Background())
		blocked <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-blocked; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Next = %v, want ErrClosed", err)
	}
	if code := <-closed; code != 1000 {
		t.Errorf("close code %d, want 1000", code)
	}
	if err := c.SendRaw([]byte("{}")); !errors.Is(err, ErrClosed) {
		t.Errorf("SendRaw after Close = %v, want ErrClosed", err)
	}
	select {
	case <-c.Done():
	default:
		t.Errorf("Done not closed after Close")
	}
}

func TestIdleTimeout(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		p.WaitClosed()
	})
	c := dialT(t, s, Options{IdleTimeout: 150 * time.Millisecond})
	_, err := c.Next(testCtx(t))
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrClosed) {
		t.Fatalf("Next = %v, want a read timeout", err)
	}
}

func TestConcurrentSendAndNext(t *testing.T) {
	const senders, each = 4, 50
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.Welcome()
		seen := make(map[string]bool)
		for range senders * each {
			b, err := p.ReadText()
			if err != nil {
				t.Errorf("read: %v", err)
				return
			}
			seen[string(b)] = true
			if len(seen)%20 == 0 {
				p.WritePing([]byte("x"))
			}
		}
		p.WriteText(fmt.Sprintf(`{"type":"pong","id":%d}`, len(seen)))
		p.WaitClosed()
	})
	c := dialT(t, s, Options{})
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				if err := c.Ping(int64(g*1000 + i)); err != nil {
					t.Errorf("Ping: %v", err)
					return
				}
			}
		})
	}
	m, err := c.Next(testCtx(t))
	wg.Wait()
	if err != nil || m.ID != senders*each {
		t.Fatalf("Next = %+v, %v; want the server to count %d distinct commands", m, err, senders*each)
	}
}
