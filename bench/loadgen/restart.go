package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/bench/internal/procstat"
	"github.com/marketfeed/marketfeed/schemas"
)

// The -restart run: the clients follow their books for -warmup, then the
// server shuts down (its clients get the shutdown notice and the close)
// and a new server starts on the same address, on the same topic, while
// the broker and the exchange go on. Once the new server is ready (it has
// replayed the topic: its books and their histories are rebuilt), the
// clients reconnect all at once and subscribe again, with -resume from
// their positions (the epoch and seq of each book), without it as new
// subscribers. The run reports how many subscriptions resumed and how
// many got a snapshot, the time until every client had all its books
// back, and the new server's CPU time for that burst.

// reconnects is what the fleet's clients share in a -restart run.
type reconnects struct {
	resume bool
	gate   chan struct{} // closed when the clients may reconnect
	// Counters of the reconnection.
	back     atomic.Int64 // clients with every book back
	resumed  atomic.Int64 // subscriptions answered "resumed":true
	refused  atomic.Int64 // subscriptions answered "resumed":false
	redialed atomic.Int64
	failed   atomic.Int64 // clients that could not reconnect
}

var (
	kSubscribed = []byte(`{"type":"subscribed"`)
	kResumedT   = []byte(`"resumed":true`)
	kResumedF   = []byte(`"resumed":false`)
	kEpoch      = []byte(`"epoch":`)
)

// subscribeMessage is the client's subscribe command; with resume, it
// gives the position of every book subscription that has one.
func (c *client) subscribeMessage(resume bool) []byte {
	q := fmt.Appendf(nil, `{"op":"subscribe","id":1,"channels":[`)
	for i, ch := range c.channels {
		if i > 0 {
			q = append(q, ',')
		}
		q = strconv.AppendQuote(q, ch)
	}
	q = fmt.Appendf(q, `],"depth":%d,"interval":%q`, c.depth, c.interval)
	if resume {
		q = append(q, `,"resume":{`...)
		n := 0
		for _, s := range c.subs {
			if s.seq == 0 {
				continue
			}
			if n > 0 {
				q = append(q, ',')
			}
			q = fmt.Appendf(q, `%q:{"epoch":%d,"seq":%d}`, s.channel, s.epoch, s.seq)
			n++
		}
		q = append(q, '}')
	}
	return append(q, '}')
}

// subscribed counts the reply of one subscription after a reconnection.
func (c *client) subscribed(p []byte) {
	s := c.find(p)
	if s == nil || c.again == nil || s.back {
		return
	}
	switch {
	case bytes.Contains(p, kResumedT):
		c.again.resumed.Add(1)
		c.isBack(s)
	case bytes.Contains(p, kResumedF):
		c.again.refused.Add(1)
	}
}

// isBack marks s as back after a reconnection (resumed, or its snapshot
// arrived), and the client when all its books are.
func (c *client) isBack(s *sub) {
	if s.back {
		return
	}
	s.back = true
	c.pending--
	if c.pending == 0 {
		c.again.back.Add(1)
	}
}

// redial waits for the gate and connects again, then subscribes; it
// reports false when the client gives up.
func (c *client) redial(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return false
	case <-c.again.gate:
	}
	for attempt := 0; attempt < 20; attempt++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		nc, br, err := c.connect(dctx)
		cancel()
		if err == nil {
			c.nc, c.br = nc, br
			for i := range c.subs {
				c.subs[i].back = false
			}
			c.pending = len(c.subs)
			if err := c.write(c.subscribeMessage(c.again.resume)); err == nil {
				c.again.redialed.Add(1)
				return true
			}
			nc.Close()
		}
		if ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.again.failed.Add(1)
	return false
}

// restartRun runs the -restart measurement on a fleet that is connected.
func restartRun(ctx context.Context, o options, srv *serverHandle, f *fleet) error {
	fmt.Printf("--- following the books for %v\n", o.warmup)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(o.warmup):
	}
	snaps0, gaps0 := f.t.resnaps.Load(), f.t.gaps.Load()
	srv.stop()
	fmt.Println("--- server stopped; starting a new one on", srv.addr)
	so := o.serverOptions
	so.listen = srv.addr
	started := time.Now()
	srv2, err := startChild(so)
	if err != nil {
		return err
	}
	defer srv2.stop()
	if err := waitReady(ctx, srv2.addr); err != nil {
		return err
	}
	replayCPU, _ := procstat.CPUSeconds(srv2.pid)
	fmt.Printf("--- new server ready in %v (replay CPU %.2fs); %d clients reconnect\n",
		time.Since(started).Round(time.Millisecond), replayCPU, f.healthy)
	cpu0 := replayCPU
	bytes0 := f.t.bytes.Load()
	t0 := time.Now()
	if srv2.profile != nil {
		srv2.profile() // start: the burst
	}
	close(f.again.gate)
	for f.again.back.Load()+f.again.failed.Load() < int64(f.healthy) {
		if ctx.Err() != nil || time.Since(t0) > 120*time.Second {
			return fmt.Errorf("%d of %d clients back", f.again.back.Load(), f.healthy)
		}
		time.Sleep(10 * time.Millisecond)
	}
	el := time.Since(t0)
	cpu1, _ := procstat.CPUSeconds(srv2.pid)
	if srv2.profile != nil {
		srv2.profile() // stop
	}
	// The same window in every run, from the gate: the burst and the
	// live traffic that follows, which is the same with or without resume.
	time.Sleep(time.Until(t0.Add(restartWindow)))
	cpuW, _ := procstat.CPUSeconds(srv2.pid)
	bytesW := f.t.bytes.Load() - bytes0
	subs := int64(f.healthy) * int64(o.subs)
	fmt.Printf("\nrestart summary (-resume=%v): %d clients x %d book subs, %s, depth %d, %.0f events/s\n",
		o.resume, f.healthy, o.subs, o.interval, o.depth, o.rate)
	fmt.Printf("  reconnected    %d clients, %d failed; all books back in %v\n", f.again.redialed.Load(), f.again.failed.Load(), el.Round(time.Millisecond))
	fmt.Printf("  subscriptions  %d: resumed %d, refused %d, snapshots %d\n", subs, f.again.resumed.Load(), f.again.refused.Load(), f.t.resnaps.Load()-snaps0)
	fmt.Printf("  gaps           %d\n", f.t.gaps.Load()-gaps0)
	fmt.Printf("  server says    resumed %.0f", serverMetric(srv2.addr, `marketfeed_ws_resumes_total{kind="book",result="resumed"}`))
	for _, reason := range schemas.ResumeReasons {
		fmt.Printf(", %s %.0f", reason, serverMetric(srv2.addr, `marketfeed_ws_resumes_total{kind="book",result="`+reason+`"}`))
	}
	fmt.Printf("; lag conflations %.0f\n", serverMetric(srv2.addr, "marketfeed_ws_lag_snapshots_total"))
	fmt.Printf("  server CPU     %.2fs until all back (%.2f ms per client); %.2fs over the %v from the reconnection\n",
		cpu1-cpu0, (cpu1-cpu0)*1000/float64(f.healthy), cpuW-cpu0, restartWindow)
	fmt.Printf("  received       %.1f MiB over the %v from the reconnection\n", float64(bytesW)/(1<<20), restartWindow)
	if f.again.failed.Load() > 0 {
		return errors.New("some clients could not reconnect")
	}
	return nil
}

// restartWindow is the fixed window, from the reconnection, over which a
// -restart run also measures the server's CPU and the bytes received.
const restartWindow = 5 * time.Second

// waitReady waits, 60s at most, until the server at addr answers /readyz
// with 200: it has caught up with the topic.
func waitReady(ctx context.Context, addr string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server at %s not ready", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
