package server_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/marketfeed/marketfeed/client"
	"github.com/marketfeed/marketfeed/feed"
	"github.com/marketfeed/marketfeed/internal/broker"
	"github.com/marketfeed/marketfeed/internal/sim"
	"github.com/marketfeed/marketfeed/market"
	"github.com/marketfeed/marketfeed/schemas"
	"github.com/marketfeed/marketfeed/server"
)

// resumeRecorder records what a client.Stream saw of its book channels:
// every synced view, the snapshots, and the subscribed replies.
type resumeRecorder struct {
	mu        sync.Mutex
	views     map[string][]view
	snapshots map[string]int
	acks      map[string][]string // per channel, per subscribed reply: its resumed ("" when absent)
}

func (r *resumeRecorder) handle(ev *client.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case client.EventSubscribed:
		a := ""
		if ev.Msg.Resumed != nil {
			a = fmt.Sprint(*ev.Msg.Resumed)
			if ev.Resumed != *ev.Msg.Resumed {
				return fmt.Errorf("event resumed %v, message %v", ev.Resumed, a)
			}
		}
		r.acks[ev.Channel] = append(r.acks[ev.Channel], a)
	case client.EventBook:
		if ev.Msg.Type == schemas.TypeSnapshot {
			r.snapshots[ev.Channel]++
		}
		if ev.Book.Synced() {
			r.views[ev.Channel] = append(r.views[ev.Channel], view{seq: ev.Book.Seq(), bids: ev.Book.Bids(), asks: ev.Book.Asks()})
		}
	}
	return nil
}

func (r *resumeRecorder) lastSeq(ch string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v := r.views[ch]; len(v) > 0 {
		return v[len(v)-1].seq
	}
	return 0
}

// Any replica: a Stream given two servers of one topic follows its books
// on the first; when the first shuts down, it reconnects to the second
// and resumes there, with no snapshot and no gap: every book it holds
// equals the reference replay at its seq, raw and throttled.
func TestResumeOnAnotherReplica(t *testing.T) {
	r, rec, subs := replicaRun(t, market.HistoryLimits{})
	checkResumedViews(t, r, rec, subs, "true", 1)
}

// On a replica that keeps no history, the Stream's books are not resumed: each is replaced by a
// snapshot, and stays equal to the reference.
func TestResumeRefusedOnAnotherReplica(t *testing.T) {
	r, rec, subs := replicaRun(t, market.HistoryLimits{MaxBytes: -1})
	checkResumedViews(t, r, rec, subs, "false", 2)
}

// replicaRun runs a Stream on two replicas, the second with history
// limits h, stops the first, and returns once the Stream's books are at
// the reference's final views.
func replicaRun(t *testing.T, h market.HistoryLimits) (*resumeEnv, *resumeRecorder, []client.Subscription) {
	b, err := broker.Start(broker.Config{Topic: "marketdata", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	cfg := server.Config{Feed: feed.Config{Brokers: b.Addrs(), Topic: b.Topic(), Start: feed.StartEarliest}}
	srvA, stopA := runServer(t, cfg)
	cfg.History = h
	srvB, _ := runServer(t, cfg)
	w := newWriter(b)
	t.Cleanup(func() { w.Close() })
	ex := sim.New(sim.Config{Symbols: 2, Seed: 21, Epoch: 9})
	r := &resumeEnv{env: &env{broker: b, srv: srvA, writer: w}, ex: ex, rep: newReplay(1000), now: time.Now(), syms: ex.Symbols()}
	r.produce(t, ex.Snapshots(r.now, nil))
	r.waitLive(t, r.syms)
	(&env{srv: srvB}).waitLive(t, r.syms)

	subs := []client.Subscription{
		{Channel: "book." + r.syms[0], Depth: 10, Interval: "raw"},
		{Channel: "book." + r.syms[1], Depth: 50, Interval: "100ms"},
	}
	rec := &resumeRecorder{views: map[string][]view{}, snapshots: map[string]int{}, acks: map[string][]string{}}
	s, err := client.NewStream(client.StreamConfig{URL: "ws://" + srvA.Addr() + "/ws", URLs: []string{"ws://" + srvB.Addr() + "/ws"},
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, Subscriptions: subs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, rec.handle) }()
	caughtUp := func(srv *server.Server) func() bool {
		return func() bool {
			for _, sym := range r.syms {
				if _, seq := srv.Hub().Streams(sym).State(); seq != r.rep.seq[sym] {
					return false
				}
			}
			return true
		}
	}
	for range 3 {
		r.events(t, 300)
	}
	waitFor(t, "both servers caught up", 20*time.Second, func() bool { return caughtUp(srvA)() && caughtUp(srvB)() })
	waitFor(t, "the books on the first server", 20*time.Second, func() bool { return rec.lastSeq(subs[0].Channel) > 0 && rec.lastSeq(subs[1].Channel) > 0 })
	stopA()
	for range 3 {
		r.events(t, 300)
	}
	waitFor(t, "the second server caught up", 20*time.Second, caughtUp(srvB))
	for _, sub := range subs {
		sym := sub.Channel[len("book."):]
		want := truncate(r.rep.top(sym, 1000), sub.Depth)
		waitFor(t, sub.Channel+" at the reference's view", 20*time.Second, func() bool {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			v := rec.views[sub.Channel]
			return len(v) > 0 && reflect.DeepEqual(v[len(v)-1].bids, want.bids) && reflect.DeepEqual(v[len(v)-1].asks, want.asks)
		})
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	return r, rec, subs
}

// checkResumedViews checks that each book's second subscription was
// answered resumed (want), that it saw snapshots snapshots, and that
// every view equals the reference at its seq.
func checkResumedViews(t *testing.T, r *resumeEnv, rec *resumeRecorder, subs []client.Subscription, resumed string, snapshots int) {
	t.Helper()
	for _, sub := range subs {
		ch := sub.Channel
		if acks := rec.acks[ch]; len(acks) != 2 || acks[0] != "" || acks[1] != resumed {
			t.Errorf("%s: subscribed replies resumed %q, want a first subscription and one resumed %s", ch, acks, resumed)
		}
		if n := rec.snapshots[ch]; n != snapshots {
			t.Errorf("%s: %d snapshots, want %d", ch, n, snapshots)
		}
		sym := ch[len("book."):]
		for _, v := range rec.views[ch] {
			want, ok := r.rep.views[sym][v.seq]
			if !ok {
				t.Fatalf("%s: synced at seq %d, which the reference never reached", ch, v.seq)
			}
			want = truncate(want, sub.Depth)
			if !reflect.DeepEqual(v.bids, want.bids) || !reflect.DeepEqual(v.asks, want.asks) {
				t.Fatalf("%s at seq %d differs from the reference", ch, v.seq)
			}
		}
		t.Logf("%s: %d views checked", ch, len(rec.views[ch]))
	}
}

// A server that starts after the client left rebuilds the history while
// it replays the topic, and resumes the client from its old position.
func TestResumeAfterRestart(t *testing.T) {
	r := newResumeEnv(t, market.HistoryLimits{}, sim.New(sim.Config{Symbols: 1, Seed: 22, Epoch: 3}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	book := client.NewBook("book." + r.syms[0])
	conn, _ := subscribeResume(t, ctx, r.url, book, 20, "raw", nil)
	r.events(t, 300)
	r.follow(t, ctx, conn, book, 20)
	conn.Close()
	r.events(t, 300)
	srv, _ := runServer(t, server.Config{Feed: feed.Config{Brokers: r.broker.Addrs(), Topic: r.broker.Topic(), Start: feed.StartEarliest}})
	sym := r.syms[0]
	waitFor(t, "the new server caught up", 20*time.Second, func() bool {
		st := srv.Hub().Streams(sym)
		return st != nil && st.Epoch() == 3 && st.Reason() == "" && func() bool { _, seq := st.State(); return seq == r.rep.seq[sym] }()
	})
	conn, ack := subscribeResume(t, ctx, "ws://"+srv.Addr()+"/ws", book, 20, "raw", []schemas.Resume{position(book)})
	checkResumed(t, ack, true, "")
	r.events(t, 100)
	if n := r.follow(t, ctx, conn, book, 20); n != 0 {
		t.Fatalf("%d snapshots after resuming on a restarted server", n)
	}
}
