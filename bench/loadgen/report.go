package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/marketfeed/marketfeed/bench/internal/procstat"
)

// sample is the state of the counters at one moment.
type sample struct {
	at                time.Time
	updates, other    uint64
	trades            uint64
	gaps, evicted     uint64
	closed, cut       uint64
	cpu, self         float64 // CPU seconds of the server and of this process
	slow              float64 // server: slow-consumer disconnects
	conflations       float64 // server: skip-aheads of lagging connections
	writes, frames    float64 // server: socket writes and the frames they carried
	lat               counts
	serverConnections float64
}

type reporter struct {
	t      *totals
	srv    *serverHandle
	slow   *totals // slow clients, nil without -slow
	nslow  int
	outage func() func() // starts a broker outage and returns its end; nil without -outage
}

func newReporter(t *totals, srv *serverHandle) *reporter { return &reporter{t: t, srv: srv} }

func (r *reporter) sample() sample {
	s := sample{
		at:      time.Now(),
		updates: r.t.updates.Load(),
		trades:  r.t.trades.Load(),
		other:   r.t.snapshots.Load() + r.t.other.Load(),
		gaps:    r.t.gaps.Load(),
		evicted: r.t.evicted.Load(),
		closed:  r.t.closed.Load(),
		cut:     r.t.cut.Load(),
	}
	s.cpu, _ = procstat.CPUSeconds(r.srv.pid)
	s.self, _ = procstat.CPUSeconds(os.Getpid())
	s.slow = serverMetric(r.srv.addr, `marketfeed_ws_disconnects_total{reason="slow_consumer"}`)
	s.conflations = serverMetric(r.srv.addr, "marketfeed_ws_lag_snapshots_total ")
	s.writes = serverMetric(r.srv.addr, "marketfeed_ws_queue_depth_frames_count ")
	s.frames = serverMetric(r.srv.addr, "marketfeed_ws_queue_depth_frames_sum ")
	for i := range r.t.hists {
		s.lat.add(&r.t.hists[i])
	}
	return s
}

func ms(us int64) string { return fmt.Sprintf("%.2fms", float64(us)/1000) }

// measure waits out the warmup, then prints a line every second and a
// summary of the measured window.
func (r *reporter) measure(ctx context.Context, o options) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	begin := time.Now()
	prev := r.sample()
	var first sample
	measuring := false
	var endOutage func()
	var outageAt time.Time
	fmt.Println("    t  deliveries/s   gaps evicted(client/server)  p50      p99      p99.9    max      srvCPU  µs/delivery  RSS")
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		cur := r.sample()
		if !measuring && time.Since(begin) >= o.warmup {
			measuring, first = true, cur
			if r.srv.profile != nil {
				r.srv.profile() // start
			}
		}
		r.line(time.Since(begin), prev, cur)
		prev = cur
		if measuring && r.outage != nil {
			switch {
			case outageAt.IsZero() && cur.at.Sub(first.at) >= o.outageAt:
				outageAt = time.Now()
				endOutage = r.outage()
				fmt.Printf("--- broker outage: every fetch refused for %v\n", o.outage)
			case endOutage != nil && time.Since(outageAt) >= o.outage:
				endOutage()
				endOutage = nil
				fmt.Println("--- broker back")
			}
		}
		if measuring && cur.at.Sub(first.at) >= o.duration {
			if r.srv.profile != nil {
				r.srv.profile() // stop
			}
			r.summary(o, first, cur)
			if r.srv.profile != nil {
				fmt.Printf("  cpu profile    %s (server, measurement window)\n", o.cpuprofile)
			}
			return nil
		}
	}
}

func (r *reporter) line(el time.Duration, a, b sample) {
	dt := b.at.Sub(a.at).Seconds()
	d := b.lat.sub(&a.lat)
	deliv := float64(b.updates-a.updates+b.other-a.other) / dt
	cpu := b.cpu - a.cpu
	per := 0.0
	if n := b.updates - a.updates + b.other - a.other; n > 0 {
		per = cpu / float64(n) * 1e6
	}
	rss, _ := procstat.RSSBytes(r.srv.pid)
	fmt.Printf("%5.0fs %12.0f %6d %7d/%-7.0f           %-8s %-8s %-8s %-8s %5.0f%%  %8.2f     %.0f MiB\n",
		el.Seconds(), deliv, b.gaps, b.evicted, b.slow, ms(d.quantile(0.5)), ms(d.quantile(0.99)),
		ms(d.quantile(0.999)), ms(d.max()), cpu/dt*100, per, float64(rss)/(1<<20))
}

func (r *reporter) summary(o options, a, b sample) {
	dt := b.at.Sub(a.at).Seconds()
	d := b.lat.sub(&a.lat)
	n := b.updates - a.updates + b.other - a.other
	cpu := b.cpu - a.cpu
	rss, _ := procstat.RSSBytes(r.srv.pid)
	conns := r.t.connected.Load()
	enc := o.protocol
	if o.deflate {
		enc += "+deflate"
	}
	fmt.Printf("\nsummary: %d clients x %d subs over %d symbols, %s, depth %d, %s, %.0f events/s, %.1fs measured\n",
		o.clients, o.subs, o.symbols, o.interval, o.depth, enc, o.rate, dt)
	fmt.Printf("  deliveries/s   %.0f  (book updates %.0f/s)\n", float64(n)/dt, float64(b.updates-a.updates)/dt)
	fmt.Printf("  bytes/s        %.1f MiB/s\n", float64(r.t.bytes.Load())/(1<<20)/time.Since(a.at).Seconds())
	fmt.Printf("  latency        p50 %s  p99 %s  p99.9 %s  max %s  (%d updates)\n",
		ms(d.quantile(0.5)), ms(d.quantile(0.99)), ms(d.quantile(0.999)), ms(d.max()), d.total())
	fmt.Printf("  gaps           %d (whole run)\n", b.gaps)
	fmt.Printf("  evictions      %d seen by clients, %.0f counted by the server (whole run); other closes %d, cut without a close frame %d\n", b.evicted, b.slow, b.closed, b.cut)
	fmt.Printf("  conflations    %.0f skip-aheads counted by the server (whole run); %d fresh snapshots seen by these clients\n", b.conflations, r.t.resnaps.Load())
	if b.trades > 0 {
		fmt.Printf("  trades msgs    %.0f/s\n", float64(b.trades-a.trades)/dt)
	}
	if st := r.slow; st != nil {
		var l counts
		for i := range st.hists {
			l.add(&st.hists[i])
		}
		fmt.Printf("  slow clients   %d reading at 1/%.0f of their rate: %d updates, %d fresh snapshots (conflations), %d trades msgs, %d gaps; evicted with 4001 %d, other close frames %d, cut without a close frame %d; update latency p50 %s p99 %s\n",
			r.nslow, o.slowFactor, st.updates.Load(), st.resnaps.Load(), st.trades.Load(), st.gaps.Load(), st.evicted.Load(), st.closed.Load(), st.cut.Load(),
			ms(l.quantile(0.5)), ms(l.quantile(0.99)))
	}
	per := 0.0
	if n > 0 {
		per = cpu / float64(n) * 1e6
	}
	fmt.Printf("  server CPU     %.2f s in %.1f s (%.0f%% of one core): %.2f µs per delivery\n", cpu, dt, cpu/dt*100, per)
	if w := b.writes - a.writes; w > 0 {
		fmt.Printf("  server writes  %.0f/s, %.2f frames per write, %.2f µs CPU per write\n", w/dt, (b.frames-a.frames)/w, cpu/w*1e6)
	}
	if r.srv.pid != os.Getpid() {
		fmt.Printf("  loadgen CPU    %.2f s (%.0f%% of one core; broker, exchange and clients)\n", b.self-a.self, (b.self-a.self)/dt*100)
	}
	fmt.Printf("  server RSS     %.1f MiB, %.1f KiB per connected client (%d)\n", float64(rss)/(1<<20), float64(rss)/1024/float64(max(conns, 1)), conns)
}
