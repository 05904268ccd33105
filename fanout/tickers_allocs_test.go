package fanout

import (
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/fanout/wsconn"
	"github.com/marketfeed/marketfeed/schemas"
)

// A flush of the tickers board allocates for its own bookkeeping and for
// each distinct frame (one per encoding and set of symbols), never per
// subscriber: 200 subscribers, half of them binary, all with the same
// symbols, cost a few dozen allocations per flush, not hundreds.
func TestTickersFlushAllocatesNothingPerSubscriber(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("starts subscriber processes; counts allocations, which the race detector adds to (.ci/run runs it without)")
	}
	hub, err := NewHub(Config{Transport: wsconn.Config{PingInterval: time.Hour, IdleTimeout: 2 * time.Hour}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(hub)
	defer srv.Close()
	owner := newLoopOwner()
	defer close(owner.quit)
	group := benchSymbols(hub, owner, 20)
	const n = 100 // per encoding
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	const sub = `{"op":"subscribe","channel":"tickers","interval":"100ms"}`
	js := startSink(t, url, n, sub)
	defer js.stop()
	bin := startSink(t, url, n, sub, schemas.SubprotocolBinary)
	defer bin.stop()
	for deadline := time.Now().Add(60 * time.Second); hub.board.active.Load() != 2*n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d subscribed", hub.board.active.Load(), 2*n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	hub.boardStop() // the test flushes
	owner.run(group.Tick)
	hub.mu.RLock()
	conns := make([]*Conn, 0, 2*n)
	for c := range hub.conns {
		conns = append(conns, c)
	}
	hub.mu.RUnlock()
	drain := func() {
		for _, c := range conns {
			for c.ws.Queued() != 0 {
				runtime.Gosched()
			}
		}
	}
	// The first flushes cache the sessions' answers and publish the
	// binary tickers.
	for range 3 {
		hub.flushTickers(schemas.Every100ms)
		drain()
	}
	allocs := testing.AllocsPerRun(20, func() {
		hub.flushTickers(schemas.Every100ms)
		drain()
	})
	if allocs >= n/2 {
		t.Errorf("a tickers flush to %d subscribers allocates %.0f times: something is allocated per subscriber", 2*n, allocs)
	}
	t.Logf("%.0f allocations per flush to %d subscribers", allocs, 2*n)
}
