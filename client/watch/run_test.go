package watch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/syncbuf"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/client/internal/wstest"
)

type syncBuffer = syncbuf.Buffer

// lastFrame returns the last complete screen written by the live view.
func lastFrame(out string) string {
	if i := strings.LastIndex(out, escHome); i >= 0 {
		return out[i:]
	}
	return ""
}

// runAsync starts Run. stop cancels it and returns its error; done is
// closed when Run has returned, after which result returns its error.
func runAsync(t *testing.T, cfg Config, out *syncBuffer) (stop, result func() error, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	var err error
	go func() {
		err = Run(ctx, cfg, out)
		close(finished)
	}()
	result = func() error {
		<-finished
		return err
	}
	stop = func() error {
		cancel()
		select {
		case <-finished:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("Run did not return after cancel")
		}
	}
	t.Cleanup(func() { stop() })
	return stop, result, finished
}

func waitFor(t *testing.T, out *syncBuffer, what string, cond func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; output:\n%s", what, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func expectSubscribe(t *testing.T, p *wstest.Peer, channel string, depth float64, interval string) float64 {
	t.Helper()
	cmd, err := p.ReadCommand()
	if err != nil {
		t.Errorf("reading subscribe: %v", err)
		return 0
	}
	if cmd["op"] != "subscribe" || cmd["channel"] != channel {
		t.Errorf("command %v, want subscribe to %s", cmd, channel)
	}
	if d, _ := cmd["depth"].(float64); d != depth {
		t.Errorf("depth %v, want %v", cmd["depth"], depth)
	}
	if iv, _ := cmd["interval"].(string); iv != interval {
		t.Errorf("interval %q, want %q", iv, interval)
	}
	id, _ := cmd["id"].(float64)
	return id
}

const welcome = `{"type":"welcome","protocol":1,"server":"marketfeed","ping_interval_ms":20000,"ts":1767225600000000}`

func TestRunRawPrintsEachMessage(t *testing.T) {
	msgs := []string{
		`{"type":"subscribed","id":1,"channel":"book.BTC-USD","depth":10,"interval":"raw"}`,
		`{"type":"snapshot","channel":"book.BTC-USD","seq":7,"ts":1,"bids":[["100.10","1.00"]],"asks":[["100.20","2.00"]]}`,
		`{"type":"update",  "channel":"book.BTC-USD", "first_seq":8,"seq":8,"ts":2,"bids":[["100.10","0.00"]]}`,
		`{"type":"update","channel":"book.BTC-USD","first_seq":10,"seq":10,"ts":3,"asks":[["100.30","1.50"]],"future_field":{"a":[1,2]}}`,
	}
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "book.BTC-USD", 10, "")
		for _, m := range msgs {
			p.WriteText(m)
		}
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "book.BTC-USD", Raw: true}, out)
	want := welcome + "\n" + strings.Join(msgs, "\n") + "\n"
	waitFor(t, out, "all messages", func(s string) bool { return len(s) >= len(want) })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if got := out.String(); got != want {
		t.Errorf("raw output\n got %q\nwant %q", got, want)
	}
}

func TestRunLiveBook(t *testing.T) {
	resynced := make(chan struct{})
	firstShown := make(chan struct{})
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "book.BTC-USD", 5, "100ms")
		p.WriteText(`{"type":"subscribed","id":1,"channel":"book.BTC-USD","depth":5,"interval":"100ms"}`)
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":41,"ts":1,"bids":[["64123.10","0.50000000"],["64123.00","1.25000000"]],"asks":[["64123.20","0.30000000"],["64123.30","2.00000000"]]}`)
		p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":42,"seq":42,"ts":2,"bids":[["64123.05","3.00000000"]]}`)
		<-firstShown
		// A gap: the viewer must ask for a fresh snapshot.
		p.WriteText(`{"type":"update","channel":"book.BTC-USD","first_seq":50,"seq":50,"ts":3,"asks":[["64123.20","0.00000000"]]}`)
		cmd, err := p.ReadCommand()
		if err != nil || cmd["op"] != "resync" || cmd["channel"] != "book.BTC-USD" {
			t.Errorf("after gap: %v, %v; want resync", cmd, err)
		}
		close(resynced)
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":60,"ts":4,"bids":[["64122.90","7.00000000"]],"asks":[["64123.40","1.00000000"]]}`)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "book.BTC-USD", Depth: 5}, out)
	waitFor(t, out, "the first book", func(s string) bool {
		f := lastFrame(s)
		return strings.Contains(f, "seq 42") && strings.Contains(f, "in sync")
	})
	first := lastFrame(out.String())
	bestAsk, bestBid := strings.Index(first, "64123.20"), strings.Index(first, "64123.10")
	if bestAsk < 0 || bestBid < bestAsk || !strings.Contains(first, "64123.05") {
		t.Errorf("first book's best ask above best bid not shown:\n%s", first)
	}
	close(firstShown)
	select {
	case <-resynced:
	case <-time.After(5 * time.Second):
		t.Fatalf("no resync after the gap; output:\n%s", out.String())
	}
	waitFor(t, out, "the fresh snapshot", func(s string) bool {
		f := lastFrame(s)
		return strings.Contains(f, "seq 60") && strings.Contains(f, "in sync")
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	all := out.String()
	frame := lastFrame(all)
	ask, spread, bid := strings.Index(frame, "64123.40"), strings.Index(frame, "spread 0.50"), strings.Index(frame, "64122.90")
	if ask < 0 || spread < ask || bid < spread {
		t.Errorf("final frame lacks ask / spread / bid in that order:\n%s", frame)
	}
	if strings.Contains(frame, "64123.10") {
		t.Errorf("final frame still shows a level of the old book:\n%s", frame)
	}
	if strings.Contains(all, escGreen) {
		t.Errorf("colors written with Color false")
	}
	if !strings.HasSuffix(all, escShowCursor) {
		t.Errorf("cursor not restored at exit")
	}
}

func TestRunLiveRedrawRate(t *testing.T) {
	const updates = 300
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "trades.BTC-USD", 0, "raw")
		p.WriteText(`{"type":"subscribed","id":1,"channel":"trades.BTC-USD","interval":"raw"}`)
		for i := range updates {
			side, price := "buy", "100.00"
			if i%2 == 1 {
				side = "sell"
			}
			if i == updates-1 {
				price = "123.45"
			}
			p.WriteJSON(map[string]any{"type": "trades", "channel": "trades.BTC-USD", "trades": []map[string]any{
				{"id": fmt.Sprint(i), "ts": 1767225600000000 + i, "price": price, "size": "0.50", "side": side},
			}})
		}
		p.WaitClosed()
	})
	out := &syncBuffer{}
	start := time.Now()
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "trades.BTC-USD", Interval: "raw"}, out)
	waitFor(t, out, "the last trade", func(s string) bool { return strings.Contains(lastFrame(s), "123.45") })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	elapsed := time.Since(start)
	frames := strings.Count(out.String(), escHome)
	// The "connecting" notice and the first frame of the connection are
	// drawn at once; after that at most one frame per frameInterval.
	if limit := 2 + int(elapsed/frameInterval) + 1; frames > limit {
		t.Errorf("%d frames for %d messages in %v, want at most %d", frames, updates, elapsed, limit)
	}
}

func TestRunLiveTicker(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "ticker.ETH-USD", 0, "1s")
		p.WriteText(`{"type":"subscribed","id":1,"channel":"ticker.ETH-USD","interval":"1s"}`)
		p.WriteText(`{"type":"ticker","channel":"ticker.ETH-USD","ts":1767225600000000,"bid":"3000.10","ask":"3000.20","last":"3000.15","change":"-15.00","change_pct":"-0.50","high":"3100.00","low":"2990.00","volume":"12.5000","vwap":"3040.12","count":9}`)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "ticker.ETH-USD", Interval: "1s", Color: true}, out)
	waitFor(t, out, "the ticker", func(s string) bool { return strings.Contains(lastFrame(s), "3000.15") })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	frame := lastFrame(out.String())
	for _, want := range []string{"-15.00", "-0.50%", "3040.12", escRed + padLeft("-15.00", len("2990.00"))} {
		if !strings.Contains(frame, want) {
			t.Errorf("ticker frame lacks %q:\n%q", want, frame)
		}
	}
}

func TestRunLiveBBO(t *testing.T) {
	stale := make(chan struct{})
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "bbo.ETH-USD", 0, "raw")
		p.WriteText(`{"type":"subscribed","id":1,"channel":"bbo.ETH-USD","interval":"raw"}`)
		p.WriteText(`{"type":"bbo","channel":"bbo.ETH-USD","seq":41,"epoch":0,"ts":1767225600000000,"bid":"3000.10","bid_size":"1.5000","ask":"3000.20","ask_size":"0.2500"}`)
		<-stale
		p.WriteText(`{"type":"status","channel":"bbo.ETH-USD","status":"stale","reason":"gap"}`)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "bbo.ETH-USD", Raw: false, Interval: "raw"}, out)
	waitFor(t, out, "the bbo", func(s string) bool { return strings.Contains(lastFrame(s), "3000.20") })
	frame := lastFrame(out.String())
	for _, want := range []string{"3000.10", "× 1.5000", "× 0.2500", "0.10", "3000.15", "41", "2026-01-01 00:00:00.000 UTC"} {
		if !strings.Contains(frame, want) {
			t.Errorf("bbo frame lacks %q:\n%s", want, frame)
		}
	}
	close(stale)
	waitFor(t, out, "the status", func(s string) bool { return strings.Contains(lastFrame(s), "stale (gap)") })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestRunReconnects(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		expectSubscribe(t, p, "book.BTC-USD", 10, "100ms")
		p.WriteText(`{"type":"subscribed","id":1,"channel":"book.BTC-USD","depth":10,"interval":"100ms"}`)
		if p.N == 1 {
			p.WriteClose(4001, "slow consumer")
			p.WaitClosed()
			return
		}
		p.WriteText(`{"type":"snapshot","channel":"book.BTC-USD","seq":9,"ts":1,"bids":[["10.5","1"]],"asks":[["11.5","2"]]}`)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "book.BTC-USD", RetryMin: 20 * time.Millisecond}, out)
	waitFor(t, out, "the book after reconnecting", func(s string) bool {
		f := lastFrame(s)
		return strings.Contains(f, "10.5") && strings.Contains(f, "11.5")
	})
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if all := out.String(); !strings.Contains(all, "disconnected") || !strings.Contains(all, "4001") || !strings.Contains(all, "retrying in") {
		t.Errorf("disconnection not shown:\n%s", all)
	}
	if s.Accepted() != 2 {
		t.Errorf("%d connections, want 2", s.Accepted())
	}
}

func TestRunRawReportsRetriesOnLog(t *testing.T) {
	s := wstest.NewServer(t, func(p *wstest.Peer) {
		p.WriteText(welcome)
		if p.N > 1 {
			// The test ends on this welcome: the viewer may be stopped
			// before it subscribes.
			p.WaitClosed()
			return
		}
		expectSubscribe(t, p, "trades.BTC-USD", 0, "")
		p.WriteClose(1001, "going away")
		p.WaitClosed()
	})
	out, log := &syncBuffer{}, &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "trades.BTC-USD", Raw: true, RetryMin: 10 * time.Millisecond, Log: log}, out)
	waitFor(t, out, "a second welcome", func(s string) bool { return strings.Count(s, welcome+"\n") >= 2 })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	if !strings.Contains(log.String(), "1001") {
		t.Errorf("log %q lacks the close code", log.String())
	}
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if line != welcome {
			t.Errorf("raw output has a non-message line %q", line)
		}
	}
}

func TestRunFatalErrors(t *testing.T) {
	t.Run("subscription refused", func(t *testing.T) {
		s := wstest.NewServer(t, func(p *wstest.Peer) {
			p.WriteText(welcome)
			id := expectSubscribe(t, p, "book.NOPE", 10, "100ms")
			p.WriteJSON(map[string]any{"type": "error", "id": id, "code": "unknown_symbol", "message": "no such symbol", "channel": "book.NOPE"})
			p.WaitClosed()
		})
		_, result, done := runAsync(t, Config{URL: s.URL, Channel: "book.NOPE"}, &syncBuffer{})
		var se *client.ServerError
		select {
		case <-done:
			if err := result(); !errors.As(err, &se) || se.Code != "unknown_symbol" {
				t.Errorf("Run = %v, want unknown_symbol", result())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Run did not stop")
		}
	})
	t.Run("upgrade refused", func(t *testing.T) {
		s := wstest.NewServerReject(t, func(http.Header) int { return http.StatusForbidden }, func(p *wstest.Peer) {})
		_, result, done := runAsync(t, Config{URL: s.URL, Channel: "ticker.BTC-USD", Raw: true}, &syncBuffer{})
		select {
		case <-done:
			if err := result(); err == nil || !strings.Contains(err.Error(), "403") {
				t.Errorf("Run = %v, want a 403 error", result())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Run did not stop")
		}
	})
	t.Run("bad channel", func(t *testing.T) {
		for _, ch := range []string{"", "book", "book.", "klines.BTC-USD"} {
			if err := Run(context.Background(), Config{Channel: ch}, &syncBuffer{}); !errors.Is(err, ErrChannel) {
				t.Errorf("Run(channel %q) = %v, want ErrChannel", ch, err)
			}
		}
	})
}

func TestRunSendsAPIKey(t *testing.T) {
	s := wstest.NewServerReject(t, func(h http.Header) int {
		if h.Get("X-API-Key") != "secret" {
			return http.StatusUnauthorized
		}
		return 0
	}, func(p *wstest.Peer) {
		p.WriteText(welcome)
		p.WaitClosed()
	})
	out := &syncBuffer{}
	stop, _, _ := runAsync(t, Config{URL: s.URL, Channel: "ticker.BTC-USD", Raw: true, APIKey: "secret"}, out)
	waitFor(t, out, "the welcome", func(s string) bool { return strings.Contains(s, welcome) })
	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}
