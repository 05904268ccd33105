package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/internal/broker"
)

// tradesRecorder is the handler of a Stream on one trades channel: the
// trade ids in the order received, and the resume outcome of every
// subscribed event.
type tradesRecorder struct {
	mu      sync.Mutex
	ids     []string
	resumed []string // "new" (no position), "true", "false:<reason>"
}

func (r *tradesRecorder) handle(ev *client.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case client.EventTrades:
		for _, tr := range ev.Msg.Trades {
			r.ids = append(r.ids, tr.ID)
		}
	case client.EventSubscribed:
		switch m := ev.Msg; {
		case m.Resumed == nil:
			r.resumed = append(r.resumed, "new")
		case *m.Resumed:
			r.resumed = append(r.resumed, "true")
		default:
			r.resumed = append(r.resumed, "false:"+m.ResumeReason)
		}
	}
	return nil
}

func (r *tradesRecorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids) > 0 && r.ids[len(r.ids)-1] == id
}

// runTradeStreams runs a Stream on trades.BTC-USD at each interval
// through url until the test ends, and returns their recorders and a
// wait for a condition on all of them.
func runTradeStreams(t *testing.T, url string, intervals []string) ([]*tradesRecorder, func(string, func(*tradesRecorder) bool)) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	recs := make([]*tradesRecorder, len(intervals))
	for i, iv := range intervals {
		recs[i] = &tradesRecorder{}
		s, err := client.NewStream(client.StreamConfig{URL: url, RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
			Subscriptions: []client.Subscription{{Channel: "trades.BTC-USD", Interval: iv}}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Run(ctx, recs[i].handle); err != nil {
				t.Errorf("%s: Run = %v", iv, err)
			}
		}()
	}
	waitAll := func(what string, cond func(*tradesRecorder) bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			ok := true
			for _, r := range recs {
				ok = ok && cond(r)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	return recs, waitAll
}

func (r *tradesRecorder) subscribed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.resumed)
}

// The Go client resumes its trades channels by itself on every
// reconnection: after a short cut on the same server, and on a second
// replica of the same topic once the first is gone (that replica keeps
// only 5 trades, so it reads the rest from the Kafka log). At every
// interval, the handler sees every trade once, in order.
func TestClientResumesTradesAcrossReplicas(t *testing.T) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	tape := newTradeTape(t, b, "BTC-USD", time.Now())
	tape.trades(1)
	srvA, stopA := tradesServer(t, b, 1000, 0)
	srvB, _ := tradesServer(t, b, 5, 0)
	waitTrade(t, srvA, "BTC-USD", 1)
	waitTrade(t, srvB, "BTC-USD", 1)
	proxy := newWSProxy(t, srvA.Addr())

	intervals := []string{"raw", "100ms", "1s"}
	recs, waitAll := runTradeStreams(t, proxy.url(), intervals)
	waitAll("the first subscriptions", func(r *tradesRecorder) bool { return r.subscribed() == 1 })
	tape.trades(20)
	waitAll("t21", func(r *tradesRecorder) bool { return r.has("t21") })

	// A short cut, trades written meanwhile.
	proxy.kill()
	tape.trades(10)
	waitAll("the second subscriptions", func(r *tradesRecorder) bool { return r.subscribed() == 2 })
	waitAll("t31", func(r *tradesRecorder) bool { return r.has("t31") })

	// The first replica goes away; the client comes back on the second
	// once that has applied ten more trades, of which it keeps five: the
	// client's position is in the log only.
	proxy.retarget("127.0.0.1:1") // nothing listens: reconnections fail meanwhile
	stopA()
	proxy.kill()
	tape.trades(10)
	waitTrade(t, srvB, "BTC-USD", 41)
	proxy.retarget(srvB.Addr())
	waitAll("the third subscriptions", func(r *tradesRecorder) bool { return r.subscribed() == 3 })
	tape.trades(5)
	waitAll("t46", func(r *tradesRecorder) bool { return r.has("t46") })

	for i, r := range recs {
		r.mu.Lock()
		var want []string
		for n := 2; n <= 46; n++ {
			want = append(want, fmt.Sprint("t", n))
		}
		if got := strings.Join(r.ids, ","); got != strings.Join(want, ",") {
			t.Errorf("%s: trades\n got %s\nwant t2..t46", intervals[i], got)
		}
		if got := strings.Join(r.resumed, " "); got != "new true true" {
			t.Errorf("%s: subscriptions %s, want new true true", intervals[i], got)
		}
		r.mu.Unlock()
	}
}
