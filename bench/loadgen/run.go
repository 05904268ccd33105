package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketfeed/marketfeed/bench/internal/procstat"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/producer"
	"github.com/marketfeed/marketfeed/internal/sim"
)

// run is one load run: the broker, the server, the exchange, the clients,
// then the measurement (or, with -rate 0, the idle memory report).
func run(o options) error {
	if o.subs > o.symbols {
		return errors.New("-subs must not exceed -symbols")
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
	defer cancel()

	emb, err := startBroker(&o)
	if err != nil {
		return err
	}
	if emb != nil {
		defer emb.Close()
	}
	var srv *serverHandle
	if o.serverMode == "inproc" {
		srv, err = startInProcess(o.serverOptions)
	} else {
		srv, err = startChild(o.serverOptions)
	}
	if err != nil {
		return err
	}
	defer srv.stop()

	ex := sim.New(sim.Config{Symbols: o.symbols})
	stopExchange, err := startExchange(ctx, o, ex)
	if err != nil {
		return err
	}
	defer stopExchange()
	if err := waitLive(ctx, srv, o.symbols); err != nil {
		return err
	}
	if o.rate == 0 {
		srv.collect()
	}
	rss0, _ := procstat.RSSBytes(srv.pid)
	fmt.Printf("machine: %d CPUs (%s); server pid %d at %s, RSS %.1f MiB before clients\n",
		runtime.NumCPU(), cpuModel(), srv.pid, srv.addr, float64(rss0)/(1<<20))

	f := newFleet(ctx, o, "ws://"+srv.addr+"/ws", ex.Symbols())
	defer f.close()
	if err := f.connect(ctx); err != nil {
		return err
	}
	if o.rate == 0 {
		return idleReport(ctx, o, srv, rss0, f.healthy+f.stalled)
	}
	if o.restart {
		return restartRun(ctx, o, srv, f)
	}
	r := newReporter(&f.t, srv)
	if f.slow > 0 {
		r.slow, r.nslow = &f.st, f.slow
	}
	if o.outage > 0 {
		r.outage = func() func() {
			return outage(emb)
		}
	}
	return r.measure(ctx, o)
}

// startBroker starts the embedded broker unless o names external brokers,
// and points o at it; it returns nil with external brokers.
func startBroker(o *options) (*broker.Broker, error) {
	if o.brokers != "" {
		if o.outage > 0 {
			return nil, errors.New("-outage needs the embedded broker")
		}
		return nil, nil
	}
	b, err := broker.Start(broker.Config{Topic: o.topic, Partitions: o.partitions})
	if err != nil {
		return nil, err
	}
	o.brokers = b.Addrs()[0]
	return b, nil
}

// startExchange publishes ex at o.rate until the returned function is
// called; with -rate 0 it publishes the snapshots once and returns.
func startExchange(ctx context.Context, o options, ex *sim.Exchange) (stop func(), err error) {
	w, err := producer.NewWriter(producer.Config{Brokers: strings.Split(o.brokers, ","), Topic: o.topic,
		BatchTimeout: time.Millisecond, BatchSize: 1000})
	if err != nil {
		return nil, err
	}
	pctx, stopProducer := context.WithCancel(ctx)
	var pwg sync.WaitGroup
	stop = func() {
		stopProducer()
		pwg.Wait()
		w.Close()
	}
	if o.rate > 0 {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			err := ex.Publish(pctx, w, sim.PublishConfig{Rate: o.rate, SnapshotEvery: time.Hour})
			if err != nil && pctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "loadgen: producer:", err)
			}
		}()
	} else if err := publishSnapshots(ctx, ex, w); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// waitLive waits, 30s at most, until the server serves every symbol live.
func waitLive(ctx context.Context, srv *serverHandle, symbols int) error {
	deadline := time.Now().Add(30 * time.Second)
	for liveSymbols(srv.addr) < symbols {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("server serves %d of %d symbols live", liveSymbols(srv.addr), symbols)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// fleet is the run's clients: healthy ones (totals t), slow ones (st) and
// stalled ones, which never read.
type fleet struct {
	o       options
	url     string
	symbols []string
	ctx     context.Context // the clients'; close ends it
	stop    context.CancelFunc
	t, st   totals
	// A client's book updates per second: each event changes one symbol.
	perClient float64

	mu                     sync.Mutex
	healthy, stalled, slow int
	stalledConns           []*client
	// again is shared by the clients that reconnect (-restart); nil
	// otherwise.
	again *reconnects
}

func newFleet(ctx context.Context, o options, url string, symbols []string) *fleet {
	f := &fleet{o: o, url: url, symbols: symbols,
		perClient: o.rate * float64(o.subs) / float64(o.symbols)}
	f.ctx, f.stop = context.WithCancel(ctx)
	if o.restart {
		f.again = &reconnects{resume: o.resume, gate: make(chan struct{})}
	}
	return f
}

// close closes the stalled clients' sockets and stops the others.
func (f *fleet) close() {
	f.mu.Lock()
	for _, c := range f.stalledConns {
		c.nc.Close()
	}
	f.mu.Unlock()
	f.stop()
}

// connect dials every client with o.dialers dialers, then waits, 120s at
// most, until every reading client has a snapshot of each subscription.
func (f *fleet) connect(ctx context.Context) error {
	start := time.Now()
	var next atomic.Int64
	var dialErr atomic.Value
	var dwg sync.WaitGroup
	for range f.o.dialers {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= f.o.clients || f.ctx.Err() != nil {
					return
				}
				if err := f.dial(i); err != nil {
					dialErr.Store(err)
					return
				}
			}
		}()
	}
	dwg.Wait()
	if err, _ := dialErr.Load().(error); err != nil {
		return fmt.Errorf("dial: %w (connected %d)", err, f.t.connected.Load())
	}
	for f.t.ready.Load() < int64(f.healthy) || f.st.ready.Load() < int64(f.slow) {
		if ctx.Err() != nil || time.Since(start) > 120*time.Second {
			return fmt.Errorf("%d of %d clients ready, %d of %d slow ones", f.t.ready.Load(), f.healthy, f.st.ready.Load(), f.slow)
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Printf("connected %d clients (%d stalled, %d slow) with %d subscriptions each in %v\n",
		f.healthy+f.stalled+f.slow, f.stalled, f.slow, len(chansOf(f.o)), time.Since(start).Round(time.Millisecond))
	return nil
}

// dial connects client i and starts reading unless it is a stalled one.
func (f *fleet) dial(i int) error {
	o := f.o
	chans := make([]string, o.subs)
	for k := range chans {
		chans[k] = "book." + f.symbols[(i*o.subs+k)%o.symbols]
	}
	if o.trades {
		for k := range o.subs {
			chans = append(chans, "trades."+f.symbols[(i*o.subs+k)%o.symbols])
		}
	}
	stalled := isStalled(i, o.stalled)
	slow := !stalled && isStalled(i, o.slow)
	rcvbuf, tt := 0, &f.t
	if stalled {
		rcvbuf = o.stalledRcvbuf
	} else if slow {
		rcvbuf, tt = o.slowRcvbuf, &f.st
	}
	dctx, dcancel := context.WithTimeout(f.ctx, 10*time.Second)
	c, err := dial(dctx, f.url, i, chans, o.depth, o.interval, o.protocol == "bin", o.deflate, rcvbuf, tt)
	dcancel()
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case stalled:
		f.stalled++
		f.stalledConns = append(f.stalledConns, c)
		return nil
	case slow:
		c.readRate = f.perClient / o.slowFactor
		f.slow++
	default:
		f.healthy++
		c.again = f.again
	}
	go c.run(f.ctx)
	return nil
}
