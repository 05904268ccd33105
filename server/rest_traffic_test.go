package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/schemas"
)

// restPoller reads the REST book of one symbol over and over while the
// market moves, keeping the view of every answer by its seq, in the form
// of a digestWatcher's views so that checkViews holds them to the replay.
type restPoller struct {
	url   string
	views map[uint64][32]byte
	reads int
	err   error
}

// run reads until stop, as fast as the default rate limit allows (20 a
// second after a burst of 20): a client that keeps to it is never refused.
func (p *restPoller) run(stop <-chan struct{}) {
	p.views = map[uint64][32]byte{}
	tick := time.NewTicker(60 * time.Millisecond)
	defer tick.Stop()
	for {
		if p.err = p.read(); p.err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}

func (p *restPoller) read() error {
	resp, err := http.Get(p.url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d, %v: %s", resp.StatusCode, err, body)
	}
	var m schemas.ServerMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	if m.Checksum == nil || *m.Checksum != schemas.BookChecksum(m.Bids, m.Asks) {
		return fmt.Errorf("checksum %v does not match the levels: %s", m.Checksum, body)
	}
	p.views[m.Seq] = viewDigest(m.Bids, m.Asks)
	p.reads++
	return nil
}

// TestRESTBookUnderTraffic reads the REST book while the exchange streams
// deltas: every answer, at whatever seq it was read, is exactly the top of
// an independent replay at that seq (the read runs on the symbol's owner,
// between two events), as is every view of a raw WebSocket subscriber of
// the same depth.
func TestRESTBookUnderTraffic(t *testing.T) {
	e := startEnv(t, 1)
	rc := bootRecording(t, e, sim.Config{Symbols: 1, Levels: 80, Seed: 13})
	ex, sym, now, keep := rc.ex, rc.sym, rc.now, rc.keep

	var final struct {
		sync.Mutex
		seq uint64
	}
	finalSeq := func() uint64 { final.Lock(); defer final.Unlock(); return final.seq }
	ws := &digestWatcher{channel: "book." + sym, depth: 20, interval: "raw"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ready, wg sync.WaitGroup
	ready.Add(1)
	wg.Add(2)
	go func() { defer wg.Done(); ws.run(ctx, e.url, finalSeq, &ready) }()
	ready.Wait()
	poller := &restPoller{url: "http://" + e.srv.Addr() + "/v1/book/" + sym + "?depth=20"}
	stop := make(chan struct{})
	go func() { defer wg.Done(); poller.run(stop) }()

	var batch []sim.Message
	for i := range 400 {
		now = now.Add(time.Millisecond)
		batch = ex.Next(now, batch)
		if len(batch) >= 10 || i == 399 {
			keep(batch)
			e.produce(t, batch)
			batch = batch[:0]
			time.Sleep(20 * time.Millisecond) // let the reads fall between batches
		}
	}
	rep := rc.replay(t)
	last := touchDelta(rep, sym, now)
	keep(last)
	e.produce(t, last)
	rep.apply(t, last[0].Value)
	final.Lock()
	final.seq = rep.seq[sym]
	final.Unlock()
	close(stop)
	wg.Wait()
	if ws.err != nil || poller.err != nil {
		t.Fatalf("WebSocket: %v; REST: %v", ws.err, poller.err)
	}
	if len(poller.views) < 2 {
		t.Fatalf("REST read %d distinct seqs only (%d reads)", len(poller.views), poller.reads)
	}
	restViews := &digestWatcher{channel: "book." + sym, depth: 20, interval: "rest", views: poller.views}
	n := len(poller.views)
	checked := checkViews(t, rc.records, []*digestWatcher{ws, restViews})
	t.Logf("%d REST reads at %d seqs; %d views checked against the replay", poller.reads, n, checked)
}
